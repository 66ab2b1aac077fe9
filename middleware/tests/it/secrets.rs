//! The secrets cache against a real `moto_server`, through the real AWS SDK; the layer in [`layer`].

mod layer;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use aws_sdk_secretsmanager::config::retry::RetryConfig;
use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_ssm::types::ParameterType;
use lamina_local::moto::MotoServer;
use lamina_middleware::secrets::{
    BoxFuture, ManualClock, ParameterStoreSource, PayloadKind, Secret, SecretCache, SecretError,
    SecretKey, SecretSource, SecretValue, SecretsManagerSource, SourceError, VersionStage,
};

/// A decorator over a real source that counts the fetches that reach it.
#[derive(Debug, Clone)]
struct CountingSource<S> {
    inner: S,
    calls: Arc<AtomicUsize>,
}

impl<S> CountingSource<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            calls: Arc::default(),
        }
    }

    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }
}

impl<S: SecretSource> SecretSource for CountingSource<S> {
    fn fetch<'a>(&'a self, key: &'a SecretKey) -> BoxFuture<'a, Result<SecretValue, SourceError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.fetch(key)
    }

    fn fetch_path<'a>(
        &'a self,
        path: &'a str,
    ) -> BoxFuture<'a, Result<Vec<(String, SecretValue)>, SourceError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.inner.fetch_path(path)
    }
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

/// Captures everything logged on this thread (tests using it run on a current-thread runtime).
fn capture_logs() -> (Captured, tracing::subscriber::DefaultGuard) {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    (captured, tracing::subscriber::set_default(subscriber))
}

async fn moto() -> MotoServer {
    MotoServer::start().await.expect("moto_server starts")
}

fn secrets_manager(moto: &MotoServer) -> aws_sdk_secretsmanager::Client {
    aws_sdk_secretsmanager::Client::new(moto.sdk_config())
}

fn ssm(moto: &MotoServer) -> aws_sdk_ssm::Client {
    aws_sdk_ssm::Client::new(moto.sdk_config())
}

async fn create_secret(client: &aws_sdk_secretsmanager::Client, name: &str, value: &str) -> String {
    client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .expect("create_secret")
        .version_id
        .expect("version id")
}

async fn put_secret(client: &aws_sdk_secretsmanager::Client, name: &str, value: &str) -> String {
    client
        .put_secret_value()
        .secret_id(name)
        .secret_string(value)
        .send()
        .await
        .expect("put_secret_value")
        .version_id
        .expect("version id")
}

async fn put_parameter(client: &aws_sdk_ssm::Client, name: &str, value: &str, kind: ParameterType) {
    client
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(kind)
        .overwrite(true)
        .send()
        .await
        .expect("put_parameter");
}

#[derive(Debug, Clone, serde::Deserialize)]
struct DbCredentials {
    username: String,
    password: String,
    port: u16,
}

#[tokio::test]
async fn secret_string_json_decodes_into_a_type() {
    let moto = moto().await;
    let client = secrets_manager(&moto);
    let version = create_secret(
        &client,
        "prod/db",
        r#"{"username":"app","password":"pa55-json","port":5432}"#,
    )
    .await;
    let cache = SecretCache::new(SecretsManagerSource::new(client));
    let db = cache
        .get_json::<DbCredentials>("prod/db")
        .await
        .expect("json");
    assert_eq!(db.expose().username, "app");
    assert_eq!(db.expose().password, "pa55-json");
    assert_eq!(db.expose().port, 5432);
    let raw = cache.get("prod/db").await.expect("raw");
    assert_eq!(raw.version_id(), Some(version.as_str()));
    assert_eq!(raw.kind(), PayloadKind::Text);
    let error = cache
        .get_json::<u32>("prod/db")
        .await
        .expect_err("not a number");
    assert!(matches!(error, SecretError::Decode { .. }));
    assert!(!format!("{error} {error:?}").contains("pa55-json"));
}

#[tokio::test]
async fn secret_binary_reads_bytes() {
    let moto = moto().await;
    let client = secrets_manager(&moto);
    let bytes = vec![0_u8, 159, 146, 150, 255];
    client
        .create_secret()
        .name("prod/cert")
        .secret_binary(Blob::new(bytes.clone()))
        .send()
        .await
        .expect("create_secret");
    let cache = SecretCache::new(SecretsManagerSource::new(client));
    let value = cache.get("prod/cert").await.expect("binary");
    assert_eq!(value.kind(), PayloadKind::Binary);
    assert_eq!(
        cache
            .get_bytes("prod/cert")
            .await
            .expect("bytes")
            .expose()
            .as_ref(),
        bytes
    );
    assert!(matches!(
        cache.get_string("prod/cert").await,
        Err(SecretError::Decode { .. })
    ));
}

