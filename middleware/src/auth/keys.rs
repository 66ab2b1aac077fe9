//! Public keys: [`SigningAlgorithm`], [`VerificationKey`] (from PEM, certificate or JWK) and the
//! lookup set the verifier searches.

use base64::Engine as _;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, KeyAlgorithm, KeyOperations, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};

use super::AuthError;

/// The signature algorithms a token may use. HMAC and `none` are not representable on purpose:
/// with public keys they are only ever an attack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SigningAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (Auth0's default).
    Rs256,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// RSASSA-PSS with SHA-256.
    Ps256,
}

impl SigningAlgorithm {
    /// All supported algorithms.
    pub const ALL: [Self; 3] = [Self::Rs256, Self::Es256, Self::Ps256];

    /// The `jsonwebtoken` algorithm.
    #[must_use]
    pub fn to_jwt(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Es256 => Algorithm::ES256,
            Self::Ps256 => Algorithm::PS256,
        }
    }

    /// The supported algorithm for a `jsonwebtoken` algorithm, if it is one.
    #[must_use]
    pub fn from_jwt(alg: Algorithm) -> Option<Self> {
        match alg {
            Algorithm::RS256 => Some(Self::Rs256),
            Algorithm::ES256 => Some(Self::Es256),
            Algorithm::PS256 => Some(Self::Ps256),
            _ => None,
        }
    }
}

/// One public key and the algorithms it may verify.
///
/// The algorithm a token's header names must be one the key allows: an RSA key allows `RS256`
/// and `PS256` unless narrowed with [`with_algorithm`](Self::with_algorithm) or a JWK `alg`; an EC
/// P-256 key allows `ES256` only.
///
/// ```
/// use lamina_middleware::auth::{SigningAlgorithm, VerificationKey};
///
/// # let pem = include_bytes!("../../tests/fixtures/auth/rsa_cert.pem");
/// let key = VerificationKey::from_pem(pem)?.with_kid("2024-01").with_algorithm(SigningAlgorithm::Rs256)?;
/// assert_eq!(key.kid(), Some("2024-01"));
/// # Ok::<(), lamina_middleware::auth::AuthError>(())
/// ```
#[derive(Clone)]
pub struct VerificationKey {
    kid: Option<String>,
    algorithms: Vec<SigningAlgorithm>,
    key: DecodingKey,
}

