//! What the upload-processing and handler tests share: the embedded adapters on a temporary
//! directory, images to upload, and events shaped as AWS sends them.

use std::io::Cursor;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use image::{ImageFormat, RgbImage};
use lamina_middleware::auth::{JwtVerifier, SigningAlgorithm, VerificationKey};
use serde_json::{Value, json};
use tokio::sync::mpsc;

mod lagging;

pub(crate) use lagging::LaggingImages;

use crate::dev_issuer::{AUDIENCE, DevIssuer};
use crate::domain::{Connection, Group, Image, ImageStatus, ImageUploaded};
use crate::embedded::{EmbeddedStore, FileBlobStore, LocalHub, blobs_dir};
use crate::events::UploadProcessor;
use crate::ports::{BlobStore, ConnectionStore, GroupStore, ImageCatalog, ImageStore};

pub(crate) struct Fixture {
    _dir: tempfile::TempDir,
    pub(crate) store: EmbeddedStore,
    pub(crate) blobs: FileBlobStore,
    pub(crate) hub: LocalHub,
    pub(crate) group_id: String,
}

pub(crate) async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let blobs = FileBlobStore::open(&blobs_dir(dir.path()), "http://h", b"k".to_vec()).unwrap();
    let group_id = uuid::Uuid::new_v4().to_string();
    store
        .create_group(&Group {
            id: group_id.clone(),
            user_id: "alice".into(),
            name: "g".into(),
            description: String::new(),
            timestamp: "2026-01-01T00:00:00.000Z".into(),
        })
        .await
        .unwrap();
    Fixture {
        _dir: dir,
        store,
        blobs,
        hub: LocalHub::new(),
        group_id,
    }
}

impl Fixture {
    /// The temporary data directory.
    pub(crate) fn dir(&self) -> &Path {
        self._dir.path()
    }

    /// The processor over the embedded adapters.
    pub(crate) fn processor(&self) -> UploadProcessor {
        self.processor_with_images(Arc::new(self.store.clone()))
    }

    /// The processor with another image store.
    pub(crate) fn processor_with_images(&self, images: Arc<dyn ImageStore>) -> UploadProcessor {
        UploadProcessor::new(
            images,
            Arc::new(self.blobs.clone()),
            Arc::new(self.store.clone()),
            Arc::new(self.hub.clone()),
        )
    }

    /// A pending image record (not yet indexed), without bytes.
    pub(crate) async fn pending(&self, title: &str) -> Image {
        self.pending_in(&self.store, title).await
    }

    /// A pending image record created through `images`, without bytes.
    pub(crate) async fn pending_in(&self, images: &dyn ImageCatalog, title: &str) -> Image {
        let image_id = uuid::Uuid::new_v4().to_string();
        let image = Image {
            image_id: image_id.clone(),
            group_id: self.group_id.clone(),
            user_id: "bob".into(),
            title: title.into(),
            timestamp: "2026-01-01T00:00:01.000Z".into(),
            status: ImageStatus::Pending,
            image_url: self.blobs.read_url(&image_id),
            thumbnail_url: None,
        };
        images.create_image(&image).await.unwrap();
        image
    }

    /// A pending image whose bytes (`bytes` of `content_type`) have landed.
    pub(crate) async fn uploaded(&self, title: &str, bytes: Vec<u8>, content_type: &str) -> Image {
        let image = self.pending(title).await;
        self.blobs
            .put_blob(&image.image_id, Bytes::from(bytes), content_type)
            .await
            .unwrap();
        image
    }

