//! Property tests: random tokens and `Authorization` headers never panic and always get 401.

use super::*;
use proptest::prelude::*;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn part() -> impl Strategy<Value = String> {
    prop_oneof![
        "[A-Za-z0-9_-]{0,60}",
        any::<Vec<u8>>().prop_map(|b| URL_SAFE_NO_PAD.encode(b)),
        prop::sample::select(vec![
            b64(r#"{"alg":"none"}"#),
            b64(r#"{"alg":"RS256"}"#),
            b64(r#"{"alg":"HS256","kid":"main"}"#),
            b64(r#"{"alg":"ES256","kid":7}"#),
            b64(r#"{"exp":1e400}"#),
            b64(r#"{"sub":"x","exp":99999999999,"aud":[1]}"#),
        ]),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn random_tokens_are_rejected_without_panicking(h in part(), p in part(), s in part(), dots in 0usize..5) {
        let token = match dots { 0 => h.clone(), 1 => format!("{h}.{p}"), 2 => format!("{h}.{p}.{s}"), _ => format!("{h}.{p}.{s}.{s}") };
        let result = runtime().block_on(static_verifier().verify(&token));
        prop_assert!(result.is_err());
    }

    #[test]
    fn random_authorization_headers_get_401(value in proptest::collection::vec(0x20u8..0x7f, 0..300)) {
        let Ok(value) = HeaderValue::from_bytes(&value) else { return Ok(()) };
        let mut req = Request::get("/photos").body(Body::Empty).unwrap();
        req.headers_mut().insert(header::AUTHORIZATION, value);
        let app = ServiceBuilder::new().layer(JwtAuthLayer::new(static_verifier())).service(service_fn(echo));
        let answer = runtime().block_on(send(app, req));
        prop_assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
        prop_assert!(answer.www.is_some_and(|w| w.starts_with("Bearer realm=\"api\"")));
    }

    #[test]
    fn random_bytes_in_authorization_never_5xx(value in any::<Vec<u8>>()) {
        let Ok(value) = HeaderValue::from_bytes(&value) else { return Ok(()) };
        let mut req = Request::get("/photos").body(Body::Empty).unwrap();
        req.headers_mut().insert(header::AUTHORIZATION, value);
        let app = ServiceBuilder::new().layer(JwtAuthLayer::new(static_verifier())).service(service_fn(echo));
        prop_assert_eq!(runtime().block_on(send(app, req)).status, StatusCode::UNAUTHORIZED);
    }
}
