//! A stand-in for the X-Ray daemon's TCP sampling proxy: `POST /GetSamplingRules` and
//! `POST /SamplingTargets`, unsigned rest-json, answered from rules held in memory (moto has no
//! sampling APIs).

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::post,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};

/// Rules served in one `GetSamplingRules` page; more come with a `NextToken`.
const RULES_PER_PAGE: usize = 10;
/// The service's limit of statistics documents in one `SamplingTargets` call.
const MAX_STATISTICS_DOCUMENTS: usize = 25;
/// How long a quota handed out is valid.
const QUOTA_TTL: Duration = Duration::from_secs(10);
/// A client that has not reported a rule for this long no longer shares its reservoir.
const CLIENT_IDLE: Duration = Duration::from_secs(60);

/// A sampling rule in the service's JSON shape (`SamplingRule` inside a `SamplingRuleRecord`).
///
/// ```
/// use lamina_local::xray::SamplingRule;
///
/// let rule = SamplingRule { url_path: "/health".into(), fixed_rate: 0.0, reservoir_size: 0,
///                           ..SamplingRule::new("health", 1) };
/// assert_eq!(serde_json::to_value(&rule)?["URLPath"], "/health");
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SamplingRule {
    /// The rule's name, unique.
    pub rule_name: String,
    /// Lower values are matched first.
    pub priority: i64,
    /// The share of requests sampled past the reservoir, from 0 to 1.
    pub fixed_rate: f64,
    /// Requests per second sampled before `FixedRate` applies, shared by all clients.
    pub reservoir_size: u64,
    /// The service name pattern (the segment name).
    pub service_name: String,
    /// The service type pattern (the segment origin).
    pub service_type: String,
    /// The host pattern.
    pub host: String,
    /// The HTTP method pattern.
    #[serde(rename = "HTTPMethod")]
    pub http_method: String,
    /// The URL path pattern.
    #[serde(rename = "URLPath")]
    pub url_path: String,
    /// The resource ARN pattern (`*` for rules SDKs can use).
    #[serde(rename = "ResourceARN")]
    pub resource_arn: String,
    /// The rule format version (1).
    pub version: i64,
    /// Segment attributes to match; SDKs ignore rules that have any.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
}

impl SamplingRule {
    /// A rule matching everything (`*` patterns, version 1) with 1 request per second then
    /// 5%, named `name` at `priority`.
    #[must_use]
    pub fn new(name: impl Into<String>, priority: i64) -> Self {
        Self {
            rule_name: name.into(),
            priority,
            fixed_rate: 0.05,
            reservoir_size: 1,
            service_name: "*".into(),
            service_type: "*".into(),
            host: "*".into(),
            http_method: "*".into(),
            url_path: "*".into(),
            resource_arn: "*".into(),
            version: 1,
            attributes: Map::new(),
        }
    }

    /// The service's default rule: `Default`, priority 10000, 1 per second, then 5%.
    #[must_use]
    pub fn aws_default() -> Self {
        Self::new("Default", 10_000)
    }
}

/// One statistics document received by `SamplingTargets`.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplingStatistics {
    /// The rule reported on.
    pub rule_name: String,
    /// The reporting client (24 hex digits).
    pub client_id: String,
    /// The report's time, in epoch seconds.
    pub timestamp: f64,
    /// Requests matched by the rule since the client's last report.
    pub request_count: u64,
    /// Requests sampled.
    pub sampled_count: u64,
    /// Requests sampled by borrowing from the reservoir.
    pub borrow_count: u64,
}

/// The proxy's state, shared by the collector and the request handlers.
#[derive(Debug)]
pub(super) struct SamplingProxy {
    state: Mutex<ProxyState>,
    interval: Duration,
}

#[derive(Debug)]
struct ProxyState {
    rules: Vec<SamplingRule>,
    modified_at: f64,
    statistics: Vec<SamplingStatistics>,
    /// `(rule, client)` → when it last reported.
    reporters: HashMap<(String, String), SystemTime>,
}

impl SamplingProxy {
    /// Serves `rules` (the service's default rule when empty), telling clients to report every
    /// `interval`.
    pub(super) fn new(rules: Vec<SamplingRule>, interval: Duration) -> Self {
        Self {
            state: Mutex::new(ProxyState {
                rules: or_default(rules),
                modified_at: epoch_seconds(SystemTime::now()),
                statistics: Vec::new(),
                reporters: HashMap::new(),
            }),
            interval,
        }
    }

