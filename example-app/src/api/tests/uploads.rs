//! The local upload URL, blob files and upload processing.

use super::*;
use crate::events::UploadProcessor;
use crate::upload_url;

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
    let (id, upload) = create_image(&h, &group, "red square", "image/png").await;
    let bytes = png();
    let answer = call(Method::PUT, &upload)
        .bytes("image/png", bytes.clone())
        .send(&h)
        .await;
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

    // The bytes are in; the same URL cannot replace them.
    let again = call(Method::PUT, &upload)
        .bytes("image/png", png())
        .send(&h)
        .await;
    again.assert_problem(409);
    assert!(h.events.try_recv().is_err());
}

#[tokio::test]
async fn rejected_uploads_store_and_publish_nothing() {
    let mut h = harness();
    let group = create_group(&h, "g").await;
    let (id, upload) = create_image(&h, &group, "t", "image/png").await;
    let (path, query) = upload.split_once('?').unwrap();
    let sig = query.rsplit_once("sig=").unwrap().1;
    let flipped = format!(
        "{}{}",
        if sig.starts_with('0') { "1" } else { "0" },
        &sig[1..]
    );
    let key = std::fs::read(signing_key_path(data_dir(&h))).unwrap();
    let unknown = "0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b";
    let unknown_query = upload_url::sign(&key, unknown, now() + 300, "image/png", 1 << 20);
    let bigger = query.replace("max=10485760", "max=99999999");

    // (URI, content type, body, Content-Length override, expected status)
    type Case<'a> = (String, &'a str, Vec<u8>, Option<&'a str>, u16);
    let cases: Vec<Case<'_>> = vec![
        (
            format!("{path}?{}", query.replace(sig, &flipped)),
            "image/png",
            png(),
            None,
            403,
        ),
        (format!("{path}?{bigger}"), "image/png", png(), None, 403),
        (path.to_owned(), "image/png", png(), None, 403),
        (format!("{path}?{query}&x=1"), "image/png", png(), None, 403),
        (format!("{path}?{query}"), "image/jpeg", png(), None, 415),
        (format!("{path}?{query}"), "text/plain", png(), None, 415),
        (
            format!("{path}?{query}"),
            "image/png",
            vec![0; 10 * 1024 * 1024 + 1],
            None,
            413,
        ),
        (
            format!("{path}?{query}"),
            "image/png",
            png(),
            Some("999999999"),
            413,
        ),
        (
            format!("/uploads/{unknown}?{unknown_query}"),
            "image/png",
            png(),
            None,
            404,
        ),
        (
            format!("/uploads/not-a-uuid?{query}"),
            "image/png",
            png(),
            None,
            400,
        ),
    ];
    for (uri, content_type, body, length, status) in cases {
        let mut request = call(Method::PUT, &uri).bytes(content_type, body);
        if let Some(length) = length {
            request = request.header("content-length", length);
        }
        let answer = request.send(&h).await;
        answer.assert_problem(status);
        let text = String::from_utf8_lossy(&answer.body);
        assert!(!text.contains(sig) && !text.contains(&flipped), "{text}");
    }
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
async fn an_expired_upload_url_is_403() {
    // The app's clock runs ten minutes ahead of the blob store's, which signed for five.
    let mut h = harness_with_clock(Duration::from_secs(600));
    let group = create_group(&h, "g").await;
    let (_, upload) = create_image(&h, &group, "t", "image/png").await;
    let answer = call(Method::PUT, &upload)
        .bytes("image/png", png())
        .send(&h)
        .await;
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
