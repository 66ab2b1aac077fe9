//! The stand-in's search engine: indices of JSON documents in memory, searched with the
//! queries of [`super::query`].

use std::{
    cmp::Ordering,
    collections::{BTreeMap, HashMap},
};

use super::query::{Query, SortKey, compare_field, parse_sort};

use serde_json::{Value, json};

/// At most this many hits are returned by one search (OpenSearch's default window is 10,000).
const MAX_SIZE: u64 = 10_000;

/// An error as OpenSearch reports it: HTTP status, `error.type` and `error.reason`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EngineError {
    pub(crate) status: u16,
    pub(crate) kind: &'static str,
    pub(crate) reason: String,
}

impl EngineError {
    pub(super) fn new(status: u16, kind: &'static str, reason: impl Into<String>) -> Self {
        Self {
            status,
            kind,
            reason: reason.into(),
        }
    }

    /// The body OpenSearch answers with.
    pub(crate) fn body(&self) -> Value {
        json!({
            "error": {
                "root_cause": [{"type": self.kind, "reason": self.reason}],
                "type": self.kind,
                "reason": self.reason,
            },
            "status": self.status,
        })
    }

    fn index_not_found(index: &str) -> Self {
        Self::new(
            404,
            "index_not_found_exception",
            format!("no such index [{index}]"),
        )
    }

    pub(super) fn parsing(reason: impl Into<String>) -> Self {
        Self::new(400, "parsing_exception", reason)
    }
}

/// A document and how often it was written.
#[derive(Debug, Clone)]
struct Document {
    source: Value,
    version: u64,
}

#[derive(Debug, Default)]
struct Index {
    mappings: Value,
    documents: BTreeMap<String, Document>,
}

/// Every index the stand-in holds.
#[derive(Debug, Default)]
pub(crate) struct Engine {
    indices: HashMap<String, Index>,
}

/// OpenSearch's index-name rules (lower case, no `\ / * ? " < > | , #` or space, not starting
/// with `_ - +`, not `.` or `..`, at most 255 bytes).
fn check_index_name(name: &str) -> Result<(), EngineError> {
    let bad = name.is_empty()
        || name.len() > 255
        || name == "."
        || name == ".."
        || name.starts_with(['_', '-', '+'])
        || name.chars().any(|c| {
            c.is_uppercase()
                || matches!(
                    c,
                    '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ',' | '#' | ' ' | ':'
                )
        });
    if bad {
        Err(EngineError::new(
            400,
            "invalid_index_name_exception",
            format!("Invalid index name [{name}]"),
        ))
    } else {
        Ok(())
    }
}

impl Engine {
    /// `PUT /{index}`: creates it with the body's `mappings`.
    pub(crate) fn create_index(&mut self, name: &str, body: &Value) -> Result<Value, EngineError> {
        check_index_name(name)?;
        if self.indices.contains_key(name) {
            return Err(EngineError::new(
                400,
                "resource_already_exists_exception",
                format!("index [{name}] already exists"),
            ));
        }
        let mappings = body.get("mappings").cloned().unwrap_or_else(|| json!({}));
        self.indices.insert(
            name.to_owned(),
            Index {
                mappings,
                documents: BTreeMap::new(),
            },
        );
        Ok(json!({"acknowledged": true, "shards_acknowledged": true, "index": name}))
    }

    /// `GET /{index}`: the index's mappings.
    pub(crate) fn get_index(&self, name: &str) -> Result<Value, EngineError> {
        let index = self
            .indices
            .get(name)
            .ok_or_else(|| EngineError::index_not_found(name))?;
        Ok(json!({ name: {"mappings": index.mappings, "settings": {}} }))
    }

