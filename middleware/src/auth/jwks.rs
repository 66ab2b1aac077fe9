//! The JWKS cache: one fetch shared by every request, refreshed on an unknown `kid` at most once
//! per cool-down, keeping the last good key set when a fetch fails.
//!
//! The key set is at a configured JWKS URL, or at the `jwks_uri` of an OpenID Connect issuer's
//! discovery document (`{issuer}/.well-known/openid-configuration`, OpenID Connect Discovery 1.0,
//! section 4), read on the first fetch, checked to name the configured issuer (section 4.3), and
//! read again when the key set it named answers 404.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Uri, header};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::AuthError;
use super::keys::{VerificationKey, parse_jwks};

/// Settings of the JWKS cache.
#[derive(Debug, Clone)]
pub(crate) struct JwksSettings {
    pub(crate) cooldown: Duration,
    pub(crate) timeout: Duration,
    pub(crate) max_bytes: usize,
    pub(crate) max_age: Duration,
}

impl Default for JwksSettings {
    fn default() -> Self {
        Self {
            cooldown: Duration::from_secs(30),
            timeout: Duration::from_secs(5),
            max_bytes: 64 * 1024,
            max_age: Duration::from_secs(3600),
        }
    }
}

/// The current key set; replaced as a whole, so readers never see a half-updated set.
#[derive(Debug, Default)]
struct Snapshot {
    keys: Arc<[VerificationKey]>,
    fetched_at: Option<Instant>,
}

/// The state only the one refreshing task touches.
#[derive(Debug, Default)]
struct RefreshState {
    last_attempt: Option<Instant>,
}

/// Where the key set is.
#[derive(Debug)]
enum Location {
    /// A JWKS URL.
    Jwks(Uri),
    /// An OpenID Connect issuer: its discovery document, and the `jwks_uri` it named.
    Discovery {
        issuer: String,
        document: Uri,
        jwks: RwLock<Option<Uri>>,
    },
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Jwks(url) => write!(f, "{url}"),
            Self::Discovery { document, .. } => write!(f, "{document}"),
        }
    }
}

/// The part of a discovery document the verifier reads.
#[derive(Debug, serde::Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    jwks_uri: String,
}

/// A JWKS endpoint and its cached keys.
pub(crate) struct JwksCache {
    url: Location,
    client: Client<HttpsConnector<HttpConnector>, Empty<Bytes>>,
    settings: JwksSettings,
    snapshot: RwLock<Snapshot>,
    refresh: tokio::sync::Mutex<RefreshState>,
    /// Counts attempts (successful or not), so that tasks that queued behind a fetch know one happened.
    attempts: AtomicU64,
    fetches: AtomicU64,
}

impl std::fmt::Debug for JwksCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwksCache")
            .field("url", &self.url)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Why the verifier asks for keys: the set is consulted as is, or a `kid` was not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    Current,
    Refresh,
}

impl JwksCache {
    pub(crate) fn new(url: &str, settings: JwksSettings) -> Result<Self, AuthError> {
        Self::at(Location::Jwks(parse_url(url)?), settings)
    }

    /// The key set named by the discovery document of the OpenID Connect issuer `issuer`.
    pub(crate) fn discovered(issuer: &str, settings: JwksSettings) -> Result<Self, AuthError> {
        let document = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let document = parse_url(&document)
            .map_err(|e| AuthError::Discovery(format!("the issuer URL is not usable: {e}")))?;
        Self::at(
            Location::Discovery {
                issuer: issuer.to_owned(),
                document,
                jwks: RwLock::new(None),
            },
            settings,
        )
    }

    fn at(url: Location, settings: JwksSettings) -> Result<Self, AuthError> {
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(crate::crypto::rustls_provider())
            .map_err(|e| AuthError::Tls(e.to_string()))?
            .https_or_http()
            .enable_http1()
            .build();
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(Self {
            url,
            client,
            settings,
            snapshot: RwLock::default(),
            refresh: tokio::sync::Mutex::default(),
            attempts: AtomicU64::new(0),
            fetches: AtomicU64::new(0),
        })
    }

