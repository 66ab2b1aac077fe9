//! `lamina_tracing::http`: outgoing and incoming HTTP through real hyper clients and servers on
//! 127.0.0.1, traced into a real `XrayCollector`.

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime},
};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty, Full};
use hyper::{Request, Response, StatusCode, body::Incoming};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
};
use lamina_local::xray::{CollectorConfig, XrayCollector, send_document};
use lamina_tracing::{
    http::{ContextMissing, Sampler, SamplingRules, XrayHttpClientLayer, XrayHttpServerLayer},
    xray::{
        SamplingDecision, SegmentId, TraceHeader, TraceId, XrayLambdaLayer, XrayLayer,
        epoch_seconds,
    },
};
use serde_json::{Value, json};
use tower::{ServiceBuilder, ServiceExt as _, service_fn};
use tracing::Instrument as _;
use tracing_subscriber::prelude::*;

const LINEAGE: &str = "a87bd80c:1";

async fn collector() -> XrayCollector {
    let bind = "127.0.0.1:0".parse().expect("address");
    XrayCollector::start(CollectorConfig::new().bind(bind))
        .await
        .expect("collector")
}

fn xray_layer(collector: &XrayCollector) -> XrayLayer {
    XrayLayer::with_daemon_address(&collector.daemon_address()).expect("daemon address")
}

/// The trace header each request to a backend carried (`None` when absent).
type Seen = Arc<Mutex<Vec<Option<String>>>>;

/// Serves `service` (a tower service) on 127.0.0.1 with hyper, one task per connection.
async fn serve<S>(service: S) -> SocketAddr
where
    S: tower::Service<Request<Incoming>, Response = Response<Full<Bytes>>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let service = service.clone();
            let hyper_service =
                hyper::service::service_fn(move |mut request: Request<Incoming>| {
                    request.extensions_mut().insert(peer);
                    service.clone().oneshot(request)
                });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), hyper_service)
                    .in_current_span(),
            );
        }
    });
    addr
}

/// A backend answering `/status/<code>` with that status, recording the trace header.
async fn backend() -> (SocketAddr, Seen) {
    let seen = Seen::default();
    let record = Arc::clone(&seen);
    let addr = serve(service_fn(move |request: Request<Incoming>| {
        let record = Arc::clone(&record);
        async move {
            let header = request
                .headers()
                .get("x-amzn-trace-id")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned);
            record.lock().expect("seen").push(header);
            let status = request
                .uri()
                .path()
                .strip_prefix("/status/")
                .and_then(|code| code.parse::<u16>().ok())
                .and_then(|code| StatusCode::from_u16(code).ok())
                .unwrap_or(StatusCode::OK);
            let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
            *response.status_mut() = status;
            Ok::<_, Infallible>(response)
        }
    }))
    .await;
    (addr, seen)
}

type TracedClient = lamina_tracing::http::XrayHttpClient<Client<HttpConnector, Empty<Bytes>>>;

fn client(layer: XrayHttpClientLayer) -> TracedClient {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    ServiceBuilder::new().layer(layer).service(client)
}

async fn get(client: &TracedClient, url: &str) -> Result<StatusCode, String> {
    let request = Request::get(url).body(Empty::new()).expect("request");
    let response = client
        .clone()
        .oneshot(request)
        .await
        .map_err(|error| error.to_string())?;
    let status = response.status();
    response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?;
    Ok(status)
}

/// Sends the function segment the handler span hangs under, so the trace completes.
async fn send_parent_segment(collector: &XrayCollector, trace_id: &TraceId, id: SegmentId) {
    let now = epoch_seconds(SystemTime::now());
    let document = json!({
        "name": "caller", "id": id.to_string(), "trace_id": trace_id.to_string(),
        "start_time": now - 1.0, "end_time": now,
    });
    let socket = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .expect("socket");
    send_document(&socket, collector.local_addr(), &document.to_string())
        .await
        .expect("send");
}

