//! The stand-in over HTTP with requests signed by `aws-sigv4`: what it serves, and that it
//! refuses every kind of bad signature.

use std::time::{Duration, SystemTime};

use aws_sigv4::{
    http_request::{PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings, sign},
    sign::v4,
};
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::Full;
use hyper_util::{client::legacy::Client, rt::TokioExecutor};

use super::*;

fn credentials() -> Credentials {
    Credentials::new("AKIDSTANDIN", "stand-in-secret", None, None, "test")
}

/// How to sign (and spoil) one request.
#[derive(Clone)]
struct Signing {
    credentials: Credentials,
    region: &'static str,
    service: &'static str,
    time: SystemTime,
    /// Sent instead of the signed body, when set.
    swap_body: Option<&'static str>,
    sign: bool,
}

impl Default for Signing {
    fn default() -> Self {
        Self {
            credentials: credentials(),
            region: "us-east-1",
            service: SERVICE,
            time: SystemTime::now(),
            swap_body: None,
            sign: true,
        }
    }
}

async fn call(
    server: &OpenSearchServer,
    method: &str,
    path: &str,
    body: &str,
    signing: &Signing,
) -> (u16, Value) {
    let url = format!("{}{path}", server.endpoint_url());
    let host = server
        .endpoint_url()
        .trim_start_matches("http://")
        .to_owned();
    let mut request = http::Request::builder()
        .method(method)
        .uri(&url)
        .header("host", &host)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(
            signing.swap_body.unwrap_or(body).to_owned(),
        )))
        .unwrap();
    if signing.sign {
        let identity: Identity = signing.credentials.clone().into();
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(signing.region)
            .name(signing.service)
            .time(signing.time)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let signable = SignableRequest::new(
            method,
            &url,
            [
                ("host", host.as_str()),
                ("content-type", "application/json"),
            ]
            .into_iter(),
            SignableBody::Bytes(body.as_bytes()),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        instructions.apply_to_request_http1x(&mut request);
    }
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, value)
}

async fn ok(server: &OpenSearchServer, method: &str, path: &str, body: &str) -> (u16, Value) {
    call(server, method, path, body, &Signing::default()).await
}

