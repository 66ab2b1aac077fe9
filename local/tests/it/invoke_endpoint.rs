//! Lambda's Invoke API on loopback: what `curl` and the AWS CLI/SDKs see.

use base64::Engine as _;
use lamina_local::emulator::{EmulatorError, InvokeEndpoint};
use serde_json::{Value, json};

use crate::support::{echo_config, emulator, post};

async fn endpoint() -> InvokeEndpoint {
    InvokeEndpoint::bind(
        emulator(echo_config().function_name("echo")).await,
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

fn header<'a>(response: &'a crate::support::HttpResponse, name: &str) -> Option<&'a str> {
    response.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_post_invokes_the_function_and_returns_its_body() {
    let endpoint = endpoint().await;
    let trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    let response = post(
        &endpoint.invocations_url(),
        &[("x-amzn-trace-id", trace)],
        r#"{"echo": "hi"}"#,
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body);
    let body: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(body["echo"], "hi");
    assert_eq!(body["trace_id"], trace);
    assert_eq!(header(&response, "x-amz-executed-version"), Some("$LATEST"));
    assert_eq!(
        header(&response, "x-amzn-requestid"),
        body["request_id"].as_str()
    );
    assert_eq!(header(&response, "x-amz-function-error"), None);

    // The function's own name and ARN address it too; other names do not.
    let by_name = format!(
        "http://{}/2015-03-31/functions/echo/invocations",
        endpoint.local_addr()
    );
    assert_eq!(post(&by_name, &[], "{}").await.status, 200);
    let other = format!(
        "http://{}/2015-03-31/functions/other/invocations",
        endpoint.local_addr()
    );
    let response = post(&other, &[], "{}").await;
    assert_eq!(response.status, 404);
    assert_eq!(
        header(&response, "x-amzn-errortype"),
        Some("ResourceNotFoundException")
    );
    endpoint.shutdown().await;
}

#[tokio::test]
async fn a_failed_invocation_is_200_with_the_function_error_header() {
    let endpoint = endpoint().await;
    let response = post(&endpoint.invocations_url(), &[], r#"{"error": "nope"}"#).await;
    assert_eq!(response.status, 200);
    assert_eq!(header(&response, "x-amz-function-error"), Some("Unhandled"));
    let body: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(
        body,
        json!({"errorType": "EchoError", "errorMessage": "nope"})
    );
}

#[tokio::test]
async fn a_clients_mistake_is_a_4xx_not_a_5xx() {
    let endpoint = endpoint().await;
    let url = endpoint.invocations_url();
    type Headers<'a> = &'a [(&'a str, &'a str)];
    let cases: [(Headers<'_>, &str, u16, &str); 4] = [
        (&[], "{not json", 400, "InvalidRequestContentException"),
        (
            &[("x-amz-client-context", "%%%")],
            "{}",
            400,
            "InvalidRequestContentException",
        ),
        (
            &[("x-amzn-trace-id", "Root=bad")],
            "{}",
            400,
            "InvalidParameterValueException",
        ),
        (
            &[("x-amz-invocation-type", "Sometimes")],
            "{}",
            400,
            "InvalidParameterValueException",
        ),
    ];
    for (headers, body, status, kind) in cases {
        let response = post(&url, headers, body).await;
        assert_eq!(
            response.status, status,
            "{headers:?} {body}: {}",
            response.body
        );
        assert_eq!(header(&response, "x-amzn-errortype"), Some(kind));
    }
    let too_large = format!("\"{}\"", "x".repeat(6 * 1024 * 1024));
    let response = post(&url, &[], &too_large).await;
    assert_eq!(response.status, 413);
    assert_eq!(
        header(&response, "x-amzn-errortype"),
        Some("RequestTooLargeException")
    );
    // After all that, the function still answers.
    assert_eq!(post(&url, &[], r#"{"echo": 1}"#).await.status, 200);
}

#[tokio::test]
async fn invocation_types_and_the_log_tail() {
    let endpoint = endpoint().await;
    let url = endpoint.invocations_url();
    assert_eq!(
        post(&url, &[("x-amz-invocation-type", "DryRun")], "{}")
            .await
            .status,
        204
    );
    assert_eq!(
        post(&url, &[("x-amz-invocation-type", "Event")], "{}")
            .await
            .status,
        202
    );

    let context = base64::engine::general_purpose::STANDARD.encode(r#"{"custom":{"k":"v"}}"#);
    let response = post(
        &url,
        &[
            ("x-amz-log-type", "Tail"),
            ("x-amz-client-context", &context),
        ],
        "{}",
    )
    .await;
    assert_eq!(response.status, 200);
    let body: Value = serde_json::from_str(&response.body).unwrap();
    assert_eq!(body["client_context"]["custom"], json!({"k": "v"}));
    let tail = header(&response, "x-amz-log-result").unwrap();
    let tail = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(tail)
            .unwrap(),
    )
    .unwrap();
    assert!(
        tail.contains(&format!(
            "REPORT RequestId: {}",
            body["request_id"].as_str().unwrap()
        )),
        "{tail}"
    );
}

#[tokio::test]
async fn boto3_invokes_through_the_endpoint() {
    // An independent client: the AWS SDK for Python, pointed at the endpoint as at Lambda.
    let endpoint = endpoint().await;
    let script = format!(
        r#"
import json, boto3
client = boto3.client("lambda", endpoint_url="http://{addr}", region_name="us-east-1",
                      aws_access_key_id="x", aws_secret_access_key="x")
ok = client.invoke(FunctionName="function", Payload=json.dumps({{"echo": "from boto3"}}))
failed = client.invoke(FunctionName="function", Payload=json.dumps({{"error": "bad"}}))
print(json.dumps({{"ok": json.loads(ok["Payload"].read()), "status": ok["StatusCode"],
                  "error": failed.get("FunctionError"), "error_body": json.loads(failed["Payload"].read())}}))
"#,
        addr = endpoint.local_addr()
    );
    let output = tokio::process::Command::new("python3")
        .args(["-c", &script])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "boto3 failed (install it with `python3 -m pip install boto3`): {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let result: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(result["status"], 200);
    assert_eq!(result["ok"]["echo"], "from boto3");
    assert_eq!(result["error"], "Unhandled");
    assert_eq!(result["error_body"]["errorType"], "EchoError");
}

#[tokio::test]
async fn a_port_in_use_is_a_clear_error() {
    let taken = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = taken.local_addr().unwrap();
    let result = InvokeEndpoint::bind(emulator(echo_config()).await, address).await;
    match result {
        Err(error @ EmulatorError::Listen { .. }) => {
            assert!(error.to_string().contains(&address.to_string()), "{error}");
        }
        other => panic!("expected a listen error, got {other:?}"),
    }
}
