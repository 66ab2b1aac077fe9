//! X-Ray trace identifiers and the `X-Amzn-Trace-Id` header that Lambda hands each invocation.
//!
//! ```
//! use lamina_local::trace_header::TraceHeader;
//!
//! let header = TraceHeader::new_sampled();
//! let text = header.to_string();
//! assert!(text.starts_with("Root=1-"));
//! assert_eq!(TraceHeader::parse(&text)?, header);
//! # Ok::<(), lamina_local::trace_header::TraceHeaderError>(())
//! ```

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;

/// Why a trace header could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TraceHeaderError {
    /// The header has no `Root=` field.
    #[error("trace header has no Root field")]
    MissingRoot,
    /// The `Root` value is not `1-{8 hex}-{24 hex}`.
    #[error("trace header Root {0:?} is not of the form 1-{{8 hex}}-{{24 hex}}")]
    InvalidRoot(String),
    /// The `Parent` value is not 16 lowercase hex digits.
    #[error("trace header Parent {0:?} is not 16 lowercase hex digits")]
    InvalidParent(String),
    /// The `Sampled` value is not `0`, `1` or `?`.
    #[error("trace header Sampled {0:?} is not 0, 1 or ?")]
    InvalidSampled(String),
}

/// The sampling decision carried by a trace header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplingDecision {
    /// `Sampled=1`: record and send segments.
    Sampled,
    /// `Sampled=0`: send nothing.
    NotSampled,
    /// `Sampled=?` or no `Sampled` field: the receiver decides.
    Requested,
}

/// A parsed `X-Amzn-Trace-Id` header: `Root=...;Parent=...;Sampled=...` plus any other keys, kept in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    /// The trace id, `1-{8 hex epoch seconds}-{24 hex random}`.
    pub root: String,
    /// The id of the parent segment, 16 lowercase hex digits.
    pub parent: Option<String>,
    /// The sampling decision.
    pub sampled: SamplingDecision,
    /// Other `key=value` pairs (`Lineage`, `Self`, ...), in the order they came.
    pub extra: Vec<(String, String)>,
}

impl TraceHeader {
    /// A fresh sampled header with a new root and a new parent id, as Lambda makes for an untraced request.
    #[must_use]
    pub fn new_sampled() -> Self {
        Self {
            root: new_trace_id(SystemTime::now()),
            parent: Some(new_segment_id()),
            sampled: SamplingDecision::Sampled,
            extra: Vec::new(),
        }
    }

    /// Parses a header value. Unknown keys are kept; pairs without `=` are skipped.
    ///
    /// # Errors
    /// A missing or malformed `Root`, a malformed `Parent` or an unknown `Sampled` value.
    pub fn parse(value: &str) -> Result<Self, TraceHeaderError> {
        let mut root = None;
        let mut parent = None;
        let mut sampled = SamplingDecision::Requested;
        let mut extra = Vec::new();
        for pair in value.split(';').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((key, val)) = pair.split_once('=') else {
                continue;
            };
            match key.trim() {
                "Root" => {
                    if !is_trace_id(val) {
                        return Err(TraceHeaderError::InvalidRoot(val.to_owned()));
                    }
                    root = Some(val.to_owned());
                }
                "Parent" => {
                    if !is_segment_id(val) {
                        return Err(TraceHeaderError::InvalidParent(val.to_owned()));
                    }
                    parent = Some(val.to_owned());
                }
                "Sampled" => {
                    sampled = match val {
                        "1" => SamplingDecision::Sampled,
                        "0" => SamplingDecision::NotSampled,
                        "?" => SamplingDecision::Requested,
                        other => return Err(TraceHeaderError::InvalidSampled(other.to_owned())),
                    }
                }
                other => extra.push((other.to_owned(), val.to_owned())),
            }
        }
        let root = root.ok_or(TraceHeaderError::MissingRoot)?;
        Ok(Self {
            root,
            parent,
            sampled,
            extra,
        })
    }

    /// Whether segments should be recorded for this header.
    #[must_use]
    pub fn is_sampled(&self) -> bool {
        self.sampled == SamplingDecision::Sampled
    }
}

impl fmt::Display for TraceHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Root={}", self.root)?;
        if let Some(parent) = &self.parent {
            write!(f, ";Parent={parent}")?;
        }
        match self.sampled {
            SamplingDecision::Sampled => write!(f, ";Sampled=1")?,
            SamplingDecision::NotSampled => write!(f, ";Sampled=0")?,
            SamplingDecision::Requested => write!(f, ";Sampled=?")?,
        }
        for (key, value) in &self.extra {
            write!(f, ";{key}={value}")?;
        }
        Ok(())
    }
}

