//! The trace header a request passes on, and the `AWS::ApiGateway::Stage` segment API Gateway
//! records for it when the stage has tracing on.
//!
//! With tracing on, API Gateway opens a segment named `API/STAGE` for each sampled request and hands
//! the integration a trace header whose `Parent` is that segment's id; a caller's own `Parent`
//! becomes the segment's `parent_id`. The fields follow "AWS X-Ray traces for Amazon API Gateway
//! APIs" (docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-understanding-xray-traces.html).
//! Annotations are left out: API Gateway writes `aws:api_id` and `aws:api_stage`, keys that only AWS
//! services may use (a client's annotation keys are `[A-Za-z0-9_]`), so the daemon stand-in would
//! rightly refuse them from a local process.

use std::time::{SystemTime, UNIX_EPOCH};

use http::HeaderValue;
use serde_json::{Value, json};

use super::RestApiConfig;
use crate::trace_header::{SamplingDecision, TraceHeader, new_segment_id};
use crate::xray::send_to_daemon;

/// The trace of one request: the header the function gets, and the stage segment when traced.
#[derive(Debug)]
pub(super) struct StageTrace {
    /// The value of `X-Amzn-Trace-Id` passed to the integration and returned to the caller.
    pub(super) header: TraceHeader,
    segment: Option<PlannedSegment>,
}

#[derive(Debug)]
struct PlannedSegment {
    id: String,
    caller_parent: Option<String>,
}

/// What the stage segment records about the request.
#[derive(Debug)]
pub(super) struct RequestSummary {
    pub(super) method: String,
    pub(super) path: String,
    pub(super) client_ip: String,
    pub(super) user_agent: Option<String>,
    pub(super) received: SystemTime,
    pub(super) request_id: String,
}

/// What the stage segment records about the answer.
#[derive(Debug, Clone, Copy)]
pub(super) struct ResponseSummary {
    pub(super) status: u16,
    pub(super) content_length: Option<u64>,
}

impl StageTrace {
    /// Decides the header the integration sees: the caller's trace (sampled unless the caller said
    /// `Sampled=0`), or a fresh sampled trace when the caller sent none or a malformed one. When the
    /// stage is traced ([`RestApiConfig::xray_daemon`]) and the request sampled, the `Parent` is the
    /// stage segment's id; otherwise it is the caller's, or a new one when the caller had none.
    pub(super) fn plan(config: &RestApiConfig, incoming: Option<&HeaderValue>) -> Self {
        let parsed = incoming
            .and_then(|value| value.to_str().ok())
            .and_then(|value| TraceHeader::parse(value).ok());
        let mut header = match parsed {
            Some(mut header) => {
                if header.sampled == SamplingDecision::Requested {
                    header.sampled = SamplingDecision::Sampled;
                }
                header
            }
            None => TraceHeader {
                parent: None,
                ..TraceHeader::new_sampled()
            },
        };
        if config.xray_daemon_address.is_none() || !header.is_sampled() {
            if header.parent.is_none() {
                header.parent = Some(new_segment_id());
            }
            return Self {
                header,
                segment: None,
            };
        }
        let id = new_segment_id();
        let caller_parent = header.parent.replace(id.clone());
        Self {
            header,
            segment: Some(PlannedSegment { id, caller_parent }),
        }
    }

    /// The stage segment's id, when this request is traced.
    #[cfg(test)]
    pub(super) fn segment_id(&self) -> Option<&str> {
        self.segment.as_ref().map(|segment| segment.id.as_str())
    }

    /// Sends the stage segment to the daemon, when this request is traced. Failures are logged, never
    /// raised: tracing must not change an answer.
    pub(super) fn emit(
        &self,
        config: &RestApiConfig,
        request: &RequestSummary,
        response: ResponseSummary,
    ) {
        let (Some(segment), Some(daemon)) = (&self.segment, &config.xray_daemon_address) else {
            return;
        };
        let document = self.document(config, segment, request, response, SystemTime::now());
        if let Err(error) = send_to_daemon(daemon, &document.to_string()) {
            tracing::warn!(%error, %daemon, "could not send the API Gateway segment to the X-Ray daemon");
        }
    }

    fn document(
        &self,
        config: &RestApiConfig,
        segment: &PlannedSegment,
        request: &RequestSummary,
        response: ResponseSummary,
        ended: SystemTime,
    ) -> Value {
        let url = format!(
            "https://{}.execute-api.{}.amazonaws.com/{}{}",
            config.api_id, config.region, config.stage, request.path
        );
        let mut http_request = json!({
            "method": request.method,
            "url": url,
            "client_ip": request.client_ip,
            "x_forwarded_for": true,
        });
        if let Some(user_agent) = &request.user_agent {
            http_request["user_agent"] = json!(user_agent);
        }
        let mut http_response = json!({ "status": response.status });
        if let Some(length) = response.content_length {
            http_response["content_length"] = json!(length);
        }
        let mut document = json!({
            "name": format!("{}/{}", config.api_name, config.stage),
            "id": segment.id,
            "trace_id": self.header.root,
            "start_time": epoch_seconds(request.received),
            "end_time": epoch_seconds(ended.max(request.received)),
            "origin": "AWS::ApiGateway::Stage",
            "resource_arn": format!(
                "arn:aws:apigateway:{}::/restapis/{}/stages/{}",
                config.region, config.api_id, config.stage
            ),
            "http": { "request": http_request, "response": http_response },
            "aws": {
                "api_gateway": {
                    "account_id": config.account_id,
                    "rest_api_id": config.api_id,
                    "stage": config.stage,
                    "request_id": request.request_id,
                }
            },
            "metadata": { "default": { "request_id": request.request_id } },
        });
        if let Some(parent) = &segment.caller_parent {
            document["parent_id"] = json!(parent);
        }
        // The flags every X-Ray SDK derives from the status: 429 throttle and error, 4xx error, 5xx fault.
        match response.status {
            429 => {
                document["throttle"] = json!(true);
                document["error"] = json!(true);
            }
            400..=499 => document["error"] = json!(true),
            500..=599 => document["fault"] = json!(true),
            _ => {}
        }
        document
    }
}

