//! Cold-start helpers: lazy clients against moto through the real SDK, and the local server.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use lambda_http::{Body, Request, Response};
use lamina_local::moto::MotoServer;
use lamina_middleware::context::{InvocationContext, InvocationContextLayer};
use lamina_middleware::init::{LazyClient, serve_local};
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
