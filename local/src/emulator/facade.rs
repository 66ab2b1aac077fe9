//! The `AWS::Lambda::Function` segment that Lambda itself records for a traced invocation.
//!
//! With active tracing, Lambda opens a segment for the function, hands the runtime a trace header
//! whose `Parent` is that segment's id, and records `Initialization` and `Invocation` subsegments on
//! it. The emulator does the same, so the subsegments a function sends have a parent and the trace
//! assembles into one tree.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};

use super::config::FunctionConfig;
use super::report::Outcome;
use crate::trace_header::{SamplingDecision, TraceHeader, new_segment_id};
use crate::xray::send_to_daemon;

/// How one invocation is traced: the header the runtime gets and, with active tracing, the facade segment.
#[derive(Debug)]
pub(super) struct TracePlan {
    /// The value of `Lambda-Runtime-Trace-Id`.
    pub(super) function_header: String,
    facade: Option<Facade>,
}

#[derive(Debug)]
struct Facade {
    trace_id: String,
    segment_id: String,
    upstream_parent: Option<String>,
}

/// When the phases of one invocation ran, to place the facade's subsegments.
#[derive(Debug)]
pub(super) struct Timeline {
    anchor_wall: SystemTime,
    anchor: Instant,
    /// Spawn to the end of init, on a cold start.
    pub(super) init: Option<(Instant, Instant)>,
    /// Hand-over to answer.
    pub(super) invocation: Option<(Instant, Instant)>,
}

impl Timeline {
    pub(super) fn starting_now() -> Self {
        Self {
            anchor_wall: SystemTime::now(),
            anchor: Instant::now(),
            init: None,
            invocation: None,
        }
    }

    /// Epoch seconds of `at`, measured on the monotonic clock from the anchor.
    fn epoch_seconds(&self, at: Instant) -> f64 {
        let wall = match at.checked_duration_since(self.anchor) {
            Some(after) => self.anchor_wall + after,
            None => self.anchor_wall - self.anchor.saturating_duration_since(at),
        };
        wall.duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    }
}

/// Decides the header the runtime sees. Without active tracing, or when the caller's header says
/// `Sampled=0`, the caller's header passes through unchanged; otherwise the `Parent` becomes the
/// facade segment's id, and the caller's `Parent` becomes the facade's `parent_id`.
pub(super) fn plan(
    config: &FunctionConfig,
    raw: Option<&str>,
    parsed: Option<TraceHeader>,
) -> TracePlan {
    // Without a caller's header there is no upstream segment: Lambda starts the trace itself.
    let from_caller = parsed.is_some();
    let header = parsed.unwrap_or_else(TraceHeader::new_sampled);
    let traced =
        config.xray_daemon_address.is_some() && header.sampled != SamplingDecision::NotSampled;
    if !traced {
        let function_header = raw.map_or_else(|| header.to_string(), str::to_owned);
        return TracePlan {
            function_header,
            facade: None,
        };
    }
    let segment_id = new_segment_id();
    let function_header = TraceHeader {
        root: header.root.clone(),
        parent: Some(segment_id.clone()),
        sampled: SamplingDecision::Sampled,
        extra: header.extra.clone(),
    }
    .to_string();
    TracePlan {
        function_header,
        facade: Some(Facade {
            trace_id: header.root,
            segment_id,
            upstream_parent: header.parent.filter(|_| from_caller),
        }),
    }
}

/// Sends the facade segment to the configured daemon, if this invocation is traced. Failures are
/// logged, never raised: tracing must not change an invocation's outcome.
pub(super) fn emit(
    config: &FunctionConfig,
    plan: &TracePlan,
    timeline: &Timeline,
    outcome: &Outcome,
) {
    let (Some(facade), Some(daemon)) = (&plan.facade, &config.xray_daemon_address) else {
        return;
    };
    let document = facade_document(config, facade, timeline, outcome);
    if let Err(error) = send_to_daemon(daemon, &document.to_string()) {
        tracing::warn!(%error, daemon = %daemon, "could not send the function segment to the X-Ray daemon");
    }
}

fn facade_document(
    config: &FunctionConfig,
    facade: &Facade,
    timeline: &Timeline,
    outcome: &Outcome,
) -> Value {
    let mut subsegments = Vec::new();
    let mut end = timeline.anchor;
    let init_failed = matches!(outcome, Outcome::InitFailed { .. });
    if let Some((from, to)) = timeline.init {
        subsegments.push(phase(
            "Initialization",
            timeline,
            from,
            to,
            init_failed.then_some(outcome),
        ));
        end = end.max(to);
    }
    if let Some((from, to)) = timeline.invocation {
        let failed = (!outcome.is_success() && !init_failed).then_some(outcome);
        subsegments.push(phase("Invocation", timeline, from, to, failed));
        end = end.max(to);
    }
    let start = timeline
        .init
        .map_or(timeline.anchor, |(from, _)| from.min(timeline.anchor));
    let mut segment = json!({
        "name": config.function_name,
        "id": facade.segment_id,
        "trace_id": facade.trace_id,
        "start_time": timeline.epoch_seconds(start),
        "end_time": timeline.epoch_seconds(end),
        "origin": "AWS::Lambda::Function",
        "subsegments": subsegments,
    });
    if let Some(parent) = &facade.upstream_parent {
        segment["parent_id"] = json!(parent);
    }
    if !outcome.is_success() {
        segment["fault"] = json!(true);
    }
    segment
}

