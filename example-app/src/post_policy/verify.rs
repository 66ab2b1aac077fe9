//! Checking a posted form against its policy, as S3 does: the signature first, then the expiry,
//! then every condition, then that no field is left unbound by one, then the file's size.

use std::{collections::BTreeMap, fmt, time::SystemTime};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use time::{OffsetDateTime, PrimitiveDateTime, format_description::well_known::Rfc3339};

use super::{ALGORITHM, AMZ_DATE, SCOPE_TERMINATOR, SERVICE, decode_policy};

/// The largest policy (base64) read; S3's own limit on a POST's fields is 20 KB.
const MAX_POLICY_LEN: usize = 20 * 1024;

/// Who may sign forms for this endpoint, and for which bucket. `Debug` never shows the secret.
#[derive(Clone, Copy)]
pub struct PolicyVerifier<'a> {
    /// The one access key id accepted.
    pub access_key_id: &'a str,
    /// Its secret.
    pub secret_access_key: &'a str,
    /// The region forms are scoped to.
    pub region: &'a str,
    /// The bucket name a `bucket` condition must name.
    pub bucket: &'a str,
}

impl fmt::Debug for PolicyVerifier<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyVerifier")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .finish()
    }
}

/// What a verified form stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedUpload {
    /// The object key.
    pub key: String,
    /// The declared `Content-Type`.
    pub content_type: String,
}

/// Why a posted form was refused; the names follow S3's error codes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PostPolicyError {
    /// A field is missing, repeated or unreadable (S3: `InvalidArgument`, `MalformedPOSTRequest`,
    /// `InvalidPolicyDocument`): 400.
    #[error("malformed upload form: {0}")]
    Malformed(String),
    /// The form names an access key this endpoint does not know: 403.
    #[error("the upload form's access key is not known here")]
    InvalidAccessKeyId,
    /// The signature does not match the policy: altered, or signed with another key: 403.
    #[error("the upload form's signature does not match its policy")]
    SignatureDoesNotMatch,
    /// The policy is genuine but its time is up: 403.
    #[error("Invalid according to Policy: Policy expired")]
    Expired,
    /// A field (named here) breaks a condition: another key, content type or bucket: 403. The
    /// field's value is not repeated, as it may be a session token.
    #[error("Invalid according to Policy: Policy Condition failed on the field {0}")]
    ConditionFailed(String),
    /// A field no condition of the policy names: 403.
    #[error("Invalid according to Policy: Extra input fields: {0}")]
    ExtraField(String),
    /// The file is larger than `content-length-range` allows: 400.
    #[error("Your proposed upload exceeds the maximum allowed size of {0} bytes")]
    EntityTooLarge(u64),
    /// The file is smaller than `content-length-range` allows: 400.
    #[error("Your proposed upload is smaller than the minimum allowed size of {0} bytes")]
    EntityTooSmall(u64),
}

impl PostPolicyError {
    /// S3's error code for this refusal.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(_) => "InvalidArgument",
            Self::InvalidAccessKeyId => "InvalidAccessKeyId",
            Self::SignatureDoesNotMatch => "SignatureDoesNotMatch",
            Self::Expired | Self::ConditionFailed(_) | Self::ExtraField(_) => "AccessDenied",
            Self::EntityTooLarge(_) => "EntityTooLarge",
            Self::EntityTooSmall(_) => "EntityTooSmall",
        }
    }

    /// Whether S3 answers this with 403 (otherwise 400).
    #[must_use]
    pub fn is_forbidden(&self) -> bool {
        !matches!(
            self,
            Self::Malformed(_) | Self::EntityTooLarge(_) | Self::EntityTooSmall(_)
        )
    }
}

fn malformed(what: impl Into<String>) -> PostPolicyError {
    PostPolicyError::Malformed(what.into())
}

/// Checks the fields of a posted form (every field but the file, names as sent) and the file's
/// length at `now`; see the module docs of [`super`].
///
/// # Errors
/// Every [`PostPolicyError`]; nothing is to be stored on any of them.
pub fn verify(
    form: &[(String, String)],
    file_len: u64,
    verifier: &PolicyVerifier<'_>,
    now: SystemTime,
) -> Result<AcceptedUpload, PostPolicyError> {
    // Field names are case-insensitive in S3's POST forms.
    let mut fields = BTreeMap::new();
    for (name, value) in form {
        if fields
            .insert(name.to_ascii_lowercase(), value.as_str())
            .is_some()
        {
            return Err(malformed(format!("field {name:?} is repeated")));
        }
    }
    let field = |name: &str| {
        fields
            .get(name)
            .copied()
            .ok_or_else(|| malformed(format!("the field {name} is missing")))
    };
    if field("x-amz-algorithm")? != ALGORITHM {
        return Err(malformed(format!("x-amz-algorithm must be {ALGORITHM}")));
    }
    let signed_at = check_scope(field("x-amz-credential")?, field("x-amz-date")?, verifier)?;
    let encoded = field("policy")?;
    if encoded.len() > MAX_POLICY_LEN {
        return Err(malformed("the policy is too long"));
    }
    check_signature(encoded, field("x-amz-signature")?, signed_at, verifier)?;

    let document = decode_policy(encoded)?;
    let expiration = document
        .get("expiration")
        .and_then(Value::as_str)
        .and_then(|text| OffsetDateTime::parse(text, &Rfc3339).ok())
        .ok_or_else(|| malformed("the policy's expiration is missing or not ISO 8601"))?;
    if OffsetDateTime::from(now) > expiration {
        return Err(PostPolicyError::Expired);
    }
    let conditions = document
        .get("conditions")
        .and_then(Value::as_array)
        .ok_or_else(|| malformed("the policy has no conditions"))?;
    let mut bound = Vec::new();
    let mut length_range = None;
    for condition in conditions {
        match check_condition(condition, &fields, verifier)? {
            Checked::Field(name) => bound.push(name),
            Checked::LengthRange(min, max) => length_range = Some((min, max)),
        }
    }
    for name in fields.keys() {
        let exempt = matches!(name.as_str(), "policy" | "x-amz-signature" | "file")
            || name.starts_with("x-ignore-");
        if !exempt && !bound.contains(name) {
            return Err(PostPolicyError::ExtraField(name.clone()));
        }
    }
    if let Some((min, max)) = length_range {
        if file_len > max {
            return Err(PostPolicyError::EntityTooLarge(max));
        }
        if file_len < min {
            return Err(PostPolicyError::EntityTooSmall(min));
        }
    }
    Ok(AcceptedUpload {
        key: field("key")?.to_owned(),
        content_type: fields
            .get("content-type")
            .map_or("binary/octet-stream", |v| v)
            .to_owned(),
    })
}

