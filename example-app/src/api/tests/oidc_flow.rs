//! The development issuer's OpenID Connect flow, driven as the web client's library drives it:
//! discovery, the sign-in page, the code for the PKCE verifier, then the tokens at the API.

use http::{Method, StatusCode};

use super::{BASE, Harness, call, harness};

const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const CALLBACK: &str = "http://127.0.0.1:9/auth/callback";

/// The sign-in page for a standard request; returns its transaction id.
async fn sign_in_page(h: &Harness) -> String {
    let uri = format!(
        "/dev/authorize?response_type=code&client_id=udagram-web&redirect_uri={}\
         &scope=openid+profile+offline_access&state=st-1&nonce=no-1\
         &code_challenge={CHALLENGE}&code_challenge_method=S256",
        form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>()
    );
    let page = call(Method::GET, &uri).send(h).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.content_type().starts_with("text/html"));
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'none'"), "{policy}");
    let html = String::from_utf8_lossy(&page.body).into_owned();
    assert!(html.contains("<label for=\"user\">User name</label>"));
    let marker = "name=\"transaction\" value=\"";
    let start = html.find(marker).unwrap() + marker.len();
    html[start..start + html[start..].find('"').unwrap()].to_owned()
}

/// Signs in as `user` on the page; returns the code from the redirect.
async fn code_for(h: &Harness, user: &str) -> String {
    let transaction = sign_in_page(h).await;
    let answer = call(Method::POST, "/dev/authorize")
        .header("origin", BASE)
        .bytes(
            "application/x-www-form-urlencoded",
            format!("transaction={transaction}&user={user}").into_bytes(),
        )
        .send(h)
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let location = answer.headers["location"].to_str().unwrap();
    let query = location.strip_prefix(&format!("{CALLBACK}?")).unwrap();
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(params[1], ("state".to_owned(), "st-1".to_owned()));
    params[0].1.clone()
}

async fn token_call(h: &Harness, form: &str) -> super::Answer {
    call(Method::POST, "/dev/oauth/token")
        .bytes(
            "application/x-www-form-urlencoded",
            form.as_bytes().to_vec(),
        )
        .send(h)
        .await
}

#[tokio::test]
async fn discovery_sign_in_code_tokens_and_refresh() {
    let h = harness();
    let discovery = call(Method::GET, "/.well-known/openid-configuration")
        .send(&h)
        .await
        .json();
    assert_eq!(discovery["issuer"], format!("{BASE}/"));
    assert_eq!(
        discovery["token_endpoint"],
        format!("{BASE}/dev/oauth/token")
    );

    let code = code_for(&h, "alice").await;
    let form = format!(
        "grant_type=authorization_code&client_id=udagram-web&code={code}\
         &redirect_uri={}&code_verifier={VERIFIER}",
        form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>()
    );
    let tokens = token_call(&h, &form).await;
    assert_eq!(tokens.status, StatusCode::OK);
    assert_eq!(tokens.headers["cache-control"], "no-store");
    let tokens = tokens.json();
    assert_eq!(tokens["token_type"], "Bearer");
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();

    // The access token writes; the refresh token is no access token.
    let body = r#"{"name": "Signed in", "description": ""}"#;
    let created = call(Method::POST, "/groups")
        .token(access)
        .json(body)
        .send(&h)
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(created.json()["newItem"]["userId"], "alice");
    let refused = call(Method::POST, "/groups")
        .token(refresh)
        .json(body)
        .send(&h)
        .await;
    refused.assert_problem(401);

    // The code is single-use.
    let again = token_call(&h, &form).await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST);
    assert_eq!(again.json()["error"], "invalid_grant");

    // A refresh gives a new access token for the same user.
    let refreshed = token_call(
        &h,
        &format!("grant_type=refresh_token&client_id=udagram-web&refresh_token={refresh}"),
    )
    .await;
    assert_eq!(refreshed.status, StatusCode::OK);
    let renewed = refreshed.json()["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let created = call(Method::POST, "/groups")
        .token(&renewed)
        .json(body)
        .send(&h)
        .await;
    assert_eq!(created.json()["newItem"]["userId"], "alice");
}

#[tokio::test]
async fn bad_token_requests_get_oauth_errors_and_no_tokens() {
    let h = harness();
    let code = code_for(&h, "bob").await;
    let callback = form_urlencoded::byte_serialize(CALLBACK.as_bytes()).collect::<String>();
    for (form, error) in [
        (
            "grant_type=password&client_id=udagram-web&username=bob".to_owned(),
            "unsupported_grant_type",
        ),
        (
            format!("grant_type=authorization_code&client_id=other&code={code}"),
            "invalid_client",
        ),
        (
            "grant_type=refresh_token&client_id=udagram-web&refresh_token=forged".to_owned(),
            "invalid_grant",
        ),
        (
            "grant_type=authorization_code&client_id=udagram-web&code=a&code=b".to_owned(),
            "invalid_request",
        ),
        // A wrong verifier uses the code up: the right one cannot redeem it afterwards.
        (
            format!(
                "grant_type=authorization_code&client_id=udagram-web&code={code}&redirect_uri={callback}&code_verifier={}",
                "x".repeat(43)
            ),
            "invalid_grant",
        ),
        (
            format!(
                "grant_type=authorization_code&client_id=udagram-web&code={code}&redirect_uri={callback}&code_verifier={VERIFIER}"
            ),
            "invalid_grant",
        ),
    ] {
        let answer = token_call(&h, &form).await;
        assert!(answer.status.is_client_error(), "{form}: {}", answer.status);
        let body = answer.json();
        assert_eq!(body["error"], error, "{form}");
        assert!(body.get("access_token").is_none());
    }
}

#[tokio::test]
async fn the_sign_in_page_refuses_foreign_redirects_and_bad_user_names() {
    let h = harness();
    let foreign = call(
        Method::GET,
        &format!(
            "/dev/authorize?response_type=code&client_id=udagram-web\
             &redirect_uri=https%3A%2F%2Fevil.example%2Fcb&code_challenge={CHALLENGE}\
             &code_challenge_method=S256"
        ),
    )
    .send(&h)
    .await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8_lossy(&foreign.body).contains("this server's origin"));

    let transaction = sign_in_page(&h).await;
    for user in ["", "al ice", "%3Cscript%3E"] {
        let answer = call(Method::POST, "/dev/authorize")
            .bytes(
                "application/x-www-form-urlencoded",
                format!("transaction={transaction}&user={user}").into_bytes(),
            )
            .send(&h)
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{user:?}");
        let html = String::from_utf8_lossy(&answer.body);
        assert!(html.contains("role=\"alert\""), "{user:?}");
        assert!(!html.contains("<script>"), "{user:?}");
    }
    // The page still works after a refused name.
    let ok = call(Method::POST, "/dev/authorize")
        .bytes(
            "application/x-www-form-urlencoded",
            format!("transaction={transaction}&user=carol").into_bytes(),
        )
        .send(&h)
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
}
