//! Tests of upload processing.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use image::ImageFormat;

use super::*;
use crate::{
    domain::{Connection, thumbnail_key},
    embedded::ChannelBus,
    ports::{EventBus, ImageSearch as _},
    test_support::{LaggingImages, encode, fixture},
};

#[tokio::test]
async fn png_and_jpeg_uploads_become_ready_with_thumbnails_and_notices() {
    let f = fixture().await;
    let (a, mut rx_a) = f.client().await;
    let (_b, mut rx_b) = f.client().await;
    // Recorded but no longer connected: the hub says Gone, so it is removed.
    f.store
        .add_connection(&Connection {
            id: "stale".into(),
            timestamp: "t".into(),
            expires_at: None,
        })
        .await
        .unwrap();

    let cases = [
        (ImageFormat::Png, "image/png", 600, 400, 100, 1),
        (ImageFormat::Jpeg, "image/jpeg", 300, 450, 225, 0),
    ];
    for (format, kind, w, h, want_h, want_removed) in cases {
        let event = f.upload("sunset photo", encode(w, h, format), kind).await;
        let outcome = f.processor().process(&event).await.unwrap();
        assert_eq!(
            outcome,
            ProcessOutcome::Ready {
                notified: 2,
                removed: want_removed
            }
        );

        let thumb_key = thumbnail_key(&event.image_id);
        let (png, thumb_type) = f.blobs.get_blob(&thumb_key).await.unwrap().unwrap();
        assert_eq!(thumb_type, "image/png");
        let thumb = image::load_from_memory_with_format(&png, ImageFormat::Png).unwrap();
        assert_eq!((thumb.width(), thumb.height()), (150, want_h), "{kind}");

        let image = f.image(&event.image_id).await;
        assert_eq!(image.status, ImageStatus::Ready);
        assert_eq!(image.thumbnail_url, Some(f.blobs.read_url(&thumb_key)));

        let want = serde_json::json!({
            "type": "imageReady", "imageId": event.image_id, "groupId": f.group_id,
        });
        for rx in [&mut rx_a, &mut rx_b] {
            let got: serde_json::Value = serde_json::from_slice(&rx.try_recv().unwrap()).unwrap();
            assert_eq!(got, want);
        }
    }
    let left: Vec<String> = f
        .store
        .list_connections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert!(
        left.contains(&a) && !left.contains(&"stale".to_owned()),
        "{left:?}"
    );
    let found = f.store.search("sunset", 10).await.unwrap();
    assert_eq!(found.len(), 2);
    assert!(found.iter().all(|i| i.status == ImageStatus::Ready));
}

#[tokio::test]
async fn the_same_event_twice_changes_nothing() {
    let f = fixture().await;
    let (_id, mut rx) = f.client().await;
    let event = f
        .upload("twice", encode(20, 10, ImageFormat::Png), "image/png")
        .await;
    assert!(matches!(
        f.processor().process(&event).await.unwrap(),
        ProcessOutcome::Ready { .. }
    ));
    let thumb_key = thumbnail_key(&event.image_id);
    let before = (
        f.image(&event.image_id).await,
        f.blobs.get_blob(&thumb_key).await.unwrap(),
    );
    rx.try_recv().unwrap();

    assert_eq!(
        f.processor().process(&event).await.unwrap(),
        ProcessOutcome::AlreadyReady
    );
    let after = (
        f.image(&event.image_id).await,
        f.blobs.get_blob(&thumb_key).await.unwrap(),
    );
    assert_eq!(before, after);
    assert!(rx.try_recv().is_err(), "no second notice");
    assert_eq!(f.store.search("twice", 10).await.unwrap().len(), 1);
}

/// A `tracing` writer that keeps what is logged.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn unusable_uploads_stay_pending_with_a_logged_reason() {
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let f = fixture().await;
    let (_id, mut rx) = f.client().await;
    let jpeg = encode(200, 200, ImageFormat::Jpeg);
    let cases = [
        (b"definitely not an image".to_vec(), "image/png"),
        (jpeg[..jpeg.len() / 2].to_vec(), "image/jpeg"),
        (encode(10, 10, ImageFormat::Png), "image/jpeg"),
        (Vec::new(), "image/webp"),
    ];
    for (bytes, kind) in cases {
        let event = f.upload("bad", bytes, kind).await;
        let outcome = f.processor().process(&event).await.unwrap();
        let ProcessOutcome::Rejected { reason } = outcome else {
            panic!("{kind}: {outcome:?}");
        };
        assert!(!reason.is_empty());
        let image = f.image(&event.image_id).await;
        assert_eq!(
            (image.status, image.thumbnail_url),
            (ImageStatus::Pending, None)
        );
        let thumb_key = thumbnail_key(&event.image_id);
        assert_eq!(f.blobs.get_blob(&thumb_key).await.unwrap(), None);
        let logged = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
        assert!(
            logged.contains(&event.image_id) && logged.contains(&reason),
            "{logged}"
        );
    }
    assert!(
        rx.try_recv().is_err(),
        "nobody is told about a rejected upload"
    );
}

#[tokio::test]
async fn unknown_images_are_retried_and_missing_blobs_change_nothing() {
    let f = fixture().await;
    let unknown = ImageUploaded {
        image_id: uuid::Uuid::new_v4().to_string(),
        size: 1,
    };
    assert!(matches!(
        f.processor().process(&unknown).await,
        Err(PortError::NotVisibleYet(_))
    ));
    let event = f.upload("no blob", Vec::new(), "image/png").await;
    std::fs::remove_file(f.dir().join("blobs").join(&event.image_id)).unwrap();
    assert_eq!(
        f.processor().process(&event).await.unwrap(),
        ProcessOutcome::MissingBlob
    );
    assert_eq!(f.image(&event.image_id).await.status, ImageStatus::Pending);
}

