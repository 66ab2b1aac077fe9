//! [`Claims`]: the verified claims that [`JwtAuth`](super::JwtAuth) puts into request extensions.

use std::sync::Arc;

use serde_json::{Map, Value};

/// The claims of a verified token.
///
/// [`JwtAuth`](super::JwtAuth) inserts it into the request's extensions; handlers read it with
/// `req.extensions().get::<Claims>()`. Cloning is cheap (one reference count), so the verification
/// cache hands out the same value to every request that presents the same token.
///
/// Scopes are collected, in order and without duplicates, from the space-separated `scope` string
/// (OAuth 2.0, Auth0, Cognito), the `scp` claim (Azure AD, Okta; a string or an array) and the
/// `permissions` array (Auth0 RBAC).
///
/// ```
/// use lamina_middleware::auth::Claims;
/// use serde_json::json;
///
/// let raw = json!({"sub": "auth0|42", "scope": "read:photos write:photos", "permissions": ["admin"]});
/// let claims = Claims::from_raw(raw.as_object().cloned().unwrap_or_default());
/// assert_eq!(claims.subject(), Some("auth0|42"));
/// assert!(claims.has_scope("write:photos"));
/// assert_eq!(claims.scopes(), ["read:photos", "write:photos", "admin"]);
/// ```
#[derive(Clone, PartialEq)]
pub struct Claims {
    inner: Arc<Inner>,
}

#[derive(PartialEq)]
struct Inner {
    subject: Option<String>,
    scopes: Vec<String>,
    expires_at: Option<u64>,
    raw: Map<String, Value>,
}

impl Claims {
    /// Claims from a decoded JSON object (no verification happens here).
    #[must_use]
    pub fn from_raw(raw: Map<String, Value>) -> Self {
        let subject = raw.get("sub").and_then(Value::as_str).map(str::to_owned);
        let expires_at = raw.get("exp").and_then(numeric_date);
        let mut scopes: Vec<String> = Vec::new();
        let mut push = |scope: &str| {
            if !scope.is_empty() && !scopes.iter().any(|s| s == scope) {
                scopes.push(scope.to_owned());
            }
        };
        for name in ["scope", "scp", "permissions"] {
            match raw.get(name) {
                Some(Value::String(list)) => list.split_ascii_whitespace().for_each(&mut push),
                Some(Value::Array(items)) => {
                    items.iter().filter_map(Value::as_str).for_each(&mut push)
                }
                _ => {}
            }
        }
        Self {
            inner: Arc::new(Inner {
                subject,
                scopes,
                expires_at,
                raw,
            }),
        }
    }

    /// The `sub` claim, when it is a string.
    #[must_use]
    pub fn subject(&self) -> Option<&str> {
        self.inner.subject.as_deref()
    }

    /// Every scope and permission the token grants.
    #[must_use]
    pub fn scopes(&self) -> &[String] {
        &self.inner.scopes
    }

    /// Whether the token grants `scope`.
    #[must_use]
    pub fn has_scope(&self, scope: &str) -> bool {
        self.inner.scopes.iter().any(|s| s == scope)
    }

    /// The `exp` claim in seconds since the Unix epoch, when present.
    #[must_use]
    pub fn expires_at(&self) -> Option<u64> {
        self.inner.expires_at
    }

    /// One claim by name.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.inner.raw.get(name)
    }

    /// Whether claim `name` equals `value`, or is an array that contains `value`.
    #[must_use]
    pub fn claim_matches(&self, name: &str, value: &Value) -> bool {
        match self.inner.raw.get(name) {
            Some(Value::Array(items)) if !value.is_array() => items.contains(value),
            Some(found) => found == value,
            None => false,
        }
    }

    /// All claims as decoded from the token.
    #[must_use]
    pub fn raw(&self) -> &Map<String, Value> {
        &self.inner.raw
    }
}

/// Only the subject and the claim names: claim values may be personal data and do not belong in
/// logs by accident.
impl std::fmt::Debug for Claims {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Claims")
            .field("subject", &self.inner.subject)
            .field("scopes", &self.inner.scopes)
            .field("claims", &self.inner.raw.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// An RFC 7519 NumericDate: integer or fractional seconds, truncated.
pub(crate) fn numeric_date(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| {
        value
            .as_f64()
            .filter(|f| f.is_finite() && *f >= 0.0 && *f < u64::MAX as f64)
            .map(|f| f as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Claims {
        Claims::from_raw(value.as_object().cloned().unwrap_or_default())
    }

    #[test]
    fn scopes_come_from_scope_scp_and_permissions_without_duplicates() {
        let cases = [
            (json!({"scope": "a b  c"}), vec!["a", "b", "c"]),
            (json!({"scp": ["a", "b"]}), vec!["a", "b"]),
            (json!({"scp": "x y"}), vec!["x", "y"]),
            (json!({"permissions": ["p", 7, "q"]}), vec!["p", "q"]),
            (
                json!({"scope": "a b", "permissions": ["b", "c"]}),
                vec!["a", "b", "c"],
            ),
            (json!({"scope": 12}), vec![]),
            (json!({}), vec![]),
        ];
        for (raw, expected) in cases {
            assert_eq!(claims(raw.clone()).scopes(), expected, "{raw}");
        }
    }

    #[test]
    fn subject_and_expiry_are_typed() {
        let c = claims(json!({"sub": "u1", "exp": 1_700_000_000.7}));
        assert_eq!(c.subject(), Some("u1"));
        assert_eq!(c.expires_at(), Some(1_700_000_000));
        let c = claims(json!({"sub": 5, "exp": "soon"}));
        assert_eq!(c.subject(), None);
        assert_eq!(c.expires_at(), None);
    }

    #[test]
    fn claim_matches_scalars_and_array_members() {
        let c = claims(json!({"role": "admin", "groups": ["a", "b"], "n": 3}));
        assert!(c.claim_matches("role", &json!("admin")));
        assert!(!c.claim_matches("role", &json!("user")));
        assert!(c.claim_matches("groups", &json!("b")));
        assert!(!c.claim_matches("groups", &json!("c")));
        assert!(c.claim_matches("n", &json!(3)));
        assert!(!c.claim_matches("missing", &json!(3)));
    }

    #[test]
    fn debug_shows_names_not_values() {
        let c = claims(json!({"sub": "u1", "email": "secret@example.com"}));
        let debug = format!("{c:?}");
        assert!(debug.contains("email"));
        assert!(!debug.contains("secret@example.com"));
    }
}
