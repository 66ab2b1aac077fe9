//! AWS SDK for Rust calls as X-Ray `aws` subsegments, through an SDK interceptor.
//!
//! ```no_run
//! use lamina_tracing::aws_sdk::XrayInterceptor;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! let sdk_config = aws_config::load_from_env().await;
//! let dynamodb = aws_sdk_dynamodb::Client::from_conf(
//!     aws_sdk_dynamodb::config::Builder::from(&sdk_config)
//!         .interceptor(XrayInterceptor::new())
//!         .build(),
//! );
//! // Inside a traced span (e.g. a handler under `XrayLambdaLayer`), this call is sent as an
//! // `aws` subsegment named `DynamoDB`, and the request carries its X-Amzn-Trace-Id.
//! dynamodb.get_item().table_name("orders").send().await?;
//! # Ok(())
//! # }
//! ```
//!
//! # What is recorded
//!
//! Each operation becomes one span (target `lamina_tracing::aws_sdk`, level `INFO`, name
//! `aws.sdk`) under the current span, opened just before the request is serialized and closed when
//! the operation finishes, retries included. [`XrayLayer`](crate::xray::XrayLayer) sends it as
//! a subsegment with:
//!
//! - `name`: the SDK's service name (`DynamoDB`, `S3`, `SQS`, ...), as the other X-Ray SDKs
//!   and the ADOT collector write it (the Python SDK writes the lower-case endpoint prefix);
//! - `namespace`: `aws`;
//! - `aws.operation`, `aws.region` (the client's), `aws.request_id` (from `x-amzn-requestid`
//!   or `x-amz-request-id`), `aws.id_2` for S3 (`x-amz-id-2`), `aws.retries` (attempts - 1);
//! - the allow-listed fields of the X-Ray SDKs (the Python SDK's `aws_para_whitelist.json`, with
//!   its snake_case names), as JSON strings, numbers, booleans, arrays and objects:
//!   - from the serialized request: DynamoDB `table_name`, `table_names` (the keys of
//!     `RequestItems`), and per operation e.g. Query/Scan `index_name`, `limit`, `select`,
//!     `consistent_read`, `projection_expression`; S3 `bucket_name`, `key`, `prefix`,
//!     `version_id` (virtual-hosted or path-style URI); SNS `topic_arn`; SQS `queue_url` and
//!     per operation e.g. SendMessage `delay_seconds`, `message_attribute_names` (the keys of
//!     `MessageAttributes`), SendMessageBatch `message_count`; Lambda `function_name` (the URI
//!     path) and Invoke's `invocation_type`, `log_type` (headers) and `qualifier` (query);
//!   - from a successful response: DynamoDB `consumed_capacity`, `item_collection_metrics`,
//!     Query/Scan `count` and `scanned_count`, ListTables `table_count`; SQS SendMessage
//!     `message_id`, SendMessageBatch `successful_count` and `failed_count`, ReceiveMessage
//!     `message_count`, GetQueueUrl `queue_url`; Lambda Invoke `status_code` and
//!     `function_error` (`X-Amz-Function-Error`), InvokeAsync `status`.
//!
//!   Response bodies are read in `read_after_deserialization`, once the SDK has them in memory;
//!   a streaming body (S3 GetObject) is never touched, Lambda's payload is never read, and a
//!   JSON body is read in one pass that skips everything but the allow-listed members (item
//!   data and message bodies are never recorded), up to 4 MiB. Anything unreadable is left
//!   out: recording never fails or alters the call;
//! - `http.response.status`, and the flags from it: 5xx `fault`, 429 `throttle` and `error`,
//!   other 4xx `error`. A failed call also gets a `cause` exception; one without any response
//!   (a connection failure or timeout) gets `fault`.
//!
//! Each attempt's request carries `X-Amzn-Trace-Id: Root=<trace>;Parent=<this
//! subsegment>;Sampled=1`, followed by the trace's extra keys (e.g. `Lineage`). It is set
//! after signing (SigV4 never signs this header) and replaces the value the SDK's
//! recursion-detection interceptor takes from `_X_AMZN_TRACE_ID`.
//!
//! In a trace that is not sampled (an invocation Lambda did not sample, whose span
//! [`XrayLambdaLayer`](crate::xray::XrayLambdaLayer) marks), no span is opened and nothing is
//! recorded, but each attempt still carries `X-Amzn-Trace-Id: Root=<trace>;Parent=<a fresh
//! id>;Sampled=0` and the extra keys, as the X-Ray SDKs pass an unsampled trace on: the
//! downstream service does not sample it afresh, and Lambda's recursion detection still sees
//! `Lineage`. Outside any trace the interceptor does nothing: no span, no header.

mod allow_list;
mod json_body;
mod request_fields;
mod response_fields;