/// The raw document of the entity with `id`.
fn document(trace: &lamina_local::xray::Trace, id: &str) -> Value {
    trace
        .documents()
        .iter()
        .filter_map(|raw| serde_json::from_str::<Value>(raw).ok())
        .find(|doc| doc["id"] == id)
        .unwrap_or_else(|| panic!("no document {id}"))
}

#[tokio::test]
async fn client_calls_become_remote_subsegments_under_their_span() {
    let collector = collector().await;
    let layer = xray_layer(&collector);
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let (addr, seen) = backend().await;
    let client = client(XrayHttpClientLayer::new());
    let (trace_id, parent) = (TraceId::generate(), SegmentId::generate());
    let handler = tracing::info_span!(
        "handler",
        "xray.trace_id" = trace_id.as_str(),
        "xray.parent_id" = parent.to_string(),
        "xray.trace_extra" = format!("Lineage={LINEAGE}"),
    );
    let cases = [
        (200, false, false, false),
        (404, true, false, false),
        (429, true, true, false),
        (503, false, false, true),
    ];
    for (status, ..) in cases {
        let url = format!("http://{addr}/status/{status}?token=secret");
        let got = get(&client, &url).instrument(handler.clone()).await;
        assert_eq!(got, Ok(StatusCode::from_u16(status).expect("status")));
    }
    // Nothing listens on a port just released: a transport error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let failed = get(&client, &format!("http://{closed}/x"))
        .instrument(handler.clone())
        .await;
    assert!(failed.is_err());
    drop(handler);
    send_parent_segment(&collector, &trace_id, parent).await;
    let trace = collector
        .wait_for_trace(trace_id.as_str(), Duration::from_secs(5))
        .await
        .expect("complete trace");
    assert!(
        collector.rejections().is_empty(),
        "{:?}",
        collector.rejections()
    );
    let handler = trace.find("handler").expect("handler subsegment");
    let calls: Vec<_> = trace
        .entities()
        .into_iter()
        .map(|(_, entity)| entity)
        .filter(|entity| entity.name == "127.0.0.1")
        .collect();
    assert_eq!(calls.len(), 5);
    let headers = seen.lock().expect("seen").clone();
    assert_eq!(headers.len(), 4);
    for (index, (status, error, throttle, fault)) in cases.into_iter().enumerate() {
        let header = headers[index].as_deref().expect("trace header");
        let id = header
            .split(';')
            .find_map(|pair| pair.strip_prefix("Parent="))
            .expect("Parent");
        assert_eq!(
            header,
            format!("Root={trace_id};Parent={id};Sampled=1;Lineage={LINEAGE}")
        );
        let call = trace.entity(id).expect("the call's subsegment");
        assert_eq!(call.parent_id.as_deref(), Some(handler.id.as_str()));
        assert_eq!(call.namespace.as_deref(), Some("remote"));
        assert_eq!(
            (call.error, call.throttle, call.fault),
            (error, throttle, fault),
            "{status}"
        );
        let doc = document(&trace, id);
        assert_eq!(
            doc["http"],
            json!({"request": {"method": "GET", "url": format!("http://{addr}/status/{status}")}, "response": {"status": status}})
        );
    }
    let failed = calls
        .iter()
        .find(|call| call.cause.is_some())
        .expect("the failed call has a cause");
    assert!(failed.fault && !failed.error);
    let doc = document(&trace, &failed.id);
    assert_eq!(doc["http"]["request"]["url"], format!("http://{closed}/x"));
    assert!(doc["http"].get("response").is_none());
}

