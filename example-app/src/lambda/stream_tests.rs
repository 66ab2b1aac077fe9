//! Tests of `index-stream` with DynamoDB stream events as the Images table writes them.

use std::sync::Mutex;

use serde_json::{Value, json};

use super::*;
use crate::domain::ImageStatus;
use crate::ports::{BoxFuture, ImageSearch};
use crate::test_support::fixture;

/// A stream record of the Images table (`NEW_IMAGE` view) for `image`, or only its keys for
/// a `REMOVE`.
fn record(event_name: &str, sequence: u64, image: &Image) -> Value {
    let created_key = format!("{}#{}", image.timestamp, image.image_id);
    let keys = json!({"groupId": {"S": image.group_id}, "createdKey": {"S": created_key}});
    let mut new_image = json!({
        "groupId": {"S": image.group_id},
        "createdKey": {"S": created_key},
        "imageId": {"S": image.image_id},
        "userId": {"S": image.user_id},
        "title": {"S": image.title},
        "timestamp": {"S": image.timestamp},
        "status": {"S": if image.status == ImageStatus::Ready { "ready" } else { "pending" }},
        "imageUrl": {"S": image.image_url},
    });
    if let Some(thumb) = &image.thumbnail_url {
        new_image["thumbnailUrl"] = json!({"S": thumb});
    }
    let mut change = json!({
        "ApproximateCreationDateTime": 1_764_360_000,
        "Keys": keys,
        "SequenceNumber": sequence.to_string(),
        "SizeBytes": 312,
        "StreamViewType": "NEW_IMAGE",
    });
    if event_name != "REMOVE" {
        change["NewImage"] = new_image;
    }
    json!({
        "eventID": format!("c4ca4238a0b923820dcc509a6f75849{sequence}"),
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": change,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/udagram-images/stream/2026-11-28T00:00:00.000",
    })
}

fn event(records: Vec<Value>) -> Event {
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

fn image(title: &str) -> Image {
    let image_id = uuid::Uuid::new_v4().to_string();
    Image {
        image_url: format!("https://udagram-images.s3.amazonaws.com/{image_id}"),
        image_id,
        group_id: uuid::Uuid::new_v4().to_string(),
        user_id: "auth0|bob".into(),
        title: title.into(),
        timestamp: "2026-11-28T20:00:00.000Z".into(),
        status: ImageStatus::Pending,
        thumbnail_url: None,
    }
}

/// A search index that records what it is asked, and fails for one image id.
#[derive(Debug, Default)]
struct RecordingIndex {
    calls: Mutex<Vec<String>>,
    fail_for: Option<String>,
}

impl RecordingIndex {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }

    fn call(&self, call: String, id: &str) -> Result<(), PortError> {
        if self.fail_for.as_deref() == Some(id) {
            return Err(PortError::Unavailable("503 from the domain".into()));
        }
        self.calls.lock().unwrap().push(call);
        Ok(())
    }
}

impl SearchIndex for RecordingIndex {
    fn index_image<'a>(&'a self, image: &'a Image) -> BoxFuture<'a, Result<(), PortError>> {
        let call = format!("index {} {:?}", image.image_id, image.status);
        Box::pin(async move { self.call(call, &image.image_id) })
    }
    fn remove_image<'a>(&'a self, image_id: &'a str) -> BoxFuture<'a, Result<(), PortError>> {
        Box::pin(async move { self.call(format!("remove {image_id}"), image_id) })
    }
}

#[tokio::test]
async fn inserts_and_modifies_index_the_new_image_and_removes_delete_it() {
    let (a, mut b) = (image("a"), image("b"));
    b.status = ImageStatus::Ready;
    b.thumbnail_url = Some(format!("{}.thumb.png", b.image_url));
    let index = RecordingIndex::default();
    let response = handle_stream(
        &index,
        event(vec![
            record("INSERT", 1, &a),
            record("MODIFY", 2, &b),
            record("REMOVE", 3, &a),
        ]),
    )
    .await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(
        index.calls(),
        [
            format!("index {} Pending", a.image_id),
            format!("index {} Ready", b.image_id),
            format!("remove {}", a.image_id),
        ]
    );
}

