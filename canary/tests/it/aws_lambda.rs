//! `LambdaAliasStore` and `LambdaHookInvoker` through the real Lambda SDK: against moto for
//! what moto stores, and with `aws-smithy-mocks` for the answers moto never gives
//! (`PreconditionFailedException`, throttling, 5xx).

use aws_sdk_lambda::Client;
use aws_sdk_lambda::config::retry::RetryConfig;
use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::AliasRoutingConfiguration;
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use lamina_canary::aws::{LambdaAliasStore, LambdaHookInvoker};
use lamina_canary::ports::{AliasStore, AliasUpdate, HookInvoker, PortError, VersionWeight};
use lamina_local::moto::MotoServer;

use crate::moto_function::function_with_alias;

const ACCOUNT: &str = "123456789012";

struct Fixture {
    moto: MotoServer,
    client: Client,
    store: LambdaAliasStore,
}

/// moto with Lambda's Docker off, a function `name` with versions 1 and 2, and alias `live` -> 1.
async fn fixture(name: &str) -> Fixture {
    let moto = MotoServer::start().await.unwrap();
    moto.disable_lambda_docker().await.unwrap();
    let client = function_with_alias(&moto, name, "created by the test").await;
    let store = LambdaAliasStore::new(client.clone());
    Fixture {
        moto,
        client,
        store,
    }
}

fn update(primary: &str, routing: Option<(&str, f64)>, description: &str) -> AliasUpdate {
    AliasUpdate {
        function_version: primary.to_owned(),
        routing: routing.map(|(version, weight)| VersionWeight {
            version: version.to_owned(),
            weight,
        }),
        description: description.to_owned(),
    }
}

#[tokio::test]
async fn reads_and_updates_the_alias_with_weights() {
    let f = fixture("orders").await;
    let alias = f.store.get_alias("orders", "live").await.unwrap();
    assert_eq!(alias.function_version, "1");
    assert_eq!(alias.routing, None);
    assert_eq!(alias.description, "created by the test");
    assert!(!alias.revision_id.is_empty());

    let written = f
        .store
        .update_alias(
            "orders",
            "live",
            &update(
                "1",
                Some(("2", 0.1)),
                "lamina-canary/1 phase=shifting step=0",
            ),
            &alias.revision_id,
        )
        .await
        .unwrap();
    assert_eq!(
        written.routing,
        Some(VersionWeight {
            version: "2".into(),
            weight: 0.1
        })
    );
    // What Lambda (moto) stores, read back with the plain SDK.
    let stored = f
        .client
        .get_alias()
        .function_name("orders")
        .name("live")
        .send()
        .await
        .unwrap();
    let weights = stored
        .routing_config()
        .unwrap()
        .additional_version_weights()
        .unwrap();
    assert_eq!(weights.get("2"), Some(&0.1));
    assert_eq!(
        stored.description(),
        Some("lamina-canary/1 phase=shifting step=0")
    );

    // Clearing the routing while promoting: primary = 2, no additional version.
    let promoted = f
        .store
        .update_alias(
            "orders",
            "live",
            &update("2", None, "done"),
            &written.revision_id,
        )
        .await
        .unwrap();
    assert_eq!(promoted.function_version, "2");
    assert_eq!(promoted.routing, None);
    let reread = f.store.get_alias("orders", "live").await.unwrap();
    assert_eq!(
        (reread.function_version.as_str(), reread.routing),
        ("2", None)
    );

    // The function may be named by a full or partial ARN.
    let arn = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders");
    assert_eq!(
        f.store
            .get_alias(&arn, "live")
            .await
            .unwrap()
            .function_version,
        "2"
    );
    drop(f.moto);
}

#[tokio::test]
async fn invalid_updates_are_refused_before_anything_is_sent() {
    let f = fixture("orders").await;
    let before = f.store.get_alias("orders", "live").await.unwrap();
    let invalid = [
        update("1", Some(("2", 1.5)), "x"),
        update("1", Some(("2", f64::NAN)), "x"),
        update("1", Some(("2", -0.1)), "x"),
        update("1", Some(("1", 0.5)), "x"),
        update("1", Some(("$LATEST", 0.5)), "x"),
        update("live", None, "x"),
        update("1", None, &"d".repeat(257)),
    ];
    for bad in &invalid {
        let error = f
            .store
            .update_alias("orders", "live", bad, &before.revision_id)
            .await
            .unwrap_err();
        assert!(matches!(error, PortError::Rejected(_)), "{bad:?}: {error}");
    }
    // Qualified function names and malformed aliases are refused too.
    for (function, alias) in [("orders:live", "live"), ("orders", "1"), ("orders", "a/b")] {
        let error = f
            .store
            .update_alias(
                function,
                alias,
                &update("2", None, "x"),
                &before.revision_id,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(error, PortError::Rejected(_)),
            "{function} {alias}: {error}"
        );
    }
    // Nothing reached moto: the alias is exactly as it was.
    assert_eq!(f.store.get_alias("orders", "live").await.unwrap(), before);
}

