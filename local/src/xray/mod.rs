//! An X-Ray daemon stand-in: receives segment documents over UDP, validates them strictly,
//! assembles them into traces, prints waterfalls, and optionally forwards them to
//! `PutTraceSegments` (e.g. on a local moto server).
//!
//! ```no_run
//! use std::time::Duration;
//! use lamina_local::xray::{CollectorConfig, XrayCollector};
//!
//! # async fn demo() -> Result<(), lamina_local::xray::XrayError> {
//! let collector = XrayCollector::start(CollectorConfig::new().bind("127.0.0.1:0".parse().expect("addr"))).await?;
//! // Run the traced code with AWS_XRAY_DAEMON_ADDRESS set to this:
//! let daemon_address = collector.daemon_address();
//! # let trace_id = "1-5759e988-bd862e3fe1be46a994272793";
//! let trace = collector.wait_for_trace(trace_id, Duration::from_secs(5)).await?;
//! println!("{}", trace.render_waterfall(100));
//! for rejection in collector.rejections() {
//!     eprintln!("{rejection}");
//! }
//! collector.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Sampling
//!
//! The collector also answers the daemon's TCP sampling proxy calls (`POST /GetSamplingRules`,
//! `POST /SamplingTargets`) on the same port, from [`CollectorConfig::sampling_rules`], and
//! records the statistics clients report ([`XrayCollector::sampling_statistics`]).
//!
//! # What is checked
//!
//! The datagram framing ([`parse_datagram`]) and the segment schema ([`validate_document`])
//! follow the X-Ray documentation ("AWS X-Ray segment documents" and "Sending trace data to
//! AWS X-Ray" in the AWS X-Ray Developer Guide) and the X-Ray daemon's framing (the
//! aws/aws-xray-daemon repository): id and trace-id formats (trace-id time within 30 days in
//! the past and 5 minutes in the future), required fields, names, sizes, annotations, flags,
//! `cause`, nested subsegments, and ids unique within a trace. Anything else is a
//! [`Rejection`], counted in [`Stats`] and kept by the collector.
//!
//! # When a trace is complete
//!
//! A trace is complete when it has a segment, no entity is in progress, and every
//! subsegment's `parent_id` names an entity of the trace. A segment whose `parent_id` is
//! unknown (an upstream service) is a root. In Lambda the function's subsegments point at
//! the `AWS::Lambda::Function` segment, which the emulator sends after the invocation.

mod clock;
mod collector;
mod datagram;
mod document;
mod error;
mod fields;
mod forward;
mod rejection;
mod sampling_proxy;
mod stats;
mod store;
mod trace;
mod validate;
mod waterfall;

pub use clock::{Clock, FixedClock, SystemClock};
pub use collector::{CollectorConfig, DEFAULT_DAEMON_ADDRESS, XrayCollector};
pub(crate) use datagram::send_to_daemon;
pub use datagram::{
    DATAGRAM_HEADER, MAX_DATAGRAM_BYTES, encode_datagram, parse_datagram, send_document,
};
pub use document::{AnnotationValue, Cause, CauseException, Entity, EntityKind, ValidatedDocument};
pub use error::XrayError;
pub use rejection::{RejectReason, Rejection};
pub use sampling_proxy::{SamplingRule, SamplingStatistics};
pub use stats::Stats;
pub use trace::{Missing, MissingParts, Trace};
pub use validate::{MAX_DOCUMENT_BYTES, validate_document};
