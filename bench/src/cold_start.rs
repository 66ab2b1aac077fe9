//! The cold-start harness: every variant is a real process started by the `lamina-local` emulator,
//! answering the same API Gateway REST proxy request with the same JSON body.
//!
//! One [`Sample`] is one fresh execution environment: spawn, the first `/next` (the init duration),
//! the first response, then one warm invocation, then the process is killed. Its peak RSS is read from
//! `/proc` (Lambda's "Max Memory Used"). The criterion bench `cold_start` takes the samples first,
//! round-robin over the variants, then turns them into three benchmarks per variant through a
//! [`SamplePool`], so the three metrics are figures of the same processes.
//!
//! Fixtures shared by every variant ([`Fixtures`]): a moto server holding the secret, a loopback
//! JWKS server, and an X-Ray daemon stand-in (every variant runs with active tracing).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::{Body, Request, Response};
use lamina_local::cargo_build::{BinaryBuild, Profile};
use lamina_local::emulator::{Emulator, FunctionConfig, InvocationReport, LogFormat};
use lamina_local::moto::MotoServer;
use lamina_local::opensearch::OpenSearchServer;
use lamina_local::xray::{CollectorConfig, XrayCollector};
use lamina_middleware::init::{LocalServer, serve_local};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use udagram::aws::{TableNames, create_tables};

/// The body every variant answers with.
pub const EXPECTED_BODY: &str = r#"{"message":"hello from lamina-bench"}"#;
/// The browser origin of the request, allowed by every variant's CORS configuration.
pub const ORIGIN: &str = "https://app.example.com";
/// The secret every variant with a secret fetches at init.
pub const SECRET_ID: &str = "bench/api-key";
const SECRET_VALUE: &str = "sk-bench-do-not-log";
const ISSUER: &str = "https://lamina-bench.eu.auth0.com/";
const AUDIENCE: &str = "https://bench.lamina.test";
const KEY_ID: &str = "bench";
const RSA_PRIVATE: &[u8] = include_bytes!("../../middleware/tests/fixtures/auth/rsa_private.pem");

/// Which language a variant is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// A release binary.
    Rust,
    /// CPython with `awslambdaric`.
    Python,
    /// Node.js with `aws-lambda-ric`.
    Node,
}

/// How a variant is started.
#[derive(Debug, Clone, Copy)]
enum Launch {
    /// A workspace package's binary, built in release.
    Cargo {
        package: &'static str,
        bin: Option<&'static str>,
        handler: &'static str,
    },
    /// A workspace package's binary, built in release with `CARGO_PROFILE_RELEASE_*` overrides or
    /// other features (see [`crate::profiles`]).
    Profile {
        package: &'static str,
        overrides: &'static [(&'static str, &'static str)],
        args: &'static [&'static str],
    },
    /// Udagram's `udagram-lambda` binary (example-app), built in release, running its `api`
    /// handler with the tables on moto and the search domain on `lamina-local`'s stand-in.
    /// `api_only`: built with `--no-default-features --features handler-api` (the packaging
    /// ablation, only with [`crate::profiles::ENABLE_ENV`]).
    Udagram { api_only: bool },
    /// A folder under `bench/functions/` with a `bootstrap` script.
    Script {
        folder: &'static str,
        handler: &'static str,
    },
}

/// One function answering the benchmarks' request.
#[derive(Debug, Clone, Copy)]
pub struct Variant {
    /// Short name, used in benchmark ids and file names.
    pub id: &'static str,
    /// What the variant is, for the report.
    pub label: &'static str,
    /// Its language.
    pub language: Language,
    /// Whether it is an ablation of variant 2 (reported in its own table).
    pub ablation: bool,
    /// The request it is sent and the answer it must give.
    pub route: Route,
    launch: Launch,
    env: &'static [(&'static str, &'static str)],
}

/// The request a variant answers, and what a right answer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// `GET /hello`, answered `200` with [`EXPECTED_BODY`] and the CORS header for [`ORIGIN`].
    Hello,
    /// `GET /hello` as [`Route::Hello`], without the CORS header (the bare hellos have no CORS
    /// layer, by design).
    HelloWithoutCors,
    /// Udagram's `GET /groups?limit=5` on empty tables: `200`, `{"items": []}` and a CORS header.
    Groups,
}

