//! [`Authorizer`]: an API Gateway (REST API) Lambda custom authorizer on the same [`JwtVerifier`].
//!
//! It answers TOKEN and REQUEST authorizer events with an IAM policy. The choice for tokens that
//! fail verification follows API Gateway's convention: by default the handler fails with the
//! exact message `Unauthorized`, which API Gateway turns into a **401** (so clients know to get a
//! new token); [`Authorizer::deny_invalid_tokens`] returns a Deny policy instead (a **403**). A
//! valid token that misses a requirement always gets a Deny policy (403), and a valid token that
//! meets them an Allow policy whose `principalId` is `sub`.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequest,
    ApiGatewayCustomAuthorizerRequestTypeRequest, ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use lambda_http::lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Map, Value};

use super::layer::{bearer_token, parse_bearer};
use super::require::{Requirement, first_unmet};
use super::{Claims, JwtVerifier, VerifyError};

/// Which resources an Allow or Deny policy covers.
///
/// API Gateway caches an authorizer's policy per token (for the authorizer's TTL) and applies the
/// cached policy to the next request with that token, whatever its route. A policy for the exact
/// method ARN would then deny every other route until the cache expires, which is why
/// [`Stage`](Self::Stage) is the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResourceScope {
    /// Exactly the `methodArn` of the event.
    Method,
    /// Every method and path of the stage: `arn:aws:execute-api:REGION:ACCOUNT:API/STAGE/*/*`.
    #[default]
    Stage,
    /// Every stage, method and path of the API: `arn:aws:execute-api:REGION:ACCOUNT:API/*/*/*`.
    Api,
}

/// Why an authorizer invocation failed rather than returning a policy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizerError {
    /// The token is missing or invalid. The message is exactly `Unauthorized`: API Gateway answers
    /// 401 for that message only.
    #[error("Unauthorized")]
    Unauthorized,
    /// The event's `methodArn` is missing or not an `execute-api` ARN.
    #[error("the event has no valid methodArn")]
    MalformedMethodArn,
    /// No verification key could be loaded; API Gateway answers 500 for this.
    #[error("verification keys unavailable")]
    KeysUnavailable,
}

