// MetricsLayer driven through tower with real lambda_runtime events: one flush per invocation,
// on success, error and drop, a single ColdStart, and no mixing between concurrent invocations.

use std::sync::{Arc, Mutex};

use lambda_runtime::{Context, LambdaEvent, service_fn};
use lamina_tracing::metrics::{
    COLD_START_METRIC, MemorySink, Metrics, MetricsConfig, MetricsError, MetricsLayer, Unit,
};
use serde_json::Value;
use tower::{Layer, Service, ServiceExt};

use super::emf_spec::{dimension_names, metric_names, validate_emf};

fn context(function_name: &str) -> Context {
    let mut context = Context::default();
    context.request_id = crate::unique_request_id();
    context.env_config = Arc::new(lambda_runtime::Config {
        function_name: function_name.to_owned(),
        ..Default::default()
    });
    context
}

fn layer(sink: &MemorySink) -> MetricsLayer {
    let config = MetricsConfig::new()
        .namespace("Shop")
        .unwrap()
        .service("orders")
        .unwrap()
        .default_dimension("stage", "prod")
        .unwrap();
    MetricsLayer::new(config)
        .unwrap()
        .sink(sink.clone())
        .cold_start(crate::fresh_cold_start())
}

async fn handler(event: LambdaEvent<i32>) -> Result<&'static str, lambda_runtime::Error> {
    let metrics = Metrics::current().ok_or("no metrics in scope")?;
    metrics.add_dimension("request", &event.context.request_id)?;
    metrics.add_metric("Requests", Unit::Count, 1.0)?;
    if event.payload < 0 {
        metrics.add_metric("Rejected", Unit::Count, 1.0)?;
        return Err("negative payload".into());
    }
    Ok("ok")
}

#[tokio::test]
async fn the_layer_flushes_once_per_invocation_even_on_error_and_cold_starts_once() {
    let sink = MemorySink::new();
    let mut service = layer(&sink).layer(service_fn(handler));

    let ok = service
        .ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(1, context("orders-fn")))
        .await;
    assert_eq!(ok.unwrap(), "ok");
    let docs: Vec<Value> = sink
        .take()
        .iter()
        .map(|d| validate_emf(d).unwrap())
        .collect();
    assert_eq!(docs.len(), 2, "ColdStart document and the invocation's");
    let cold = &docs[0];
    assert_eq!(metric_names(cold), [COLD_START_METRIC]);
    assert_eq!(cold[COLD_START_METRIC], 1.0);
    assert_eq!(
        cold["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
        "Count"
    );
    assert_eq!(dimension_names(cold), ["function_name", "service"]);
    assert_eq!(cold["function_name"], "orders-fn");
    assert!(cold.get("request").is_none() && cold.get("stage").is_none());
    assert_eq!(dimension_names(&docs[1]), ["service", "stage", "request"]);
    assert_eq!(docs[1]["Requests"], 1.0);

    let err = service
        .ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(-1, context("orders-fn")))
        .await;
    assert_eq!(err.unwrap_err().to_string(), "negative payload");
    let docs: Vec<Value> = sink
        .take()
        .iter()
        .map(|d| validate_emf(d).unwrap())
        .collect();
    assert_eq!(docs.len(), 1, "no second ColdStart, one flush on error");
    assert_eq!(metric_names(&docs[0]), ["Requests", "Rejected"]);

    service
        .ready()
        .await
        .unwrap()
        .call(LambdaEvent::new(2, context("orders-fn")))
        .await
        .unwrap();
    let docs = sink.take();
    assert_eq!(docs.len(), 1);
    assert!(!docs[0].contains(COLD_START_METRIC));
}

#[tokio::test]
async fn oneshot_with_a_real_lambda_event() {
    let sink = MemorySink::new();
    let service = layer(&sink)
        .capture_cold_start_metric(false)
        .layer(service_fn(handler));
    let response = service
        .oneshot(LambdaEvent::new(7, context("fn")))
        .await
        .unwrap();
    assert_eq!(response, "ok");
    let docs = sink.documents();
    assert_eq!(docs.len(), 1);
    let doc = validate_emf(&docs[0]).unwrap();
    assert!(doc["request"].as_str().unwrap().starts_with("req-"));
    assert_eq!(doc["stage"], "prod");
}

#[tokio::test]
async fn powertools_function_name_overrides_the_context() {
    let sink = MemorySink::new();
    let config = MetricsConfig::from_lookup(|name| match name {
        "POWERTOOLS_METRICS_NAMESPACE" => Some("Shop".to_owned()),
        "POWERTOOLS_METRICS_FUNCTION_NAME" => Some("orders-alias".to_owned()),
        _ => None,
    })
    .unwrap();
    let service = MetricsLayer::new(config)
        .unwrap()
        .sink(sink.clone())
        .cold_start(crate::fresh_cold_start())
        .layer(service_fn(handler));
    service
        .oneshot(LambdaEvent::new(1, context("orders-fn")))
        .await
        .unwrap();
    let cold = validate_emf(&sink.documents()[0]).unwrap();
    assert_eq!(dimension_names(&cold), ["function_name"]);
    assert_eq!(cold["function_name"], "orders-alias");
}

