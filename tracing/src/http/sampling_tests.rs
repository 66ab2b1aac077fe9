use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Duration,
};

use proptest::prelude::*;

use super::*;

const FILE: &str = r#"{
    "version": 2,
    "rules": [
        {"description": "health checks", "host": "*", "http_method": "GET", "url_path": "/health", "fixed_target": 0, "rate": 0},
        {"description": "orders", "host": "api.example.com", "http_method": "*", "url_path": "/orders/*", "fixed_target": 2, "rate": 0.5}
    ],
    "default": {"fixed_target": 1, "rate": 0.05}
}"#;

#[test]
fn parses_a_version_2_file() {
    let rules = SamplingRules::parse(FILE).expect("rules");
    assert_eq!(rules.rules().len(), 2);
    assert_eq!(
        rules.rules()[1],
        SamplingRule {
            description: Some("orders".into()),
            host: "api.example.com".into(),
            http_method: "*".into(),
            url_path: "/orders/*".into(),
            fixed_target: 2,
            rate: 0.5,
        }
    );
    assert_eq!(rules.default_target(), (1, 0.05));
    assert_eq!(SamplingRules::default().default_target(), (1, 0.05));
    let v1 = SamplingRules::parse(
        r#"{"version":1,"rules":[{"service_name":"a","http_method":"GET","url_path":"/","fixed_target":1,"rate":0.1}],"default":{"fixed_target":0,"rate":0}}"#,
    )
    .expect("v1");
    assert_eq!(v1.rules()[0].host, "a");
    assert_eq!(v1.rules()[0].description, None);
}

