//! [`RecordStore`] on SSM Parameter Store.

use aws_sdk_ssm::Client;
use aws_sdk_ssm::operation::get_parameter::GetParameterError;
use aws_sdk_ssm::operation::get_parameters_by_path::GetParametersByPathError;
use aws_sdk_ssm::operation::put_parameter::PutParameterError;
use aws_sdk_ssm::types::ParameterType;

use super::{ErrorClass, port_error};
use crate::ports::{BoxFuture, PortError, RecordStore};

/// The parameter path under which every record is kept.
pub const PARAMETER_PREFIX: &str = "/lamina-canary";

/// The largest value a standard-tier parameter holds. Larger records are refused rather than
/// silently moved to the paid advanced tier.
const MAX_VALUE_BYTES: usize = 4096;

/// The parameter that holds the record of `function`'s `alias`:
/// `/lamina-canary/<function>/<alias>`.
///
/// # Errors
/// [`PortError::Rejected`] when `function` is not a plain function name (1 to 64 of
/// `[A-Za-z0-9_-]`; an ARN's colons are not allowed in a parameter name) or `alias` is not a
/// Lambda alias name (1 to 128 of `[A-Za-z0-9_-]`, not all digits).
pub fn parameter_name(function: &str, alias: &str) -> Result<String, PortError> {
    let plain = |s: &str, max: usize| {
        !s.is_empty()
            && s.len() <= max
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    if !plain(function, 64) {
        return Err(PortError::Rejected(format!(
            "{function:?} cannot name a record: give the function's plain name (1 to 64 letters, \
             digits, '-' or '_'), not an ARN"
        )));
    }
    if !plain(alias, 128) || alias.bytes().all(|b| b.is_ascii_digit()) {
        return Err(PortError::Rejected(format!(
            "{alias:?} cannot name a record: an alias name is 1 to 128 letters, digits, '-' or \
             '_', not all digits"
        )));
    }
    Ok(format!("{PARAMETER_PREFIX}/{function}/{alias}"))
}

/// Rollout records as `String` parameters `/lamina-canary/<function>/<alias>` (overwritten by each
/// new rollout), listed with `GetParametersByPath` (recursive, every page).
///
/// Errors: a refused name or a record over 4 KB (the standard tier's limit) is
/// [`PortError::Rejected`] before anything is sent; otherwise as the table in [`crate::aws`] says.
#[derive(Debug, Clone)]
pub struct SsmRecordStore {
    client: Client,
}

impl SsmRecordStore {
    /// A record store on `client`.
    #[must_use]
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    async fn put(&self, function: &str, alias: &str, document: &str) -> Result<(), PortError> {
        let name = parameter_name(function, alias)?;
        if document.len() > MAX_VALUE_BYTES {
            return Err(PortError::Rejected(format!(
                "the record of {function}:{alias} has {} bytes; a standard SSM parameter holds at \
                 most {MAX_VALUE_BYTES}",
                document.len()
            )));
        }
        self.client
            .put_parameter()
            .name(&name)
            .value(document)
            .r#type(ParameterType::String)
            .overwrite(true)
            .send()
            .await
            .map_err(|error| {
                let typed = error.as_service_error().and_then(|e| match e {
                    PutParameterError::TooManyUpdates(_)
                    | PutParameterError::InternalServerError(_) => Some(ErrorClass::Unavailable),
                    _ => None,
                });
                port_error(&format!("PutParameter {name}"), &error, typed)
            })?;
        Ok(())
    }

    async fn get(&self, function: &str, alias: &str) -> Result<Option<String>, PortError> {
        let name = parameter_name(function, alias)?;
        match self.client.get_parameter().name(&name).send().await {
            Ok(output) => output
                .parameter()
                .and_then(|parameter| parameter.value())
                .map(|value| Some(value.to_owned()))
                .ok_or_else(|| {
                    PortError::Unavailable(format!("GetParameter {name}: the answer has no value"))
                }),
            Err(error) => {
                let typed = error.as_service_error().and_then(|e| match e {
                    GetParameterError::ParameterNotFound(_) => Some(ErrorClass::NotFound),
                    GetParameterError::InternalServerError(_) => Some(ErrorClass::Unavailable),
                    _ => None,
                });
                match port_error(&format!("GetParameter {name}"), &error, typed) {
                    PortError::NotFound(_) => Ok(None),
                    other => Err(other),
                }
            }
        }
    }

    async fn list(&self) -> Result<Vec<(String, String)>, PortError> {
        let mut records = Vec::new();
        let mut next_token = None;
        loop {
            let output = self
                .client
                .get_parameters_by_path()
                .path(PARAMETER_PREFIX)
                .recursive(true)
                .set_next_token(next_token.take())
                .send()
                .await
                .map_err(|error| {
                    let typed = error.as_service_error().and_then(|e| match e {
                        GetParametersByPathError::InternalServerError(_) => {
                            Some(ErrorClass::Unavailable)
                        }
                        _ => None,
                    });
                    port_error(
                        &format!("GetParametersByPath {PARAMETER_PREFIX}"),
                        &error,
                        typed,
                    )
                })?;
            records.extend(
                output
                    .parameters()
                    .iter()
                    .filter_map(|parameter| record_key(parameter.name()?)),
            );
            match output.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => break,
            }
        }
        records.sort();
        Ok(records)
    }
}

/// The function and alias of a record's parameter name; `None` for other parameters under the
/// prefix (deeper or shallower paths), which are not Lamina's.
fn record_key(name: &str) -> Option<(String, String)> {
    let rest = name.strip_prefix(PARAMETER_PREFIX)?.strip_prefix('/')?;
    let (function, alias) = rest.split_once('/')?;
    let key = (function.to_owned(), alias.to_owned());
    (parameter_name(function, alias).ok()? == name).then_some(key)
}

impl RecordStore for SsmRecordStore {
    fn put_record<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        document: &'a str,
    ) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(self.put(function, alias, document))
    }

    fn get_record<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, PortError>> {
        Box::pin(self.get(function, alias))
    }

    fn list_records(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, PortError>> {
        Box::pin(self.list())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let table = [
            ("orders", "live", Some("/lamina-canary/orders/live")),
            (
                "my_fn-2",
                "blue-green_1",
                Some("/lamina-canary/my_fn-2/blue-green_1"),
            ),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:orders",
                "live",
                None,
            ),
            ("orders", "7", None),
            ("orders", "", None),
            ("", "live", None),
            ("orders/x", "live", None),
            ("orders", "li.ve", None),
        ];
        for (function, alias, expected) in table {
            assert_eq!(
                parameter_name(function, alias).ok().as_deref(),
                expected,
                "{function} {alias}"
            );
        }
    }

    #[test]
    fn keys() {
        assert_eq!(
            record_key("/lamina-canary/orders/live"),
            Some(("orders".to_owned(), "live".to_owned()))
        );
        assert_eq!(record_key("/lamina-canary/orders"), None);
        assert_eq!(record_key("/lamina-canary/orders/live/extra"), None);
        assert_eq!(record_key("/other/orders/live"), None);
    }
}
