//! The local signed upload URL: expired, altered, wrong type, too large, replayed. Each a 4xx
//! problem, nothing stored (the record stays pending, no blob).

use bytes::Bytes;
use serde_json::{Value, json};

use crate::client::channel_body;
use crate::fixtures::{create_group, picture, query_param, wait_ready};
use crate::serve::Serve;
use crate::target::Target;

async fn pending_png(serve: &Serve, token: &str, group_id: &str) -> Value {
    serve
        .http()
        .post(&format!("/groups/{group_id}/images"))
        .token(token)
        .json(&json!({ "title": "target", "contentType": "image/png" }))
        .send()
        .await
        .ok_json(201)
}

fn replace_param(url: &str, name: &str, value: &str) -> String {
    let old = query_param(url, name).unwrap_or_else(|| panic!("{url} has no {name}"));
    url.replace(&format!("{name}={old}"), &format!("{name}={value}"))
}

async fn assert_untouched(serve: &Serve, created: &Value) {
    let http = serve.http();
    let id = created["newItem"]["imageId"].as_str().unwrap();
    let image = http.get(&format!("/images/{id}")).send().await.ok_json(200);
    assert_eq!(image["status"], "pending", "{image}");
    let blob = http
        .get(created["newItem"]["imageUrl"].as_str().unwrap())
        .send()
        .await;
    blob.problem(404);
}

pub async fn forged_urls_are_403(serve: Serve) {
    let http = serve.http();
    let token = serve.token("hank").await;
    let group = create_group(http, &token, "Uploads").await;
    let created = pending_png(&serve, &token, group["id"].as_str().unwrap()).await;
    let url = created["uploadUrl"].as_str().unwrap().to_owned();
    let expires: u64 = query_param(&url, "expires").unwrap().parse().unwrap();
    let sig = query_param(&url, "sig").unwrap();
    let mut flipped = sig.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == '0' { '1' } else { '0' });
    let other = pending_png(&serve, &token, group["id"].as_str().unwrap()).await;
    let other_id = other["newItem"]["imageId"].as_str().unwrap();
    let this_id = created["newItem"]["imageId"].as_str().unwrap();

    let forged = [
        ("expired", replace_param(&url, "expires", "1000")),
        (
            "expires in the past",
            replace_param(&url, "expires", &(expires - 400).to_string()),
        ),
        (
            "expires later",
            replace_param(&url, "expires", &(expires + 3600).to_string()),
        ),
        ("altered signature", replace_param(&url, "sig", &flipped)),
        ("empty signature", replace_param(&url, "sig", "")),
        ("bigger max", replace_param(&url, "max", "104857600")),
        ("other type", replace_param(&url, "type", "image%2Fgif")),
        ("other image", url.replace(this_id, other_id)),
    ];
    for (case, forged) in &forged {
        let kind = crate::fixtures::upload_type(forged);
        let reply = http
            .put(forged)
            .bytes(&kind, picture(20, 20, "image/png"))
            .send()
            .await;
        assert_eq!(reply.status, 403, "{case}: PUT {forged}: {}", reply.text());
        reply.problem(403);
    }
    // Parameters missing altogether: some 4xx.
    let bare = url.split_once('?').unwrap().0.to_owned();
    for (case, broken) in [
        ("no query", bare),
        ("no sig", url.replace(&format!("&sig={sig}"), "")),
    ] {
        let reply = http
            .put(&broken)
            .bytes("image/png", picture(20, 20, "image/png"))
            .send()
            .await;
        assert!(
            matches!(reply.status, 400 | 403),
            "{case}: {}",
            reply.status
        );
        reply.client_error();
    }
    assert_untouched(&serve, &created).await;
    assert_untouched(&serve, &other).await;
    serve.stop().await;
}

