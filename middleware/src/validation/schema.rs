//! [`JsonSchema`]: a schema compiled once, checking bodies, query strings and path parameters.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use http::StatusCode;
use jsonschema::error::ValidationErrorKind;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use crate::errors::{ApiError, Problem, json_body};

/// The problem `type` of a request that does not match its schema.
pub const VALIDATION_FAILED_TYPE: &str = "https://lamina.dev/problems/validation-failed";

/// At most this many violations are reported in one response.
pub const MAX_REPORTED_VIOLATIONS: usize = 10;

/// A schema that cannot be used; returned at init, never per request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SchemaError {
    /// The schema file could not be read.
    #[error("cannot read JSON schema {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The schema file is not JSON.
    #[error("JSON schema {path} is not valid JSON")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parse error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The schema text given to [`JsonSchema::from_json_str`] is not JSON.
    #[error("JSON schema text is not valid JSON")]
    ParseText {
        /// The parse error, with line and column.
        #[source]
        source: serde_json::Error,
    },
    /// The JSON is not a valid schema, or it references a remote or unknown schema (remote `$ref`s
    /// are not fetched: inline them or bundle the schema before deploying).
    #[error("invalid JSON schema{}: {message}", name.as_deref().map(|n| format!(" {n}")).unwrap_or_default())]
    Invalid {
        /// The file, when compiled from one.
        name: Option<String>,
        /// What jsonschema reported.
        message: String,
    },
}

/// One way in which a request failed its schema.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// JSON Pointer to the failing field (for `required`, the missing property itself), e.g.
    /// `/caption` or `/tags/2`; empty for the whole document.
    pub field: String,
    /// The schema keyword that failed, e.g. `required`, `type`, `maxLength`.
    pub keyword: String,
    /// A message that does not echo the client's value (`value is longer than 80 characters`).
    pub message: String,
}

/// A JSON Schema compiled once (at init) and shared cheaply by clones.
///
/// Drafts 4, 6, 7, 2019-09 and 2020-12 are detected from `$schema` (2020-12 without one). For
/// schemas that API Gateway also accepts as request models, declare draft 4. `format` is checked
/// in every draft. Remote `$ref`s are never fetched.
///
/// ```
/// use lamina_middleware::validation::JsonSchema;
/// use serde_json::json;
///
/// let schema = JsonSchema::from_value(&json!({
///     "$schema": "http://json-schema.org/draft-04/schema#",
///     "type": "object",
///     "required": ["caption"],
///     "properties": { "caption": { "type": "string", "maxLength": 80 } }
/// }))
/// .unwrap();
/// let violations = schema.violations(&json!({})).unwrap_err();
/// assert_eq!(violations[0].field, "/caption");
/// assert_eq!(violations[0].keyword, "required");
/// ```
#[derive(Clone)]
pub struct JsonSchema {
    validator: Arc<jsonschema::Validator>,
    name: Option<Arc<str>>,
    max_body_bytes: Option<usize>,
}

