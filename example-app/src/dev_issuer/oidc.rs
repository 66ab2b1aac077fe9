//! The development issuer as an OpenID Connect provider: discovery, the authorization code flow
//! with PKCE (S256 only), and the state it keeps between the two legs of the flow.
//!
//! The flow, as the web client's OIDC library runs it against Auth0:
//!
//! 1. `GET /dev/authorize?response_type=code&client_id&redirect_uri&code_challenge&...`: the
//!    request is checked ([`AuthorizeRequest::parse`]) and kept under a random transaction id;
//!    the page asks for a user name.
//! 2. `POST /dev/authorize` with the transaction id and the user name: a one-time code, bound to
//!    the request, and a redirect to `redirect_uri?code&state`.
//! 3. `POST /dev/oauth/token` with the code and the PKCE verifier: access, ID and refresh tokens.
//!
//! Redirect URIs must be on a trusted origin (the server's own, or a web client origin the
//! developer configured), so no other site can receive a code, and everything kept is bounded in
//! number and in time.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore as _;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

/// The client id of Udagram's web client, the one client the development issuer knows.
pub const CLIENT_ID: &str = "udagram-web";
/// The scopes the web client asks for.
pub const SCOPES: &str = "openid profile offline_access";
/// How long a sign-in page stays usable.
pub const TRANSACTION_TTL_SECS: u64 = 600;
/// How long an authorization code stays redeemable (RFC 6749 recommends at most ten minutes).
pub const CODE_TTL_SECS: u64 = 60;
/// The most pending sign-ins or codes kept at once; the oldest are dropped first.
pub const MAX_PENDING: usize = 1024;

/// Why an authorization or token request is refused. The messages are safe to show: they never
/// repeat a code, a verifier or a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OidcError {
    /// A required parameter is missing or malformed (`invalid_request`).
    #[error("{0}")]
    InvalidRequest(&'static str),
    /// The client id is not the web client's (`invalid_client` / `unauthorized_client`).
    #[error("unknown client id")]
    UnknownClient,
    /// The redirect URI is not on a trusted origin.
    #[error("the redirect URI must be on this server's origin or a configured client origin")]
    ForeignRedirect,
    /// The code, the PKCE verifier or the refresh token does not match (`invalid_grant`).
    #[error("{0}")]
    InvalidGrant(&'static str),
    /// A grant type other than `authorization_code` and `refresh_token`.
    #[error("unsupported grant type")]
    UnsupportedGrantType,
}

impl OidcError {
    /// The OAuth 2.0 `error` code (RFC 6749, section 5.2).
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidRequest(_) | Self::ForeignRedirect => "invalid_request",
            Self::UnknownClient => "invalid_client",
            Self::InvalidGrant(_) => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
        }
    }
}

/// The discovery document (`/.well-known/openid-configuration`) of the issuer at `issuer`
/// (`http://127.0.0.1:PORT/`).
#[must_use]
pub fn discovery(issuer: &str) -> Value {
    let base = issuer.trim_end_matches('/');
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{base}/dev/authorize"),
        "token_endpoint": format!("{base}/dev/oauth/token"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "end_session_endpoint": format!("{base}/dev/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "code_challenge_methods_supported": ["S256"],
        "token_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": ["openid", "profile", "offline_access"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "name", "preferred_username"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    })
}

/// A checked authorization request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeRequest {
    /// Where the code goes (on the server's origin).
    pub redirect_uri: String,
    /// The PKCE challenge: base64url(SHA-256(verifier)).
    pub code_challenge: String,
    /// Echoed to the client with the code.
    pub state: Option<String>,
    /// Put in the ID token.
    pub nonce: Option<String>,
}