#[tokio::test]
async fn missing_functions_aliases_and_versions_are_not_found() {
    let f = fixture("orders").await;
    let error = f.store.get_alias("nosuch", "live").await.unwrap_err();
    assert!(
        matches!(&error, PortError::NotFound(m) if m.starts_with("function nosuch does not exist")),
        "{error}"
    );
    let error = f.store.get_alias("orders", "staging").await.unwrap_err();
    assert!(
        matches!(&error, PortError::NotFound(m) if m.starts_with("alias staging of function orders does not exist")),
        "{error}"
    );
    let revision = f
        .store
        .get_alias("orders", "live")
        .await
        .unwrap()
        .revision_id;
    let error = f
        .store
        .update_alias("orders", "live", &update("9", None, "x"), &revision)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, PortError::NotFound(m) if m.starts_with("version 9 of function orders does not exist")),
        "{error}"
    );
    let error = f
        .store
        .update_alias("orders", "staging", &update("1", None, "x"), &revision)
        .await
        .unwrap_err();
    assert!(
        matches!(&error, PortError::NotFound(m) if m.starts_with("alias staging")),
        "{error}"
    );

    assert!(f.store.version_exists("orders", "1").await.unwrap());
    assert!(f.store.version_exists("orders", "2").await.unwrap());
    assert!(f.store.version_exists("orders", "$LATEST").await.unwrap());
    assert!(!f.store.version_exists("orders", "3").await.unwrap());
    // An alias is not a version, though GetFunction would resolve it.
    assert!(!f.store.version_exists("orders", "live").await.unwrap());
    let error = f.store.version_exists("nosuch", "1").await.unwrap_err();
    assert!(
        matches!(&error, PortError::NotFound(m) if m.starts_with("function nosuch")),
        "{error}"
    );
    let error = f.store.publish_version("nosuch").await.unwrap_err();
    assert!(
        matches!(&error, PortError::NotFound(m) if m.starts_with("function nosuch")),
        "{error}"
    );
}

#[tokio::test]
async fn publishes_versions_and_invokes_hooks() {
    let f = fixture("orders").await;
    f.client
        .update_function_configuration()
        .function_name("orders")
        .description("third")
        .send()
        .await
        .unwrap();
    // (moto resolves names and full ARNs, not partial ARNs, which Lambda also accepts.)
    let arn = format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:orders");
    assert_eq!(f.store.publish_version(&arn).await.unwrap(), "3");
    assert!(f.store.version_exists("orders", "3").await.unwrap());

    let hooks = LambdaHookInvoker::new(f.client.clone());
    let payload = br#"{"DeploymentId":"abc","LifecycleEvent":"BeforeAllowTraffic"}"#;
    let response = hooks.invoke("orders", payload).await.unwrap();
    assert_eq!(response.status_code, 200);
    assert_eq!(response.function_error, None);
    // moto without Docker echoes the payload.
    assert_eq!(response.payload, payload);
    let response = hooks.invoke("orders:live", payload).await.unwrap();
    assert_eq!(response.status_code, 200);
    // (moto without Docker echoes even for a function that does not exist: the errors are
    // checked with mocks below.)
}

