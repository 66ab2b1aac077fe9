use std::time::Duration;

use proptest::prelude::*;

use super::*;

fn at_most(limit: f64) -> Threshold {
    Threshold {
        limit,
        inclusive: true,
    }
}

fn below(limit: f64) -> Threshold {
    Threshold {
        limit,
        inclusive: false,
    }
}

#[test]
fn gates_parse_and_print_canonically() {
    let table: Vec<(&str, GateSpec, &str)> = vec![
        (
            "error-rate<=1%",
            GateSpec::ErrorRate(at_most(1.0)),
            "error-rate<=1%",
        ),
        (
            "error-rate<0.5%",
            GateSpec::ErrorRate(below(0.5)),
            "error-rate<0.5%",
        ),
        (
            "error-rate<=100%",
            GateSpec::ErrorRate(at_most(100.0)),
            "error-rate<=100%",
        ),
        (
            "error-rate<=1.0%",
            GateSpec::ErrorRate(at_most(1.0)),
            "error-rate<=1%",
        ),
        (
            "error-rate<=stable",
            GateSpec::ErrorRateVsStable { alpha: 0.05 },
            "error-rate<=stable",
        ),
        (
            "error-rate<stable",
            GateSpec::ErrorRateVsStable { alpha: 0.05 },
            "error-rate<=stable",
        ),
        (
            "error-rate<=stable@0.05",
            GateSpec::ErrorRateVsStable { alpha: 0.05 },
            "error-rate<=stable",
        ),
        (
            "error-rate<=stable@0.01",
            GateSpec::ErrorRateVsStable { alpha: 0.01 },
            "error-rate<=stable@0.01",
        ),
        ("errors<=5", GateSpec::Errors(at_most(5.0)), "errors<=5"),
        ("errors<1", GateSpec::Errors(below(1.0)), "errors<1"),
        (
            "throttles<=0",
            GateSpec::Throttles(at_most(0.0)),
            "throttles<=0",
        ),
        (
            "throttles<=-0",
            GateSpec::Throttles(at_most(0.0)),
            "throttles<=0",
        ),
        (
            "duration-p99<=800ms",
            GateSpec::DurationP99 {
                limit: Duration::from_millis(800),
                inclusive: true,
            },
            "duration-p99<=800ms",
        ),
        (
            "duration-p99<1500ms",
            GateSpec::DurationP99 {
                limit: Duration::from_millis(1500),
                inclusive: false,
            },
            "duration-p99<1s500ms",
        ),
        (
            "alarm:orders-5xx",
            GateSpec::Alarm("orders-5xx".into()),
            "alarm:orders-5xx",
        ),
        (
            "alarm:a b:c",
            GateSpec::Alarm("a b:c".into()),
            "alarm:a b:c",
        ),
        (
            "metric:lamina/tracing/ColdStarts{Service=orders,Version={version}}:sum<=3",
            GateSpec::Metric(MetricGate {
                namespace: "lamina/tracing".into(),
                name: "ColdStarts".into(),
                dimensions: vec![
                    ("Service".into(), "orders".into()),
                    ("Version".into(), "{version}".into()),
                ],
                statistic: Statistic::Sum,
                threshold: at_most(3.0),
            }),
            "metric:lamina/tracing/ColdStarts{Service=orders,Version={version}}:sum<=3",
        ),
        (
            "metric:AWS/Lambda/Duration{Resource=orders:live}:p99.9<2000",
            GateSpec::Metric(MetricGate {
                namespace: "AWS/Lambda".into(),
                name: "Duration".into(),
                dimensions: vec![("Resource".into(), "orders:live".into())],
                statistic: Statistic::Percentile(99.9),
                threshold: below(2000.0),
            }),
            "metric:AWS/Lambda/Duration{Resource=orders:live}:p99.9<2000",
        ),
        (
            "metric:App/Temp:avg<=-4.5",
            GateSpec::Metric(MetricGate {
                namespace: "App".into(),
                name: "Temp".into(),
                dimensions: vec![],
                statistic: Statistic::Average,
                threshold: at_most(-4.5),
            }),
            "metric:App/Temp:avg<=-4.5",
        ),
        ("manual", GateSpec::Manual { at_percent: None }, "manual"),
        (
            "manual@50",
            GateSpec::Manual {
                at_percent: Some(50.0),
            },
            "manual@50",
        ),
        (" errors<=5 ", GateSpec::Errors(at_most(5.0)), "errors<=5"),
    ];
    for (text, expected, canonical) in table {
        let gate: GateSpec = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(gate, expected, "{text}");
        assert_eq!(gate.to_string(), canonical, "{text}");
        assert_eq!(canonical.parse::<GateSpec>().unwrap(), gate, "{text}");
    }
    for (text, statistic) in [
        ("max", Statistic::Maximum),
        ("min", Statistic::Minimum),
        ("count", Statistic::SampleCount),
        ("p50", Statistic::Percentile(50.0)),
    ] {
        let gate: GateSpec = format!("metric:N/M:{text}<=1").parse().unwrap();
        let GateSpec::Metric(metric) = &gate else {
            panic!("{gate:?}")
        };
        assert_eq!(metric.statistic, statistic);
        assert_eq!(gate.to_string(), format!("metric:N/M:{text}<=1"));
    }
}

