//! [`Notifier`] on the API Gateway Management API: `PostToConnection` for each message.
//!
//! The client's endpoint is the WebSocket stage's URL (`WEBSOCKET_ENDPOINT`,
//! `https://{api-id}.execute-api.{region}.amazonaws.com/{stage}`), set by the caller. A
//! connection that is gone answers 410 `GoneException`, which becomes [`PortError::Gone`] so
//! that the caller forgets the connection. [`Notifier::close`] is `DeleteConnection` (the
//! function needs `execute-api:ManageConnections` on `DELETE/@connections/*` for it).

use aws_sdk_apigatewaymanagement::error::SdkError;
use aws_sdk_apigatewaymanagement::operation::delete_connection::DeleteConnectionError;
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::{Client, primitives::Blob};
use aws_smithy_runtime_api::http::Response as HttpResponse;

use super::error::unavailable;
use crate::ports::{BoxFuture, Notifier, PortError};

/// The API Gateway Management API adapter for WebSocket messages. Clones share the client.
#[derive(Debug, Clone)]
pub struct ApiGatewayNotifier {
    client: Client,
}

impl ApiGatewayNotifier {
    /// Posts through `client` (whose endpoint is the WebSocket stage's URL).
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

impl Notifier for ApiGatewayNotifier {
    fn send<'a>(
        &'a self,
        connection_id: &'a str,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            let result = self
                .client
                .post_to_connection()
                .connection_id(connection_id)
                .data(Blob::new(payload))
                .send()
                .await;
            match result {
                Ok(_) => Ok(()),
                Err(error) if is_gone(&error, PostToConnectionError::is_gone_exception) => {
                    Err(PortError::Gone(connection_id.to_owned()))
                }
                Err(error) => Err(unavailable("PostToConnection", &error)),
            }
        })
    }

    /// `DeleteConnection`; a connection that is already gone (410) is fine.
    fn close<'a>(&'a self, connection_id: &'a str) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            let result = self
                .client
                .delete_connection()
                .connection_id(connection_id)
                .send()
                .await;
            match result {
                Ok(_) => Ok(()),
                Err(error) if is_gone(&error, DeleteConnectionError::is_gone_exception) => Ok(()),
                Err(error) => Err(unavailable("DeleteConnection", &error)),
            }
        })
    }
}

/// Whether the connection is gone: the service's `GoneException`, or a bare 410 (which some
/// endpoints answer without the modeled error).
fn is_gone<E>(error: &SdkError<E, HttpResponse>, gone_exception: impl FnOnce(&E) -> bool) -> bool {
    error.as_service_error().is_some_and(gone_exception)
        || error
            .raw_response()
            .is_some_and(|r| r.status().as_u16() == 410)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests;