impl From<AuthorizerError> for Diagnostic {
    fn from(error: AuthorizerError) -> Self {
        let error_type = match error {
            AuthorizerError::Unauthorized => "Unauthorized",
            AuthorizerError::MalformedMethodArn => "AuthorizerError.MalformedMethodArn",
            AuthorizerError::KeysUnavailable => "AuthorizerError.KeysUnavailable",
        };
        Diagnostic {
            error_type: error_type.to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// The answer of the authorizer: an IAM policy plus the claims as `context`.
pub type AuthorizerResponse = ApiGatewayCustomAuthorizerResponse<Value>;

/// A ready-made custom authorizer. Cheap to clone.
///
/// ```no_run
/// use lamina_middleware::auth::{Authorizer, JwtVerifier};
/// use lambda_http::{lambda_runtime, service_fn};
///
/// # async fn run() -> Result<(), lambda_http::Error> {
/// let verifier = JwtVerifier::builder()
///     .auth0_domain("my-tenant.eu.auth0.com")
///     .audience("https://api.example.com")
///     .build()?;
/// let authorizer = Authorizer::new(verifier).require_scope("read:photos");
/// let authorizer = &authorizer;
/// lambda_runtime::run(service_fn(move |event| async move { authorizer.authorize_token(event).await })).await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Authorizer {
    verifier: JwtVerifier,
    scope: ResourceScope,
    requirements: Vec<Requirement>,
    deny_invalid: bool,
}

impl Authorizer {
    /// An authorizer over this verifier: stage-wide policies, `Unauthorized` for bad tokens.
    #[must_use]
    pub fn new(verifier: JwtVerifier) -> Self {
        Self {
            verifier,
            scope: ResourceScope::default(),
            requirements: Vec::new(),
            deny_invalid: false,
        }
    }

    /// Which resources the policy covers (default [`ResourceScope::Stage`]).
    #[must_use]
    pub fn resource_scope(mut self, scope: ResourceScope) -> Self {
        self.scope = scope;
        self
    }

    /// Denies tokens without this scope. With a stage-wide policy this applies to the whole stage.
    #[must_use]
    pub fn require_scope(mut self, scope: impl Into<String>) -> Self {
        self.requirements.push(Requirement::Scope(scope.into()));
        self
    }

    /// Denies tokens whose claim `name` does not equal (or contain) `value`.
    #[must_use]
    pub fn require_claim(mut self, name: impl Into<String>, value: impl Into<Value>) -> Self {
        self.requirements.push(Requirement::Claim {
            name: name.into(),
            value: value.into(),
        });
        self
    }

    /// Answers a missing or invalid token with a Deny policy (API Gateway: 403) instead of the
    /// `Unauthorized` error (API Gateway: 401).
    #[must_use]
    pub fn deny_invalid_tokens(mut self) -> Self {
        self.deny_invalid = true;
        self
    }

    /// Handles a TOKEN authorizer event; `authorizationToken` is the identity source's value,
    /// `Bearer <token>` or the bare token.
    pub async fn authorize_token(
        &self,
        event: LambdaEvent<ApiGatewayCustomAuthorizerRequest>,
    ) -> Result<AuthorizerResponse, AuthorizerError> {
        let payload = event.payload;
        let token = match payload.authorization_token.as_deref() {
            None => Err(VerifyError::Missing),
            Some(value) => match parse_bearer(value) {
                // A bare token: the identity source was configured without the scheme.
                Err(VerifyError::Missing) => {
                    parse_bearer(&format!("Bearer {value}")).map(str::to_owned)
                }
                other => other.map(str::to_owned),
            },
        };
        self.authorize(
            token.as_deref().map_err(Clone::clone),
            payload.method_arn.as_deref(),
        )
        .await
    }

    /// Handles a REQUEST authorizer event, reading the `Authorization` header.
    pub async fn authorize_request(
        &self,
        event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>,
    ) -> Result<AuthorizerResponse, AuthorizerError> {
        let payload = event.payload;
        let token = match bearer_token(&payload.headers) {
            Err(VerifyError::Missing) => bearer_token(&payload.multi_value_headers),
            other => other,
        };
        self.authorize(token, payload.method_arn.as_deref()).await
    }

    /// The decision for a token (already taken out of its `Bearer` credential) and a method ARN.
    pub async fn authorize(
        &self,
        token: Result<&str, VerifyError>,
        method_arn: Option<&str>,
    ) -> Result<AuthorizerResponse, AuthorizerError> {
        let resource = method_arn
            .and_then(|arn| scoped_resource(arn, self.scope))
            .ok_or(AuthorizerError::MalformedMethodArn)?;
        let verified = match token {
            Ok(token) => self.verifier.verify(token).await,
            Err(reason) => Err(reason),
        };
        let claims = match verified {
            Ok(claims) => claims,
            Err(VerifyError::KeysUnavailable) => {
                tracing::warn!("no verification keys available; the authorizer fails");
                return Err(AuthorizerError::KeysUnavailable);
            }
            Err(reason) => {
                tracing::info!(%reason, "authorizer rejected the token");
                return if self.deny_invalid {
                    Ok(policy(
                        "unauthorized",
                        IamPolicyEffect::Deny,
                        resource,
                        Map::new(),
                    ))
                } else {
                    Err(AuthorizerError::Unauthorized)
                };
            }
        };
        let principal = claims.subject().unwrap_or("unknown").to_owned();
        let context = flatten_claims(&claims);
        if let Some(unmet) = first_unmet(&self.requirements, &claims) {
            tracing::info!(requirement = ?unmet, subject = %principal, "authorizer denies: requirement not met");
            return Ok(policy(&principal, IamPolicyEffect::Deny, resource, context));
        }
        Ok(policy(
            &principal,
            IamPolicyEffect::Allow,
            resource,
            context,
        ))
    }
}

fn policy(
    principal: &str,
    effect: IamPolicyEffect,
    resource: String,
    context: Map<String, Value>,
) -> AuthorizerResponse {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.effect = effect;
    statement.resource = vec![resource];
    let mut document = ApiGatewayCustomAuthorizerPolicy::default();
    document.version = Some("2012-10-17".to_owned());
    document.statement = vec![statement];
    let mut response = AuthorizerResponse::default();
    response.principal_id = Some(principal.to_owned());
    response.policy_document = document;
    response.context = Value::Object(context);
    response
}

/// The claims API Gateway can pass on in `context`: strings, numbers and booleans at the top
/// level (nested values are dropped), plus `scopes`, space-separated, unless a claim has that name.
pub fn flatten_claims(claims: &Claims) -> Map<String, Value> {
    let mut context: Map<String, Value> = claims
        .raw()
        .iter()
        .filter(|(_, v)| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_)))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !context.contains_key("scopes")
        && !claims.raw().contains_key("scopes")
        && !claims.scopes().is_empty()
    {
        context.insert(
            "scopes".to_owned(),
            Value::String(claims.scopes().join(" ")),
        );
    }
    context
}

