//! [`JwtVerifier`]: token verification shared by the layer and the authorizer.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Validation;
use serde_json::{Map, Value};

use super::cache::{VerifiedCache, hash_token};
use super::jwks::{JwksCache, JwksSettings, Need};
use super::keys::{SigningAlgorithm, VerificationKey, candidates};
use super::{AuthError, Claims, VerifyError};

/// The longest `kid` accepted; real key ids are short (Auth0: 22 to 43 characters).
const MAX_KID_LEN: usize = 256;
/// How many keys one token may be tried against (tokens without `kid`), bounding the work an
/// attacker can cause per request.
const MAX_CANDIDATES: usize = 8;

/// Verifies bearer tokens: signature, algorithm, issuer, audience, `exp`/`nbf` and required claims.
///
/// Cheap to clone (one `Arc`); every clone shares the JWKS cache and the verification cache, so
/// build it once at init and hand clones to the layer and the authorizer.
///
/// ```no_run
/// use std::time::Duration;
/// use lamina_middleware::auth::JwtVerifier;
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let verifier = JwtVerifier::builder()
///     .auth0_domain("my-tenant.eu.auth0.com")
///     .audience("https://api.example.com")
///     .leeway(Duration::from_secs(30))
///     .build()?;
/// verifier.prefetch().await?; // load the JWKS during the init phase
/// let claims = verifier.verify("eyJhbGciOi...").await;
/// # let _ = claims;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct JwtVerifier {
    inner: Arc<Inner>,
}

struct Inner {
    static_keys: Vec<VerificationKey>,
    jwks: Option<JwksCache>,
    algorithms: Vec<SigningAlgorithm>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: u64,
    required: Vec<String>,
    max_token_bytes: usize,
    cache: VerifiedCache,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = &self.inner;
        f.debug_struct("JwtVerifier")
            .field("static_keys", &inner.static_keys)
            .field("jwks", &inner.jwks)
            .field("algorithms", &inner.algorithms)
            .field("issuers", &inner.issuers)
            .field("audiences", &inner.audiences)
            .field("leeway", &inner.leeway)
            .field("required", &inner.required)
            .field("max_token_bytes", &inner.max_token_bytes)
            .finish_non_exhaustive()
    }
}

/// Builds a [`JwtVerifier`]; see [`JwtVerifier::builder`].
#[derive(Debug, Clone)]
pub struct JwtVerifierBuilder {
    keys: Vec<VerificationKey>,
    jwks_url: Option<String>,
    oidc_issuer: Option<String>,
    jwks: JwksSettings,
    algorithms: Vec<SigningAlgorithm>,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: Duration,
    required: Vec<String>,
    max_token_bytes: usize,
    cache_capacity: usize,
}

impl Default for JwtVerifierBuilder {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            jwks_url: None,
            oidc_issuer: None,
            jwks: JwksSettings::default(),
            algorithms: SigningAlgorithm::ALL.to_vec(),
            issuers: Vec::new(),
            audiences: Vec::new(),
            leeway: Duration::from_secs(60),
            required: vec!["exp".to_owned()],
            max_token_bytes: 8 * 1024,
            cache_capacity: 1024,
        }
    }
}

impl JwtVerifierBuilder {
    /// Fetch keys from this JWKS URL (`https`, or `http` on a loopback host). Replaces an
    /// [`oidc_issuer`](Self::oidc_issuer)'s discovered key set.
    #[must_use]
    pub fn jwks_url(mut self, url: impl Into<String>) -> Self {
        self.jwks_url = Some(url.into());
        self.oidc_issuer = None;
        self
    }

    /// An OpenID Connect issuer (`https://tenant.eu.auth0.com/`, `https://cognito-idp.REGION.amazonaws.com/POOL`):
    /// tokens must carry it as `iss`, and their keys come from the `jwks_uri` of its discovery
    /// document, `{issuer}/.well-known/openid-configuration`, read on the first key fetch (or by
    /// [`JwtVerifier::prefetch`]). A document that names another issuer is refused, as OpenID
    /// Connect Discovery requires. Replaces a [`jwks_url`](Self::jwks_url).
    ///
    /// ```
    /// use lamina_middleware::auth::JwtVerifier;
    ///
    /// let verifier = JwtVerifier::builder()
    ///     .oidc_issuer("https://my-tenant.eu.auth0.com/")
    ///     .audience("https://api.example.com")
    ///     .build()?;
    /// # Ok::<(), lamina_middleware::auth::AuthError>(())
    /// ```
    #[must_use]
    pub fn oidc_issuer(mut self, issuer: impl Into<String>) -> Self {
        let issuer = issuer.into();
        self.jwks_url = None;
        self.oidc_issuer = Some(issuer.clone());
        self.issuer(issuer)
    }