use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::{
        interceptors::{
            Intercept,
            context::{
                AfterDeserializationInterceptorContextRef,
                BeforeSerializationInterceptorContextRef, BeforeTransmitInterceptorContextMut,
                BeforeTransmitInterceptorContextRef, FinalizerInterceptorContextRef,
            },
        },
        orchestrator::Metadata,
        runtime_components::RuntimeComponents,
    },
    http::Headers,
};
use aws_smithy_types::{
    config_bag::{ConfigBag, Storable, StoreReplace},
    error::display::DisplayErrorContext,
};
use aws_types::region::Region;
use tracing::{Span, field::Empty};

use crate::xray::aws_fields::{SpanTraceContext, span_trace_context};
use request_fields::request_fields;
use response_fields::response_fields;

/// The target of the spans and events this module creates.
const TARGET: &str = "lamina_tracing::aws_sdk";

/// The header carrying the trace downstream.
const TRACE_HEADER: &str = "x-amzn-trace-id";

/// An AWS SDK for Rust interceptor that records each operation as an X-Ray `aws` subsegment and
/// passes the trace on in `X-Amzn-Trace-Id`. Add it to a service client's config with
/// `.interceptor(XrayInterceptor::new())`; see the [module documentation](self).
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct XrayInterceptor;

impl XrayInterceptor {
    /// The interceptor.
    #[must_use]
    pub fn new() -> Self {
        Self
    }
}

/// The operation's span and attempt count, kept in the operation's config bag.
#[derive(Debug, Clone)]
struct SdkCall {
    span: Span,
    attempts: u32,
    request_fields_recorded: bool,
}

impl Storable for SdkCall {
    type Storer = StoreReplace<Self>;
}

/// The trace of an operation made in a trace that is not sampled: nothing is recorded, but each
/// attempt passes the trace on with `Sampled=0`.
#[derive(Debug, Clone)]
struct UnsampledCall(SpanTraceContext);

impl Storable for UnsampledCall {
    type Storer = StoreReplace<Self>;
}

impl Intercept for XrayInterceptor {
    fn name(&self) -> &'static str {
        "XrayInterceptor"
    }

    // Not `read_before_execution`: client-level interceptors see it before the operation's
    // config (its `Metadata`) is in the bag.
    fn read_before_serialization(
        &self,
        _context: &BeforeSerializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        match span_trace_context(&Span::current()) {
            None => return Ok(()),
            Some(context) if !context.sampled => {
                cfg.interceptor_state().store_put(UnsampledCall(context));
                return Ok(());
            }
            Some(_) => {}
        }
        let (service, operation) = cfg
            .load::<Metadata>()
            .map_or(("aws", "unknown"), |metadata| {
                (metadata.service(), metadata.name())
            });
        let span = tracing::info_span!(
            target: TARGET,
            "aws.sdk",
            "xray.name" = service,
            "xray.namespace" = "aws",
            "aws.operation" = operation,
            "aws.region" = Empty,
            "aws.request_id" = Empty,
            "aws.id_2" = Empty,
            "aws.retries" = Empty,
            // The allow-listed fields, a JSON object recorded once from the request and once
            // from a successful response; `XrayLayer` merges each into the `aws` section.
            "aws.json" = Empty,
            "http.response.status" = Empty,
        );
        if span_trace_context(&span).is_none() {
            return Ok(());
        }
        if let Some(region) = cfg.load::<Region>() {
            span.record("aws.region", region.as_ref());
        }
        cfg.interceptor_state().store_put(SdkCall {
            span,
            attempts: 0,
            request_fields_recorded: false,
        });
        Ok(())
    }

    fn read_before_attempt(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(call) = cfg.load::<SdkCall>() {
            let mut call = call.clone();
            call.attempts = call.attempts.saturating_add(1);
            cfg.interceptor_state().store_put(call);
        }
        Ok(())
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = cfg.load::<SdkCall>() else {
            if let Some(UnsampledCall(trace)) = cfg.load::<UnsampledCall>() {
                context
                    .request_mut()
                    .headers_mut()
                    .try_insert(TRACE_HEADER, trace.downstream_header())
                    .map_err(BoxError::from)?;
            }
            return Ok(());
        };
        let request = context.request_mut();
        if !call.request_fields_recorded {
            let (service, operation) = service_and_operation(cfg);
            let found = request_fields(
                service,
                operation,
                request.uri(),
                request.headers(),
                request.body().bytes(),
            );
            record_fields(&call.span, found);
            let mut call = call.clone();
            call.request_fields_recorded = true;
            cfg.interceptor_state().store_put(call);
        }
        let Some(call) = cfg.load::<SdkCall>() else {
            return Ok(());
        };
        if let Some(context) = span_trace_context(&call.span) {
            request
                .headers_mut()
                .try_insert(TRACE_HEADER, context.downstream_header())
                .map_err(BoxError::from)?;
        }
        Ok(())
    }

    // The first hook after `read_body` has loaded a non-streaming response body into memory;
    // a streaming body (S3 GetObject) has been handed to the output by then and reads as `None`.
    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = cfg.load::<SdkCall>() else {
            return Ok(());
        };
        if context.output_or_error().is_err() {
            return Ok(());
        }
        let (service, operation) = service_and_operation(cfg);
        let response = context.response();
        let found = response_fields(
            service,
            operation,
            response.status().as_u16(),
            response.headers(),
            response.body().bytes(),
        );
        record_fields(&call.span, found);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(call) = cfg.load::<SdkCall>().cloned() else {
            return Ok(());
        };
        cfg.interceptor_state().unset::<SdkCall>();
        let span = call.span;
        span.record("aws.retries", call.attempts.saturating_sub(1));
        let mut error_type = None;
        if let Some(response) = context.response() {
            span.record("http.response.status", response.status().as_u16());
            let fields = ResponseFields::from_headers(response.headers());
            if let Some(id) = fields.request_id {
                span.record("aws.request_id", id);
            }
            if let Some(id_2) = fields.id_2 {
                span.record("aws.id_2", id_2);
            }
            error_type = fields.error_type;
        }
        if let Some(Err(error)) = context.output_or_error() {
            let kind = error_type.unwrap_or_else(|| {
                if error.is_operation_error() {
                    "ServiceError"
                } else if error.is_timeout_error() {
                    "TimeoutError"
                } else if error.is_connector_error() {
                    "DispatchFailure"
                } else {
                    "SdkError"
                }
                .to_owned()
            });
            let message = DisplayErrorContext(error).to_string();
            span.in_scope(|| {
                tracing::error!(
                    target: TARGET,
                    error = message.as_str(),
                    "error.type" = kind.as_str(),
                    "AWS SDK call failed"
                );
            });
        }
        // Dropping the last handle closes the span, which sends the subsegment.
        drop(span);
        Ok(())
    }
}

