//! The stand-in's query language: the analyzer, the `match` and `match_all` queries with
//! term-frequency scores, and OpenSearch's `sort` forms.

use std::cmp::Ordering;

use serde_json::Value;

use super::engine::EngineError;

/// The analyzer: lower case, split on anything that is not a Unicode letter or digit.
pub(super) fn analyze(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Missing values sort last whatever the order, as OpenSearch's default `missing: _last`.
pub(super) fn compare_field(a: &Value, b: &Value, field: &str) -> Ordering {
    match (a.get(field), b.get(field)) {
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(Value::String(x)), Some(Value::String(y))) => x.cmp(y),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        _ => Ordering::Equal,
    }
}

pub(super) enum Query {
    All,
    Match {
        field: String,
        terms: Vec<String>,
        all_required: bool,
    },
}

impl Query {
    pub(super) fn parse(query: Option<&Value>) -> Result<Self, EngineError> {
        let Some(query) = query else {
            return Ok(Self::All);
        };
        let object = query
            .as_object()
            .filter(|o| o.len() == 1)
            .ok_or_else(|| EngineError::parsing("[query] must hold exactly one query"))?;
        let (kind, spec) = object
            .iter()
            .next()
            .ok_or_else(|| EngineError::parsing("empty query"))?;
        match kind.as_str() {
            "match_all" => Ok(Self::All),
            "match" => {
                let (field, spec) = spec
                    .as_object()
                    .filter(|o| o.len() == 1)
                    .and_then(|o| o.iter().next())
                    .ok_or_else(|| EngineError::parsing("[match] query malformed"))?;
                let (text, operator) = match spec {
                    Value::String(text) => (text.as_str(), "or"),
                    Value::Object(options) => {
                        let text = options
                            .get("query")
                            .and_then(Value::as_str)
                            .ok_or_else(|| EngineError::parsing("[match] requires [query]"))?;
                        let operator = match options.get("operator").map(Value::as_str) {
                            None => "or",
                            Some(Some(op)) if op.eq_ignore_ascii_case("and") => "and",
                            Some(Some(op)) if op.eq_ignore_ascii_case("or") => "or",
                            Some(_) => {
                                return Err(EngineError::new(
                                    400,
                                    "illegal_argument_exception",
                                    "[operator] must be AND or OR",
                                ));
                            }
                        };
                        (text, operator)
                    }
                    _ => return Err(EngineError::parsing("[match] query malformed")),
                };
                Ok(Self::Match {
                    field: field.clone(),
                    terms: analyze(text),
                    all_required: operator == "and",
                })
            }
            other => Err(EngineError::parsing(format!(
                "unknown query [{other}] (the stand-in implements match and match_all)"
            ))),
        }
    }

    /// The document's score, or `None` when it does not match. A `match` whose text analyzes
    /// to no terms matches nothing, as in OpenSearch.
    pub(super) fn score(&self, source: &Value) -> Option<f64> {
        match self {
            Self::All => Some(1.0),
            Self::Match {
                field,
                terms,
                all_required,
            } => {
                let words = analyze(source.get(field)?.as_str()?);
                let frequencies: Vec<usize> = terms
                    .iter()
                    .map(|term| words.iter().filter(|w| *w == term).count())
                    .collect();
                let matched = frequencies.iter().filter(|f| **f > 0).count();
                let hit = if *all_required {
                    !terms.is_empty() && matched == terms.len()
                } else {
                    matched > 0
                };
                #[allow(clippy::cast_precision_loss)] // word counts are small
                hit.then(|| frequencies.iter().sum::<usize>() as f64)
            }
        }
    }
}

pub(super) enum SortKey {
    Score,
    Field { field: String, descending: bool },
}

pub(super) fn parse_sort(sort: Option<&Value>) -> Result<Vec<SortKey>, EngineError> {
    let items = match sort {
        None => return Ok(vec![SortKey::Score]),
        Some(Value::Array(items)) => items.clone(),
        Some(one) => vec![one.clone()],
    };
    items
        .iter()
        .map(|item| match item {
            Value::String(name) if name == "_score" => Ok(SortKey::Score),
            Value::String(field) => Ok(SortKey::Field {
                field: field.clone(),
                descending: false,
            }),
            Value::Object(spec) if spec.len() == 1 => {
                let (field, order) = spec
                    .iter()
                    .next()
                    .ok_or_else(|| EngineError::parsing("empty sort"))?;
                let order = match order {
                    Value::String(order) => order.as_str(),
                    Value::Object(options) => options
                        .get("order")
                        .and_then(Value::as_str)
                        .unwrap_or("asc"),
                    _ => return Err(EngineError::parsing("malformed sort")),
                };
                let descending = match order {
                    "desc" => true,
                    "asc" => false,
                    _ => return Err(EngineError::parsing("[order] must be asc or desc")),
                };
                if field == "_score" {
                    Ok(SortKey::Score)
                } else {
                    Ok(SortKey::Field {
                        field: field.clone(),
                        descending,
                    })
                }
            }
            _ => Err(EngineError::parsing("malformed sort")),
        })
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn the_analyzer_lowercases_and_splits_on_non_alphanumerics() {
        let cases: [(&str, &[&str]); 5] = [
            ("Café au LAIT", &["café", "au", "lait"]),
            ("title:* OR \"", &["title", "or"]),
            ("naïve-Ünïcode_42", &["naïve", "ünïcode", "42"]),
            ("  ", &[]),
            ("東京 タワー", &["東京", "タワー"]),
        ];
        for (text, want) in cases {
            assert_eq!(analyze(text), want, "{text}");
        }
    }
}
