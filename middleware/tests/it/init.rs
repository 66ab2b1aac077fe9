//! Cold-start helpers: lazy clients against moto through the real SDK, and the local server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lambda_http::{Body, Request, Response};
use lamina_local::moto::MotoServer;
use lamina_middleware::context::{InvocationContext, InvocationContextLayer};
use lamina_middleware::init::{LazyClient, LocalServerOptions, serve_local, serve_local_with};
use tower::{ServiceBuilder, service_fn};

#[tokio::test]
async fn a_lazy_client_is_built_once_on_first_use_and_works() {
    let moto = MotoServer::start().await.unwrap();
    let builds = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&builds);
    let ssm = LazyClient::with_config(moto.sdk_config().clone(), move |config| {
        counted.fetch_add(1, Ordering::SeqCst);
        aws_sdk_ssm::Client::new(config)
    });
    assert!(!ssm.is_built());
    assert_eq!(
        builds.load(Ordering::SeqCst),
        0,
        "nothing is built before first use"
    );

    let callers: Vec<_> = (0..20)
        .map(|i| {
            let ssm = ssm.clone();
            tokio::spawn(async move {
                ssm.get()
                    .await
                    .put_parameter()
                    .name(format!("/app/p{i}"))
                    .value("v")
                    .r#type(aws_sdk_ssm::types::ParameterType::String)
                    .send()
                    .await
                    .map(|_| ())
            })
        })
        .collect();
    for caller in callers {
        caller.await.unwrap().unwrap();
    }
    assert_eq!(
        builds.load(Ordering::SeqCst),
        1,
        "concurrent first uses build one client"
    );
    let value = ssm
        .get()
        .await
        .get_parameter()
        .name("/app/p3")
        .send()
        .await
        .unwrap();
    assert_eq!(value.parameter().and_then(|p| p.value()), Some("v"));
}

#[tokio::test]
async fn the_local_server_serves_the_same_layered_service() {
    let service = ServiceBuilder::new()
        .layer(InvocationContextLayer::new())
        .service(service_fn(|request: Request| async move {
            let context = request
                .extensions()
                .get::<InvocationContext>()
                .cloned()
                .unwrap();
            let body = format!(
                "{} {} {}",
                request.method(),
                request.uri().path(),
                context.request_id
            );
            Ok::<_, lambda_http::Error>(Response::new(Body::from(body)))
        }));
    let server = serve_local("127.0.0.1:0".parse().unwrap(), service)
        .await
        .unwrap();
    let address = server.local_addr();
    let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    stream
        .write_all(b"POST /groups HTTP/1.1\r\nHost: local\r\nx-request-id: abc\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}")
        .await
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.ends_with("POST /groups abc"), "{response}");
    server.shutdown().await;
    assert!(
        tokio::net::TcpStream::connect(address).await.is_err(),
        "the server should have stopped"
    );
}

/// Answers how many body bytes reached the service.
async fn body_length(request: Request) -> Result<Response<Body>, lambda_http::Error> {
    let body = format!("{} bytes", request.body().len());
    Ok(Response::new(Body::from(body)))
}

/// PUTs `length` bytes over HTTP/1.1 and returns the raw response.
async fn put_bytes(address: std::net::SocketAddr, length: usize) -> String {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // Write while reading: the server may answer before the last byte is sent.
    let upload = tokio::spawn(async move {
        let head = format!(
            "PUT /uploads/1 HTTP/1.1\r\nHost: local\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
        );
        writer.write_all(head.as_bytes()).await?;
        writer.write_all(&vec![b'x'; length]).await?;
        writer.flush().await?;
        Ok::<_, std::io::Error>(writer)
    });
    let mut response = Vec::new();
    reader.read_to_end(&mut response).await.unwrap();
    drop(upload.await.unwrap());
    String::from_utf8(response).unwrap()
}

const API_GATEWAY_LIMIT: usize = 10 * 1024 * 1024;

#[tokio::test]
async fn the_local_server_refuses_bodies_over_10_mib_with_a_problem() {
    let server = serve_local("127.0.0.1:0".parse().unwrap(), service_fn(body_length))
        .await
        .unwrap();

    let response = put_bytes(server.local_addr(), API_GATEWAY_LIMIT).await;
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(
        response.ends_with(&format!("\r\n\r\n{API_GATEWAY_LIMIT} bytes")),
        "{response}"
    );

    let response = put_bytes(server.local_addr(), API_GATEWAY_LIMIT + 1).await;
    assert!(
        response.starts_with("HTTP/1.1 413 Payload Too Large"),
        "{response}"
    );
    assert!(
        response
            .to_ascii_lowercase()
            .contains("\r\ncontent-type: application/problem+json\r\n"),
        "{response}"
    );
    let (_, body) = response.split_once("\r\n\r\n").unwrap();
    let problem: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(problem["status"], 413, "{problem}");
    assert_eq!(problem["title"], "Payload Too Large", "{problem}");
    server.shutdown().await;
}

#[tokio::test]
async fn a_raised_limit_lets_bigger_bodies_through_to_the_service() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let bound = listener.local_addr().unwrap();
    let limit = API_GATEWAY_LIMIT + 1024;
    let options = LocalServerOptions::default().max_request_bytes(limit);
    let server = serve_local_with(listener, service_fn(body_length), options)
        .await
        .unwrap();
    assert_eq!(server.local_addr(), bound, "serves on the given listener");

    let response = put_bytes(bound, API_GATEWAY_LIMIT + 1).await;
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    let expected = format!("\r\n\r\n{} bytes", API_GATEWAY_LIMIT + 1);
    assert!(response.ends_with(&expected), "{response}");

    let response = put_bytes(bound, limit + 1).await;
    assert!(
        response.starts_with("HTTP/1.1 413 Payload Too Large"),
        "{response}"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn a_lowered_limit_refuses_smaller_bodies() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let options = LocalServerOptions::default().max_request_bytes(16);
    let server = serve_local_with(listener, service_fn(body_length), options)
        .await
        .unwrap();
    let cases = [
        (16, "HTTP/1.1 200 OK"),
        (17, "HTTP/1.1 413 Payload Too Large"),
    ];
    for (length, status_line) in cases {
        let response = put_bytes(server.local_addr(), length).await;
        assert!(response.starts_with(status_line), "{length}: {response}");
    }
    server.shutdown().await;
}
