//! The two error types of the module: [`AuthError`] for configuration and key fetching, and
//! [`VerifyError`] for one rejected token.

/// A configuration or key-loading failure: a bad key, a bad JWKS URL, a JWKS fetch that failed.
///
/// Messages name what went wrong and never contain a token. Keys are public, so a message may quote
/// a key parsing error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The verifier was built without a JWKS URL, an OpenID Connect issuer or a configured key.
    #[error("no key source: configure a JWKS URL, an OpenID Connect issuer or at least one key")]
    NoKeySource,
    /// The JWKS URL does not parse as an absolute `http(s)` URL.
    #[error("invalid JWKS URL: {0}")]
    InvalidJwksUrl(String),
    /// The JWKS URL uses plain `http` for a host other than loopback.
    #[error(
        "the JWKS URL must use https (plain http is only allowed for 127.0.0.1, ::1 and localhost)"
    )]
    InsecureJwksUrl,
    /// A configured key (PEM, certificate or JWK) could not be parsed.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A private key was configured where a public key or certificate belongs.
    #[error("a private key was given; configure the public key or the certificate instead")]
    PrivateKey,
    /// The key cannot verify any allowed algorithm (an HMAC secret, a P-384 curve, an `alg` of
    /// `RS384`, a key marked for encryption, an RSA modulus under 2048 bits...).
    #[error("unsupported key: {0}")]
    UnsupportedKey(String),
    /// The JWKS request failed at the connection or protocol level.
    #[error("JWKS fetch failed: {0}")]
    JwksFetch(String),
    /// The JWKS endpoint answered with a status other than 200.
    #[error("JWKS endpoint answered HTTP {0}")]
    JwksStatus(u16),
    /// The JWKS document is larger than the configured maximum.
    #[error("JWKS document exceeds {0} bytes")]
    JwksTooLarge(usize),
    /// The JWKS request did not finish within the configured timeout.
    #[error("JWKS fetch timed out after {0:?}")]
    JwksTimeout(std::time::Duration),
    /// The JWKS document is not a JSON object with a `keys` array.
    #[error("JWKS document is malformed: {0}")]
    JwksMalformed(String),
    /// The JWKS client's TLS could not be set up with the crate's crypto backend.
    #[error("TLS for the JWKS client: {0}")]
    Tls(String),
    /// A refresh was skipped because the previous attempt is more recent than the cool-down.
    #[error("JWKS refresh skipped: cooling down")]
    CoolingDown,
    /// The OpenID Connect issuer is not a usable URL, or its discovery document is not usable: not
    /// JSON, another `issuer` than the one configured, or no usable `jwks_uri`.
    #[error("OpenID Connect discovery: {0}")]
    Discovery(String),
}

/// Why one token was rejected.
///
/// The [`JwtAuth`](super::JwtAuth) service logs this (at `info`) and answers 401 without saying
/// which variant it was; [`KeysUnavailable`](VerifyError::KeysUnavailable) is the one variant that
/// is not the client's fault (it answers 503). `Display` never contains the token or its `kid`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// No bearer token was presented.
    #[error("no bearer token")]
    Missing,
    /// The `Authorization` header is not a single well-formed `Bearer` credential.
    #[error("malformed Authorization header")]
    MalformedHeader,
    /// The token is longer than the configured maximum.
    #[error("token of {len} bytes exceeds the {max} byte limit")]
    Oversized {
        /// The token's length in bytes.
        len: usize,
        /// The configured limit.
        max: usize,
    },
    /// The token is not three base64url parts with a JSON header and JSON claims.
    #[error("malformed token")]
    Malformed,
    /// The header names an algorithm that is not allowed (`none`, any `HS*`, `RS384`, ...).
    #[error("algorithm not allowed")]
    AlgorithmNotAllowed,
    /// The `kid` is too long or contains characters no key id has.
    #[error("malformed key id")]
    MalformedKid,
    /// No configured or fetched key matches the token's `kid` and algorithm.
    #[error("no key matches the token")]
    UnknownKey,
    /// The signature does not verify with any matching key.
    #[error("invalid signature")]
    InvalidSignature,
    /// The token expired (`exp` plus the leeway is in the past).
    #[error("token expired")]
    Expired,
    /// The token is not valid yet (`nbf` minus the leeway is in the future).
    #[error("token not yet valid")]
    NotYetValid,
    /// The `iss` claim is not one of the accepted issuers.
    #[error("wrong issuer")]
    InvalidIssuer,
    /// The `aud` claim names none of the accepted audiences.
    #[error("wrong audience")]
    InvalidAudience,
    /// A required claim is absent.
    #[error("missing required claim `{0}`")]
    MissingClaim(String),
    /// A registered claim (`exp`, `nbf`, `iss`, `aud`, `sub`) has the wrong JSON type.
    #[error("claim `{0}` has the wrong type")]
    InvalidClaim(String),
    /// No key could be loaded at all (the JWKS was never fetched successfully).
    #[error("no verification keys available")]
    KeysUnavailable,
}