#[tokio::test]
async fn run_drains_the_bus_until_it_closes() {
    let f = fixture().await;
    let (bus, events) = ChannelBus::new();
    let mut ids = Vec::new();
    for n in 0..3 {
        let event = f
            .upload(
                &format!("bus {n}"),
                encode(30, 30, ImageFormat::Png),
                "image/png",
            )
            .await;
        bus.publish(&event).await.unwrap();
        ids.push(event.image_id);
    }
    drop(bus);
    f.processor().run(events).await;
    for id in ids {
        assert_eq!(f.image(&id).await.status, ImageStatus::Ready);
    }
}

#[tokio::test]
async fn uploads_over_the_size_limit_stay_pending_whatever_the_event_says() {
    let f = fixture().await;
    let limit = usize::try_from(crate::app::MAX_UPLOAD_BYTES).unwrap();
    // The event says so: refused before loading the object.
    let honest = ImageUploaded {
        size: crate::app::MAX_UPLOAD_BYTES + 1,
        ..f.upload("big", encode(30, 30, ImageFormat::Png), "image/png")
            .await
    };
    // The event understates it: refused after loading.
    let mut bytes = encode(30, 30, ImageFormat::Png);
    bytes.resize(limit + 1, 0);
    let lying = ImageUploaded {
        size: 10,
        ..f.upload("lying", bytes, "image/png").await
    };
    for event in [honest, lying] {
        let outcome = f.processor().process(&event).await.unwrap();
        assert!(
            matches!(&outcome, ProcessOutcome::Rejected { reason } if reason.contains("more than")),
            "{outcome:?}"
        );
        assert_eq!(f.image(&event.image_id).await.status, ImageStatus::Pending);
    }
}

#[tokio::test]
async fn an_image_the_index_does_not_show_yet_is_read_again_then_redelivered() {
    let f = fixture().await;
    let (_id, mut rx) = f.client().await;
    // Hidden for 4 reads: more than one processing (3 reads), less than two.
    let images = Arc::new(LaggingImages::new(f.store.clone(), 4));
    let image = f.pending_in(images.as_ref(), "late").await;
    let bytes = encode(40, 40, ImageFormat::Png);
    let size = bytes.len() as u64;
    f.blobs
        .put_blob(&image.image_id, bytes.into(), "image/png")
        .await
        .unwrap();
    let event = ImageUploaded {
        image_id: image.image_id.clone(),
        size,
    };
    let processor = f.processor_with_images(images.clone());

    // Not dropped as unknown: an error, so that the event is delivered again.
    let error = processor.process(&event).await.unwrap_err();
    assert_eq!(
        error,
        PortError::NotVisibleYet(format!("image {}", image.image_id))
    );
    assert_eq!(
        images.lagging_reads(&image.image_id),
        1,
        "3 reads were made"
    );
    assert_eq!(f.image(&image.image_id).await.status, ImageStatus::Pending);
    assert!(rx.try_recv().is_err());

    // The redelivery reads once more in vain, then finds it.
    let outcome = processor.process(&event).await.unwrap();
    assert_eq!(
        outcome,
        ProcessOutcome::Ready {
            notified: 1,
            removed: 0
        }
    );
    assert_eq!(f.image(&image.image_id).await.status, ImageStatus::Ready);
    assert!(rx.try_recv().is_ok());
}

#[tokio::test]
async fn a_ready_image_the_index_still_shows_pending_is_marked_once() {
    let f = fixture().await;
    let images = Arc::new(LaggingImages::new(f.store.clone(), 5));
    let event = f
        .upload("twice", encode(20, 20, ImageFormat::Png), "image/png")
        .await;
    let processor = f
        .processor_with_images(images.clone())
        .with_visibility_retry(VisibilityRetry {
            reads: 1,
            first_wait: std::time::Duration::ZERO,
        });
    assert!(matches!(
        processor.process(&event).await.unwrap(),
        ProcessOutcome::Ready { .. }
    ));
    // The index still shows it pending: the write on the record's own key tells the truth.
    assert_eq!(
        images
            .get_image(&event.image_id)
            .await
            .unwrap()
            .unwrap()
            .status,
        ImageStatus::Pending
    );
    assert_eq!(
        processor.process(&event).await.unwrap(),
        ProcessOutcome::AlreadyReady
    );
}

/// The clock at a fixed second.
#[derive(Debug)]
struct At(i64);

impl Clock for At {
    fn now(&self) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp(self.0).unwrap()
    }
}

#[tokio::test]
async fn connections_whose_token_expired_are_told_closed_and_forgotten() {
    let f = fixture().await;
    let now = 1_900_000_000;
    let (valid, mut rx_valid) = f.client_until(Some(now + 1)).await;
    let (expired, mut rx_expired) = f.client_until(Some(now)).await;
    let event = f
        .upload("x", encode(20, 20, ImageFormat::Png), "image/png")
        .await;
    let processor = f
        .processor()
        .with_clock(Arc::new(At(i64::try_from(now).unwrap())));
    assert_eq!(
        processor.process(&event).await.unwrap(),
        ProcessOutcome::Ready {
            notified: 1,
            removed: 1
        }
    );
    let notice: serde_json::Value = serde_json::from_slice(&rx_valid.try_recv().unwrap()).unwrap();
    assert_eq!(notice["type"], "imageReady");
    assert_eq!(
        rx_expired.recv().await.unwrap(),
        TOKEN_EXPIRED_NOTICE.as_bytes(),
        "told why, and nothing else"
    );
    assert_eq!(rx_expired.recv().await, None, "closed");
    let left: Vec<String> = f
        .store
        .list_connections()
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    assert_eq!(left, [valid]);
    assert!(!left.contains(&expired));
}