#[tokio::test]
async fn cold_start_without_a_function_name_is_still_valid() {
    let sink = MemorySink::new();
    let service = layer(&sink).layer(service_fn(handler));
    service
        .oneshot(LambdaEvent::new(1, Context::default()))
        .await
        .unwrap_err();
    let docs: Vec<Value> = sink
        .documents()
        .iter()
        .map(|d| validate_emf(d).unwrap())
        .collect();
    assert_eq!(dimension_names(&docs[0]), ["service"]);
}

#[tokio::test]
async fn concurrent_invocations_keep_their_own_metrics() {
    let sink = MemorySink::new();
    let service = layer(&sink)
        .capture_cold_start_metric(false)
        .layer(service_fn(|event: LambdaEvent<u32>| async move {
            let metrics = Metrics::current().ok_or("no metrics")?;
            metrics.add_dimension("id", &event.payload.to_string())?;
            tokio::task::yield_now().await;
            metrics.add_metric("Work", Unit::Count, f64::from(event.payload))?;
            Ok::<_, lambda_runtime::Error>(())
        }));
    let calls = (1..=5).map(|i| service.clone().oneshot(LambdaEvent::new(i, context("fn"))));
    for result in futures_join(calls).await {
        result.unwrap();
    }
    let mut pairs: Vec<(String, f64)> = sink
        .documents()
        .iter()
        .map(|d| validate_emf(d).unwrap())
        .map(|d| {
            (
                d["id"].as_str().unwrap().to_owned(),
                d["Work"].as_f64().unwrap(),
            )
        })
        .collect();
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    let expected: Vec<(String, f64)> = (1..=5).map(|i| (i.to_string(), f64::from(i))).collect();
    assert_eq!(pairs, expected);
}

async fn futures_join<F: Future + Send + 'static>(
    futures: impl Iterator<Item = F>,
) -> Vec<F::Output>
where
    F::Output: Send,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut outputs = Vec::new();
    for handle in handles {
        outputs.push(handle.await.unwrap());
    }
    outputs
}

#[tokio::test]
async fn a_dropped_invocation_still_flushes_and_later_additions_fail() {
    let sink = MemorySink::new();
    let (tx, rx) = tokio::sync::oneshot::channel::<Metrics>();
    let tx = Mutex::new(Some(tx));
    let service = layer(&sink)
        .capture_cold_start_metric(false)
        .layer(service_fn(move |_: LambdaEvent<()>| {
            let tx = tx.lock().unwrap().take();
            async move {
                let metrics = Metrics::current().ok_or("no metrics")?;
                metrics.add_metric("Started", Unit::Count, 1.0)?;
                if let Some(tx) = tx {
                    let _ = tx.send(metrics);
                }
                std::future::pending::<()>().await;
                Ok::<_, lambda_runtime::Error>(())
            }
        }));
    let invocation = service.oneshot(LambdaEvent::new((), context("fn")));
    let leaked = tokio::select! {
        _ = invocation => unreachable!("the handler never finishes"),
        leaked = rx => leaked.unwrap(),
    };
    let docs = sink.documents();
    assert_eq!(docs.len(), 1);
    assert_eq!(validate_emf(&docs[0]).unwrap()["Started"], 1.0);
    assert!(matches!(
        leaked.add_metric("Late", Unit::Count, 1.0),
        Err(MetricsError::Flushed)
    ));
}

#[derive(Clone, Default)]
struct Warnings(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Warnings {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *event.metadata().level() == tracing::Level::WARN {
            let mut message = String::new();
            event.record(
                &mut |field: &tracing::field::Field, value: &dyn std::fmt::Debug| {
                    if field.name() == "message" {
                        message = format!("{value:?}");
                    }
                },
            );
            self.0.lock().unwrap().push(message);
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn warns_on_empty_invocations_when_asked() {
    use tracing_subscriber::layer::SubscriberExt;
    let warnings = Warnings::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(warnings.clone()));
    let sink = MemorySink::new();
    let quiet = service_fn(|_: LambdaEvent<()>| async { Ok::<_, lambda_runtime::Error>(()) });
    let layer = layer(&sink).capture_cold_start_metric(false);

    layer
        .clone()
        .layer(quiet)
        .oneshot(LambdaEvent::new((), context("fn")))
        .await
        .unwrap();
    assert!(warnings.0.lock().unwrap().is_empty());
    assert!(sink.documents().is_empty(), "nothing to flush, no document");

    layer
        .warn_on_empty_metrics(true)
        .layer(quiet)
        .oneshot(LambdaEvent::new((), context("fn")))
        .await
        .unwrap();
    let seen = warnings.0.lock().unwrap().clone();
    assert_eq!(seen.len(), 1);
    assert!(seen[0].contains("no application metrics"), "{seen:?}");
}
