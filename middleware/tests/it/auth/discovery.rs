//! OpenID Connect discovery: the verifier reads the issuer's discovery document over real HTTP on
//! 127.0.0.1, takes its `jwks_uri`, and refuses a document that names another issuer.

use super::*;

/// A tiny issuer on 127.0.0.1: its discovery document and its JWKS, each request counted by path.
struct Issuer {
    url: String,
    requests: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Issuer {
    /// Serves `document(issuer_url)` at the discovery path and `jwks` at `/keys`.
    async fn start(document: impl Fn(&str) -> Value, jwks: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/tenant/", listener.local_addr().unwrap());
        let document = document(&url).to_string();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = requests.clone();
        let task = tokio::spawn(async move {
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (seen, document, jwks) = (seen.clone(), document.clone(), jwks.clone());
                tokio::spawn(async move {
                    let mut request = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => request.extend_from_slice(&buf[..n]),
                        }
                    }
                    let line = String::from_utf8_lossy(&request);
                    let path = line.split(' ').nth(1).unwrap_or_default().to_owned();
                    seen.lock().unwrap().push(path.clone());
                    let body = match path.as_str() {
                        "/tenant/.well-known/openid-configuration" => Some(document),
                        "/keys" => Some(jwks),
                        _ => None,
                    };
                    let response = match body {
                        Some(body) => format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        ),
                        None => "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_owned(),
                    };
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self {
            url,
            requests,
            task,
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn one_key() -> String {
    jwks(&[("main", Algorithm::RS256, RSA_PRIVATE)])
}

fn verifier(issuer: &str) -> JwtVerifier {
    JwtVerifier::builder()
        .oidc_issuer(issuer)
        .audience(AUD)
        .jwks_cooldown(Duration::from_millis(1))
        .jwks_timeout(Duration::from_millis(500))
        .build()
        .unwrap()
}

#[tokio::test]
async fn the_keys_come_from_the_jwks_uri_the_discovery_document_names() {
    let issuer = Issuer::start(
        |url| json!({"issuer": url, "jwks_uri": format!("{}/keys", url.trim_end_matches("/tenant/"))}),
        one_key(),
    )
    .await;
    let verifier = verifier(&issuer.url);
    for i in 0..5 {
        let claims = with(
            with(good_claims(), "iss", json!(issuer.url)),
            "jti",
            json!(i),
        );
        let verified = verifier
            .verify(&rs256(Some("main"), &claims))
            .await
            .unwrap();
        assert_eq!(verified.subject(), Some("auth0|user-1"));
    }
    // One discovery, one key set, shared by every verification.
    assert_eq!(
        issuer.requests(),
        ["/tenant/.well-known/openid-configuration", "/keys"]
    );
    // The issuer is enforced: a token of another issuer, signed by the same key, is refused.
    let foreign = rs256(Some("main"), &good_claims());
    assert_eq!(
        verifier.verify(&foreign).await.unwrap_err(),
        VerifyError::InvalidIssuer
    );
}

#[tokio::test]
async fn a_document_that_names_another_issuer_is_refused_and_no_key_is_fetched() {
    let issuer = Issuer::start(
        |url| {
            json!({"issuer": "https://evil.example/", "jwks_uri": format!("{}/keys", url.trim_end_matches("/tenant/"))})
        },
        one_key(),
    )
    .await;
    let verifier = verifier(&issuer.url);
    let error = verifier.prefetch().await.unwrap_err();
    assert!(
        matches!(&error, AuthError::Discovery(message) if message.contains("evil.example")),
        "{error}"
    );
    let claims = with(good_claims(), "iss", json!(issuer.url));
    assert_eq!(
        verifier
            .verify(&rs256(Some("main"), &claims))
            .await
            .unwrap_err(),
        VerifyError::KeysUnavailable
    );
    assert!(!issuer.requests().iter().any(|path| path == "/keys"));
}

#[tokio::test]
async fn unusable_documents_and_issuers_are_clear_errors() {
    for (document, expected) in [
        (json!({"issuer": "x"}), "not a discovery document"),
        (
            json!({"jwks_uri": "https://example.com/keys"}),
            "not a discovery document",
        ),
    ] {
        let issuer = Issuer::start(move |_| document.clone(), one_key()).await;
        let error = verifier(&issuer.url).prefetch().await.unwrap_err();
        assert!(error.to_string().contains(expected), "{error}");
    }
    let insecure = Issuer::start(
        |url| json!({"issuer": url, "jwks_uri": "http://keys.example.com/keys"}),
        one_key(),
    )
    .await;
    let error = verifier(&insecure.url).prefetch().await.unwrap_err();
    assert!(error.to_string().contains("https"), "{error}");
    // An issuer that is not an https URL (nor loopback http) is refused when building.
    let built = JwtVerifier::builder()
        .oidc_issuer("http://tenant.example.com/")
        .build();
    assert!(matches!(built, Err(AuthError::Discovery(_))), "{built:?}");
}
