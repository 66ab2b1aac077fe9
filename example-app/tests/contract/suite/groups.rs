//! `GET /groups`, `POST /groups`: bodies, ownership, validation, pagination.

use std::collections::HashSet;

use serde_json::json;

use crate::fixtures::{
    all_group_ids, assert_timestamp, assert_uuid_v4, base64url, create_group, encode_query, walk,
};
use crate::target::Target;

pub async fn create_returns_the_new_group(target: &impl Target) {
    let http = target.http();
    let token = target.token("alice").await;
    let body = http
        .post("/groups")
        .token(&token)
        .json(&json!({ "name": "Dogs", "description": "Only dogs" }))
        .send()
        .await
        .ok_json(201);
    let group = &body["newItem"];
    assert_uuid_v4(&group["id"], "newItem.id");
    assert_timestamp(&group["timestamp"], "newItem.timestamp");
    assert_eq!(group["userId"], "alice", "{body}");
    assert_eq!(group["name"], "Dogs");
    assert_eq!(group["description"], "Only dogs");
    let fields: HashSet<_> = group.as_object().unwrap().keys().cloned().collect();
    let expected: HashSet<_> = ["id", "userId", "name", "description", "timestamp"]
        .map(String::from)
        .into();
    assert_eq!(fields, expected, "{body}");

    let listed = http.get("/groups").send().await.ok_json(200);
    assert_eq!(listed["items"], json!([group.clone()]), "{listed}");
    assert_eq!(listed["nextKey"], json!(null));
}

pub async fn empty_list(target: &impl Target) {
    let listed = target.http().get("/groups").send().await.ok_json(200);
    assert_eq!(listed, json!({ "items": [], "nextKey": null }));
}

/// `userId` is the token's `sub`: a body that tries to set it is an unknown field, rejected.
pub async fn user_id_comes_from_the_token(target: &impl Target) {
    let http = target.http();
    let bob = target.token("bob").await;
    let problem = http
        .post("/groups")
        .token(&bob)
        .json(&json!({ "name": "Mine", "description": "", "userId": "alice" }))
        .send()
        .await
        .problem(400);
    assert!(problem["title"].is_string());
    assert!(
        all_group_ids(http).await.is_empty(),
        "a rejected body was stored"
    );
    let group = create_group(http, &bob, "Mine").await;
    assert_eq!(group["userId"], "bob");
}

pub async fn validation(target: &impl Target) {
    let http = target.http();
    let token = target.token("alice").await;
    let long = |n: usize| "x".repeat(n);
    let rejected = [
        json!({}),
        json!({ "description": "no name" }),
        json!({ "name": "", "description": "" }),
        json!({ "name": long(101), "description": "" }),
        json!({ "name": "ok", "description": long(1001) }),
        json!({ "name": 42, "description": "" }),
        json!({ "name": null, "description": "" }),
        json!({ "name": "ok", "description": ["a"] }),
        json!({ "name": "ok", "description": "", "id": "6f1c1a8e-7a43-4d4f-9a57-0d8f4d7d9b11" }),
        json!({ "name": "ok", "description": "", "timestamp": "2020-01-01T00:00:00.000Z" }),
        json!(["name", "ok"]),
        json!("name"),
        json!(null),
    ];
    for body in &rejected {
        http.post("/groups")
            .token(&token)
            .json(body)
            .send()
            .await
            .problem(400);
    }
    assert!(
        all_group_ids(http).await.is_empty(),
        "a rejected body was stored"
    );
    // The boundaries themselves are accepted.
    let edge = http
        .post("/groups")
        .token(&token)
        .json(&json!({ "name": long(100), "description": long(1000) }))
        .send()
        .await
        .ok_json(201);
    assert_eq!(edge["newItem"]["name"].as_str().unwrap().len(), 100);
    let unicode = create_group(http, &token, "Chats et chiens: 猫と犬 🐈").await;
    assert_eq!(unicode["name"], "Chats et chiens: 猫と犬 🐈");
    assert_eq!(all_group_ids(http).await.len(), 2);
}

