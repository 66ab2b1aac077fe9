//! The `X-Amzn-Trace-Id` header and X-Ray identifiers.

use std::{
    fmt,
    time::{SystemTime, UNIX_EPOCH},
};

use rand::RngCore as _;

/// A trace id, `1-{8 hex epoch seconds}-{24 hex random}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TraceId(String);

impl TraceId {
    /// A new trace id for a request starting now, with 96 bits from a cryptographically secure
    /// generator (the thread-local ChaCha generator, seeded from the OS).
    #[must_use]
    pub fn generate() -> Self {
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        let mut random = [0_u8; 12];
        rand::rng().fill_bytes(&mut random);
        let mut id = format!("1-{:08x}-", seconds & 0xffff_ffff);
        for byte in random {
            id.push_str(&format!("{byte:02x}"));
        }
        Self(id)
    }

    /// Checks the form `1-{8 hex}-{24 hex}`; `None` otherwise. Upper-case hex is accepted and
    /// kept as given, since it names the same trace upstream.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        let mut parts = value.split('-');
        let (Some("1"), Some(time), Some(random), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return None;
        };
        let is_hex = |part: &str, len: usize| {
            part.len() == len && part.bytes().all(|b| b.is_ascii_hexdigit())
        };
        (is_hex(time, 8) && is_hex(random, 24)).then(|| Self(value.to_owned()))
    }

    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A segment, subsegment or exception id: 64 random bits, written as 16 lowercase hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SegmentId(u64);

impl SegmentId {
    /// A new random, non-zero id from a cryptographically secure generator (zero is the
    /// "no parent" id other SDKs write for unsampled requests).
    #[must_use]
    pub fn generate() -> Self {
        let mut rng = rand::rng();
        loop {
            let id = rng.next_u64();
            if id != 0 {
                return Self(id);
            }
        }
    }

    /// Parses exactly 16 lowercase hex digits.
    #[must_use]
    pub fn parse(value: &str) -> Option<Self> {
        let valid = value.len() == 16
            && value
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return None;
        }
        u64::from_str_radix(value, 16).ok().map(Self)
    }

    /// The id as a number.
    #[must_use]
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl From<u64> for SegmentId {
    fn from(id: u64) -> Self {
        Self(id)
    }
}

impl fmt::Display for SegmentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// The `Sampled` field of a trace header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SamplingDecision {
    /// `Sampled=1`: record and send.
    Sampled,
    /// `Sampled=0`: send nothing.
    NotSampled,
    /// `Sampled=?`: the receiver decides.
    Requested,
}

impl SamplingDecision {
    fn parse(value: &str) -> Option<Self> {
        match value {
            "1" => Some(Self::Sampled),
            "0" => Some(Self::NotSampled),
            "?" => Some(Self::Requested),
            _ => None,
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::Sampled => "1",
            Self::NotSampled => "0",
            Self::Requested => "?",
        }
    }
}

/// A parsed `X-Amzn-Trace-Id` value: `Root=…;Parent=…;Sampled=…` and any other keys.
///
/// Parsing never fails and accepts a superset of what the X-Ray SDKs' parsers accept (the Python
/// SDK's `TraceHeader`, opentelemetry-aws's `XrayPropagator`): the value is split on `;`, each pair is trimmed, empty pairs and pairs without
/// `=` are skipped, `Root`, `Parent` and `Sampled` are matched case-sensitively, a `Root` that
/// is not `1-{8 hex}-{24 hex}` or a `Parent` that is not 16 lowercase hex digits is treated as
/// absent, an unknown `Sampled` value as absent, `Self` (added by load balancers) is dropped,
/// and every other key (such as `Lineage`) is kept unchanged and in order, because Lambda's
/// recursion detection needs it propagated.
///
/// ```
/// use lamina_tracing::xray::{SamplingDecision, TraceHeader};
///
/// let header = TraceHeader::parse(
///     "Root=1-5759e988-bd862e3fe1be46a994272793; Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1",
/// );
/// assert_eq!(header.sampled, Some(SamplingDecision::Sampled));
/// assert_eq!(header.extra, vec![("Lineage".to_owned(), "a87bd80c:1".to_owned())]);
/// assert_eq!(
///     header.to_string(),
///     "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:1",
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TraceHeader {
    /// The trace id (`Root`).
    pub root: Option<TraceId>,
    /// The caller's segment id (`Parent`); in Lambda, the function's facade segment.
    pub parent: Option<SegmentId>,
    /// The sampling decision; `None` when missing or not `0`, `1` or `?`.
    pub sampled: Option<SamplingDecision>,
    /// Other `key=value` pairs, in the order they came.
    pub extra: Vec<(String, String)>,
}

impl TraceHeader {
    /// Parses a header value; see the type's documentation for the rules.
    #[must_use]
    pub fn parse(value: &str) -> Self {
        let mut header = Self::default();
        for pair in value.split(';').map(str::trim) {
            let Some((key, value)) = pair.split_once('=') else {
                continue;
            };
            match key {
                "Root" => header.root = TraceId::parse(value),
                "Parent" => header.parent = SegmentId::parse(value),
                "Sampled" => header.sampled = SamplingDecision::parse(value),
                "Self" => {}
                _ => header.extra.push((key.to_owned(), value.to_owned())),
            }
        }
        header
    }

    /// The trace and facade segment to attach subsegments to: `Some` only when the header has a
    /// valid `Root` and `Parent` and says `Sampled=1`.
    #[must_use]
    pub fn sampled_context(&self) -> Option<(&TraceId, SegmentId)> {
        match (&self.root, self.parent, self.sampled) {
            (Some(root), Some(parent), Some(SamplingDecision::Sampled)) => Some((root, parent)),
            _ => None,
        }
    }
}