#[test]
fn manual_gates() {
    let manual: GateSpec = "manual".parse().unwrap();
    assert!(manual.is_manual());
    assert_eq!(manual.manual_pause_percent(), Some(100.0));
    let at_fifty: GateSpec = "manual@50".parse().unwrap();
    assert!(at_fifty.is_manual());
    assert_eq!(at_fifty.manual_pause_percent(), Some(50.0));
    let errors: GateSpec = "errors<=5".parse().unwrap();
    assert!(!errors.is_manual());
    assert_eq!(errors.manual_pause_percent(), None);
}

#[test]
fn bad_gates_say_what_is_wrong() {
    let table: &[(&str, &str)] = &[
        (
            "latency<1",
            "unknown gate \"latency<1\": use error-rate<=1%, error-rate<=stable[@0.05], \
             errors<=N, throttles<=N, duration-p99<=800ms, alarm:NAME, \
             metric:NAMESPACE/NAME{Dim=Value,...}:STAT<=N, manual or manual@PERCENT",
        ),
        ("", "unknown gate \"\""),
        ("errors", "unknown gate \"errors\""),
        ("errors>=5", "unknown gate \"errors>=5\""),
        (
            "error-rate<=stabler",
            "unknown gate \"error-rate<=stabler\"",
        ),
        ("error-rate<=150%", "error-rate threshold 150% is over 100%"),
        (
            "error-rate<=1",
            "error-rate threshold \"1\" needs a % sign, as in error-rate<=1%",
        ),
        ("error-rate<=-1%", "error-rate limit -1 is below 0"),
        ("error-rate<=x%", "error-rate: \"<=x\" is not a limit"),
        ("errors<=five", "errors: \"<=five\" is not a limit"),
        ("errors<=1e3", "errors: \"<=1e3\" is not a limit"),
        ("errors<=NaN", "errors: \"<=NaN\" is not a limit"),
        ("errors<<=5", "errors: \"<<=5\" is not a limit"),
        ("throttles<=-1", "throttles limit -1 is below 0"),
        (
            "duration-p99<=800",
            "duration-p99: \"800\" is not a duration (every number needs a unit",
        ),
        (
            "error-rate<=stable@1.5",
            "error-rate<=stable: significance level \"1.5\" must be a number above 0 and below 1",
        ),
        (
            "error-rate<=stable@0",
            "error-rate<=stable: significance level \"0\"",
        ),
        ("alarm:", "alarm name \"\" is empty"),
        (
            "alarm:a\u{7}",
            "alarm name \"a\\u{7}\" contains a control character",
        ),
        (
            "manual@0",
            "manual gate \"manual@0\": the percent must be a number above 0 and at most 100",
        ),
        ("manual@101", "manual gate \"manual@101\""),
        ("manual@", "manual gate \"manual@\""),
        (
            "metric:Errors:sum<=1",
            "metric gate \"metric:Errors:sum<=1\": \"Errors\" is not NAMESPACE/NAME",
        ),
        (
            "metric:A/B",
            "metric gate \"metric:A/B\": it has no :STAT<=N part; write metric:NAMESPACE/NAME",
        ),
        (
            "metric:A/B:median<=1",
            "metric gate \"metric:A/B:median<=1\": \"median\" is not a statistic",
        ),
        (
            "metric:A/B:p101<=1",
            "metric gate \"metric:A/B:p101<=1\": \"p101\" is not a statistic",
        ),
        (
            "metric:A/B:sum>=1",
            "metric gate \"metric:A/B:sum>=1\": \"sum>=1\" has no <= or < limit",
        ),
        (
            "metric:A/B:sum<=x",
            "metric gate \"metric:A/B:sum<=x\": metric: \"<=x\" is not a limit",
        ),
        ("metric:A/B{X=1:sum<=1", "the dimensions do not end with }"),
        ("metric:A/B{X}:sum<=1", "dimension \"X\" is not Name=Value"),
        (
            "metric:A/B{X=}:sum<=1",
            "dimension \"X=\" has an empty name or value",
        ),
        ("metric:/B:sum<=1", "\"/B\" has an empty namespace or name"),
    ];
    for (text, expected) in table {
        let error = text.parse::<GateSpec>().unwrap_err().to_string();
        assert!(error.contains(expected), "{text:?} gave {error:?}");
    }
    let many: Vec<String> = (0..31).map(|i| format!("D{i}=v")).collect();
    let error = format!("metric:A/B{{{}}}:sum<=1", many.join(","))
        .parse::<GateSpec>()
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("it has 31 dimensions; CloudWatch allows 30"),
        "{error}"
    );
}

