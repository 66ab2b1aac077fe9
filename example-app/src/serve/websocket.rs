//! `/ws`: the WebSocket API of `udagram serve`, on lamina-middleware's local WebSocket route.
//!
//! The same contract as the API Gateway WebSocket API on AWS: `$connect` needs a valid token (the
//! `authorizer` function there, the API's own [`JwtVerifier`] here) and records the connection
//! with [`Realtime::connect`]; `$disconnect` forgets it. Browsers cannot set headers on a
//! WebSocket, so the token travels in the `token` query parameter; an `Authorization: Bearer`
//! header is accepted too, as the authorizer does. Clients never send anything useful: messages
//! from them are ignored, as the deployed API has no `$default` route.
//!
//! A connection lives as long as its token: at the token's `exp` the server sends
//! `{"type":"tokenExpired"}`, then closes the socket with code 1000 (normal closure, reason
//! `closed by the server`) and forgets the connection. A client reconnects with a fresh token.
//! On AWS the upload processor does the same, at the first notice after `exp`
//! ([`crate::events`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::WWW_AUTHENTICATE;
use http::request::Parts;
use http::{HeaderValue, Response, StatusCode};
use lambda_http::Body;
use lamina_middleware::auth::{JwtVerifier, VerifyError, bearer_token};
use lamina_middleware::errors::{ApiError, Problem};
use lamina_middleware::init::{WebSocketFuture, WebSocketHandler};
use tokio::task::AbortHandle;

use crate::domain::Connection;
use crate::embedded::LocalHub;
use crate::events::close_expired;
use crate::ports::ConnectionStore;
use crate::realtime::Realtime;

/// The path of the WebSocket endpoint.
pub const WEBSOCKET_PATH: &str = "/ws";

/// The `$connect` and `$disconnect` routes of `udagram serve`.
#[derive(Debug, Clone)]
pub(crate) struct RealtimeRoutes {
    realtime: Realtime,
    verifier: JwtVerifier,
    expiry: Expiry,
}

impl RealtimeRoutes {
    /// The routes over `realtime`; at a token's expiry its connection is closed through `hub`
    /// and forgotten in `connections`.
    pub(crate) fn new(
        realtime: Realtime,
        verifier: JwtVerifier,
        hub: LocalHub,
        connections: Arc<dyn ConnectionStore>,
    ) -> Self {
        Self {
            realtime,
            verifier,
            expiry: Expiry {
                hub,
                connections,
                timers: Arc::default(),
            },
        }
    }
}

/// Closes connections when their token expires: one timer per open connection.
#[derive(Debug, Clone)]
struct Expiry {
    hub: LocalHub,
    connections: Arc<dyn ConnectionStore>,
    timers: Arc<Mutex<HashMap<String, AbortHandle>>>,
}

impl Expiry {
    /// Closes `connection` at its `expires_at`.
    fn schedule(&self, connection: Connection) {
        let Some(exp) = connection.expires_at else {
            return;
        };
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let wait = Duration::from_secs(exp).saturating_sub(now);
        let this = self.clone();
        let id = connection.id.clone();
        let mut timers = self.lock();
        let timer = tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            // Off the list first: the `$disconnect` the close causes must not abort this task.
            this.lock().remove(&connection.id);
            let closed = close_expired(&this.hub, this.connections.as_ref(), &connection).await;
            if let Err(error) = closed {
                tracing::error!(connection_id = %connection.id, %error, "cannot close a connection whose token expired");
            }
        });
        timers.insert(id, timer.abort_handle());
    }

    /// Stops the timer of a connection that closed before its token expired.
    fn cancel(&self, connection_id: &str) {
        if let Some(timer) = self.lock().remove(connection_id) {
            timer.abort();
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, AbortHandle>> {
        // Every change is one insert or remove: the map is valid after a panic elsewhere.
        self.timers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl WebSocketHandler for RealtimeRoutes {
    fn on_connect<'a>(
        &'a self,
        connection_id: &'a str,
        request: &'a Parts,
    ) -> WebSocketFuture<'a, Result<(), Response<Body>>> {
        Box::pin(async move {
            let verified = match connect_token(request) {
                Ok(token) => self.verifier.verify(token).await,
                Err(reason) => Err(reason),
            };
            let claims = match verified {
                Ok(claims) => claims,
                Err(VerifyError::KeysUnavailable) => {
                    tracing::warn!("no verification keys available; WebSocket connect refused");
                    return Err(unavailable());
                }
                Err(reason) => {
                    tracing::info!(%reason, "WebSocket connect refused");
                    return Err(unauthorized(&reason));
                }
            };
            match self
                .realtime
                .connect(connection_id, claims.expires_at())
                .await
            {
                Ok(connection) => {
                    tracing::info!(
                        connection_id,
                        user = claims.subject().unwrap_or_default(),
                        "WebSocket connected"
                    );
                    self.expiry.schedule(connection);
                    Ok(())
                }
                Err(error) => {
                    tracing::error!(connection_id, %error, "cannot record a WebSocket connection");
                    Err(unavailable())
                }
            }
        })
    }

    fn on_disconnect<'a>(&'a self, connection_id: &'a str) -> WebSocketFuture<'a, ()> {
        Box::pin(async move {
            self.expiry.cancel(connection_id);
            match self.realtime.disconnect(connection_id).await {
                Ok(()) => tracing::info!(connection_id, "WebSocket disconnected"),
                // The row stays; the next notice to it answers Gone and removes it.
                Err(error) => {
                    tracing::error!(connection_id, %error, "cannot forget a WebSocket connection");
                }
            }
        })
    }
}

/// The token of a `$connect`: the one `token` query parameter, else the bearer token. JWTs are
/// base64url and dots, which no client percent-encodes, so the raw value is the token (an
/// encoded one simply fails verification).
fn connect_token(request: &Parts) -> Result<&str, VerifyError> {
    let mut tokens = request
        .uri
        .query()
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.strip_prefix("token="));
    match (tokens.next(), tokens.next()) {
        (Some(token), None) if !token.is_empty() => Ok(token),
        (Some(_), _) => Err(VerifyError::Malformed),
        (None, _) => bearer_token(&request.headers),
    }
}

