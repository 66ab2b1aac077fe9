//! Tests of `process-upload` with the embedded adapters and SNS/S3 events as AWS sends them.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::domain::thumbnail_key;
use crate::domain::{Image, ImageStatus, Page, PageRequest};
use crate::embedded::EmbeddedStore;
use crate::ports::{BlobStore as _, BoxFuture, ImageStore};
use crate::test_support::{LaggingImages, fixture, png, s3_record, sns_event, sns_record};

const CREATED: &str = "ObjectCreated:Put";

#[tokio::test]
async fn several_uploads_in_several_records_become_ready_and_are_announced() {
    let f = fixture().await;
    let (_client, mut rx) = f.client().await;
    let a = f.uploaded("a", png(40, 20), "image/png").await;
    let b = f.uploaded("b", png(20, 20), "image/png").await;
    let c = f.uploaded("c", png(10, 30), "image/png").await;
    // S3 escapes nothing in a UUID, but the handler must decode every key: `%30` is `0`.
    let c_key = format!("%{:x}{}", c.image_id.as_bytes()[0], &c.image_id[1..]);
    let event = sns_event(&[
        (
            "m1",
            vec![
                s3_record(CREATED, &a.image_id, 100),
                s3_record("ObjectCreated:CompleteMultipartUpload", &b.image_id, 100),
            ],
        ),
        ("m2", vec![s3_record(CREATED, &c_key, 100)]),
    ]);
    let summary = handle_uploads(&f.processor(), event).await.unwrap();
    assert_eq!(
        summary,
        UploadSummary {
            ready: 3,
            ..UploadSummary::default()
        }
    );
    for image in [&a, &b, &c] {
        let stored = f.image(&image.image_id).await;
        assert_eq!(stored.status, ImageStatus::Ready);
        let thumb = thumbnail_key(&image.image_id);
        assert_eq!(stored.thumbnail_url, Some(f.blobs.read_url(&thumb)));
        let notice: serde_json::Value = serde_json::from_slice(&rx.recv().await.unwrap()).unwrap();
        assert_eq!(notice["imageId"], image.image_id.as_str());
        assert_eq!(notice["type"], "imageReady");
    }
}

#[tokio::test]
async fn a_duplicate_delivery_changes_nothing() {
    let f = fixture().await;
    let (_client, mut rx) = f.client().await;
    let image = f.uploaded("twice", png(30, 30), "image/png").await;
    let event = || sns_event(&[("m1", vec![s3_record(CREATED, &image.image_id, 50)])]);
    let first = handle_uploads(&f.processor(), event()).await.unwrap();
    assert_eq!(first.ready, 1);
    let ready = f.image(&image.image_id).await;
    rx.recv().await.unwrap();

    let second = handle_uploads(&f.processor(), event()).await.unwrap();
    assert_eq!(
        second,
        UploadSummary {
            already_ready: 1,
            ..UploadSummary::default()
        }
    );
    assert_eq!(f.image(&image.image_id).await, ready);
    assert!(rx.try_recv().is_err(), "no second notice");
}

#[tokio::test]
async fn thumbnails_foreign_keys_and_other_events_are_ignored() {
    let f = fixture().await;
    let image = f.uploaded("pending", png(30, 30), "image/png").await;
    let id = &image.image_id;
    let records = vec![
        s3_record(CREATED, &thumbnail_key(id), 10),
        s3_record(CREATED, "my+holiday+photo%281%29.jpg", 10),
        s3_record(CREATED, &format!("..%2F{id}"), 10),
        s3_record(CREATED, &id.to_uppercase(), 10),
        s3_record(CREATED, "%E2%82", 10),
        s3_record("ObjectRemoved:Delete", id, 10),
    ];
    let ignored = records.len();
    let event = sns_event(&[("m1", records)]);
    let summary = handle_uploads(&f.processor(), event).await.unwrap();
    assert_eq!(
        summary,
        UploadSummary {
            ignored,
            ..UploadSummary::default()
        }
    );
    assert_eq!(f.image(id).await.status, ImageStatus::Pending);
}

#[tokio::test]
async fn a_message_that_is_not_an_s3_event_is_ignored() {
    let f = fixture().await;
    let test_event = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2026-11-28T20:00:00.000Z","Bucket":"udagram-images","RequestId":"5582815E1AEA5ADF","HostId":"8cLeGAmw098X5cv4Zkwcmo8vvZa3eH3eKxsPzbB9wrR+YstdA6Knx4Ip8EXAMPLE"}"#;
    let event: SnsEvent = serde_json::from_value(serde_json::json!({
        "Records": [sns_record("m1", test_event), sns_record("m2", "not json")]
    }))
    .unwrap();
    let summary = handle_uploads(&f.processor(), event).await.unwrap();
    assert_eq!(summary.ignored, 2);
}

#[tokio::test]
async fn bad_uploads_stay_pending_without_failing_the_invocation() {
    let f = fixture().await;
    let not_an_image = f
        .uploaded("text", b"hello, not a png".to_vec(), "image/png")
        .await;
    let too_large = f.uploaded("huge", png(10, 10), "image/png").await;
    let no_bytes = f.pending("never uploaded").await;
    let event = sns_event(&[(
        "m1",
        vec![
            s3_record(CREATED, &not_an_image.image_id, 16),
            s3_record(
                CREATED,
                &too_large.image_id,
                crate::app::MAX_UPLOAD_BYTES + 1,
            ),
            s3_record(CREATED, &no_bytes.image_id, 10),
        ],
    )]);
    let summary = handle_uploads(&f.processor(), event).await.unwrap();
    assert_eq!(
        summary,
        UploadSummary {
            rejected: 3,
            ..UploadSummary::default()
        }
    );
    for image in [&not_an_image, &too_large, &no_bytes] {
        let stored = f.image(&image.image_id).await;
        assert_eq!(stored.status, ImageStatus::Pending, "{}", image.title);
        let thumb = thumbnail_key(&image.image_id);
        assert!(f.blobs.get_blob(&thumb).await.unwrap().is_none());
    }
}

