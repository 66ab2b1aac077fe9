use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::UNIX_EPOCH,
};

use serde_json::{Value, json};

use super::{
    rules::{CentralRule, TargetsApplied},
    *,
};
use crate::http::SamplingRules;

const T0: u64 = 1_700_000_000;

fn at(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

fn record(rule: Value) -> Value {
    let mut full = json!({
        "RuleName": "r", "Priority": 1, "FixedRate": 0.0, "ReservoirSize": 0,
        "ServiceName": "*", "ServiceType": "*", "Host": "*", "HTTPMethod": "*",
        "URLPath": "*", "ResourceARN": "*", "Version": 1
    });
    if let (Some(full), Value::Object(rule)) = (full.as_object_mut(), rule) {
        full.extend(rule);
    }
    json!({ "SamplingRule": full, "CreatedAt": 1.0, "ModifiedAt": 1.0 })
}

fn rule(fields: Value) -> CentralRule {
    CentralRule::usable(&record(fields)).expect("usable rule")
}

fn cache(rules: Vec<CentralRule>, fetched: u64) -> RuleCache {
    let mut cache = RuleCache::default();
    cache.load(rules, at(fetched));
    cache
}

const GET: SamplingRequest<'static> = SamplingRequest {
    host: Some("api.example.com"),
    method: Some("GET"),
    url_path: Some("/orders/1"),
};

/// Decides at `second` with the random number `random`, returning the rule name if sampled.
fn decide(cache: &mut RuleCache, second: u64, random: f64) -> Option<Option<String>> {
    cache
        .decide(&GET, "orders", None, at(second), &|| random)
        .map(|outcome| {
            assert_eq!(outcome.sampled, outcome.rule_name.is_some());
            outcome.rule_name.map(|name| name.to_string())
        })
}

#[test]
fn only_usable_rules_are_kept() {
    let cases = [
        (json!({}), true),
        (json!({"Attributes": {}}), true),
        (json!({"Attributes": null}), true),
        (json!({"Version": 2}), false),
        (json!({"ResourceARN": "arn:aws:lambda:*"}), false),
        (json!({"ServiceType": ""}), false),
        (json!({"ServiceType": null}), false),
        (json!({"Attributes": {"team": "a"}}), false),
        (json!({"FixedRate": 1.5}), false),
        (json!({"ReservoirSize": -1}), false),
        (json!({"RuleName": 7}), false),
        (json!({"Host": null}), false),
    ];
    for (fields, usable) in cases {
        assert_eq!(
            CentralRule::usable(&record(fields.clone())).is_some(),
            usable,
            "{fields}"
        );
    }
    assert!(CentralRule::usable(&json!({"SamplingRule": "x"})).is_none());
    assert!(CentralRule::usable(&json!([])).is_none());
}