#[tokio::test]
async fn version_stages_and_rotation() {
    let moto = moto().await;
    let client = secrets_manager(&moto);
    let v1 = create_secret(&client, "prod/api", "first").await;
    let v2 = put_secret(&client, "prod/api", "second").await;
    client
        .put_secret_value()
        .secret_id("prod/api")
        .secret_string("pending")
        .version_stages("AWSPENDING")
        .send()
        .await
        .expect("pending");
    let cache = SecretCache::new(SecretsManagerSource::new(client.clone()));
    let at = |stage| SecretKey::new("prod/api").with_stage(stage);

    let current = cache.get("prod/api").await.expect("current");
    assert_eq!(
        (current.expose_str(), current.version_id()),
        (Some("second"), Some(v2.as_str()))
    );
    let previous = cache
        .get(at(VersionStage::Previous))
        .await
        .expect("previous");
    assert_eq!(
        (previous.expose_str(), previous.version_id()),
        (Some("first"), Some(v1.as_str()))
    );
    let pending = cache
        .get_string(at(VersionStage::Pending))
        .await
        .expect("pending");
    assert_eq!(pending.expose(), "pending");

    // A rotation happens; the cached value is now rejected by the database, so the caller
    // invalidates it and the next read gets the new current value.
    let v3 = put_secret(&client, "prod/api", "third").await;
    assert_eq!(
        cache.get_string("prod/api").await.expect("cached").expose(),
        "second"
    );
    cache.invalidate("prod/api");
    let rotated = cache.get("prod/api").await.expect("rotated");
    assert_eq!(
        (rotated.expose_str(), rotated.version_id()),
        (Some("third"), Some(v3.as_str()))
    );
    let previous = cache
        .refresh(at(VersionStage::Previous))
        .await
        .expect("previous");
    assert_eq!(previous.expose_str(), Some("second"));

    assert!(matches!(
        cache.get("prod/missing").await,
        Err(SecretError::NotFound { .. })
    ));
}

#[tokio::test]
async fn ssm_secure_string_is_decrypted() {
    let moto = moto().await;
    let client = ssm(&moto);
    put_parameter(
        &client,
        "/app/db-password",
        "s3cure-param",
        ParameterType::SecureString,
    )
    .await;
    let cache = SecretCache::new(ParameterStoreSource::new(client.clone()));
    let value = cache.get("/app/db-password").await.expect("decrypted");
    assert_eq!(value.expose_str(), Some("s3cure-param"));
    assert_eq!(value.version_id(), Some("1"));

    let raw = SecretCache::new(ParameterStoreSource::new(client).with_decryption(false));
    let encrypted = raw
        .get_string("/app/db-password")
        .await
        .expect("ciphertext");
    assert_ne!(encrypted.expose(), "s3cure-param");
    assert!(matches!(
        cache.get("/app/missing").await,
        Err(SecretError::NotFound { .. })
    ));
}

#[tokio::test]
async fn ssm_versions_labels_and_previous() {
    let moto = moto().await;
    let client = ssm(&moto);
    put_parameter(&client, "/app/token", "t-1", ParameterType::String).await;
    put_parameter(&client, "/app/token", "t-2", ParameterType::String).await;
    let cache = SecretCache::new(ParameterStoreSource::new(client));
    let key = |stage| SecretKey::new("/app/token").with_stage(stage);
    assert_eq!(
        cache
            .get_string("/app/token")
            .await
            .expect("current")
            .expose(),
        "t-2"
    );
    let previous = cache
        .get(key(VersionStage::Previous))
        .await
        .expect("previous");
    assert_eq!(
        (previous.expose_str(), previous.version_id()),
        (Some("t-1"), Some("1"))
    );
    let by_version = cache.get_string(key(VersionStage::Label("2".into()))).await;
    assert_eq!(by_version.expect("version 2").expose(), "t-2");
    let pending = cache
        .get(key(VersionStage::Pending))
        .await
        .expect_err("no pending");
    assert!(matches!(
        pending,
        SecretError::Fetch {
            source: SourceError::Unsupported { .. },
            ..
        }
    ));
}

