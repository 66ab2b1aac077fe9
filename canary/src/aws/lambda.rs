//! [`AliasStore`] on the Lambda API.

use std::collections::HashMap;

use aws_sdk_lambda::Client;
use aws_sdk_lambda::types::AliasRoutingConfiguration;

use super::port_error;
use crate::ports::{
    AliasState, AliasStore, AliasUpdate, BoxFuture, PortError, VersionWeight, validate_alias_update,
};

/// Lambda aliases and versions through `GetAlias`, `UpdateAlias` (with `RoutingConfig` and
/// `RevisionId`), `GetFunction` and `PublishVersion`.
///
/// A function is given as its name (`orders`), a partial ARN (`123456789012:function:orders`) or
/// a full ARN (`arn:aws:lambda:us-east-1:123456789012:function:orders`), without a qualifier: the
/// alias and the version are separate arguments. Anything else is [`PortError::Rejected`] before
/// a request is sent.
#[derive(Debug, Clone)]
pub struct LambdaAliasStore {
    client: Client,
}

impl LambdaAliasStore {
    /// An alias store on `client`.
    #[must_use]
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    async fn get_alias_inner(&self, function: &str, alias: &str) -> Result<AliasState, PortError> {
        let name = unqualified_function_name(function)?;
        check_alias_name(alias)?;
        let what = format!("GetAlias {name}:{alias}");
        let output = match self
            .client
            .get_alias()
            .function_name(function)
            .name(alias)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                return Err(self
                    .explain_not_found(function, Some(alias), port_error(&what, &error, None))
                    .await);
            }
        };
        alias_state(
            &what,
            output.function_version(),
            output.routing_config(),
            output.description(),
            output.revision_id(),
        )
    }

    async fn update_alias_inner(
        &self,
        function: &str,
        alias: &str,
        update: &AliasUpdate,
        expected_revision: &str,
    ) -> Result<AliasState, PortError> {
        let name = unqualified_function_name(function)?;
        check_alias_name(alias)?;
        validate_alias_update(update)?;
        // Lambda keeps the current routing when `RoutingConfig` is left out: clearing it takes an
        // empty map.
        let weights: HashMap<String, f64> = update
            .routing
            .iter()
            .map(|routing| (routing.version.clone(), routing.weight))
            .collect();
        let what = format!("UpdateAlias {name}:{alias}");
        let output = match self
            .client
            .update_alias()
            .function_name(function)
            .name(alias)
            .function_version(&update.function_version)
            .description(&update.description)
            .routing_config(
                AliasRoutingConfiguration::builder()
                    .set_additional_version_weights(Some(weights))
                    .build(),
            )
            .revision_id(expected_revision)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                return Err(self
                    .explain_not_found(function, Some(alias), port_error(&what, &error, None))
                    .await);
            }
        };
        alias_state(
            &what,
            output.function_version(),
            output.routing_config(),
            output.description(),
            output.revision_id(),
        )
    }

    async fn version_exists_inner(&self, function: &str, version: &str) -> Result<bool, PortError> {
        let name = unqualified_function_name(function)?;
        // `GetFunction` also resolves an alias given as the qualifier: only version numbers and
        // `$LATEST` can name a version.
        let is_version = version == "$LATEST"
            || (!version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()));
        if !is_version {
            return Ok(false);
        }
        let what = format!("GetFunction {name}:{version}");
        match self
            .client
            .get_function()
            .function_name(function)
            .qualifier(version)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error) => match port_error(&what, &error, None) {
                // The same error says "function not found" for a missing version and a missing
                // function: ask about the function alone to tell them apart.
                PortError::NotFound(_) => {
                    self.function_exists(function).await?;
                    Ok(false)
                }
                other => Err(other),
            },
        }
    }

    /// `Ok` when the function exists, [`PortError::NotFound`] naming it when it does not.
    async fn function_exists(&self, function: &str) -> Result<(), PortError> {
        let what = format!("GetFunction {function}");
        match self
            .client
            .get_function()
            .function_name(function)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) => match port_error(&what, &error, None) {
                PortError::NotFound(detail) => Err(PortError::NotFound(format!(
                    "function {function} does not exist ({detail})"
                ))),
                other => Err(other),
            },
        }
    }

    /// Turns a `ResourceNotFoundException` into a message that says what is missing: the
    /// function, the alias, or (on `UpdateAlias`) the version the alias would point at.
    async fn explain_not_found(
        &self,
        function: &str,
        alias: Option<&str>,
        error: PortError,
    ) -> PortError {
        let PortError::NotFound(detail) = error else {
            return error;
        };
        let name = unqualified_function_name(function).unwrap_or(function);
        match missing_resource(&detail, name) {
            Some(Missing::Alias) => PortError::NotFound(format!(
                "alias {} of function {name} does not exist ({detail})",
                alias.unwrap_or("?")
            )),
            Some(Missing::Function) => {
                PortError::NotFound(format!("function {name} does not exist ({detail})"))
            }
            Some(Missing::Qualified(qualifier)) if alias != Some(qualifier.as_str()) => {
                PortError::NotFound(format!(
                    "version {qualifier} of function {name} does not exist ({detail})"
                ))
            }
            _ => match self.function_exists(function).await {
                Ok(()) => PortError::NotFound(format!(
                    "alias {} of function {name} does not exist ({detail})",
                    alias.unwrap_or("?")
                )),
                Err(error) => error,
            },
        }
    }

    async fn publish_version_inner(&self, function: &str) -> Result<String, PortError> {
        let name = unqualified_function_name(function)?;
        let what = format!("PublishVersion {name}");
        let output = match self
            .client
            .publish_version()
            .function_name(function)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error) => {
                return Err(match port_error(&what, &error, None) {
                    PortError::NotFound(detail) => {
                        PortError::NotFound(format!("function {name} does not exist ({detail})"))
                    }
                    other => other,
                });
            }
        };
        output
            .version()
            .map(str::to_owned)
            .ok_or_else(|| PortError::Unavailable(format!("{what}: the answer has no Version")))
    }
}

