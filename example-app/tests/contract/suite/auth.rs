//! Writes need a valid bearer token: missing, garbage, forged, tampered tokens are 401 and store
//! nothing.

use serde_json::{Value, json};

use crate::fixtures::{
    all_group_ids, claims, create_group, jwt_header, sign_with_foreign_key, unsigned_jwt, walk,
};
use crate::target::Target;

pub async fn bad_tokens_are_401(target: &impl Target) {
    let http = target.http();
    let good = target.token("frank").await;
    let group = create_group(http, &good, "Owned").await;
    let images = format!("/groups/{}/images", group["id"].as_str().unwrap());

    let header = jwt_header(&good);
    let real_claims = claims(&good);
    let mut tampered_claims = real_claims.clone();
    tampered_claims["sub"] = json!("mallory");
    let parts: Vec<&str> = good.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        crate::fixtures::base64url(&serde_json::to_vec(&tampered_claims).unwrap()),
        parts[2]
    );
    let mut flipped_signature = good.clone();
    let last = flipped_signature.pop().unwrap();
    flipped_signature.push(if last == 'A' { 'B' } else { 'A' });
    let mut expired = real_claims.clone();
    expired["exp"] = json!(1_000_000_000);
    let mut wrong_audience = real_claims.clone();
    wrong_audience["aud"] = json!("someone-else");

    let bad: Vec<(&str, Option<String>)> = vec![
        ("no token", None),
        ("garbage", Some("Bearer garbage".into())),
        ("empty bearer", Some("Bearer ".into())),
        ("basic", Some("Basic YWxpY2U6c2VjcmV0".into())),
        ("token without scheme", Some(good.clone())),
        (
            "another key",
            Some(format!(
                "Bearer {}",
                sign_with_foreign_key(&header, &real_claims)
            )),
        ),
        ("tampered claims", Some(format!("Bearer {tampered}"))),
        (
            "altered signature",
            Some(format!("Bearer {flipped_signature}")),
        ),
        (
            "alg none",
            Some(format!(
                "Bearer {}",
                unsigned_jwt(
                    &json!({ "alg": "none", "typ": "JWT", "kid": header["kid"] }),
                    &real_claims,
                    b""
                )
            )),
        ),
        (
            "HS256 confusion",
            Some(format!(
                "Bearer {}",
                unsigned_jwt(
                    &json!({ "alg": "HS256", "typ": "JWT", "kid": header["kid"] }),
                    &real_claims,
                    &[7; 32]
                )
            )),
        ),
        (
            "expired, foreign key",
            Some(format!(
                "Bearer {}",
                sign_with_foreign_key(&header, &expired)
            )),
        ),
        (
            "audience, foreign key",
            Some(format!(
                "Bearer {}",
                sign_with_foreign_key(&header, &wrong_audience)
            )),
        ),
    ];
    for (case, authorization) in &bad {
        for (path, body) in [
            ("/groups", json!({ "name": "stolen", "description": "" })),
            (images.as_str(), json!({ "title": "stolen" })),
        ] {
            let mut call = http.post(path).json(&body);
            if let Some(value) = authorization {
                call = call.header("authorization", value);
            }
            let reply = call.send().await;
            assert_eq!(reply.status, 401, "{case}: POST {path}: {}", reply.text());
            reply.problem(401);
        }
    }
    assert_eq!(
        all_group_ids(http).await.len(),
        1,
        "a rejected write stored a group"
    );
    assert!(
        walk(http, &images, 100).await.is_empty(),
        "a rejected write stored an image"
    );
    target.settle().await;
    let found: Value = http.get("/images?q=stolen").send().await.ok_json(200);
    assert_eq!(found["items"], json!([]));

    // A bad token on a public read is still rejected (a presented token must be valid) or ignored.
    let reply = http
        .get("/groups")
        .header("authorization", "Bearer garbage")
        .send()
        .await;
    assert!(
        reply.status == 200 || reply.status == 401,
        "{}",
        reply.status
    );
}