#[test]
fn serde_uses_the_text_form() {
    let gates: Vec<GateSpec> = ["errors<=5", "manual@50", "metric:A/B{V={version}}:p99<=3"]
        .iter()
        .map(|t| t.parse().unwrap())
        .collect();
    let json = serde_json::to_string(&gates).unwrap();
    assert_eq!(
        json,
        r#"["errors<=5","manual@50","metric:A/B{V={version}}:p99<=3"]"#
    );
    assert_eq!(serde_json::from_str::<Vec<GateSpec>>(&json).unwrap(), gates);
    let error = serde_json::from_str::<GateSpec>(r#""latency<1""#).unwrap_err();
    assert!(error.to_string().contains("unknown gate"), "{error}");
}

fn arb_threshold() -> impl Strategy<Value = Threshold> {
    (0u32..1_000_000, any::<bool>()).prop_map(|(thousandths, inclusive)| Threshold {
        limit: f64::from(thousandths) / 1000.0,
        inclusive,
    })
}

fn arb_gate() -> impl Strategy<Value = GateSpec> {
    let word = "[A-Za-z0-9_.#-]{1,12}";
    let statistic = prop_oneof![
        Just(Statistic::Sum),
        Just(Statistic::Average),
        Just(Statistic::Maximum),
        Just(Statistic::Minimum),
        Just(Statistic::SampleCount),
        (0u32..=1000).prop_map(|p| Statistic::Percentile(f64::from(p) / 10.0)),
    ];
    let metric = (
        proptest::collection::vec(word, 1..3),
        word,
        proptest::collection::vec((word, "[A-Za-z0-9:{}/ =_-]{1,12}"), 0..4),
        statistic,
        arb_threshold(),
    )
        .prop_map(|(namespace, name, dimensions, statistic, threshold)| {
            GateSpec::Metric(MetricGate {
                namespace: namespace.join("/"),
                name,
                dimensions,
                statistic,
                threshold,
            })
        });
    prop_oneof![
        arb_threshold()
            .prop_filter("at most 100%", |t| t.limit <= 100.0)
            .prop_map(GateSpec::ErrorRate),
        (1u32..1000).prop_map(|a| GateSpec::ErrorRateVsStable {
            alpha: f64::from(a) / 1000.0
        }),
        arb_threshold().prop_map(GateSpec::Errors),
        arb_threshold().prop_map(GateSpec::Throttles),
        (any::<u32>(), any::<bool>()).prop_map(|(ms, inclusive)| GateSpec::DurationP99 {
            limit: Duration::from_millis(u64::from(ms)),
            inclusive
        }),
        "[A-Za-z0-9]([A-Za-z0-9:/ _.-]{0,20}[A-Za-z0-9])?".prop_map(GateSpec::Alarm),
        metric,
        proptest::option::of((1u32..=1000).prop_map(|p| f64::from(p) / 10.0))
            .prop_map(|at_percent| GateSpec::Manual { at_percent }),
    ]
}

proptest! {
    #[test]
    fn display_round_trips(gate in arb_gate()) {
        let text = gate.to_string();
        prop_assert_eq!(text.parse::<GateSpec>(), Ok(gate), "{}", text);
    }

    #[test]
    fn parser_never_panics_and_what_parses_round_trips(text in ".*") {
        if let Ok(gate) = text.parse::<GateSpec>() {
            prop_assert_eq!(gate.to_string().parse::<GateSpec>(), Ok(gate));
        }
    }

    #[test]
    fn near_misses_never_panic_and_round_trip(
        text in "(error-rate|errors|throttles|duration-p99|alarm:|metric:|manual@?)[a-z0-9<=%@.:/{},-]{0,30}",
    ) {
        if let Ok(gate) = text.parse::<GateSpec>() {
            prop_assert_eq!(gate.to_string().parse::<GateSpec>(), Ok(gate));
        }
    }
}