/// 401 problem+json, with the `WWW-Authenticate` challenge the REST API sends.
fn unauthorized(reason: &VerifyError) -> Response<Body> {
    let challenge = match reason.oauth_error() {
        Some(error) => format!(r#"Bearer realm="udagram", error="{error}""#),
        None => r#"Bearer realm="udagram""#.to_owned(),
    };
    let problem = Problem::new(StatusCode::UNAUTHORIZED)
        .with_detail("A valid token is required in the `token` query parameter.");
    let mut error = ApiError::from_problem(problem);
    if let Ok(challenge) = HeaderValue::from_str(&challenge) {
        error = error.with_header(WWW_AUTHENTICATE, challenge);
    }
    error.to_response()
}

/// 503 problem+json: the keys or the store are unavailable, not the client's fault.
fn unavailable() -> Response<Body> {
    let problem = Problem::new(StatusCode::SERVICE_UNAVAILABLE)
        .with_detail("The service cannot accept connections right now; try again.");
    ApiError::from_problem(problem).to_response()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn parts(uri: &str, authorization: Option<&str>) -> Parts {
        let mut request = http::Request::builder().uri(uri);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        request.body(()).unwrap().into_parts().0
    }

    #[test]
    fn the_token_comes_from_the_query_else_the_header() {
        let cases: [(&str, Option<&str>, Result<&str, VerifyError>); 8] = [
            ("/ws?token=a.b.c", None, Ok("a.b.c")),
            ("/ws?x=1&token=a.b.c&y=2", Some("Bearer h.h.h"), Ok("a.b.c")),
            ("/ws", Some("Bearer h.h.h"), Ok("h.h.h")),
            ("/ws", None, Err(VerifyError::Missing)),
            ("/ws?tokens=a.b.c", None, Err(VerifyError::Missing)),
            ("/ws?token=", None, Err(VerifyError::Malformed)),
            (
                "/ws?token=a.b.c&token=d.e.f",
                None,
                Err(VerifyError::Malformed),
            ),
            ("/ws", Some("Basic dXNlcjpwdw=="), Err(VerifyError::Missing)),
        ];
        for (uri, authorization, expected) in cases {
            assert_eq!(connect_token(&parts(uri, authorization)), expected, "{uri}");
        }
    }

    proptest::proptest! {
        #[test]
        fn any_query_yields_at_most_the_one_token_it_carries(query in "[a-z=&%.+_-]{0,40}") {
            let uri = format!("/ws?{query}");
            let Ok(request) = http::Request::builder().uri(uri.as_str()).body(()) else {
                return Ok(());
            };
            if let Ok(token) = connect_token(&request.into_parts().0) {
                let pairs: Vec<_> = query.split('&').filter(|pair| pair.starts_with("token=")).collect();
                proptest::prop_assert_eq!(pairs, vec![format!("token={token}")]);
                proptest::prop_assert!(!token.is_empty());
            }
        }
    }

    #[test]
    fn refusals_are_problems_with_a_challenge() {
        let refusal = unauthorized(&VerifyError::Expired);
        assert_eq!(refusal.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            refusal.headers()["content-type"],
            "application/problem+json"
        );
        assert_eq!(
            refusal.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="udagram", error="invalid_token""#
        );
        let body: serde_json::Value = serde_json::from_slice(refusal.body().as_ref()).unwrap();
        assert_eq!(body["status"], 401);
        let missing = unauthorized(&VerifyError::Missing);
        assert_eq!(
            missing.headers()[WWW_AUTHENTICATE],
            r#"Bearer realm="udagram""#
        );
        assert_eq!(unavailable().status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