    /// `PUT /{index}/_doc/{id}`: stores the document, creating the index as OpenSearch does
    /// by default. `(status, body)`: 201 when created, 200 when replaced.
    pub(crate) fn put_document(
        &mut self,
        name: &str,
        id: &str,
        source: Value,
    ) -> Result<(u16, Value), EngineError> {
        check_index_name(name)?;
        if !source.is_object() {
            return Err(EngineError::new(
                400,
                "mapper_parsing_exception",
                "failed to parse: the document is not a JSON object",
            ));
        }
        if id.is_empty() || id.len() > 512 {
            return Err(EngineError::new(
                400,
                "illegal_argument_exception",
                "bad document id",
            ));
        }
        let index = self.indices.entry(name.to_owned()).or_default();
        let version = index.documents.get(id).map_or(1, |d| d.version + 1);
        index
            .documents
            .insert(id.to_owned(), Document { source, version });
        let (status, result) = if version == 1 {
            (201, "created")
        } else {
            (200, "updated")
        };
        Ok((
            status,
            json!({"_index": name, "_id": id, "_version": version, "result": result,
                   "_shards": {"total": 1, "successful": 1, "failed": 0}}),
        ))
    }

    /// `GET /{index}/_doc/{id}`.
    pub(crate) fn get_document(&self, name: &str, id: &str) -> Result<(u16, Value), EngineError> {
        let index = self
            .indices
            .get(name)
            .ok_or_else(|| EngineError::index_not_found(name))?;
        Ok(match index.documents.get(id) {
            Some(doc) => (
                200,
                json!({"_index": name, "_id": id, "_version": doc.version, "found": true,
                       "_source": doc.source}),
            ),
            None => (404, json!({"_index": name, "_id": id, "found": false})),
        })
    }

    /// `DELETE /{index}/_doc/{id}`: 200 `deleted`, or 404 `not_found`.
    pub(crate) fn delete_document(
        &mut self,
        name: &str,
        id: &str,
    ) -> Result<(u16, Value), EngineError> {
        let index = self
            .indices
            .get_mut(name)
            .ok_or_else(|| EngineError::index_not_found(name))?;
        Ok(match index.documents.remove(id) {
            Some(doc) => (
                200,
                json!({"_index": name, "_id": id, "_version": doc.version + 1, "result": "deleted"}),
            ),
            None => (
                404,
                json!({"_index": name, "_id": id, "_version": 1, "result": "not_found"}),
            ),
        })
    }