    fn state(&self) -> MutexGuard<'_, ProxyState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the rules; their `ModifiedAt` and the next `LastRuleModification` become now.
    pub(super) fn set_rules(&self, rules: Vec<SamplingRule>) {
        let mut state = self.state();
        state.rules = or_default(rules);
        // Strictly later than any earlier fetch, even within the same clock tick.
        state.modified_at = epoch_seconds(SystemTime::now()).max(state.modified_at + 0.001);
    }

    /// The statistics documents received so far, oldest first.
    pub(super) fn statistics(&self) -> Vec<SamplingStatistics> {
        self.state().statistics.clone()
    }

    fn get_rules(&self, body: &[u8]) -> Result<Value, String> {
        let request = object(body)?;
        let start = match request.get("NextToken") {
            None | Some(Value::Null) => 0,
            Some(Value::String(token)) => token
                .parse::<usize>()
                .map_err(|_| format!("invalid NextToken {token:?}"))?,
            Some(_) => return Err("NextToken must be a string".into()),
        };
        if let Some(key) = request.keys().find(|key| *key != "NextToken") {
            return Err(format!("unknown member {key:?}"));
        }
        let state = self.state();
        if start > state.rules.len() {
            return Err(format!("invalid NextToken \"{start}\""));
        }
        let end = (start + RULES_PER_PAGE).min(state.rules.len());
        let records: Vec<Value> = state.rules[start..end]
            .iter()
            .map(|rule| {
                json!({
                    "SamplingRule": rule,
                    "CreatedAt": state.modified_at,
                    "ModifiedAt": state.modified_at,
                })
            })
            .collect();
        let mut answer = json!({ "SamplingRuleRecords": records });
        if end < state.rules.len() {
            answer["NextToken"] = end.to_string().into();
        }
        Ok(answer)
    }

    fn targets(&self, body: &[u8]) -> Result<Value, String> {
        let request = object(body)?;
        if let Some(key) = request
            .keys()
            .find(|key| *key != "SamplingStatisticsDocuments")
        {
            return Err(format!("unknown member {key:?}"));
        }
        let Some(Value::Array(documents)) = request.get("SamplingStatisticsDocuments") else {
            return Err("SamplingStatisticsDocuments must be an array".into());
        };
        if documents.len() > MAX_STATISTICS_DOCUMENTS {
            return Err(format!(
                "at most {MAX_STATISTICS_DOCUMENTS} SamplingStatisticsDocuments, got {}",
                documents.len()
            ));
        }
        let documents = documents
            .iter()
            .enumerate()
            .map(|(index, document)| {
                statistics(document).map_err(|e| format!("document {index}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let now = SystemTime::now();
        let mut state = self.state();
        let state = &mut *state;
        state
            .reporters
            .retain(|_, seen| now.duration_since(*seen).unwrap_or_default() < CLIENT_IDLE);
        for document in &documents {
            let key = (document.rule_name.clone(), document.client_id.clone());
            state.reporters.insert(key, now);
        }
        let ttl = epoch_seconds(now + QUOTA_TTL);
        let mut targets = Vec::new();
        let mut unprocessed = Vec::new();
        for document in &documents {
            let Some(rule) = state
                .rules
                .iter()
                .find(|rule| rule.rule_name == document.rule_name)
            else {
                unprocessed.push(json!({
                    "RuleName": document.rule_name,
                    "ErrorCode": "400",
                    "Message": "no such sampling rule",
                }));
                continue;
            };
            let clients = state
                .reporters
                .keys()
                .filter(|(rule_name, _)| *rule_name == rule.rule_name)
                .count()
                .max(1) as u64;
            targets.push(json!({
                "RuleName": rule.rule_name,
                "FixedRate": rule.fixed_rate,
                "ReservoirQuota": rule.reservoir_size / clients,
                "ReservoirQuotaTTL": ttl,
                "Interval": self.interval.as_secs().max(1),
            }));
        }
        state.statistics.extend(documents);
        Ok(json!({
            "SamplingTargetDocuments": targets,
            "LastRuleModification": state.modified_at,
            "UnprocessedStatistics": unprocessed,
        }))
    }
}

fn or_default(rules: Vec<SamplingRule>) -> Vec<SamplingRule> {
    if rules.is_empty() {
        vec![SamplingRule::aws_default()]
    } else {
        rules
    }
}

fn epoch_seconds(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64())
}

/// The request body as a JSON object; an empty body is an empty object.
fn object(body: &[u8]) -> Result<Map<String, Value>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err("the body is not a JSON object".into()),
        Err(error) => Err(format!("the body is not JSON: {error}")),
    }
}

fn statistics(value: &Value) -> Result<SamplingStatistics, String> {
    let Value::Object(document) = value else {
        return Err("not an object".into());
    };
    let text = |key: &str| match document.get(key) {
        Some(Value::String(text)) if !text.is_empty() => Ok(text.clone()),
        _ => Err(format!("{key} must be a non-empty string")),
    };
    let count = |key: &str| {
        document
            .get(key)
            .and_then(Value::as_u64)
            .ok_or_else(|| format!("{key} must be a non-negative integer"))
    };
    let client_id = text("ClientID")?;
    if client_id.len() != 24 || !client_id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err("ClientID must be 24 hexadecimal digits".into());
    }
    let statistics = SamplingStatistics {
        rule_name: text("RuleName")?,
        client_id,
        timestamp: document
            .get("Timestamp")
            .and_then(Value::as_f64)
            .ok_or("Timestamp must be a number of epoch seconds")?,
        request_count: count("RequestCount")?,
        sampled_count: count("SampledCount")?,
        borrow_count: count("BorrowCount")?,
    };
    // Not `BorrowCount <= SampledCount`: the Python SDK counts borrowed requests apart.
    if statistics.sampled_count > statistics.request_count
        || statistics.borrow_count > statistics.request_count
    {
        return Err("SampledCount and BorrowCount must not exceed RequestCount".into());
    }
    Ok(statistics)
}