impl VerifyError {
    /// The RFC 6750 `error` code for the `WWW-Authenticate` header: none for a missing token,
    /// `invalid_token` otherwise.
    #[must_use]
    pub fn oauth_error(&self) -> Option<&'static str> {
        match self {
            Self::Missing => None,
            _ => Some("invalid_token"),
        }
    }

    pub(crate) fn from_jwt(error: &jsonwebtoken::errors::Error) -> Self {
        use jsonwebtoken::errors::ErrorKind;
        match error.kind() {
            ErrorKind::InvalidSignature => Self::InvalidSignature,
            ErrorKind::ExpiredSignature => Self::Expired,
            ErrorKind::ImmatureSignature => Self::NotYetValid,
            ErrorKind::InvalidIssuer => Self::InvalidIssuer,
            ErrorKind::InvalidAudience => Self::InvalidAudience,
            ErrorKind::MissingRequiredClaim(claim) => Self::MissingClaim(claim.clone()),
            ErrorKind::InvalidClaimFormat(claim) => Self::InvalidClaim(claim.clone()),
            ErrorKind::InvalidAlgorithm
            | ErrorKind::MissingAlgorithm
            | ErrorKind::InvalidAlgorithmName
            | ErrorKind::UnsupportedAlgorithm => Self::AlgorithmNotAllowed,
            // A key that the crypto backend refuses for this algorithm cannot verify the token.
            ErrorKind::InvalidEcdsaKey
            | ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidKeyFormat
            | ErrorKind::InvalidEddsaKey => Self::InvalidSignature,
            _ => Self::Malformed,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_missing_token_has_no_oauth_error() {
        assert_eq!(VerifyError::Missing.oauth_error(), None);
        for error in [
            VerifyError::Malformed,
            VerifyError::Expired,
            VerifyError::UnknownKey,
            VerifyError::Oversized {
                len: 9000,
                max: 8192,
            },
        ] {
            assert_eq!(error.oauth_error(), Some("invalid_token"));
        }
    }

    #[test]
    fn jsonwebtoken_errors_map_to_reasons() {
        use jsonwebtoken::errors::{Error, ErrorKind};
        let cases = [
            (ErrorKind::ExpiredSignature, VerifyError::Expired),
            (ErrorKind::ImmatureSignature, VerifyError::NotYetValid),
            (ErrorKind::InvalidIssuer, VerifyError::InvalidIssuer),
            (ErrorKind::InvalidAudience, VerifyError::InvalidAudience),
            (ErrorKind::InvalidSignature, VerifyError::InvalidSignature),
            (
                ErrorKind::InvalidAlgorithm,
                VerifyError::AlgorithmNotAllowed,
            ),
            (ErrorKind::InvalidToken, VerifyError::Malformed),
            (
                ErrorKind::MissingRequiredClaim("exp".into()),
                VerifyError::MissingClaim("exp".into()),
            ),
        ];
        for (kind, expected) in cases {
            assert_eq!(VerifyError::from_jwt(&Error::from(kind)), expected);
        }
    }
}