/// 45 groups, pages of 20 with nextKey: 20 + 20 + 5, no duplicates or gaps, newest first.
pub async fn pagination(target: &impl Target) {
    let http = target.http();
    let token = target.token("alice").await;
    let mut created = Vec::new();
    for n in 0..45 {
        created.push(create_group(http, &token, &format!("group {n:02}")).await);
    }
    // Creation timestamps never go backwards.
    for pair in created.windows(2) {
        assert!(
            pair[0]["timestamp"].as_str() <= pair[1]["timestamp"].as_str(),
            "{pair:?}"
        );
    }

    let mut pages = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let url = match &next {
            Some(key) => format!("/groups?limit=20&nextKey={}", encode_query(key)),
            None => "/groups?limit=20".to_owned(),
        };
        let page = http.get(&url).send().await.ok_json(200);
        let items = page["items"].as_array().unwrap().clone();
        pages.push(items.len());
        for item in &items {
            assert_eq!(
                Some(item),
                created.iter().find(|group| group["id"] == item["id"]),
                "a listed group differs from what POST answered"
            );
        }
        next = page["nextKey"].as_str().map(str::to_owned);
        if next.is_none() {
            break;
        }
        assert!(pages.len() < 10, "pagination does not end");
    }
    assert_eq!(pages, vec![20, 20, 5], "page sizes");

    let walked = walk(http, "/groups", 20).await;
    let walked_ids = crate::fixtures::ids(&walked, "id");
    let unique: HashSet<_> = walked_ids.iter().collect();
    assert_eq!(unique.len(), walked_ids.len(), "duplicates across pages");
    crate::fixtures::assert_newest_first(&walked, &created, "id");

    // Other page sizes see the same sequence.
    for limit in [1, 7, 45, 100] {
        let ids = crate::fixtures::ids(&walk(http, "/groups", limit).await, "id");
        assert_eq!(ids, walked_ids, "limit={limit}");
    }
    let default = http.get("/groups").send().await.ok_json(200);
    assert_eq!(
        default["items"].as_array().unwrap().len(),
        20,
        "default limit"
    );
    assert!(default["nextKey"].is_string());
    let all = http.get("/groups?limit=100").send().await.ok_json(200);
    assert_eq!(all["items"].as_array().unwrap().len(), 45);
    assert_eq!(all["nextKey"], json!(null));
}

pub async fn bad_limits_and_keys(target: &impl Target) {
    let http = target.http();
    let token = target.token("alice").await;
    for n in 0..3 {
        create_group(http, &token, &format!("g{n}")).await;
    }
    for limit in [
        "0",
        "101",
        "-1",
        "abc",
        "1.5",
        "1e2",
        "99999999999999999999",
        "%00",
    ] {
        http.get(&format!("/groups?limit={limit}"))
            .send()
            .await
            .problem(400);
    }
    let real = http.get("/groups?limit=1").send().await.ok_json(200);
    let real_key = real["nextKey"].as_str().unwrap().to_owned();
    let mut forged = vec![
        "garbage".to_owned(),
        "!!!!".to_owned(),
        "' OR 1=1 --".to_owned(),
        base64url(b"not json"),
        base64url(b"{}"),
        base64url(b"[]"),
        base64url(b"null"),
        base64url(br#"{"x":1}"#),
        base64url(&[0xff, 0xfe, 0x00, 0x01]),
        "A".repeat(10_000),
        format!("{real_key}x"),
        format!("{real_key}{real_key}"),
    ];
    // A real key with one character changed is not a key the store made, or is rejected.
    let mut chars: Vec<char> = real_key.chars().collect();
    chars[real_key.len() / 2] = if chars[real_key.len() / 2] == 'A' {
        '_'
    } else {
        'A'
    };
    let altered: String = chars.into_iter().collect();
    for key in forged.drain(..) {
        http.get(&format!("/groups?nextKey={}", encode_query(&key)))
            .send()
            .await
            .problem(400);
    }
    // An altered key may decode to another valid position; it must not be a 5xx (checked by send).
    let reply = http
        .get(&format!("/groups?nextKey={}", encode_query(&altered)))
        .send()
        .await;
    assert!(
        reply.status == 200 || reply.status == 400,
        "{}: {}",
        reply.what,
        reply.status
    );
    // Bad values did not break the listing.
    assert_eq!(all_group_ids(http).await.len(), 3);
}
