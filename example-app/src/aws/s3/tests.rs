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
    let credentials = moto.sdk_config().credentials_provider();
    (moto, S3BlobStore::new(client, credentials, BUCKET, public))
}

async fn post_form(
    url: &str,
    fields: &std::collections::BTreeMap<String, String>,
    content_type: &str,
    file: &[u8],
) -> (u16, String) {
    let (form_type, body) = crate::post_policy::form_body(fields, content_type, file);
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = http::Request::post(url)
        .header("content-type", form_type)
        .body(Full::new(Bytes::from(body)))
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
                .upload_form(key, "image/png", 10, Duration::from_secs(300))
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
async fn the_upload_form_is_a_presigned_post_that_moto_takes() {
    let (moto, store) = store().await;
    let upload = store
        .upload_form(KEY, "image/png", 1024, Duration::from_secs(300))
        .await
        .unwrap();
    assert_eq!(upload.content_type, "image/png");
    assert_eq!(upload.max_bytes, 1024);
    assert_eq!(upload.expires_in, Duration::from_secs(300));
    assert_eq!(upload.url, format!("{}/{BUCKET}", moto.endpoint_url()));
    assert_eq!(upload.fields["key"], KEY);
    assert_eq!(upload.fields["Content-Type"], "image/png");
    let policy = crate::post_policy::decode_policy(&upload.fields["policy"]).unwrap();
    let conditions = policy["conditions"].as_array().unwrap();
    for expected in [
        serde_json::json!({ "bucket": BUCKET }),
        serde_json::json!({ "key": KEY }),
        serde_json::json!({ "Content-Type": "image/png" }),
        serde_json::json!(["content-length-range", 1, 1024]),
    ] {
        assert!(conditions.contains(&expected), "{expected} in {policy}");
    }
    // moto takes POST Object but does not enforce policies: this proves the form's shape and
    // that S3's API stores what it carries; `post_policy`'s tests prove the policy and signature.
    let (status, body) =
        post_form(&upload.url, &upload.fields, "image/png", b"\x89PNG bytes").await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(
        store.get_blob(KEY).await.unwrap(),
        Some((Bytes::from_static(b"\x89PNG bytes"), "image/png".to_owned()))
    );
    for lifetime in [Duration::ZERO, Duration::from_secs(8 * 24 * 3600)] {
        assert!(matches!(
            store.upload_form(KEY, "image/png", 1, lifetime).await,
            Err(PortError::Invalid(_))
        ));
    }
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