impl VerificationKey {
    /// A key from a PEM public key (`PUBLIC KEY`, `RSA PUBLIC KEY`) or an X.509 certificate
    /// (`CERTIFICATE`), RSA or EC P-256. Private keys are refused.
    ///
    /// The certificate's validity dates and chain are not checked: it is only a container for the
    /// key, as with Auth0's downloadable signing certificate.
    pub fn from_pem(pem: impl AsRef<[u8]>) -> Result<Self, AuthError> {
        crate::crypto::ensure_jwt_provider();
        let pem = pem.as_ref();
        if pem
            .windows(b"PRIVATE KEY".len())
            .any(|w| w == b"PRIVATE KEY")
        {
            return Err(AuthError::PrivateKey);
        }
        if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
            return Ok(Self {
                kid: None,
                algorithms: vec![SigningAlgorithm::Rs256, SigningAlgorithm::Ps256],
                key,
            });
        }
        match DecodingKey::from_ec_pem(pem) {
            // Only a 65-byte uncompressed point is a P-256 key; P-384 and others are refused.
            Ok(key)
                if key
                    .try_get_as_bytes()
                    .is_ok_and(|b| b.len() == 65 && b[0] == 4) =>
            {
                Ok(Self {
                    kid: None,
                    algorithms: vec![SigningAlgorithm::Es256],
                    key,
                })
            }
            Ok(_) => Err(AuthError::UnsupportedKey(
                "only EC keys on P-256 are supported".into(),
            )),
            Err(error) => Err(AuthError::InvalidKey(error.to_string())),
        }
    }

    /// A key from one JSON Web Key (RFC 7517).
    ///
    /// Refused: symmetric (`oct`) and `OKP` keys, curves other than P-256, RSA moduli under 2048
    /// bits, keys whose `use` is not `sig` or whose `key_ops` lacks `verify`, and an `alg` other
    /// than `RS256`, `ES256` or `PS256` (or one that disagrees with the key type).
    pub fn from_jwk(jwk: &Jwk) -> Result<Self, AuthError> {
        crate::crypto::ensure_jwt_provider();
        let unsupported = |why: &str| Err(AuthError::UnsupportedKey(why.to_owned()));
        if jwk
            .common
            .public_key_use
            .as_ref()
            .is_some_and(|u| *u != PublicKeyUse::Signature)
        {
            return unsupported("`use` is not `sig`");
        }
        if jwk
            .common
            .key_operations
            .as_ref()
            .is_some_and(|ops| !ops.contains(&KeyOperations::Verify))
        {
            return unsupported("`key_ops` does not include `verify`");
        }
        let declared = match jwk.common.key_algorithm {
            None => None,
            Some(KeyAlgorithm::RS256) => Some(SigningAlgorithm::Rs256),
            Some(KeyAlgorithm::ES256) => Some(SigningAlgorithm::Es256),
            Some(KeyAlgorithm::PS256) => Some(SigningAlgorithm::Ps256),
            Some(other) => return unsupported(&format!("algorithm {other:?}")),
        };
        let (key, by_type) = match &jwk.algorithm {
            AlgorithmParameters::RSA(rsa) => {
                let modulus = base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(rsa.n.trim_end_matches('='))
                    .map_err(|e| AuthError::InvalidKey(format!("RSA modulus: {e}")))?;
                let significant = modulus.iter().skip_while(|b| **b == 0).count();
                if significant < 256 {
                    return unsupported("RSA modulus under 2048 bits");
                }
                let key = DecodingKey::from_rsa_components(&rsa.n, &rsa.e)
                    .map_err(|e| AuthError::InvalidKey(e.to_string()))?;
                (key, vec![SigningAlgorithm::Rs256, SigningAlgorithm::Ps256])
            }
            AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
                let key = DecodingKey::from_ec_components(&ec.x, &ec.y)
                    .map_err(|e| AuthError::InvalidKey(e.to_string()))?;
                if key.try_get_as_bytes().map_or(true, |b| b.len() != 65) {
                    return Err(AuthError::InvalidKey("EC point is not 2 x 32 bytes".into()));
                }
                (key, vec![SigningAlgorithm::Es256])
            }
            AlgorithmParameters::EllipticCurve(_) => {
                return unsupported("only the P-256 curve is supported");
            }
            _ => return unsupported("only RSA and EC keys are supported"),
        };
        let algorithms = match declared {
            Some(alg) if by_type.contains(&alg) => vec![alg],
            Some(alg) => return unsupported(&format!("`alg` {alg:?} does not fit the key type")),
            None => by_type,
        };
        Ok(Self {
            kid: jwk.common.key_id.clone(),
            algorithms,
            key,
        })
    }

    /// Sets the key id matched against a token's `kid`. A key without one matches any token whose
    /// algorithm it allows.
    #[must_use]
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = Some(kid.into());
        self
    }

    /// Narrows the key to one algorithm; fails when the key type cannot use it.
    pub fn with_algorithm(mut self, algorithm: SigningAlgorithm) -> Result<Self, AuthError> {
        if !self.algorithms.contains(&algorithm) {
            return Err(AuthError::UnsupportedKey(format!(
                "{algorithm:?} does not fit the key type"
            )));
        }
        self.algorithms = vec![algorithm];
        Ok(self)
    }

    /// The key id, if any.
    #[must_use]
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    /// The algorithms this key may verify.
    #[must_use]
    pub fn algorithms(&self) -> &[SigningAlgorithm] {
        &self.algorithms
    }

    pub(crate) fn allows(&self, alg: SigningAlgorithm) -> bool {
        self.algorithms.contains(&alg)
    }

    pub(crate) fn decoding_key(&self) -> &DecodingKey {
        &self.key
    }
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("kid", &self.kid)
            .field("algorithms", &self.algorithms)
            .finish_non_exhaustive()
    }
}

/// Keys parsed from one JWKS document; keys that cannot be used are left out (and logged).
pub(crate) fn parse_jwks(body: &[u8]) -> Result<Vec<VerificationKey>, AuthError> {
    #[derive(serde::Deserialize)]
    struct Document {
        keys: Vec<serde_json::Value>,
    }
    let document: Document =
        serde_json::from_slice(body).map_err(|e| AuthError::JwksMalformed(e.to_string()))?;
    let mut keys = Vec::with_capacity(document.keys.len());
    for (index, value) in document.keys.into_iter().enumerate() {
        let parsed = serde_json::from_value::<Jwk>(value)
            .map_err(|e| AuthError::InvalidKey(e.to_string()))
            .and_then(|jwk| VerificationKey::from_jwk(&jwk));
        match parsed {
            Ok(key) => keys.push(key),
            Err(error) => tracing::debug!(index, %error, "skipping a JWKS key"),
        }
    }
    Ok(keys)
}