#[tokio::test]
async fn outside_a_trace_requests_pass_through() {
    let collector = collector().await;
    let layer = xray_layer(&collector);
    let stats = layer.clone();
    let errors = ErrorEvents::default();
    let _guard = tracing::subscriber::set_default(
        tracing_subscriber::registry()
            .with(layer)
            .with(errors.clone()),
    );
    let (addr, seen) = backend().await;
    let url = format!("http://{addr}/status/200");
    for layer in [
        XrayHttpClientLayer::new().context_missing(ContextMissing::LogError),
        XrayHttpClientLayer::new(),
    ] {
        assert_eq!(get(&client(layer), &url).await, Ok(StatusCode::OK));
    }
    // LOG_ERROR logged once (with the host only), IGNORE_ERROR not at all.
    assert_eq!(
        *errors.0.lock().expect("errors"),
        vec!["127.0.0.1".to_owned()]
    );
    // Disabled: untouched even inside a trace.
    let span = tracing::info_span!(
        "handler",
        "xray.trace_id" = TraceId::generate().as_str(),
        "xray.parent_id" = SegmentId::generate().to_string(),
    );
    let disabled = XrayHttpClientLayer::from_lookup(|name| {
        (name == "AWS_XRAY_SDK_ENABLED").then(|| "false".to_owned())
    });
    assert_eq!(
        get(&client(disabled), &url).instrument(span.clone()).await,
        Ok(StatusCode::OK)
    );
    // Not sampled: untouched too.
    let unsampled = tracing::info_span!("lambda.handler", "xray.sampled" = false);
    assert_eq!(
        get(&client(XrayHttpClientLayer::new()), &url)
            .instrument(unsampled)
            .await,
        Ok(StatusCode::OK)
    );
    assert_eq!(*seen.lock().expect("seen"), vec![None, None, None, None]);
    assert_eq!(errors.0.lock().expect("errors").len(), 1);
    drop(span);
    // Only the `handler` span was sent.
    assert_eq!(stats.stats().sent, 1);
}

/// An invocation Lambda did not sample still passes its trace on: `Root`, a `Parent`, `Sampled=0`
/// and the incoming `Lineage`, as the X-Ray SDKs do, so that the downstream service does not
/// sample it afresh and Lambda's recursion detection sees the chain.
#[tokio::test]
async fn unsampled_invocations_pass_the_trace_on_with_sampled_0() {
    let collector = collector().await;
    let layer = xray_layer(&collector);
    let stats = layer.clone();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let (addr, seen) = backend().await;
    let url = format!("http://{addr}/status/200");
    let trace_id = TraceId::generate();
    let mut context = lambda_runtime::Context::default();
    context.request_id = "unsampled-1".to_owned();
    context.xray_trace_id = Some(format!(
        "Root={trace_id};Parent=53995c3f42cd8ad8;Sampled=0;Lineage={LINEAGE}"
    ));
    let http = client(XrayHttpClientLayer::new());
    let handler = ServiceBuilder::new()
        .layer(XrayLambdaLayer::new())
        .service(tower::service_fn(
            move |_: lambda_runtime::LambdaEvent<Value>| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    get(&http, &url).await?;
                    let nested = tracing::info_span!("nested");
                    get(&http, &url).instrument(nested).await?;
                    Ok::<_, String>(Value::Null)
                }
            },
        ));
    handler
        .oneshot(lambda_runtime::LambdaEvent::new(Value::Null, context))
        .await
        .expect("handler");
    let headers = seen.lock().expect("seen").clone();
    assert_eq!(headers.len(), 2);
    let mut parents = Vec::new();
    for header in &headers {
        let header = TraceHeader::parse(header.as_deref().expect("a trace header"));
        assert_eq!(header.root.as_ref(), Some(&trace_id), "{header}");
        assert_eq!(
            header.sampled,
            Some(SamplingDecision::NotSampled),
            "{header}"
        );
        assert_eq!(
            header.extra,
            vec![("Lineage".to_owned(), LINEAGE.to_owned())],
            "{header}"
        );
        let parent = header.parent.expect("a Parent");
        assert_ne!(parent.as_u64(), 0, "{header}");
        parents.push(parent);
    }
    assert_ne!(parents[0], parents[1]);
    // Nothing reaches X-Ray.
    assert_eq!(stats.stats().sent, 0);
    assert_eq!(collector.stats().received, 0);
}

