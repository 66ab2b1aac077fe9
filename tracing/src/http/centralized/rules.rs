//! The service's sampling rules as the sampler keeps them: the usable rules of a
//! `GetSamplingRules` answer, each with its reservoir and counts, and the cache that decides
//! with them, reports their statistics and applies `SamplingTargets` answers.

use std::{
    sync::{Arc, OnceLock},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use rand::Rng as _;
use serde_json::{Value, json};

use super::{CACHE_TTL, MAX_INTERVAL_SECONDS, MAX_STATISTICS_PER_CALL};
use crate::http::{SamplingOutcome, SamplingRequest, matches};

/// The client id sent with statistics: 24 hex digits, random, one per process.
fn client_id() -> &'static str {
    static CLIENT_ID: OnceLock<String> = OnceLock::new();
    CLIENT_ID.get_or_init(|| format!("{:024x}", rand::rng().random::<u128>() >> 32))
}

/// One usable rule of the service.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct CentralRule {
    pub(super) name: Arc<str>,
    priority: i64,
    pub(super) fixed_rate: f64,
    reservoir_size: u64,
    service_name: String,
    service_type: String,
    host: String,
    http_method: String,
    url_path: String,
}

impl CentralRule {
    /// The rule in a `SamplingRuleRecord`, if SDKs may use it: `Version` 1, `ResourceARN`
    /// `*`, a non-empty `ServiceType` and no `Attributes`.
    pub(super) fn usable(record: &Value) -> Option<Self> {
        let rule = record.get("SamplingRule")?;
        let text = |key: &str| rule.get(key)?.as_str().map(str::to_owned);
        let attributes = rule.get("Attributes");
        let no_attributes = match attributes {
            None | Some(Value::Null) => true,
            Some(Value::Object(attributes)) => attributes.is_empty(),
            Some(_) => false,
        };
        let service_type = text("ServiceType").filter(|kind| !kind.is_empty())?;
        let usable = rule.get("Version")?.as_i64()? == 1
            && rule.get("ResourceARN")?.as_str()? == "*"
            && no_attributes;
        let fixed_rate = rule.get("FixedRate")?.as_f64()?;
        (usable && (0.0..=1.0).contains(&fixed_rate)).then_some(())?;
        Some(Self {
            name: Arc::from(rule.get("RuleName")?.as_str()?),
            priority: rule.get("Priority")?.as_i64()?,
            fixed_rate,
            reservoir_size: rule.get("ReservoirSize")?.as_u64()?,
            service_name: text("ServiceName")?,
            service_type,
            host: text("Host")?,
            http_method: text("HTTPMethod")?,
            url_path: text("URLPath")?,
        })
    }

    fn matches(&self, request: &SamplingRequest<'_>, service: &str, origin: Option<&str>) -> bool {
        matches(&self.host, request.host)
            && matches(&self.http_method, request.method)
            && matches(&self.url_path, request.url_path)
            && matches(&self.service_name, Some(service))
            && matches(&self.service_type, origin)
    }
}

/// A rule with its reservoir and the counts since its last report.
#[derive(Debug)]
pub(super) struct RuleState {
    pub(super) rule: CentralRule,
    /// From the last target: requests per second this client may take, and until when.
    pub(super) quota: Option<u64>,
    quota_ttl: Option<f64>,
    second: u64,
    taken: u64,
    borrowed: u64,
    pub(super) requests: u64,
    sampled: u64,
    borrows: u64,
}

impl RuleState {
    fn new(rule: CentralRule) -> Self {
        Self {
            rule,
            quota: None,
            quota_ttl: None,
            second: 0,
            taken: 0,
            borrowed: 0,
            requests: 0,
            sampled: 0,
            borrows: 0,
        }
    }

    fn decide(&mut self, second: u64, random: f64) -> bool {
        self.requests += 1;
        if self.second != second {
            (self.second, self.taken, self.borrowed) = (second, 0, 0);
        }
        let sampled = match (self.quota, self.quota_ttl) {
            (Some(quota), Some(ttl)) if ttl >= second as f64 => {
                let take = self.taken < quota;
                self.taken += u64::from(take);
                take || random < self.rule.fixed_rate
            }
            _ if self.rule.reservoir_size > 0 && self.borrowed < 1 => {
                self.borrowed += 1;
                self.borrows += 1;
                true
            }
            _ => random < self.rule.fixed_rate,
        };
        self.sampled += u64::from(sampled);
        sampled
    }
}

