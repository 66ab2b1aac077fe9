//! The WebSocket route end to end: a real local server, tokio-tungstenite clients over TCP.

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use http::{Response, StatusCode, request::Parts};
use lambda_http::{Body, Request};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use super::*;
use crate::init::{LocalServer, LocalServerOptions, serve_local_with};

const WAIT: Duration = Duration::from_secs(10);

type Client = WebSocketStream<TcpStream>;

#[derive(Debug, PartialEq)]
enum Event {
    Connect(String),
    Message(String, WebSocketMessage),
    Disconnect(String),
}

/// Accepts clients whose query is `ok`, refuses others with 403; reports every call.
struct Recorder(mpsc::UnboundedSender<Event>);

impl WebSocketHandler for Recorder {
    fn on_connect<'a>(
        &'a self,
        connection_id: &'a str,
        request: &'a Parts,
    ) -> WebSocketFuture<'a, Result<(), Response<Body>>> {
        Box::pin(async move {
            if request.uri.query() != Some("ok") {
                let mut refusal = Response::new(Body::from("go away"));
                *refusal.status_mut() = StatusCode::FORBIDDEN;
                return Err(refusal);
            }
            let _ = self.0.send(Event::Connect(connection_id.to_owned()));
            Ok(())
        })
    }

    fn on_message<'a>(
        &'a self,
        connection_id: &'a str,
        message: WebSocketMessage,
    ) -> WebSocketFuture<'a, ()> {
        Box::pin(async move {
            let _ = self
                .0
                .send(Event::Message(connection_id.to_owned(), message));
        })
    }

    fn on_disconnect<'a>(&'a self, connection_id: &'a str) -> WebSocketFuture<'a, ()> {
        Box::pin(async move {
            // Slow on purpose: shutdown must wait for it.
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = self.0.send(Event::Disconnect(connection_id.to_owned()));
        })
    }
}

struct Fixture {
    server: LocalServer,
    address: SocketAddr,
    connections: WebSocketConnections,
    events: mpsc::UnboundedReceiver<Event>,
}

