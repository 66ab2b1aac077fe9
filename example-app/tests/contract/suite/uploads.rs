//! The upload flow: record -> PUT to `uploadUrl` -> `ready` with a 150 px wide PNG thumbnail.

use std::time::Duration;

use serde_json::json;

use crate::fixtures::{assert_thumbnail, create_group, picture, query_param, wait_ready, walk};
use crate::target::Target;

/// The type an upload URL takes when the request names none.
const DEFAULT_UPLOAD_TYPE: &str = "image/jpeg";

/// The URL is bound to `content_type`: a local URL declares it (`type=`), an S3 presigned URL
/// signs the `content-type` header (its value is not in the URL).
fn assert_upload_url_for(url: &str, content_type: &str) {
    if let Some(declared) = query_param(url, "type") {
        let declared = declared.replace("%2F", "/").replace("%2f", "/");
        assert_eq!(declared, content_type, "{url}");
    } else {
        let signed = query_param(url, "X-Amz-SignedHeaders")
            .unwrap_or_else(|| panic!("the upload URL names no content type: {url}"));
        assert!(
            signed
                .split("%3B")
                .chain(signed.split(';'))
                .any(|h| h == "content-type"),
            "the presigned URL does not sign the content type: {url}"
        );
    }
}

pub async fn png_upload_becomes_ready_with_a_thumbnail(target: &impl Target) {
    let http = target.http();
    let token = target.token("erin").await;
    let group = create_group(http, &token, "Uploads").await;
    let group_id = group["id"].as_str().unwrap();
    let body = http
        .post(&format!("/groups/{group_id}/images"))
        .token(&token)
        .json(&json!({ "title": "A gradient", "contentType": "image/png" }))
        .send()
        .await
        .ok_json(201);
    let upload_url = body["uploadUrl"].as_str().unwrap();
    assert_upload_url_for(upload_url, "image/png");
    let image_id = body["newItem"]["imageId"].as_str().unwrap();
    let png = picture(600, 400, "image/png");
    let reply = target.upload(upload_url, "image/png", png.clone()).await;
    assert!(
        reply.status == 200 || reply.status == 204,
        "{}: {} {}",
        reply.what,
        reply.status,
        reply.text()
    );

    target.settle().await;
    let ready = wait_ready(http, image_id).await;
    assert_eq!(ready["title"], "A gradient");
    assert_eq!(ready["imageUrl"], body["newItem"]["imageUrl"]);
    let thumbnail_url = ready["thumbnailUrl"]
        .as_str()
        .unwrap_or_else(|| panic!("{ready}"));
    assert_eq!(
        assert_thumbnail(target, thumbnail_url, 150).await,
        100,
        "aspect kept"
    );

    let original = target.fetch(ready["imageUrl"].as_str().unwrap()).await;
    original.assert_status(200);
    assert_eq!(original.media_type(), "image/png");
    assert_eq!(
        original.body, png,
        "the stored bytes are the uploaded bytes"
    );

    // The image turning ready reaches the index asynchronously on Lambda (the table's stream).
    target.settle().await;
    let listed = walk(http, &format!("/groups/{group_id}/images"), 20).await;
    assert_eq!(
        listed,
        vec![ready.clone()],
        "the listing shows the ready image"
    );
    let found = http.get("/images?q=gradient").send().await.ok_json(200);
    assert_eq!(
        found["items"][0]["status"], "ready",
        "search sees the ready image: {found}"
    );
}

/// Without `contentType` the URL declares the default type; an upload of that type works, for every
/// allowed type the thumbnail is a PNG.
pub async fn every_allowed_type(target: &impl Target) {
    let http = target.http();
    let token = target.token("erin").await;
    let group = create_group(http, &token, "Types").await;
    let group_id = group["id"].as_str().unwrap();
    let path = format!("/groups/{group_id}/images");
    let default = http
        .post(&path)
        .token(&token)
        .json(&json!({ "title": "default type" }))
        .send()
        .await
        .ok_json(201);
    let mut uploads = vec![(DEFAULT_UPLOAD_TYPE, default)];
    for kind in ["image/jpeg", "image/gif", "image/webp"] {
        uploads.push((
            kind,
            http.post(&path)
                .token(&token)
                .json(&json!({ "title": kind, "contentType": kind }))
                .send()
                .await
                .ok_json(201),
        ));
    }
    http.post(&path)
        .token(&token)
        .json(&json!({ "title": "svg", "contentType": "image/svg+xml" }))
        .send()
        .await
        .problem(400);
    for (kind, body) in &uploads {
        let url = body["uploadUrl"].as_str().unwrap();
        assert_upload_url_for(url, kind);
        let reply = target.upload(url, kind, picture(300, 300, kind)).await;
        assert!(
            reply.status == 200 || reply.status == 204,
            "{kind}: {}",
            reply.status
        );
    }
    target.settle().await;
    for (_, body) in &uploads {
        let ready = wait_ready(http, body["newItem"]["imageId"].as_str().unwrap()).await;
        let thumbnail = ready["thumbnailUrl"].as_str().unwrap();
        assert_eq!(
            assert_thumbnail(target, thumbnail, 150).await,
            150,
            "{ready}"
        );
    }
}

/// Bytes that are not an image of the declared type are stored but the record stays pending.
pub async fn undecodable_upload_stays_pending(target: &impl Target) {
    let http = target.http();
    let token = target.token("erin").await;
    let group = create_group(http, &token, "Broken").await;
    let body = http
        .post(&format!("/groups/{}/images", group["id"].as_str().unwrap()))
        .token(&token)
        .json(&json!({ "title": "not a picture", "contentType": "image/png" }))
        .send()
        .await
        .ok_json(201);
    let url = body["uploadUrl"].as_str().unwrap();
    let reply = target
        .upload(url, "image/png", "hello, not a PNG".into())
        .await;
    assert!(
        reply.status == 200 || reply.status == 204,
        "{}",
        reply.status
    );
    // A JPEG declared as PNG is not "an image of the declared type" either.
    let second = http
        .post(&format!("/groups/{}/images", group["id"].as_str().unwrap()))
        .token(&token)
        .json(&json!({ "title": "jpeg in disguise", "contentType": "image/png" }))
        .send()
        .await
        .ok_json(201);
    let jpeg = picture(64, 64, "image/jpeg");
    let reply = target
        .upload(second["uploadUrl"].as_str().unwrap(), "image/png", jpeg)
        .await;
    assert!(
        reply.status == 200 || reply.status == 204,
        "{}",
        reply.status
    );
    target.settle().await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    for created in [&body, &second] {
        let id = created["newItem"]["imageId"].as_str().unwrap();
        let image = http.get(&format!("/images/{id}")).send().await.ok_json(200);
        assert_eq!(image["status"], "pending", "{image}");
        assert!(image.get("thumbnailUrl").is_none(), "{image}");
    }
}