    /// How many HTTP fetches were started (for tests and metrics).
    pub(crate) fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    fn current(&self) -> (Arc<[VerificationKey]>, Option<Instant>) {
        match self.snapshot.read() {
            Ok(s) => (s.keys.clone(), s.fetched_at),
            Err(poisoned) => {
                let s = poisoned.into_inner();
                (s.keys.clone(), s.fetched_at)
            }
        }
    }

    /// The key set to search.
    ///
    /// Fetches when there is no set yet, when `need` is [`Need::Refresh`] (a `kid` was not found),
    /// or when the set is older than `max_age`; never more than once per cool-down. Concurrent
    /// callers share one fetch: whoever waited behind it uses its result. A stale but usable set is
    /// refreshed by one caller while the others keep using it. A failed fetch leaves the last good
    /// set in place.
    pub(crate) async fn keys(&self, need: Need) -> Arc<[VerificationKey]> {
        let (keys, fetched_at) = self.current();
        let stale = fetched_at.is_none_or(|at| at.elapsed() >= self.settings.max_age);
        if need == Need::Current && !stale {
            return keys;
        }
        let result = if need == Need::Current && !keys.is_empty() {
            match self.refresh.try_lock() {
                Ok(mut state) => self.refresh_locked(&mut state).await,
                Err(_) => return keys,
            }
        } else {
            let seen = self.attempts.load(Ordering::Acquire);
            let mut state = self.refresh.lock().await;
            if self.attempts.load(Ordering::Acquire) != seen {
                return self.current().0;
            }
            self.refresh_locked(&mut state).await
        };
        match result {
            Ok(_) | Err(AuthError::CoolingDown) => {}
            Err(error) => {
                tracing::warn!(url = %self.url, %error, "JWKS refresh failed; keeping the last good key set");
            }
        }
        self.current().0
    }

    /// Fetches now, unless the previous attempt is more recent than the cool-down.
    pub(crate) async fn refresh(&self) -> Result<usize, AuthError> {
        let mut state = self.refresh.lock().await;
        self.refresh_locked(&mut state).await
    }

