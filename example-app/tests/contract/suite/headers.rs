//! `/health`, content types and CORS.

use serde_json::json;

use crate::target::Target;

use super::CLIENT_ORIGIN as ORIGIN;

pub async fn health(target: &impl Target) {
    let body = target.http().get("/health").send().await.ok_json(200);
    assert_eq!(body, json!({ "status": "ok" }));
}

pub async fn unknown_routes_and_methods_are_problems(target: &impl Target) {
    let http = target.http();
    http.get("/nope").send().await.problem(404);
    http.get("/groups/extra/segments/here")
        .send()
        .await
        .client_error();
    let reply = http.call(http::Method::DELETE, "/groups").send().await;
    assert!(
        reply.status == 405 || reply.status == 404,
        "DELETE /groups: {}",
        reply.status
    );
    reply.client_error();
}

fn assert_allows_origin(reply: &crate::client::Reply) {
    let allowed = reply
        .header("access-control-allow-origin")
        .unwrap_or_else(|| panic!("{}: no access-control-allow-origin", reply.what));
    assert_eq!(allowed, ORIGIN, "{}: allow-origin", reply.what);
}

/// The API answers browsers of the configured web client's origin only (never `*` unless
/// configured so): a page of any other origin cannot read its answers.
pub async fn cors_other_origins_are_not_allowed(target: &impl Target) {
    let http = target.http();
    for origin in [
        "https://evil.example.com",
        "https://photos.example.com.evil.example",
        "null",
    ] {
        let reply = http.get("/groups").header("origin", origin).send().await;
        reply.assert_status(200);
        assert_eq!(
            reply.header("access-control-allow-origin"),
            None,
            "GET /groups from {origin}"
        );
        let preflight = http
            .call(http::Method::OPTIONS, "/groups")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .send()
            .await;
        assert_eq!(
            preflight.header("access-control-allow-origin"),
            None,
            "preflight from {origin}"
        );
    }
}

pub async fn cors(target: &impl Target) {
    let http = target.http();
    let preflight = http
        .call(http::Method::OPTIONS, "/groups")
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await;
    assert!(
        preflight.status == 200 || preflight.status == 204,
        "preflight: {} {}",
        preflight.status,
        preflight.text()
    );
    assert_allows_origin(&preflight);
    let methods = preflight
        .header("access-control-allow-methods")
        .unwrap_or_default()
        .to_ascii_uppercase();
    assert!(
        methods.contains("POST") || methods == "*",
        "allow-methods: {methods}"
    );
    let headers = preflight
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(
        headers == "*" || (headers.contains("authorization") && headers.contains("content-type")),
        "allow-headers: {headers}"
    );

    let preflight = http
        .call(
            http::Method::OPTIONS,
            "/groups/0b8e2b8e-54b5-4a8e-9d3c-7c1f4a6d2e10/images",
        )
        .header("origin", ORIGIN)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .send()
        .await;
    assert!(
        preflight.status == 200 || preflight.status == 204,
        "{}",
        preflight.status
    );
    assert_allows_origin(&preflight);

    let normal = http.get("/groups").header("origin", ORIGIN).send().await;
    normal.assert_status(200);
    assert_allows_origin(&normal);
    assert_eq!(normal.media_type(), "application/json");

    // A browser can read error details too.
    let missing = http
        .get("/images/not-a-uuid")
        .header("origin", ORIGIN)
        .send()
        .await;
    assert_allows_origin(&missing);
    missing.problem(400);
    let unauthenticated = http
        .post("/groups")
        .header("origin", ORIGIN)
        .json(&json!({ "name": "x" }))
        .send()
        .await;
    assert_allows_origin(&unauthenticated);
    unauthenticated.problem(401);
}
