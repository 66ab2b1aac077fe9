//! `serve`'s upload form, checked as S3 checks a POST policy: altered, loosened, another key or
//! type, an extra field, too large, empty, replayed. Each a 4xx problem, nothing stored (the record
//! stays pending, no blob), CORS headers on every refusal.

use bytes::Bytes;
use serde_json::{Value, json};

use crate::fixtures::{create_group, form_fields, picture, post_form, wait_ready};
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

/// `upload` with the field `name` set to `value` (added when missing).
fn with(upload: &Value, name: &str, value: &str) -> Value {
    let mut changed = upload.clone();
    changed["fields"][name] = Value::String(value.to_owned());
    changed
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

pub async fn forged_forms_are_403(serve: Serve) {
    let http = serve.http();
    let token = serve.token("hank").await;
    let group = create_group(http, &token, "Uploads").await;
    let created = pending_png(&serve, &token, group["id"].as_str().unwrap()).await;
    let upload = &created["upload"];
    let fields = form_fields(upload);
    let sig = fields["x-amz-signature"].clone();
    let mut flipped = sig.clone();
    let last = flipped.pop().unwrap();
    flipped.push(if last == '0' { '1' } else { '0' });
    let other = pending_png(&serve, &token, group["id"].as_str().unwrap()).await;
    let other_id = other["newItem"]["imageId"].as_str().unwrap();
    // The other image's genuine policy with this form's key: the signature is the other's.
    let swapped = with(
        &other["upload"],
        "key",
        created["newItem"]["imageId"].as_str().unwrap(),
    );

    let forged = [
        (
            "altered signature",
            with(upload, "x-amz-signature", &flipped),
        ),
        ("another key", with(upload, "key", other_id)),
        ("another type", with(upload, "Content-Type", "image/jpeg")),
        ("html", with(upload, "Content-Type", "text/html")),
        ("extra field", with(upload, "acl", "public-read")),
        ("policy of another image", swapped),
        (
            "another policy",
            with(upload, "policy", &form_fields(&other["upload"])["policy"]),
        ),
    ];
    for (case, form) in forged {
        let reply = post_form(http, &form, "image/png", picture(40, 30, "image/png")).await;
        assert_eq!(reply.status, 403, "{case}: {}", reply.text());
        assert!(
            !reply.text().contains(&sig),
            "{case}: the signature is echoed"
        );
        reply.problem(403);
    }
    assert_untouched(&serve, &created).await;
    assert_untouched(&serve, &other).await;
    serve.stop().await;
}

pub async fn too_large_empty_and_replay(serve: Serve) {
    let http = serve.http();
    let token = serve.token("hank").await;
    let group = create_group(http, &token, "Uploads").await;
    let created = pending_png(&serve, &token, group["id"].as_str().unwrap()).await;
    let upload = &created["upload"];
    let png = picture(40, 30, "image/png");

    let too_large = Bytes::from(vec![0_u8; 10 * 1024 * 1024 + 1]);
    for (case, file) in [("too large", too_large), ("empty", Bytes::new())] {
        let reply = post_form(http, upload, "image/png", file).await;
        assert_eq!(reply.status, 400, "{case}: {}", reply.text());
        reply.problem(400);
    }
    let reply = http
        .post("/uploads")
        .bytes("image/png", png.clone())
        .send()
        .await;
    assert_eq!(reply.status, 400, "not a form: {}", reply.text());
    assert_untouched(&serve, &created).await;

    // The right upload works once; the same form again is 409.
    post_form(http, upload, "image/png", png.clone())
        .await
        .assert_status(204);
    let id = created["newItem"]["imageId"].as_str().unwrap();
    wait_ready(http, id).await;
    let again = post_form(http, upload, "image/png", picture(50, 50, "image/png")).await;
    again.problem(409);
    let blob = http
        .get(created["newItem"]["imageUrl"].as_str().unwrap())
        .send()
        .await;
    assert_eq!(blob.body, png, "a rejected replay changed the blob");
    serve.stop().await;
}

/// A browser posts the form straight to `serve`: its refusals must carry CORS headers too, or the
/// web client sees a network error instead of the problem.
pub async fn upload_refusals_carry_cors(serve: Serve) {
    const ORIGIN: &str = "https://photos.example.com";
    let http = serve.http();
    let token = serve.token("hank").await;
    let group = create_group(http, &token, "Browser").await;
    let created = pending_png(&serve, &token, group["id"].as_str().unwrap()).await;
    let upload = &created["upload"];
    let refusals = [
        (
            "wrong type",
            with(upload, "Content-Type", "image/jpeg"),
            Bytes::from_static(b"x"),
            403,
        ),
        (
            "forged",
            with(upload, "x-amz-signature", &"0".repeat(64)),
            Bytes::from_static(b"x"),
            403,
        ),
        (
            "too large",
            upload.clone(),
            Bytes::from(vec![0_u8; 10 * 1024 * 1024 + 1]),
            400,
        ),
    ];
    for (case, form, file, status) in refusals {
        let (content_type, body) =
            udagram::post_policy::form_body(form_fields(&form), "image/png", &file);
        let reply = http
            .post(form["url"].as_str().unwrap())
            .header("origin", ORIGIN)
            .bytes(&content_type, body)
            .send()
            .await;
        assert_eq!(reply.status, status, "{case}: {}", reply.text());
        let allowed = reply
            .header("access-control-allow-origin")
            .map(str::to_owned);
        assert!(
            allowed.as_deref() == Some("*") || allowed.as_deref() == Some(ORIGIN),
            "{case}: answered {status} without access-control-allow-origin"
        );
        reply.problem(status);
    }
    assert_untouched(&serve, &created).await;
    serve.stop().await;
}