impl AuthorizeRequest {
    /// Checks the query of `GET /dev/authorize`; the redirect URI must be on one of `origins`
    /// (`http://127.0.0.1:PORT`, the server's own, and any configured client origin).
    ///
    /// # Errors
    /// An [`OidcError`] naming what is wrong.
    pub fn parse(params: &[(String, String)], origins: &[&str]) -> Result<Self, OidcError> {
        let get = |name: &str| {
            params
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        };
        if get("client_id").as_deref() != Some(CLIENT_ID) {
            return Err(OidcError::UnknownClient);
        }
        let redirect_uri =
            get("redirect_uri").ok_or(OidcError::InvalidRequest("redirect_uri is required"))?;
        if !origins
            .iter()
            .any(|origin| on_origin(&redirect_uri, origin))
        {
            return Err(OidcError::ForeignRedirect);
        }
        if get("response_type").as_deref() != Some("code") {
            return Err(OidcError::InvalidRequest("response_type must be code"));
        }
        if get("code_challenge_method").as_deref() != Some("S256") {
            return Err(OidcError::InvalidRequest(
                "PKCE with code_challenge_method S256 is required",
            ));
        }
        let code_challenge = get("code_challenge")
            .filter(|challenge| is_pkce_value(challenge, 43, 43))
            .ok_or(OidcError::InvalidRequest(
                "code_challenge must be 43 base64url characters",
            ))?;
        let bounded = |value: Option<String>| value.filter(|v| v.len() <= 512);
        Ok(Self {
            redirect_uri,
            code_challenge,
            state: bounded(get("state")),
            nonce: bounded(get("nonce")),
        })
    }
}

/// Whether `uri` is an absolute URL on exactly `origin` (scheme, host and port), with a path.
fn on_origin(uri: &str, origin: &str) -> bool {
    uri.strip_prefix(origin)
        .is_some_and(|rest| rest.starts_with('/') && !rest.starts_with("//"))
        && !uri.contains(['\r', '\n', '#'])
}

/// Whether `value` is `min..=max` PKCE characters (RFC 7636: `[A-Za-z0-9-._~]`).
fn is_pkce_value(value: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&value.len())
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `verifier` is a PKCE verifier whose S256 challenge is `challenge`.
#[must_use]
pub fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    is_pkce_value(verifier, 43, 128)
        && URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes())) == challenge
}

/// Whether `user` is a user name the issuer signs for (the `POST /dev/token` rule).
#[must_use]
pub fn is_user_name(user: &str) -> bool {
    (1..=64).contains(&user.len())
        && user
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-'))
}

/// A code granted to `user` for `request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeGrant {
    /// The signed-in user.
    pub user: String,
    /// The request the code answers.
    pub request: AuthorizeRequest,
    /// When the user signed in.
    pub auth_time: u64,
}

/// Pending sign-ins (by transaction id) and unredeemed codes, each used once and bounded in
/// number and time.
#[derive(Debug, Default)]
pub struct FlowState {
    transactions: Pending<AuthorizeRequest>,
    codes: Pending<CodeGrant>,
}

impl FlowState {
    /// Keeps `request` for the sign-in page; returns its transaction id.
    pub fn begin(&self, request: AuthorizeRequest, now: u64) -> String {
        self.transactions
            .insert(request, now + TRANSACTION_TTL_SECS, now)
    }

    /// Completes the sign-in `transaction` as `user`: returns the code and the request it answers.
    ///
    /// # Errors
    /// The transaction is unknown, used or expired.
    pub fn sign_in(
        &self,
        transaction: &str,
        user: &str,
        now: u64,
    ) -> Result<(String, AuthorizeRequest), OidcError> {
        let request = self
            .transactions
            .take(transaction, now)
            .ok_or(OidcError::InvalidRequest(
                "this sign-in page has expired: start again",
            ))?;
        let grant = CodeGrant {
            user: user.to_owned(),
            request: request.clone(),
            auth_time: now,
        };
        Ok((self.codes.insert(grant, now + CODE_TTL_SECS, now), request))
    }

    /// Redeems `code` once, for the same redirect URI and the PKCE verifier of its challenge.
    ///
    /// # Errors
    /// [`OidcError::InvalidGrant`]: unknown, used or expired code, another redirect URI, or a
    /// verifier that does not match. A failed attempt uses the code up, as RFC 6749 asks.
    pub fn redeem(
        &self,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
        now: u64,
    ) -> Result<CodeGrant, OidcError> {
        let grant = self.codes.take(code, now).ok_or(OidcError::InvalidGrant(
            "the code is unknown, used or expired",
        ))?;
        if grant.request.redirect_uri != redirect_uri {
            return Err(OidcError::InvalidGrant(
                "redirect_uri differs from the authorization request",
            ));
        }
        if !pkce_matches(verifier, &grant.request.code_challenge) {
            return Err(OidcError::InvalidGrant(
                "the PKCE code_verifier does not match",
            ));
        }
        Ok(grant)
    }
}

