//! `ws://…/ws` on the `udagram serve` port: the local twin of the API Gateway WebSocket API.
//! `$connect` needs a token, every connected client gets the ready notice of an upload,
//! connections that left are forgotten (on close, and after a crash when a notice to them is
//! Gone), SIGTERM closes every socket with 1001, and a token's expiry closes its socket with 1000
//! after a `tokenExpired` notice.

use std::path::Path;
use std::time::{Duration, Instant};

use futures_util::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use crate::fixtures::{create_group, create_image, picture, upload_type};
use crate::serve::Serve;
use crate::target::Target;

/// How long a notice, a close frame or a table change may take.
const WAIT: Duration = Duration::from_secs(15);

type Client = WebSocketStream<TcpStream>;

/// Opens `/ws` with this query string; the refusal's status and body when not upgraded.
async fn open(serve: &Serve, query: &str) -> Result<Client, (u16, Vec<u8>, String)> {
    let base = serve.http().base();
    let address = base.trim_start_matches("http://");
    let stream = TcpStream::connect(address).await.unwrap();
    let url = format!("ws://{address}/ws{query}");
    match tokio::time::timeout(WAIT, tokio_tungstenite::client_async(url, stream)).await {
        Ok(Ok((client, response))) => {
            assert_eq!(response.status(), 101);
            Ok(client)
        }
        Ok(Err(WsError::Http(response))) => {
            let media = response
                .headers()
                .get("content-type")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_owned();
            let body = response.body().clone().unwrap_or_default();
            Err((response.status().as_u16(), body, media))
        }
        Ok(Err(error)) => panic!("/ws{query}: {error}"),
        Err(_) => panic!("/ws{query}: no handshake within {WAIT:?}"),
    }
}

async fn connect(serve: &Serve, token: &str) -> Client {
    open(serve, &format!("?token={token}"))
        .await
        .unwrap_or_else(|(status, body, _)| {
            panic!(
                "connect refused: {status} {}",
                String::from_utf8_lossy(&body)
            )
        })
}

/// Asserts a 401 problem+json refusal.
fn assert_unauthorized(outcome: Result<Client, (u16, Vec<u8>, String)>, what: &str) {
    let Err((status, body, media)) = outcome else {
        panic!("{what}: upgraded without a valid token");
    };
    assert_eq!(status, 401, "{what}: {}", String::from_utf8_lossy(&body));
    assert_eq!(media, "application/problem+json", "{what}");
    let problem: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(problem["status"], 401, "{what}: {problem}");
}

/// The next text message, skipping control frames; fails after [`WAIT`].
async fn next_text(client: &mut Client) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, client.next())
            .await
            .expect("a message in time")
            .expect("the socket is open")
            .expect("a well-formed message");
        match message {
            Message::Text(text) => return serde_json::from_str(text.as_str()).unwrap(),
            Message::Ping(_) | Message::Pong(_) => {}
            other => panic!("expected a text message, got {other:?}"),
        }
    }
}

/// The close code the server ends the socket with.
async fn close_code(client: &mut Client) -> Option<CloseCode> {
    loop {
        match tokio::time::timeout(WAIT, client.next())
            .await
            .expect("a close in time")
        {
            Some(Ok(Message::Close(frame))) => {
                // Keep reading so tungstenite sends the reply and the handshake completes.
                while let Ok(Some(Ok(_))) = tokio::time::timeout(WAIT, client.next()).await {}
                return frame.map(|frame| frame.code);
            }
            Some(Ok(_)) => {}
            Some(Err(error)) => panic!("the socket failed instead of closing: {error}"),
            None => return None,
        }
    }
}