impl AliasStore for LambdaAliasStore {
    fn get_alias<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
    ) -> BoxFuture<'a, Result<AliasState, PortError>> {
        Box::pin(self.get_alias_inner(function, alias))
    }

    fn update_alias<'a>(
        &'a self,
        function: &'a str,
        alias: &'a str,
        update: &'a AliasUpdate,
        expected_revision: &'a str,
    ) -> BoxFuture<'a, Result<AliasState, PortError>> {
        Box::pin(self.update_alias_inner(function, alias, update, expected_revision))
    }

    fn version_exists<'a>(
        &'a self,
        function: &'a str,
        version: &'a str,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        Box::pin(self.version_exists_inner(function, version))
    }

    fn publish_version<'a>(
        &'a self,
        function: &'a str,
    ) -> BoxFuture<'a, Result<String, PortError>> {
        Box::pin(self.publish_version_inner(function))
    }
}

fn alias_state(
    what: &str,
    function_version: Option<&str>,
    routing: Option<&AliasRoutingConfiguration>,
    description: Option<&str>,
    revision_id: Option<&str>,
) -> Result<AliasState, PortError> {
    let malformed =
        |field: &str| PortError::Unavailable(format!("{what}: the answer has no {field}"));
    let weights = routing.and_then(AliasRoutingConfiguration::additional_version_weights);
    let routing = match weights.map(|w| w.iter().collect::<Vec<_>>()).as_deref() {
        None | Some([]) => None,
        Some([(version, weight)]) => Some(VersionWeight {
            version: (*version).clone(),
            weight: **weight,
        }),
        Some(more) => {
            return Err(PortError::Unavailable(format!(
                "{what}: the alias routes to {} additional versions; Lambda allows one",
                more.len()
            )));
        }
    };
    Ok(AliasState {
        function_version: function_version
            .ok_or_else(|| malformed("FunctionVersion"))?
            .to_owned(),
        routing,
        description: description.unwrap_or_default().to_owned(),
        revision_id: revision_id
            .ok_or_else(|| malformed("RevisionId"))?
            .to_owned(),
    })
}

/// What a `ResourceNotFoundException` message names as missing.
#[derive(Debug, PartialEq)]
enum Missing {
    Function,
    Alias,
    /// `Function not found: arn:...:function:NAME:QUALIFIER`: a version or alias.
    Qualified(String),
}

