//! Test data and checks shared by the cases: real images, forged tokens, paging walks, polling.

use std::io::Cursor;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use image::{ImageFormat, Rgb, RgbImage};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::client::{Http, Reply};
use crate::target::Target;

/// How long an upload may take to become `ready`.
pub const READY_WITHIN: Duration = Duration::from_secs(10);

/// A `width` x `height` gradient encoded as `content_type` (png, jpeg, gif or webp).
pub fn picture(width: u32, height: u32, content_type: &str) -> Bytes {
    let picture = RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x * 255 / width) as u8, (y * 255 / height) as u8, 128])
    });
    let format = match content_type {
        "image/png" => ImageFormat::Png,
        "image/jpeg" => ImageFormat::Jpeg,
        "image/gif" => ImageFormat::Gif,
        "image/webp" => ImageFormat::WebP,
        other => panic!("no encoder for {other}"),
    };
    let mut out = Cursor::new(Vec::new());
    picture.write_to(&mut out, format).unwrap();
    Bytes::from(out.into_inner())
}

/// The fields of an `upload` answer (`{url, fields}`).
pub fn form_fields(upload: &Value) -> std::collections::BTreeMap<String, String> {
    upload["fields"]
        .as_object()
        .unwrap_or_else(|| panic!("an upload form without fields: {upload}"))
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .collect()
}

/// The content type an upload form is bound to (its `Content-Type` field).
pub fn upload_type(upload: &Value) -> String {
    form_fields(upload)["Content-Type"].clone()
}

/// Posts `file` with the `upload` form the API handed out (`{url, fields}`), as a browser does:
/// `multipart/form-data`, the fields, then the file.
pub async fn post_form(http: &Http, upload: &Value, content_type: &str, file: Bytes) -> Reply {
    let (form_type, body) =
        udagram::post_policy::form_body(form_fields(upload), content_type, &file);
    http.post(upload["url"].as_str().unwrap())
        .bytes(&form_type, body)
        .send()
        .await
}

/// A canonical (lower-case, hyphenated) UUID v4.
pub fn assert_uuid_v4(value: &Value, what: &str) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {value}"));
    let id = Uuid::parse_str(text).unwrap_or_else(|_| panic!("{what}: not a UUID: {text}"));
    assert_eq!(id.get_version_num(), 4, "{what}: not a v4 UUID: {text}");
    assert_eq!(
        id.hyphenated().to_string(),
        text,
        "{what}: not canonical: {text}"
    );
}

/// RFC 3339 UTC with milliseconds: `2026-11-28T18:27:47.123Z`.
pub fn assert_timestamp(value: &Value, what: &str) {
    let text = value
        .as_str()
        .unwrap_or_else(|| panic!("{what}: not a string: {value}"));
    let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339);
    assert!(parsed.is_ok(), "{what}: not RFC 3339: {text}");
    assert!(
        text.len() == 24 && text.as_bytes()[19] == b'.' && text.ends_with('Z'),
        "{what}: not UTC with milliseconds: {text}"
    );
}

/// Creates a group as `token`'s user and returns the `newItem`.
pub async fn create_group(http: &Http, token: &str, name: &str) -> Value {
    let body = http
        .post("/groups")
        .token(token)
        .json(&json!({ "name": name, "description": format!("about {name}") }))
        .send()
        .await
        .ok_json(201);
    body["newItem"].clone()
}

/// Creates an image record and returns the whole 201 body (`newItem`, `upload`).
pub async fn create_image(http: &Http, token: &str, group_id: &str, title: &str) -> Value {
    http.post(&format!("/groups/{group_id}/images"))
        .token(token)
        .json(&json!({ "title": title }))
        .send()
        .await
        .ok_json(201)
}

/// Walks every page of `path` (which has no query yet) with `limit`, checking each page's shape.
pub async fn walk(http: &Http, path: &str, limit: u32) -> Vec<Value> {
    let mut items = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..10_000 {
        let mut url = format!("{path}?limit={limit}");
        if let Some(key) = &next {
            url.push_str(&format!("&nextKey={}", encode_query(key)));
        }
        let page = http.get(&url).send().await.ok_json(200);
        let batch = page["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{url}: items: {page}"));
        assert!(
            batch.len() <= limit as usize,
            "{url}: {} items > limit",
            batch.len()
        );
        items.extend(batch.iter().cloned());
        match &page["nextKey"] {
            Value::Null => return items,
            Value::String(key) => {
                assert!(!batch.is_empty(), "{url}: an empty page with a nextKey");
                next = Some(key.clone());
            }
            other => panic!("{url}: nextKey must be a string or null, got {other}"),
        }
    }
    panic!("{path}: the walk never ended");
}