fn phase(
    name: &str,
    timeline: &Timeline,
    from: Instant,
    to: Instant,
    failure: Option<&Outcome>,
) -> Value {
    let mut subsegment = json!({
        "name": name,
        "id": new_segment_id(),
        "start_time": timeline.epoch_seconds(from),
        "end_time": timeline.epoch_seconds(to),
    });
    if let Some(outcome) = failure {
        subsegment["fault"] = json!(true);
        subsegment["cause"] = json!({
            "exceptions": [{
                "id": new_segment_id(),
                "type": outcome.error_type().unwrap_or("Unknown"),
                "message": outcome.to_string(),
            }]
        });
    }
    subsegment
}

#[cfg(test)]
mod tests {
    use super::*;

    const CALLER: &str =
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1";

    fn parsed(raw: &str) -> Option<TraceHeader> {
        TraceHeader::parse(raw).ok()
    }

    #[test]
    fn without_active_tracing_the_callers_header_passes_through() {
        let config = FunctionConfig::new("bootstrap");
        let plan = plan(&config, Some(CALLER), parsed(CALLER));
        assert_eq!(plan.function_header, CALLER);
        assert!(plan.facade.is_none());
    }

    #[test]
    fn with_active_tracing_the_facade_becomes_the_parent() {
        let config = FunctionConfig::new("bootstrap").xray_daemon("127.0.0.1:2000");
        let plan = plan(&config, Some(CALLER), parsed(CALLER));
        let facade = plan
            .facade
            .as_ref()
            .map(|f| (f.trace_id.as_str(), f.upstream_parent.as_deref()));
        assert_eq!(
            facade,
            Some((
                "1-5759e988-bd862e3fe1be46a994272793",
                Some("53995c3f42cd8ad8")
            ))
        );
        let seen = TraceHeader::parse(&plan.function_header).ok();
        let segment_id = plan.facade.as_ref().map(|f| f.segment_id.clone());
        assert_eq!(seen.as_ref().and_then(|h| h.parent.clone()), segment_id);
        assert_eq!(
            seen.map(|h| h.extra),
            Some(vec![("Lineage".to_owned(), "a:1".to_owned())])
        );
    }

    #[test]
    fn unsampled_invocations_are_not_traced() {
        let raw = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0";
        let config = FunctionConfig::new("bootstrap").xray_daemon("127.0.0.1:2000");
        let plan = plan(&config, Some(raw), parsed(raw));
        assert_eq!(plan.function_header, raw);
        assert!(plan.facade.is_none());
    }

    #[test]
    fn a_failed_invocation_marks_a_fault_with_its_cause() {
        let config = FunctionConfig::new("orders").xray_daemon("127.0.0.1:2000");
        let plan = plan(&config, None, None);
        let mut timeline = Timeline::starting_now();
        let now = Instant::now();
        timeline.invocation = Some((now, now + std::time::Duration::from_millis(5)));
        let outcome = Outcome::HandlerError {
            error_type: "Boom".to_owned(),
            error_message: "bad".to_owned(),
        };
        let Some(facade) = &plan.facade else {
            panic!("active tracing should plan a facade segment");
        };
        let doc = facade_document(&config, facade, &timeline, &outcome);
        assert_eq!(doc["name"], "orders");
        assert_eq!(doc["origin"], "AWS::Lambda::Function");
        assert_eq!(doc["fault"], true);
        assert!(doc.get("parent_id").is_none());
        assert_eq!(doc["subsegments"][0]["name"], "Invocation");
        assert_eq!(
            doc["subsegments"][0]["cause"]["exceptions"][0]["type"],
            "Boom"
        );
        let start = doc["start_time"].as_f64().unwrap_or_default();
        let end = doc["end_time"].as_f64().unwrap_or_default();
        assert!(end - start >= 0.004 && end - start < 1.0, "{start} {end}");
    }

    /// Lambda's daemon address can be any `host:port`; an IPv6 daemon must get the segment too.
    #[test]
    fn the_segment_reaches_a_daemon_on_ipv6() {
        let Ok(daemon) = std::net::UdpSocket::bind("[::1]:0") else {
            panic!("this test needs IPv6 loopback");
        };
        let daemon_address = daemon
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let _ = daemon.set_read_timeout(Some(std::time::Duration::from_secs(2)));
        let config = FunctionConfig::new("orders").xray_daemon(daemon_address);
        let plan = plan(&config, None, None);
        let mut timeline = Timeline::starting_now();
        let now = Instant::now();
        timeline.invocation = Some((now, now));
        let outcome = Outcome::Success {
            body: bytes::Bytes::from_static(b"{}"),
        };
        emit(&config, &plan, &timeline, &outcome);
        let mut buffer = [0u8; 65_536];
        let received = daemon.recv(&mut buffer);
        let Ok(size) = received else {
            panic!("no datagram reached the IPv6 daemon: {received:?}");
        };
        let body = crate::xray::parse_datagram(&buffer[..size]).unwrap_or_default();
        let document: Value = serde_json::from_str(body).unwrap_or_default();
        assert_eq!(document["name"], "orders");
        assert_eq!(document["origin"], "AWS::Lambda::Function");
    }
}
