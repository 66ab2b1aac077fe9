//! The S3 adapter through [`BlobStore`], against a real `moto_server`.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::{client::legacy::Client as HttpClient, rt::TokioExecutor};
use lamina_local::moto::MotoServer;

use super::*;

const BUCKET: &str = "images-test";
const KEY: &str = "0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b";

async fn store() -> (MotoServer, S3BlobStore) {
    let moto = MotoServer::start().await.unwrap();
    let config = aws_sdk_s3::config::Builder::from(moto.sdk_config())
        .force_path_style(true)
        .build();
    let client = Client::from_conf(config);
    client.create_bucket().bucket(BUCKET).send().await.unwrap();
    let public = format!("{}/{BUCKET}/", moto.endpoint_url());
    (moto, S3BlobStore::new(client, BUCKET, public))
}

async fn put(url: &str, content_type: &str, body: &'static [u8]) -> (u16, String) {
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = http::Request::put(url)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from_static(body)))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn blobs_round_trip_with_their_content_type_and_missing_ones_are_none() {
    let (_moto, store) = store().await;
    assert_eq!(store.get_blob(KEY).await.unwrap(), None);
    store
        .put_blob(KEY, Bytes::from_static(b"first"), "image/png")
        .await
        .unwrap();
    let thumb = format!("{KEY}.thumb.png");
    store
        .put_blob(&thumb, Bytes::from_static(b"small"), "image/png")
        .await
        .unwrap();
    store
        .put_blob(KEY, Bytes::from_static(b"second"), "image/jpeg")
        .await
        .unwrap();
    assert_eq!(
        store.get_blob(KEY).await.unwrap(),
        Some((Bytes::from_static(b"second"), "image/jpeg".to_owned()))
    );
    assert_eq!(
        store.get_blob(&thumb).await.unwrap().unwrap().0,
        Bytes::from_static(b"small")
    );
}

#[tokio::test]
async fn bad_keys_and_content_types_are_refused_before_s3() {
    let (_moto, store) = store().await;
    for key in [
        "",
        "../etc/passwd",
        "a/b",
        "0B6F7C9E-3D1A-4F5E-9C2B-8A7D6E5F4C3B",
        "x.thumb.png",
    ] {
        assert!(
            matches!(
                store.put_blob(key, Bytes::new(), "image/png").await,
                Err(PortError::Invalid(_))
            ),
            "{key}"
        );
        assert!(matches!(
            store.get_blob(key).await,
            Err(PortError::Invalid(_))
        ));
        assert!(matches!(
            store
                .upload_url(key, "image/png", 10, Duration::from_secs(300))
                .await,
            Err(PortError::Invalid(_))
        ));
    }
    for content_type in ["", "image/png\r\nx-amz-acl: public-read", "é"] {
        assert!(matches!(
            store.put_blob(KEY, Bytes::new(), content_type).await,
            Err(PortError::Invalid(_))
        ));
    }
    assert_eq!(store.get_blob(KEY).await.unwrap(), None, "nothing stored");
}

#[tokio::test]
async fn the_upload_url_is_a_presigned_put_with_the_content_type_signed() {
    let (moto, store) = store().await;
    let upload = store
        .upload_url(KEY, "image/png", 1024, Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(upload.content_type, "image/png");
    assert_eq!(upload.max_bytes, 1024);
    assert_eq!(upload.expires_in, Duration::from_secs(300));
    let url = url_parts(&upload.url);
    assert!(
        upload
            .url
            .starts_with(&format!("{}/{BUCKET}/{KEY}?", moto.endpoint_url())),
        "{}",
        upload.url
    );
    assert_eq!(url("X-Amz-Expires").as_deref(), Some("300"));
    let signed = url("X-Amz-SignedHeaders").unwrap();
    assert!(
        signed.split("%3B").any(|h| h == "content-type"),
        "content-type must be signed: {signed}"
    );
    assert!(url("X-Amz-Signature").is_some());
    // moto does not validate presigned signatures (a wrong content type would be accepted
    // too), so this proves the URL's shape and that S3's API takes the PUT, not the signature.
    let (status, body) = put(&upload.url, "image/png", b"\x89PNG bytes").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        store.get_blob(KEY).await.unwrap(),
        Some((Bytes::from_static(b"\x89PNG bytes"), "image/png".to_owned()))
    );
    assert!(matches!(
        store
            .upload_url(KEY, "image/png", 1, Duration::from_secs(8 * 24 * 3600))
            .await,
        Err(PortError::Invalid(_))
    ));
}

#[tokio::test]
async fn read_urls_are_the_public_url_and_the_key() {
    let (moto, store) = store().await;
    // What the template gives the images bucket: anonymous reads of its objects.
    let policy = serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": format!("arn:aws:s3:::{BUCKET}/*"),
        }],
    });
    store
        .client
        .put_bucket_policy()
        .bucket(BUCKET)
        .policy(policy.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        store.read_url(KEY),
        format!("{}/{BUCKET}/{KEY}", moto.endpoint_url())
    );
    store
        .put_blob(KEY, Bytes::from_static(b"public"), "image/png")
        .await
        .unwrap();
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let response = client
        .get(store.read_url(KEY).parse().unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, Bytes::from_static(b"public"));
}

/// Looks up a query parameter of `url` (as it appears, still percent-encoded).
fn url_parts(url: &str) -> impl Fn(&str) -> Option<String> + '_ {
    move |name| {
        let query = url.split_once('?')?.1;
        query.split('&').find_map(|pair| {
            let (k, v) = pair.split_once('=')?;
            (k == name).then(|| v.to_owned())
        })
    }
}
