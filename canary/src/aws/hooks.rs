//! [`HookInvoker`] on Lambda's `Invoke`.

use aws_sdk_lambda::Client;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;

use super::port_error;
use crate::ports::{BoxFuture, HookInvoker, HookResponse, PortError};

/// Invokes hook functions with `Invoke` (`RequestResponse`).
///
/// A `FunctionError` in the answer is not an error here: it is part of the [`HookResponse`] the
/// controller judges. Errors are the cases where the function did not run: a missing function
/// ([`PortError::NotFound`]), a refused request ([`PortError::Rejected`]), throttling, a
/// service failure or a network failure ([`PortError::Unavailable`]).
#[derive(Debug, Clone)]
pub struct LambdaHookInvoker {
    client: Client,
}

impl LambdaHookInvoker {
    /// A hook invoker on `client`.
    #[must_use]
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    async fn invoke_inner(
        &self,
        function: &str,
        payload: &[u8],
    ) -> Result<HookResponse, PortError> {
        let what = format!("Invoke {function}");
        let output = self
            .client
            .invoke()
            .function_name(function)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|error| port_error(&what, &error, None))?;
        let status_code = u16::try_from(output.status_code()).map_err(|_| {
            PortError::Unavailable(format!(
                "{what}: status code {} is out of range",
                output.status_code()
            ))
        })?;
        Ok(HookResponse {
            status_code,
            function_error: output.function_error().map(str::to_owned),
            payload: output
                .payload()
                .map(|blob| blob.as_ref().to_vec())
                .unwrap_or_default(),
        })
    }
}

impl HookInvoker for LambdaHookInvoker {
    fn invoke<'a>(
        &'a self,
        function: &'a str,
        payload: &'a [u8],
    ) -> BoxFuture<'a, Result<HookResponse, PortError>> {
        Box::pin(self.invoke_inner(function, payload))
    }
}
