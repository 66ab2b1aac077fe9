//! SIGKILL while writes and uploads are in flight, restart on the same data: every acknowledged
//! write is there, nothing is half-written, the server starts cleanly.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::{Value, json};

use crate::client::Http;
use crate::fixtures::{all_group_ids, assert_thumbnail, picture, walk};
use crate::serve::Serve;
use crate::target::Target;

/// What the server acknowledged with a 2xx before it died.
#[derive(Debug, Default)]
struct Acked {
    groups: HashMap<String, Value>,
    images: HashMap<String, Value>,
    uploads: HashMap<String, Bytes>,
}

async fn writer(http: Http, token: String, worker: usize, acked: Arc<Mutex<Acked>>) {
    let png = picture(160 + worker as u32, 90, "image/png");
    for round in 0.. {
        let Ok(reply) = http
            .post("/groups")
            .token(&token)
            .json(&json!({ "name": format!("w{worker} r{round}"), "description": "durable" }))
            .try_send()
            .await
        else {
            return;
        };
        if reply.status != 201 {
            panic!("{}: {} {}", reply.what, reply.status, reply.text());
        }
        let group = reply.json()["newItem"].clone();
        let group_id = group["id"].as_str().unwrap().to_owned();
        acked.lock().unwrap().groups.insert(group_id.clone(), group);
        for n in 0..2 {
            let Ok(reply) = http
                .post(&format!("/groups/{group_id}/images"))
                .token(&token)
                .json(&json!({ "title": format!("w{worker} r{round} i{n}"), "contentType": "image/png" }))
                .try_send()
                .await
            else {
                return;
            };
            reply.assert_status(201);
            let body = reply.json();
            let image = body["newItem"].clone();
            let image_id = image["imageId"].as_str().unwrap().to_owned();
            acked.lock().unwrap().images.insert(image_id.clone(), image);
            if n == 1 {
                continue; // leave some images pending on purpose
            }
            let upload = &body["upload"];
            let (form_type, form) = udagram::post_policy::form_body(
                crate::fixtures::form_fields(upload),
                "image/png",
                &png,
            );
            let Ok(reply) = http
                .post(upload["url"].as_str().unwrap())
                .bytes(&form_type, form)
                .try_send()
                .await
            else {
                return;
            };
            reply.assert_status(204);
            acked.lock().unwrap().uploads.insert(image_id, png.clone());
        }
    }
}

/// Writes for a moment, SIGKILLs, restarts on the same data and port.
async fn killed_while_writing(mut serve: Serve) -> (Serve, Serve, Acked) {
    let token = serve.token("lee").await;
    let acked = Arc::new(Mutex::new(Acked::default()));
    let workers: Vec<_> = (0..8)
        .map(|worker| {
            tokio::spawn(writer(
                serve.http().clone(),
                token.clone(),
                worker,
                Arc::clone(&acked),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let status = serve.sigkill().await;
    assert!(!status.success(), "{status:?}");
    for worker in workers {
        worker.await.unwrap(); // a panic in a writer (a 5xx, a wrong status) fails the test
    }
    let acked = std::mem::take(&mut *acked.lock().unwrap());
    assert!(
        acked.groups.len() >= 8 && !acked.uploads.is_empty(),
        "too little was written before the kill to prove anything: {} groups, {} uploads",
        acked.groups.len(),
        acked.uploads.len()
    );

    let restarted = Serve::restart_of(&serve).await;
    restarted.http().get("/health").send().await.ok_json(200);
    (serve, restarted, acked)
}

pub async fn sigkill_loses_no_acknowledged_write(serve: Serve) {
    let (killed, restarted, acked) = killed_while_writing(serve).await;
    let http = restarted.http();

    // Every acknowledged group is listed, unchanged.
    let groups = walk(http, "/groups", 100).await;
    let listed: HashMap<String, Value> = groups
        .iter()
        .map(|group| (group["id"].as_str().unwrap().to_owned(), group.clone()))
        .collect();
    assert_eq!(listed.len(), groups.len(), "duplicate groups after restart");
    for (id, group) in &acked.groups {
        assert_eq!(
            listed.get(id),
            Some(group),
            "acknowledged group {id} lost or changed"
        );
    }
    assert_eq!(all_group_ids(http).await.len(), listed.len());

    // Every acknowledged image is readable, unchanged but for its status.
    for (id, image) in &acked.images {
        let read = http.get(&format!("/images/{id}")).send().await.ok_json(200);
        for field in [
            "imageId",
            "groupId",
            "userId",
            "title",
            "timestamp",
            "imageUrl",
        ] {
            assert_eq!(read[field], image[field], "image {id}: {field}");
        }
    }

    // Every listed image is a whole record; every ready one has its thumbnail.
    let mut listed_images = 0;
    for group_id in listed.keys() {
        for image in walk(http, &format!("/groups/{group_id}/images"), 100).await {
            listed_images += 1;
            assert_eq!(image["groupId"], group_id.as_str());
            for field in ["imageId", "userId", "title", "timestamp", "imageUrl"] {
                assert!(image[field].is_string(), "half-written image: {image}");
            }
            match image["status"].as_str() {
                Some("ready") => {
                    let url = image["thumbnailUrl"]
                        .as_str()
                        .unwrap_or_else(|| panic!("{image}"));
                    assert_thumbnail(&restarted, url, 150).await;
                }
                Some("pending") => assert!(image.get("thumbnailUrl").is_none(), "{image}"),
                _ => panic!("bad status: {image}"),
            }
        }
    }
    assert!(listed_images >= acked.images.len());

    // Every acknowledged upload's bytes are stored.
    for (id, bytes) in &acked.uploads {
        let image = &acked.images[id];
        let blob = restarted.fetch(image["imageUrl"].as_str().unwrap()).await;
        blob.assert_status(200);
        assert_eq!(&blob.body, bytes, "acknowledged upload {id}: bytes differ");
    }
    // Writes work after the restart.
    let token = restarted.token("lee").await;
    crate::fixtures::create_group(http, &token, "after the kill").await;
    restarted.stop().await;
    drop(killed);
}

/// An acknowledged upload is not only stored: its processing is not lost either. It becomes ready
/// after the restart even when the kill came before the thumbnail was made.
pub async fn sigkill_loses_no_acknowledged_upload_processing(serve: Serve) {
    let (killed, restarted, acked) = killed_while_writing(serve).await;
    let http = restarted.http();
    let deadline = Instant::now() + crate::fixtures::READY_WITHIN;
    for id in acked.uploads.keys() {
        loop {
            let image = http.get(&format!("/images/{id}")).send().await.ok_json(200);
            if image["status"] == "ready" {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "acknowledged upload {id} never processed after the restart: {image}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    restarted.stop().await;
    drop(killed);
}