pub async fn wrong_type_too_large_and_replay(serve: Serve) {
    let http = serve.http();
    let token = serve.token("hank").await;
    let group = create_group(http, &token, "Uploads").await;
    let created = pending_png(&serve, &token, group["id"].as_str().unwrap()).await;
    let url = created["uploadUrl"].as_str().unwrap().to_owned();
    let png = picture(40, 30, "image/png");

    for content_type in [
        "image/jpeg",
        "text/plain",
        "application/octet-stream",
        "image/pngx",
    ] {
        let reply = http.put(&url).bytes(content_type, png.clone()).send().await;
        assert_eq!(
            reply.status,
            415,
            "Content-Type {content_type}: {}",
            reply.text()
        );
        reply.problem(415);
    }
    let reply = http.put(&url).raw(png.clone()).send().await;
    assert_eq!(reply.status, 415, "no Content-Type: {}", reply.text());
    reply.problem(415);

    let max: usize = query_param(&url, "max").unwrap().parse().unwrap();
    assert!(max <= 10 * 1024 * 1024, "max {max} > 10 MiB");
    let too_large = Bytes::from(vec![0_u8; max + 1]);
    let reply = http
        .put(&url)
        .bytes("image/png", too_large.clone())
        .send()
        .await;
    assert_eq!(
        reply.status,
        413,
        "{} bytes with Content-Length: {}",
        max + 1,
        reply.text()
    );
    reply.problem(413);
    // Without Content-Length (chunked), the server counts.
    let (sender, body) = channel_body();
    let feeder = tokio::spawn(async move {
        for chunk in too_large.chunks(256 * 1024) {
            if sender.send(Bytes::copy_from_slice(chunk)).await.is_err() {
                break;
            }
        }
    });
    let reply = http
        .put(&url)
        .header("content-type", "image/png")
        .stream(body)
        .try_send()
        .await;
    feeder.abort();
    match reply {
        Ok(reply) => {
            assert_eq!(
                reply.status,
                413,
                "chunked {} bytes: {}",
                max + 1,
                reply.text()
            );
            reply.problem(413);
        }
        // The server may answer 413 and close while the body is still being sent.
        Err(error) => assert!(!error.is_empty()),
    }
    assert_untouched(&serve, &created).await;

    // The right upload works once; the same URL again is 409.
    let reply = http.put(&url).bytes("image/png", png.clone()).send().await;
    reply.assert_status(204);
    let id = created["newItem"]["imageId"].as_str().unwrap();
    wait_ready(http, id).await;
    let again = http.put(&url).bytes("image/png", png.clone()).send().await;
    again.problem(409);
    let blob = http
        .get(created["newItem"]["imageUrl"].as_str().unwrap())
        .send()
        .await;
    assert_eq!(blob.body, png, "a rejected replay changed the blob");
    serve.stop().await;
}

/// A browser uploads straight to the upload URL: its refusals must carry CORS headers too, or the
/// web client sees a network error instead of the problem.
pub async fn upload_refusals_carry_cors(serve: Serve) {
    const ORIGIN: &str = "https://photos.example.com";
    let http = serve.http();
    let token = serve.token("hank").await;
    let group = create_group(http, &token, "Browser").await;
    let created = pending_png(&serve, &token, group["id"].as_str().unwrap()).await;
    let url = created["uploadUrl"].as_str().unwrap().to_owned();
    let max: usize = query_param(&url, "max").unwrap().parse().unwrap();
    let preflight = http
        .call(http::Method::OPTIONS, &url)
        .header("origin", ORIGIN)
        .header("access-control-request-method", "PUT")
        .header("access-control-request-headers", "content-type")
        .send()
        .await;
    assert!(
        matches!(preflight.status, 200 | 204),
        "preflight: {}",
        preflight.status
    );
    assert!(
        preflight.header("access-control-allow-origin").is_some(),
        "preflight: no CORS"
    );
    let refusals = [
        (
            "wrong type",
            url.clone(),
            "image/jpeg",
            Bytes::from_static(b"x"),
            415,
        ),
        (
            "forged",
            replace_param(&url, "expires", "1000"),
            "image/png",
            Bytes::from_static(b"x"),
            403,
        ),
        (
            "too large",
            url.clone(),
            "image/png",
            Bytes::from(vec![0_u8; max + 1]),
            413,
        ),
    ];
    for (case, target, content_type, body, status) in refusals {
        let reply = http
            .put(&target)
            .header("origin", ORIGIN)
            .bytes(content_type, body)
            .send()
            .await;
        assert_eq!(reply.status, status, "{case}: {}", reply.text());
        let allowed = reply
            .header("access-control-allow-origin")
            .map(str::to_owned);
        assert!(
            allowed.as_deref() == Some("*") || allowed.as_deref() == Some(ORIGIN),
            "{case}: PUT {target} answered {status} without access-control-allow-origin"
        );
        reply.problem(status);
    }
    assert_untouched(&serve, &created).await;
    serve.stop().await;
}