fn answer(result: Result<Value, String>) -> Response {
    match result {
        Ok(body) => axum::Json(body).into_response(),
        Err(message) => (
            StatusCode::BAD_REQUEST,
            [("x-amzn-errortype", "InvalidRequestException")],
            axum::Json(json!({ "__type": "InvalidRequestException", "message": message })),
        )
            .into_response(),
    }
}

/// Serves the proxy on `listener` until `stop` turns true (or its sender is dropped).
pub(super) fn spawn(
    listener: TcpListener,
    proxy: Arc<SamplingProxy>,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    let router = Router::new()
        .route(
            "/GetSamplingRules",
            post(|State(proxy): State<Arc<SamplingProxy>>, body: Bytes| async move {
                answer(proxy.get_rules(&body))
            }),
        )
        .route(
            "/SamplingTargets",
            post(|State(proxy): State<Arc<SamplingProxy>>, body: Bytes| async move {
                answer(proxy.targets(&body))
            }),
        )
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({ "__type": "UnknownOperationException", "message": "unknown operation" })),
            )
        })
        .with_state(proxy);
    tokio::spawn(async move {
        let stopped = async move {
            let _ = stop.wait_for(|stopped| *stopped).await;
        };
        if let Err(error) = axum::serve(listener, router)
            .with_graceful_shutdown(stopped)
            .await
        {
            tracing::warn!(%error, "the X-Ray sampling proxy failed");
        }
    })
}