impl fmt::Debug for JsonSchema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonSchema")
            .field("name", &self.name)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl JsonSchema {
    /// Compiles `schema`.
    pub fn from_value(schema: &Value) -> Result<Self, SchemaError> {
        Self::compile(schema, None)
    }

    /// Parses and compiles schema text, e.g. a file embedded with `include_str!`.
    ///
    /// # Errors
    /// [`SchemaError::ParseText`] when `text` is not JSON (the source has the line and column);
    /// [`SchemaError::Invalid`] (without a name) when it is JSON but not a usable schema.
    ///
    /// ```
    /// use lamina_middleware::validation::{JsonSchema, SchemaError};
    /// use serde_json::json;
    ///
    /// let schema = JsonSchema::from_json_str(
    ///     r#"{"type": "object", "required": ["caption"]}"#,
    /// )
    /// .unwrap();
    /// assert!(!schema.is_valid(&json!({})));
    ///
    /// let truncated = JsonSchema::from_json_str(r#"{"type": "obj"#);
    /// assert!(matches!(truncated, Err(SchemaError::ParseText { .. })));
    /// let misspelt = JsonSchema::from_json_str(r#"{"type": "strnig"}"#);
    /// assert!(matches!(misspelt, Err(SchemaError::Invalid { .. })));
    /// ```
    pub fn from_json_str(text: &str) -> Result<Self, SchemaError> {
        let schema: Value =
            serde_json::from_str(text).map_err(|source| SchemaError::ParseText { source })?;
        Self::compile(&schema, None)
    }

    /// Reads and compiles the schema file at `path` (a file you can also upload as an API Gateway model).
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, SchemaError> {
        let path = path.as_ref();
        let text = std::fs::read(path).map_err(|source| SchemaError::Read {
            path: path.to_owned(),
            source,
        })?;
        let schema: Value = serde_json::from_slice(&text).map_err(|source| SchemaError::Parse {
            path: path.to_owned(),
            source,
        })?;
        Self::compile(&schema, Some(path.display().to_string()))
    }

    fn compile(schema: &Value, name: Option<String>) -> Result<Self, SchemaError> {
        let validator = jsonschema::options()
            .should_validate_formats(true)
            .build(schema)
            .map_err(|error| SchemaError::Invalid {
                name: name.clone(),
                message: error.to_string(),
            })?;
        Ok(Self {
            validator: Arc::new(validator),
            name: name.map(Into::into),
            max_body_bytes: None,
        })
    }

    /// Caps the bodies [`validate_body`](Self::validate_body) accepts: a larger body is a **413**
    /// problem, answered before a byte of it is parsed (a body's JSON can cost far more memory
    /// than its bytes). Without a cap, any body the transport delivered is parsed.
    ///
    /// ```
    /// use lamina_middleware::validation::JsonSchema;
    ///
    /// let schema = JsonSchema::from_json_str(r#"{"type": "object"}"#)
    ///     .unwrap()
    ///     .max_body_bytes(16);
    /// let small = http::Request::new(r#"{"a": 1}"#.to_owned());
    /// assert!(schema.validate_body::<serde_json::Value>(&small).is_ok());
    ///
    /// let mut big = http::Request::new(format!(r#"{{"a": "{}"}}"#, "x".repeat(64)));
    /// big.headers_mut().insert("content-type", "application/json".parse().unwrap());
    /// let refused = schema.validate_body::<serde_json::Value>(&big).unwrap_err();
    /// assert_eq!(refused.status(), http::StatusCode::PAYLOAD_TOO_LARGE);
    /// ```
    #[must_use]
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = Some(bytes);
        self
    }

    /// Whether `instance` is valid.
    #[must_use]
    pub fn is_valid(&self, instance: &Value) -> bool {
        self.validator.is_valid(instance)
    }

    /// Every violation (up to [`MAX_REPORTED_VIOLATIONS`]), or `Ok` when `instance` is valid.
    pub fn violations(&self, instance: &Value) -> Result<(), Vec<Violation>> {
        if self.validator.is_valid(instance) {
            return Ok(());
        }
        let violations: Vec<Violation> = self
            .validator
            .iter_errors(instance)
            .take(MAX_REPORTED_VIOLATIONS)
            .map(|error| {
                let mut field = error.instance_path().as_str().to_owned();
                if let ValidationErrorKind::Required { property } = error.kind()
                    && let Some(name) = property.as_str()
                {
                    field.push('/');
                    field.push_str(&name.replace('~', "~0").replace('/', "~1"));
                }
                Violation {
                    field,
                    keyword: error.kind().keyword().to_owned(),
                    message: error.masked().to_string(),
                }
            })
            .collect();
        if violations.is_empty() {
            // is_valid and iter_errors disagreeing would be a jsonschema bug; still reject.
            return Err(vec![Violation {
                field: String::new(),
                keyword: "schema".into(),
                message: "invalid".into(),
            }]);
        }
        Err(violations)
    }

    /// Validates `instance`, or a 400 problem naming each failing field and keyword.
    pub fn validate(&self, instance: &Value) -> Result<(), ApiError> {
        self.violations(instance)
            .map_err(|violations| violation_error(&violations))
    }

    /// Parses the JSON body (413 above [`max_body_bytes`](Self::max_body_bytes), 400/415 as
    /// [`json_body`]), validates it, then deserializes it into `T`.
    pub fn validate_body<T: DeserializeOwned>(
        &self,
        req: &http::Request<impl AsRef<[u8]>>,
    ) -> Result<T, ApiError> {
        if let Some(max) = self.max_body_bytes
            && req.body().as_ref().len() > max
        {
            return Err(ApiError::from_problem(
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE)
                    .with_detail(format!("the request body is larger than {max} bytes")),
            ));
        }
        let value: Value = json_body(req)?;
        self.validate(&value)?;
        serde_json::from_value(value).map_err(|error| {
            // The schema accepted what `T` cannot hold: the schema is looser than the type.
            ApiError::from_problem(
                Problem::new(StatusCode::BAD_REQUEST)
                    .with_type(VALIDATION_FAILED_TYPE)
                    .with_title("Request validation failed")
                    .with_detail(error.to_string()),
            )
        })
    }

    /// Validates the query string as an object of strings (a repeated key becomes an array of
    /// strings); schemas should type parameters as strings and constrain them with `pattern`/`enum`.
    pub fn validate_query<B>(&self, req: &http::Request<B>) -> Result<(), ApiError> {
        self.validate(&query_object(req.uri().query().unwrap_or_default()))
    }

    /// Validates an object of path parameters, e.g. from [`crate::errors::PathParams`].
    pub fn validate_params<'a>(
        &self,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(), ApiError> {
        let object: Map<String, Value> = params
            .into_iter()
            .map(|(k, v)| (k.to_owned(), Value::String(v.to_owned())))
            .collect();
        self.validate(&Value::Object(object))
    }
}