/// An ablation of variant 2: its binary, run with `env` added.
const fn stack_with_env(
    id: &'static str,
    label: &'static str,
    env: &'static [(&'static str, &'static str)],
) -> Variant {
    Variant {
        id,
        label,
        language: Language::Rust,
        route: Route::Hello,
        ablation: true,
        env,
        launch: Launch::Cargo {
            package: "lamina-bench-stack",
            bin: None,
            handler: "bootstrap",
        },
    }
}

/// An ablation of variant 2: its package rebuilt in release with `CARGO_PROFILE_RELEASE_*`
/// `overrides` or extra cargo `args`.
const fn stack_built_with(
    id: &'static str,
    label: &'static str,
    overrides: &'static [(&'static str, &'static str)],
    args: &'static [&'static str],
) -> Variant {
    Variant {
        id,
        label,
        language: Language::Rust,
        route: Route::Hello,
        ablation: true,
        env: &[],
        launch: Launch::Profile {
            package: "lamina-bench-stack",
            overrides,
            args,
        },
    }
}

/// Every variant, in report order. The first is the baseline.
pub const VARIANTS: &[Variant] = &[
    Variant {
        id: "rust-hello",
        label: "1. Rust: bare lambda_runtime + lambda_http",
        language: Language::Rust,
        route: Route::HelloWithoutCors,
        ablation: false,
        env: &[],
        launch: Launch::Cargo {
            package: "lamina-bench-hello",
            bin: None,
            handler: "bootstrap",
        },
    },
    Variant {
        id: "rust-lamina",
        label: "2. Rust: the whole Lamina stack",
        language: Language::Rust,
        route: Route::Hello,
        ablation: false,
        env: &[],
        launch: Launch::Cargo {
            package: "lamina-bench-stack",
            bin: None,
            handler: "bootstrap",
        },
    },
    Variant {
        id: "udagram-api",
        label: "3. Rust: Udagram's API function (`GET /groups`)",
        language: Language::Rust,
        route: Route::Groups,
        ablation: false,
        env: &[],
        launch: Launch::Udagram { api_only: false },
    },
    Variant {
        id: "python-hello",
        label: "4a. Python: awslambdaric hello",
        language: Language::Python,
        route: Route::HelloWithoutCors,
        ablation: false,
        env: &[],
        launch: Launch::Script {
            folder: "python-hello",
            handler: "handler.handler",
        },
    },
    Variant {
        id: "python-powertools",
        label: "4b. Python: awslambdaric + Powertools",
        language: Language::Python,
        route: Route::Hello,
        ablation: false,
        env: &[],
        launch: Launch::Script {
            folder: "python-powertools",
            handler: "handler.handler",
        },
    },
    Variant {
        id: "node-middy",
        label: "5. Node.js: aws-lambda-ric + middy + X-Ray SDK",
        language: Language::Node,
        route: Route::Hello,
        ablation: false,
        env: &[],
        launch: Launch::Script {
            folder: "node-middy",
            handler: "index.handler",
        },
    },
    stack_with_env(
        "rust-lamina-sequential",
        "2, init prefetch sequential instead of concurrent",
        &[("BENCH_PREFETCH", "sequential")],
    ),
    stack_with_env(
        "rust-lamina-no-prefetch",
        "2, nothing prefetched at init (the first request fetches the JWKS and the secret)",
        &[("BENCH_PREFETCH", "none")],
    ),
    stack_with_env(
        "rust-lamina-background-prefetch",
        "2, prefetch started at init but not awaited (`Prefetch::spawn`)",
        &[("BENCH_PREFETCH", "background")],
    ),
    stack_with_env(
        "rust-lamina-eager-client",
        "2, plus an SSM client built eagerly at init",
        &[("BENCH_EXTRA_CLIENT", "eager")],
    ),
    stack_built_with(
        "rust-lamina-lto-off",
        "2, built with lto = false (the release profile has lto = true)",
        &[("CARGO_PROFILE_RELEASE_LTO", "false")],
        &[],
    ),
    stack_built_with(
        "rust-lamina-lto-thin",
        "2, built with lto = \"thin\"",
        &[("CARGO_PROFILE_RELEASE_LTO", "thin")],
        &[],
    ),
    stack_built_with(
        "rust-lamina-cgu-16",
        "2, built with codegen-units = 16 (the release profile has 1)",
        &[("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16")],
        &[],
    ),
    stack_built_with(
        "rust-lamina-no-strip",
        "2, built with strip = false (the release profile strips symbols)",
        &[("CARGO_PROFILE_RELEASE_STRIP", "false")],
        &[],
    ),
    stack_built_with(
        "rust-lamina-opt-s",
        "2, built with opt-level = \"s\"",
        &[("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s")],
        &[],
    ),
    stack_built_with(
        "rust-lamina-opt-z",
        "2, built with opt-level = \"z\"",
        &[("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z")],
        &[],
    ),
    stack_built_with(
        "rust-lamina-panic-abort",
        "2, built with panic = \"abort\"",
        &[("CARGO_PROFILE_RELEASE_PANIC", "abort")],
        &[],
    ),
    stack_built_with(
        "rust-lamina-ring",
        "2, TLS and JWT crypto on ring and RustCrypto instead of aws-lc-rs",
        &[],
        &["--no-default-features", "--features", "ring"],
    ),
    stack_built_with(
        "rust-lamina-small",
        "2, opt-level = \"s\" and ring together (the two size savings combined)",
        &[("CARGO_PROFILE_RELEASE_OPT_LEVEL", "s")],
        &["--no-default-features", "--features", "ring"],
    ),
    Variant {
        id: "udagram-api-only",
        label: "3, built with only the `handler-api` feature (a single-function binary)",
        language: Language::Rust,
        route: Route::Groups,
        ablation: true,
        env: &[],
        launch: Launch::Udagram { api_only: true },
    },
];