#[test]
fn rules_are_tried_by_priority_then_name_and_default_catches_the_rest() {
    let rules = vec![
        rule(json!({"RuleName": "Default", "Priority": 10000, "FixedRate": 1.0})),
        rule(
            json!({"RuleName": "b-orders", "Priority": 5, "URLPath": "/orders/*", "FixedRate": 1.0}),
        ),
        rule(
            json!({"RuleName": "a-orders", "Priority": 5, "URLPath": "/orders/*", "FixedRate": 1.0}),
        ),
        rule(json!({"RuleName": "first", "Priority": 1, "HTTPMethod": "POST", "FixedRate": 1.0})),
        rule(
            json!({"RuleName": "other-service", "Priority": 2, "ServiceName": "billing", "FixedRate": 1.0}),
        ),
        rule(
            json!({"RuleName": "ec2", "Priority": 3, "ServiceType": "AWS::EC2::*", "FixedRate": 1.0}),
        ),
    ];
    let mut cache = cache(rules, T0);
    let names: Vec<&str> = cache.rules.iter().map(|s| &*s.rule.name).collect();
    assert_eq!(
        names,
        [
            "first",
            "other-service",
            "ec2",
            "a-orders",
            "b-orders",
            "Default"
        ]
    );
    // Without an origin every ServiceType matches: `ec2` comes first.
    assert_eq!(decide(&mut cache, T0, 0.5), Some(Some("ec2".into())));
    let origin = Some("AWS::ECS::Container");
    let outcome = cache.decide(&GET, "orders", origin, at(T0), &|| 0.5);
    assert_eq!(
        outcome.and_then(|o| o.rule_name).as_deref(),
        Some("a-orders")
    );
    let health = SamplingRequest {
        url_path: Some("/health"),
        ..GET
    };
    let outcome = cache.decide(&health, "orders", origin, at(T0), &|| 0.5);
    assert_eq!(
        outcome.and_then(|o| o.rule_name).as_deref(),
        Some("Default")
    );
    let outcome = cache.decide(&health, "billing", origin, at(T0), &|| 0.5);
    assert_eq!(
        outcome.and_then(|o| o.rule_name).as_deref(),
        Some("other-service")
    );

    // No match and no `Default`: the local rules decide.
    let mut cache = super::tests::cache(vec![rule(json!({"URLPath": "/x"}))], T0);
    assert_eq!(decide(&mut cache, T0, 0.0), None);
}

#[test]
fn borrows_one_per_second_then_uses_the_fixed_rate() {
    let mut cache = cache(
        vec![rule(json!({"ReservoirSize": 5, "FixedRate": 0.25}))],
        T0,
    );
    assert_eq!(decide(&mut cache, T0, 0.9), Some(Some("r".into()))); // borrowed
    assert_eq!(decide(&mut cache, T0, 0.9), Some(None)); // 0.9 > 0.25
    // The SDKs sample when `random < rate`: a draw equal to the rate is not sampled.
    assert_eq!(decide(&mut cache, T0, 0.25), Some(None));
    assert_eq!(decide(&mut cache, T0, 0.2499), Some(Some("r".into()))); // random < rate
    assert_eq!(decide(&mut cache, T0 + 1, 0.9), Some(Some("r".into()))); // a new second
    let batches = cache.take_statistics(at(T0 + 2));
    let stats = &batches[0][0];
    assert_eq!(
        (
            &stats["RequestCount"],
            &stats["SampledCount"],
            &stats["BorrowCount"]
        ),
        (&json!(5), &json!(3), &json!(2))
    );
    assert_eq!(stats["Timestamp"], json!(T0 + 2));

    // Reservoir 0 and rate 0: nothing, whatever the random number, 0 included.
    let mut none = super::tests::cache(vec![rule(json!({}))], T0);
    for second in T0..T0 + 3 {
        assert_eq!(decide(&mut none, second, 0.0), Some(None));
    }
}

#[test]
fn a_quota_is_taken_per_second_until_its_ttl() {
    let mut cache = cache(
        vec![rule(json!({"ReservoirSize": 50, "FixedRate": 0.5}))],
        T0,
    );
    let answer = json!({"SamplingTargetDocuments": [{"RuleName": "r", "FixedRate": 0.1,
        "ReservoirQuota": 2, "ReservoirQuotaTTL": T0 + 10, "Interval": 7}],
        "LastRuleModification": T0 - 100});
    let applied = cache.apply_targets(&answer).expect("targets");
    assert_eq!(
        applied,
        TargetsApplied {
            refetch_rules: false,
            interval: Some(Duration::from_secs(7))
        }
    );
    let sampled =
        |cache: &mut RuleCache, second| decide(cache, second, 0.9) == Some(Some("r".into()));
    // Two per second from the quota, no borrowing, then the new rate (0.9 > 0.1).
    assert_eq!(
        (0..3).map(|_| sampled(&mut cache, T0)).collect::<Vec<_>>(),
        [true, true, false]
    );
    assert_eq!(
        (0..3)
            .map(|_| sampled(&mut cache, T0 + 10))
            .collect::<Vec<_>>(),
        [true, true, false]
    );
    assert_eq!(decide(&mut cache, T0 + 10, 0.05), Some(Some("r".into())));
    // Past the TTL: back to borrowing one per second.
    assert_eq!(
        (0..2)
            .map(|_| sampled(&mut cache, T0 + 11))
            .collect::<Vec<_>>(),
        [true, false]
    );
    let stats = &cache.take_statistics(at(T0 + 12))[0][0];
    assert_eq!(
        (
            &stats["RequestCount"],
            &stats["SampledCount"],
            &stats["BorrowCount"]
        ),
        (&json!(9), &json!(6), &json!(1))
    );
}

