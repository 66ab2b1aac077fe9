//! The JWKS over real HTTP on 127.0.0.1: one shared fetch, cool-down, single flight, last good set,
//! typed fetch errors; and the verification cache.

use super::*;

#[tokio::test]
async fn the_jwks_is_fetched_once_and_shared_across_clones_and_requests() {
    let server = JwksServer::start(Mode::Serve(jwks(&[(
        "main",
        Algorithm::RS256,
        RSA_PRIVATE,
    )])))
    .await;
    let verifier = jwks_verifier(&server);
    let app = ServiceBuilder::new()
        .layer(JwtAuthLayer::new(verifier.clone()))
        .service(service_fn(echo));
    for i in 0..20 {
        // Distinct tokens, so the verification cache does not hide the key lookups.
        let token = rs256(Some("main"), &with(good_claims(), "jti", json!(i)));
        assert_eq!(
            send(app.clone(), get(bearer(&token).as_deref()))
                .await
                .status,
            StatusCode::OK
        );
    }
    assert_eq!(server.fetches(), 1);
    assert_eq!(verifier.jwks_fetches(), 1);
}

#[tokio::test]
async fn random_kids_cause_at_most_one_refresh_per_cooldown() {
    let server = JwksServer::start(Mode::Serve(jwks(&[(
        "main",
        Algorithm::RS256,
        RSA_PRIVATE,
    )])))
    .await;
    let mint_batch = |prefix: &str| -> Vec<String> {
        (0..50)
            .map(|i| rs256(Some(&format!("{prefix}-{i}")), &good_claims()))
            .collect()
    };
    let (first, second) = (mint_batch("random"), mint_batch("again"));
    let verifier = jwks_verifier(&server);
    assert_eq!(verifier.prefetch().await, Ok(1));
    for token in &first {
        assert_eq!(
            verifier.verify(token).await.err(),
            Some(VerifyError::UnknownKey)
        );
    }
    assert_eq!(
        server.fetches(),
        1,
        "prefetch, then the cool-down blocks every refresh"
    );
    tokio::time::sleep(COOLDOWN + Duration::from_millis(100)).await;
    for token in &second {
        assert_eq!(
            verifier.verify(token).await.err(),
            Some(VerifyError::UnknownKey)
        );
    }
    assert_eq!(server.fetches(), 2, "one refresh once the cool-down passed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_key_is_picked_up_by_one_shared_fetch() {
    let server =
        JwksServer::start(Mode::Serve(jwks(&[("k1", Algorithm::RS256, RSA_PRIVATE)]))).await;
    let verifier = jwks_verifier(&server);
    assert_eq!(verifier.prefetch().await, Ok(1));
    server.set(Mode::Serve(jwks(&[
        ("k1", Algorithm::RS256, RSA_PRIVATE),
        ("k2", Algorithm::ES256, EC_PRIVATE),
    ])));
    tokio::time::sleep(COOLDOWN + Duration::from_millis(100)).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..50 {
        let verifier = verifier.clone();
        let token = mint(
            Algorithm::ES256,
            EC_PRIVATE,
            Some("k2"),
            &with(good_claims(), "jti", json!(i)),
        );
        tasks.spawn(async move {
            verifier
                .verify(&token)
                .await
                .map(|c| c.subject().map(str::to_owned))
        });
    }
    while let Some(result) = tasks.join_next().await {
        assert_eq!(result.unwrap(), Ok(Some("auth0|user-1".to_owned())));
    }
    assert_eq!(server.fetches(), 2, "50 concurrent misses, one refresh");
}

#[tokio::test]
async fn the_last_good_key_set_keeps_serving_when_fetches_fail() {
    let server = JwksServer::start(Mode::Serve(jwks(&[(
        "main",
        Algorithm::RS256,
        RSA_PRIVATE,
    )])))
    .await;
    let verifier = JwtVerifier::builder()
        .jwks_url(&server.url)
        .issuer(ISS)
        .audience(AUD)
        .jwks_cooldown(Duration::from_millis(100))
        .jwks_max_age(Duration::from_millis(100))
        .cache_capacity(0)
        .build()
        .unwrap();
    let token = rs256(Some("main"), &good_claims());
    assert!(verifier.verify(&token).await.is_ok());
    for failure in [
        Mode::Status(500),
        Mode::Serve("{not json".into()),
        Mode::Huge(1 << 20),
    ] {
        server.set(failure);
        tokio::time::sleep(Duration::from_millis(150)).await;
        let before = server.fetches();
        // Stale set and unknown kid: both try to refresh, both fail, the good key still verifies.
        assert_eq!(
            verifier
                .verify(&rs256(Some("new"), &good_claims()))
                .await
                .err(),
            Some(VerifyError::UnknownKey)
        );
        assert!(verifier.verify(&token).await.is_ok());
        assert!(server.fetches() > before, "a refresh was attempted");
    }
}

#[tokio::test]
async fn jwks_fetch_errors_are_typed() {
    let cases = [
        (Mode::Status(404), AuthError::JwksStatus(404)),
        (Mode::Huge(100_000), AuthError::JwksTooLarge(65_536)),
        (Mode::HugeUnsized(100_000), AuthError::JwksTooLarge(65_536)),
        (
            Mode::Hang,
            AuthError::JwksTimeout(Duration::from_millis(500)),
        ),
    ];
    for (mode, expected) in cases {
        let server = JwksServer::start(mode).await;
        let started = std::time::Instant::now();
        assert_eq!(
            jwks_verifier(&server).prefetch().await,
            Err(expected.clone()),
            "{expected}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    }
    let not_a_set = JwksServer::start(Mode::Serve("{\"keys\": 5}".into())).await;
    assert!(matches!(
        jwks_verifier(&not_a_set).prefetch().await,
        Err(AuthError::JwksMalformed(_))
    ));
    let closed = JwksServer::start(Mode::Status(200)).await;
    let url = closed.url.clone();
    drop(closed);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let verifier = JwtVerifier::builder().jwks_url(url).build().unwrap();
    assert!(matches!(
        verifier.prefetch().await,
        Err(AuthError::JwksFetch(_))
    ));
    assert_eq!(
        JwtVerifier::builder()
            .jwks_url("http://example.com/jwks")
            .build()
            .err(),
        Some(AuthError::InsecureJwksUrl)
    );
    assert_eq!(
        JwtVerifier::builder().build().err(),
        Some(AuthError::NoKeySource)
    );
}

#[tokio::test]
async fn no_keys_at_all_answers_503_and_does_not_hammer_the_endpoint() {
    let server = JwksServer::start(Mode::Status(503)).await;
    let layer = JwtAuthLayer::new(jwks_verifier(&server));
    let token = rs256(Some("main"), &good_claims());
    for _ in 0..10 {
        let app = ServiceBuilder::new()
            .layer(layer.clone())
            .service(service_fn(echo));
        let answer = send(app, get(bearer(&token).as_deref())).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            answer.content_type.as_deref(),
            Some("application/problem+json")
        );
    }
    assert_eq!(server.fetches(), 1);
}

#[tokio::test]
async fn verifications_are_cached_by_token_hash_and_bounded() {
    let verifier = JwtVerifier::builder()
        .key(VerificationKey::from_pem(RSA_CERT).unwrap())
        .cache_capacity(3)
        .build()
        .unwrap();
    let token = rs256(None, &good_claims());
    for _ in 0..5 {
        assert!(verifier.verify(&token).await.is_ok());
    }
    assert_eq!(verifier.cached_verifications(), 1);
    for i in 0..10 {
        assert!(
            verifier
                .verify(&rs256(None, &with(good_claims(), "jti", json!(i))))
                .await
                .is_ok()
        );
    }
    assert_eq!(verifier.cached_verifications(), 3);
    // A cached token whose exp passes is verified again (and, within the leeway, still accepted).
    let short = rs256(None, &with(good_claims(), "exp", json!(now() + 1)));
    assert!(verifier.verify(&short).await.is_ok());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(verifier.verify(&short).await.is_ok());
}

#[tokio::test]
async fn the_verification_cache_skips_the_signature_check() {
    // Measured through the JWKS: once the key is rotated away, a cached token still passes (until
    // its exp) while an uncached token signed by the same key does not.
    let server = JwksServer::start(Mode::Serve(jwks(&[(
        "main",
        Algorithm::RS256,
        RSA_PRIVATE,
    )])))
    .await;
    let verifier = JwtVerifier::builder()
        .jwks_url(&server.url)
        .jwks_cooldown(Duration::ZERO)
        .jwks_max_age(Duration::ZERO)
        .build()
        .unwrap();
    let cached = rs256(Some("main"), &good_claims());
    assert!(verifier.verify(&cached).await.is_ok());
    server.set(Mode::Serve(jwks(&[("next", Algorithm::ES256, EC_PRIVATE)])));
    let fresh = rs256(Some("main"), &with(good_claims(), "jti", json!("fresh")));
    assert_eq!(
        verifier.verify(&fresh).await.err(),
        Some(VerifyError::UnknownKey)
    );
    assert!(verifier.verify(&cached).await.is_ok());
}