/// The scope `ACCESS_KEY/YYYYMMDD/REGION/s3/aws4_request` must be this endpoint's, dated the day
/// of `x-amz-date`; returns `x-amz-date`'s instant (the signing key is derived from its date).
fn check_scope(
    credential: &str,
    amz_date: &str,
    verifier: &PolicyVerifier<'_>,
) -> Result<SystemTime, PostPolicyError> {
    let parts: Vec<&str> = credential.split('/').collect();
    let [access_key, day, region, service, terminator] = parts[..] else {
        return Err(malformed("x-amz-credential is not a credential scope"));
    };
    if access_key != verifier.access_key_id {
        return Err(PostPolicyError::InvalidAccessKeyId);
    }
    if region != verifier.region || service != SERVICE || terminator != SCOPE_TERMINATOR {
        return Err(malformed(format!(
            "x-amz-credential must be scoped to {}/{SERVICE}/{SCOPE_TERMINATOR}",
            verifier.region
        )));
    }
    let signed_at = PrimitiveDateTime::parse(amz_date, AMZ_DATE)
        .map_err(|_| malformed("x-amz-date is not YYYYMMDDTHHMMSSZ"))?
        .assume_utc();
    if amz_date.get(..8) != Some(day) {
        return Err(malformed("x-amz-date is not the credential's day"));
    }
    Ok(signed_at.into())
}

/// Compares in constant time (the HMAC crate's `verify_slice`).
fn check_signature(
    encoded_policy: &str,
    signature: &str,
    signed_at: SystemTime,
    verifier: &PolicyVerifier<'_>,
) -> Result<(), PostPolicyError> {
    let expected = hex::decode(signature)
        .ok()
        .filter(|bytes| bytes.len() == 32)
        .ok_or_else(|| malformed("x-amz-signature is not 64 hex digits"))?;
    let key = aws_sigv4::sign::v4::generate_signing_key(
        verifier.secret_access_key,
        signed_at,
        verifier.region,
        SERVICE,
    );
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_ref())
        .map_err(|_| PostPolicyError::SignatureDoesNotMatch)?;
    mac.update(encoded_policy.as_bytes());
    mac.verify_slice(&expected)
        .map_err(|_| PostPolicyError::SignatureDoesNotMatch)
}

/// What a condition bound.
enum Checked {
    /// A field, by lower-case name.
    Field(String),
    /// `content-length-range`.
    LengthRange(u64, u64),
}

fn check_condition(
    condition: &Value,
    fields: &BTreeMap<String, &str>,
    verifier: &PolicyVerifier<'_>,
) -> Result<Checked, PostPolicyError> {
    let bad = || malformed("a policy condition is unreadable");
    let (operator, name, expected) = match condition {
        Value::Object(map) if map.len() == 1 => {
            let (name, value) = map.iter().next().ok_or_else(bad)?;
            ("eq", name.as_str(), value.as_str().ok_or_else(bad)?)
        }
        Value::Array(items) => match items.as_slice() {
            [Value::String(op), min, max] if op.eq_ignore_ascii_case("content-length-range") => {
                let (min, max) = (min.as_u64().ok_or_else(bad)?, max.as_u64().ok_or_else(bad)?);
                return Ok(Checked::LengthRange(min, max));
            }
            [Value::String(op), Value::String(name), Value::String(value)] => {
                let name = name.strip_prefix('$').ok_or_else(bad)?;
                (op.as_str(), name, value.as_str())
            }
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    };
    let name = name.to_ascii_lowercase();
    let actual = if name == "bucket" {
        Some(verifier.bucket)
    } else {
        fields.get(&name).copied()
    };
    let holds = match (operator.to_ascii_lowercase().as_str(), actual) {
        ("eq", Some(actual)) => actual == expected,
        ("starts-with", Some(actual)) => actual.starts_with(expected),
        ("eq" | "starts-with", None) => false,
        _ => return Err(bad()),
    };
    if holds {
        Ok(Checked::Field(name))
    } else {
        Err(PostPolicyError::ConditionFailed(name))
    }
}