/// A new X-Ray trace id for a request that starts at `now`: `1-{epoch seconds, 8 hex}-{96 random bits, 24 hex}`.
#[must_use]
pub fn new_trace_id(now: SystemTime) -> String {
    let seconds = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut random = [0u8; 12];
    rand::rng().fill_bytes(&mut random);
    format!("1-{:08x}-{}", seconds & 0xffff_ffff, hex(&random))
}

/// A new segment id: 64 random bits as 16 lowercase hex digits.
#[must_use]
pub fn new_segment_id() -> String {
    let mut random = [0u8; 8];
    // An all-zero id is invalid in OpenTelemetry's view of X-Ray ids; draw again in that 2^-64 case.
    while random == [0u8; 8] {
        rand::rng().fill_bytes(&mut random);
    }
    hex(&random)
}

/// Whether `value` is a well-formed trace id, `1-{8 hex}-{24 hex}` in lowercase.
#[must_use]
pub fn is_trace_id(value: &str) -> bool {
    let mut parts = value.split('-');
    matches!(
        (parts.next(), parts.next(), parts.next(), parts.next()),
        (Some("1"), Some(time), Some(random), None)
            if is_lower_hex(time, 8) && is_lower_hex(random, 24)
    )
}

/// Whether `value` is a well-formed segment id, 16 lowercase hex digits.
#[must_use]
pub fn is_segment_id(value: &str) -> bool {
    is_lower_hex(value, 16)
}

fn is_lower_hex(value: &str, len: usize) -> bool {
    value.len() == len
        && value
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Root, Parent, Sampled, and how many other keys.
    type Expected =
        Result<(&'static str, Option<&'static str>, SamplingDecision, usize), TraceHeaderError>;

    #[test]
    fn parses_the_headers_lambda_sends() {
        let cases: &[(&str, Expected)] = &[
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                Ok((
                    "1-5759e988-bd862e3fe1be46a994272793",
                    Some("53995c3f42cd8ad8"),
                    SamplingDecision::Sampled,
                    0,
                )),
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0;Lineage=a87bd80c:1|68fd508a:5",
                Ok((
                    "1-5759e988-bd862e3fe1be46a994272793",
                    None,
                    SamplingDecision::NotSampled,
                    1,
                )),
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;",
                Ok((
                    "1-5759e988-bd862e3fe1be46a994272793",
                    None,
                    SamplingDecision::Requested,
                    0,
                )),
            ),
            (
                "Parent=53995c3f42cd8ad8;Sampled=1",
                Err(TraceHeaderError::MissingRoot),
            ),
            (
                "Root=2-5759e988-bd862e3fe1be46a994272793",
                Err(TraceHeaderError::InvalidRoot(
                    "2-5759e988-bd862e3fe1be46a994272793".into(),
                )),
            ),
            (
                "Root=1-5759E988-bd862e3fe1be46a994272793",
                Err(TraceHeaderError::InvalidRoot(
                    "1-5759E988-bd862e3fe1be46a994272793".into(),
                )),
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=xyz",
                Err(TraceHeaderError::InvalidParent("xyz".into())),
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=yes",
                Err(TraceHeaderError::InvalidSampled("yes".into())),
            ),
        ];
        for (input, expected) in cases {
            let got = TraceHeader::parse(input)
                .map(|h| (h.root.clone(), h.parent.clone(), h.sampled, h.extra.len()));
            let expected = expected
                .clone()
                .map(|(r, p, s, n)| (r.to_owned(), p.map(str::to_owned), s, n));
            assert_eq!(got, expected, "input {input:?}");
        }
    }

    #[test]
    fn fresh_headers_are_well_formed_and_distinct() {
        let a = TraceHeader::new_sampled();
        let b = TraceHeader::new_sampled();
        assert!(is_trace_id(&a.root), "{}", a.root);
        assert!(a.parent.as_deref().is_some_and(is_segment_id));
        assert_ne!(a.root, b.root);
        assert_ne!(a.parent, b.parent);
        assert!(a.is_sampled());
    }

    #[test]
    fn the_time_part_is_the_request_time() {
        let at = UNIX_EPOCH + std::time::Duration::from_secs(0x5759_e988);
        assert!(new_trace_id(at).starts_with("1-5759e988-"));
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(input in ".{0,200}") {
            if let Ok(header) = TraceHeader::parse(&input) {
                let reparsed = TraceHeader::parse(&header.to_string());
                prop_assert_eq!(reparsed, Ok(header));
            }
        }
    }
}