/// Looks a variant up by id.
#[must_use]
pub fn variant(id: &str) -> Option<&'static Variant> {
    VARIANTS.iter().find(|v| v.id == id)
}

/// Udagram's tables on moto (variant 3).
fn udagram_tables() -> TableNames {
    TableNames {
        groups: "udagram-groups".to_owned(),
        images: "udagram-images".to_owned(),
        connections: "udagram-connections".to_owned(),
    }
}

/// The servers every variant talks to at init: moto (the secret, Udagram's tables), a JWKS server,
/// an X-Ray daemon, and `lamina-local`'s OpenSearch stand-in (Udagram's search domain).
#[derive(Debug)]
pub struct Fixtures {
    moto: MotoServer,
    search: OpenSearchServer,
    jwks: LocalServer,
    collector: XrayCollector,
    token: String,
}

impl Fixtures {
    /// Starts moto with the secret and Udagram's tables in it, the JWKS server, the X-Ray collector
    /// and the search domain.
    ///
    /// # Errors
    /// A server that does not start, or moto refusing the secret.
    pub async fn start() -> Result<Self, String> {
        let moto = MotoServer::start().await.map_err(|e| e.to_string())?;
        aws_sdk_secretsmanager::Client::new(moto.sdk_config())
            .create_secret()
            .name(SECRET_ID)
            .secret_string(SECRET_VALUE)
            .send()
            .await
            .map_err(|e| format!("creating the secret in moto: {e}"))?;
        create_tables(
            &aws_sdk_dynamodb::Client::new(moto.sdk_config()),
            &udagram_tables(),
        )
        .await
        .map_err(|e| format!("creating Udagram's tables in moto: {e}"))?;
        let search = OpenSearchServer::start_for(moto.sdk_config())
            .await
            .map_err(|e| format!("the search domain: {e}"))?;
        let jwks = jwks_server().await?;
        let bind = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
        let collector = XrayCollector::start(CollectorConfig::new().bind(bind))
            .await
            .map_err(|e| e.to_string())?;
        Ok(Self {
            moto,
            search,
            jwks,
            collector,
            token: token()?,
        })
    }

    /// The environment moto's clients need (endpoint, region, credentials).
    #[must_use]
    pub fn moto_environment(&self) -> Vec<(String, String)> {
        self.moto.environment()
    }

