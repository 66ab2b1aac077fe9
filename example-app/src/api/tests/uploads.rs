//! The local upload form, blob files and upload processing.

use base64::Engine;

use super::*;
use crate::events::UploadProcessor;
use crate::ports::BlobStore;
use crate::post_policy::{decode_policy, form_body};

/// Posts `fields` and then `file` (when given) as a `multipart/form-data` form to `/uploads`.
async fn post_form(h: &Harness, fields: &[(String, String)], file: Option<Vec<u8>>) -> Answer {
    let (content_type, body) = match file {
        Some(bytes) => form_body(fields.iter().map(|(n, v)| (n, v)), "image/png", &bytes),
        None => {
            let (content_type, body) = form_body(fields.iter().map(|(n, v)| (n, v)), "x/y", b"");
            // Cut the form before its file part.
            let cut = String::from_utf8_lossy(&body)
                .rfind("Content-Disposition: form-data; name=\"file\"")
                .unwrap();
            let boundary = content_type.rsplit_once('=').unwrap().1.to_owned();
            let mut head = body[..cut].to_vec();
            let dashes = format!("--{boundary}\r\n");
            head.truncate(head.len() - dashes.len());
            head.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
            (content_type, head)
        }
    };
    call(Method::POST, "/uploads")
        .bytes(&content_type, body)
        .send(h)
        .await
}

fn with(fields: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    fields
        .iter()
        .map(|(n, v)| (n.clone(), if n == name { value.into() } else { v.clone() }))
        .collect()
}

