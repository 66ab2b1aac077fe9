//! Tokens, bodies, CORS, unknown routes and the development issuer.

use super::*;

#[tokio::test]
async fn health_answers_without_a_token() {
    let h = harness();
    let answer = call(Method::GET, "/health").send(&h).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json(), serde_json::json!({"status": "ok"}));
}

#[tokio::test]
async fn writes_need_a_valid_token_and_rejections_store_nothing() {
    let h = harness();
    let good = token("alice");
    let (head, signature) = good.rsplit_once('.').unwrap();
    let flipped = if signature.starts_with('A') { "B" } else { "A" };
    let altered = format!("{head}.{flipped}{}", &signature[1..]);
    let expired = issuer()
        .issue_until("alice", now() - 7200, now() - 3600)
        .unwrap();
    let other_key = {
        let dir = tempfile::tempdir().unwrap();
        DevIssuer::load_or_create(dir.path(), ISSUER)
            .unwrap()
            .issue("alice", now())
            .unwrap()
    };
    let body = r#"{"name":"n","description":"d"}"#;
    for bad in [
        None,
        Some(altered.as_str()),
        Some(&expired),
        Some(&other_key),
        Some("garbage"),
    ] {
        let mut request = call(Method::POST, "/groups").json(body);
        if let Some(bad) = bad {
            request = request.token(bad);
        }
        let answer = request.send(&h).await;
        answer.assert_problem(401);
        let challenge = answer.headers["www-authenticate"].to_str().unwrap();
        assert!(
            challenge.starts_with("Bearer realm=\"udagram\""),
            "{challenge}"
        );
        let text = String::from_utf8_lossy(&answer.body);
        assert!(
            bad.is_none_or(|bad| !text.contains(bad)),
            "the token is echoed: {text}"
        );
    }
    let images = call(
        Method::POST,
        "/groups/0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b/images",
    )
    .json(r#"{"title":"t"}"#)
    .send(&h)
    .await;
    images.assert_problem(401);
    assert_eq!(group_count(&h).await, 0);
}

#[tokio::test]
async fn bad_bodies_are_4xx_problems_and_store_nothing() {
    let h = harness();
    let huge = format!(r#"{{"name":"{}"}}"#, "x".repeat(70 * 1024));
    let cases: Vec<(&str, String, u16)> = vec![
        ("application/json", "{".into(), 400),
        ("application/json", String::new(), 400),
        ("application/json", "[]".into(), 400),
        (
            "application/json",
            r#"{"name":"n","userId":"mallory"}"#.into(),
            400,
        ),
        (
            "application/json",
            r#"{"description":"no name"}"#.into(),
            400,
        ),
        ("application/json", r#"{"name":""}"#.into(), 400),
        (
            "application/json",
            format!(r#"{{"name":"{}"}}"#, "n".repeat(101)),
            400,
        ),
        (
            "application/json",
            format!(r#"{{"name":"n","description":"{}"}}"#, "d".repeat(1001)),
            400,
        ),
        ("application/json", r#"{"name":7}"#.into(), 400),
        ("text/plain", r#"{"name":"n"}"#.into(), 415),
        ("application/json", huge, 413),
    ];
    for (content_type, body, status) in cases {
        let answer = call(Method::POST, "/groups")
            .token(&token("alice"))
            .bytes(content_type, body.clone().into_bytes())
            .send(&h)
            .await;
        answer.assert_problem(status);
    }
    assert_eq!(group_count(&h).await, 0);
    // The limits themselves are accepted.
    let edge = format!(
        r#"{{"name":"{}","description":"{}"}}"#,
        "n".repeat(100),
        "d".repeat(1000)
    );
    let answer = call(Method::POST, "/groups")
        .token(&token("alice"))
        .json(&edge)
        .send(&h)
        .await;
    assert_eq!(answer.status, StatusCode::CREATED);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problems() {
    let h = harness();
    call(Method::GET, "/nope")
        .send(&h)
        .await
        .assert_problem(404);
    let answer = call(Method::DELETE, "/groups").send(&h).await;
    answer.assert_problem(405);
    assert!(answer.headers["allow"].to_str().unwrap().contains("GET"));
}

#[tokio::test]
async fn cors_allows_the_configured_origin_only_on_answers_and_errors() {
    let h = harness();
    for uri in ["/health", "/nope"] {
        let answer = call(Method::GET, uri)
            .header("origin", super::CLIENT_ORIGIN)
            .send(&h)
            .await;
        assert_eq!(
            answer.headers["access-control-allow-origin"],
            super::CLIENT_ORIGIN,
            "{uri}"
        );
        let foreign = call(Method::GET, uri)
            .header("origin", "https://evil.example")
            .send(&h)
            .await;
        assert!(
            foreign.headers.get("access-control-allow-origin").is_none(),
            "{uri}"
        );
    }
    let preflight = call(Method::OPTIONS, "/groups")
        .header("origin", super::CLIENT_ORIGIN)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type",
        )
        .send(&h)
        .await;
    assert!(preflight.status.is_success());
    assert_eq!(
        preflight.headers["access-control-allow-origin"],
        super::CLIENT_ORIGIN
    );
}

#[tokio::test]
async fn the_dev_issuer_mints_nothing_for_a_page_of_another_origin() {
    let h = harness();
    for (uri, content_type, body) in [
        ("/dev/token", "application/json", r#"{"user": "mallory"}"#),
        (
            "/dev/oauth/token",
            "application/x-www-form-urlencoded",
            "grant_type=refresh_token&client_id=udagram-web&refresh_token=x",
        ),
        (
            "/dev/authorize",
            "application/x-www-form-urlencoded",
            "transaction=x&user=mallory",
        ),
    ] {
        let answer = call(Method::POST, uri)
            .header("origin", "https://evil.example")
            .bytes(content_type, body.as_bytes().to_vec())
            .send(&h)
            .await;
        answer.assert_problem(403);
        assert!(
            !String::from_utf8_lossy(&answer.body).contains("eyJ"),
            "{uri}: no token in the answer"
        );
    }
    // Its own pages, and clients that send no Origin (the `udagram token` command), are served.
    let own = call(Method::POST, "/dev/token")
        .header("origin", super::BASE)
        .json(r#"{"user": "alice"}"#)
        .send(&h)
        .await;
    assert_eq!(own.status, StatusCode::OK);
}

#[tokio::test]
async fn the_dev_issuer_publishes_its_key_and_its_tokens_are_accepted() {
    let h = harness();
    let jwks = call(Method::GET, "/.well-known/jwks.json").send(&h).await;
    assert_eq!(jwks.status, StatusCode::OK);
    let key = &jwks.json()["keys"][0];
    assert_eq!(key["kid"], issuer().kid());
    assert_eq!(key["kty"], "RSA");
    assert!(key.get("d").is_none(), "the private exponent is published");

    let answer = call(Method::POST, "/dev/token")
        .json(r#"{"user":"bob"}"#)
        .send(&h)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let token = answer.json()["token"].as_str().unwrap().to_owned();
    let created = call(Method::POST, "/groups")
        .token(&token)
        .json(r#"{"name":"bob's"}"#)
        .send(&h)
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.json()["newItem"]["userId"], "bob");

    for body in [
        r#"{}"#,
        r#"{"user":""}"#,
        r#"{"user":"a b"}"#,
        r#"{"user":"x","admin":true}"#,
        "nope",
    ] {
        call(Method::POST, "/dev/token")
            .json(body)
            .send(&h)
            .await
            .assert_problem(400);
    }
}