/// Values under random one-time keys, each with an expiry; at most [`MAX_PENDING`].
#[derive(Debug)]
struct Pending<T> {
    entries: Mutex<HashMap<String, (T, u64)>>,
}

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Self {
            entries: Mutex::new(HashMap::new()),
        }
    }
}

impl<T> Pending<T> {
    fn insert(&self, value: T, expires: u64, now: u64) -> String {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let key = URL_SAFE_NO_PAD.encode(bytes);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.retain(|_, (_, expiry)| *expiry > now);
        if entries.len() >= MAX_PENDING {
            let oldest = entries
                .iter()
                .min_by_key(|(_, (_, expiry))| *expiry)
                .map(|(key, _)| key.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(key.clone(), (value, expires));
        key
    }

    fn take(&self, key: &str, now: u64) -> Option<T> {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .remove(key)
            .filter(|(_, expiry)| *expiry > now)
            .map(|(value, _)| value)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    const ORIGIN: &[&str] = &["http://127.0.0.1:3000", "http://localhost:5173"];
    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    // RFC 7636, appendix B.
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn params(overrides: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = [
            ("response_type", "code"),
            ("client_id", CLIENT_ID),
            ("redirect_uri", "http://127.0.0.1:3000/auth/callback"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "s-1"),
            ("nonce", "n-1"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        for (key, value) in overrides {
            params.retain(|(k, _)| k != key);
            if !value.is_empty() {
                params.push(((*key).to_owned(), (*value).to_owned()));
            }
        }
        params
    }

    #[test]
    fn the_rfc_7636_example_verifier_matches_its_challenge() {
        assert!(pkce_matches(VERIFIER, CHALLENGE));
        assert!(!pkce_matches(&VERIFIER.replace('d', "e"), CHALLENGE));
        assert!(!pkce_matches("short", CHALLENGE));
    }

    #[test]
    fn authorization_requests_table() {
        assert!(AuthorizeRequest::parse(&params(&[]), ORIGIN).is_ok());
        let configured = params(&[("redirect_uri", "http://localhost:5173/callback")]);
        assert!(AuthorizeRequest::parse(&configured, ORIGIN).is_ok());
        assert!(AuthorizeRequest::parse(&configured, &ORIGIN[..1]).is_err());
        for (overrides, expected) in [
            (vec![("client_id", "other")], OidcError::UnknownClient),
            (vec![("client_id", "")], OidcError::UnknownClient),
            (
                vec![("redirect_uri", "https://evil.example/cb")],
                OidcError::ForeignRedirect,
            ),
            (
                vec![("redirect_uri", "http://127.0.0.1:30000/cb")],
                OidcError::ForeignRedirect,
            ),
            (
                vec![("redirect_uri", "http://127.0.0.1:3000.evil.example/cb")],
                OidcError::ForeignRedirect,
            ),
            (
                vec![("redirect_uri", "http://127.0.0.1:3000//evil.example/cb")],
                OidcError::ForeignRedirect,
            ),
            (
                vec![("redirect_uri", "http://127.0.0.1:3000")],
                OidcError::ForeignRedirect,
            ),
            (
                vec![("redirect_uri", "http://127.0.0.1:3000/cb\r\nSet-Cookie: x")],
                OidcError::ForeignRedirect,
            ),
            (
                vec![("response_type", "token")],
                OidcError::InvalidRequest("response_type must be code"),
            ),
        ] {
            let error = AuthorizeRequest::parse(&params(&overrides), ORIGIN).unwrap_err();
            assert_eq!(error, expected, "{overrides:?}");
        }
        for overrides in [
            vec![("code_challenge_method", "plain")],
            vec![("code_challenge_method", "")],
            vec![("code_challenge", "")],
            vec![("code_challenge", "abc")],
            vec![(
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c!",
            )],
        ] {
            let error = AuthorizeRequest::parse(&params(&overrides), ORIGIN).unwrap_err();
            assert_eq!(error.code(), "invalid_request", "{overrides:?}");
        }
    }

    #[test]
    fn a_code_is_redeemed_once_with_its_verifier_and_redirect_uri() {
        let flow = FlowState::default();
        let request = AuthorizeRequest::parse(&params(&[]), ORIGIN).unwrap();
        let transaction = flow.begin(request.clone(), 100);
        let (code, answered) = flow.sign_in(&transaction, "alice", 110).unwrap();
        assert_eq!(answered, request);
        // The sign-in page cannot be submitted twice.
        assert!(flow.sign_in(&transaction, "mallory", 111).is_err());
        let grant = flow
            .redeem(&code, &request.redirect_uri, VERIFIER, 120)
            .unwrap();
        assert_eq!(grant.user, "alice");
        assert_eq!(grant.auth_time, 110);
        assert_eq!(
            flow.redeem(&code, &request.redirect_uri, VERIFIER, 121),
            Err(OidcError::InvalidGrant(
                "the code is unknown, used or expired"
            ))
        );
    }

    #[test]
    fn a_wrong_verifier_or_redirect_uri_or_a_late_redemption_uses_the_code_up() {
        let flow = FlowState::default();
        let request = AuthorizeRequest::parse(&params(&[]), ORIGIN).unwrap();
        let redirect = request.redirect_uri.clone();
        for (verifier, redirect_uri, at) in [
            (&VERIFIER.replace('d', "e"), redirect.as_str(), 101),
            (&VERIFIER.to_owned(), "http://127.0.0.1:3000/elsewhere", 101),
            (&VERIFIER.to_owned(), redirect.as_str(), 100 + CODE_TTL_SECS),
        ] {
            let transaction = flow.begin(request.clone(), 100);
            let (code, _) = flow.sign_in(&transaction, "alice", 100).unwrap();
            assert_eq!(
                flow.redeem(&code, redirect_uri, verifier, at)
                    .unwrap_err()
                    .code(),
                "invalid_grant"
            );
            assert!(
                flow.redeem(&code, &redirect, VERIFIER, 101).is_err(),
                "the code is used up"
            );
        }
    }

    #[test]
    fn pending_state_is_bounded() {
        let flow = FlowState::default();
        let request = AuthorizeRequest::parse(&params(&[]), ORIGIN).unwrap();
        let first = flow.begin(request.clone(), 1);
        for _ in 0..MAX_PENDING {
            flow.begin(request.clone(), 2);
        }
        assert!(flow.transactions.entries.lock().unwrap().len() <= MAX_PENDING);
        assert!(
            flow.sign_in(&first, "alice", 3).is_err(),
            "the oldest was dropped"
        );
        // Expired entries are swept on the next insert.
        flow.begin(request, 10_000);
        assert_eq!(flow.transactions.entries.lock().unwrap().len(), 1);
    }

    #[test]
    fn user_names_table() {
        for (user, ok) in [
            ("alice", true),
            ("a.b_c@d-e", true),
            ("", false),
            (&"x".repeat(65), false),
            ("al ice", false),
            ("<script>", false),
        ] {
            assert_eq!(is_user_name(user), ok, "{user:?}");
        }
    }

    #[test]
    fn discovery_names_every_endpoint_on_the_issuer() {
        let doc = discovery("http://127.0.0.1:3000/");
        assert_eq!(doc["issuer"], "http://127.0.0.1:3000/");
        assert_eq!(
            doc["authorization_endpoint"],
            "http://127.0.0.1:3000/dev/authorize"
        );
        assert_eq!(
            doc["token_endpoint"],
            "http://127.0.0.1:3000/dev/oauth/token"
        );
        assert_eq!(
            doc["jwks_uri"],
            "http://127.0.0.1:3000/.well-known/jwks.json"
        );
        assert_eq!(doc["code_challenge_methods_supported"], json!(["S256"]));
    }
}