/// A front server with `XrayHttpServerLayer` whose handler calls the backend through the
/// client layer.
async fn front(layer: XrayHttpServerLayer, backend: SocketAddr) -> SocketAddr {
    let client = client(XrayHttpClientLayer::new());
    let handler = service_fn(move |request: Request<Incoming>| {
        let client = client.clone();
        async move {
            let path = request.uri().path().to_owned();
            let status = get(&client, &format!("http://{backend}{path}"))
                .await
                .unwrap_or(StatusCode::BAD_GATEWAY);
            let mut response = Response::new(Full::new(Bytes::from_static(b"front")));
            *response.status_mut() = status;
            Ok::<_, Infallible>(response)
        }
    });
    serve(ServiceBuilder::new().layer(layer).service(handler)).await
}

/// Sends a request with an optional trace header; the status and the response's trace header.
async fn call_front(
    front: SocketAddr,
    path: &str,
    header: Option<&str>,
) -> (StatusCode, Option<String>) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>();
    let mut request =
        Request::get(format!("http://{front}{path}?q=1")).header("user-agent", "lamina-test/1");
    if let Some(header) = header {
        request = request.header("x-amzn-trace-id", header);
    }
    let response = client
        .request(request.body(Empty::new()).expect("request"))
        .await
        .expect("response");
    let header = response
        .headers()
        .get("x-amzn-trace-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    (response.status(), header)
}

#[tokio::test]
async fn server_requests_become_segments_from_the_incoming_header() {
    let collector = collector().await;
    let layer = xray_layer(&collector);
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let (backend, seen) = backend().await;
    let server = XrayHttpServerLayer::from_lookup("fallback", |name| {
        (name == "AWS_XRAY_TRACING_NAME").then(|| "orders-api".to_owned())
    });
    let front = front(server, backend).await;
    let (trace_id, upstream) = (TraceId::generate(), SegmentId::generate());
    let header = format!("Root={trace_id};Parent={upstream};Sampled=1;Lineage={LINEAGE}");
    let (status, reply) = call_front(front, "/status/500", Some(&header)).await;
    assert_eq!((status, reply), (StatusCode::INTERNAL_SERVER_ERROR, None));
    send_parent_segment(&collector, &trace_id, upstream).await;
    let trace = collector
        .wait_for_trace(trace_id.as_str(), Duration::from_secs(5))
        .await
        .expect("complete trace");
    assert!(
        collector.rejections().is_empty(),
        "{:?}",
        collector.rejections()
    );
    let segment = trace.find("orders-api").expect("segment");
    assert_eq!(segment.kind, lamina_local::xray::EntityKind::Segment);
    assert_eq!(
        segment.parent_id.as_deref(),
        Some(upstream.to_string().as_str())
    );
    assert!(segment.fault);
    let doc = document(&trace, &segment.id);
    assert!(doc.get("type").is_none() && doc.get("namespace").is_none());
    assert_eq!(doc["http"]["request"]["method"], "GET");
    assert_eq!(
        doc["http"]["request"]["url"],
        format!("http://{front}/status/500")
    );
    assert_eq!(doc["http"]["request"]["user_agent"], "lamina-test/1");
    assert_eq!(doc["http"]["request"]["client_ip"], "127.0.0.1");
    assert_eq!(doc["http"]["response"]["status"], 500);
    let call = trace.find("127.0.0.1").expect("client subsegment");
    assert_eq!(call.parent_id.as_deref(), Some(segment.id.as_str()));
    let forwarded = seen.lock().expect("seen")[0].clone().expect("header");
    assert_eq!(
        forwarded,
        format!(
            "Root={trace_id};Parent={};Sampled=1;Lineage={LINEAGE}",
            call.id
        )
    );
}