#[tokio::test]
async fn missing_wrong_and_stale_signatures_are_refused() {
    let server = OpenSearchServer::start(credentials(), "us-east-1")
        .await
        .unwrap();
    let body = r#"{"title":"x"}"#;
    let cases = [
        (
            "unsigned",
            Signing {
                sign: false,
                ..Signing::default()
            },
        ),
        (
            "wrong secret",
            Signing {
                credentials: Credentials::new("AKIDSTANDIN", "guess", None, None, "t"),
                ..Signing::default()
            },
        ),
        (
            "wrong access key",
            Signing {
                credentials: Credentials::new("AKIDOTHER", "stand-in-secret", None, None, "t"),
                ..Signing::default()
            },
        ),
        (
            "unexpected session token",
            Signing {
                credentials: Credentials::new(
                    "AKIDSTANDIN",
                    "stand-in-secret",
                    Some("tok".into()),
                    None,
                    "t",
                ),
                ..Signing::default()
            },
        ),
        (
            "wrong region",
            Signing {
                region: "eu-west-1",
                ..Signing::default()
            },
        ),
        (
            "wrong service",
            Signing {
                service: "s3",
                ..Signing::default()
            },
        ),
        (
            "ten minutes old",
            Signing {
                time: SystemTime::now() - Duration::from_secs(600),
                ..Signing::default()
            },
        ),
        (
            "ten minutes ahead",
            Signing {
                time: SystemTime::now() + Duration::from_secs(600),
                ..Signing::default()
            },
        ),
        (
            "body swapped after signing",
            Signing {
                swap_body: Some(r#"{"title":"y"}"#),
                ..Signing::default()
            },
        ),
    ];
    for (n, (what, signing)) in cases.iter().enumerate() {
        let (status, answer) = call(&server, "PUT", "/images/_doc/a", body, signing).await;
        assert_eq!(status, 403, "{what}: {answer}");
        assert!(answer["message"].is_string(), "{what}: {answer}");
        assert!(
            !answer.to_string().contains("stand-in-secret"),
            "{what}: {answer}"
        );
        assert_eq!(server.requests_refused(), n as u64 + 1);
    }
    assert_eq!(server.document("images", "a"), None, "nothing stored");
    let (status, _) = ok(&server, "PUT", "/images/_doc/a", body).await;
    assert_eq!(status, 201);
    assert_eq!(server.document("images", "a"), Some(json!({"title": "x"})));
    // A signature made four minutes ago is still fresh; query strings are signed too.
    let recent = Signing {
        time: SystemTime::now() - Duration::from_secs(240),
        ..Signing::default()
    };
    let (status, _) = call(&server, "GET", "/images/_doc/a?pretty=false", "", &recent).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn unknown_indices_are_404_in_opensearch_shape() {
    let server = OpenSearchServer::start(credentials(), "us-east-1")
        .await
        .unwrap();
    for (method, path) in [
        ("POST", "/nope/_search"),
        ("GET", "/nope/_doc/x"),
        ("DELETE", "/nope/_doc/x"),
        ("GET", "/nope"),
    ] {
        let (status, answer) = ok(&server, method, path, "").await;
        assert_eq!(status, 404, "{method} {path}");
        assert_eq!(answer["error"]["type"], "index_not_found_exception");
        assert_eq!(answer["status"], 404);
    }
}

#[tokio::test]
async fn indices_documents_and_match_searches_behave_like_opensearch() {
    let server = OpenSearchServer::start(credentials(), "us-east-1")
        .await
        .unwrap();
    let mapping = r#"{"mappings":{"properties":{"title":{"type":"text"}}}}"#;
    assert_eq!(ok(&server, "PUT", "/images", mapping).await.0, 200);
    let (status, answer) = ok(&server, "PUT", "/images", mapping).await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["type"], "resource_already_exists_exception");
    let docs = [
        ("1", "Café au lait", "2026-01-01"),
        ("2", "cafe racer", "2026-01-02"),
        ("3", "CAFÉ café terrace", "2026-01-03"),
        ("4", "tea house", "2026-01-04"),
    ];
    for (id, title, ts) in docs {
        let body = json!({"title": title, "timestamp": ts}).to_string();
        assert_eq!(
            ok(&server, "PUT", &format!("/images/_doc/{id}"), &body)
                .await
                .0,
            201
        );
    }
    let search = |query: &str, operator: &str, size: u32| {
        json!({"size": size, "query": {"match": {"title": {"query": query, "operator": operator}}},
               "sort": ["_score", {"timestamp": "desc"}]})
        .to_string()
    };
    let ids = |answer: &Value| -> Vec<String> {
        answer["hits"]["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, answer) = ok(
        &server,
        "POST",
        "/images/_search",
        &search("café", "and", 10),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&answer), ["3", "1"], "tf 2 first; cafe is another word");
    assert_eq!(
        answer["hits"]["hits"][0]["_source"]["title"],
        "CAFÉ café terrace"
    );
    assert_eq!(answer["hits"]["hits"][0]["_score"], 2.0);
    let (_, answer) = ok(
        &server,
        "GET",
        "/images/_search",
        &search("café lait", "and", 10),
    )
    .await;
    assert_eq!(ids(&answer), ["1"]);
    let (_, answer) = ok(
        &server,
        "POST",
        "/images/_search",
        &search("lait tea", "or", 10),
    )
    .await;
    assert_eq!(ids(&answer), ["4", "1"], "equal scores: newest first");
    let (_, answer) = ok(&server, "POST", "/images/_search", &search("café", "or", 1)).await;
    assert_eq!(ids(&answer), ["3"]);
    let (status, _) = ok(&server, "DELETE", "/images/_doc/3", "").await;
    assert_eq!(status, 200);
    let (status, answer) = ok(&server, "DELETE", "/images/_doc/3", "").await;
    assert_eq!((status, &answer["result"]), (404, &json!("not_found")));
    let (_, answer) = ok(
        &server,
        "POST",
        "/images/_search",
        &search("café", "and", 10),
    )
    .await;
    assert_eq!(ids(&answer), ["1"]);
    let (status, answer) = ok(&server, "POST", "/images/_search", "{not json").await;
    assert_eq!(
        (status, &answer["error"]["type"]),
        (400, &json!("parsing_exception"))
    );
}
