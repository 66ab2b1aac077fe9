//! Tests of the WebSocket functions with API Gateway's `$connect`/`$disconnect` and REQUEST
//! authorizer events.

use std::sync::Arc;

use aws_lambda_events::iam::IamPolicyEffect;
use serde_json::{Value, json};

use super::*;
use crate::ports::ConnectionStore as _;
use crate::test_support::{fixture, issuer, now, verifier};

/// The `exp` of the token `$connect` events were authorized with.
const EXP: u64 = 4_102_444_800;

const METHOD_ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/$connect";

/// A `$connect` or `$disconnect` event as API Gateway sends it.
fn websocket_event(route: &str, connection_id: Option<&str>) -> ApiGatewayWebsocketProxyRequest {
    let event_type = if route == "$connect" {
        "CONNECT"
    } else {
        "DISCONNECT"
    };
    let mut context = json!({
        "routeKey": route,
        "eventType": event_type,
        "extendedRequestId": "Ia1ObHbMoAMFbGg=",
        "requestTime": "28/Nov/2026:20:00:00 +0000",
        "messageDirection": "IN",
        "stage": "dev",
        "connectedAt": 1_764_360_000_000_i64,
        "requestTimeEpoch": 1_764_360_000_000_i64,
        "identity": {"sourceIp": "203.0.113.9", "userAgent": "Mozilla/5.0"},
        "requestId": "Ia1ObHbMoAMFbGg=",
        "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
        "apiId": "a1b2c3d4e5",
    });
    if let Some(id) = connection_id {
        context["connectionId"] = json!(id);
    }
    if route == "$connect" {
        // What the authorizer's context reaches the integration as.
        context["authorizer"] = json!({
            "principalId": "alice", "sub": "alice", "exp": EXP, "integrationLatency": 12,
        });
    }
    serde_json::from_value(json!({
        "headers": {"Host": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com", "Sec-WebSocket-Version": "13"},
        "multiValueHeaders": {"Host": ["a1b2c3d4e5.execute-api.us-east-1.amazonaws.com"], "Sec-WebSocket-Version": ["13"]},
        "requestContext": context,
        "isBase64Encoded": false,
    }))
    .unwrap()
}

#[tokio::test]
async fn connect_and_disconnect_keep_the_connections_table() {
    let f = fixture().await;
    let realtime = Realtime::new(Arc::new(f.store.clone()));
    for _ in 0..2 {
        let response = handle_connect(
            &realtime,
            websocket_event("$connect", Some("L0SM9cOFvHcCIhw=")),
        )
        .await
        .unwrap();
        assert_eq!(response.status_code, 200);
        assert_eq!(serde_json::to_value(&response).unwrap()["statusCode"], 200);
    }
    let stored = f.store.list_connections().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, "L0SM9cOFvHcCIhw=");
    assert_eq!(stored[0].expires_at, Some(EXP), "the token's exp is kept");

    for _ in 0..2 {
        let response = handle_disconnect(
            &realtime,
            websocket_event("$disconnect", Some("L0SM9cOFvHcCIhw=")),
        )
        .await
        .unwrap();
        assert_eq!(response.status_code, 200);
    }
    assert!(f.store.list_connections().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_missing_or_malformed_connection_id_is_a_400_and_stores_nothing() {
    let f = fixture().await;
    let realtime = Realtime::new(Arc::new(f.store.clone()));
    let long = "x".repeat(200);
    for id in [
        None,
        Some(""),
        Some("has space"),
        Some(long.as_str()),
        Some("é"),
    ] {
        let response = handle_connect(&realtime, websocket_event("$connect", id))
            .await
            .unwrap();
        assert_eq!(response.status_code, 400, "{id:?}");
        let response = handle_disconnect(&realtime, websocket_event("$disconnect", id))
            .await
            .unwrap();
        assert_eq!(response.status_code, 400, "{id:?}");
    }
    assert!(f.store.list_connections().await.unwrap().is_empty());
}

/// A REQUEST authorizer event for `$connect` with these query parameters and headers.
fn authorizer_event(query: Value, headers: Value) -> ApiGatewayCustomAuthorizerRequestTypeRequest {
    serde_json::from_value(json!({
        "type": "REQUEST",
        "methodArn": METHOD_ARN,
        "headers": headers,
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {},
        "stageVariables": {},
        "requestContext": {
            "routeKey": "$connect",
            "eventType": "CONNECT",
            "extendedRequestId": "Ia1ObHbMoAMFbGg=",
            "requestTime": "28/Nov/2026:20:00:00 +0000",
            "messageDirection": "IN",
            "stage": "dev",
            "connectedAt": 1_764_360_000_000_i64,
            "requestTimeEpoch": 1_764_360_000_000_i64,
            "identity": {"sourceIp": "203.0.113.9"},
            "requestId": "Ia1ObHbMoAMFbGg=",
            "domainName": "a1b2c3d4e5.execute-api.us-east-1.amazonaws.com",
            "connectionId": "L0SM9cOFvHcCIhw=",
            "apiId": "a1b2c3d4e5",
        },
    }))
    .unwrap()
}

#[tokio::test]
async fn the_authorizer_allows_a_valid_token_from_the_query_or_the_header() {
    let authorizer = Authorizer::new(verifier());
    let token = issuer().1.issue("auth0|alice", now()).unwrap();
    let cases = [
        (json!({"token": token}), json!({})),
        (json!({"token": format!("Bearer {token}")}), json!({})),
        (
            json!({}),
            json!({"Authorization": format!("Bearer {token}")}),
        ),
        // An empty query parameter falls back to the header.
        (
            json!({"token": ""}),
            json!({"authorization": format!("Bearer {token}")}),
        ),
    ];
    for (query, headers) in cases {
        let response = handle_authorizer(&authorizer, authorizer_event(query.clone(), headers))
            .await
            .unwrap();
        assert_eq!(
            response.principal_id.as_deref(),
            Some("auth0|alice"),
            "{query}"
        );
        let statement = &response.policy_document.statement[0];
        assert_eq!(statement.effect, IamPolicyEffect::Allow);
        assert_eq!(
            statement.resource,
            ["arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/dev/*/*"]
        );
        assert_eq!(response.context["sub"], "auth0|alice");
    }
}

#[tokio::test]
async fn the_authorizer_answers_401_for_missing_expired_or_forged_tokens() {
    let authorizer = Authorizer::new(verifier());
    let (_, issuer) = issuer();
    let expired = issuer
        .issue_until("auth0|alice", now() - 7200, now() - 3600)
        .unwrap();
    let valid = issuer.issue("auth0|alice", now()).unwrap();
    let (head, _) = valid.rsplit_once('.').unwrap();
    let forged = format!("{head}.c2lnbmF0dXJl");
    let cases = [
        (json!({}), json!({})),
        (json!({"token": expired}), json!({})),
        (json!({"token": forged}), json!({})),
        (json!({"token": "not.a.jwt"}), json!({})),
        (
            json!({}),
            json!({"Authorization": "Basic YWxpY2U6c2VjcmV0"}),
        ),
        // A bad query token is not rescued by a good header: the query wins.
        (
            json!({"token": "garbage"}),
            json!({"Authorization": format!("Bearer {valid}")}),
        ),
    ];
    for (query, headers) in cases {
        let error = handle_authorizer(&authorizer, authorizer_event(query.clone(), headers))
            .await
            .unwrap_err();
        assert_eq!(error, AuthorizerError::Unauthorized, "{query}");
        assert_eq!(Diagnostic::from(error).error_message, "Unauthorized");
    }
}

#[tokio::test]
async fn the_authorizer_denies_a_valid_token_that_misses_a_requirement() {
    let authorizer = Authorizer::new(verifier()).require_scope("connect:ws");
    let token = issuer().1.issue("auth0|alice", now()).unwrap();
    let response = handle_authorizer(
        &authorizer,
        authorizer_event(json!({"token": token}), json!({})),
    )
    .await
    .unwrap();
    assert_eq!(
        response.policy_document.statement[0].effect,
        IamPolicyEffect::Deny
    );
    let mut event = authorizer_event(json!({"token": "x"}), json!({}));
    event.method_arn = Some("arn:aws:s3:::bucket".into());
    assert_eq!(
        handle_authorizer(&authorizer, event).await.unwrap_err(),
        AuthorizerError::MalformedMethodArn
    );
}

#[tokio::test]
async fn the_tokens_expiry_is_read_as_a_number_or_a_string() {
    let f = fixture().await;
    let realtime = Realtime::new(Arc::new(f.store.clone()));
    let cases = [
        ("a=", json!(1_900_000_000_u64), Some(1_900_000_000)),
        ("b=", json!("1900000001"), Some(1_900_000_001)),
        ("c=", json!("soon"), None),
    ];
    for (id, exp, _) in &cases {
        let mut event = websocket_event("$connect", Some(id));
        event
            .request_context
            .authorizer
            .fields
            .insert("exp".into(), exp.clone());
        let response = handle_connect(&realtime, event).await.unwrap();
        assert_eq!(response.status_code, 200, "{exp}");
    }
    let stored = f.store.list_connections().await.unwrap();
    for (id, _, want) in cases {
        let got = stored.iter().find(|c| c.id == id).unwrap();
        assert_eq!(got.expires_at, want, "{id}");
    }
}