#[test]
fn statistics_reset_per_report_and_go_25_per_call() {
    let rules = (0..30)
        .map(|i| rule(json!({"RuleName": format!("r{i:02}"), "Priority": i, "URLPath": format!("/p{i}"), "FixedRate": 1.0})))
        .collect();
    let mut cache = cache(rules, T0);
    for i in 0..30 {
        let path = format!("/p{i}");
        let request = SamplingRequest {
            url_path: Some(&path),
            ..GET
        };
        let outcome = cache.decide(&request, "orders", None, at(T0), &|| 0.5);
        assert_eq!(outcome.map(|o| o.sampled), Some(true));
    }
    let batches = cache.take_statistics(at(T0));
    assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [25, 5]);
    let id = batches[0][0]["ClientID"].as_str().expect("client id");
    assert_eq!(id.len(), 24);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(batches.concat().iter().all(|d| d["ClientID"] == id));
    assert!(cache.take_statistics(at(T0 + 1)).is_empty());

    // Only rules matched since the last report.
    let request = SamplingRequest {
        url_path: Some("/p7"),
        ..GET
    };
    let _ = cache.decide(&request, "orders", None, at(T0), &|| 0.5);
    let batches = cache.take_statistics(at(T0 + 2));
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0][0]["RuleName"], "r07");
    assert_eq!(batches[0][0]["RequestCount"], 1);
}

#[test]
fn reloading_keeps_the_state_of_rules_that_stay() {
    let mut cache = cache(vec![rule(json!({"ReservoirSize": 1}))], T0);
    let answer = json!({"SamplingTargetDocuments": [{"RuleName": "r", "ReservoirQuota": 3,
        "ReservoirQuotaTTL": T0 + 10}]});
    assert!(cache.apply_targets(&answer).is_some());
    let _ = decide(&mut cache, T0, 0.9);
    cache.load(
        vec![rule(json!({"ReservoirSize": 1, "FixedRate": 0.2}))],
        at(T0 + 1),
    );
    assert_eq!(cache.rules[0].quota, Some(3));
    assert_eq!(cache.rules[0].requests, 1);
    assert!((cache.rules[0].rule.fixed_rate - 0.2).abs() < f64::EPSILON);
}

#[test]
fn targets_ask_for_a_refetch_when_rules_changed_and_garbage_is_refused() {
    let mut cache = cache(vec![rule(json!({}))], T0);
    let newer = json!({"SamplingTargetDocuments": [], "LastRuleModification": T0 + 1});
    assert!(cache.apply_targets(&newer).expect("targets").refetch_rules);
    let older = json!({"SamplingTargetDocuments": [], "LastRuleModification": T0});
    assert!(!cache.apply_targets(&older).expect("targets").refetch_rules);
    let odd = json!({"SamplingTargetDocuments": [
        {"RuleName": "unknown", "ReservoirQuota": 5},
        {"RuleName": "r", "FixedRate": 7, "Interval": 0},
        {"RuleName": "r", "Interval": 1_000_000},
        "x"]});
    let applied = cache.apply_targets(&odd).expect("targets");
    assert_eq!(applied.interval, Some(Duration::from_secs(1)));
    assert_eq!(cache.rules[0].rule.fixed_rate, 0.0);
    assert_eq!(cache.rules[0].quota, None);
    for garbage in [json!({}), json!({"SamplingTargetDocuments": 3}), json!([1])] {
        assert!(cache.apply_targets(&garbage).is_none(), "{garbage}");
    }
}