    /// The daemon address the functions send X-Ray documents to.
    #[must_use]
    pub fn daemon_address(&self) -> String {
        self.collector.daemon_address()
    }

    /// How many X-Ray segment documents the collector has received (a check that tracing ran).
    #[must_use]
    pub fn xray_documents(&self) -> u64 {
        self.collector.stats().received
    }

    /// The API Gateway REST proxy event for `route`, from the browser origin with a bearer token.
    #[must_use]
    pub fn event(&self, route: Route) -> String {
        match route {
            Route::Groups => rest_event(&self.token, "/groups"),
            Route::Hello | Route::HelloWithoutCors => rest_event(&self.token, "/hello"),
        }
    }

    /// Stops the servers.
    pub async fn shutdown(self) {
        self.jwks.shutdown().await;
        self.collector.shutdown().await;
    }

    fn config(&self, executable: &Path, handler: &str) -> FunctionConfig {
        FunctionConfig::new(executable)
            .handler(handler)
            .log_format(LogFormat::Json)
            .memory_mb(1024)
            .timeout(Duration::from_secs(30))
            .init_timeout(Duration::from_secs(30))
            .xray_daemon(self.daemon_address())
            .envs(self.moto.environment())
            .env(
                "BENCH_JWKS_URL",
                format!("http://{}/.well-known/jwks.json", self.jwks.local_addr()),
            )
            .env("BENCH_ISSUER", ISSUER)
            .env("BENCH_AUDIENCE", AUDIENCE)
            .env("BENCH_SECRET_ID", SECRET_ID)
            .env("BENCH_ORIGIN", ORIGIN)
            .env("LAMINA_CORS_ALLOWED_ORIGINS", ORIGIN)
            .env("LAMINA_CORS_ALLOWED_HEADERS", "authorization,content-type")
            .env("POWERTOOLS_SERVICE_NAME", "bench")
            .env("POWERTOOLS_METRICS_NAMESPACE", "LaminaBench")
    }

    /// Udagram's `api` function's variables (`udagram::lambda::config`): its tables on moto, the
    /// search stand-in, and the bench's token issuer (its JWKS is prefetched at init).
    fn udagram_environment(&self, config: FunctionConfig) -> FunctionConfig {
        let tables = udagram_tables();
        config
            .env("GROUPS_TABLE", tables.groups)
            .env("IMAGES_TABLE", tables.images)
            .env("IMAGES_BUCKET", "udagram-images")
            .env(
                "IMAGES_PUBLIC_URL",
                format!("{}/udagram-images", self.moto.endpoint_url()),
            )
            .env("S3_FORCE_PATH_STYLE", "true")
            .env("SEARCH_ENDPOINT", self.search.endpoint_url())
            .env(
                "JWKS_URL",
                format!("http://{}/.well-known/jwks.json", self.jwks.local_addr()),
            )
            .env("JWT_ISSUER", ISSUER)
            .env("JWT_AUDIENCE", AUDIENCE)
    }
}

/// Serves the JWKS of the fixture key (`kid` = `bench`) on loopback.
async fn jwks_server() -> Result<LocalServer, String> {
    lamina_middleware::crypto::ensure_jwt_provider();
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE).map_err(|e| e.to_string())?;
    let mut jwk = Jwk::from_encoding_key(&key, Algorithm::RS256).map_err(|e| e.to_string())?;
    jwk.common.key_id = Some(KEY_ID.to_owned());
    let body = serde_json::to_string(&JwkSet { keys: vec![jwk] }).map_err(|e| e.to_string())?;
    let service = tower::service_fn(move |_request: Request| {
        let body = body.clone();
        async move { Ok::<_, lambda_http::Error>(Response::new(Body::from(body))) }
    });
    let address = "127.0.0.1:0".parse().map_err(|e| format!("{e}"))?;
    serve_local(address, service)
        .await
        .map_err(|e| format!("JWKS server: {e}"))
}