/// What a `SamplingTargets` answer asks of the sampler.
#[derive(Debug, Default, PartialEq)]
pub(super) struct TargetsApplied {
    /// `LastRuleModification` is newer than the last rule fetch.
    pub(super) refetch_rules: bool,
    /// The shortest `Interval` among the targets.
    pub(super) interval: Option<Duration>,
}

/// The fetched rules, sorted by `(Priority, RuleName)`, and when they were fetched.
#[derive(Debug, Default)]
pub(super) struct RuleCache {
    pub(super) rules: Vec<RuleState>,
    fetched_at: Option<SystemTime>,
}

impl RuleCache {
    /// Replaces the rules, keeping the reservoir and counts of rules that stay.
    pub(super) fn load(&mut self, mut rules: Vec<CentralRule>, now: SystemTime) {
        rules.sort_by(|a, b| (a.priority, &a.name).cmp(&(b.priority, &b.name)));
        let mut old = std::mem::take(&mut self.rules);
        self.rules = rules
            .into_iter()
            .map(
                |rule| match old.iter().position(|state| state.rule.name == rule.name) {
                    Some(index) => RuleState {
                        rule,
                        ..old.swap_remove(index)
                    },
                    None => RuleState::new(rule),
                },
            )
            .collect();
        self.fetched_at = Some(now);
    }

    /// The decision of the first matching rule (or `Default`), or `None` when the cache has
    /// expired or no rule applies.
    pub(super) fn decide(
        &mut self,
        request: &SamplingRequest<'_>,
        service: &str,
        origin: Option<&str>,
        now: SystemTime,
        random: &dyn Fn() -> f64,
    ) -> Option<SamplingOutcome> {
        let fetched_at = self.fetched_at?;
        if now > fetched_at + CACHE_TTL {
            return None;
        }
        let state = self.rules.iter_mut().find(|state| {
            &*state.rule.name == "Default" || state.rule.matches(request, service, origin)
        })?;
        let sampled = state.decide(epoch_seconds(now), random());
        Some(SamplingOutcome {
            sampled,
            rule_name: sampled.then(|| Arc::clone(&state.rule.name)),
        })
    }

    /// The statistics of every rule matched since the last report, in calls of at most 25
    /// documents; the counts start again from zero.
    pub(super) fn take_statistics(&mut self, now: SystemTime) -> Vec<Vec<Value>> {
        let timestamp = epoch_seconds(now);
        let documents: Vec<Value> = self
            .rules
            .iter_mut()
            .filter(|state| state.requests > 0)
            .map(|state| {
                let document = json!({
                    "RuleName": &*state.rule.name,
                    "ClientID": client_id(),
                    "Timestamp": timestamp,
                    "RequestCount": state.requests,
                    "SampledCount": state.sampled,
                    "BorrowCount": state.borrows,
                });
                (state.requests, state.sampled, state.borrows) = (0, 0, 0);
                document
            })
            .collect();
        documents
            .chunks(MAX_STATISTICS_PER_CALL)
            .map(<[Value]>::to_vec)
            .collect()
    }

    /// Applies a `SamplingTargets` answer; `None` if it is not one.
    pub(super) fn apply_targets(&mut self, answer: &Value) -> Option<TargetsApplied> {
        let targets = answer.get("SamplingTargetDocuments")?.as_array()?;
        let mut applied = TargetsApplied::default();
        for target in targets {
            let Some(state) = target
                .get("RuleName")
                .and_then(Value::as_str)
                .and_then(|name| self.rules.iter_mut().find(|s| &*s.rule.name == name))
            else {
                continue;
            };
            if let Some(rate) = target
                .get("FixedRate")
                .and_then(Value::as_f64)
                .filter(|rate| (0.0..=1.0).contains(rate))
            {
                state.rule.fixed_rate = rate;
            }
            if let Some(quota) = target.get("ReservoirQuota").and_then(Value::as_u64) {
                state.quota = Some(quota);
            }
            if let Some(ttl) = target.get("ReservoirQuotaTTL").and_then(Value::as_f64) {
                state.quota_ttl = Some(ttl);
            }
            if let Some(seconds) = target.get("Interval").and_then(Value::as_u64) {
                let interval = Duration::from_secs(seconds.clamp(1, MAX_INTERVAL_SECONDS));
                applied.interval = Some(applied.interval.map_or(interval, |i| i.min(interval)));
            }
        }
        let fetched = self.fetched_at.map_or(0.0, |at| {
            at.duration_since(UNIX_EPOCH)
                .map_or(0.0, |elapsed| elapsed.as_secs_f64())
        });
        applied.refetch_rules = answer
            .get("LastRuleModification")
            .and_then(Value::as_f64)
            .is_some_and(|modified| modified > fetched);
        Some(applied)
    }
}

fn epoch_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}