/// The policy resource for `arn:PARTITION:execute-api:REGION:ACCOUNT:API/STAGE/METHOD/PATH`.
pub fn scoped_resource(method_arn: &str, scope: ResourceScope) -> Option<String> {
    let parts: Vec<&str> = method_arn.splitn(6, ':').collect();
    let [arn, partition, service, region, account, rest] = parts.as_slice() else {
        return None;
    };
    if *arn != "arn"
        || *service != "execute-api"
        || partition.is_empty()
        || region.is_empty()
        || account.is_empty()
    {
        return None;
    }
    let mut segments = rest.splitn(3, '/');
    let (Some(api), Some(stage)) = (segments.next(), segments.next()) else {
        return None;
    };
    if api.is_empty() || stage.is_empty() {
        return None;
    }
    let prefix = format!("arn:{partition}:execute-api:{region}:{account}:{api}");
    Some(match scope {
        ResourceScope::Method => method_arn.to_owned(),
        ResourceScope::Stage => format!("{prefix}/{stage}/*/*"),
        ResourceScope::Api => format!("{prefix}/*/*/*"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ARN: &str = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/prod/GET/photos/42";

    #[test]
    fn method_arns_are_wildcarded_by_scope() {
        let cases = [
            (ResourceScope::Method, ARN),
            (
                ResourceScope::Stage,
                "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/prod/*/*",
            ),
            (
                ResourceScope::Api,
                "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3/*/*/*",
            ),
        ];
        for (scope, expected) in cases {
            assert_eq!(scoped_resource(ARN, scope).as_deref(), Some(expected));
        }
        assert_eq!(
            scoped_resource(
                "arn:aws-cn:execute-api:cn-north-1:1:api/dev/POST/",
                ResourceScope::Stage
            )
            .as_deref(),
            Some("arn:aws-cn:execute-api:cn-north-1:1:api/dev/*/*")
        );
    }

    #[test]
    fn malformed_arns_are_refused() {
        for bad in [
            "",
            "arn:aws:s3:::bucket/key",
            "arn:aws:execute-api:eu-west-1:1:api",
            "arn:aws:execute-api::1:api/prod/GET/",
            "x:aws:execute-api:r:1:api/prod/GET/",
        ] {
            assert_eq!(scoped_resource(bad, ResourceScope::Stage), None, "{bad}");
        }
    }

    #[test]
    fn only_scalars_reach_the_context() {
        let raw = json!({"sub": "u1", "exp": 1, "admin": true, "aud": ["a", "b"], "meta": {"x": 1}, "scope": "r w"});
        let claims = Claims::from_raw(raw.as_object().cloned().unwrap_or_default());
        let context = flatten_claims(&claims);
        assert_eq!(
            Value::Object(context),
            json!({"sub": "u1", "exp": 1, "admin": true, "scope": "r w", "scopes": "r w"})
        );
    }

    #[test]
    fn diagnostics_keep_the_unauthorized_message_exact() {
        let diagnostic = Diagnostic::from(AuthorizerError::Unauthorized);
        assert_eq!(diagnostic.error_message, "Unauthorized");
        assert_eq!(
            Diagnostic::from(AuthorizerError::KeysUnavailable).error_type,
            "AuthorizerError.KeysUnavailable"
        );
    }
}
