//! Bodies that are not what the API takes: each a 4xx problem, nothing stored.

use serde_json::json;

use crate::fixtures::{all_group_ids, create_group, walk};
use crate::target::Target;

pub async fn malformed_bodies(target: &impl Target) {
    let http = target.http();
    let token = target.token("gina").await;
    let group = create_group(http, &token, "Keep").await;
    let images = format!("/groups/{}/images", group["id"].as_str().unwrap());
    let huge = format!(
        r#"{{"name":"big","description":"{}"}}"#,
        "x".repeat(1024 * 1024)
    );
    let huge_title = format!(r#"{{"title":"{}"}}"#, "x".repeat(1024 * 1024));
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let bodies: Vec<(&str, Vec<u8>)> = vec![
        ("truncated", br#"{"name":"#.to_vec()),
        ("not json", b"name=x&description=y".to_vec()),
        ("empty", Vec::new()),
        (
            "trailing garbage",
            br#"{"name":"x","description":""}x"#.to_vec(),
        ),
        ("two documents", br#"{"name":"x"} {"name":"y"}"#.to_vec()),
        (
            "invalid utf-8",
            b"{\"name\":\"\xff\xfe\",\"description\":\"\"}".to_vec(),
        ),
        ("single quotes", b"{'name':'x'}".to_vec()),
        ("nested 100k deep", deep.into_bytes()),
        ("1 MB description", huge.into_bytes()),
        ("1 MB title", huge_title.into_bytes()),
        ("nul", b"\0".to_vec()),
    ];
    for (case, body) in &bodies {
        for path in ["/groups", images.as_str()] {
            let reply = http
                .post(path)
                .token(&token)
                .bytes("application/json", body.clone())
                .send()
                .await;
            assert!(
                matches!(reply.status, 400 | 413 | 415 | 422),
                "{case}: POST {path}: {} {}",
                reply.status,
                reply.text()
            );
            reply.client_error();
        }
    }
    // Not JSON by content type.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "image/png",
    ] {
        for path in ["/groups", images.as_str()] {
            let reply = http
                .post(path)
                .token(&token)
                .bytes(
                    content_type,
                    serde_json::to_vec(&json!({ "name": "x", "title": "x" })).unwrap(),
                )
                .send()
                .await;
            assert!(
                matches!(reply.status, 400 | 415),
                "{content_type}: {}",
                reply.status
            );
            reply.client_error();
        }
    }
    assert_eq!(
        all_group_ids(http).await.len(),
        1,
        "a bad body stored a group"
    );
    assert!(
        walk(http, &images, 100).await.is_empty(),
        "a bad body stored an image"
    );
    // The server still works after all that.
    create_group(http, &token, "Still fine").await;
}