    async fn refresh_locked(&self, state: &mut RefreshState) -> Result<usize, AuthError> {
        if state
            .last_attempt
            .is_some_and(|at| at.elapsed() < self.settings.cooldown)
        {
            return Err(AuthError::CoolingDown);
        }
        state.last_attempt = Some(Instant::now());
        let fetched = self.fetch().await;
        // Counted once finished, so that every caller that queued during the fetch sees it.
        self.attempts.fetch_add(1, Ordering::AcqRel);
        let keys = fetched?;
        let count = keys.len();
        tracing::info!(url = %self.url, keys = count, "fetched JWKS");
        let fresh = Snapshot {
            keys: keys.into(),
            fetched_at: Some(Instant::now()),
        };
        match self.snapshot.write() {
            Ok(mut s) => *s = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(count)
    }

    async fn fetch(&self) -> Result<Vec<VerificationKey>, AuthError> {
        let url = self.jwks_url().await?;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let body = self.get(&url).await;
        if let (Err(AuthError::JwksStatus(404)), Location::Discovery { jwks, .. }) =
            (&body, &self.url)
        {
            // The issuer may have moved its keys: read the discovery document again next time.
            *jwks
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
        }
        parse_jwks(&body?)
    }

    /// The JWKS URL: the configured one, or the discovered one (read from the issuer's discovery
    /// document when not known yet).
    async fn jwks_url(&self) -> Result<Uri, AuthError> {
        let (issuer, document, jwks) = match &self.url {
            Location::Jwks(url) => return Ok(url.clone()),
            Location::Discovery {
                issuer,
                document,
                jwks,
            } => (issuer, document, jwks),
        };
        if let Some(url) = jwks
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
        {
            return Ok(url);
        }
        let body = self
            .get(document)
            .await
            .map_err(|e| AuthError::Discovery(format!("cannot read {document}: {e}")))?;
        let parsed: DiscoveryDocument = serde_json::from_slice(&body).map_err(|e| {
            AuthError::Discovery(format!("{document} is not a discovery document: {e}"))
        })?;
        if parsed.issuer != *issuer {
            return Err(AuthError::Discovery(format!(
                "{document} names the issuer {:?}, not {issuer:?}",
                parsed.issuer
            )));
        }
        let url = parse_url(&parsed.jwks_uri)
            .map_err(|e| AuthError::Discovery(format!("its jwks_uri is not usable: {e}")))?;
        tracing::info!(issuer = %issuer, jwks_uri = %url, "discovered the issuer's JWKS");
        *jwks
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(url.clone());
        Ok(url)
    }

    /// GETs `url` as JSON within the size limit and the timeout.
    async fn get(&self, url: &Uri) -> Result<Bytes, AuthError> {
        let request = http::Request::get(url.clone())
            .header(header::ACCEPT, "application/json")
            .header(
                header::USER_AGENT,
                concat!("lamina-middleware/", env!("CARGO_PKG_VERSION")),
            )
            .body(Empty::<Bytes>::new())
            .map_err(|e| AuthError::JwksFetch(e.to_string()))?;
        let max = self.settings.max_bytes;
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| AuthError::JwksFetch(format!("{e:#}")))?;
            if response.status() != http::StatusCode::OK {
                return Err(AuthError::JwksStatus(response.status().as_u16()));
            }
            let declared = response
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            if declared.is_some_and(|len| len > max as u64) {
                return Err(AuthError::JwksTooLarge(max));
            }
            let body = Limited::new(response.into_body(), max)
                .collect()
                .await
                .map_err(|e| {
                    if e.is::<http_body_util::LengthLimitError>() {
                        AuthError::JwksTooLarge(max)
                    } else {
                        AuthError::JwksFetch(e.to_string())
                    }
                })?
                .to_bytes();
            Ok(body)
        };
        tokio::time::timeout(self.settings.timeout, exchange)
            .await
            .map_err(|_| AuthError::JwksTimeout(self.settings.timeout))?
    }
}

/// An absolute `https` URL, or `http` for a loopback host (local tests and emulators).
fn parse_url(url: &str) -> Result<Uri, AuthError> {
    let uri: Uri = url
        .parse()
        .map_err(|e: http::uri::InvalidUri| AuthError::InvalidJwksUrl(e.to_string()))?;
    let host = uri
        .host()
        .ok_or_else(|| AuthError::InvalidJwksUrl("no host".into()))?;
    match uri.scheme_str() {
        Some("https") => Ok(uri),
        Some("http") if matches!(host, "127.0.0.1" | "localhost" | "[::1]" | "::1") => Ok(uri),
        Some("http") => Err(AuthError::InsecureJwksUrl),
        _ => Err(AuthError::InvalidJwksUrl("the scheme must be https".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_must_be_https_or_loopback_http() {
        let cases = [
            ("https://tenant.eu.auth0.com/.well-known/jwks.json", Ok(())),
            ("http://127.0.0.1:8080/jwks.json", Ok(())),
            ("http://localhost/jwks", Ok(())),
            ("http://[::1]:9/jwks", Ok(())),
            (
                "http://tenant.auth0.com/.well-known/jwks.json",
                Err(AuthError::InsecureJwksUrl),
            ),
            (
                "http://127.0.0.1.evil.example/jwks",
                Err(AuthError::InsecureJwksUrl),
            ),
        ];
        for (url, expected) in cases {
            assert_eq!(parse_url(url).map(|_| ()), expected, "{url}");
        }
        for bad in ["ftp://host/jwks", "/relative", "", "https://"] {
            assert!(
                matches!(parse_url(bad), Err(AuthError::InvalidJwksUrl(_))),
                "{bad}"
            );
        }
    }
}