#[tokio::test]
async fn ssm_get_path_follows_every_page() {
    let (logs, _guard) = capture_logs();
    let moto = moto().await;
    let client = ssm(&moto);
    let mut expected = Vec::new();
    for i in 0..23 {
        let name = if i % 3 == 0 {
            format!("/svc/nested/p{i:02}")
        } else {
            format!("/svc/p{i:02}")
        };
        put_parameter(
            &client,
            &name,
            &format!("value-{i}"),
            ParameterType::SecureString,
        )
        .await;
        expected.push(name);
    }
    put_parameter(&client, "/other/x", "outside", ParameterType::String).await;
    expected.sort();

    let source = CountingSource::new(ParameterStoreSource::new(client).page_size(5));
    let cache = SecretCache::new(source.clone());
    let values = cache.get_path("/svc").await.expect("path");
    let mut names: Vec<String> = values.iter().map(|(name, _)| name.clone()).collect();
    names.sort();
    assert_eq!(names, expected);
    let (_, p07) = values
        .iter()
        .find(|(name, _)| name == "/svc/p07")
        .expect("p07");
    assert_eq!(
        p07.expose_str(),
        Some("value-7"),
        "SecureStrings are decrypted"
    );
    assert!(logs.text().contains("pages=5"), "{}", logs.text());

    // The path result and the single values it warmed are cache hits.
    cache.get_path("/svc").await.expect("cached path");
    assert_eq!(
        cache
            .get_string("/svc/nested/p03")
            .await
            .expect("warm")
            .expose(),
        "value-3"
    );
    assert_eq!(source.calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_hundred_concurrent_first_requests_make_one_call() {
    let moto = moto().await;
    let client = secrets_manager(&moto);
    create_secret(&client, "prod/hot", "hot-value").await;
    let source = CountingSource::new(SecretsManagerSource::new(client));
    let cache = SecretCache::new(source.clone());
    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let (cache, barrier) = (cache.clone(), Arc::clone(&barrier));
        tasks.spawn(async move {
            barrier.wait().await;
            cache.get_string("prod/hot").await.map(Secret::into_exposed)
        });
    }
    let values = tasks.join_all().await;
    assert_eq!(values.len(), 100);
    for value in &values {
        assert_eq!(
            value.as_deref().expect("every caller gets the value"),
            "hot-value"
        );
    }
    assert_eq!(source.calls(), 1);
}

#[tokio::test]
async fn outage_serves_stale_within_max_stale_then_a_typed_error() {
    let (logs, _guard) = capture_logs();
    let moto = moto().await;
    let client = secrets_manager(&moto);
    create_secret(&client, "prod/outage", "outage-secret-value").await;
    // One attempt per fetch, so the test does not wait out the SDK's backoff against a dead port.
    let config = aws_sdk_secretsmanager::config::Builder::from(moto.sdk_config())
        .retry_config(RetryConfig::disabled())
        .build();
    let source = CountingSource::new(SecretsManagerSource::new(
        aws_sdk_secretsmanager::Client::from_conf(config),
    ));
    let clock = ManualClock::new();
    let cache = SecretCache::builder(source.clone())
        .clock(clock.clone())
        .max_age(Duration::from_secs(60))
        .max_stale(Duration::from_secs(300))
        .retry_after(Duration::ZERO)
        .build();
    assert_eq!(
        cache
            .get_string("prod/outage")
            .await
            .expect("first")
            .expose(),
        "outage-secret-value"
    );

    drop(moto); // moto is stopped: every call now fails to connect

    clock.advance(Duration::from_secs(120));
    let stale = cache
        .get_string("prod/outage")
        .await
        .expect("stale within max_stale");
    assert_eq!(stale.expose(), "outage-secret-value");
    assert_eq!(source.calls(), 2, "the refresh was attempted");

    clock.advance(Duration::from_secs(200));
    let error = cache.get("prod/outage").await.expect_err("past max_stale");
    let SecretError::Stale {
        age, source: cause, ..
    } = &error
    else {
        panic!("expected Stale, got {error:?}");
    };
    assert_eq!(*age, Duration::from_secs(320));
    assert!(
        matches!(
            cause,
            SourceError::Backend {
                service: "secretsmanager",
                ..
            }
        ),
        "{cause:?}"
    );

    let never_cached = cache
        .get("prod/other")
        .await
        .expect_err("no value to fall back on");
    assert!(
        matches!(never_cached, SecretError::Fetch { .. }),
        "{never_cached:?}"
    );

    let logs = logs.text();
    assert!(logs.contains("serving the last good value"), "{logs}");
    assert!(logs.contains("past max_stale"), "{logs}");
    assert!(logs.contains("prod/outage"), "{logs}");
    let everything = format!("{logs} {error} {error:?} {never_cached} {never_cached:?} {cache:?}");
    assert!(
        !everything.contains("outage-secret-value"),
        "a secret value leaked"
    );
}