#[tokio::test]
async fn server_starts_fresh_traces_and_answers_sampling_requests() {
    let collector = collector().await;
    let layer = xray_layer(&collector);
    let stats = layer.clone();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer));
    let (backend, seen) = backend().await;
    let always = SamplingRules::parse(r#"{"version":2,"default":{"fixed_target":0,"rate":1}}"#)
        .expect("rules");
    let front_sampled = front(
        XrayHttpServerLayer::new("fresh").sampler(Sampler::new(always)),
        backend,
    )
    .await;
    // No header: the sampler decides (always), a new trace, no header back.
    let (status, reply) = call_front(front_sampled, "/status/200", None).await;
    assert_eq!((status, reply), (StatusCode::OK, None));
    let forwarded = seen.lock().expect("seen")[0].clone().expect("header");
    let root = forwarded
        .split(';')
        .find_map(|pair| pair.strip_prefix("Root="))
        .expect("Root")
        .to_owned();
    let trace = collector
        .wait_for_trace(&root, Duration::from_secs(5))
        .await
        .expect("complete trace");
    let segment = trace.find("fresh").expect("segment");
    assert_eq!(segment.parent_id, None);
    assert!(!segment.fault && !segment.error);
    // `Sampled=?` gets the decision back.
    let asked = TraceId::generate();
    let (_, reply) = call_front(
        front_sampled,
        "/status/200",
        Some(&format!("Root={asked};Sampled=?")),
    )
    .await;
    assert_eq!(reply, Some(format!("Root={asked};Sampled=1")));
    collector
        .wait_for_trace(asked.as_str(), Duration::from_secs(5))
        .await
        .expect("asked trace");
    let sent = stats.stats().sent;
    // `Sampled=0`, and a sampler that never samples: nothing is sent to X-Ray ...
    let never = SamplingRules::parse(r#"{"version":2,"default":{"fixed_target":0,"rate":0}}"#)
        .expect("rules");
    let front_never = front(
        XrayHttpServerLayer::new("never").sampler(Sampler::new(never)),
        backend,
    )
    .await;
    let incoming_unsampled = TraceId::generate();
    let (status, reply) = call_front(
        front_sampled,
        "/status/200",
        Some(&format!(
            "Root={incoming_unsampled};Parent=53995c3f42cd8ad8;Sampled=0"
        )),
    )
    .await;
    assert_eq!((status, reply), (StatusCode::OK, None));
    let unsampled = TraceId::generate();
    let (_, reply) = call_front(
        front_never,
        "/status/404",
        Some(&format!("Root={unsampled};Sampled=?")),
    )
    .await;
    assert_eq!(reply, Some(format!("Root={unsampled};Sampled=0")));
    let (status, _) = call_front(front_never, "/status/200", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stats.stats().sent, sent);
    // ... but the backend is told the trace is not sampled, so it does not sample it again.
    let headers = seen.lock().expect("seen").clone();
    assert_eq!(headers.len(), 5);
    let unsampled_headers: Vec<TraceHeader> = headers[2..]
        .iter()
        .map(|header| TraceHeader::parse(header.as_deref().expect("a trace header")))
        .collect();
    for header in &unsampled_headers {
        assert_eq!(
            header.sampled,
            Some(SamplingDecision::NotSampled),
            "{header}"
        );
        assert!(header.root.is_some() && header.parent.is_some(), "{header}");
    }
    assert_eq!(
        unsampled_headers[0].root.as_ref(),
        Some(&incoming_unsampled)
    );
    assert_eq!(unsampled_headers[1].root.as_ref(), Some(&unsampled));
}

/// Records the `host` field of every error event.
#[derive(Clone, Default)]
struct ErrorEvents(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for ErrorEvents {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Host(Option<String>);
        impl tracing::field::Visit for Host {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                if field.name() == "host" {
                    self.0 = Some(value.to_owned());
                }
            }
            fn record_debug(&mut self, _: &tracing::field::Field, _: &dyn std::fmt::Debug) {}
        }
        if *event.metadata().level() == tracing::Level::ERROR {
            let mut host = Host(None);
            event.record(&mut host);
            self.0
                .lock()
                .expect("errors")
                .push(host.0.unwrap_or_default());
        }
    }
}
