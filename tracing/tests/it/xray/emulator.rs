//! End to end: `lamina-traced-function` under the emulator, with the emulator sending Lambda's
//! function segment and the function sending its subsegments to the same collector.

use std::{path::PathBuf, sync::OnceLock, time::Duration};

use lamina_local::xray::AnnotationValue;
use lamina_local::{
    cargo_build::BinaryBuild,
    emulator::{Emulator, FunctionConfig, InvocationRequest, Outcome},
};
use lamina_tracing::xray::TraceId;
use serde_json::{Value, json};

use super::collector;

const NAME: &str = "traced";

pub fn traced_function() -> PathBuf {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    match BUILT.get_or_init(|| {
        BinaryBuild::new("lamina-traced-function")
            .build()
            .map_err(|error| error.to_string())
    }) {
        Ok(path) => path.clone(),
        Err(error) => panic!("building lamina-traced-function failed: {error}"),
    }
}

#[tokio::test]
async fn a_traced_function_joins_lambdas_trace() {
    let executable = tokio::task::spawn_blocking(traced_function)
        .await
        .expect("build task");
    let collector = collector().await;
    let config = FunctionConfig::new(executable)
        .function_name(NAME)
        .timeout(Duration::from_secs(10))
        .xray_daemon(collector.daemon_address());
    let emulator = Emulator::start(config).await.expect("emulator");

    let mut trace_ids = Vec::new();
    for payload in [
        json!({"order": "o-1"}),
        json!({"order": "o-2", "fail": true}),
    ] {
        let trace_id = TraceId::generate();
        let request = InvocationRequest::new(payload.to_string())
            .trace_header(format!("Root={trace_id};Sampled=1;Lineage=a87bd80c:1"));
        let report = emulator.invoke(request).await.expect("invocation");
        trace_ids.push((trace_id, report.outcome));
    }

    let (ok_trace, ok_outcome) = &trace_ids[0];
    let Outcome::Success { body } = ok_outcome else {
        panic!("expected a response, got {ok_outcome}");
    };
    let body: Value = serde_json::from_slice(body).expect("json body");
    assert_eq!(body, json!({"order": "o-1", "total": 42}));
    let trace = collector
        .wait_for_trace(ok_trace.as_str(), Duration::from_secs(5))
        .await
        .expect("complete trace");
    let facade = &trace.roots()[0];
    assert_eq!(facade.origin.as_deref(), Some("AWS::Lambda::Function"));
    let handler = facade
        .subsegments
        .iter()
        .find(|child| child.name == NAME)
        .expect("handler subsegment under the function segment");
    assert_eq!(
        handler.annotations.get("ColdStart"),
        Some(&AnnotationValue::Bool(true))
    );
    assert_eq!(
        handler.annotations.get("Service"),
        Some(&AnnotationValue::String("traced".into()))
    );
    assert_eq!(handler.metadata["default"]["response"], body);
    assert_eq!(handler.child_names(), vec!["load_order"]);
    let load = &handler.subsegments[0];
    assert_eq!(
        load.annotations.get("order_id"),
        Some(&AnnotationValue::String("o-1".into()))
    );
    assert_eq!(load.child_names(), vec!["orders-table"]);

    let (failed_trace, failed_outcome) = &trace_ids[1];
    assert!(!failed_outcome.is_success(), "{failed_outcome}");
    let trace = collector
        .wait_for_trace(failed_trace.as_str(), Duration::from_secs(5))
        .await
        .expect("complete trace");
    let handler = trace.roots()[0]
        .subsegments
        .iter()
        .find(|child| child.name == NAME)
        .expect("handler subsegment");
    assert!(handler.fault);
    assert_eq!(
        handler.annotations.get("ColdStart"),
        Some(&AnnotationValue::Bool(false))
    );
    assert_eq!(
        handler.metadata["default"]["error"],
        json!("order o-2 failed")
    );

    assert!(
        collector.rejections().is_empty(),
        "{:?}",
        collector.rejections()
    );
    emulator.shutdown().await;
    collector.shutdown().await;
}