/// The 400 problem for `violations`: `detail` describes the first; `errors` lists them all.
#[must_use]
pub fn violation_error(violations: &[Violation]) -> ApiError {
    let detail = match violations.first() {
        Some(first) if first.field.is_empty() => {
            format!("request body: {} ({})", first.message, first.keyword)
        }
        Some(first) => format!("{}: {} ({})", first.field, first.message, first.keyword),
        None => "request is invalid".to_owned(),
    };
    let errors: Vec<Value> = violations
        .iter()
        .map(|v| json!({"field": v.field, "keyword": v.keyword, "message": v.message}))
        .collect();
    ApiError::from_problem(
        Problem::new(StatusCode::BAD_REQUEST)
            .with_type(VALIDATION_FAILED_TYPE)
            .with_title("Request validation failed")
            .with_detail(detail)
            .with_extension("errors", Value::Array(errors)),
    )
    .with_error_type("ValidationFailed")
}

/// `a=1&b=x%20y&a=2` as `{"a": ["1", "2"], "b": "x y"}`.
pub(crate) fn query_object(query: &str) -> Value {
    let mut object = Map::new();
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let (key, value) = (
            decode_component(key),
            Value::String(decode_component(value)),
        );
        match object.get_mut(&key) {
            Some(Value::Array(values)) => values.push(value),
            Some(existing) => *existing = Value::Array(vec![existing.take(), value]),
            None => {
                object.insert(key, value);
            }
        }
    }
    Value::Object(object)
}

