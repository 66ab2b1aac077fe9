//! The development token issuer built into `udagram serve`: an RSA-2048 key kept in the data
//! directory, its JWKS, and RS256 tokens for a named user, so that the API verifies local tokens
//! with the very same [`JwtVerifier`](lamina_middleware::auth::JwtVerifier) code as on AWS.
//!
//! It is also a small OpenID Connect provider for the web client ([`oidc`]): the authorization
//! code flow with PKCE, ID tokens and refresh tokens, so the client signs in locally with the same
//! code that signs in with Auth0 on AWS.
//!
//! ```
//! use udagram::dev_issuer::DevIssuer;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let issuer = DevIssuer::load_or_create(dir.path(), "http://127.0.0.1:3000/").unwrap();
//! let token = issuer.issue("alice", 1_700_000_000).unwrap();
//! assert_eq!(token.split('.').count(), 3);
//! assert_eq!(issuer.jwks()["keys"][0]["kid"], issuer.kid());
//! ```

use std::fmt;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::{KeyPair, KeySize};
use aws_lc_rs::signature::KeyPair as _;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};

pub mod oidc;
mod tokens;

pub use tokens::{Lifetimes, RefreshGrant};

/// The audience of every development token (and of the API's verifier).
pub const AUDIENCE: &str = "udagram";
/// How long a development access token stays valid unless [`Lifetimes`] says otherwise.
pub const TOKEN_LIFETIME_SECS: u64 = 3600;
/// The key file's name inside the data directory.
pub const KEY_FILE: &str = "dev-issuer.key";

/// Why the development issuer could not start or sign.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevIssuerError {
    /// The key file could not be read or written.
    #[error("cannot access the development issuer key {path}")]
    Io {
        /// The key file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The key file does not hold an RSA PKCS#8 key (its bytes are never shown).
    #[error("the development issuer key {0} is not an RSA PKCS#8 key")]
    BadKey(PathBuf),
    /// Key generation or encoding failed in the crypto library.
    #[error("the crypto library failed: {0}")]
    Crypto(&'static str),
    /// Signing a token failed.
    #[error("cannot sign a development token")]
    Sign(#[source] jsonwebtoken::errors::Error),
    /// A refresh token is expired, forged, or not one of this issuer's (its text is never shown).
    #[error("the refresh token is not valid: {0}")]
    BadRefreshToken(&'static str),
}

/// The issuer: signs tokens with `iss` = its URL and `aud` = [`AUDIENCE`].
pub struct DevIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    jwk: Value,
    issuer: String,
    lifetimes: Lifetimes,
}

impl fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevIssuer")
            .field("kid", &self.kid)
            .field("issuer", &self.issuer)
            .finish_non_exhaustive()
    }
}

