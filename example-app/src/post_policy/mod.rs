//! Browser uploads as S3 takes them: an HTML form `POST` whose policy S3 itself enforces.
//!
//! [`presign`] writes the policy of one upload (the bucket, the exact key, the exact
//! `Content-Type`, a `content-length-range` of 1 to `max_bytes`, an expiry), signs it with
//! Signature Version 4 (the signing key is AWS's `AWS4-HMAC-SHA256` derivation, from
//! `aws-sigv4`), and returns the URL and form fields a client posts with the file last, as boto3's
//! `generate_presigned_post` does. S3 refuses a post that breaks the policy, so a leaked upload
//! form cannot store 5 GB, another key or another type. `udagram serve` takes the same form and
//! checks it with [`verify`], so the web client has one upload protocol for both targets.
//!
//! The protocol is AWS's "Browser-Based Uploads Using POST (AWS Signature Version 4)" in the S3
//! API reference: `policy` is the base64 of the policy document, `x-amz-signature` the hex
//! HMAC-SHA256 of that base64 text under the SigV4 signing key of the date and scope in
//! `x-amz-credential`.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use udagram::post_policy::{presign, verify, SigningIdentity, UploadPolicy, PolicyVerifier};
//!
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
//! let identity = SigningIdentity {
//!     access_key_id: "AKIDEXAMPLE",
//!     secret_access_key: "secret",
//!     session_token: None,
//!     region: "us-east-1",
//! };
//! let policy = UploadPolicy {
//!     bucket: "images".into(),
//!     key: "photo-1".into(),
//!     content_type: "image/png".into(),
//!     max_bytes: 1024,
//!     expires_at: now + Duration::from_secs(300),
//! };
//! let form = presign("https://images.s3.us-east-1.amazonaws.com/", &policy, &identity, now);
//! assert_eq!(form.fields["key"], "photo-1");
//!
//! let fields: Vec<(String, String)> = form.fields.clone().into_iter().collect();
//! let verifier = PolicyVerifier {
//!     access_key_id: "AKIDEXAMPLE",
//!     secret_access_key: "secret",
//!     region: "us-east-1",
//!     bucket: "images",
//! };
//! let accepted = verify(&fields, 512, &verifier, now).unwrap();
//! assert_eq!(accepted.content_type, "image/png");
//! assert!(verify(&fields, 2048, &verifier, now).is_err(), "over content-length-range");
//! ```

use std::{collections::BTreeMap, fmt, time::SystemTime};

use base64::{Engine, engine::general_purpose::STANDARD as BASE64};
use serde::Serialize;
use serde_json::{Value, json};
use time::{OffsetDateTime, format_description::BorrowedFormatItem, macros::format_description};

mod verify;

pub use verify::{AcceptedUpload, PolicyVerifier, PostPolicyError, verify};

/// The only signing algorithm of a SigV4 POST policy.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// The service the signing key is scoped to.
const SERVICE: &str = "s3";
/// The last part of a credential scope.
const SCOPE_TERMINATOR: &str = "aws4_request";

/// `x-amz-date`: ISO 8601 basic format, UTC.
const AMZ_DATE: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");
/// The policy's `expiration`: ISO 8601 extended format, UTC, whole seconds.
const EXPIRATION: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");

/// What one upload may be: S3 refuses a post that breaks any of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPolicy {
    /// The bucket the form posts to.
    pub bucket: String,
    /// The exact object key.
    pub key: String,
    /// The exact `Content-Type` the form must declare (and the object is stored with).
    pub content_type: String,
    /// The most bytes the file may have (the least is 1).
    pub max_bytes: u64,
    /// When the form stops working.
    pub expires_at: SystemTime,
}

/// The credentials and region a policy is signed with. `Debug` never shows the secret or the
/// session token.
#[derive(Clone, Copy)]
pub struct SigningIdentity<'a> {
    /// The access key id (it is public: it travels in `x-amz-credential`).
    pub access_key_id: &'a str,
    /// The secret access key.
    pub secret_access_key: &'a str,
    /// The session token of temporary credentials (a Lambda role's): sent as
    /// `x-amz-security-token` and bound by the policy.
    pub session_token: Option<&'a str>,
    /// The bucket's region.
    pub region: &'a str,
}

impl fmt::Debug for SigningIdentity<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningIdentity")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("session_token", &self.session_token.map(|_| "<redacted>"))
            .field("region", &self.region)
            .finish()
    }
}

