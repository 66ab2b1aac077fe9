//! `POST /groups/{id}/images`, `GET /groups/{id}/images`, `GET /images/{id}`.

use std::collections::HashSet;

use serde_json::json;

use crate::fixtures::{
    assert_timestamp, assert_uuid_v4, create_group, create_image, form_fields, ids, walk,
};
use crate::target::Target;

const MISSING: &str = "0b8e2b8e-54b5-4a8e-9d3c-7c1f4a6d2e10";

pub async fn create_returns_a_pending_image_and_an_upload_url(target: &impl Target) {
    let http = target.http();
    let token = target.token("carol").await;
    let group = create_group(http, &token, "Cats").await;
    let group_id = group["id"].as_str().unwrap();
    let body = create_image(http, &token, group_id, "A cat").await;
    let image = &body["newItem"];
    assert_uuid_v4(&image["imageId"], "newItem.imageId");
    assert_timestamp(&image["timestamp"], "newItem.timestamp");
    assert_eq!(image["groupId"], group_id);
    assert_eq!(image["userId"], "carol");
    assert_eq!(image["title"], "A cat");
    assert_eq!(image["status"], "pending");
    assert!(image["imageUrl"].is_string(), "{body}");
    assert!(
        image.get("thumbnailUrl").is_none(),
        "a pending image has no thumbnail: {body}"
    );
    let upload_url = body["upload"]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("upload.url: {body}"));
    assert!(
        upload_url.starts_with("http"),
        "upload.url must be absolute: {upload_url}"
    );
    let policy = udagram::post_policy::decode_policy(&form_fields(&body["upload"])["policy"])
        .unwrap_or_else(|e| panic!("upload.fields.policy: {e}: {body}"));
    assert!(
        policy["expiration"].is_string(),
        "the upload form must expire: {policy}"
    );

    let image_id = image["imageId"].as_str().unwrap();
    let read = http
        .get(&format!("/images/{image_id}"))
        .send()
        .await
        .ok_json(200);
    assert_eq!(&read, image, "GET /images/{{id}} differs from newItem");
    let listed = http
        .get(&format!("/groups/{group_id}/images"))
        .send()
        .await
        .ok_json(200);
    assert_eq!(listed["items"], json!([image.clone()]));
    assert_eq!(listed["nextKey"], json!(null));
}

pub async fn newest_first_and_paginated(target: &impl Target) {
    let http = target.http();
    let token = target.token("carol").await;
    let group = create_group(http, &token, "Birds").await;
    let other = create_group(http, &token, "Fish").await;
    let group_id = group["id"].as_str().unwrap();
    let mut created = Vec::new();
    for n in 0..7 {
        let body = create_image(http, &token, group_id, &format!("bird {n}")).await;
        created.push(body["newItem"].clone());
    }
    create_image(http, &token, other["id"].as_str().unwrap(), "a fish").await;
    let path = format!("/groups/{group_id}/images");
    let walked = walk(http, &path, 20).await;
    crate::fixtures::assert_newest_first(&walked, &created, "imageId");
    let walked_ids = ids(&walked, "imageId");
    for limit in [2, 3] {
        let again = ids(&walk(http, &path, limit).await, "imageId");
        assert_eq!(again, walked_ids, "limit={limit}: the same sequence");
    }
    let unique: HashSet<_> = walked_ids.iter().collect();
    assert_eq!(unique.len(), 7);
    let first = http
        .get(&format!("{path}?limit=3"))
        .send()
        .await
        .ok_json(200);
    assert!(first["nextKey"].is_string(), "{first}");
    for limit in ["0", "101", "-1", "abc"] {
        http.get(&format!("{path}?limit={limit}"))
            .send()
            .await
            .problem(400);
    }
    http.get(&format!("{path}?nextKey=garbage"))
        .send()
        .await
        .problem(400);
    let empty = http
        .get(&format!("/groups/{}/images", other["id"].as_str().unwrap()))
        .send()
        .await
        .ok_json(200);
    assert_eq!(
        empty["items"].as_array().unwrap().len(),
        1,
        "images leak across groups"
    );
}

pub async fn missing_and_malformed_ids(target: &impl Target) {
    let http = target.http();
    let token = target.token("carol").await;
    http.get(&format!("/groups/{MISSING}/images"))
        .send()
        .await
        .problem(404);
    http.get(&format!("/images/{MISSING}"))
        .send()
        .await
        .problem(404);
    http.post(&format!("/groups/{MISSING}/images"))
        .token(&token)
        .json(&json!({ "title": "orphan" }))
        .send()
        .await
        .problem(404);
    target.settle().await;
    let found = http.get("/images?q=orphan").send().await.ok_json(200);
    assert_eq!(
        found["items"],
        json!([]),
        "an image for a missing group was stored"
    );
    for id in [
        "not-a-uuid",
        "123",
        "0b8e2b8e54b54a8e9d3c7c1f4a6d2e10x",
        "0b8e2b8e-54b5-4a8e-9d3c-7c1f4a6d2e1",
        "%2e%2e",
        "..%2f..%2fetc%2fpasswd",
        "0b8e2b8e-54b5-4a8e-9d3c-7c1f4a6d2e10%00",
        "'%20OR%20'1'='1",
    ] {
        http.get(&format!("/groups/{id}/images"))
            .send()
            .await
            .client_error();
        http.get(&format!("/images/{id}"))
            .send()
            .await
            .client_error();
        http.post(&format!("/groups/{id}/images"))
            .token(&token)
            .json(&json!({ "title": "x" }))
            .send()
            .await
            .client_error();
    }
    http.get("/groups/not-a-uuid/images")
        .send()
        .await
        .problem(400);
    http.get("/images/not-a-uuid").send().await.problem(400);
    http.get("/groups/%2e%2e/images")
        .send()
        .await
        .client_error();
    target.settle().await;
    assert_eq!(
        http.get("/images?q=x").send().await.ok_json(200)["items"],
        json!([]),
        "an image was stored by a rejected request"
    );
}

pub async fn title_validation(target: &impl Target) {
    let http = target.http();
    let token = target.token("carol").await;
    let group = create_group(http, &token, "Frogs").await;
    let path = format!("/groups/{}/images", group["id"].as_str().unwrap());
    for body in [
        json!({}),
        json!({ "title": "" }),
        json!({ "title": "x".repeat(201) }),
        json!({ "title": 7 }),
        json!({ "title": "ok", "userId": "mallory" }),
        json!({ "title": "ok", "status": "ready" }),
        json!({ "title": "ok", "imageId": MISSING }),
        json!({ "title": "ok", "thumbnailUrl": "http://evil.example/x.png" }),
        json!(["title"]),
    ] {
        http.post(&path)
            .token(&token)
            .json(&body)
            .send()
            .await
            .problem(400);
    }
    assert_eq!(
        walk(http, &path, 100).await.len(),
        0,
        "a rejected image was stored"
    );
    let edge = create_image(
        http,
        &token,
        group["id"].as_str().unwrap(),
        &"t".repeat(200),
    )
    .await;
    assert_eq!(edge["newItem"]["userId"], "carol");
    assert_eq!(walk(http, &path, 100).await.len(), 1);
}
