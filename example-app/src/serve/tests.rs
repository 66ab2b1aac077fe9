//! `serve` in-process on a free port: tokens verified through the real JWKS URL, the upload
//! processor in the background, and a graceful shutdown.

use bytes::Bytes;
use http::{Method, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

use super::*;
use crate::embedded::signing_key_path;

async fn send(
    method: Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = http::Request::builder().method(method).uri(url);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let body = match body {
        Some(body) => {
            request = request.header("content-type", "application/json");
            Full::new(Bytes::from(body.to_string()))
        }
        None => Full::new(Bytes::new()),
    };
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_verifies_through_its_own_jwks_and_shuts_down() {
    let dir = tempfile::tempdir().unwrap();
    let options = ServeOptions::new(dir.path(), 0);
    let server = start(options.clone()).await.unwrap();
    let url = server.url().to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");

    let (status, health) = send(Method::GET, &format!("{url}/health"), None, None).await;
    assert_eq!((status, health), (StatusCode::OK, json!({"status": "ok"})));
    let (status, answer) = send(
        Method::POST,
        &format!("{url}/dev/token"),
        None,
        Some(json!({"user": "carol"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let token = answer["token"].as_str().unwrap().to_owned();
    let (status, created) = send(
        Method::POST,
        &format!("{url}/groups"),
        Some(&token),
        Some(json!({"name": "carol's"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["newItem"]["userId"], "carol");
    let (status, _) = send(
        Method::POST,
        &format!("{url}/groups"),
        Some(&format!("{token}x")),
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    server.shutdown().await;

    // The data survives a restart.
    let again = start(options).await.unwrap();
    let (status, groups) = send(Method::GET, &format!("{}/groups", again.url()), None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(groups["items"][0]["name"], "carol's");
    again.shutdown().await;
}

#[tokio::test]
async fn the_draining_service_serves_until_closed_then_answers_503() {
    let inner = tower::service_fn(|_request: http::Request<lambda_http::Body>| async {
        Ok::<_, lamina_middleware::errors::BoxError>(http::Response::new(lambda_http::Body::from(
            "served",
        )))
    });
    let api = DrainingService::new(inner);
    let request = || http::Request::new(lambda_http::Body::Empty);
    let response = tower::ServiceExt::oneshot(api.clone(), request())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.body().as_ref(), b"served");
    assert!(api.close_and_wait(Duration::from_millis(10)).await);
    let response = tower::ServiceExt::oneshot(api.clone(), request())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["connection"], "close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_whose_event_was_lost_are_processed_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let options = ServeOptions::new(dir.path(), 0);
    let server = start(options.clone()).await.unwrap();
    let url = server.url().to_owned();
    let (_, answer) = send(
        Method::POST,
        &format!("{url}/dev/token"),
        None,
        Some(json!({"user": "eve"})),
    )
    .await;
    let token = answer["token"].as_str().unwrap().to_owned();
    let (_, group) = send(
        Method::POST,
        &format!("{url}/groups"),
        Some(&token),
        Some(json!({"name": "g"})),
    )
    .await;
    let group = group["newItem"]["id"].as_str().unwrap().to_owned();
    let (_, image) = send(
        Method::POST,
        &format!("{url}/groups/{group}/images"),
        Some(&token),
        Some(json!({"title": "t", "contentType": "image/png"})),
    )
    .await;
    let id = image["newItem"]["imageId"].as_str().unwrap().to_owned();
    server.shutdown().await;

    // The bytes landed but the event died with the process.
    let key = std::fs::read(signing_key_path(dir.path())).unwrap();
    let blobs = FileBlobStore::open(&blobs_dir(dir.path()), "http://127.0.0.1:1", key).unwrap();
    let picture = image::RgbImage::from_pixel(40, 20, image::Rgb([0, 90, 200]));
    let mut png = std::io::Cursor::new(Vec::new());
    picture.write_to(&mut png, image::ImageFormat::Png).unwrap();
    crate::ports::BlobStore::put_blob(&blobs, &id, png.into_inner().into(), "image/png")
        .await
        .unwrap();

    let again = start(options).await.unwrap();
    let mut status = Value::Null;
    for _ in 0..50 {
        let (_, image) = send(
            Method::GET,
            &format!("{}/images/{id}", again.url()),
            None,
            None,
        )
        .await;
        status = image["status"].clone();
        if status == "ready" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, "ready");
    again.shutdown().await;
}

#[tokio::test]
async fn the_signing_key_is_read_from_the_data_directory_and_a_short_one_refused() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(
        signing_key_path(dir.path()),
        dir.path().join(SIGNING_KEY_NAME)
    );
    let options = || ServeOptions::new(dir.path(), 0);
    start(options()).await.unwrap().shutdown().await;
    assert_eq!(
        std::fs::read(signing_key_path(dir.path())).unwrap().len(),
        32
    );

    std::fs::write(signing_key_path(dir.path()), b"0123456789").unwrap();
    let error = start(options()).await.unwrap_err();
    let message = format!("{error:#}");
    assert!(message.contains("not 32 bytes long"), "{message}");
    assert!(
        !message.contains("0123456789"),
        "the key never shows: {message}"
    );
}