impl DevIssuer {
    /// Loads `DIR/dev-issuer.key`, or generates an RSA-2048 key and persists it there (PKCS#8 DER,
    /// mode 0600, written to a temporary file and renamed so a crash never leaves half a key).
    ///
    /// # Errors
    /// The file cannot be read or written, or it holds something other than an RSA key.
    pub fn load_or_create(
        data_dir: &Path,
        issuer: impl Into<String>,
    ) -> Result<Self, DevIssuerError> {
        let path = data_dir.join(KEY_FILE);
        let io = |source| DevIssuerError::Io {
            path: path.clone(),
            source,
        };
        let pkcs8 = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {
                let pair = KeyPair::generate(KeySize::Rsa2048)
                    .map_err(|_| DevIssuerError::Crypto("RSA key generation"))?;
                let der = pair
                    .as_der()
                    .map_err(|_| DevIssuerError::Crypto("PKCS#8 encoding"))?;
                write_private(&path, der.as_ref()).map_err(io)?;
                der.as_ref().to_vec()
            }
            Err(error) => return Err(io(error)),
        };
        Self::from_pkcs8(&pkcs8, issuer.into()).map_err(|()| DevIssuerError::BadKey(path.clone()))
    }

    fn from_pkcs8(pkcs8: &[u8], issuer: String) -> Result<Self, ()> {
        let pair = KeyPair::from_pkcs8(pkcs8).map_err(|_| ())?;
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        // RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order.
        let thumbprint = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint.as_bytes()));
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            STANDARD.encode(pkcs8)
        );
        // A build may hold both of jsonwebtoken's backends; signing then needs one chosen.
        lamina_middleware::crypto::ensure_jwt_provider();
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|_| ())?;
        let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(|_| ())?;
        let jwk = json!({"kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e});
        Ok(Self {
            encoding,
            decoding,
            kid,
            jwk,
            issuer,
            lifetimes: Lifetimes::default(),
        })
    }

    /// The key id (the JWK thumbprint), in every token header and in the JWKS.
    #[must_use]
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The issuer URL (`iss` of every token).
    #[must_use]
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The JWKS document: `{"keys": [{"kty":"RSA","kid",...,"n","e"}]}`.
    #[must_use]
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// The public key as one JWK.
    #[must_use]
    pub fn jwk(&self) -> &Value {
        &self.jwk
    }

    /// Sets how long access tokens and sign-in sessions last.
    #[must_use]
    pub fn with_lifetimes(mut self, lifetimes: Lifetimes) -> Self {
        self.lifetimes = lifetimes;
        self
    }

    /// How long access tokens and sign-in sessions last.
    #[must_use]
    pub fn lifetimes(&self) -> Lifetimes {
        self.lifetimes
    }

    /// An RS256 access token for `user`: `sub` = user, `iss`, `aud` = [`AUDIENCE`], `iat` = `now`,
    /// `exp` = `now` + the access-token lifetime ([`TOKEN_LIFETIME_SECS`] by default).
    ///
    /// # Errors
    /// Signing failed.
    pub fn issue(&self, user: &str, now: u64) -> Result<String, DevIssuerError> {
        self.issue_until(user, now, now + self.lifetimes.access_secs)
    }

    /// A token for `user` that expires at `exp` (tests use it for expired tokens).
    ///
    /// # Errors
    /// Signing failed.
    pub fn issue_until(&self, user: &str, now: u64, exp: u64) -> Result<String, DevIssuerError> {
        let claims = json!({
            "sub": user, "iss": self.issuer, "aud": AUDIENCE, "iat": now, "exp": exp,
        });
        self.sign(&claims)
    }

    /// Signs `claims` as an RS256 JWT with this issuer's key id.
    fn sign(&self, claims: &Value) -> Result<String, DevIssuerError> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding).map_err(DevIssuerError::Sign)
    }
}

/// Writes `bytes` to `path` with mode 0600: a temporary file, fsync, rename, fsync of the directory.
fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let temp = path.with_extension("key.tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&temp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;
    use lamina_middleware::auth::{JwtVerifier, VerificationKey};

    #[tokio::test]
    async fn tokens_verify_with_the_published_key_and_the_key_persists() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = DevIssuer::load_or_create(dir.path(), "http://127.0.0.1:1/").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = DevIssuer::load_or_create(dir.path(), "http://127.0.0.1:1/").unwrap();
        assert_eq!(issuer.kid(), again.kid());

        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(issuer.jwk().clone()).unwrap();
        let verifier = JwtVerifier::builder()
            .key(VerificationKey::from_jwk(&jwk).unwrap())
            .issuer("http://127.0.0.1:1/")
            .audience(AUDIENCE)
            .build()
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = verifier
            .verify(&again.issue("alice", now).unwrap())
            .await
            .unwrap();
        assert_eq!(claims.subject(), Some("alice"));
        let expired = issuer.issue_until("alice", now - 7200, now - 3600).unwrap();
        assert!(verifier.verify(&expired).await.is_err());
    }

    #[test]
    fn a_corrupt_key_file_is_refused_without_showing_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), b"not a key").unwrap();
        let error = DevIssuer::load_or_create(dir.path(), "x").unwrap_err();
        assert!(matches!(error, DevIssuerError::BadKey(_)));
        assert!(!error.to_string().contains("not a key"));
    }
}