/// What a response's headers say about the call.
#[derive(Debug, Default, PartialEq, Eq)]
struct ResponseFields<'a> {
    /// `x-amzn-requestid`, or S3's `x-amz-request-id`.
    request_id: Option<&'a str>,
    /// S3's extended request id, `x-amz-id-2`.
    id_2: Option<&'a str>,
    /// The error code of `x-amzn-errortype` (JSON protocols), without its `<namespace>#` prefix
    /// (SQS sends `com.amazonaws.sqs#QueueDoesNotExist`) or its `:<url>` suffix.
    error_type: Option<String>,
}

impl<'a> ResponseFields<'a> {
    fn from_headers(headers: &'a Headers) -> Self {
        Self {
            request_id: headers
                .get("x-amzn-requestid")
                .or_else(|| headers.get("x-amz-request-id")),
            id_2: headers.get("x-amz-id-2"),
            error_type: headers
                .get("x-amzn-errortype")
                .and_then(|kind| kind.split(':').next())
                .and_then(|kind| kind.rsplit('#').next())
                .filter(|kind| !kind.is_empty())
                .map(str::to_owned),
        }
    }
}

/// The SDK's service and operation names (`DynamoDB`, `Scan`).
fn service_and_operation(cfg: &ConfigBag) -> (&str, &str) {
    cfg.load::<Metadata>()
        .map_or(("", ""), |metadata| (metadata.service(), metadata.name()))
}

fn record_fields(span: &Span, found: serde_json::Map<String, serde_json::Value>) {
    if !found.is_empty() {
        let json = serde_json::Value::Object(found).to_string();
        span.record("aws.json", json.as_str());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_headers() {
        let mut headers = Headers::new();
        headers.insert("x-amz-request-id", "4442587FB7D0A2F9");
        headers.insert("x-amz-id-2", "vlR7PnpV2Ce81puvaJZr");
        assert_eq!(
            ResponseFields::from_headers(&headers),
            ResponseFields {
                request_id: Some("4442587FB7D0A2F9"),
                id_2: Some("vlR7PnpV2Ce81puvaJZr"),
                error_type: None,
            }
        );
        let mut headers = Headers::new();
        headers.insert("x-amzn-RequestId", "R1");
        headers.insert("x-amz-request-id", "R2");
        headers.insert(
            "x-amzn-ErrorType",
            "ProvisionedThroughputExceededException:http://internal.amazon.com/",
        );
        let fields = ResponseFields::from_headers(&headers);
        assert_eq!(fields.request_id, Some("R1"));
        assert_eq!(
            fields.error_type.as_deref(),
            Some("ProvisionedThroughputExceededException")
        );
        let mut headers = Headers::new();
        headers.insert("x-amzn-errortype", "com.amazonaws.sqs#QueueDoesNotExist");
        assert_eq!(
            ResponseFields::from_headers(&headers).error_type.as_deref(),
            Some("QueueDoesNotExist")
        );
        let mut headers = Headers::new();
        headers.insert("x-amzn-errortype", "#:");
        assert_eq!(ResponseFields::from_headers(&headers).error_type, None);
        assert_eq!(
            ResponseFields::from_headers(&Headers::new()),
            ResponseFields::default()
        );
    }
}
