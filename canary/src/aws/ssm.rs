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

/// The parameter path under which the records of `function`'s `alias` are kept:
/// `/lamina-canary/<function>/<alias>`; each rollout's record is `<path>/<id>`.
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

/// The parameter that holds the record of rollout `id` on `function`'s `alias`:
/// `/lamina-canary/<function>/<alias>/<id>`.
///
/// # Errors
/// As [`parameter_name`], and [`PortError::Rejected`] when `id` is not a rollout id.
pub fn record_parameter_name(function: &str, alias: &str, id: &str) -> Result<String, PortError> {
    let path = parameter_name(function, alias)?;
    if !crate::state::is_rollout_id(id) {
        return Err(PortError::Rejected(format!(
            "{id:?} is not a rollout id (12 lowercase hex digits)"
        )));
    }
    Ok(format!("{path}/{id}"))
}

/// The parameter that holds how rollout `id` on `function`'s `alias` ended:
/// `/lamina-canary/<function>/<alias>/<id>/outcome`, one level below the records, so that
/// listing an alias's records does not return it.
///
/// # Errors
/// As [`record_parameter_name`].
pub fn outcome_parameter_name(function: &str, alias: &str, id: &str) -> Result<String, PortError> {
    Ok(format!(
        "{}/outcome",
        record_parameter_name(function, alias, id)?
    ))
}

/// Rollout records as `String` parameters `/lamina-canary/<function>/<alias>/<id>`, created with
/// `Overwrite=false` (so a record is never replaced) and listed with `GetParametersByPath`
/// (every page).
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

    async fn put(&self, name: String, document: &str) -> Result<(), PortError> {
        if document.len() > MAX_VALUE_BYTES {
            return Err(PortError::Rejected(format!(
                "{name} would have {} bytes; a standard SSM parameter holds at most \
                 {MAX_VALUE_BYTES}",
                document.len()
            )));
        }
        self.client
            .put_parameter()
            .name(&name)
            .value(document)
            .r#type(ParameterType::String)
            .overwrite(false)
            .send()
            .await
            .map_err(|error| {
                let typed = error.as_service_error().and_then(|e| match e {
                    PutParameterError::ParameterAlreadyExists(_) => Some(ErrorClass::Conflict),
                    PutParameterError::TooManyUpdates(_)
                    | PutParameterError::InternalServerError(_) => Some(ErrorClass::Unavailable),
                    _ => None,
                });
                port_error(&format!("PutParameter {name}"), &error, typed)
            })?;
        Ok(())
    }

    async fn get(&self, name: String) -> Result<Option<String>, PortError> {
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

    /// Every parameter under `path` (recursively or not), as name and value, every page.
    async fn by_path(
        &self,
        path: &str,
        recursive: bool,
    ) -> Result<Vec<(String, String)>, PortError> {
        let mut parameters = Vec::new();
        let mut next_token = None;
        loop {
            let output = self
                .client
                .get_parameters_by_path()
                .path(path)
                .recursive(recursive)
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
                    port_error(&format!("GetParametersByPath {path}"), &error, typed)
                })?;
            parameters.extend(output.parameters().iter().filter_map(|parameter| {
                Some((
                    parameter.name()?.to_owned(),
                    parameter.value().unwrap_or_default().to_owned(),
                ))
            }));
            match output.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => break,
            }
        }
        Ok(parameters)
    }

    async fn history_of(
        &self,
        function: &str,
        alias: &str,
    ) -> Result<Vec<(String, String)>, PortError> {
        let path = parameter_name(function, alias)?;
        Ok(self
            .by_path(&path, false)
            .await?
            .into_iter()
            .filter_map(|(name, value)| {
                let (f, a, id) = record_key(&name)?;
                (f == function && a == alias).then_some((id, value))
            })
            .collect())
    }

    async fn delete(&self, function: &str, alias: &str) -> Result<(), PortError> {
        let names: Vec<String> = self
            .history_of(function, alias)
            .await?
            .into_iter()
            .flat_map(|(id, _)| {
                // DeleteParameters skips names that do not exist: a rollout still running has no
                // outcome yet.
                [
                    record_parameter_name(function, alias, &id).ok(),
                    outcome_parameter_name(function, alias, &id).ok(),
                ]
            })
            .flatten()
            .collect();
        // `DeleteParameters` takes at most 10 names a call.
        for chunk in names.chunks(10) {
            self.client
                .delete_parameters()
                .set_names(Some(chunk.to_vec()))
                .send()
                .await
                .map_err(|error| {
                    port_error(
                        &format!("DeleteParameters {}", chunk.join(" ")),
                        &error,
                        None,
                    )
                })?;
        }
        Ok(())
    }

    async fn list(&self) -> Result<Vec<(String, String)>, PortError> {
        let mut records: Vec<(String, String)> = self
            .by_path(PARAMETER_PREFIX, true)
            .await?
            .into_iter()
            .filter_map(|(name, _)| {
                let (function, alias, _) = record_key(&name)?;
                Some((function, alias))
            })
            .collect();
        records.sort();
        records.dedup();
        Ok(records)
    }
}

/// The function, alias and rollout id of a record's parameter name; `None` for other parameters
/// under the prefix (deeper or shallower paths), which are not records.
fn record_key(name: &str) -> Option<(String, String, String)> {
    let rest = name.strip_prefix(PARAMETER_PREFIX)?.strip_prefix('/')?;
    let mut parts = rest.split('/');
    let (function, alias, id) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    (record_parameter_name(function, alias, id).ok()? == name)
        .then(|| (function.to_owned(), alias.to_owned(), id.to_owned()))
}

impl RecordStore for SsmRecordStore {
    fn create_record<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        id: &'a str,
        document: &'a str,
    ) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            self.put(record_parameter_name(function, alias, id)?, document)
                .await
        })
    }

    fn get_record<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, PortError>> {
        Box::pin(async move { self.get(record_parameter_name(function, alias, id)?).await })
    }

    fn create_outcome<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        id: &'a str,
        document: &'a str,
    ) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move {
            self.put(outcome_parameter_name(function, alias, id)?, document)
                .await
        })
    }

    fn get_outcome<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        id: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, PortError>> {
        Box::pin(async move { self.get(outcome_parameter_name(function, alias, id)?).await })
    }

    fn history<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, String)>, PortError>> {
        Box::pin(self.history_of(function, alias))
    }

    fn list_records(&self) -> BoxFuture<'_, Result<Vec<(String, String)>, PortError>> {
        Box::pin(self.list())
    }

    fn delete_records<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
    ) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(self.delete(function, alias))
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
        let key = |f: &str, a: &str, id: &str| Some((f.to_owned(), a.to_owned(), id.to_owned()));
        assert_eq!(
            record_key("/lamina-canary/orders/live/0123456789ab"),
            key("orders", "live", "0123456789ab")
        );
        assert_eq!(record_key("/lamina-canary/orders/live"), None);
        assert_eq!(record_key("/lamina-canary/orders"), None);
        assert_eq!(
            record_key("/lamina-canary/orders/live/0123456789ab/x"),
            None
        );
        assert_eq!(record_key("/lamina-canary/orders/live/NOT-AN-ID"), None);
        assert_eq!(record_key("/other/orders/live/0123456789ab"), None);
    }
}