    /// Auth0 conventions for a tenant domain such as `my-tenant.eu.auth0.com`: the JWKS at
    /// `https://DOMAIN/.well-known/jwks.json` and the issuer `https://DOMAIN/`.
    #[must_use]
    pub fn auth0_domain(self, domain: &str) -> Self {
        let domain = domain.trim_start_matches("https://").trim_end_matches('/');
        self.jwks_url(format!("https://{domain}/.well-known/jwks.json"))
            .issuer(format!("https://{domain}/"))
    }

    /// Adds a configured key (PEM public key, certificate or JWK), used next to any JWKS.
    #[must_use]
    pub fn key(mut self, key: VerificationKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Restricts the accepted algorithms (default: `RS256`, `ES256`, `PS256`).
    #[must_use]
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = SigningAlgorithm>) -> Self {
        self.algorithms = algorithms.into_iter().collect();
        self
    }

    /// Adds an accepted issuer; once any is set, `iss` is required and must be one of them.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuers.push(issuer.into());
        self
    }

    /// Adds an accepted audience; once any is set, `aud` is required and must name one of them.
    /// Without any, tokens that carry an `aud` are still accepted.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Clock skew tolerated on `exp` and `nbf` (default 60 s, capped at one day).
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway.min(Duration::from_secs(86_400));
        self
    }

    /// Claims that must be present (default: `exp`). Replaces the list; include `exp` to keep
    /// expiry mandatory.
    #[must_use]
    pub fn required_claims<I, S>(mut self, claims: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.required = claims.into_iter().map(Into::into).collect();
        self
    }

    /// The longest token accepted, in bytes (default 8 KiB); longer ones are refused unparsed.
    #[must_use]
    pub fn max_token_bytes(mut self, max: usize) -> Self {
        self.max_token_bytes = max;
        self
    }

    /// Minimum time between two JWKS fetches, whatever the `kid`s seen (default 30 s).
    #[must_use]
    pub fn jwks_cooldown(mut self, cooldown: Duration) -> Self {
        self.jwks.cooldown = cooldown;
        self
    }

    /// Timeout of one JWKS fetch, connection to last byte (default 5 s).
    #[must_use]
    pub fn jwks_timeout(mut self, timeout: Duration) -> Self {
        self.jwks.timeout = timeout;
        self
    }

    /// Largest JWKS document accepted (default 64 KiB).
    #[must_use]
    pub fn jwks_max_bytes(mut self, max: usize) -> Self {
        self.jwks.max_bytes = max;
        self
    }

    /// Age after which the JWKS is fetched again even without an unknown `kid`, so that revoked
    /// keys stop verifying (default 1 h).
    #[must_use]
    pub fn jwks_max_age(mut self, max_age: Duration) -> Self {
        self.jwks.max_age = max_age;
        self
    }

    /// Entries in the verification cache (default 1024; 0 disables it).
    #[must_use]
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// The verifier. Fails on a bad JWKS URL or when there is no key source at all; the JWKS
    /// itself is fetched on first use or by [`JwtVerifier::prefetch`].
    pub fn build(self) -> Result<JwtVerifier, AuthError> {
        crate::crypto::ensure_jwt_provider();
        let jwks = match (&self.jwks_url, &self.oidc_issuer) {
            (Some(url), _) => Some(JwksCache::new(url, self.jwks)?),
            (None, Some(issuer)) => Some(JwksCache::discovered(issuer, self.jwks)?),
            (None, None) if self.keys.is_empty() => return Err(AuthError::NoKeySource),
            (None, None) => None,
        };
        let mut algorithms = self.algorithms;
        algorithms.dedup();
        Ok(JwtVerifier {
            inner: Arc::new(Inner {
                static_keys: self.keys,
                jwks,
                algorithms,
                issuers: self.issuers,
                audiences: self.audiences,
                leeway: self.leeway.as_secs(),
                required: self.required,
                max_token_bytes: self.max_token_bytes,
                cache: VerifiedCache::new(self.cache_capacity),
            }),
        })
    }
}

impl JwtVerifier {
    /// A builder with the defaults described on its methods.
    #[must_use]
    pub fn builder() -> JwtVerifierBuilder {
        JwtVerifierBuilder::default()
    }

    /// Fetches the JWKS now (during Lambda's init phase, for example) and returns how many usable
    /// keys it holds. Without a JWKS URL this does nothing and returns 0.
    pub async fn prefetch(&self) -> Result<usize, AuthError> {
        match &self.inner.jwks {
            Some(jwks) => jwks.refresh().await,
            None => Ok(0),
        }
    }