#[test]
fn the_new_image_reads_as_the_domain_record() {
    let mut ready = image("sunset over the bay");
    ready.status = ImageStatus::Ready;
    ready.thumbnail_url = Some("https://x/y.thumb.png".into());
    let event = event(vec![
        record("MODIFY", 7, &ready),
        record("REMOVE", 8, &ready),
    ]);
    assert_eq!(
        change_of(&event.records[0]).unwrap(),
        IndexChange::Index(ready.clone())
    );
    assert_eq!(
        change_of(&event.records[1]).unwrap(),
        IndexChange::Remove(ready.image_id)
    );
}

#[tokio::test]
async fn malformed_records_are_skipped_not_retried() {
    let good = image("good");
    let mut no_title = record("INSERT", 1, &image("x"));
    no_title["dynamodb"]["NewImage"]
        .as_object_mut()
        .unwrap()
        .remove("title");
    let mut bad_status = record("INSERT", 2, &image("x"));
    bad_status["dynamodb"]["NewImage"]["status"] = json!({"S": "exploded"});
    let mut bad_id = record("INSERT", 3, &image("x"));
    bad_id["dynamodb"]["NewImage"]["imageId"] = json!({"S": "../../etc"});
    let mut numeric_title = record("MODIFY", 4, &image("x"));
    numeric_title["dynamodb"]["NewImage"]["title"] = json!({"N": "42"});
    let mut bad_keys = record("REMOVE", 5, &image("x"));
    bad_keys["dynamodb"]["Keys"]["createdKey"] = json!({"S": "no-hash-here"});
    let mut no_keys = record("REMOVE", 6, &image("x"));
    no_keys["dynamodb"]["Keys"] = json!({});
    let mut unknown = record("INSERT", 7, &image("x"));
    unknown["eventName"] = json!("TRUNCATE");
    let records = vec![
        no_title,
        bad_status,
        bad_id,
        numeric_title,
        bad_keys,
        no_keys,
        unknown,
        record("INSERT", 8, &good),
    ];
    let event = event(records);
    for record in &event.records[..7] {
        assert!(change_of(record).is_err(), "{}", record.event_id);
    }
    let index = RecordingIndex::default();
    let response = handle_stream(&index, event).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(index.calls(), [format!("index {} Pending", good.image_id)]);
}

#[tokio::test]
async fn a_failure_stops_the_batch_and_reports_its_sequence_number() {
    let (a, b, c) = (image("a"), image("b"), image("c"));
    let index = RecordingIndex {
        fail_for: Some(b.image_id.clone()),
        ..RecordingIndex::default()
    };
    let response = handle_stream(
        &index,
        event(vec![
            record("INSERT", 10, &a),
            record("INSERT", 11, &b),
            record("REMOVE", 12, &c),
        ]),
    )
    .await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.clone())
        .collect();
    assert_eq!(failed, [Some("11".to_owned())]);
    // The REMOVE after the failure waits for the retry, which starts at record 11.
    assert_eq!(index.calls(), [format!("index {} Pending", a.image_id)]);
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["batchItemFailures"], json!([{"itemIdentifier": "11"}]));
}

#[tokio::test]
async fn the_embedded_index_follows_the_stream() {
    let f = fixture().await;
    let stored = f.pending("harbour at dusk").await;
    let store: &dyn SearchIndex = &f.store;
    let search: &dyn ImageSearch = &f.store;
    assert_eq!(search.search("harbour", 10).await.unwrap().len(), 1);

    handle_stream(store, event(vec![record("REMOVE", 1, &stored)])).await;
    assert!(search.search("harbour", 10).await.unwrap().is_empty());
    // A duplicate REMOVE is fine, and a MODIFY puts the document back.
    handle_stream(
        store,
        event(vec![
            record("REMOVE", 2, &stored),
            record("MODIFY", 3, &stored),
        ]),
    )
    .await;
    let found = search.search("harbour", 10).await.unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].image_id, stored.image_id);
}
