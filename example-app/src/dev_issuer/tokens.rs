//! The OpenID Connect tokens of the development issuer: ID tokens for the web client, and refresh
//! tokens that end with the sign-in session.
//!
//! A refresh token is a JWT signed with the issuer's key, so that sessions survive a restart of
//! `udagram serve` without a session table. Its audience is [`REFRESH_AUDIENCE`], which the API's
//! verifier never accepts, so a refresh token can never be used as an access token. It carries the
//! time of the sign-in (`auth_time`) and expires at the end of the session: refreshing gives new
//! access and ID tokens but never a longer session, so a session ends when it says it does.

use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use serde_json::json;

use super::{DevIssuer, DevIssuerError, TOKEN_LIFETIME_SECS};

/// The audience of refresh tokens (never the API's [`AUDIENCE`](super::AUDIENCE)).
pub(super) const REFRESH_AUDIENCE: &str = "udagram-dev-refresh";

/// How long the development issuer's tokens last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    /// Access and ID tokens, in seconds.
    pub access_secs: u64,
    /// A sign-in session (its refresh tokens), in seconds from the sign-in.
    pub session_secs: u64,
}

impl Default for Lifetimes {
    /// One hour for tokens, eight hours for a session.
    fn default() -> Self {
        Self {
            access_secs: TOKEN_LIFETIME_SECS,
            session_secs: 8 * 3600,
        }
    }
}

/// What a valid refresh token grants.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RefreshGrant {
    /// The signed-in user.
    #[serde(rename = "sub")]
    pub user: String,
    /// The client the session belongs to.
    #[serde(rename = "azp")]
    pub client_id: String,
    /// When the user signed in (seconds since the epoch).
    pub auth_time: u64,
    /// When the session ends (seconds since the epoch).
    #[serde(rename = "exp")]
    pub session_end: u64,
}

impl DevIssuer {
    /// An ID token for `client_id`: the user's `sub`, `name` and `preferred_username`, the
    /// sign-in time and, when the client sent one, its `nonce`.
    ///
    /// # Errors
    /// Signing failed.
    pub fn issue_id_token(
        &self,
        user: &str,
        client_id: &str,
        nonce: Option<&str>,
        auth_time: u64,
        now: u64,
    ) -> Result<String, DevIssuerError> {
        let mut claims = json!({
            "sub": user, "iss": self.issuer, "aud": client_id, "azp": client_id,
            "iat": now, "exp": now + self.lifetimes.access_secs, "auth_time": auth_time,
            "name": user, "preferred_username": user,
        });
        if let Some(nonce) = nonce {
            claims["nonce"] = json!(nonce);
        }
        self.sign(&claims)
    }

    /// A refresh token for the session `user` started at `auth_time` with `client_id`; it expires
    /// when the session does.
    ///
    /// # Errors
    /// Signing failed.
    pub fn issue_refresh_token(
        &self,
        user: &str,
        client_id: &str,
        auth_time: u64,
        now: u64,
    ) -> Result<String, DevIssuerError> {
        self.sign(&json!({
            "sub": user, "iss": self.issuer, "aud": REFRESH_AUDIENCE, "azp": client_id,
            "iat": now, "auth_time": auth_time, "exp": auth_time + self.lifetimes.session_secs,
        }))
    }

    /// Checks a refresh token: this issuer's signature, its audience, and a session that has not
    /// ended at `now` (no leeway: the issuer and its clock are the same process).
    ///
    /// # Errors
    /// [`DevIssuerError::BadRefreshToken`], without the token's text.
    pub fn verify_refresh_token(
        &self,
        token: &str,
        now: u64,
    ) -> Result<RefreshGrant, DevIssuerError> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&[REFRESH_AUDIENCE]);
        validation.set_issuer(&[self.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "sub", "aud", "iss"]);
        // Expiry is checked below against the caller's clock, so tests can move time.
        validation.validate_exp = false;
        let grant = jsonwebtoken::decode::<RefreshGrant>(token, &self.decoding, &validation)
            .map_err(|_| DevIssuerError::BadRefreshToken("not a refresh token of this issuer"))?
            .claims;
        if grant.session_end <= now {
            return Err(DevIssuerError::BadRefreshToken("the session has ended"));
        }
        Ok(grant)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn issuer(lifetimes: Lifetimes) -> (tempfile::TempDir, DevIssuer) {
        let dir = tempfile::tempdir().unwrap();
        let issuer = DevIssuer::load_or_create(dir.path(), "http://127.0.0.1:9/")
            .unwrap()
            .with_lifetimes(lifetimes);
        (dir, issuer)
    }

    fn claims(token: &str) -> serde_json::Value {
        use base64::Engine as _;
        let payload = token.split('.').nth(1).unwrap();
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn a_refresh_token_is_good_until_the_session_ends_and_never_longer() {
        let lifetimes = Lifetimes {
            access_secs: 5,
            session_secs: 100,
        };
        let (_dir, issuer) = issuer(lifetimes);
        let token = issuer
            .issue_refresh_token("alice", "web", 1_000, 1_050)
            .unwrap();
        let grant = issuer.verify_refresh_token(&token, 1_099).unwrap();
        assert_eq!(grant.user, "alice");
        assert_eq!(grant.client_id, "web");
        assert_eq!(grant.auth_time, 1_000);
        assert_eq!(grant.session_end, 1_100);
        assert!(issuer.verify_refresh_token(&token, 1_100).is_err());
        // A token refreshed late in the session still ends with the session.
        let later = issuer
            .issue_refresh_token("alice", "web", 1_000, 1_090)
            .unwrap();
        assert_eq!(claims(&later)["exp"], 1_100);
    }

    #[test]
    fn access_and_id_tokens_are_never_refresh_tokens() {
        let (_dir, issuer) = issuer(Lifetimes::default());
        let access = issuer.issue("alice", 1_000).unwrap();
        let id = issuer
            .issue_id_token("alice", "web", Some("n-1"), 1_000, 1_000)
            .unwrap();
        assert!(issuer.verify_refresh_token(&access, 1_001).is_err());
        assert!(issuer.verify_refresh_token(&id, 1_001).is_err());
        assert!(issuer.verify_refresh_token("not.a.token", 1_001).is_err());
    }

    #[test]
    fn a_refresh_token_signed_by_another_key_is_refused() {
        let (_dir, ours) = issuer(Lifetimes::default());
        let (_other_dir, theirs) = issuer(Lifetimes::default());
        let forged = theirs
            .issue_refresh_token("mallory", "web", 1_000, 1_000)
            .unwrap();
        let error = ours.verify_refresh_token(&forged, 1_001).unwrap_err();
        assert!(!error.to_string().contains(&forged));
    }

    #[test]
    fn the_id_token_names_the_client_the_user_and_the_nonce() {
        let (_dir, issuer) = issuer(Lifetimes {
            access_secs: 60,
            session_secs: 600,
        });
        let id = claims(
            &issuer
                .issue_id_token("bob", "udagram-web", Some("abc"), 900, 1_000)
                .unwrap(),
        );
        assert_eq!(id["aud"], "udagram-web");
        assert_eq!(id["sub"], "bob");
        assert_eq!(id["preferred_username"], "bob");
        assert_eq!(id["nonce"], "abc");
        assert_eq!(id["auth_time"], 900);
        assert_eq!(id["exp"], 1_060);
        let without = claims(&issuer.issue_id_token("bob", "w", None, 900, 1_000).unwrap());
        assert!(without.get("nonce").is_none());
    }
}
