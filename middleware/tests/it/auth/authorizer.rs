//! The API Gateway custom authorizer on TOKEN and REQUEST events.

use super::*;

fn token_event(
    token: Option<&str>,
) -> lambda_http::LambdaEvent<aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequest> {
    let payload = serde_json::from_value(json!({
        "type": "TOKEN",
        "authorizationToken": token,
        "methodArn": "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/GET/photos/42",
    }))
    .unwrap();
    lambda_http::LambdaEvent::new(payload, lambda_http::Context::default())
}

#[tokio::test]
async fn the_token_authorizer_allows_with_a_stage_policy_and_flat_context() {
    let authorizer = Authorizer::new(static_verifier());
    let token = rs256(None, &good_claims());
    for credential in [format!("Bearer {token}"), token.clone()] {
        let response = authorizer
            .authorize_token(token_event(Some(&credential)))
            .await
            .unwrap();
        let json = serde_json::to_value(&response).unwrap();
        assert_eq!(json["principalId"], "auth0|user-1");
        assert_eq!(json["policyDocument"]["Version"], "2012-10-17");
        assert_eq!(
            json["policyDocument"]["Statement"][0],
            json!({"Action": ["execute-api:Invoke"], "Effect": "Allow", "Resource": ["arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/*/*"]})
        );
        let context = json["context"].as_object().unwrap();
        assert_eq!(context["sub"], "auth0|user-1");
        assert_eq!(context["scopes"], "openid read:photos write:photos");
        assert_eq!(context["https://lamina.test/role"], "editor");
        assert!(
            !context.contains_key("aud"),
            "arrays are not allowed in an authorizer context"
        );
        assert!(!context.contains_key("permissions"));
    }
    let exact = Authorizer::new(static_verifier()).resource_scope(ResourceScope::Method);
    let json = serde_json::to_value(
        exact
            .authorize_token(token_event(Some(&token)))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        json["policyDocument"]["Statement"][0]["Resource"][0],
        "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/GET/photos/42"
    );
}

#[tokio::test]
async fn the_token_authorizer_rejects_bad_tokens_the_api_gateway_way() {
    let expired = rs256(None, &with(good_claims(), "exp", json!(now() - 3600)));
    let authorizer = Authorizer::new(static_verifier());
    for token in [
        None,
        Some("Bearer "),
        Some("Bearer a.b.c"),
        Some(expired.as_str()),
    ] {
        let result = authorizer.authorize_token(token_event(token)).await;
        assert_eq!(
            result.as_ref().err(),
            Some(&AuthorizerError::Unauthorized),
            "{token:?}"
        );
        assert_eq!(result.unwrap_err().to_string(), "Unauthorized");
    }
    let denying = Authorizer::new(static_verifier()).deny_invalid_tokens();
    let json = serde_json::to_value(
        denying
            .authorize_token(token_event(Some(&expired)))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json["policyDocument"]["Statement"][0]["Effect"], "Deny");
    assert_eq!(json["context"], json!({}));
    let scoped = Authorizer::new(static_verifier()).require_scope("admin");
    let json = serde_json::to_value(
        scoped
            .authorize_token(token_event(Some(&rs256(None, &good_claims()))))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(json["policyDocument"]["Statement"][0]["Effect"], "Deny");
    assert_eq!(json["principalId"], "auth0|user-1");
    let mut bad_arn = token_event(Some(&expired));
    bad_arn.payload.method_arn = Some("arn:aws:s3:::bucket".into());
    assert_eq!(
        authorizer.authorize_token(bad_arn).await.err(),
        Some(AuthorizerError::MalformedMethodArn)
    );
}

#[tokio::test]
async fn the_request_authorizer_reads_the_authorization_header() {
    let token = rs256(None, &good_claims());
    let event = |headers: Value| {
        let payload = serde_json::from_value(json!({
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/POST/photos",
            "resource": "/photos", "path": "/photos", "httpMethod": "POST",
            "headers": headers,
            "queryStringParameters": {}, "pathParameters": {}, "stageVariables": {},
            "requestContext": {"path": "/test/photos", "accountId": "123456789012", "resourceId": "x", "stage": "test",
                "requestId": "r-1", "resourcePath": "/photos", "httpMethod": "POST", "apiId": "abcdef123",
                "identity": {"sourceIp": "203.0.113.7"}},
        }))
        .unwrap();
        lambda_http::LambdaEvent::new(payload, lambda_http::Context::default())
    };
    let authorizer =
        Authorizer::new(static_verifier()).require_claim("https://lamina.test/role", "editor");
    let allowed = authorizer
        .authorize_request(event(json!({"Authorization": format!("Bearer {token}")})))
        .await
        .unwrap();
    let json = serde_json::to_value(allowed).unwrap();
    assert_eq!(json["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(
        json["policyDocument"]["Statement"][0]["Resource"][0],
        "arn:aws:execute-api:us-east-1:123456789012:abcdef123/test/*/*"
    );
    let lower = authorizer
        .authorize_request(event(json!({"authorization": format!("bearer {token}")})))
        .await;
    assert!(lower.is_ok());
    let missing = authorizer
        .authorize_request(event(json!({"x-other": "1"})))
        .await;
    assert_eq!(missing.err(), Some(AuthorizerError::Unauthorized));
}