impl Fixture {
    async fn start(route: impl FnOnce(WebSocketRoute) -> WebSocketRoute) -> Self {
        let (sender, events) = mpsc::unbounded_channel();
        let route = route(WebSocketRoute::new("/ws", Recorder(sender)));
        let connections = route.connections();
        let service = tower::service_fn(|request: Request| async move {
            let body = format!("service saw {}", request.uri().path());
            Ok::<_, lambda_http::Error>(Response::new(Body::from(body)))
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let options = LocalServerOptions::default().websocket(route);
        let server = serve_local_with(listener, service, options).await.unwrap();
        Self {
            address: server.local_addr(),
            server,
            connections,
            events,
        }
    }

    async fn connect(&self, path: &str) -> Result<Client, WsError> {
        let stream = TcpStream::connect(self.address).await.unwrap();
        let url = format!("ws://{}{path}", self.address);
        let (client, response) = tokio_tungstenite::client_async(url, stream).await?;
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        Ok(client)
    }

    /// Connects to `/ws?ok` and returns the client with its connection id.
    async fn accepted(&mut self) -> (Client, String) {
        let client = self.connect("/ws?ok").await.unwrap();
        match self.event().await {
            Event::Connect(id) => (client, id),
            other => panic!("expected a connect, got {other:?}"),
        }
    }

    async fn event(&mut self) -> Event {
        tokio::time::timeout(WAIT, self.events.recv())
            .await
            .expect("an event in time")
            .expect("the route is alive")
    }

    /// A plain HTTP/1.1 exchange, whole response as text.
    async fn raw(&self, request: &str) -> String {
        let mut stream = TcpStream::connect(self.address).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        tokio::time::timeout(WAIT, stream.read_to_end(&mut response))
            .await
            .unwrap()
            .unwrap();
        String::from_utf8_lossy(&response).into_owned()
    }
}

/// The next data or close message from the server.
async fn next(client: &mut Client) -> Option<Message> {
    loop {
        match tokio::time::timeout(WAIT, client.next())
            .await
            .expect("a message in time")
        {
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
            Some(Ok(message)) => return Some(message),
            Some(Err(_)) | None => return None,
        }
    }
}

fn close_code(message: Option<Message>) -> Option<CloseCode> {
    match message {
        Some(Message::Close(Some(frame))) => Some(frame.code),
        _ => None,
    }
}

#[tokio::test]
async fn a_refused_connect_answers_the_handlers_response() {
    let mut fixture = Fixture::start(|route| route).await;
    match fixture.connect("/ws?nope").await {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), StatusCode::FORBIDDEN);
            assert_eq!(response.body().as_deref(), Some(&b"go away"[..]));
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(fixture.connections.is_empty());
    assert!(
        fixture.events.try_recv().is_err(),
        "no call after a refusal"
    );
    fixture.server.shutdown().await;
    assert!(
        fixture.events.try_recv().is_err(),
        "no on_disconnect for a refused client"
    );
}

#[tokio::test]
async fn messages_go_both_ways_and_a_client_close_disconnects() {
    let mut fixture = Fixture::start(|route| route).await;
    let (mut client, id) = fixture.accepted().await;
    assert_eq!(id.len(), 16);
    assert!(fixture.connections.contains(&id));
    assert_eq!(fixture.connections.ids(), vec![id.clone()]);

    client.send(Message::text("hello")).await.unwrap();
    client.send(Message::binary(vec![1_u8, 2])).await.unwrap();
    assert_eq!(
        fixture.event().await,
        Event::Message(id.clone(), WebSocketMessage::Text("hello".into()))
    );
    assert_eq!(
        fixture.event().await,
        Event::Message(id.clone(), WebSocketMessage::Binary(vec![1, 2].into()))
    );

    fixture.connections.send(&id, r#"{"type":"x"}"#).unwrap();
    fixture.connections.send(&id, vec![9_u8]).unwrap();
    assert_eq!(
        next(&mut client).await,
        Some(Message::text(r#"{"type":"x"}"#))
    );
    assert_eq!(next(&mut client).await, Some(Message::binary(vec![9_u8])));

    client.close(None).await.unwrap();
    assert_eq!(fixture.event().await, Event::Disconnect(id.clone()));
    assert_eq!(
        fixture.connections.send(&id, "late"),
        Err(WebSocketSendError::Gone(id.clone()))
    );
    assert!(fixture.connections.is_empty());
    fixture.server.shutdown().await;
}

#[tokio::test]
async fn a_dropped_tcp_connection_disconnects_too() {
    let mut fixture = Fixture::start(|route| route).await;
    let (client, id) = fixture.accepted().await;
    drop(client);
    assert_eq!(fixture.event().await, Event::Disconnect(id.clone()));
    assert!(!fixture.connections.contains(&id));
    fixture.server.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_socket_with_going_away_after_on_disconnect() {
    let mut fixture = Fixture::start(|route| route).await;
    let (mut first, a) = fixture.accepted().await;
    let (mut second, b) = fixture.accepted().await;
    fixture.server.shutdown().await;

    // Both on_disconnect calls finished before shutdown returned.
    let mut gone = vec![
        fixture.events.try_recv().unwrap(),
        fixture.events.try_recv().unwrap(),
    ];
    gone.sort_by_key(|event| format!("{event:?}"));
    let mut expected = vec![Event::Disconnect(a), Event::Disconnect(b)];
    expected.sort_by_key(|event| format!("{event:?}"));
    assert_eq!(gone, expected);
    assert_eq!(close_code(next(&mut first).await), Some(CloseCode::Away));
    assert_eq!(close_code(next(&mut second).await), Some(CloseCode::Away));
    assert!(fixture.connections.is_empty());
}

#[tokio::test]
async fn closing_through_the_handle_ends_the_connection_normally() {
    let mut fixture = Fixture::start(|route| route).await;
    let (mut client, id) = fixture.accepted().await;
    fixture.connections.send(&id, "last words").unwrap();
    assert!(fixture.connections.close(&id));
    assert_eq!(next(&mut client).await, Some(Message::text("last words")));
    assert_eq!(close_code(next(&mut client).await), Some(CloseCode::Normal));
    assert_eq!(fixture.event().await, Event::Disconnect(id));
    fixture.server.shutdown().await;
}

#[tokio::test]
async fn pings_are_answered_and_oversized_messages_close_with_1009() {
    let mut fixture = Fixture::start(|route| route.max_message_bytes(1024)).await;
    let (mut client, id) = fixture.accepted().await;
    client
        .send(Message::Ping(b"are you there".to_vec().into()))
        .await
        .unwrap();
    let pong = tokio::time::timeout(WAIT, client.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(pong, Message::Pong(b"are you there".to_vec().into()));

    client.send(Message::text("x".repeat(1024))).await.unwrap();
    assert_eq!(
        fixture.event().await,
        Event::Message(id.clone(), WebSocketMessage::Text("x".repeat(1024)))
    );
    client.send(Message::text("x".repeat(1025))).await.unwrap();
    assert_eq!(close_code(next(&mut client).await), Some(CloseCode::Size));
    assert_eq!(fixture.event().await, Event::Disconnect(id));
    fixture.server.shutdown().await;
}

#[tokio::test]
async fn a_client_that_does_not_read_holds_up_only_itself() {
    let mut fixture =
        Fixture::start(|route| route.with_connections(WebSocketConnections::new().with_buffer(4)))
            .await;
    let (_sleepy, slow) = fixture.accepted().await;
    let (mut awake, fast) = fixture.accepted().await;
    // Big messages fill the slow client's TCP buffers, then its own queue.
    let big = "y".repeat(64 * 1024);
    let mut full = false;
    for _ in 0..1000 {
        match fixture.connections.send(&slow, big.as_str()) {
            Ok(()) => tokio::task::yield_now().await,
            Err(WebSocketSendError::Full(id)) => {
                assert_eq!(id, slow);
                full = true;
                break;
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert!(full, "the slow client's buffer never filled");
    fixture.connections.send(&fast, "still served").unwrap();
    assert_eq!(next(&mut awake).await, Some(Message::text("still served")));
    fixture.server.shutdown().await;
}

#[tokio::test]
async fn other_paths_and_plain_requests_keep_their_behaviour() {
    let fixture = Fixture::start(|route| route).await;
    // An upgrade request to another path reaches the service, which answers it as HTTP.
    match fixture.connect("/elsewhere").await {
        Err(WsError::Http(response)) => {
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(
                response.body().as_deref(),
                Some(&b"service saw /elsewhere"[..])
            );
        }
        other => panic!("expected the service's answer, got {other:?}"),
    }
    let plain = fixture
        .raw("GET /groups HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await;
    assert!(plain.starts_with("HTTP/1.1 200"), "{plain}");
    assert!(plain.ends_with("service saw /groups"), "{plain}");

    let not_upgrade = fixture
        .raw("GET /ws HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
        .await;
    assert!(not_upgrade.starts_with("HTTP/1.1 426"), "{not_upgrade}");
    assert!(
        not_upgrade.contains("application/problem+json"),
        "{not_upgrade}"
    );
    assert!(fixture.connections.is_empty());
    fixture.server.shutdown().await;
}

#[tokio::test]
async fn sends_to_unknown_ids_are_gone() {
    let fixture = Fixture::start(|route| route).await;
    assert_eq!(
        fixture.connections.send("L0SM9cOFvHcCIhw=", "x"),
        Err(WebSocketSendError::Gone("L0SM9cOFvHcCIhw=".into()))
    );
    fixture.server.shutdown().await;
}