    /// `POST|GET /{index}/_search`: `size`, `query` (`match`, `match_all`), `sort`.
    pub(crate) fn search(&self, name: &str, body: &Value) -> Result<Value, EngineError> {
        let index = self
            .indices
            .get(name)
            .ok_or_else(|| EngineError::index_not_found(name))?;
        if !body.is_object() && !body.is_null() {
            return Err(EngineError::parsing("the search body is not a JSON object"));
        }
        let size = match body.get("size") {
            None => 10,
            Some(size) => size
                .as_u64()
                .filter(|s| *s <= MAX_SIZE)
                .ok_or_else(|| EngineError::parsing("[size] must be a non-negative integer"))?,
        };
        let query = Query::parse(body.get("query"))?;
        let sort = parse_sort(body.get("sort"))?;
        for key in &sort {
            if let SortKey::Field { field, .. } = key
                && index.mappings["properties"][field]["type"] == "text"
            {
                // As OpenSearch: a `text` field has no doc values to sort by.
                return Err(EngineError::new(
                    400,
                    "illegal_argument_exception",
                    format!(
                        "Text fields are not optimised for operations that require per-document \
                         field data like aggregations and sorting, so these operations are \
                         disabled by default. Please use a keyword field instead [{field}]"
                    ),
                ));
            }
        }
        let mut hits: Vec<(&String, &Document, f64)> = index
            .documents
            .iter()
            .filter_map(|(id, doc)| query.score(&doc.source).map(|score| (id, doc, score)))
            .collect();
        hits.sort_by(|a, b| {
            for key in &sort {
                let ordering = match key {
                    SortKey::Score => b.2.partial_cmp(&a.2).unwrap_or(Ordering::Equal),
                    SortKey::Field { field, descending } => {
                        let ordering = compare_field(&a.1.source, &b.1.source, field);
                        if *descending {
                            ordering.reverse()
                        } else {
                            ordering
                        }
                    }
                };
                if ordering != Ordering::Equal {
                    return ordering;
                }
            }
            a.0.cmp(b.0)
        });
        let total = hits.len();
        let max_score = hits
            .iter()
            .map(|h| h.2)
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))));
        let hits: Vec<Value> = hits
            .into_iter()
            .take(usize::try_from(size).unwrap_or(usize::MAX))
            .map(|(id, doc, score)| {
                let sort_values: Vec<Value> = sort
                    .iter()
                    .map(|key| match key {
                        SortKey::Score => json!(score),
                        SortKey::Field { field, .. } => {
                            doc.source.get(field).cloned().unwrap_or(Value::Null)
                        }
                    })
                    .collect();
                json!({"_index": name, "_id": id, "_score": score, "_source": doc.source,
                       "sort": sort_values})
            })
            .collect();
        Ok(json!({
            "took": 1,
            "timed_out": false,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {
                "total": {"value": total, "relation": "eq"},
                "max_score": max_score,
                "hits": hits,
            },
        }))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn engine() -> Engine {
        let mut engine = Engine::default();
        engine.create_index("images", &json!({})).unwrap();
        for (id, title, ts) in [
            ("a", "red cat", "2026-01-01"),
            ("b", "cat cat red", "2026-01-02"),
            ("c", "blue cat", "2026-01-03"),
            ("d", "red dog", "2026-01-04"),
        ] {
            engine
                .put_document("images", id, json!({"title": title, "timestamp": ts}))
                .unwrap();
        }
        engine
    }

    fn ids(result: &Value) -> Vec<String> {
        result["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["_id"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn match_scores_by_term_frequency_then_sorts_by_the_field() {
        let mut engine = engine();
        engine
            .create_index(
                "texts",
                &json!({"mappings": {"properties": {"title": {"type": "text"}}}}),
            )
            .unwrap();
        let error = engine
            .search("texts", &json!({"sort": [{"title": "desc"}]}))
            .unwrap_err();
        assert_eq!(
            (error.status, error.kind),
            (400, "illegal_argument_exception")
        );
        let search = |query: Value| {
            engine
                .search(
                    "images",
                    &json!({"size": 10, "query": query, "sort": ["_score", {"timestamp": "desc"}]}),
                )
                .unwrap()
        };
        let and = search(json!({"match": {"title": {"query": "RED cat", "operator": "and"}}}));
        assert_eq!(ids(&and), ["b", "a"]);
        let or = search(json!({"match": {"title": {"query": "red cat", "operator": "or"}}}));
        assert_eq!(
            ids(&or),
            ["b", "a", "d", "c"],
            "tf 3, 2, then ties newest first"
        );
        let none = search(json!({"match": {"title": {"query": "* :", "operator": "and"}}}));
        assert_eq!(ids(&none), Vec::<String>::new());
        let small = engine
            .search(
                "images",
                &json!({"size": 1, "query": {"match": {"title": "cat"}}}),
            )
            .unwrap();
        assert_eq!(ids(&small), ["b"]);
        assert_eq!(small["hits"]["total"]["value"], 3);
    }

    #[test]
    fn errors_have_opensearch_types_and_statuses() {
        let mut engine = engine();
        let cases = [
            (
                engine.search("nope", &json!({})).unwrap_err(),
                404,
                "index_not_found_exception",
            ),
            (
                engine.create_index("images", &json!({})).unwrap_err(),
                400,
                "resource_already_exists_exception",
            ),
            (
                engine.create_index("Bad", &json!({})).unwrap_err(),
                400,
                "invalid_index_name_exception",
            ),
            (
                engine
                    .search(
                        "images",
                        &json!({"query": {"query_string": {"query": "x"}}}),
                    )
                    .unwrap_err(),
                400,
                "parsing_exception",
            ),
            (
                engine.put_document("images", "x", json!([1])).unwrap_err(),
                400,
                "mapper_parsing_exception",
            ),
        ];
        for (error, status, kind) in cases {
            assert_eq!((error.status, error.kind), (status, kind), "{error:?}");
            assert_eq!(error.body()["error"]["type"], kind);
            assert_eq!(error.body()["status"], status);
        }
        assert_eq!(engine.delete_document("images", "a").unwrap().0, 200);
        assert_eq!(engine.delete_document("images", "a").unwrap().0, 404);
        assert_eq!(engine.get_document("images", "a").unwrap().0, 404);
        assert_eq!(
            engine.put_document("images", "b", json!({})).unwrap().0,
            200
        );
    }
}
