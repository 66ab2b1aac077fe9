//! The polling task: fetches the rules and reports the statistics through the X-Ray
//! daemon's TCP proxy, and applies the answers to the shared cache.

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::TokioExecutor,
};
use serde_json::{Value, json};
use tokio::time::Instant;

use super::{
    CALL_TIMEOUT, MAX_BODY_BYTES, MAX_RULE_PAGES, RULE_JITTER, Shared, TARGET_JITTER,
    rules::{CentralRule, TargetsApplied},
};

/// The polling task's side.
pub(super) struct Poller {
    shared: Arc<Shared>,
    client: Client<HttpConnector, Full<Bytes>>,
    address: SocketAddr,
}

impl Poller {
    /// A poller of the daemon's TCP proxy at `address`, filling `shared`'s cache.
    pub(super) fn new(shared: Arc<Shared>, address: SocketAddr) -> Self {
        Self {
            shared,
            client: Client::builder(TokioExecutor::new()).build_http(),
            address,
        }
    }

    /// Polls until the task is aborted: the rules every `rule_interval`, the targets every
    /// `target_interval` or the interval the service returns, each plus its jitter.
    pub(super) async fn run(self, rule_interval: Duration, mut target_interval: Duration) {
        let shared = &self.shared;
        let mut next_rules = Instant::now();
        let mut next_targets = Instant::now() + target_interval + shared.jitter(TARGET_JITTER);
        loop {
            tokio::time::sleep_until(next_rules.min(next_targets)).await;
            if Instant::now() >= next_rules {
                self.fetch_rules().await;
                next_rules = Instant::now() + rule_interval + shared.jitter(RULE_JITTER);
            }
            if Instant::now() >= next_targets {
                let applied = self.report().await;
                if applied.refetch_rules {
                    self.fetch_rules().await;
                }
                target_interval = applied.interval.unwrap_or(target_interval);
                next_targets = Instant::now() + target_interval + shared.jitter(TARGET_JITTER);
            }
        }
    }

    async fn fetch_rules(&self) {
        let counters = &self.shared.counters;
        match self.all_rules().await {
            Some(rules) => {
                let now = (self.shared.clock)();
                self.shared.cache().load(rules, now);
                counters.rule_fetches.fetch_add(1, Ordering::Relaxed);
            }
            None => {
                counters.rule_fetch_failures.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Every page of `GetSamplingRules`, keeping the usable rules; `None` on any failure.
    async fn all_rules(&self) -> Option<Vec<CentralRule>> {
        let mut rules = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..MAX_RULE_PAGES {
            let body = match &token {
                Some(token) => json!({ "NextToken": token }),
                None => json!({}),
            };
            let page = self.call("/GetSamplingRules", &body).await?;
            let records = page.get("SamplingRuleRecords")?.as_array()?;
            rules.extend(records.iter().filter_map(CentralRule::usable));
            match page.get("NextToken") {
                Some(Value::String(next)) if !next.is_empty() => token = Some(next.clone()),
                None | Some(Value::Null) => return Some(rules),
                Some(_) => return None,
            }
        }
        tracing::debug!("the X-Ray sampling rules have too many pages");
        None
    }

    /// Reports the statistics; what the answers ask for.
    async fn report(&self) -> TargetsApplied {
        let counters = &self.shared.counters;
        let now = (self.shared.clock)();
        let batches = self.shared.cache().take_statistics(now);
        let mut applied = TargetsApplied::default();
        for batch in batches {
            let body = json!({ "SamplingStatisticsDocuments": batch });
            let answer = self.call("/SamplingTargets", &body).await;
            match answer.and_then(|answer| self.shared.cache().apply_targets(&answer)) {
                Some(one) => {
                    counters.target_reports.fetch_add(1, Ordering::Relaxed);
                    applied.refetch_rules |= one.refetch_rules;
                    applied.interval = match (applied.interval, one.interval) {
                        (Some(a), Some(b)) => Some(a.min(b)),
                        (a, b) => a.or(b),
                    };
                }
                None => {
                    counters
                        .target_report_failures
                        .fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        applied
    }

    /// One unsigned rest-json call; `None` when the daemon is unreachable, slow, answers an
    /// error status or something that is not a JSON object.
    async fn call(&self, path: &str, body: &Value) -> Option<Value> {
        let request = http::Request::post(format!("http://{}{path}", self.address))
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .ok()?;
        let exchange = async {
            let response = self.client.request(request).await.ok()?;
            if !response.status().is_success() {
                tracing::debug!(status = %response.status(), path, "X-Ray sampling call refused");
                return None;
            }
            let body = Limited::new(response.into_body(), MAX_BODY_BYTES)
                .collect()
                .await
                .ok()?
                .to_bytes();
            serde_json::from_slice::<Value>(&body)
                .ok()
                .filter(Value::is_object)
        };
        tokio::time::timeout(CALL_TIMEOUT, exchange)
            .await
            .ok()
            .flatten()
    }
}
