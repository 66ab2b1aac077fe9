use super::*;
use proptest::prelude::{Just, any, prop_assert_eq, prop_oneof, proptest};
use proptest::strategy::Strategy as _;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn percents(strategy: &Strategy) -> Vec<f64> {
    strategy.steps().iter().map(|s| s.percent).collect()
}

#[test]
fn presets_expand_to_codedeploy_steps() {
    let table: &[(&str, &[f64], u64)] = &[
        ("canary10-5m", &[10.0], 300),
        ("canary10-10m", &[10.0], 600),
        ("canary10-15m", &[10.0], 900),
        ("canary10-30m", &[10.0], 1800),
        (
            "linear10-1m",
            &[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0],
            60,
        ),
        (
            "linear10-2m",
            &[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0],
            120,
        ),
        (
            "linear10-3m",
            &[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0],
            180,
        ),
        (
            "linear10-10m",
            &[10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0, 80.0, 90.0],
            600,
        ),
        ("all-at-once", &[], 0),
    ];
    assert_eq!(table.len(), PRESETS.len());
    for (name, expected, hold) in table {
        let strategy: Strategy = name.parse().unwrap();
        assert_eq!(percents(&strategy), *expected, "{name}");
        assert!(
            strategy.steps().iter().all(|s| s.hold == secs(*hold)),
            "{name}"
        );
        assert_eq!(strategy.preset_name(), Some(*name));
        assert_eq!(strategy.to_string(), *name);
        assert_eq!(
            strategy.total_duration(),
            secs(hold * expected.len() as u64),
            "{name}"
        );
    }
}

#[test]
fn custom_steps_take_the_next_duration() {
    let strategy: Strategy = "steps:5@1m,25,50@2m".parse().unwrap();
    assert_eq!(
        strategy.steps(),
        &[
            Step {
                percent: 5.0,
                hold: secs(60)
            },
            Step {
                percent: 25.0,
                hold: secs(120)
            },
            Step {
                percent: 50.0,
                hold: secs(120)
            },
        ]
    );
    assert_eq!(strategy.preset_name(), None);
    assert_eq!(strategy.to_string(), "steps:5@1m,25@2m,50@2m");
    assert_eq!(strategy.total_duration(), secs(300));

    let strategy: Strategy = "steps:5,25,50@2m".parse().unwrap();
    assert_eq!(strategy.to_string(), "steps:5@2m,25@2m,50@2m");
    let strategy: Strategy = " steps: 2.5@30s, 12.5 @ 1h30m ".parse().unwrap();
    assert_eq!(strategy.to_string(), "steps:2.5@30s,12.5@1h30m");
}

#[test]
fn a_preset_spelled_as_steps_is_custom_but_equal_in_steps() {
    let custom: Strategy = "steps:10@5m".parse().unwrap();
    let preset: Strategy = "canary10-5m".parse().unwrap();
    assert_eq!(custom.steps(), preset.steps());
    assert_ne!(custom, preset);
    assert_eq!(custom.to_string().parse::<Strategy>().unwrap(), custom);
}

#[test]
fn bad_strategies_say_what_is_wrong() {
    let table: &[(&str, &str)] = &[
        (
            "canary10-7m",
            "unknown strategy \"canary10-7m\": use one of canary10-5m, canary10-10m, \
             canary10-15m, canary10-30m, linear10-1m, linear10-2m, linear10-3m, \
             linear10-10m, all-at-once, or steps:PERCENT[@DURATION],... (for example \
             steps:5,25,50@2m)",
        ),
        ("", "unknown strategy \"\""),
        ("steps:", "the step list is empty"),
        ("steps:5,25,20@2m", "step 3 (20%) is not above step 2 (25%)"),
        ("steps:5,5@2m", "step 2 (5%) is not above step 1 (5%)"),
        ("steps:0@1m", "step 1 (0%) must be above 0% and below 100%"),
        (
            "steps:50,100@1m",
            "step 2 (100%) must be above 0% and below 100%",
        ),
        ("steps:5,25,50", "the last step (50%) needs a hold duration"),
        ("steps:5@2m,x@1m", "step 2: \"x\" is not a percent"),
        ("steps:-5@2m", "step 1: \"-5\" is not a percent"),
        ("steps:1e1@2m", "step 1: \"1e1\" is not a percent"),
        ("steps:NaN@2m", "step 1: \"NaN\" is not a percent"),
        (
            "steps:5@500ms",
            "step 1 holds 500ms, under the minimum of 1s",
        ),
        (
            "steps:5@2x",
            "step 1: bad hold duration: \"2x\" is not a duration",
        ),
        (
            "steps:5@",
            "step 1: bad hold duration: \"\" is not a duration (it is empty)",
        ),
        ("steps:5,,25@1m", "step 2: \"\" is not a percent"),
    ];
    for (text, expected) in table {
        let error = text.parse::<Strategy>().unwrap_err().to_string();
        assert!(error.starts_with(expected), "{text:?} gave {error:?}");
    }
    let many = (1..=21)
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",")
        + "@1m";
    let error = format!("steps:{many}").parse::<Strategy>().unwrap_err();
    assert_eq!(error.to_string(), "21 steps is too many: at most 20");
    assert_eq!(error.kind(), &StrategyErrorKind::TooMany(21));
    let twenty = (1..=20)
        .map(|p| p.to_string())
        .collect::<Vec<_>>()
        .join(",")
        + "@1m";
    assert_eq!(
        format!("steps:{twenty}")
            .parse::<Strategy>()
            .unwrap()
            .steps()
            .len(),
        20
    );
}

