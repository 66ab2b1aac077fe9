//! In-process tests of the whole API stack through `tower::ServiceExt::oneshot`, with the
//! embedded adapters on a temporary directory and tokens from the development issuer.

mod auth_and_bodies;
mod groups_images;
mod oidc_flow;
mod uploads;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use lambda_http::Body;
use lamina_middleware::auth::{JwtVerifier, VerificationKey};
use serde_json::Value;
use tempfile::TempDir;
use time::OffsetDateTime;
use tokio::sync::mpsc;
use tower::ServiceExt as _;

use super::{ApiService, ApiState, LocalRoutes, Schemas, service};
use crate::app::{App, Clock};
use crate::dev_issuer::{AUDIENCE, DevIssuer};
use crate::domain::ImageUploaded;
use crate::embedded::{ChannelBus, EmbeddedStore, FileBlobStore, blobs_dir, signing_key_path};
use crate::serve::uploads::LocalUploads;

const ISSUER: &str = "http://127.0.0.1:9/";
const BASE: &str = "http://127.0.0.1:9";
/// The one origin the harness's CORS configuration allows.
pub(super) const CLIENT_ORIGIN: &str = "https://client.example";

fn cors() -> lamina_middleware::cors::CorsConfig {
    lamina_middleware::cors::CorsConfig::new().allow_origins([CLIENT_ORIGIN])
}

/// One RSA key for every test (generating one takes a while).
fn issuer() -> Arc<DevIssuer> {
    static ISSUER_KEY: OnceLock<(TempDir, Arc<DevIssuer>)> = OnceLock::new();
    ISSUER_KEY
        .get_or_init(|| {
            let dir = tempfile::tempdir().unwrap();
            let issuer = DevIssuer::load_or_create(dir.path(), ISSUER).unwrap();
            (dir, Arc::new(issuer))
        })
        .1
        .clone()
}

fn now() -> u64 {
    OffsetDateTime::now_utc()
        .unix_timestamp()
        .try_into()
        .unwrap()
}

/// A token for `user`, valid for an hour.
fn token(user: &str) -> String {
    issuer().issue(user, now()).unwrap()
}

/// The clock, shifted (to make upload URLs expire).
#[derive(Debug)]
struct ShiftedClock(Duration);

impl Clock for ShiftedClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.0
    }
}

struct Harness {
    _dir: TempDir,
    api: ApiService,
    events: mpsc::Receiver<ImageUploaded>,
    store: EmbeddedStore,
    blobs: FileBlobStore,
}

fn harness() -> Harness {
    harness_with_clock(Duration::ZERO)
}

fn harness_with_clock(shift: Duration) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(dir.path()).unwrap();
    let key = std::fs::read(signing_key_path(dir.path())).unwrap();
    let blobs = FileBlobStore::open(&blobs_dir(dir.path()), BASE, key).unwrap();
    let (bus, events) = ChannelBus::new();
    let shared = Arc::new(store.clone());
    let app = App::new(
        shared.clone(),
        shared.clone(),
        shared.clone(),
        Arc::new(blobs.clone()),
    )
    .with_clock(Arc::new(ShiftedClock(shift)));
    let uploads = LocalUploads::new(shared, Arc::new(blobs.clone()), Arc::new(bus))
        .with_clock(Arc::new(ShiftedClock(shift)));
    let jwk = serde_json::from_value(issuer().jwk().clone()).unwrap();
    let verifier = JwtVerifier::builder()
        .key(VerificationKey::from_jwk(&jwk).unwrap())
        .issuer(ISSUER)
        .audience(AUDIENCE)
        .required_claims(["exp", "sub"])
        .build()
        .unwrap();
    let state = ApiState::new(app, Schemas::load().unwrap()).with_local_routes(LocalRoutes {
        uploads,
        issuer: issuer(),
        flow: Arc::default(),
        client_origins: Vec::new(),
    });
    Harness {
        _dir: dir,
        api: service(state, verifier, cors()).unwrap(),
        events,
        store,
        blobs,
    }
}

/// What came back.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {:?}", String::from_utf8_lossy(&self.body)))
    }

    fn content_type(&self) -> &str {
        self.headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// A 4xx problem+json answer with this status.
    fn assert_problem(&self, status: u16) {
        assert_eq!(
            self.status.as_u16(),
            status,
            "{:?}",
            String::from_utf8_lossy(&self.body)
        );
        assert_eq!(self.content_type(), "application/problem+json");
        assert_eq!(self.json()["status"], status);
    }
}

/// A request builder over the harness.
struct Call {
    req: http::request::Builder,
    body: Body,
}

fn call(method: Method, uri: &str) -> Call {
    Call {
        req: http::Request::builder().method(method).uri(uri),
        body: Body::Empty,
    }
}

impl Call {
    fn token(mut self, token: &str) -> Self {
        self.req = self.req.header("authorization", format!("Bearer {token}"));
        self
    }

    fn header(mut self, name: &str, value: &str) -> Self {
        self.req = self.req.header(name, value);
        self
    }

    fn json(mut self, body: &str) -> Self {
        self.req = self.req.header("content-type", "application/json");
        self.body = Body::Text(body.to_owned());
        self
    }

    fn bytes(mut self, content_type: &str, bytes: Vec<u8>) -> Self {
        self.req = self.req.header("content-type", content_type);
        self.body = Body::Binary(bytes);
        self
    }

    async fn send(self, harness: &Harness) -> Answer {
        let req = self.req.body(self.body).unwrap();
        let response = harness.api.clone().oneshot(req).await.unwrap();
        let (parts, body) = response.into_parts();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: Bytes::copy_from_slice(body.as_ref()),
        }
    }
}

/// Creates a group as `alice`; returns its id.
async fn create_group(harness: &Harness, name: &str) -> String {
    let answer = call(Method::POST, "/groups")
        .token(&token("alice"))
        .json(&serde_json::json!({"name": name, "description": "d"}).to_string())
        .send(harness)
        .await;
    assert_eq!(answer.status, StatusCode::CREATED);
    answer.json()["newItem"]["id"].as_str().unwrap().to_owned()
}

/// Creates an image; returns (image id, upload form fields).
async fn create_image(
    harness: &Harness,
    group: &str,
    title: &str,
    kind: &str,
) -> (String, Vec<(String, String)>) {
    let answer = call(Method::POST, &format!("/groups/{group}/images"))
        .token(&token("alice"))
        .json(&serde_json::json!({"title": title, "contentType": kind}).to_string())
        .send(harness)
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.json());
    let body = answer.json();
    let id = body["newItem"]["imageId"].as_str().unwrap().to_owned();
    assert_eq!(body["upload"]["url"], format!("{BASE}/uploads"));
    let fields = body["upload"]["fields"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, value)| (name.clone(), value.as_str().unwrap().to_owned()))
        .collect();
    (id, fields)
}

/// How many groups the store holds (to prove rejected requests stored nothing).
async fn group_count(harness: &Harness) -> usize {
    let answer = call(Method::GET, "/groups?limit=100").send(harness).await;
    answer.json()["items"].as_array().unwrap().len()
}