/// The candidate keys for a token: those whose `kid` equals the token's (or that have none), and
/// that allow the token's algorithm.
pub(crate) fn candidates<'a>(
    keys: &'a [VerificationKey],
    kid: Option<&'a str>,
    alg: SigningAlgorithm,
) -> impl Iterator<Item = &'a VerificationKey> + 'a {
    keys.iter().filter(move |k| {
        k.allows(alg) && (k.kid.is_none() || kid.is_none() || k.kid.as_deref() == kid)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RSA_PUBLIC: &[u8] = include_bytes!("../../tests/fixtures/auth/rsa_public.pem");
    const RSA_CERT: &[u8] = include_bytes!("../../tests/fixtures/auth/rsa_cert.pem");
    const EC_PUBLIC: &[u8] = include_bytes!("../../tests/fixtures/auth/ec_public.pem");
    const EC_CERT: &[u8] = include_bytes!("../../tests/fixtures/auth/ec_cert.pem");
    const RSA_PRIVATE: &[u8] = include_bytes!("../../tests/fixtures/auth/rsa_private.pem");

    #[test]
    fn pem_keys_and_certificates_get_their_algorithms() {
        use SigningAlgorithm::*;
        let cases: [(&[u8], &[SigningAlgorithm]); 4] = [
            (RSA_PUBLIC, &[Rs256, Ps256]),
            (RSA_CERT, &[Rs256, Ps256]),
            (EC_PUBLIC, &[Es256]),
            (EC_CERT, &[Es256]),
        ];
        for (pem, expected) in cases {
            let key = VerificationKey::from_pem(pem);
            assert_eq!(
                key.as_ref().map(|k| k.algorithms().to_vec()).ok(),
                Some(expected.to_vec())
            );
        }
    }

    #[test]
    fn private_keys_and_garbage_are_refused() {
        assert_eq!(
            VerificationKey::from_pem(RSA_PRIVATE).err(),
            Some(AuthError::PrivateKey)
        );
        assert!(matches!(
            VerificationKey::from_pem(b"not a pem"),
            Err(AuthError::InvalidKey(_))
        ));
    }

    #[test]
    fn with_algorithm_refuses_a_foreign_family() {
        let ec = VerificationKey::from_pem(EC_PUBLIC);
        assert!(
            ec.and_then(|k| k.with_algorithm(SigningAlgorithm::Rs256))
                .is_err()
        );
    }

    fn jwk(value: serde_json::Value) -> Result<VerificationKey, AuthError> {
        let jwk: Jwk =
            serde_json::from_value(value).map_err(|e| AuthError::InvalidKey(e.to_string()))?;
        VerificationKey::from_jwk(&jwk)
    }

    #[test]
    fn jwk_policy_table() {
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xC5u8; 256]);
        let short_n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xC5u8; 128]);
        let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([1u8; 32]);
        let cases = [
            (json!({"kty": "RSA", "n": n, "e": "AQAB", "kid": "a"}), true),
            (
                json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS256", "use": "sig"}),
                true,
            ),
            (
                json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "ES256"}),
                false,
            ),
            (
                json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "RS384"}),
                false,
            ),
            (
                json!({"kty": "RSA", "n": n, "e": "AQAB", "alg": "HS256"}),
                false,
            ),
            (
                json!({"kty": "RSA", "n": n, "e": "AQAB", "use": "enc"}),
                false,
            ),
            (
                json!({"kty": "RSA", "n": n, "e": "AQAB", "key_ops": ["sign"]}),
                false,
            ),
            (json!({"kty": "RSA", "n": short_n, "e": "AQAB"}), false),
            (
                json!({"kty": "EC", "crv": "P-256", "x": x, "y": x, "alg": "ES256"}),
                true,
            ),
            (
                json!({"kty": "EC", "crv": "P-256", "x": x, "y": x, "alg": "PS256"}),
                false,
            ),
            (json!({"kty": "EC", "crv": "P-384", "x": x, "y": x}), false),
            (json!({"kty": "oct", "k": "c2VjcmV0"}), false),
        ];
        for (value, accepted) in cases {
            assert_eq!(jwk(value.clone()).is_ok(), accepted, "{value}");
        }
    }

    #[test]
    fn jwks_parsing_skips_unusable_keys_and_rejects_non_documents() {
        let n = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode([0xC5u8; 256]);
        let body = json!({"keys": [{"kty": "oct", "k": "c2VjcmV0"}, {"kty": "RSA", "n": n, "e": "AQAB", "kid": "k1"}, 7]});
        let keys = parse_jwks(body.to_string().as_bytes());
        assert_eq!(
            keys.map(|k| k
                .iter()
                .map(|k| k.kid().map(str::to_owned))
                .collect::<Vec<_>>())
                .ok(),
            Some(vec![Some("k1".to_owned())])
        );
        for bad in [&b"[]"[..], b"{}", b"{\"keys\": 3}", b"\xff"] {
            assert!(matches!(parse_jwks(bad), Err(AuthError::JwksMalformed(_))));
        }
    }
}
