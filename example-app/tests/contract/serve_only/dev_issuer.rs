//! The development issuer: JWKS, token claims, and keys that persist across restarts.

use serde_json::json;

use crate::fixtures::{claims, create_group, jwt_header};
use crate::serve::Serve;
use crate::target::Target;

pub async fn jwks_and_claims(serve: Serve) {
    let http = serve.http();
    let jwks = http.get("/.well-known/jwks.json").send().await.ok_json(200);
    let keys = jwks["keys"].as_array().unwrap_or_else(|| panic!("{jwks}"));
    assert!(!keys.is_empty(), "{jwks}");
    for key in keys {
        assert_eq!(key["kty"], "RSA", "{key}");
        assert!(
            key["kid"].is_string() && key["n"].is_string() && key["e"].is_string(),
            "{key}"
        );
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                key.get(private).is_none(),
                "the JWKS publishes the private {private}"
            );
        }
    }
    let token = serve.token("judy").await;
    let header = jwt_header(&token);
    assert_eq!(header["alg"], "RS256");
    assert!(
        keys.iter().any(|key| key["kid"] == header["kid"]),
        "kid {header} not in JWKS"
    );
    let claims = claims(&token);
    assert_eq!(claims["sub"], "judy");
    assert_eq!(claims["aud"], "udagram");
    assert_eq!(claims["iss"], format!("{}/", http.base()));
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let exp = claims["exp"].as_i64().unwrap();
    assert!(
        (now + 3500..=now + 3700).contains(&exp),
        "exp {exp}, now {now}"
    );

    for body in [
        json!({}),
        json!({ "user": "" }),
        json!({ "user": 7 }),
        json!({ "user": "a", "admin": true }),
    ] {
        http.post("/dev/token")
            .json(&body)
            .send()
            .await
            .problem(400);
    }
    http.post("/dev/token")
        .bytes("application/json", "{")
        .send()
        .await
        .problem(400);
    serve.stop().await;
}

/// A token from another server (another data dir, another key) is refused; the key persists in
/// the data dir, so a token survives a restart when the port is the same issuer.
pub async fn keys_belong_to_the_data_dir(serve: Serve) {
    let other = Serve::start().await;
    let foreign = other.token("kim").await;
    other.stop().await;
    let http = serve.http();
    let reply = http
        .post("/groups")
        .token(&foreign)
        .json(&json!({ "name": "foreign" }))
        .send()
        .await;
    reply.problem(401);

    let kid_before = jwt_header(&serve.token("kim").await)["kid"].clone();
    let mut serve = serve;
    // Keep the directory alive across the restart.
    let restarted = {
        serve.sigterm();
        let status = serve.wait(std::time::Duration::from_secs(10)).await;
        assert!(status.success(), "SIGTERM exit: {status:?}");
        Serve::restart_of(&serve).await
    };
    let token = restarted.token("kim").await;
    assert_eq!(
        jwt_header(&token)["kid"],
        kid_before,
        "the signing key changed on restart"
    );
    create_group(restarted.http(), &token, "after restart").await;
    restarted.stop().await;
    drop(serve);
}
