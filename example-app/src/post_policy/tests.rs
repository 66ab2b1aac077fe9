//! The policy's conditions, its signature against boto3's, and [`verify`]'s refusals.

use std::{
    process::Command,
    time::{Duration, SystemTime},
};

use proptest::prelude::*;
use serde_json::json;

use super::*;

const ACCESS_KEY: &str = "AKIDEXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const TOKEN: &str = "FQoGZXIvYXdzEXAMPLE";
const REGION: &str = "eu-west-1";
const BUCKET: &str = "images";
const KEY: &str = "0b6f7c9e-3d1a-4f5e-9c2b-8a7d6e5f4c3b";
/// 2026-12-08T03:00:00Z.
const SIGNED_AT_UNIX: u64 = 1_796_698_800;

fn signed_at() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(SIGNED_AT_UNIX)
}

fn identity(token: Option<&'static str>) -> SigningIdentity<'static> {
    SigningIdentity {
        access_key_id: ACCESS_KEY,
        secret_access_key: SECRET,
        session_token: token,
        region: REGION,
    }
}

fn verifier() -> PolicyVerifier<'static> {
    PolicyVerifier {
        access_key_id: ACCESS_KEY,
        secret_access_key: SECRET,
        region: REGION,
        bucket: BUCKET,
    }
}

fn policy() -> UploadPolicy {
    UploadPolicy {
        bucket: BUCKET.into(),
        key: KEY.into(),
        content_type: "image/png".into(),
        max_bytes: 1024,
        expires_at: signed_at() + Duration::from_secs(300),
    }
}

fn form(token: Option<&'static str>) -> Vec<(String, String)> {
    presign("https://x/", &policy(), &identity(token), signed_at())
        .fields
        .into_iter()
        .collect()
}

fn with(form: &[(String, String)], name: &str, value: &str) -> Vec<(String, String)> {
    form.iter()
        .map(|(n, v)| (n.clone(), if n == name { value.into() } else { v.clone() }))
        .collect()
}

#[test]
fn the_policy_binds_bucket_key_type_size_expiry_and_the_credentials() {
    let post = presign("https://x/", &policy(), &identity(Some(TOKEN)), signed_at());
    let document = decode_policy(&post.fields["policy"]).unwrap();
    assert_eq!(document["expiration"], "2026-12-08T03:05:00Z");
    assert_eq!(
        document["conditions"],
        json!([
            { "bucket": BUCKET },
            { "key": KEY },
            { "Content-Type": "image/png" },
            ["content-length-range", 1, 1024],
            { "x-amz-algorithm": "AWS4-HMAC-SHA256" },
            { "x-amz-credential": "AKIDEXAMPLE/20261208/eu-west-1/s3/aws4_request" },
            { "x-amz-date": "20261208T030000Z" },
            { "x-amz-security-token": TOKEN },
        ])
    );
    let names: Vec<&str> = post.fields.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "Content-Type",
            "key",
            "policy",
            "x-amz-algorithm",
            "x-amz-credential",
            "x-amz-date",
            "x-amz-security-token",
            "x-amz-signature",
        ]
    );
    let without_token = presign("https://x/", &policy(), &identity(None), signed_at());
    assert!(!without_token.fields.contains_key("x-amz-security-token"));
    assert!(
        !format!("{:?}", identity(Some(TOKEN))).contains(SECRET),
        "Debug shows the secret"
    );
}