#[test]
fn refuses_bad_files() {
    let cases: &[(&str, &str)] = &[
        ("nope", "Json"),
        ("[]", "Json"),
        (
            r#"{"default":{"fixed_target":1,"rate":0.05}}"#,
            "UnsupportedVersion",
        ),
        (
            r#"{"version":3,"default":{"fixed_target":1,"rate":0.05}}"#,
            "UnsupportedVersion",
        ),
        (r#"{"version":2}"#, "MissingDefault"),
        (
            r#"{"version":2,"default":{"fixed_target":1,"rate":0.05,"host":"*"}}"#,
            "DefaultWithMatcher",
        ),
        (
            r#"{"version":2,"default":{"rate":0.05}}"#,
            "InvalidField default fixed_target",
        ),
        (
            r#"{"version":2,"default":{"fixed_target":-1,"rate":0.05}}"#,
            "InvalidField default fixed_target",
        ),
        (
            r#"{"version":2,"default":{"fixed_target":1,"rate":1.5}}"#,
            "InvalidField default rate",
        ),
        (
            r#"{"version":2,"default":{"fixed_target":1,"rate":"x"}}"#,
            "InvalidField default rate",
        ),
        (
            r#"{"version":2,"rules":{},"default":{"fixed_target":1,"rate":0}}"#,
            "InvalidField rules rules",
        ),
        (
            r#"{"version":2,"rules":[{"http_method":"*","url_path":"*","fixed_target":1,"rate":0}],"default":{"fixed_target":1,"rate":0}}"#,
            "InvalidField 0 host",
        ),
        (
            r#"{"version":1,"rules":[{"host":"*","http_method":"*","url_path":"*","fixed_target":1,"rate":0}],"default":{"fixed_target":1,"rate":0}}"#,
            "InvalidField 0 service_name",
        ),
        (
            r#"{"version":2,"rules":[{"host":"*","http_method":"*","url_path":"*","fixed_target":1,"rate":0,"description":3}],"default":{"fixed_target":1,"rate":0}}"#,
            "InvalidField 0 description",
        ),
    ];
    for (text, expected) in cases {
        let error = SamplingRules::parse(text).expect_err(text);
        let shown = match &error {
            SamplingRulesError::Json(_) => "Json".to_owned(),
            SamplingRulesError::UnsupportedVersion(_) => "UnsupportedVersion".to_owned(),
            SamplingRulesError::MissingDefault => "MissingDefault".to_owned(),
            SamplingRulesError::DefaultWithMatcher(_) => "DefaultWithMatcher".to_owned(),
            SamplingRulesError::InvalidField { rule, field, .. } => {
                format!("InvalidField {rule} {field}")
            }
            SamplingRulesError::Read { .. } => "Read".to_owned(),
        };
        assert_eq!(&shown, expected, "{text}: {error}");
    }
    assert!(matches!(
        SamplingRules::from_file("/nonexistent/sampling.json"),
        Err(SamplingRulesError::Read { .. })
    ));
}

#[test]
fn wildcards() {
    for (pattern, value, expected) in [
        ("*", Some("anything"), true),
        ("/orders/*", Some("/orders/42"), true),
        ("/orders/*", Some("/users/42"), false),
        ("/o?ders", Some("/orders"), true),
        ("/o?ders", Some("/oders"), false),
        ("GET", Some("get"), true),
        ("*.EXAMPLE.com", Some("api.example.COM"), true),
        ("a*b*c", Some("aXXbYYc"), true),
        ("a*b*c", Some("aXXbYY"), false),
        ("abc", Some("abcd"), false),
        ("", Some("x"), false),
        ("", Some(""), true),
        ("exact", None, true),
    ] {
        assert_eq!(matches(pattern, value), expected, "{pattern} {value:?}");
    }
}

#[test]
fn first_matching_rule_wins() {
    let rules = SamplingRules::parse(FILE).expect("rules");
    let request = |host, method, path| SamplingRequest {
        host: Some(host),
        method: Some(method),
        url_path: Some(path),
    };
    assert_eq!(
        rules.matching_rule(&request("x", "GET", "/health")),
        Some(0)
    );
    assert_eq!(rules.matching_rule(&request("x", "POST", "/health")), None);
    assert_eq!(
        rules.matching_rule(&request("api.example.com", "POST", "/orders/1")),
        Some(1)
    );
    assert_eq!(
        rules.matching_rule(&request("other.com", "POST", "/orders/1")),
        None
    );
    assert_eq!(rules.matching_rule(&SamplingRequest::default()), Some(0));
}

/// A sampler whose clock is `second` (set through the returned counter) and whose random
/// numbers are always `random`.
fn sampler(rules: SamplingRules, random: f64) -> (Sampler, Arc<AtomicU64>) {
    let second = Arc::new(AtomicU64::new(1_700_000_000));
    let clock = Arc::clone(&second);
    let sampler = Sampler::new(rules)
        .with_clock(move || UNIX_EPOCH + Duration::from_secs(clock.load(Ordering::SeqCst)))
        .with_random(move || random);
    (sampler, second)
}

#[test]
fn reservoir_per_rule_per_second_then_rate() {
    let rules = SamplingRules::parse(FILE).expect("rules");
    let orders = SamplingRequest {
        host: Some("api.example.com"),
        method: Some("GET"),
        url_path: Some("/orders/7"),
    };
    let other = SamplingRequest {
        host: Some("b"),
        method: Some("GET"),
        url_path: Some("/x"),
    };
    let health = SamplingRequest {
        url_path: Some("/health"),
        ..other
    };
    // Random 0.9: above every rate, so only reservoirs sample.
    let (high, second) = sampler(rules.clone(), 0.9);
    let decisions: Vec<bool> = (0..4).map(|_| high.sample(&orders)).collect();
    assert_eq!(decisions, [true, true, false, false]);
    let decisions: Vec<bool> = (0..3).map(|_| high.sample(&other)).collect();
    assert_eq!(decisions, [true, false, false]);
    assert!(!high.sample(&health));
    second.fetch_add(1, Ordering::SeqCst);
    assert!(high.sample(&orders) && high.sample(&orders) && !high.sample(&orders));
    assert!(high.sample(&other) && !high.sample(&other));
    // Random 0.3: below the orders rule's 0.5, above the default's 0.05.
    let (mid, _) = sampler(rules.clone(), 0.3);
    assert!((0..5).all(|_| mid.sample(&orders)));
    assert_eq!(
        (0..3).map(|_| mid.sample(&other)).collect::<Vec<_>>(),
        [true, false, false]
    );
    // Random 0.01: below the default's 0.05; the health rule's rate 0 never samples.
    let (low, _) = sampler(rules, 0.01);
    assert!((0..5).all(|_| low.sample(&other)));
    assert!((0..5).all(|_| !low.sample(&health)));
}

#[test]
fn real_randomness_stays_near_the_rate() {
    let rules = SamplingRules::parse(r#"{"version":2,"default":{"fixed_target":0,"rate":0.5}}"#)
        .expect("rules");
    let sampler = Sampler::new(rules);
    let sampled = (0..2000)
        .filter(|_| sampler.sample(&SamplingRequest::default()))
        .count();
    assert!((700..1300).contains(&sampled), "{sampled}");
}

proptest! {
    #[test]
    fn parser_never_panics(text in ".*") {
        let _ = SamplingRules::parse(&text);
    }

    #[test]
    fn parser_never_panics_on_json_shapes(
        version in prop_oneof![Just(serde_json::json!(1)), Just(serde_json::json!(2)), any::<i64>().prop_map(serde_json::Value::from)],
        fixed in any::<i64>(),
        rate in any::<f64>(),
        host in prop_oneof![Just(serde_json::Value::Null), ".*".prop_map(serde_json::Value::from), any::<i64>().prop_map(serde_json::Value::from)],
        with_default in any::<bool>(),
    ) {
        let rule = serde_json::json!({"host": host, "service_name": host, "http_method": "*", "url_path": "*", "fixed_target": fixed, "rate": rate});
        let mut file = serde_json::json!({"version": version, "rules": [rule]});
        if with_default {
            file["default"] = serde_json::json!({"fixed_target": fixed, "rate": rate});
        }
        if let Ok(rules) = SamplingRules::parse(&file.to_string()) {
            prop_assert!(with_default && fixed >= 0 && (0.0..=1.0).contains(&rate));
            prop_assert_eq!(rules.rules().len(), 1);
            prop_assert_eq!(rules.default_target().0, fixed.unsigned_abs());
        }
    }

    #[test]
    fn round_trips(
        rules in prop::collection::vec(("[a-z*?.]{0,10}", "[A-Z*]{0,6}", "[/a-z*?]{0,10}", 0_u64..100, 0.0_f64..=1.0), 0..5),
        fixed in 0_u64..100, rate in 0.0_f64..=1.0,
    ) {
        let json_rules: Vec<serde_json::Value> = rules
            .iter()
            .map(|(host, method, path, fixed, rate)| serde_json::json!({"host": host, "http_method": method, "url_path": path, "fixed_target": fixed, "rate": rate}))
            .collect();
        let file = serde_json::json!({"version": 2, "rules": json_rules, "default": {"fixed_target": fixed, "rate": rate}});
        let parsed = SamplingRules::parse(&file.to_string()).expect("valid file");
        // serde_json's float parsing may differ from the written value in the last bit.
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        prop_assert_eq!(parsed.default_target().0, fixed);
        prop_assert!(close(parsed.default_target().1, rate));
        prop_assert_eq!(parsed.rules().len(), rules.len());
        for (rule, (host, method, path, fixed, rate)) in parsed.rules().iter().zip(&rules) {
            prop_assert_eq!((&rule.host, &rule.http_method, &rule.url_path, rule.fixed_target), (host, method, path, *fixed));
            prop_assert!(close(rule.rate, *rate));
        }
    }

    #[test]
    fn star_matches_everything_and_literals_match_themselves(value in "[a-zA-Z0-9/._-]{1,20}") {
        prop_assert!(matches("*", Some(&value)));
        prop_assert!(matches(&value.to_uppercase(), Some(&value)));
        let any_one: String = value.chars().map(|_| '?').collect();
        prop_assert!(matches(&any_one, Some(&value)));
        let longer = format!("{any_one}?");
        prop_assert!(!matches(&longer, Some(&value)));
    }
}