    /// How many JWKS fetches this verifier started so far.
    #[must_use]
    pub fn jwks_fetches(&self) -> u64 {
        self.inner.jwks.as_ref().map_or(0, JwksCache::fetch_count)
    }

    /// How many verified tokens the cache holds.
    #[must_use]
    pub fn cached_verifications(&self) -> usize {
        self.inner.cache.len()
    }

    /// Verifies a token (without the `Bearer ` prefix) and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<Claims, VerifyError> {
        let inner = &*self.inner;
        if token.len() > inner.max_token_bytes {
            return Err(VerifyError::Oversized {
                len: token.len(),
                max: inner.max_token_bytes,
            });
        }
        let now = jsonwebtoken::get_current_timestamp();
        let hash = hash_token(token);
        if let Some(claims) = inner.cache.get(&hash, now) {
            return Ok(claims);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| VerifyError::Malformed)?;
        let alg = SigningAlgorithm::from_jwt(header.alg)
            .filter(|a| inner.algorithms.contains(a))
            .ok_or(VerifyError::AlgorithmNotAllowed)?;
        let kid = header.kid.as_deref();
        if kid.is_some_and(|k| {
            k.is_empty() || k.len() > MAX_KID_LEN || k.chars().any(char::is_control)
        }) {
            return Err(VerifyError::MalformedKid);
        }
        let validation = self.validation(alg);

        // Configured keys first; the JWKS when none of them verified the token. A claim failure
        // (expired, wrong issuer...) comes after a good signature and is final.
        let mut outcome = self.try_keys(token, &inner.static_keys, kid, alg, &validation);
        if let (Err(VerifyError::UnknownKey | VerifyError::InvalidSignature), Some(jwks)) =
            (&outcome, &inner.jwks)
        {
            let from_jwks = match self.try_keys(
                token,
                &jwks.keys(Need::Current).await,
                kid,
                alg,
                &validation,
            ) {
                Err(VerifyError::UnknownKey) => {
                    let keys = jwks.keys(Need::Refresh).await;
                    if keys.is_empty() && inner.static_keys.is_empty() {
                        Err(VerifyError::KeysUnavailable)
                    } else {
                        self.try_keys(token, &keys, kid, alg, &validation)
                    }
                }
                other => other,
            };
            // "Unknown key" in the JWKS must not hide a bad signature on a configured key.
            if !matches!(from_jwks, Err(VerifyError::UnknownKey)) {
                outcome = from_jwks;
            }
        }
        let raw = outcome?;
        for name in &inner.required {
            if !raw.contains_key(name) {
                return Err(VerifyError::MissingClaim(name.clone()));
            }
        }
        let claims = Claims::from_raw(raw);
        inner.cache.insert(hash, claims.clone(), now);
        Ok(claims)
    }

    fn validation(&self, alg: SigningAlgorithm) -> Validation {
        let inner = &*self.inner;
        let mut validation = Validation::new(alg.to_jwt());
        validation.leeway = inner.leeway;
        validation.validate_nbf = true;
        let registered: HashSet<String> = inner
            .required
            .iter()
            .filter(|c| matches!(c.as_str(), "exp" | "nbf" | "sub" | "iss" | "aud"))
            .cloned()
            .collect();
        // Checked whenever present; required only when listed.
        validation.validate_exp = true;
        validation.required_spec_claims = registered;
        if !inner.issuers.is_empty() {
            validation.set_issuer(&inner.issuers);
            validation.required_spec_claims.insert("iss".to_owned());
        }
        if inner.audiences.is_empty() {
            validation.validate_aud = false;
        } else {
            validation.set_audience(&inner.audiences);
            validation.required_spec_claims.insert("aud".to_owned());
        }
        validation
    }

    /// Tries the token against each candidate key: the first that verifies wins; a claim failure
    /// (expired, wrong issuer...) on a verified signature is final.
    fn try_keys(
        &self,
        token: &str,
        keys: &[VerificationKey],
        kid: Option<&str>,
        alg: SigningAlgorithm,
        validation: &Validation,
    ) -> Result<Map<String, Value>, VerifyError> {
        let mut result = Err(VerifyError::UnknownKey);
        for key in candidates(keys, kid, alg).take(MAX_CANDIDATES) {
            match jsonwebtoken::decode::<Map<String, Value>>(token, key.decoding_key(), validation)
            {
                Ok(data) => return Ok(data.claims),
                Err(error) => {
                    let reason = VerifyError::from_jwt(&error);
                    if reason != VerifyError::InvalidSignature {
                        return Err(reason);
                    }
                    result = Err(reason);
                }
            }
        }
        result
    }
}