fn epoch_seconds(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

    fn plan(config: &RestApiConfig, incoming: Option<&str>) -> StageTrace {
        let value = incoming.map(|v| HeaderValue::from_str(v).unwrap());
        StageTrace::plan(config, value.as_ref())
    }

    #[test]
    fn trace_headers_join_or_start_a_sampled_trace() {
        let cases: Vec<(Option<String>, bool, bool)> = vec![
            (None, true, false),
            (Some("garbage".to_owned()), true, false),
            (Some(format!("Root={ROOT}")), true, true),
            (
                Some(format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0")),
                false,
                true,
            ),
            (Some(format!("Root={ROOT};Sampled=?")), true, true),
        ];
        for config in [
            RestApiConfig::new(),
            RestApiConfig::new().xray_daemon("127.0.0.1:2000"),
        ] {
            for (incoming, sampled, keeps_root) in &cases {
                let header = plan(&config, incoming.as_deref()).header;
                assert_eq!(header.is_sampled(), *sampled, "{incoming:?}");
                assert_eq!(header.root == ROOT, *keeps_root, "{incoming:?}");
                assert!(header.parent.is_some(), "{incoming:?}");
            }
        }
    }

    #[test]
    fn a_traced_stage_passes_its_own_segment_as_the_parent() {
        let caller = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a:1");
        let untraced = plan(&RestApiConfig::new(), Some(&caller));
        assert_eq!(untraced.header.parent.as_deref(), Some("53995c3f42cd8ad8"));
        assert_eq!(untraced.segment_id(), None);

        let config = RestApiConfig::new().xray_daemon("127.0.0.1:2000");
        let traced = plan(&config, Some(&caller));
        let id = traced.segment_id().unwrap();
        assert_eq!(traced.header.parent.as_deref(), Some(id));
        assert_ne!(id, "53995c3f42cd8ad8");
        assert_eq!(
            traced.header.extra,
            [("Lineage".to_owned(), "a:1".to_owned())]
        );

        let unsampled = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0");
        let not_traced = plan(&config, Some(&unsampled));
        assert_eq!(not_traced.segment_id(), None);
        assert_eq!(
            not_traced.header.parent.as_deref(),
            Some("53995c3f42cd8ad8")
        );
    }

    #[test]
    fn the_segment_has_the_fields_api_gateway_records() {
        let config = RestApiConfig::new()
            .api_name("orders")
            .stage("dev")
            .xray_daemon("127.0.0.1:2000");
        let caller = format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1");
        let trace = plan(&config, Some(&caller));
        let received = SystemTime::now();
        let request = RequestSummary {
            method: "GET".to_owned(),
            path: "/items".to_owned(),
            client_ip: "127.0.0.1".to_owned(),
            user_agent: Some("curl/8".to_owned()),
            received,
            request_id: "req-1".to_owned(),
        };
        let cases = [
            (200, None),
            (404, Some("error")),
            (429, Some("throttle")),
            (502, Some("fault")),
        ];
        for (status, flag) in cases {
            let response = ResponseSummary {
                status,
                content_length: Some(12),
            };
            let segment = trace.segment.as_ref().unwrap();
            let ended = received + std::time::Duration::from_millis(30);
            let doc = trace.document(&config, segment, &request, response, ended);
            assert_eq!(doc["name"], "orders/dev");
            assert_eq!(doc["origin"], "AWS::ApiGateway::Stage");
            assert_eq!(doc["id"].as_str(), trace.segment_id());
            assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
            assert_eq!(doc["trace_id"], ROOT);
            assert_eq!(doc["http"]["request"]["method"], "GET");
            assert_eq!(
                doc["http"]["request"]["url"],
                "https://local00api.execute-api.us-east-1.amazonaws.com/dev/items"
            );
            assert_eq!(doc["http"]["response"]["status"], status);
            assert_eq!(doc["http"]["response"]["content_length"], 12);
            assert_eq!(doc["aws"]["api_gateway"]["stage"], "dev");
            let duration = doc["end_time"].as_f64().unwrap() - doc["start_time"].as_f64().unwrap();
            assert!((duration - 0.03).abs() < 0.001, "{duration}");
            for name in ["error", "throttle", "fault"] {
                let expected = flag == Some(name) || (status == 429 && name == "error");
                assert_eq!(doc.get(name).is_some(), expected, "{status} {name}");
            }
        }
    }
}
