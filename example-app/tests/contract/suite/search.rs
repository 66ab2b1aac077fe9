//! `GET /images?q=`: full-text search over titles; user text is never query syntax.

use serde_json::{Value, json};

use crate::client::Http;
use crate::fixtures::{create_group, create_image, encode_query};
use crate::target::Target;

async fn search(http: &Http, q: &str) -> Vec<String> {
    let found = http
        .get(&format!("/images?q={}", encode_query(q)))
        .send()
        .await
        .ok_json(200);
    found["items"]
        .as_array()
        .unwrap_or_else(|| panic!("q={q}: {found}"))
        .iter()
        .map(|item: &Value| item["title"].as_str().unwrap().to_owned())
        .collect()
}

pub async fn finds_by_title_words(target: &impl Target) {
    let http = target.http();
    let token = target.token("dave").await;
    let group = create_group(http, &token, "Places").await;
    let group_id = group["id"].as_str().unwrap();
    for title in [
        "Sunset over the harbour",
        "Harbour lights at night",
        "Mountain lake",
        "Quotes \"inside\" and a star*",
    ] {
        create_image(http, &token, group_id, title).await;
    }
    // On Lambda new records reach the index through the table's stream.
    target.settle().await;
    let mut harbour = search(http, "harbour").await;
    harbour.sort();
    assert_eq!(
        harbour,
        ["Harbour lights at night", "Sunset over the harbour"]
    );
    assert_eq!(
        search(http, "HARBOUR").await.len(),
        2,
        "search ignores case"
    );
    assert_eq!(search(http, "mountain").await, ["Mountain lake"]);
    assert!(
        search(http, "harbour night")
            .await
            .contains(&"Harbour lights at night".to_owned())
    );
    assert_eq!(search(http, "volcano").await, Vec::<String>::new());

    let found = http.get("/images?q=lake").send().await.ok_json(200);
    let item = &found["items"][0];
    assert_eq!(item["groupId"], group_id);
    assert_eq!(
        item["status"], "pending",
        "pending images are searchable: {found}"
    );
    assert!(item["imageId"].is_string());

    // Every word of the title is searchable, punctuation aside.
    assert_eq!(
        search(http, "inside").await,
        ["Quotes \"inside\" and a star*"]
    );
    let limited = http
        .get("/images?q=harbour&limit=1")
        .send()
        .await
        .ok_json(200);
    assert_eq!(limited["items"].as_array().unwrap().len(), 1);
}

/// FTS syntax in `q` is literal text (or ignored): never an operator, never a 5xx.
pub async fn query_syntax_is_literal(target: &impl Target) {
    let http = target.http();
    let token = target.token("dave").await;
    let group = create_group(http, &token, "Places").await;
    let group_id = group["id"].as_str().unwrap();
    for title in ["Sunset over the harbour", "Mountain lake"] {
        create_image(http, &token, group_id, title).await;
    }
    target.settle().await;
    for q in [
        "\"",
        "\"\"",
        "*",
        "OR",
        "AND",
        "NOT",
        "NEAR(",
        "NEAR(harbour lake)",
        "harbour\"",
        "(",
        ")",
        "{",
        "}",
        "^",
        ":",
        "-",
        "+",
        "'",
        "\\",
        "%",
        ";",
        "title:harbour",
        "harbour;DROP TABLE images",
        "' OR 1=1 --",
        "\u{0}",
        "a AND",
        "OR harbour",
        "harbour NOT",
        "🐈",
    ] {
        let _ = search(http, q).await;
    }
    // `OR` is no operator: "harbour OR mountain" does not find the mountain.
    let found = search(http, "harbour OR mountain").await;
    assert!(
        !found.contains(&"Mountain lake".to_owned()),
        "OR acted as an operator: {found:?}"
    );
    // `*` is no prefix operator.
    let found = search(http, "harb*").await;
    assert!(found.is_empty(), "* acted as a prefix operator: {found:?}");
    // `NOT` is no operator: "lake NOT harbour" is three words, and no title has all of them.
    let found = search(http, "lake NOT harbour").await;
    assert!(
        !found.contains(&"Mountain lake".to_owned()),
        "NOT acted as an operator: {found:?}"
    );
    // Column filters are not honoured as syntax either; a plain word still works after all that.
    assert_eq!(search(http, "lake").await, ["Mountain lake"]);
}

pub async fn bad_queries(target: &impl Target) {
    let http = target.http();
    http.get("/images").send().await.problem(400);
    http.get("/images?q=").send().await.problem(400);
    http.get(&format!("/images?q={}", "a".repeat(201)))
        .send()
        .await
        .problem(400);
    for limit in ["0", "101", "-1", "abc"] {
        http.get(&format!("/images?q=a&limit={limit}"))
            .send()
            .await
            .problem(400);
    }
    let found = http
        .get(&format!("/images?q={}", "a".repeat(200)))
        .send()
        .await
        .ok_json(200);
    assert_eq!(found["items"], json!([]));
}
