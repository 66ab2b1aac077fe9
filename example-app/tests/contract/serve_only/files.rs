//! `GET /files/{key}` and `PUT /uploads/{id}`: path tricks never reach outside the blob directory.

use crate::fixtures::{create_group, create_image};
use crate::serve::Serve;
use crate::target::Target;

pub async fn path_tricks(serve: Serve) {
    let http = serve.http();
    // Something outside the blob directory that a traversal could reach.
    std::fs::write(serve.data().join("secret.txt"), "top secret").unwrap();
    let token = serve.token("ivy").await;
    let group = create_group(http, &token, "Files").await;
    let created = create_image(http, &token, group["id"].as_str().unwrap(), "pending").await;
    let id = created["newItem"]["imageId"].as_str().unwrap();
    let tricks = [
        "/files/..%2f..%2fetc%2fpasswd".to_owned(),
        "/files/..%2fsecret.txt".to_owned(),
        "/files/..%2f..%2fsecret.txt".to_owned(),
        "/files/%2e%2e%2fsecret.txt".to_owned(),
        "/files/%2e%2e".to_owned(),
        "/files/..".to_owned(),
        "/files/.".to_owned(),
        "/files/".to_owned(),
        "/files/secret.txt".to_owned(),
        "/files/..%5csecret.txt".to_owned(),
        "/files/%252e%252e%252fsecret.txt".to_owned(),
        format!("/files/{id}%00"),
        format!("/files/{id}.thumb.png%2f..%2f..%2fsecret.txt"),
        format!("/files/{id}.thumb.png"),
        format!("/files/{id}"),
        format!("/files/{id}.txt"),
        format!("/files/{}", id.to_ascii_uppercase()),
        "/files/%2fetc%2fpasswd".to_owned(),
        "/files//etc/passwd".to_owned(),
    ];
    for path in &tricks {
        let reply = http.get(path).send().await;
        let text = reply.text();
        assert!(
            !text.contains("top secret") && !text.contains("root:"),
            "{path} leaked: {text}"
        );
        reply.client_error();
    }
    for path in [
        "/uploads/..%2fsecret.txt",
        "/uploads/%2e%2e",
        "/uploads/not-a-uuid",
    ] {
        let reply = http
            .put(&format!(
                "{path}?expires=9999999999&type=image%2Fpng&max=10&sig=00"
            ))
            .bytes("image/png", "x")
            .send()
            .await;
        reply.client_error();
    }
    assert_eq!(
        std::fs::read_to_string(serve.data().join("secret.txt")).unwrap(),
        "top secret"
    );
    serve.stop().await;
}