/// Every group id, all pages.
pub async fn all_group_ids(http: &Http) -> Vec<String> {
    ids(&walk(http, "/groups", 100).await, "id")
}

pub fn ids(items: &[Value], field: &str) -> Vec<String> {
    items
        .iter()
        .map(|item| {
            item[field]
                .as_str()
                .unwrap_or_else(|| panic!("{field}: {item}"))
                .to_owned()
        })
        .collect()
}

/// Percent-encodes everything but unreserved characters.
pub fn encode_query(text: &str) -> String {
    let mut out = String::new();
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Polls `GET /images/{id}` until it is ready, failing after [`READY_WITHIN`].
pub async fn wait_ready(http: &Http, image_id: &str) -> Value {
    let start = Instant::now();
    loop {
        let image = http
            .get(&format!("/images/{image_id}"))
            .send()
            .await
            .ok_json(200);
        if image["status"] == "ready" {
            return image;
        }
        assert_eq!(image["status"], "pending", "image {image_id}: {image}");
        assert!(
            start.elapsed() < READY_WITHIN,
            "image {image_id} not ready within {READY_WITHIN:?}: {image}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Fetches a thumbnail URL and checks it is a PNG `width` px wide; returns its height.
pub async fn assert_thumbnail(target: &impl Target, url: &str, width: u32) -> u32 {
    let reply = target.fetch(url).await;
    reply.assert_status(200);
    assert_eq!(
        reply.media_type(),
        "image/png",
        "{}: content type",
        reply.what
    );
    let thumbnail = image::load_from_memory_with_format(&reply.body, ImageFormat::Png)
        .unwrap_or_else(|error| panic!("{}: not a PNG: {error}", reply.what));
    assert_eq!(thumbnail.width(), width, "{}: thumbnail width", reply.what);
    thumbnail.height()
}

/// The claims of a JWT, unverified.
pub fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

/// The header of a JWT, unverified.
pub fn jwt_header(token: &str) -> Value {
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap()
}

/// A JWT with this header and these claims, RS256-signed by a fresh key the server never saw.
pub fn sign_with_foreign_key(header: &Value, claims: &Value) -> String {
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::rsa::KeySize;
    use aws_lc_rs::signature::{RSA_PKCS1_SHA256, RsaKeyPair};

    let key = RsaKeyPair::generate(KeySize::Rsa2048).unwrap();
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap())
    );
    let mut signature = vec![0; key.public_modulus_len()];
    key.sign(
        &RSA_PKCS1_SHA256,
        &SystemRandom::new(),
        input.as_bytes(),
        &mut signature,
    )
    .unwrap();
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// A JWT with this header and these claims and the given signature bytes.
pub fn unsigned_jwt(header: &Value, claims: &Value, signature: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(header).unwrap()),
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap()),
        URL_SAFE_NO_PAD.encode(signature)
    )
}

pub fn base64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `walked` holds exactly the `created` items (oldest first), newest first: timestamps never go
/// up, and the order is reverse creation order up to items created in the same millisecond.
pub fn assert_newest_first(walked: &[Value], created: &[Value], id: &str) {
    let key = |items: &[Value]| -> Vec<(String, Vec<String>)> {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for item in items {
            let stamp = item["timestamp"].as_str().unwrap().to_owned();
            let item_id = item[id].as_str().unwrap().to_owned();
            match groups.last_mut() {
                Some((last, ids)) if *last == stamp => ids.push(item_id),
                _ => groups.push((stamp, vec![item_id])),
            }
        }
        for (_, ids) in &mut groups {
            ids.sort();
        }
        groups
    };
    let mut newest_first = created.to_vec();
    newest_first.reverse();
    let walked_key = key(walked);
    for pair in walked_key.windows(2) {
        assert!(
            pair[0].0 > pair[1].0,
            "not newest first: {} then {}",
            pair[0].0,
            pair[1].0
        );
    }
    assert_eq!(
        walked_key,
        key(&newest_first),
        "not every item, newest first"
    );
}
