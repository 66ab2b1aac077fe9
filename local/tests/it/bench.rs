//! `lamina_local::bench`: real processes sampled round-robin, the baseline's ratios, and the
//! refusals of a benchmark that cannot run.

use std::path::PathBuf;

use lamina_local::bench::{BenchError, BenchFunction, ColdStartBench, Metric};

fn function(name: &str) -> BenchFunction {
    BenchFunction::path(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join(format!("tests/cmd/functions/{name}/bootstrap")),
    )
}

#[tokio::test]
async fn samples_fresh_processes_of_every_function_with_ratios_to_the_baseline() {
    let bench = ColdStartBench::new("it")
        .function(function("python-hello").baseline())
        .function(function("python-imports").env("EXTRA", "1"))
        .event(r#"{"path": "/x"}"#)
        .samples(10)
        .prepare()
        .await
        .unwrap();
    assert_eq!(bench.labels(), ["python-hello", "python-imports"]);
    let results = bench.run_rounds(2, false).await.unwrap();
    bench.shutdown().await;
    assert_eq!(results.baseline.as_deref(), Some("python-hello"));
    for function in &results.functions {
        assert_eq!(function.samples.len(), 2, "{}", function.label);
        assert!(function.script);
        for sample in &function.samples {
            assert!(sample.init > std::time::Duration::ZERO);
            assert!(sample.first_response >= sample.init, "{sample:?}");
            assert!(sample.max_memory_mb > 0, "{sample:?}");
        }
    }
    let other = &results.functions[1];
    assert!(
        results
            .summary(other, Metric::Init)
            .unwrap()
            .ratio
            .is_some()
    );
    assert!(
        results
            .summary(&results.functions[0], Metric::Init)
            .unwrap()
            .ratio
            .is_none()
    );
    let table = results.to_string();
    assert!(
        table.contains("(baseline)") && table.contains("  ratio"),
        "{table}"
    );
}

#[tokio::test]
async fn a_function_that_crashes_at_init_fails_the_benchmark_with_its_output() {
    let bench = ColdStartBench::new("it")
        .function(function("crash-at-init"))
        .prepare()
        .await
        .unwrap();
    let error = bench.run_rounds(1, false).await.unwrap_err();
    bench.shutdown().await;
    assert!(error.is_function_failure(), "{error:?}");
    let text = error.to_string();
    assert!(text.contains("DATABASE_URL is not set"), "{text}");
}

/// What a refused benchmark's error must match.
type ExpectedError = fn(&BenchError) -> bool;

#[tokio::test]
async fn a_benchmark_that_cannot_run_is_refused_before_any_process_starts() {
    let cases: Vec<(ColdStartBench, ExpectedError)> = vec![
        (ColdStartBench::new("none"), |e| {
            matches!(e, BenchError::NoFunction)
        }),
        (
            ColdStartBench::new("twice")
                .function(function("python-hello"))
                .function(function("python-hello")),
            |e| matches!(e, BenchError::DuplicateLabel(l) if l == "python-hello"),
        ),
        (
            ColdStartBench::new("two baselines")
                .function(function("python-hello").baseline())
                .function(function("python-imports").baseline()),
            |e| matches!(e, BenchError::TwoBaselines(..)),
        ),
        (
            ColdStartBench::new("unknown baseline")
                .function(function("python-hello"))
                .baseline("rust"),
            |e| matches!(e, BenchError::UnknownBaseline(l) if l == "rust"),
        ),
        (
            ColdStartBench::new("malformed")
                .function(function("python-hello"))
                .event("{\"a\":"),
            |e| matches!(e, BenchError::MalformedEvent { .. }),
        ),
        (
            ColdStartBench::new("few")
                .function(function("python-hello"))
                .samples(3),
            |e| matches!(e, BenchError::TooFewSamples { asked: 3, min: 10 }),
        ),
        (
            ColdStartBench::new("missing").function(BenchFunction::path("/nonexistent/bootstrap")),
            |e| matches!(e, BenchError::Executable { .. }),
        ),
    ];
    for (bench, expected) in cases {
        let error = bench.prepare().await.unwrap_err();
        assert!(expected(&error), "{error:?}");
        assert!(error.is_input_error(), "{error:?}");
    }
}