impl fmt::Display for TraceHeader {
    /// `Root`, `Parent` and `Sampled` (those present), then the other keys in order.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut separator = "";
        let mut pair = |f: &mut fmt::Formatter<'_>, key: &str, value: &dyn fmt::Display| {
            let result = write!(f, "{separator}{key}={value}");
            separator = ";";
            result
        };
        if let Some(root) = &self.root {
            pair(f, "Root", root)?;
        }
        if let Some(parent) = &self.parent {
            pair(f, "Parent", parent)?;
        }
        if let Some(sampled) = self.sampled {
            pair(f, "Sampled", &sampled.as_str())?;
        }
        for (key, value) in &self.extra {
            pair(f, key, value)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
    const PARENT: &str = "53995c3f42cd8ad8";

    #[test]
    fn table() {
        type Case = (
            &'static str,
            Option<&'static str>,
            Option<&'static str>,
            Option<SamplingDecision>,
            &'static [(&'static str, &'static str)],
        );
        let cases: &[Case] = &[
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
                Some(ROOT),
                Some(PARENT),
                Some(SamplingDecision::Sampled),
                &[],
            ),
            (
                "Sampled=0;Parent=53995c3f42cd8ad8;Root=1-5759e988-bd862e3fe1be46a994272793",
                Some(ROOT),
                Some(PARENT),
                Some(SamplingDecision::NotSampled),
                &[],
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=?",
                Some(ROOT),
                None,
                Some(SamplingDecision::Requested),
                &[],
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793",
                Some(ROOT),
                None,
                None,
                &[],
            ),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=yes",
                Some(ROOT),
                None,
                None,
                &[],
            ),
            (
                " Root=1-5759e988-bd862e3fe1be46a994272793 ; Parent=53995c3f42cd8ad8 ;",
                Some(ROOT),
                Some(PARENT),
                None,
                &[],
            ),
            (
                "root=1-5759e988-bd862e3fe1be46a994272793",
                None,
                None,
                None,
                &[("root", ROOT)],
            ),
            ("Root=abc;Parent=53995C3F42CD8AD8", None, None, None, &[]),
            (
                "Root=1-5759e988-bd862e3fe1be46a994272793;Self=1-67891234-12456789abcdef012345678;Lineage=a87bd80c:1;Foo=bar=baz",
                Some(ROOT),
                None,
                None,
                &[("Lineage", "a87bd80c:1"), ("Foo", "bar=baz")],
            ),
            ("", None, None, None, &[]),
            (";;novalue;", None, None, None, &[]),
        ];
        for (input, root, parent, sampled, extra) in cases {
            let header = TraceHeader::parse(input);
            assert_eq!(header.root.as_ref().map(TraceId::as_str), *root, "{input}");
            assert_eq!(
                header.parent.map(|p| p.to_string()).as_deref(),
                *parent,
                "{input}"
            );
            assert_eq!(header.sampled, *sampled, "{input}");
            let extra: Vec<(String, String)> = extra
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect();
            assert_eq!(header.extra, extra, "{input}");
        }
    }

    #[test]
    fn sampled_context_needs_all_three() {
        let full = TraceHeader::parse(&format!("Root={ROOT};Parent={PARENT};Sampled=1"));
        let (root, parent) = full.sampled_context().expect("sampled");
        assert_eq!((root.as_str(), parent.to_string().as_str()), (ROOT, PARENT));
        for partial in [
            format!("Root={ROOT};Parent={PARENT};Sampled=0"),
            format!("Root={ROOT};Parent={PARENT};Sampled=?"),
            format!("Root={ROOT};Parent={PARENT}"),
            format!("Root={ROOT};Sampled=1"),
            format!("Parent={PARENT};Sampled=1"),
        ] {
            assert!(
                TraceHeader::parse(&partial).sampled_context().is_none(),
                "{partial}"
            );
        }
    }

    #[test]
    fn generated_ids_have_the_right_form() {
        let trace = TraceId::generate();
        assert!(TraceId::parse(trace.as_str()).is_some(), "{trace}");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let time = u64::from_str_radix(&trace.as_str()[2..10], 16).expect("hex");
        assert!(time.abs_diff(now) <= 2);
        assert_ne!(TraceId::generate(), trace);
        let id = SegmentId::generate();
        assert_eq!(SegmentId::parse(&id.to_string()), Some(id));
        assert_eq!(SegmentId::from(0xab).to_string(), "00000000000000ab");
        assert_ne!(SegmentId::generate(), id);
    }

    proptest! {
        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = TraceHeader::parse(&input).to_string();
        }

        #[test]
        fn round_trips(
            time in 0_u32.., random in any::<[u8; 12]>(), parent in 1_u64..,
            sampled in prop::option::of(prop_oneof![Just(SamplingDecision::Sampled), Just(SamplingDecision::NotSampled), Just(SamplingDecision::Requested)]),
            extra in prop::collection::vec(("[A-Za-z][A-Za-z0-9]{0,8}", "[A-Za-z0-9:=]{0,12}"), 0..4),
        ) {
            let random: String = random.iter().map(|b| format!("{b:02x}")).collect();
            let extra: Vec<(String, String)> = extra
                .into_iter()
                .filter(|(k, _)| !matches!(k.as_str(), "Root" | "Parent" | "Sampled" | "Self"))
                .collect();
            let header = TraceHeader {
                root: TraceId::parse(&format!("1-{time:08x}-{random}")),
                parent: Some(SegmentId::from(parent)),
                sampled,
                extra,
            };
            prop_assert!(header.root.is_some());
            prop_assert_eq!(TraceHeader::parse(&header.to_string()), header);
        }
    }
}
