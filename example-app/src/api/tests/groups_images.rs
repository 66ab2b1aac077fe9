//! Groups, images, pagination and search.

use super::*;

#[tokio::test]
async fn groups_are_listed_newest_first_with_pages() {
    let h = harness();
    let first = create_group(&h, "first").await;
    tokio::time::sleep(Duration::from_millis(3)).await;
    let second = create_group(&h, "second").await;
    tokio::time::sleep(Duration::from_millis(3)).await;
    let third = create_group(&h, "third").await;

    let page = call(Method::GET, "/groups?limit=2").send(&h).await.json();
    let ids: Vec<&str> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [third.as_str(), second.as_str()]);
    assert_eq!(page["items"][0]["userId"], "alice");
    let next = page["nextKey"].as_str().unwrap();
    let rest = call(Method::GET, &format!("/groups?limit=2&nextKey={next}"))
        .send(&h)
        .await
        .json();
    assert_eq!(rest["items"][0]["id"], first.as_str());
    assert_eq!(rest["items"].as_array().unwrap().len(), 1);
    assert!(rest["nextKey"].is_null());
}

#[tokio::test]
async fn bad_page_parameters_are_400() {
    let h = harness();
    create_group(&h, "g").await;
    for query in [
        "limit=0",
        "limit=101",
        "limit=x",
        "limit=-3",
        "nextKey=garbage",
        "nextKey=",
        "limit=1&limit=2",
        "nextKey=%ff",
    ] {
        call(Method::GET, &format!("/groups?{query}"))
            .send(&h)
            .await
            .assert_problem(400);
    }
}

#[tokio::test]
async fn images_of_a_group() {
    let h = harness();
    let group = create_group(&h, "g").await;
    let missing = "0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b";
    call(Method::GET, &format!("/groups/{missing}/images"))
        .send(&h)
        .await
        .assert_problem(404);
    call(Method::GET, "/groups/not-a-uuid/images")
        .send(&h)
        .await
        .assert_problem(400);
    let answer = call(Method::POST, &format!("/groups/{missing}/images"))
        .token(&token("alice"))
        .json(r#"{"title":"t"}"#)
        .send(&h)
        .await;
    answer.assert_problem(404);
    for body in [
        r#"{}"#,
        r#"{"title":""}"#,
        r#"{"title":"t","groupId":"x"}"#,
        r#"{"title":"t","contentType":"text/html"}"#,
    ] {
        call(Method::POST, &format!("/groups/{group}/images"))
            .token(&token("alice"))
            .json(body)
            .send(&h)
            .await
            .assert_problem(400);
    }

    let (older, _) = create_image(&h, &group, "older", "image/png").await;
    tokio::time::sleep(Duration::from_millis(3)).await;
    let (newer, upload) = create_image(&h, &group, "newer", "image/jpeg").await;
    let field = |name: &str| {
        upload
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(field("key"), Some(newer.as_str()));
    assert_eq!(field("Content-Type"), Some("image/jpeg"));
    let list = call(Method::GET, &format!("/groups/{group}/images"))
        .send(&h)
        .await
        .json();
    let ids: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["imageId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [newer.as_str(), older.as_str()]);

    let image = call(Method::GET, &format!("/images/{older}"))
        .send(&h)
        .await;
    assert_eq!(image.status, StatusCode::OK);
    let image = image.json();
    assert_eq!(image["status"], "pending");
    assert_eq!(image["groupId"], group.as_str());
    assert_eq!(image["imageUrl"], format!("{BASE}/files/{older}"));
    call(Method::GET, &format!("/images/{missing}"))
        .send(&h)
        .await
        .assert_problem(404);
    call(Method::GET, "/images/..%2F..%2Fetc")
        .send(&h)
        .await
        .assert_problem(400);
}

#[tokio::test]
async fn search_finds_titles_and_never_runs_user_syntax() {
    let h = harness();
    let group = create_group(&h, "g").await;
    let (fox, _) = create_image(&h, &group, "A quick red fox", "image/png").await;
    create_image(&h, &group, "A lazy dog", "image/png").await;

    let found = call(Method::GET, "/images?q=red+fox").send(&h).await;
    assert_eq!(found.status, StatusCode::OK);
    let items = found.json()["items"].as_array().unwrap().clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["imageId"], fox.as_str());

    for query in [
        "%22red",
        "red%20OR%20dog",
        "NEAR(red%20dog)",
        "*",
        "title%3Ared",
        "%28%29%22%27",
    ] {
        let answer = call(Method::GET, &format!("/images?q={query}"))
            .send(&h)
            .await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "{query}: {:?}",
            answer.json()
        );
    }
    let or = call(Method::GET, "/images?q=red%20OR%20dog")
        .send(&h)
        .await
        .json();
    assert_eq!(
        or["items"].as_array().unwrap().len(),
        0,
        "OR was read as an operator"
    );
    for query in ["", "q=", &format!("q={}", "a".repeat(201)), "q=x&limit=0"] {
        call(Method::GET, &format!("/images?{query}"))
            .send(&h)
            .await
            .assert_problem(400);
    }
}