/// An RS256 token with the JWKS's key id, valid for two hours.
fn token() -> Result<String, String> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KEY_ID.to_owned());
    let claims = json!({"sub": "auth0|bench", "iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + 7200, "scope": "read:items"});
    lamina_middleware::crypto::ensure_jwt_provider();
    let key = EncodingKey::from_rsa_pem(RSA_PRIVATE).map_err(|e| e.to_string())?;
    jsonwebtoken::encode(&header, &claims, &key).map_err(|e| e.to_string())
}

/// An API Gateway REST API (v1) proxy event for `GET <path>` (`?limit=5` on `/groups`).
#[must_use]
pub fn rest_event(token: &str, path: &str) -> String {
    let headers = json!({"Origin": ORIGIN, "Authorization": format!("Bearer {token}"), "Accept": "application/json"});
    let multi: serde_json::Map<String, Value> = headers
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), json!([v])))
        .collect();
    let (query, multi_query) = if path == "/groups" {
        (json!({"limit": "5"}), json!({"limit": ["5"]}))
    } else {
        (Value::Null, Value::Null)
    };
    json!({
        "resource": path,
        "path": path,
        "httpMethod": "GET",
        "headers": headers,
        "multiValueHeaders": multi,
        "queryStringParameters": query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": null,
        "stageVariables": null,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "bench",
            "resourceId": "bench",
            "resourcePath": path,
            "httpMethod": "GET",
            "path": format!("/prod{path}"),
            "protocol": "HTTP/1.1",
            "requestId": "bench-request",
            "requestTimeEpoch": 1_795_880_000_000_u64,
            "stage": "prod",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "lamina-bench"}
        },
        "body": null,
        "isBase64Encoded": false
    })
    .to_string()
}

/// A variant ready to run: its emulator configuration and what it ships.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The variant.
    pub variant: Variant,
    /// How the emulator starts it.
    pub config: FunctionConfig,
    /// The release binary's size in bytes (Rust variants).
    pub binary_bytes: Option<u64>,
    /// What the variant runs on (interpreter and package versions, or the cargo profile).
    pub runtime: String,
}

/// Builds (Rust) or checks (Python, Node) a variant. `Err` is the reason it cannot run here.
///
/// # Errors
/// The release build fails, or the interpreter or its packages are missing.
pub fn prepare(variant: &Variant, fixtures: &Fixtures) -> Result<Prepared, String> {
    match variant.launch {
        Launch::Cargo {
            package,
            bin,
            handler,
        } => {
            let mut build = BinaryBuild::new(package).profile(Profile::Release);
            if let Some(bin) = bin {
                build = build.bin(bin);
            }
            let built = build.build().map_err(|e| e.to_string())?;
            let (executable, binary_bytes) = crate::profiles::keep(variant.id, &built)?;
            Ok(Prepared {
                variant: *variant,
                config: fixtures
                    .config(&executable, handler)
                    .envs(variant.env.iter().copied()),
                binary_bytes,
                runtime: "release profile".to_owned(),
            })
        }
        Launch::Udagram { api_only } => {
            let (executable, binary_bytes, runtime) = if api_only {
                if !crate::profiles::enabled() {
                    return Err(format!(
                        "set {}=1 to run it: it needs its own release build of udagram-lambda (minutes)",
                        crate::profiles::ENABLE_ENV
                    ));
                }
                let (executable, bytes) = crate::profiles::build_with(
                    variant.id,
                    crate::profiles::AblationBuild {
                        package: "udagram",
                        bin: Some("udagram-lambda"),
                        overrides: &[],
                        args: &["--no-default-features", "--features", "handler-api"],
                    },
                )?;
                (executable, bytes, "release profile, only the api handler")
            } else {
                let built = BinaryBuild::new("udagram")
                    .bin("udagram-lambda")
                    .profile(Profile::Release)
                    .build()
                    .map_err(|e| e.to_string())?;
                let (executable, bytes) = crate::profiles::keep(variant.id, &built)?;
                (
                    executable,
                    bytes,
                    "release profile, every handler compiled in",
                )
            };
            let config = fixtures
                .udagram_environment(fixtures.config(&executable, "api"))
                .function_name("udagram-api");
            Ok(Prepared {
                variant: *variant,
                config,
                binary_bytes,
                runtime: runtime.to_owned(),
            })
        }
        Launch::Profile {
            package,
            overrides,
            args,
        } => {
            if !crate::profiles::enabled() {
                return Err(format!(
                    "set {}=1 to run it: it needs its own release build of the AWS SDK stack (minutes)",
                    crate::profiles::ENABLE_ENV
                ));
            }
            let (executable, binary_bytes) = crate::profiles::build_with(
                variant.id,
                crate::profiles::AblationBuild {
                    package,
                    bin: None,
                    overrides,
                    args,
                },
            )?;
            let runtime = match (overrides.is_empty(), args.is_empty()) {
                (false, _) => format!("release profile with {overrides:?}"),
                (true, false) => format!("release profile, built with `{}`", args.join(" ")),
                (true, true) => "release profile".to_owned(),
            };
            Ok(Prepared {
                variant: *variant,
                config: fixtures.config(&executable, "bootstrap"),
                binary_bytes,
                runtime,
            })
        }
        Launch::Script { folder, handler } => {
            let dir = functions_dir().join(folder);
            let (interpreter_var, interpreter, runtime) = match variant.language {
                Language::Node => node(&dir)?,
                _ => python(folder)?,
            };
            let config = fixtures
                .config(&dir.join("bootstrap"), handler)
                .env(interpreter_var, interpreter);
            Ok(Prepared {
                variant: *variant,
                config,
                binary_bytes: None,
                runtime,
            })
        }
    }
}