/// A small valid PNG.
fn png() -> Vec<u8> {
    let image = image::RgbImage::from_pixel(300, 200, image::Rgb([200, 30, 30]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn processor(h: &Harness) -> UploadProcessor {
    let store = Arc::new(h.store.clone());
    UploadProcessor::new(
        store.clone(),
        Arc::new(h.blobs.clone()),
        store,
        Arc::new(crate::embedded::LocalHub::new()),
    )
}

#[tokio::test]
async fn an_upload_is_stored_published_processed_and_served() {
    let mut h = harness();
    let group = create_group(&h, "g").await;
    let (id, form) = create_image(&h, &group, "red square", "image/png").await;
    let bytes = png();
    let answer = post_form(&h, &form, Some(bytes.clone())).await;
    assert_eq!(
        answer.status,
        StatusCode::NO_CONTENT,
        "{:?}",
        String::from_utf8_lossy(&answer.body)
    );
    let event = h.events.try_recv().unwrap();
    assert_eq!(
        event,
        ImageUploaded {
            image_id: id.clone(),
            size: bytes.len() as u64
        }
    );

    let file = call(Method::GET, &format!("/files/{id}")).send(&h).await;
    assert_eq!(file.status, StatusCode::OK);
    assert_eq!(file.content_type(), "image/png");
    assert_eq!(file.body.as_ref(), bytes.as_slice());

    processor(&h).process(&event).await.unwrap();
    let image = call(Method::GET, &format!("/images/{id}"))
        .send(&h)
        .await
        .json();
    assert_eq!(image["status"], "ready");
    let thumb = call(Method::GET, &format!("/files/{id}.thumb.png"))
        .send(&h)
        .await;
    assert_eq!(thumb.status, StatusCode::OK);
    assert_eq!(thumb.content_type(), "image/png");

    // The bytes are in; the same form cannot replace them.
    let again = post_form(&h, &form, Some(png())).await;
    again.assert_problem(409);
    assert!(h.events.try_recv().is_err());
}

#[tokio::test]
async fn rejected_uploads_store_and_publish_nothing() {
    let mut h = harness();
    let group = create_group(&h, "g").await;
    let (id, form) = create_image(&h, &group, "t", "image/png").await;
    let field = |name: &str| form.iter().find(|(n, _)| n == name).unwrap().1.clone();
    let sig = field("x-amz-signature");
    let flipped = format!(
        "{}{}",
        if sig.starts_with('0') { "1" } else { "0" },
        &sig[1..]
    );
    let mut looser = decode_policy(&field("policy")).unwrap();
    looser["conditions"][3] = serde_json::json!(["content-length-range", 1, 99_999_999]);
    let looser = base64::engine::general_purpose::STANDARD.encode(looser.to_string());
    let mut extra = form.clone();
    extra.push(("acl".into(), "public-read".into()));
    // A genuine form for an image that does not exist.
    let unknown = "0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b";
    let unknown_form: Vec<(String, String)> = h
        .blobs
        .upload_form(unknown, "image/png", 1 << 20, Duration::from_secs(300))
        .await
        .unwrap()
        .fields
        .into_iter()
        .collect();

    // (what, fields, file, expected status)
    type Case = (&'static str, Vec<(String, String)>, Option<Vec<u8>>, u16);
    let cases: Vec<Case> = vec![
        (
            "altered signature",
            with(&form, "x-amz-signature", &flipped),
            Some(png()),
            403,
        ),
        (
            "loosened policy",
            with(&form, "policy", &looser),
            Some(png()),
            403,
        ),
        ("extra field", extra, Some(png()), 403),
        ("another key", with(&form, "key", unknown), Some(png()), 403),
        (
            "another type",
            with(&form, "Content-Type", "image/jpeg"),
            Some(png()),
            403,
        ),
        (
            "html",
            with(&form, "Content-Type", "text/html"),
            Some(png()),
            403,
        ),
        (
            "too large",
            form.clone(),
            Some(vec![0; 10 * 1024 * 1024 + 1]),
            400,
        ),
        ("empty", form.clone(), Some(Vec::new()), 400),
        ("no file", form.clone(), None, 400),
        (
            "no signature",
            form.iter()
                .filter(|(n, _)| n != "x-amz-signature")
                .cloned()
                .collect(),
            Some(png()),
            400,
        ),
        ("unknown image", unknown_form, Some(png()), 404),
    ];
    for (what, fields, file, status) in cases {
        let answer = post_form(&h, &fields, file).await;
        assert_eq!(
            answer.status.as_u16(),
            status,
            "{what}: {:?}",
            String::from_utf8_lossy(&answer.body)
        );
        answer.assert_problem(status);
        let text = String::from_utf8_lossy(&answer.body);
        assert!(
            !text.contains(&sig) && !text.contains(&flipped),
            "{what}: {text}"
        );
    }
    // Not a form at all.
    call(Method::POST, "/uploads")
        .bytes("image/png", png())
        .send(&h)
        .await
        .assert_problem(400);
    assert!(h.events.try_recv().is_err());
    call(Method::GET, &format!("/files/{id}"))
        .send(&h)
        .await
        .assert_problem(404);
    let image = call(Method::GET, &format!("/images/{id}"))
        .send(&h)
        .await
        .json();
    assert_eq!(image["status"], "pending");
}

#[tokio::test]
async fn an_expired_upload_form_is_403() {
    // The uploads' clock runs ten minutes ahead of the blob store's, which signed for five.
    let mut h = harness_with_clock(Duration::from_secs(600));
    let group = create_group(&h, "g").await;
    let (_, form) = create_image(&h, &group, "t", "image/png").await;
    let answer = post_form(&h, &form, Some(png())).await;
    answer.assert_problem(403);
    assert!(
        answer.json()["detail"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    assert!(h.events.try_recv().is_err());
}

#[tokio::test]
async fn files_outside_the_blob_keys_are_404() {
    let h = harness();
    for key in [
        "signing.key",
        "dev-issuer.key",
        "..%2Fsigning.key",
        "udagram.sqlite3",
        "%2E%2E",
        "0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b",
    ] {
        call(Method::GET, &format!("/files/{key}"))
            .send(&h)
            .await
            .assert_problem(404);
    }
    call(Method::GET, "/files/../signing.key")
        .send(&h)
        .await
        .assert_problem(404);
}
