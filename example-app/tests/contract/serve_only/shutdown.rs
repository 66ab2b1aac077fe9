//! SIGTERM while requests are in flight: they complete, the process exits 0, the data is there.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{Value, json};

use crate::client::channel_body;
use crate::fixtures::{all_group_ids, create_group, picture, wait_ready};
use crate::serve::Serve;
use crate::target::Target;

/// An upload whose body is still arriving when SIGTERM lands completes with 204, then the process
/// exits 0 and the image is processed.
pub async fn sigterm_finishes_an_upload_in_flight(mut serve: Serve) {
    let http = serve.http().clone();
    let token = serve.token("mia").await;
    let group = create_group(&http, &token, "Shutdown").await;
    let created = http
        .post(&format!("/groups/{}/images", group["id"].as_str().unwrap()))
        .token(&token)
        .json(&json!({ "title": "slow upload", "contentType": "image/png" }))
        .send()
        .await
        .ok_json(201);
    let url = created["upload"]["url"].as_str().unwrap().to_owned();
    let png = picture(400, 200, "image/png");
    let (form_type, form) = udagram::post_policy::form_body(
        crate::fixtures::form_fields(&created["upload"]),
        "image/png",
        &png,
    );
    let form = Bytes::from(form);

    let (sender, body) = channel_body();
    let slow = {
        let http = http.clone();
        let length = form.len().to_string();
        tokio::spawn(async move {
            http.post(&url)
                .header("content-type", &form_type)
                .header("content-length", &length)
                .stream(body)
                .send()
                .await
        })
    };
    let half = form.len() / 2;
    sender.send(form.slice(..half)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    serve.sigterm();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The server may have dropped the connection already: then the upload task reports it.
    let _ = sender.send(form.slice(half..)).await;
    drop(sender);
    let slow = slow.await.unwrap();
    assert_eq!(slow.status, 204, "the in-flight upload: {}", slow.text());
    let status = serve.wait(Duration::from_secs(15)).await;
    assert!(
        status.success(),
        "exit after SIGTERM: {status:?}\n{}",
        serve.output()
    );

    let restarted = Serve::restart_of(&serve).await;
    let image_id = created["newItem"]["imageId"].as_str().unwrap();
    let ready = wait_ready(restarted.http(), image_id).await;
    assert!(ready["thumbnailUrl"].is_string());
    restarted.stop().await;
    drop(serve);
}

/// A burst of reads and writes racing SIGTERM: every answer is whole (a 503 problem for requests
/// that arrived after the signal is allowed), the process exits 0, acknowledged writes survive.
pub async fn sigterm_answers_or_refuses_cleanly(mut serve: Serve) {
    let http = serve.http().clone();
    let token = serve.token("mia").await;
    create_group(&http, &token, "before").await;
    let burst: Vec<_> = (0..48)
        .map(|n| {
            let http = http.clone();
            let token = token.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(n * 5)).await;
                let reply = if n % 2 == 0 {
                    http.post("/groups")
                        .token(&token)
                        .json(&json!({ "name": format!("burst {n}") }))
                        .shutting_down()
                        .try_send()
                        .await
                } else {
                    http.get("/groups?limit=100")
                        .shutting_down()
                        .try_send()
                        .await
                };
                reply.ok().map(|reply| (n, reply.status, reply.json()))
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    serve.sigterm();

    let mut acked: Vec<Value> = Vec::new();
    let mut answered = 0;
    let mut refused = 0;
    for task in burst {
        if let Some((n, status, body)) = task.await.unwrap() {
            answered += 1;
            refused += usize::from(status == 503);
            if status == 503 {
                continue;
            }
            if n % 2 == 0 {
                assert_eq!(status, 201, "burst {n}: {body}");
                acked.push(body["newItem"].clone());
            } else {
                assert_eq!(status, 200, "burst {n}: {body}");
            }
        }
    }
    eprintln!(
        "burst: {answered} answered ({refused} of them 503), {} writes acknowledged",
        acked.len()
    );
    assert!(answered > refused, "nothing was answered before the signal");
    let status = serve.wait(Duration::from_secs(15)).await;
    assert!(
        status.success(),
        "exit after SIGTERM: {status:?}\n{}",
        serve.output()
    );

    let restarted = Serve::restart_of(&serve).await;
    let listed = all_group_ids(restarted.http()).await;
    for group in &acked {
        let id = group["id"].as_str().unwrap();
        assert!(
            listed.iter().any(|listed| listed == id),
            "acknowledged {id} lost"
        );
    }
    restarted.stop().await;
    drop(serve);
}