/// `bench/functions/`.
#[must_use]
pub fn functions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("functions")
}

/// The Python interpreter's real path (not a shim) and the versions of the packages the folder needs.
fn python(folder: &str) -> Result<(&'static str, String, String), String> {
    let modules = if folder == "python-powertools" {
        "awslambdaric, aws_lambda_powertools, aws_xray_sdk"
    } else {
        "awslambdaric"
    };
    let script = format!(
        "import sys, importlib.metadata as m\nimport {modules}\nprint(sys.executable)\n\
         print('CPython', sys.version.split()[0], 'awslambdaric', m.version('awslambdaric'), end='')\n\
         print(' aws-lambda-powertools', m.version('aws-lambda-powertools')) if 'powertools' in '{modules}' else print()"
    );
    let output = Command::new("python3")
        .args(["-c", &script])
        .output()
        .map_err(|e| format!("python3 cannot run: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "python3 lacks {modules} (python3 -m pip install awslambdaric 'aws-lambda-powertools[tracer]'): {}",
            last_line(&output.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let executable = lines.next().unwrap_or("python3").to_owned();
    Ok((
        "LAMINA_BENCH_PYTHON",
        executable,
        lines.next().unwrap_or_default().to_owned(),
    ))
}

/// Node.js's version, after checking that `npm ci` has installed the folder's packages.
fn node(dir: &Path) -> Result<(&'static str, String, String), String> {
    let output = Command::new("node")
        .args(["-p", "process.execPath + '\\n' + process.version"])
        .output()
        .map_err(|e| format!("node cannot run: {e}"))?;
    if !output.status.success() {
        return Err(format!("node failed: {}", last_line(&output.stderr)));
    }
    let native = dir.join("node_modules/aws-lambda-ric/dist/rapid-client.node");
    if !native.is_file() {
        return Err(format!(
            "aws-lambda-ric is not installed: run `npm ci` in bench/functions/{}",
            dir.file_name().and_then(|n| n.to_str()).unwrap_or_default()
        ));
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let mut lines = text.lines();
    let executable = lines.next().unwrap_or("node").to_owned();
    let version = lines.next().unwrap_or_default();
    let ric = std::fs::read_to_string(dir.join("node_modules/aws-lambda-ric/package.json"))
        .ok()
        .and_then(|text| serde_json::from_str::<Value>(&text).ok())
        .and_then(|v| v["version"].as_str().map(str::to_owned))
        .unwrap_or_default();
    Ok((
        "LAMINA_BENCH_NODE",
        executable,
        format!("Node.js {version} aws-lambda-ric {ric}"),
    ))
}

fn last_line(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .lines()
        .last()
        .unwrap_or_default()
        .to_owned()
}

/// What one fresh execution environment measured.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Sample {
    /// Spawn to the runtime's first `/next` (Lambda's Init Duration).
    pub init: Duration,
    /// Invoke (spawn included) to the first response.
    pub first_response: Duration,
    /// One warm invocation, invoke to response.
    pub warm: Duration,
    /// Peak resident set size after the warm invocation, MB rounded up (Lambda's Max Memory Used).
    pub max_memory_mb: u64,
}

/// Runs one sample: a fresh process, a cold and a warm invocation, then the process is killed.
///
/// # Errors
/// The emulator fails, or the variant does not answer `200` with [`EXPECTED_BODY`] and the CORS header.
pub async fn sample(prepared: &Prepared, event: &str) -> Result<Sample, String> {
    let emulator = Emulator::start(prepared.config.clone())
        .await
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let first = emulator
        .invoke(event.to_owned())
        .await
        .map_err(|e| e.to_string());
    let first_response = started.elapsed();
    let started = Instant::now();
    let warm = emulator
        .invoke(event.to_owned())
        .await
        .map_err(|e| e.to_string());
    let warm_time = started.elapsed();
    emulator.shutdown().await;
    let (first, warm) = (first?, warm?);
    check_answer(&prepared.variant, &first)?;
    check_answer(&prepared.variant, &warm)?;
    let init = first.init_duration.ok_or_else(|| {
        format!(
            "{}: the first invocation was not a cold start",
            prepared.variant.id
        )
    })?;
    Ok(Sample {
        init,
        first_response,
        warm: warm_time,
        max_memory_mb: warm.max_memory_used_mb.max(first.max_memory_used_mb),
    })
}

/// Checks that a variant answered as its [`Route`] must, and never logged the secret.
fn check_answer(variant: &Variant, report: &InvocationReport) -> Result<(), String> {
    let id = variant.id;
    let logs = || {
        report
            .logs
            .iter()
            .map(|l| l.text.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let body = report
        .outcome
        .body()
        .ok_or_else(|| format!("{id} failed: {report}\n{}", logs()))?;
    if report.logs.iter().any(|l| l.text.contains(SECRET_VALUE)) {
        return Err(format!("{id} logged the secret"));
    }
    let response: Value = serde_json::from_slice(body).map_err(|e| format!("{id}: {e}"))?;
    // REST proxy answers carry headers in `headers`, `multiValueHeaders` or both.
    let allowed = ["headers", "multiValueHeaders"]
        .iter()
        .filter_map(|field| response[field].as_object())
        .flatten()
        .find(|(k, _)| k.eq_ignore_ascii_case("access-control-allow-origin"))
        .and_then(|(_, v)| v.as_str().or_else(|| v[0].as_str()));
    let status_ok = response["statusCode"].as_u64() == Some(200);
    let body = response["body"].as_str().unwrap_or_default();
    let (ok, cors_ok) = match variant.route {
        Route::Hello => (status_ok && body == EXPECTED_BODY, allowed == Some(ORIGIN)),
        Route::HelloWithoutCors => (status_ok && body == EXPECTED_BODY, true),
        // Udagram allows every origin (`*`).
        Route::Groups => (
            status_ok && serde_json::from_str::<Value>(body).is_ok_and(|b| b["items"] == json!([])),
            allowed.is_some(),
        ),
    };
    if ok && cors_ok {
        Ok(())
    } else {
        Err(format!("{id} answered {response}\n{}", logs()))
    }
}

/// Which of a sample's figures a benchmark reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// [`Sample::init`].
    Init,
    /// [`Sample::first_response`].
    FirstResponse,
    /// [`Sample::warm`].
    Warm,
}

impl Metric {
    /// All three, in report order.
    pub const ALL: [Self; 3] = [Self::Init, Self::FirstResponse, Self::Warm];

    /// The benchmark group name.
    #[must_use]
    pub fn group(self) -> &'static str {
        match self {
            Self::Init => "cold start init",
            Self::FirstResponse => "cold start first response",
            Self::Warm => "cold start warm invocation",
        }
    }

    /// This metric of a sample.
    #[must_use]
    pub fn of(self, sample: &Sample) -> Duration {
        match self {
            Self::Init => sample.init,
            Self::FirstResponse => sample.first_response,
            Self::Warm => sample.warm,
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Init => 0,
            Self::FirstResponse => 1,
            Self::Warm => 2,
        }
    }
}

/// The samples of one variant, taken before criterion runs (the bench takes them round-robin over
/// the variants, so that a burst of load on a shared machine hits every variant alike). Each
/// benchmark reads them in order, from the start again when it has read them all, so the three
/// metrics are figures of the same processes.
#[derive(Debug, Default)]
pub struct SamplePool {
    samples: Vec<Sample>,
    cursors: [usize; 3],
}

impl SamplePool {
    /// Adds a sample.
    pub fn push(&mut self, sample: Sample) {
        self.samples.push(sample);
    }

    /// The next sample for `metric`, cycling; `None` when the pool is empty.
    pub fn next(&mut self, metric: Metric) -> Option<Sample> {
        if self.samples.is_empty() {
            return None;
        }
        let cursor = &mut self.cursors[metric.index()];
        let sample = self.samples[*cursor % self.samples.len()];
        *cursor += 1;
        Some(sample)
    }

    /// Every sample taken.
    #[must_use]
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }
}

/// What the report needs beside criterion's estimates, for one variant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VariantResult {
    /// [`Variant::id`].
    pub id: String,
    /// [`Variant::label`].
    pub label: String,
    /// [`Variant::language`].
    pub language: Language,
    /// [`Variant::ablation`].
    pub ablation: bool,
    /// What it runs on.
    pub runtime: String,
    /// The release binary's size in bytes, for Rust variants.
    pub binary_bytes: Option<u64>,
    /// Every sample taken.
    pub samples: Vec<Sample>,
    /// Why it did not run, if it did not.
    pub skipped: Option<String>,
}

impl VariantResult {
    /// The median of `metric` over the samples, in nanoseconds.
    #[must_use]
    pub fn median(&self, metric: Metric) -> Option<f64> {
        let mut values: Vec<f64> = self
            .samples
            .iter()
            .map(|s| metric.of(s).as_secs_f64() * 1e9)
            .collect();
        values.sort_by(f64::total_cmp);
        let n = values.len();
        match n {
            0 => None,
            _ if n % 2 == 1 => Some(values[n / 2]),
            _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
        }
    }

    /// The median peak RSS over the samples, in MB.
    #[must_use]
    pub fn median_memory_mb(&self) -> Option<u64> {
        let mut values: Vec<u64> = self.samples.iter().map(|s| s.max_memory_mb).collect();
        values.sort_unstable();
        values.get(values.len() / 2).copied()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sample(ms: u64) -> Sample {
        Sample {
            init: Duration::from_millis(ms),
            first_response: Duration::from_millis(ms + 1),
            warm: Duration::from_millis(1),
            max_memory_mb: ms,
        }
    }

    #[test]
    fn each_metric_reads_the_same_samples_in_order_and_cycles() {
        let mut pool = SamplePool::default();
        assert!(pool.next(Metric::Init).is_none());
        pool.push(sample(10));
        pool.push(sample(20));
        let init: Vec<u64> = (0..3)
            .filter_map(|_| pool.next(Metric::Init))
            .map(|s| s.max_memory_mb)
            .collect();
        assert_eq!(init, [10, 20, 10]);
        // Another metric starts from the first sample again.
        assert_eq!(pool.next(Metric::Warm).map(|s| s.max_memory_mb), Some(10));
        assert_eq!(pool.samples().len(), 2);
    }

    #[test]
    fn the_event_is_a_rest_proxy_request() {
        let event: Value = serde_json::from_str(&rest_event("t", "/hello")).unwrap();
        assert_eq!(event["httpMethod"], "GET");
        assert_eq!(event["headers"]["Authorization"], "Bearer t");
        assert_eq!(event["multiValueHeaders"]["Origin"][0], ORIGIN);
    }

    #[test]
    fn the_median_memory_is_the_middle_sample() {
        let result = VariantResult {
            id: "x".to_owned(),
            label: "x".to_owned(),
            language: Language::Rust,
            ablation: false,
            runtime: String::new(),
            binary_bytes: None,
            samples: vec![sample(5), sample(9), sample(7)],
            skipped: None,
        };
        assert_eq!(result.median_memory_mb(), Some(7));
        assert_eq!(result.median(Metric::Init), Some(7e6));
        assert_eq!(result.median(Metric::FirstResponse), Some(8e6));
    }
}