/// A signed upload form: post `fields` (any order) and then the file as the field `file`, as
/// `multipart/form-data`, to `url`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PresignedPost {
    /// Where the form goes: the bucket's URL.
    pub url: String,
    /// The form fields, the policy and its signature among them.
    pub fields: BTreeMap<String, String>,
}

/// Writes and signs the policy of one upload at `now`; see the module docs.
#[must_use]
pub fn presign(
    url: &str,
    policy: &UploadPolicy,
    identity: &SigningIdentity<'_>,
    now: SystemTime,
) -> PresignedPost {
    let amz_date = format_time(now, AMZ_DATE);
    let credential = format!(
        "{}/{}/{}/{SERVICE}/{SCOPE_TERMINATOR}",
        identity.access_key_id,
        &amz_date[..8],
        identity.region
    );
    let mut conditions = vec![
        json!({ "bucket": policy.bucket }),
        json!({ "key": policy.key }),
        json!({ "Content-Type": policy.content_type }),
        json!(["content-length-range", 1, policy.max_bytes]),
        json!({ "x-amz-algorithm": ALGORITHM }),
        json!({ "x-amz-credential": credential }),
        json!({ "x-amz-date": amz_date }),
    ];
    if let Some(token) = identity.session_token {
        conditions.push(json!({ "x-amz-security-token": token }));
    }
    let document = json!({
        "expiration": format_time(policy.expires_at, EXPIRATION),
        "conditions": conditions,
    });
    let encoded = BASE64.encode(document.to_string());
    let signature = sign(identity.secret_access_key, now, identity.region, &encoded);
    let mut fields = BTreeMap::from([
        ("key".to_owned(), policy.key.clone()),
        ("Content-Type".to_owned(), policy.content_type.clone()),
        ("x-amz-algorithm".to_owned(), ALGORITHM.to_owned()),
        ("x-amz-credential".to_owned(), credential),
        ("x-amz-date".to_owned(), amz_date),
        ("policy".to_owned(), encoded),
        ("x-amz-signature".to_owned(), signature),
    ]);
    if let Some(token) = identity.session_token {
        fields.insert("x-amz-security-token".to_owned(), token.to_owned());
    }
    PresignedPost {
        url: url.to_owned(),
        fields,
    }
}

/// The `multipart/form-data` body of a form post: `fields`, then `file` last (S3 ignores what
/// follows it) with `content_type` and `bytes`. Returns the request's `Content-Type` (with the
/// boundary) and the body. For clients of the protocol: the load tool and the tests.
#[must_use]
pub fn form_body<N: AsRef<str>, V: AsRef<str>>(
    fields: impl IntoIterator<Item = (N, V)>,
    content_type: &str,
    bytes: &[u8],
) -> (String, Vec<u8>) {
    let boundary = format!("udagram-{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::with_capacity(bytes.len() + 4096);
    for (name, value) in fields {
        let (name, value) = (name.as_ref(), value.as_ref());
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"upload\"\r\n\
             Content-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// The hex signature of a base64 policy: HMAC-SHA256 under the SigV4 signing key of `at`'s UTC
/// date, `region` and S3.
#[must_use]
pub fn sign(secret_access_key: &str, at: SystemTime, region: &str, encoded_policy: &str) -> String {
    let key = aws_sigv4::sign::v4::generate_signing_key(secret_access_key, at, region, SERVICE);
    aws_sigv4::sign::v4::calculate_signature(key, encoded_policy.as_bytes())
}

fn format_time(at: SystemTime, format: &[BorrowedFormatItem<'static>]) -> String {
    // Formatting a UTC date with numeric components only cannot fail; an empty string would
    // make a policy S3 refuses, never one that allows more.
    OffsetDateTime::from(at).format(format).unwrap_or_default()
}

/// The policy document a presigned form carries, decoded (tests and tools read it).
///
/// # Errors
/// [`PostPolicyError::Malformed`] when `encoded` is not base64 of a JSON object.
pub fn decode_policy(encoded: &str) -> Result<Value, PostPolicyError> {
    let bytes = BASE64
        .decode(encoded)
        .map_err(|_| PostPolicyError::Malformed("policy is not base64".into()))?;
    let document: Value = serde_json::from_slice(&bytes)
        .map_err(|_| PostPolicyError::Malformed("policy is not JSON".into()))?;
    if !document.is_object() {
        return Err(PostPolicyError::Malformed(
            "policy is not a JSON object".into(),
        ));
    }
    Ok(document)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests;