/// Percent-decodes a query component, `+` as space; invalid UTF-8 is replaced, never an error.
fn decode_component(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while let Some(&byte) = bytes.get(index) {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok());
        match (byte, hex.and_then(|pair| u8::from_str_radix(pair, 16).ok())) {
            (b'%', Some(decoded)) => {
                out.push(decoded);
                index += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                index += 1;
            }
            _ => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn photo_schema() -> JsonSchema {
        JsonSchema::from_value(&json!({
            "$schema": "http://json-schema.org/draft-04/schema#",
            "type": "object",
            "required": ["caption", "width"],
            "additionalProperties": false,
            "properties": {
                "caption": {"type": "string", "minLength": 1, "maxLength": 10},
                "width": {"type": "integer", "minimum": 1, "maximum": 100, "exclusiveMaximum": true},
                "tags": {"type": "array", "items": {"type": "string", "enum": ["cat", "dog"]}},
                "a/b": {"type": "string"}
            }
        }))
        .unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn violations_table() {
        let schema = photo_schema();
        let cases = [
            (json!({"width": 5}), "/caption", "required"),
            (json!({"caption": "x"}), "/width", "required"),
            (json!({"caption": 3, "width": 5}), "/caption", "type"),
            (json!({"caption": "", "width": 5}), "/caption", "minLength"),
            (
                json!({"caption": "a very long caption", "width": 5}),
                "/caption",
                "maxLength",
            ),
            // Draft 4: boolean exclusiveMaximum modifies maximum; jsonschema reports it by that keyword.
            (
                json!({"caption": "x", "width": 100}),
                "/width",
                "exclusiveMaximum",
            ),
            (json!({"caption": "x", "width": 1.5}), "/width", "type"),
            (
                json!({"caption": "x", "width": 5, "tags": ["cat", "cow"]}),
                "/tags/1",
                "enum",
            ),
            (
                json!({"caption": "x", "width": 5, "extra": 1}),
                "",
                "additionalProperties",
            ),
            (
                json!({"caption": "x", "width": 5, "a/b": 1}),
                "/a~1b",
                "type",
            ),
            (json!([]), "", "type"),
        ];
        for (instance, field, keyword) in cases {
            let violations = schema.violations(&instance).err().unwrap_or_default();
            assert!(
                violations
                    .iter()
                    .any(|v| v.field == field && v.keyword == keyword),
                "{instance}: {violations:?}"
            );
        }
        assert_eq!(
            schema.violations(&json!({"caption": "x", "width": 99})),
            Ok(())
        );
    }

    #[test]
    fn messages_do_not_echo_values() {
        let schema = photo_schema();
        let secret = "hunter2-hunter2-hunter2";
        let violations = schema
            .violations(&json!({"caption": secret, "width": 5}))
            .err()
            .unwrap_or_default();
        assert_eq!(violations.len(), 1);
        assert!(
            !violations[0].message.contains("hunter2"),
            "{}",
            violations[0].message
        );
    }

    #[test]
    fn violation_problem_body() {
        let error = photo_schema()
            .validate(&json!({"width": 5}))
            .err()
            .unwrap_or_else(ApiError::not_found);
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        let body = error.problem().to_json();
        assert_eq!(body["type"], VALIDATION_FAILED_TYPE);
        assert_eq!(body["errors"][0]["field"], "/caption");
        assert_eq!(body["errors"][0]["keyword"], "required");
        assert!(
            body["detail"]
                .as_str()
                .unwrap_or_default()
                .starts_with("/caption: "),
            "{body}"
        );
        assert_eq!(error.error_type(), "ValidationFailed");
    }

    #[test]
    fn at_most_ten_violations_are_reported() {
        let schema = JsonSchema::from_value(&json!({"type": "array", "items": {"type": "string"}}))
            .unwrap_or_else(|error| panic!("{error}"));
        let violations = schema
            .violations(&json!((0..50).collect::<Vec<_>>()))
            .err()
            .unwrap_or_default();
        assert_eq!(violations.len(), MAX_REPORTED_VIOLATIONS);
    }

    #[test]
    fn invalid_schemas_are_typed_errors() {
        for schema in [
            json!({"type": "strnig"}),
            json!({"$ref": "https://example.com/remote.json"}),
            json!({"$ref": "#/definitions/missing"}),
            json!({"minLength": -1}),
        ] {
            assert!(
                matches!(
                    JsonSchema::from_value(&schema),
                    Err(SchemaError::Invalid { .. })
                ),
                "{schema} compiled"
            );
        }
    }

    #[test]
    fn query_objects_table() {
        for (query, expected) in [
            ("", json!({})),
            ("a=1", json!({"a": "1"})),
            ("a=1&a=2&a=3", json!({"a": ["1", "2", "3"]})),
            ("q=x%20y+z&flag", json!({"q": "x y z", "flag": ""})),
            ("%ff=%zz&&", json!({"\u{fffd}": "%zz"})),
        ] {
            assert_eq!(query_object(query), expected, "{query}");
        }
    }

    proptest! {
        #[test]
        fn query_parsing_never_panics(query in "[ -~é]{0,60}") {
            let _ = query_object(&query);
        }

        #[test]
        fn arbitrary_json_never_panics(value in any::<Option<i64>>().prop_map(|n| json!({"caption": n, "width": n}))) {
            let _ = photo_schema().violations(&value);
        }
    }
}
