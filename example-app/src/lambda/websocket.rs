//! `ws-connect`, `ws-disconnect` and `authorizer`: the WebSocket API's routes.
//!
//! `$connect` and `$disconnect` run [`Realtime::connect`] / [`Realtime::disconnect`] with the
//! `connectionId` of the request context and answer `{"statusCode": 200}`; a missing or
//! malformed id answers 400 and stores nothing; a store failure fails the invocation (API
//! Gateway then refuses the connection with a 500).
//!
//! `$connect` records the token's `exp` with the connection, from the authorizer's context
//! (lamina-middleware's [`Authorizer`] passes the claims on; API Gateway hands them to the
//! integration in `requestContext.authorizer`, as numbers or as strings). The upload processor
//! sends no notice to a connection past it: it tells it `{"type":"tokenExpired"}` and closes it
//! with `DeleteConnection` (see [`crate::events`]), and the client reconnects with a fresh token.
//!
//! The `authorizer` is a REQUEST authorizer on `$connect`: browsers cannot set headers on a
//! WebSocket handshake, so the token comes from the `token` query string parameter, or else the
//! `Authorization` header (other clients). The decision is lamina-middleware's
//! [`Authorizer`]: an Allow policy for a valid token, the `Unauthorized` error (API Gateway
//! answers 401) for a missing or invalid one.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayProxyResponse,
    ApiGatewayWebsocketProxyRequest,
};
use aws_lambda_events::encodings::Body;
use lambda_runtime::Diagnostic;
use lamina_middleware::auth::{
    Authorizer, AuthorizerError, AuthorizerResponse, VerifyError, bearer_token,
};
use tracing::Instrument as _;

use crate::app::AppError;
use crate::lambda::record_metric;
use crate::realtime::Realtime;

/// The metric counting accepted `$connect`s.
pub const CONNECTIONS_OPENED_METRIC: &str = "ConnectionsOpened";
/// The metric counting `$disconnect`s.
pub const CONNECTIONS_CLOSED_METRIC: &str = "ConnectionsClosed";
/// The metric counting Allow policies.
pub const AUTHORIZER_ALLOWED_METRIC: &str = "AuthorizerAllowed";
/// The metric counting refusals (`Unauthorized` or a Deny policy).
pub const AUTHORIZER_REFUSED_METRIC: &str = "AuthorizerRefused";

/// The query string parameter a browser passes its token in.
pub const TOKEN_PARAMETER: &str = "token";

/// Why a `$connect`/`$disconnect` invocation failed (a bad id is a 400 answer, not an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WebSocketError {
    /// The connections table failed.
    #[error("the connections store failed: {0}")]
    Unavailable(AppError),
}

impl From<WebSocketError> for Diagnostic {
    fn from(error: WebSocketError) -> Self {
        Diagnostic {
            error_type: "WebSocketError.Unavailable".to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// Which route an event came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Connect,
    Disconnect,
}

/// Handles `$connect`: records the connection.
///
/// # Errors
/// [`WebSocketError::Unavailable`] when the store fails.
pub async fn handle_connect(
    realtime: &Realtime,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, WebSocketError> {
    handle(realtime, event, Route::Connect).await
}

/// Handles `$disconnect`: forgets the connection.
///
/// # Errors
/// [`WebSocketError::Unavailable`] when the store fails.
pub async fn handle_disconnect(
    realtime: &Realtime,
    event: ApiGatewayWebsocketProxyRequest,
) -> Result<ApiGatewayProxyResponse, WebSocketError> {
    handle(realtime, event, Route::Disconnect).await
}

async fn handle(
    realtime: &Realtime,
    event: ApiGatewayWebsocketProxyRequest,
    route: Route,
) -> Result<ApiGatewayProxyResponse, WebSocketError> {
    let id = event
        .request_context
        .connection_id
        .clone()
        .unwrap_or_default();
    let span = tracing::info_span!("websocket", route = ?route, connection_id = id.as_str());
    let result = async {
        match route {
            Route::Connect => realtime.connect(&id, token_expiry(&event)).await.map(drop),
            Route::Disconnect => realtime.disconnect(&id).await,
        }
    }
    .instrument(span)
    .await;
    match result {
        Ok(()) => {
            let metric = match route {
                Route::Connect => CONNECTIONS_OPENED_METRIC,
                Route::Disconnect => CONNECTIONS_CLOSED_METRIC,
            };
            record_metric(metric, 1);
            Ok(answer(200, None))
        }
        Err(AppError::Invalid(reason)) => {
            tracing::warn!(?route, %reason, "refused a malformed connection id");
            Ok(answer(400, Some(reason)))
        }
        Err(error) => {
            tracing::error!(?route, %error, "the connections store failed");
            Err(WebSocketError::Unavailable(error))
        }
    }
}

/// The `exp` of the token the authorizer allowed, from its context; `None` (logged) when the
/// context has none, as when `$connect` is wired without the authorizer.
fn token_expiry(event: &ApiGatewayWebsocketProxyRequest) -> Option<u64> {
    let exp = match event.request_context.authorizer.fields.get("exp") {
        Some(serde_json::Value::Number(exp)) => exp.as_u64(),
        Some(serde_json::Value::String(exp)) => exp.parse().ok(),
        _ => None,
    };
    if exp.is_none() {
        tracing::warn!("no token expiry in the authorizer's context; the connection never expires");
    }
    exp
}

fn answer(status: i64, message: Option<String>) -> ApiGatewayProxyResponse {
    let mut response = ApiGatewayProxyResponse::default();
    response.status_code = status;
    response.body = message.map(|m| Body::Text(serde_json::json!({ "message": m }).to_string()));
    response
}

/// Handles the `$connect` REQUEST authorizer event: the token from `?token=` or the
/// `Authorization` header, decided by `authorizer`.
///
/// # Errors
/// [`AuthorizerError::Unauthorized`] for a missing or invalid token (API Gateway: 401),
/// [`AuthorizerError::MalformedMethodArn`], [`AuthorizerError::KeysUnavailable`].
pub async fn handle_authorizer(
    authorizer: &Authorizer,
    event: ApiGatewayCustomAuthorizerRequestTypeRequest,
) -> Result<AuthorizerResponse, AuthorizerError> {
    let from_query = event
        .query_string_parameters
        .first(TOKEN_PARAMETER)
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let token = match from_query {
        Some(token) => Ok(token.strip_prefix("Bearer ").unwrap_or(token)),
        None => match bearer_token(&event.headers) {
            Err(VerifyError::Missing) => bearer_token(&event.multi_value_headers),
            other => other,
        },
    };
    let decision = authorizer
        .authorize(token, event.method_arn.as_deref())
        .await;
    let allowed = decision.as_ref().is_ok_and(|response| {
        response
            .policy_document
            .statement
            .iter()
            .all(|s| s.effect == aws_lambda_events::iam::IamPolicyEffect::Allow)
    });
    record_metric(
        if allowed {
            AUTHORIZER_ALLOWED_METRIC
        } else {
            AUTHORIZER_REFUSED_METRIC
        },
        1,
    );
    decision
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
#[path = "websocket_tests.rs"]
mod tests;