/// Reads Lambda's messages: `Cannot find alias arn: ARN` and `Function not found: ARN`, where the
/// ARN ends with `:function:NAME` or `:function:NAME:QUALIFIER`.
fn missing_resource(message: &str, name: &str) -> Option<Missing> {
    if message.contains("Cannot find alias") || message.contains("Alias not found") {
        return Some(Missing::Alias);
    }
    let (_, arn) = message.split_once("Function not found: ")?;
    let arn = arn.split_whitespace().next()?;
    let (_, rest) = arn.split_once(":function:")?;
    match rest.split_once(':') {
        None if rest == name => Some(Missing::Function),
        Some((function, qualifier)) if function == name => {
            Some(Missing::Qualified(qualifier.to_owned()))
        }
        _ => None,
    }
}

/// The function's name from a name, partial ARN or full ARN; [`PortError::Rejected`] for a
/// qualified or malformed reference.
fn unqualified_function_name(function: &str) -> Result<&str, PortError> {
    let parts: Vec<&str> = function.split(':').collect();
    let is_account = |s: &str| s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit());
    let name = match parts.as_slice() {
        [name] => Some(*name),
        [account, "function", name] if is_account(account) => Some(*name),
        [
            "arn",
            partition,
            "lambda",
            region,
            account,
            "function",
            name,
        ] if partition.starts_with("aws") && !region.is_empty() && is_account(account) => {
            Some(*name)
        }
        _ => None,
    };
    match name {
        Some(name)
            if !name.is_empty()
                && name.len() <= 64
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Ok(name)
        }
        _ => Err(PortError::Rejected(format!(
            "{function:?} is not a function name, partial ARN or full ARN without a qualifier"
        ))),
    }
}

/// Lambda's alias names: 1 to 128 of `[A-Za-z0-9_-]`, not all digits (that would be a version).
fn check_alias_name(alias: &str) -> Result<(), PortError> {
    let valid = !alias.is_empty()
        && alias.len() <= 128
        && alias
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !alias.bytes().all(|b| b.is_ascii_digit());
    if valid {
        Ok(())
    } else {
        Err(PortError::Rejected(format!(
            "{alias:?} is not a valid alias name"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_references() {
        let table = [
            ("orders", Some("orders")),
            ("123456789012:function:orders", Some("orders")),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:orders",
                Some("orders"),
            ),
            (
                "arn:aws-cn:lambda:cn-north-1:123456789012:function:my_fn-2",
                Some("my_fn-2"),
            ),
            ("orders:live", None),
            (
                "arn:aws:lambda:us-east-1:123456789012:function:orders:7",
                None,
            ),
            ("12345:function:orders", None),
            ("", None),
            ("with space", None),
            ("arn:aws:s3:us-east-1:123456789012:function:orders", None),
        ];
        for (input, expected) in table {
            assert_eq!(unqualified_function_name(input).ok(), expected, "{input}");
        }
    }

    #[test]
    fn alias_names() {
        assert!(check_alias_name("live").is_ok());
        assert!(check_alias_name("blue_green-2").is_ok());
        assert!(check_alias_name("7").is_err());
        assert!(check_alias_name("").is_err());
        assert!(check_alias_name("a:b").is_err());
        assert!(check_alias_name(&"a".repeat(129)).is_err());
    }

    #[test]
    fn not_found_messages() {
        let arn = "arn:aws:lambda:us-east-1:123456789012:function";
        let table = [
            (
                format!("Cannot find alias arn: {arn}:orders:live"),
                Some(Missing::Alias),
            ),
            (
                format!("Function not found: {arn}:orders"),
                Some(Missing::Function),
            ),
            (
                format!("Function not found: {arn}:orders:42"),
                Some(Missing::Qualified("42".to_owned())),
            ),
            (format!("Function not found: {arn}:other"), None),
            (
                "The resource you requested does not exist.".to_owned(),
                None,
            ),
        ];
        for (message, expected) in table {
            assert_eq!(missing_resource(&message, "orders"), expected, "{message}");
        }
    }
}
