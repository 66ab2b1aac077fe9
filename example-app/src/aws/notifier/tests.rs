//! The notifier against moto (a post that works) and with `aws-smithy-mocks` for what moto
//! never answers: 410 `GoneException` (moto has no unknown connections) and a throttle.

use aws_smithy_mocks::{Rule, RuleMode, create_mock_http_client, mock};
use aws_smithy_runtime_api::http::{Response, StatusCode};
use aws_smithy_types::body::SdkBody;
use lamina_local::moto::MotoServer;

use super::*;

fn mocked(rules: &[&Rule]) -> ApiGatewayNotifier {
    let mut interceptor =
        aws_smithy_mocks::MockResponseInterceptor::new().rule_mode(RuleMode::Sequential);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let config = aws_sdk_apigatewaymanagement::Config::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url("https://abc.execute-api.us-east-1.amazonaws.com/prod")
        .credentials_provider(aws_credential_types::Credentials::new(
            "AKIDMOCK",
            "super-secret-key",
            None,
            None,
            "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .http_client(create_mock_http_client())
        .interceptor(interceptor)
        .build();
    ApiGatewayNotifier::new(Client::from_conf(config))
}

fn answer(status: u16, error_type: &'static str, message: &'static str) -> Rule {
    mock!(Client::post_to_connection).then_http_response(move || {
        let mut response = Response::new(
            StatusCode::try_from(status).unwrap(),
            SdkBody::from(format!(r#"{{"message":"{message}"}}"#)),
        );
        response
            .headers_mut()
            .insert("x-amzn-errortype", error_type);
        response
            .headers_mut()
            .insert("content-type", "application/json");
        response
    })
}

#[tokio::test]
async fn a_post_reaches_the_management_api() {
    let moto = MotoServer::start().await.unwrap();
    let notifier = ApiGatewayNotifier::new(Client::new(moto.sdk_config()));
    notifier
        .send("conn-1=", br#"{"type":"imageReady"}"#)
        .await
        .unwrap();
}

#[tokio::test]
async fn gone_connections_are_gone_and_other_errors_unavailable() {
    let gone = answer(410, "GoneException", "gone away");
    let gone_without_code = answer(410, "", "");
    let throttled = answer(429, "LimitExceededException", "slow down");
    let notifier = mocked(&[&gone, &gone_without_code, &throttled]);
    assert_eq!(
        notifier.send("abc=", b"{}").await,
        Err(PortError::Gone("abc=".into()))
    );
    assert_eq!(
        notifier.send("def=", b"{}").await,
        Err(PortError::Gone("def=".into()))
    );
    let Err(PortError::Unavailable(message)) = notifier.send("ghi=", b"{}").await else {
        panic!("a throttle is not Gone");
    };
    assert!(message.contains("LimitExceededException"), "{message}");
    assert!(message.contains("slow down"), "{message}");
    assert!(!message.contains("super-secret-key"), "{message}");
}

fn delete_answer(status: u16, error_type: &'static str) -> Rule {
    mock!(Client::delete_connection)
        .match_requests(|request| request.connection_id() == Some("abc="))
        .then_http_response(move || {
            let mut response = Response::new(
                StatusCode::try_from(status).unwrap(),
                SdkBody::from(r#"{"message":"no"}"#),
            );
            response
                .headers_mut()
                .insert("x-amzn-errortype", error_type);
            response
                .headers_mut()
                .insert("content-type", "application/json");
            response
        })
}

#[tokio::test]
async fn close_deletes_the_connection_and_a_gone_one_is_fine() {
    let moto = MotoServer::start().await.unwrap();
    let notifier = ApiGatewayNotifier::new(Client::new(moto.sdk_config()));
    notifier.close("conn-1=").await.unwrap();

    let deleted = mock!(Client::delete_connection)
        .match_requests(|request| request.connection_id() == Some("abc="))
        .then_output(|| {
            aws_sdk_apigatewaymanagement::operation::delete_connection::DeleteConnectionOutput::builder()
                .build()
        });
    let gone = delete_answer(410, "GoneException");
    let throttled = delete_answer(429, "LimitExceededException");
    let notifier = mocked(&[&deleted, &gone, &throttled]);
    notifier.close("abc=").await.unwrap();
    notifier.close("abc=").await.unwrap();
    let Err(PortError::Unavailable(message)) = notifier.close("abc=").await else {
        panic!("a throttle is not a close");
    };
    assert!(message.contains("DeleteConnection"), "{message}");
    assert_eq!(
        (deleted.num_calls(), gone.num_calls(), throttled.num_calls()),
        (1, 1, 1)
    );
}