/// The ids in the `connections` table (read-only: the server owns the database).
fn stored_connections(data: &Path) -> Vec<String> {
    let db = rusqlite::Connection::open_with_flags(
        udagram::embedded::database_path(data),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .unwrap();
    db.busy_timeout(WAIT).unwrap();
    let mut statement = db
        .prepare("SELECT id FROM connections ORDER BY id")
        .unwrap();
    statement
        .query_map([], |row| row.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

/// Polls the `connections` table until it holds `count` rows.
async fn wait_for_connections(data: &Path, count: usize) -> Vec<String> {
    let start = Instant::now();
    loop {
        let stored = stored_connections(data);
        if stored.len() == count {
            return stored;
        }
        assert!(
            start.elapsed() < WAIT,
            "expected {count} connections, the table holds {stored:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates an image in a new group, uploads a picture; returns (imageId, groupId).
async fn upload_one(serve: &Serve, token: &str) -> (String, String) {
    let http = serve.http();
    let group = create_group(http, token, "Live").await;
    let group_id = group["id"].as_str().unwrap().to_owned();
    let created = create_image(http, token, &group_id, "fresh picture").await;
    let image_id = created["newItem"]["imageId"].as_str().unwrap().to_owned();
    let kind = upload_type(&created["upload"]);
    serve
        .upload(&created["upload"], &kind, picture(320, 200, &kind))
        .await
        .assert_status(204);
    (image_id, group_id)
}

/// No token, a malformed one, a forged one, the wrong path: refused (401 or the API's answer),
/// nothing recorded; a valid token upgrades and records one connection.
pub async fn connect_needs_a_valid_token(serve: Serve) {
    let token = serve.token("ada").await;
    assert_unauthorized(open(&serve, "").await, "no token");
    assert_unauthorized(open(&serve, "?token=").await, "empty token");
    assert_unauthorized(open(&serve, "?token=not.a.jwt").await, "malformed token");
    let (head, signature) = token.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", signature.chars().rev().collect::<String>());
    assert_unauthorized(
        open(&serve, &format!("?token={forged}")).await,
        "forged token",
    );
    assert_unauthorized(
        open(&serve, &format!("?token={token}&token={token}")).await,
        "two tokens",
    );
    assert!(
        stored_connections(serve.data()).is_empty(),
        "a refusal records nothing"
    );

    let mut client = connect(&serve, &token).await;
    let stored = wait_for_connections(serve.data(), 1).await;
    assert_eq!(stored[0].len(), 16, "an API Gateway-like id: {stored:?}");
    assert!(
        stored[0].bytes().all(|b| b.is_ascii_graphic()),
        "{stored:?}"
    );
    // The REST API on the same port is unaffected.
    serve.http().get("/health").send().await.assert_status(200);
    client.close(None).await.unwrap();
    wait_for_connections(serve.data(), 0).await;
    serve.stop().await;
}

/// Two clients both get the notice with the upload's ids; after one leaves, its row is gone and
/// only the other is notified.
pub async fn every_client_gets_the_ready_notice(serve: Serve) {
    let token = serve.token("ada").await;
    let mut first = connect(&serve, &token).await;
    let mut second = connect(&serve, &token).await;
    wait_for_connections(serve.data(), 2).await;

    let (image_id, group_id) = upload_one(&serve, &token).await;
    let expected = json!({ "type": "imageReady", "imageId": image_id, "groupId": group_id });
    assert_eq!(next_text(&mut first).await, expected);
    assert_eq!(next_text(&mut second).await, expected);

    first.close(None).await.unwrap();
    let remaining = wait_for_connections(serve.data(), 1).await;
    let (image_id, group_id) = upload_one(&serve, &token).await;
    let expected = json!({ "type": "imageReady", "imageId": image_id, "groupId": group_id });
    assert_eq!(next_text(&mut second).await, expected);
    assert_eq!(stored_connections(serve.data()), remaining);
    serve.stop().await;
}

/// A connection recorded by a process that was killed is stale: the first notice answers Gone
/// and removes it, while the live client gets the notice.
pub async fn stale_connections_are_removed_when_gone(mut serve: Serve) {
    let token = serve.token("ada").await;
    let _doomed = connect(&serve, &token).await;
    let stale = wait_for_connections(serve.data(), 1).await;
    serve.sigkill().await;

    let restarted = Serve::restart_of(&serve).await;
    assert_eq!(
        stored_connections(restarted.data()),
        stale,
        "SIGKILL ran no $disconnect"
    );
    let mut live = connect(&restarted, &token).await;
    wait_for_connections(restarted.data(), 2).await;
    let (image_id, group_id) = upload_one(&restarted, &token).await;
    let expected = json!({ "type": "imageReady", "imageId": image_id, "groupId": group_id });
    assert_eq!(next_text(&mut live).await, expected);
    let left = wait_for_connections(restarted.data(), 1).await;
    assert!(!left.contains(&stale[0]), "the stale row stayed: {left:?}");
    restarted.stop().await;
    drop(serve);
}

/// SIGTERM: every socket gets a 1001 close frame, the process exits 0, no row is left.
pub async fn sigterm_closes_sockets_cleanly(mut serve: Serve) {
    let token = serve.token("ada").await;
    let mut first = connect(&serve, &token).await;
    let mut second = connect(&serve, &token).await;
    wait_for_connections(serve.data(), 2).await;
    // A client that talks is ignored, not disconnected.
    first.send(Message::text("hello?")).await.unwrap();

    serve.sigterm();
    assert_eq!(close_code(&mut first).await, Some(CloseCode::Away));
    assert_eq!(close_code(&mut second).await, Some(CloseCode::Away));
    let status = serve.wait(WAIT).await;
    assert!(
        status.success(),
        "exit after SIGTERM: {status:?}\n{}",
        serve.output()
    );
    assert!(
        stored_connections(serve.data()).is_empty(),
        "$disconnect ran for every socket"
    );
}

/// A connection outlives its token by no more than a moment: at `exp` the client is told
/// `{"type":"tokenExpired"}`, the socket closes with 1000 and the row is gone; a connection with a
/// longer-lived token stays.
pub async fn closes_when_the_token_expires(serve: Serve) {
    let issuer_url = format!("{}/", serve.http().base());
    let issuer = udagram::dev_issuer::DevIssuer::load_or_create(serve.data(), issuer_url).unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let short = issuer.issue_until("ada", now, now + 2).unwrap();
    let mut expiring = connect(&serve, &short).await;
    let mut lasting = connect(&serve, &serve.token("ada").await).await;
    wait_for_connections(serve.data(), 2).await;

    let started = Instant::now();
    assert_eq!(
        next_text(&mut expiring).await,
        json!({ "type": "tokenExpired" })
    );
    assert_eq!(close_code(&mut expiring).await, Some(CloseCode::Normal));
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "closed at exp, not later"
    );
    wait_for_connections(serve.data(), 1).await;

    // The other one still gets notices.
    let token = serve.token("ada").await;
    let (image_id, group_id) = upload_one(&serve, &token).await;
    let expected = json!({ "type": "imageReady", "imageId": image_id, "groupId": group_id });
    assert_eq!(next_text(&mut lasting).await, expected);
    serve.stop().await;
}
