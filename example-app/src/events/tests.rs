//! Tests of upload processing.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

use image::ImageFormat;

use super::*;
use crate::{
    domain::Connection,
    embedded::ChannelBus,
    ports::EventBus,
    test_support::{encode, fixture},
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

        let thumb_key = format!("{}{THUMBNAIL_SUFFIX}", event.image_id);
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
    let thumb_key = format!("{}{THUMBNAIL_SUFFIX}", event.image_id);
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
        let thumb_key = format!("{}{THUMBNAIL_SUFFIX}", event.image_id);
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
async fn unknown_images_and_missing_blobs_change_nothing() {
    let f = fixture().await;
    let unknown = ImageUploaded {
        image_id: uuid::Uuid::new_v4().to_string(),
        size: 1,
    };
    assert_eq!(
        f.processor().process(&unknown).await.unwrap(),
        ProcessOutcome::UnknownImage
    );
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