    /// The event for a pending image whose bytes (`bytes` of `content_type`) have landed.
    pub(crate) async fn upload(
        &self,
        title: &str,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> ImageUploaded {
        let size = bytes.len() as u64;
        let image = self.uploaded(title, bytes, content_type).await;
        ImageUploaded {
            image_id: image.image_id,
            size,
        }
    }

    /// A client connected to the hub and recorded in the store.
    pub(crate) async fn client(&self) -> (String, mpsc::Receiver<Vec<u8>>) {
        self.client_until(None).await
    }

    /// A client whose token expires at `expires_at` (epoch seconds).
    pub(crate) async fn client_until(
        &self,
        expires_at: Option<u64>,
    ) -> (String, mpsc::Receiver<Vec<u8>>) {
        let (id, rx) = self.hub.connect();
        self.store
            .add_connection(&Connection {
                id: id.clone(),
                timestamp: "t".into(),
                expires_at,
            })
            .await
            .unwrap();
        (id, rx)
    }

    pub(crate) async fn image(&self, id: &str) -> Image {
        self.store.get_image(id).await.unwrap().unwrap()
    }
}

/// A small image in `format`.
pub(crate) fn encode(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let img = RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 99])
    });
    let mut out = Vec::new();
    img.write_to(&mut Cursor::new(&mut out), format).unwrap();
    out
}

/// A small PNG.
pub(crate) fn png(width: u32, height: u32) -> Vec<u8> {
    encode(width, height, ImageFormat::Png)
}

/// An S3 notification record, as S3 writes it (the key URL-encoded by the caller).
pub(crate) fn s3_record(event_name: &str, encoded_key: &str, size: u64) -> Value {
    json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-28T20:00:00.123Z",
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AROAEXAMPLE:udagram-api"},
        "requestParameters": {"sourceIPAddress": "203.0.113.9"},
        "responseElements": {
            "x-amz-request-id": "C3D13FE58DE4C810",
            "x-amz-id-2": "FMyUVURIY8/IgAtTv8xRjskZQpcIZ9KG4V5Wp6S7S/JRWeUWerMUE5JgHvANOjpD"
        },
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "uploads",
            "bucket": {
                "name": "udagram-images",
                "ownerIdentity": {"principalId": "A3NL1KOZZKExample"},
                "arn": "arn:aws:s3:::udagram-images"
            },
            "object": {
                "key": encoded_key,
                "size": size,
                "eTag": "d41d8cd98f00b204e9800998ecf8427e",
                "sequencer": "0055AED6DCD90281E5"
            }
        }
    })
}

/// An SNS record whose message is `message` (a string, as SNS delivers it).
pub(crate) fn sns_record(message_id: &str, message: &str) -> Value {
    json!({
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:udagram-uploads:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
        "Sns": {
            "Type": "Notification",
            "MessageId": message_id,
            "TopicArn": "arn:aws:sns:us-east-1:123456789012:udagram-uploads",
            "Subject": "Amazon S3 Notification",
            "Message": message,
            "Timestamp": "2026-11-28T20:00:00.456Z",
            "SignatureVersion": "1",
            "Signature": "EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
            "SigningCertURL": "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
            "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:udagram-uploads:2bcfbf39-05c3-41de-beaa-fcfcc21c8f55",
            "MessageAttributes": {}
        }
    })
}

/// An SNS event of `(message id, S3 records)` messages.
pub(crate) fn sns_event(messages: &[(&str, Vec<Value>)]) -> aws_lambda_events::sns::SnsEvent {
    let records: Vec<Value> = messages
        .iter()
        .map(|(id, s3)| sns_record(id, &json!({ "Records": s3 }).to_string()))
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

/// One issuer for every test (RSA key generation is slow), and a verifier that trusts it.
pub(crate) fn issuer() -> &'static (tempfile::TempDir, DevIssuer) {
    static ISSUER: OnceLock<(tempfile::TempDir, DevIssuer)> = OnceLock::new();
    ISSUER.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let issuer = DevIssuer::load_or_create(dir.path(), "https://tenant.example.com/").unwrap();
        (dir, issuer)
    })
}

pub(crate) fn verifier() -> JwtVerifier {
    let issuer = &issuer().1;
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(issuer.jwk().clone()).unwrap();
    JwtVerifier::builder()
        .key(VerificationKey::from_jwk(&jwk).unwrap())
        .issuer(issuer.issuer())
        .audience(AUDIENCE)
        .algorithms([SigningAlgorithm::Rs256])
        .required_claims(["exp", "sub"])
        .build()
        .unwrap()
}

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