/// boto3's `generate_presigned_post` (SigV4) with the same credentials and a frozen clock, run
/// by python3 (`UDAGRAM_PYTHON` to choose another interpreter; the one moto runs on has boto3).
fn boto3_presigned_post() -> serde_json::Value {
    let script = format!(
        r#"
import datetime, json
import boto3, botocore.auth, botocore.signers
from botocore.config import Config
fixed = datetime.datetime(2026, 12, 8, 3, 0, 0)
botocore.auth.get_current_datetime = lambda *a, **k: fixed
botocore.signers.get_current_datetime = lambda *a, **k: fixed
s3 = boto3.client("s3", region_name="{REGION}", config=Config(signature_version="s3v4"),
    aws_access_key_id="{ACCESS_KEY}", aws_secret_access_key="{SECRET}", aws_session_token="{TOKEN}")
print(json.dumps(s3.generate_presigned_post("{BUCKET}", "{KEY}",
    Fields={{"Content-Type": "image/png"}},
    Conditions=[{{"Content-Type": "image/png"}}, ["content-length-range", 1, 1024]],
    ExpiresIn=300)))
"#
    );
    let python = std::env::var("UDAGRAM_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = Command::new(&python)
        .args(["-c", &script])
        .output()
        .unwrap_or_else(|e| panic!("running {python}: {e}"));
    assert!(
        output.status.success(),
        "boto3 failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[test]
fn signatures_match_boto3s_generate_presigned_post() {
    let boto = boto3_presigned_post();
    let fields = boto["fields"].as_object().unwrap();
    let field = |name: &str| fields[name].as_str().unwrap();

    // The same signing chain: our signature of boto3's policy text is boto3's.
    assert_eq!(
        sign(SECRET, signed_at(), REGION, field("policy")),
        field("x-amz-signature")
    );
    // The same policy, condition for condition (boto3 orders them differently).
    let ours = presign("https://x/", &policy(), &identity(Some(TOKEN)), signed_at());
    let theirs = decode_policy(field("policy")).unwrap();
    let mine = decode_policy(&ours.fields["policy"]).unwrap();
    assert_eq!(theirs["expiration"], mine["expiration"]);
    let mut theirs = theirs["conditions"].as_array().unwrap().clone();
    let mut mine = mine["conditions"].as_array().unwrap().clone();
    theirs.sort_by_key(ToString::to_string);
    mine.sort_by_key(ToString::to_string);
    assert_eq!(theirs, mine);
    // The same fields but for the policy's bytes and so its signature.
    for (name, value) in &ours.fields {
        if name != "policy" && name != "x-amz-signature" {
            assert_eq!(field(name), value, "{name}");
        }
    }
    assert_eq!(fields.len(), ours.fields.len());
    // And the verifier `serve` uses takes boto3's form.
    let form: Vec<(String, String)> = fields
        .iter()
        .map(|(n, v)| (n.clone(), v.as_str().unwrap().to_owned()))
        .collect();
    let accepted = verify(&form, 10, &verifier(), signed_at()).unwrap();
    assert_eq!(accepted.key, KEY);
}

#[test]
fn a_genuine_form_is_accepted_until_it_expires() {
    let form = form(None);
    for len in [1, 1024] {
        let accepted = verify(&form, len, &verifier(), signed_at()).unwrap();
        assert_eq!(
            accepted,
            AcceptedUpload {
                key: KEY.into(),
                content_type: "image/png".into()
            }
        );
    }
    let last = signed_at() + Duration::from_secs(300);
    assert!(verify(&form, 5, &verifier(), last).is_ok());
    assert_eq!(
        verify(&form, 5, &verifier(), last + Duration::from_secs(1)),
        Err(PostPolicyError::Expired)
    );
    // Names are case-insensitive, as in S3.
    let upper = with(&form, "key", KEY)
        .into_iter()
        .map(|(n, v)| (n.to_uppercase(), v))
        .collect::<Vec<_>>();
    assert!(verify(&upper, 5, &verifier(), signed_at()).is_ok());
}

/// One refused form: its name, its fields, the body's length, the verifier, the error expected.
type RefusalCase<'a> = (
    &'a str,
    Vec<(String, String)>,
    u64,
    PolicyVerifier<'a>,
    PostPolicyError,
);

#[test]
fn refusals() {
    use PostPolicyError as E;
    let form = form(None);
    let now = signed_at();
    let other_secret = PolicyVerifier {
        secret_access_key: "another",
        ..verifier()
    };
    let other_bucket = PolicyVerifier {
        bucket: "elsewhere",
        ..verifier()
    };
    let mut extra = form.clone();
    extra.push(("acl".into(), "public-read".into()));
    let missing_type: Vec<_> = form
        .iter()
        .filter(|(n, _)| n != "Content-Type")
        .cloned()
        .collect();
    let cases: Vec<RefusalCase<'_>> = vec![
        (
            "too large",
            form.clone(),
            1025,
            verifier(),
            E::EntityTooLarge(1024),
        ),
        ("empty", form.clone(), 0, verifier(), E::EntityTooSmall(1)),
        (
            "another key",
            with(&form, "key", "other"),
            5,
            verifier(),
            E::ConditionFailed("key".into()),
        ),
        (
            "another type",
            with(&form, "Content-Type", "text/html"),
            5,
            verifier(),
            E::ConditionFailed("content-type".into()),
        ),
        (
            "no type",
            missing_type,
            5,
            verifier(),
            E::ConditionFailed("content-type".into()),
        ),
        (
            "another bucket",
            form.clone(),
            5,
            other_bucket,
            E::ConditionFailed("bucket".into()),
        ),
        (
            "extra field",
            extra,
            5,
            verifier(),
            E::ExtraField("acl".into()),
        ),
        (
            "another secret",
            form.clone(),
            5,
            other_secret,
            E::SignatureDoesNotMatch,
        ),
        (
            "altered signature",
            with(&form, "x-amz-signature", &"0".repeat(64)),
            5,
            verifier(),
            E::SignatureDoesNotMatch,
        ),
        (
            "a later date",
            with(&form, "x-amz-date", "20261208T030001Z"),
            5,
            verifier(),
            // The signing key is the day's: the time is bound by the policy's condition.
            E::ConditionFailed("x-amz-date".into()),
        ),
        (
            "another access key",
            with(
                &form,
                "x-amz-credential",
                "SOMEONE/20261208/eu-west-1/s3/aws4_request",
            ),
            5,
            verifier(),
            E::InvalidAccessKeyId,
        ),
    ];
    for (what, form, len, verifier, expected) in cases {
        assert_eq!(verify(&form, len, &verifier, now), Err(expected), "{what}");
    }
    // An altered policy no longer matches its signature, whatever it allows.
    let document = decode_policy(&form.iter().find(|(n, _)| n == "policy").unwrap().1).unwrap();
    let mut looser = document.clone();
    looser["conditions"][3] = json!(["content-length-range", 1, 5_000_000_000_u64]);
    let looser = BASE64.encode(looser.to_string());
    assert_eq!(
        verify(&with(&form, "policy", &looser), 2048, &verifier(), now),
        Err(E::SignatureDoesNotMatch)
    );
}

#[test]
fn malformed_forms_are_400s() {
    let form = form(None);
    let mut repeated = form.clone();
    repeated.push(("KEY".into(), KEY.into()));
    let cases = [
        repeated,
        form.iter()
            .filter(|(n, _)| n != "policy")
            .cloned()
            .collect(),
        form.iter()
            .filter(|(n, _)| n != "x-amz-date")
            .cloned()
            .collect(),
        with(&form, "x-amz-algorithm", "AWS4-HMAC-SHA1"),
        with(&form, "x-amz-signature", "zz"),
        with(
            &form,
            "x-amz-credential",
            "AKIDEXAMPLE/20261208/us-east-1/s3/aws4_request",
        ),
        with(
            &form,
            "x-amz-credential",
            "AKIDEXAMPLE/20261209/eu-west-1/s3/aws4_request",
        ),
        with(&form, "x-amz-credential", "AKIDEXAMPLE"),
        with(&form, "x-amz-date", "yesterday"),
        with(&form, "policy", &"A".repeat(MAX_POLICY_LEN_FOR_TESTS + 4)),
    ];
    for case in cases {
        let error = verify(&case, 5, &verifier(), signed_at()).unwrap_err();
        assert!(
            matches!(error, PostPolicyError::Malformed(_)) && !error.is_forbidden(),
            "{error:?} for {case:?}"
        );
    }
}

/// The verifier's policy length limit, from outside the module.
const MAX_POLICY_LEN_FOR_TESTS: usize = 20 * 1024;

#[test]
fn policies_signed_with_the_right_key_but_odd_documents_are_refused_cleanly() {
    let now = signed_at();
    let documents = [
        json!([]),
        json!({ "conditions": [] }),
        json!({ "expiration": "tomorrow", "conditions": [] }),
        json!({ "expiration": "2026-12-08T03:05:00Z" }),
        json!({ "expiration": "2026-12-08T03:05:00Z", "conditions": [["nope"]] }),
        json!({ "expiration": "2026-12-08T03:05:00Z", "conditions": [{ "a": 1 }] }),
        json!({ "expiration": "2026-12-08T03:05:00Z", "conditions": [["eq", "key", KEY]] }),
        json!({ "expiration": "2026-12-08T03:05:00Z", "conditions": [["in", "$key", KEY]] }),
        json!({ "expiration": "2026-12-08T03:05:00Z",
                "conditions": [["content-length-range", -1, "x"]] }),
    ];
    for document in documents {
        let encoded = BASE64.encode(document.to_string());
        let signature = sign(SECRET, now, REGION, &encoded);
        let form = with(
            &with(&form(None), "policy", &encoded),
            "x-amz-signature",
            &signature,
        );
        assert!(
            matches!(
                verify(&form, 5, &verifier(), now),
                Err(PostPolicyError::Malformed(_))
            ),
            "{document}"
        );
    }
    // A policy that is not base64 at all, but genuinely signed: the signature is checked first.
    let not_base64 = with(
        &with(&form(None), "policy", "%%%"),
        "x-amz-signature",
        &sign(SECRET, now, REGION, "%%%"),
    );
    assert!(matches!(
        verify(&not_base64, 5, &verifier(), now),
        Err(PostPolicyError::Malformed(_))
    ));
    // `starts-with` and the array form of `eq` are S3's too.
    let document = json!({ "expiration": "2026-12-08T03:05:00Z", "conditions": [
        ["starts-with", "$key", "0b6f"], ["eq", "$Content-Type", "image/png"],
        {"x-amz-algorithm": ALGORITHM},
        {"x-amz-credential": "AKIDEXAMPLE/20261208/eu-west-1/s3/aws4_request"},
        {"x-amz-date": "20261208T030000Z"},
    ]});
    let encoded = BASE64.encode(document.to_string());
    let form = with(
        &with(&form(None), "policy", &encoded),
        "x-amz-signature",
        &sign(SECRET, now, REGION, &encoded),
    );
    assert!(
        verify(&form, 5_000_000, &verifier(), now).is_ok(),
        "no length range: no limit here"
    );
}

proptest! {
    #[test]
    fn verify_never_panics(
        fields in proptest::collection::vec(("[a-zA-Z-]{0,20}", ".{0,80}"), 0..10),
        len in any::<u64>(),
    ) {
        let _ = verify(&fields, len, &verifier(), signed_at());
    }

    #[test]
    fn verify_never_panics_on_signed_documents(document in ".{0,200}") {
        let encoded = BASE64.encode(&document);
        let form = with(
            &with(&form(None), "policy", &encoded),
            "x-amz-signature",
            &sign(SECRET, signed_at(), REGION, &encoded),
        );
        let _ = verify(&form, 5, &verifier(), signed_at());
    }
}