/// Where the TCP proxy of a collector bound on `udp` listens: the same port on loopback.
pub(super) fn tcp_address(udp: SocketAddr) -> SocketAddr {
    let ip = if udp.is_ipv6() && udp.ip().is_loopback() {
        std::net::Ipv6Addr::LOCALHOST.into()
    } else {
        std::net::Ipv4Addr::LOCALHOST.into()
    };
    SocketAddr::new(ip, udp.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: &str = "0123456789abcdef01234567";

    fn stats(rule: &str, client: &str, requests: u64) -> Value {
        json!({"RuleName": rule, "ClientID": client, "Timestamp": 1.7e9,
               "RequestCount": requests, "SampledCount": 1, "BorrowCount": 0})
    }

    #[test]
    fn serves_the_default_rule_and_pages() {
        let proxy = SamplingProxy::new(Vec::new(), Duration::from_secs(10));
        let page = proxy.get_rules(b"").expect("rules");
        let rule = &page["SamplingRuleRecords"][0]["SamplingRule"];
        assert_eq!(
            (
                &rule["RuleName"],
                &rule["Priority"],
                &rule["FixedRate"],
                &rule["ReservoirSize"]
            ),
            (&json!("Default"), &json!(10_000), &json!(0.05), &json!(1))
        );
        assert!(page.get("NextToken").is_none());

        let many = (0..12)
            .map(|i| SamplingRule::new(format!("r{i}"), i))
            .collect();
        proxy.set_rules(many);
        let first = proxy.get_rules(b"{}").expect("page 1");
        assert_eq!(
            first["SamplingRuleRecords"].as_array().map(Vec::len),
            Some(10)
        );
        assert_eq!(first["NextToken"], "10");
        let second = proxy.get_rules(br#"{"NextToken":"10"}"#).expect("page 2");
        assert_eq!(
            second["SamplingRuleRecords"][1]["SamplingRule"]["RuleName"],
            "r11"
        );
        assert!(second.get("NextToken").is_none());
    }

    #[test]
    fn refuses_malformed_bodies() {
        let proxy = SamplingProxy::new(Vec::new(), Duration::from_secs(10));
        for body in [
            &b"nope"[..],
            b"[]",
            br#"{"NextToken":5}"#,
            br#"{"NextToken":"x"}"#,
            br#"{"Other":1}"#,
        ] {
            assert!(
                proxy.get_rules(body).is_err(),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let too_many: Vec<Value> = (0..26).map(|_| stats("Default", CLIENT, 1)).collect();
        let mut bad_client = stats("Default", "xyz", 1);
        let negative = json!({"RuleName": "Default", "ClientID": CLIENT, "Timestamp": 1,
                              "RequestCount": -1, "SampledCount": 0, "BorrowCount": 0});
        let inconsistent = stats("Default", CLIENT, 0);
        bad_client["Extra"] = json!(1);
        for body in [
            json!({}),
            json!({"SamplingStatisticsDocuments": {}}),
            json!({"SamplingStatisticsDocuments": too_many}),
            json!({"SamplingStatisticsDocuments": [bad_client]}),
            json!({"SamplingStatisticsDocuments": [negative]}),
            json!({"SamplingStatisticsDocuments": [inconsistent]}),
            json!({"SamplingStatisticsDocuments": [], "Other": 1}),
        ] {
            assert!(
                proxy.targets(body.to_string().as_bytes()).is_err(),
                "{body}"
            );
        }
        assert!(proxy.statistics().is_empty());
    }

    #[test]
    fn splits_the_reservoir_among_clients_and_records_statistics() {
        let rule = SamplingRule {
            reservoir_size: 10,
            ..SamplingRule::new("api", 1)
        };
        let proxy = SamplingProxy::new(vec![rule], Duration::from_secs(10));
        let body = json!({"SamplingStatisticsDocuments": [stats("api", CLIENT, 3)]});
        let answer = proxy.targets(body.to_string().as_bytes()).expect("targets");
        let target = &answer["SamplingTargetDocuments"][0];
        assert_eq!(
            (&target["ReservoirQuota"], &target["Interval"]),
            (&json!(10), &json!(10))
        );
        let ttl = target["ReservoirQuotaTTL"].as_f64().expect("ttl");
        assert!(ttl > epoch_seconds(SystemTime::now()));

        let other = "abcdefabcdefabcdefabcdef";
        let body = json!({"SamplingStatisticsDocuments": [stats("api", other, 2), stats("gone", other, 1)]});
        let answer = proxy.targets(body.to_string().as_bytes()).expect("targets");
        assert_eq!(answer["SamplingTargetDocuments"][0]["ReservoirQuota"], 5);
        assert_eq!(answer["UnprocessedStatistics"][0]["RuleName"], "gone");
        let received = proxy.statistics();
        assert_eq!(received.len(), 3);
        assert_eq!(
            (received[0].request_count, received[1].client_id.as_str()),
            (3, other)
        );

        let before = answer["LastRuleModification"].as_f64().expect("modified");
        proxy.set_rules(Vec::new());
        let answer = proxy
            .targets(br#"{"SamplingStatisticsDocuments":[]}"#)
            .expect("targets");
        assert!(answer["LastRuleModification"].as_f64().expect("modified") > before);
    }
}
