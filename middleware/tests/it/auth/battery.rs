//! The token attack battery: every forged, broken or stale token gets 401, never a 5xx.

use super::*;

/// The attack battery: every token gives 401 with `error="invalid_token"`, and the body never
/// says why.
#[tokio::test]
async fn the_attack_battery_gets_401_every_time() {
    let server = JwksServer::start(Mode::Serve(jwks(&[
        ("main", Algorithm::RS256, RSA_PRIVATE),
        ("ec", Algorithm::ES256, EC_PRIVATE),
    ])))
    .await;
    let verifier = JwtVerifier::builder()
        .jwks_url(&server.url)
        .issuer(ISS)
        .audience(AUD)
        .build()
        .unwrap();
    let good = rs256(Some("main"), &good_claims());
    assert!(
        verifier.verify(&good).await.is_ok(),
        "the control token must pass"
    );
    let (header, payload, signature) = {
        let parts: Vec<&str> = good.split('.').collect();
        (
            parts[0].to_owned(),
            parts[1].to_owned(),
            parts[2].to_owned(),
        )
    };
    let mut flipped = signature.clone().into_bytes();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let other_payload = b64(&with(good_claims(), "sub", json!("auth0|admin")).to_string());
    let hs256_with_public_key = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some("main".into());
        lamina_middleware::crypto::ensure_jwt_provider();
        jsonwebtoken::encode(
            &h,
            &good_claims(),
            &EncodingKey::from_secret(RSA_PUBLIC).unwrap(),
        )
        .unwrap()
    };
    let huge = rs256(
        Some("main"),
        &with(good_claims(), "padding", json!("x".repeat(9000))),
    );
    let battery: Vec<(&str, String)> = vec![
        (
            "alg none",
            format!(
                "{}.{payload}.",
                b64(r#"{"alg":"none","typ":"JWT","kid":"main"}"#)
            ),
        ),
        (
            "alg None",
            format!("{}.{payload}.", b64(r#"{"alg":"None","kid":"main"}"#)),
        ),
        ("HS256 signed with the public key", hs256_with_public_key),
        (
            "RS384 is not allowed",
            mint(Algorithm::RS384, RSA_PRIVATE, Some("main"), &good_claims()),
        ),
        (
            "ES256 header on the RSA kid",
            mint(Algorithm::ES256, EC_PRIVATE, Some("main"), &good_claims()),
        ),
        (
            "PS256 header over an RS256 signature",
            format!(
                "{}.{payload}.{signature}",
                b64(r#"{"alg":"PS256","kid":"main"}"#)
            ),
        ),
        (
            "expired",
            rs256(
                Some("main"),
                &with(good_claims(), "exp", json!(now() - 3600)),
            ),
        ),
        (
            "not yet valid",
            rs256(
                Some("main"),
                &with(good_claims(), "nbf", json!(now() + 3600)),
            ),
        ),
        (
            "no exp",
            rs256(Some("main"), &{
                let mut c = good_claims();
                c.as_object_mut().unwrap().remove("exp");
                c
            }),
        ),
        (
            "exp as a string",
            rs256(Some("main"), &with(good_claims(), "exp", json!("tomorrow"))),
        ),
        (
            "wrong issuer",
            rs256(
                Some("main"),
                &with(good_claims(), "iss", json!("https://evil.auth0.com/")),
            ),
        ),
        (
            "no issuer",
            rs256(Some("main"), &{
                let mut c = good_claims();
                c.as_object_mut().unwrap().remove("iss");
                c
            }),
        ),
        (
            "wrong audience",
            rs256(
                Some("main"),
                &with(good_claims(), "aud", json!("https://other.api")),
            ),
        ),
        ("unknown kid", rs256(Some("rotated-away"), &good_claims())),
        (
            "key from another JWKS, known kid",
            mint(
                Algorithm::RS256,
                OTHER_PRIVATE,
                Some("main"),
                &good_claims(),
            ),
        ),
        (
            "key from another JWKS, its own kid",
            mint(
                Algorithm::RS256,
                OTHER_PRIVATE,
                Some("other"),
                &good_claims(),
            ),
        ),
        (
            "key from another JWKS, no kid",
            mint(Algorithm::RS256, OTHER_PRIVATE, None, &good_claims()),
        ),
        ("stripped signature", format!("{header}.{payload}.")),
        ("two parts", format!("{header}.{payload}")),
        ("four parts", format!("{good}.{signature}")),
        ("altered signature", format!("{header}.{payload}.{flipped}")),
        (
            "altered payload",
            format!("{header}.{other_payload}.{signature}"),
        ),
        ("malformed base64", format!("{header}.@@@@.{signature}")),
        (
            "malformed base64 header",
            format!("%%%.{payload}.{signature}"),
        ),
        (
            "malformed JSON header",
            format!("{}.{payload}.{signature}", b64("{\"alg\":\"RS256\"")),
        ),
        ("malformed JSON claims", rs256_raw("main", "{\"sub\":")),
        ("claims not an object", rs256_raw("main", "[1,2,3]")),
        ("oversized token", huge),
        (
            "kid path traversal",
            rs256(Some("../../../../etc/passwd"), &good_claims()),
        ),
        (
            "kid with CRLF",
            rs256(Some("main\r\nX-Injected: 1"), &good_claims()),
        ),
        ("kid SQL", rs256(Some("main' OR '1'='1"), &good_claims())),
        ("kid huge", rs256(Some(&"k".repeat(1000)), &good_claims())),
        ("kid empty", rs256(Some(""), &good_claims())),
        (
            "crit header",
            format!(
                "{}.{payload}.{signature}",
                b64(r#"{"alg":"RS256","kid":"main","crit":["exp"]}"#)
            ),
        ),
        (
            "jku header pointing elsewhere",
            format!(
                "{}.{payload}.{signature}",
                b64(r#"{"alg":"RS256","kid":"main","jku":"https://evil/jwks"}"#)
            )
            .replace(&signature, &flipped),
        ),
        ("garbage", "not-a-token".to_owned()),
    ];
    let app = ServiceBuilder::new()
        .layer(JwtAuthLayer::new(verifier.clone()))
        .service(service_fn(echo));
    for (name, token) in &battery {
        let answer = send(app.clone(), get(bearer(token).as_deref())).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(
            answer.www.as_deref(),
            Some("Bearer realm=\"api\", error=\"invalid_token\""),
            "{name}"
        );
        for leak in [
            "expired",
            "signature",
            "issuer",
            "audience",
            "kid",
            "algorithm",
        ] {
            assert!(
                !answer.body.to_lowercase().contains(leak),
                "{name}: the body says {leak:?}: {}",
                answer.body
            );
        }
    }
    // Headers that never make it to a token.
    for bad in ["Bearer", "Bearer a b c", "Bearer \"quoted\""] {
        let answer = send(app.clone(), get(Some(bad))).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{bad}");
    }
    let mut twice = get(bearer(&good).as_deref());
    twice.headers_mut().append(
        header::AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {good}")).unwrap(),
    );
    assert_eq!(
        send(app.clone(), twice).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Several unknown kids in the battery, yet one initial fetch and at most one refresh.
    assert!(server.fetches() <= 2, "{} fetches", server.fetches());
}

#[tokio::test]
async fn attack_reasons_are_the_expected_ones() {
    let verifier = static_verifier();
    let cases = [
        (
            rs256(None, &with(good_claims(), "exp", json!(now() - 3600))),
            VerifyError::Expired,
        ),
        (
            rs256(None, &with(good_claims(), "nbf", json!(now() + 3600))),
            VerifyError::NotYetValid,
        ),
        (
            rs256(None, &with(good_claims(), "iss", json!("x"))),
            VerifyError::InvalidIssuer,
        ),
        (
            rs256(None, &with(good_claims(), "aud", json!("x"))),
            VerifyError::InvalidAudience,
        ),
        (
            mint(Algorithm::RS256, OTHER_PRIVATE, None, &good_claims()),
            VerifyError::InvalidSignature,
        ),
        (
            mint(Algorithm::RS384, RSA_PRIVATE, None, &good_claims()),
            VerifyError::AlgorithmNotAllowed,
        ),
        (
            rs256(Some("a\u{0}b"), &good_claims()),
            VerifyError::MalformedKid,
        ),
        ("a.b".to_owned(), VerifyError::Malformed),
        (
            rs256(None, &with(good_claims(), "pad", json!("y".repeat(9000)))),
            VerifyError::Oversized { len: 0, max: 8192 },
        ),
    ];
    for (token, expected) in cases {
        let got = verifier.verify(&token).await.unwrap_err();
        match (&got, &expected) {
            (VerifyError::Oversized { max, .. }, VerifyError::Oversized { .. }) => {
                assert_eq!(*max, 8192)
            }
            _ => assert_eq!(got, expected),
        }
    }
    // Leeway: expired 30 s ago passes with the default 60 s, not with 10 s.
    let recent = rs256(None, &with(good_claims(), "exp", json!(now() - 30)));
    assert!(verifier.verify(&recent).await.is_ok());
    let strict = JwtVerifier::builder()
        .key(VerificationKey::from_pem(RSA_CERT).unwrap())
        .leeway(Duration::from_secs(10))
        .build()
        .unwrap();
    assert_eq!(
        strict.verify(&recent).await.err(),
        Some(VerifyError::Expired)
    );
    // Required claims beyond the registered ones.
    let needs_email = JwtVerifier::builder()
        .key(VerificationKey::from_pem(RSA_CERT).unwrap())
        .required_claims(["exp", "sub", "email"])
        .build()
        .unwrap();
    assert_eq!(
        needs_email.verify(&rs256(None, &good_claims())).await.err(),
        Some(VerifyError::MissingClaim("email".into()))
    );
    let with_email = rs256(None, &with(good_claims(), "email", json!("a@b.c")));
    assert!(needs_email.verify(&with_email).await.is_ok());
}