#[test]
fn custom_constructor_checks_like_the_parser() {
    let ok = Strategy::custom(vec![Step {
        percent: 10.0,
        hold: secs(1),
    }])
    .unwrap();
    assert_eq!(ok.to_string(), "steps:10@1s");
    let error = Strategy::custom(vec![Step {
        percent: f64::NAN,
        hold: secs(1),
    }])
    .unwrap_err();
    assert!(error.to_string().contains("must be above 0%"));
    assert_eq!(
        Strategy::custom(vec![]).unwrap_err().kind(),
        &StrategyErrorKind::Empty
    );
    let error = Strategy::custom(vec![Step {
        percent: 10.0,
        hold: Duration::ZERO,
    }])
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "step 1 holds 0s, under the minimum of 1s"
    );
}

#[test]
fn serde_uses_the_text_form() {
    let strategy: Strategy = "steps:5,25@90s".parse().unwrap();
    let json = serde_json::to_string(&strategy).unwrap();
    assert_eq!(json, "\"steps:5@1m30s,25@1m30s\"");
    assert_eq!(serde_json::from_str::<Strategy>(&json).unwrap(), strategy);
    assert_eq!(
        serde_json::to_string(&"linear10-2m".parse::<Strategy>().unwrap()).unwrap(),
        "\"linear10-2m\""
    );
    let error = serde_json::from_str::<Strategy>("\"canary10-7m\"").unwrap_err();
    assert!(error.to_string().contains("unknown strategy"), "{error}");
}

#[test]
fn durations_parse_and_format() {
    let table: &[(&str, Duration, &str)] = &[
        ("30s", secs(30), "30s"),
        ("2m", secs(120), "2m"),
        ("1h", secs(3600), "1h"),
        ("1h30m", secs(5400), "1h30m"),
        ("90s", secs(90), "1m30s"),
        ("90m", secs(5400), "1h30m"),
        ("500ms", Duration::from_millis(500), "500ms"),
        ("1s500ms", Duration::from_millis(1500), "1s500ms"),
        ("0s", Duration::ZERO, "0s"),
        ("2h0m5s", secs(7205), "2h5s"),
        ("7us", Duration::from_micros(7), "7us"),
        ("1ms3ns", Duration::from_nanos(1_000_003), "1ms3ns"),
    ];
    for (text, duration, canonical) in table {
        assert_eq!(parse_duration(text), Ok(*duration), "{text}");
        assert_eq!(format_duration(*duration), *canonical, "{text}");
    }
}

#[test]
fn bad_durations_are_errors() {
    for (text, why) in [
        ("", "it is empty"),
        ("5", "every number needs a unit"),
        ("m", "a number must come before each unit"),
        ("5d", "the units are h, m, s, ms, us and ns"),
        ("1m1h", "units must go from largest to smallest"),
        ("1m1m", "units must go from largest to smallest"),
        ("1.5m", "fractions are not accepted"),
        ("-1s", "a number must come before each unit"),
        (
            "99999999999999999999999999999999999999999h",
            "a number is too large",
        ),
        ("9999999999999999999999h", "it is too long"),
    ] {
        let error = parse_duration(text).unwrap_err();
        assert!(error.contains(why), "{text:?} gave {error:?}");
        assert!(error.contains("30s, 2m, 1h30m or 500ms"), "{error}");
    }
}

fn arb_strategy() -> impl proptest::strategy::Strategy<Value = Strategy> {
    let preset = proptest::sample::select(PRESETS).prop_map(|name| name.parse().unwrap());
    let custom =
        proptest::collection::btree_set(1u32..100_000, 1..=MAX_STEPS).prop_flat_map(|set| {
            let n = set.len();
            (
                Just(set),
                proptest::collection::vec(1u64..100_000, n),
                proptest::collection::vec(0u32..1000, n),
            )
                .prop_map(|(set, holds, millis)| {
                    let steps = set
                        .into_iter()
                        .zip(holds.into_iter().zip(millis))
                        // Thousandths of a percent, so that percents like 12.345 occur.
                        .map(|(p, (s, ms))| Step {
                            percent: f64::from(p) / 1000.0,
                            hold: Duration::from_secs(s) + Duration::from_millis(u64::from(ms)),
                        })
                        .collect();
                    Strategy::custom(steps).unwrap()
                })
        });
    prop_oneof![preset, custom]
}

proptest! {
    #[test]
    fn display_round_trips(strategy in arb_strategy()) {
        let text = strategy.to_string();
        prop_assert_eq!(text.parse::<Strategy>().unwrap(), strategy);
    }

    #[test]
    fn durations_round_trip(nanos in any::<u64>(), secs in any::<u64>()) {
        for duration in [Duration::from_nanos(nanos), Duration::from_secs(secs)] {
            prop_assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }
    }

    #[test]
    fn strategy_parser_never_panics(text in ".*") {
        let _ = text.parse::<Strategy>();
        let _ = format!("steps:{text}").parse::<Strategy>();
    }

    #[test]
    fn strategy_parser_never_panics_on_near_misses(text in "steps:[0-9.,@hmsu ]{0,40}") {
        if let Ok(strategy) = text.parse::<Strategy>() {
            prop_assert_eq!(strategy.to_string().parse::<Strategy>().unwrap(), strategy);
        }
    }

    #[test]
    fn duration_parser_never_panics(text in ".*", near in "[0-9hmsun]{0,30}") {
        let _ = parse_duration(&text);
        if let Ok(duration) = parse_duration(&near) {
            prop_assert_eq!(parse_duration(&format_duration(duration)), Ok(duration));
        }
    }
}
