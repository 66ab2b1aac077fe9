//! The upload flow: record -> POST the `upload` form -> `ready` with a 150 px wide PNG thumbnail.

use std::time::Duration;

use serde_json::{Value, json};

use crate::fixtures::{assert_thumbnail, create_group, form_fields, picture, wait_ready, walk};
use crate::target::Target;

/// The type an upload form takes when the request names none.
const DEFAULT_UPLOAD_TYPE: &str = "image/jpeg";

/// The form is bound to `content_type`: a `Content-Type` field, and the same exact condition in
/// its policy, with the key and a length range (which S3 enforces; moto only stores).
fn assert_upload_form_for(upload: &Value, image_id: &str, content_type: &str) {
    let fields = form_fields(upload);
    assert_eq!(fields["Content-Type"], content_type, "{upload}");
    assert_eq!(fields["key"], image_id, "{upload}");
    let policy = udagram::post_policy::decode_policy(&fields["policy"]).unwrap();
    let conditions = policy["conditions"].as_array().unwrap();
    for expected in [
        json!({ "Content-Type": content_type }),
        json!({ "key": image_id }),
        json!(["content-length-range", 1, 10 * 1024 * 1024]),
    ] {
        assert!(conditions.contains(&expected), "{expected} not in {policy}");
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
    let image_id = body["newItem"]["imageId"].as_str().unwrap();
    assert_upload_form_for(&body["upload"], image_id, "image/png");
    let png = picture(600, 400, "image/png");
    let reply = target
        .upload(&body["upload"], "image/png", png.clone())
        .await;
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
        let image_id = body["newItem"]["imageId"].as_str().unwrap();
        assert_upload_form_for(&body["upload"], image_id, kind);
        let reply = target
            .upload(&body["upload"], kind, picture(300, 300, kind))
            .await;
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
    let reply = target
        .upload(&body["upload"], "image/png", "hello, not a PNG".into())
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
    let reply = target.upload(&second["upload"], "image/png", jpeg).await;
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