#[tokio::test]
async fn hook_failures_and_missing_hooks() {
    let failing = mock!(Client::invoke)
        .match_requests(|input| {
            input.function_name() == Some("orders-pre")
                && input.invocation_type()
                    == Some(&aws_sdk_lambda::types::InvocationType::RequestResponse)
                && input.payload().map(|p| p.as_ref()) == Some(b"{}".as_slice())
        })
        .then_output(|| {
            aws_sdk_lambda::operation::invoke::InvokeOutput::builder()
                .status_code(200)
                .function_error("Unhandled")
                .payload(Blob::new(r#"{"errorMessage":"boom"}"#))
                .build()
        });
    let missing = mock!(Client::invoke)
        .match_requests(|input| input.function_name() == Some("nosuch"))
        .sequence()
        .http_status(
            404,
            error_body("ResourceNotFoundException", "Function not found: x"),
        )
        .build();
    let throttled = mock!(Client::invoke)
        .match_requests(|input| input.function_name() == Some("busy"))
        .sequence()
        .http_status(429, error_body("TooManyRequestsException", "Rate exceeded"))
        .build();
    let hooks = LambdaHookInvoker::new(mocked(&[&failing, &missing, &throttled]));
    let response = hooks.invoke("orders-pre", b"{}").await.unwrap();
    assert_eq!(response.status_code, 200);
    assert_eq!(response.function_error.as_deref(), Some("Unhandled"));
    assert_eq!(response.payload, br#"{"errorMessage":"boom"}"#);
    let error = hooks.invoke("nosuch", b"{}").await.unwrap_err();
    assert!(matches!(error, PortError::NotFound(_)), "{error}");
    let error = hooks.invoke("busy", b"{}").await.unwrap_err();
    assert!(matches!(error, PortError::Unavailable(_)), "{error}");
}

fn mocked(rules: &[&Rule]) -> Client {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "test"))
        .http_client(create_mock_http_client())
        .retry_config(RetryConfig::disabled())
        .interceptor(interceptor)
        .build();
    Client::from_conf(config)
}

fn error_body(code: &str, message: &str) -> Option<String> {
    Some(format!(
        r#"{{"Type":"User","__type":"{code}","message":"{message}"}}"#
    ))
}

#[tokio::test]
async fn a_moved_revision_is_a_conflict() {
    let rule = mock!(Client::update_alias)
        .match_requests(|input| {
            input.revision_id() == Some("rev-1")
                && input.function_version() == Some("1")
                && input
                    .routing_config()
                    .and_then(AliasRoutingConfiguration::additional_version_weights)
                    .is_some_and(|w| w.len() == 1 && w.get("2") == Some(&0.25))
        })
        .sequence()
        .http_status(
            412,
            error_body(
                "PreconditionFailedException",
                "The Revision Id provided does not match the latest Revision Id.",
            ),
        )
        .build();
    let store = LambdaAliasStore::new(mocked(&[&rule]));
    let error = store
        .update_alias(
            "orders",
            "live",
            &update("1", Some(("2", 0.25)), "x"),
            "rev-1",
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&error, PortError::Conflict(m) if m.contains("PreconditionFailedException")),
        "{error}"
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn service_answers_map_to_port_errors() {
    type Check = fn(&PortError) -> bool;
    let table: [(u16, &str, Check); 6] = [
        (429, "TooManyRequestsException", |e| {
            matches!(e, PortError::Unavailable(_))
        }),
        (500, "ServiceException", |e| {
            matches!(e, PortError::Unavailable(_))
        }),
        (503, "SomethingNew", |e| {
            matches!(e, PortError::Unavailable(_))
        }),
        (400, "InvalidParameterValueException", |e| {
            matches!(e, PortError::Rejected(_))
        }),
        (403, "AccessDeniedException", |e| {
            matches!(e, PortError::Rejected(_))
        }),
        (409, "ResourceConflictException", |e| {
            matches!(e, PortError::Unavailable(_))
        }),
    ];
    for (status, code, expected) in table {
        let rule = mock!(Client::get_alias)
            .sequence()
            .http_status(status, error_body(code, "no"))
            .build();
        let store = LambdaAliasStore::new(mocked(&[&rule]));
        let error = store.get_alias("orders", "live").await.unwrap_err();
        assert!(expected(&error), "{status} {code}: {error:?}");
        assert!(error.to_string().contains(code), "{error}");
    }
    // Nothing listening: a dispatch failure.
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "test"))
        .endpoint_url("http://127.0.0.1:9")
        .retry_config(RetryConfig::disabled())
        .build();
    let store = LambdaAliasStore::new(Client::from_conf(config));
    let error = store.get_alias("orders", "live").await.unwrap_err();
    assert!(matches!(error, PortError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn a_real_not_found_message_names_the_alias() {
    let rule = mock!(Client::get_alias)
        .sequence()
        .http_status(
            404,
            error_body(
                "ResourceNotFoundException",
                "Alias not found: arn:aws:lambda:us-east-1:123456789012:function:orders:live",
            ),
        )
        .build();
    let store = LambdaAliasStore::new(mocked(&[&rule]));
    let error = store.get_alias("orders", "live").await.unwrap_err();
    assert!(
        matches!(&error, PortError::NotFound(m) if m.starts_with("alias live of function orders")),
        "{error}"
    );
}