#[test]
fn the_cache_expires_an_hour_after_the_last_fetch() {
    let mut cache = cache(vec![rule(json!({"FixedRate": 1.0}))], T0);
    assert_eq!(decide(&mut cache, T0 + 3600, 0.5), Some(Some("r".into())));
    assert_eq!(decide(&mut cache, T0 + 3601, 0.5), None);
    cache.load(vec![rule(json!({"FixedRate": 1.0}))], at(T0 + 3601));
    assert_eq!(decide(&mut cache, T0 + 3601, 0.5), Some(Some("r".into())));
    assert_eq!(decide(&mut RuleCache::default(), T0, 0.5), None);
}

#[tokio::test]
async fn the_sampler_falls_back_to_local_rules_before_a_fetch_and_after_expiry() {
    // A port nothing listens on: every call fails.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = closed.local_addr().expect("addr");
    drop(closed);
    let now = Arc::new(AtomicU64::new(T0));
    let clock = Arc::clone(&now);
    let no_sampling =
        SamplingRules::parse(r#"{"version":2,"default":{"fixed_target":0,"rate":0}}"#)
            .expect("rules");
    let sampler = CentralizedSampler::builder(address)
        .fallback(Sampler::new(no_sampling))
        .with_clock(move || at(clock.load(Ordering::SeqCst)))
        .with_random(|| 0.5)
        .start()
        .expect("start");
    let outcome = sampler.decide(&GET, "orders");
    assert_eq!(outcome, SamplingOutcome::default());

    sampler.shared.cache().load(
        vec![rule(json!({"RuleName": "all", "FixedRate": 1.0}))],
        at(T0),
    );
    assert_eq!(
        sampler.decide(&GET, "orders").rule_name.as_deref(),
        Some("all")
    );
    assert_eq!(sampler.rule_names(), ["all"]);
    now.store(T0 + 3601, Ordering::SeqCst);
    assert_eq!(sampler.decide(&GET, "orders"), SamplingOutcome::default());

    // The first fetch fails and is counted; the poller stops with the sampler.
    for _ in 0..100 {
        if sampler.stats().rule_fetch_failures > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sampler.stats().rule_fetch_failures, 1);
    assert_eq!(sampler.stats().rule_fetches, 0);
    let weak = Arc::downgrade(&sampler.shared);
    drop(sampler);
    for _ in 0..100 {
        if weak.upgrade().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        weak.upgrade().is_none(),
        "the polling task outlived the sampler"
    );
}

#[test]
fn starting_needs_a_runtime() {
    let started = CentralizedSampler::start("127.0.0.1:2000".parse().expect("addr"));
    assert!(matches!(started, Err(CentralizedSamplingError::NoRuntime)));
}

#[test]
fn the_daemon_tcp_address_comes_from_either_form() {
    let cases = [
        ("127.0.0.1:3000", Some("127.0.0.1:3000")),
        (
            "tcp:127.0.0.1:2001 udp:127.0.0.1:2000",
            Some("127.0.0.1:2001"),
        ),
        (
            "udp:127.0.0.1:2000 tcp:127.0.0.1:2002",
            Some("127.0.0.1:2002"),
        ),
        ("tcp:127.0.0.1:2001", None),
        ("nonsense", None),
    ];
    for (value, expected) in cases {
        let parsed = daemon_tcp_address(value).ok().map(|a| a.to_string());
        assert_eq!(parsed.as_deref(), expected, "{value}");
    }
    let lookup = |value: &'static str| move |_: &str| Some(value.to_owned());
    assert!(matches!(
        CentralizedSampler::builder_from_lookup(lookup("x")),
        Err(CentralizedSamplingError::DaemonAddress(_))
    ));
    let builder = CentralizedSampler::builder_from_lookup(|_| None).expect("default");
    assert_eq!(builder.address.to_string(), "127.0.0.1:2000");
}
