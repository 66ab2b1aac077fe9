//! The adapters' error mapping with `aws-smithy-mocks`, where moto cannot fail on demand.

use super::*;

/// A client whose every call answers what `rules` say, without retries.
fn mocked(rules: &[&aws_smithy_mocks::Rule]) -> Stores {
    let mut interceptor = aws_smithy_mocks::MockResponseInterceptor::new()
        .rule_mode(aws_smithy_mocks::RuleMode::Sequential);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIDMOCK",
            "super-secret-key",
            None,
            None,
            "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .http_client(aws_smithy_mocks::create_mock_http_client())
        .interceptor(interceptor)
        .build();
    stores(aws_sdk_dynamodb::Client::from_conf(config))
}

#[tokio::test]
async fn throttling_and_server_errors_are_unavailable_with_code_and_message() {
    let throttled = aws_smithy_mocks::mock!(aws_sdk_dynamodb::Client::get_item).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(400).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"Rate of requests exceeds the allowed throughput."}"#,
            ),
        )
    });
    let broken = aws_smithy_mocks::mock!(aws_sdk_dynamodb::Client::query).then_http_response(|| {
        aws_smithy_runtime_api::http::Response::new(
            aws_smithy_runtime_api::http::StatusCode::try_from(500).unwrap(),
            aws_smithy_types::body::SdkBody::from(
                r#"{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"Internal server error"}"#,
            ),
        )
    });
    let store = mocked(&[&throttled, &broken]);
    let Err(PortError::Unavailable(message)) = store.groups.get_group(&uuid(1)).await else {
        panic!("throttling must be Unavailable");
    };
    assert!(message.contains("ThrottlingException"), "{message}");
    assert!(message.contains("Rate of requests exceeds"), "{message}");
    assert!(!message.contains("super-secret-key"), "{message}");
    let Err(PortError::Unavailable(message)) =
        store.groups.list_groups(&PageRequest::default()).await
    else {
        panic!("a 500 must be Unavailable");
    };
    assert!(message.contains("InternalServerError"), "{message}");
    assert!(!message.contains("AKIDMOCK"), "{message}");
}