/// The embedded image store, except that `get_image` fails for one id.
#[derive(Debug)]
struct FailingFor {
    inner: EmbeddedStore,
    image_id: String,
}

impl ImageStore for FailingFor {
    fn get_image<'a>(&'a self, id: &'a str) -> BoxFuture<'a, Result<Option<Image>, PortError>> {
        if id == self.image_id {
            return Box::pin(async { Err(PortError::Unavailable("throttled".into())) });
        }
        self.inner.get_image(id)
    }
    fn list_images<'a>(
        &'a self,
        group_id: &'a str,
        page: &'a PageRequest,
    ) -> BoxFuture<'a, Result<Page<Image>, PortError>> {
        self.inner.list_images(group_id, page)
    }
    fn mark_ready<'a>(
        &'a self,
        image: &'a Image,
        thumbnail_url: &'a str,
    ) -> BoxFuture<'a, Result<bool, PortError>> {
        self.inner.mark_ready(image, thumbnail_url)
    }
}

#[tokio::test]
async fn a_failed_upload_fails_the_invocation_after_the_others_are_done() {
    let f = fixture().await;
    let good = f.uploaded("good", png(20, 20), "image/png").await;
    let bad = f.uploaded("bad", png(20, 20), "image/png").await;
    let processor = f.processor_with_images(Arc::new(FailingFor {
        inner: f.store.clone(),
        image_id: bad.image_id.clone(),
    }));
    let event = || {
        sns_event(&[
            ("m1", vec![s3_record(CREATED, &bad.image_id, 10)]),
            ("m2", vec![s3_record(CREATED, &good.image_id, 10)]),
        ])
    };
    let error = handle_uploads(&processor, event()).await.unwrap_err();
    let UploadError::Failed { failed, summary } = &error;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].image_id, bad.image_id);
    assert_eq!(failed[0].message_id, "m1");
    assert_eq!(summary.ready, 1);
    assert!(error.to_string().contains(&bad.image_id), "{error}");
    let diagnostic = Diagnostic::from(error.clone());
    assert_eq!(diagnostic.error_type, "UploadError.Failed");
    assert_eq!(f.image(&good.image_id).await.status, ImageStatus::Ready);
    assert_eq!(f.image(&bad.image_id).await.status, ImageStatus::Pending);

    // Lambda's retry of the whole event, once the store is back, finishes the job.
    let summary = handle_uploads(&f.processor(), event()).await.unwrap();
    assert_eq!((summary.ready, summary.already_ready), (1, 1));
}

/// An upload whose record the image-id index does not show yet is not dropped: the invocation
/// fails, so that Lambda delivers the event again, and the redelivery makes the image ready.
#[tokio::test]
async fn an_upload_whose_record_is_not_visible_yet_fails_the_invocation() {
    let f = fixture().await;
    let images = Arc::new(LaggingImages::new(f.store.clone(), 3));
    let late = f.pending_in(images.as_ref(), "late").await;
    f.blobs
        .put_blob(&late.image_id, png(20, 20).into(), "image/png")
        .await
        .unwrap();
    let processor = f.processor_with_images(images);
    let event = || sns_event(&[("m1", vec![s3_record(CREATED, &late.image_id, 10)])]);

    let error = handle_uploads(&processor, event()).await.unwrap_err();
    let UploadError::Failed { failed, summary } = &error;
    assert_eq!(failed.len(), 1);
    assert!(matches!(failed[0].error, PortError::NotVisibleYet(_)));
    assert_eq!(summary, &UploadSummary::default());
    assert_eq!(f.image(&late.image_id).await.status, ImageStatus::Pending);

    let summary = handle_uploads(&processor, event()).await.unwrap();
    assert_eq!(summary.ready, 1);
    assert_eq!(f.image(&late.image_id).await.status, ImageStatus::Ready);
}

#[test]
fn s3_keys_are_decoded_like_form_data() {
    let cases = [
        ("Happy+Face.jpg", Some("Happy Face.jpg")),
        ("Happy%20Face%28x%29.jpg", Some("Happy Face(x).jpg")),
        ("%E2%82%AC", Some("€")),
        ("a%2Bb", Some("a+b")),
        ("plain", Some("plain")),
        ("", Some("")),
        ("%2", None),
        ("%zz", None),
        ("%+1", None),
        ("%FF", None),
        ("trailing%", None),
    ];
    for (key, expected) in cases {
        assert_eq!(decode_s3_key(key).as_deref(), expected, "{key:?}");
    }
}

/// What S3 does to a key in an event: form-style escaping of everything but unreserved bytes.
fn encode_like_s3(key: &str) -> String {
    key.bytes()
        .map(|b| match b {
            b' ' => "+".to_owned(),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

proptest! {
    #[test]
    fn decoding_undoes_s3s_encoding(key in "\\PC{0,40}") {
        prop_assert_eq!(decode_s3_key(&encode_like_s3(&key)), Some(key));
    }

    #[test]
    fn decoding_never_panics(key in "[%+a-fA-F0-9\\PC]{0,40}") {
        let _ = decode_s3_key(&key);
    }
}
