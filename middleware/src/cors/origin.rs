//! Allowed-origin patterns: exact origins and `*` wildcards such as `https://*.example.com`.

use super::CorsConfigError;

/// One allowed origin: `*` (any), an exact origin, or a pattern whose `*`s each match one or more
/// characters of a host name (letters, digits, `-`, `.`) or, right after a `:`, of a port (digits);
/// never `/`, `:` or `@`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum OriginPattern {
    Any,
    Exact(String),
    /// The literal pieces between the `*`s, lowercased; `pieces.len()` is the number of stars + 1.
    Wildcard(Vec<String>),
}

impl OriginPattern {
    /// Parses one configured origin. The rules keep typos from silently allowing nothing (a trailing
    /// `/` never matches a browser's `Origin`) or everything (a bare `*.example.com` without scheme).
    pub(crate) fn parse(raw: &str) -> Result<Self, CorsConfigError> {
        let origin = raw.trim();
        let invalid = |reason: &'static str| CorsConfigError::InvalidOrigin {
            origin: origin.to_owned(),
            reason,
        };
        if origin == "*" {
            return Ok(Self::Any);
        }
        let Some((scheme, rest)) = origin.split_once("://") else {
            return Err(invalid("must start with a scheme such as https://"));
        };
        if scheme.is_empty()
            || !scheme
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b))
        {
            return Err(invalid("the scheme is not valid"));
        }
        if scheme.contains('*') {
            return Err(invalid("the scheme cannot contain a wildcard"));
        }
        if rest.is_empty() {
            return Err(invalid("the host is missing"));
        }
        if rest.contains('/') {
            return Err(invalid("an origin has no path, not even a trailing /"));
        }
        if !rest
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]*".contains(&b))
        {
            return Err(invalid(
                "the host contains characters not allowed in an origin",
            ));
        }
        if rest.contains("**") {
            return Err(invalid("consecutive wildcards"));
        }
        let lower = origin.to_ascii_lowercase();
        if !rest.contains('*') {
            return Ok(Self::Exact(lower));
        }
        Ok(Self::Wildcard(
            lower.split('*').map(str::to_owned).collect(),
        ))
    }

    /// Whether a request's `Origin` header value is allowed by this pattern.
    pub(crate) fn matches(&self, origin: &str) -> bool {
        match self {
            Self::Any => true,
            Self::Exact(exact) => exact.eq_ignore_ascii_case(origin),
            Self::Wildcard(pieces) => wildcard_match(pieces, &origin.to_ascii_lowercase()),
        }
    }

    pub(crate) fn is_any(&self) -> bool {
        matches!(self, Self::Any)
    }
}

/// Matches `pieces` joined by stars against `origin`, each star taking 1+ host characters.
fn wildcard_match(pieces: &[String], origin: &str) -> bool {
    let Some((first, rest)) = pieces.split_first() else {
        return false;
    };
    let Some(mut remaining) = origin.strip_prefix(first.as_str()) else {
        return false;
    };
    let mut previous = first.as_str();
    for (index, piece) in rest.iter().enumerate() {
        let is_last = index + 1 == rest.len();
        // A star right after `:` is a port and takes digits only; elsewhere it takes host characters.
        let in_port = previous.ends_with(':');
        let allowed = |b: u8| {
            if in_port {
                b.is_ascii_digit()
            } else {
                b.is_ascii_alphanumeric() || b == b'-' || b == b'.'
            }
        };
        previous = piece.as_str();
        // The star takes a run of allowed characters; try the shortest run that lets `piece` follow.
        let run_end = remaining
            .bytes()
            .position(|b| !allowed(b))
            .unwrap_or(remaining.len());
        let mut matched = None;
        for take in 1..=run_end {
            let Some(after) = remaining.get(take..) else {
                break;
            };
            let fits = if is_last {
                after == piece
            } else {
                after.starts_with(piece.as_str())
            };
            if fits {
                matched = Some(after.get(piece.len()..).unwrap_or_default());
                break;
            }
        }
        match matched {
            Some(after) => remaining = after,
            None => return false,
        }
    }
    remaining.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn match_table() {
        let cases = [
            ("https://app.example.com", "https://app.example.com", true),
            ("https://app.example.com", "HTTPS://APP.EXAMPLE.COM", true),
            ("https://app.example.com", "http://app.example.com", false),
            (
                "https://app.example.com",
                "https://app.example.com:443",
                false,
            ),
            ("https://*.example.com", "https://a.example.com", true),
            ("https://*.example.com", "https://a.b.example.com", true),
            ("https://*.example.com", "https://example.com", false),
            ("https://*.example.com", "https://.example.com", false),
            ("https://*.example.com", "https://evilexample.com", false),
            (
                "https://*.example.com",
                "https://a.example.com.evil.com",
                false,
            ),
            (
                "https://*.example.com",
                "https://evil.com/.example.com",
                false,
            ),
            (
                "https://*.example.com",
                "https://evil.com:.example.com",
                false,
            ),
            ("https://*.example.com", "https://user@x.example.com", false),
            ("https://*.example.com", "http://a.example.com", false),
            ("https://*.example.com", "null", false),
            ("http://localhost:*", "http://localhost:3000", true),
            ("http://localhost:*", "http://localhost", false),
            (
                "http://localhost:*",
                "http://localhost:3000.evil.com",
                false,
            ),
            ("http://localhost:*", "http://localhost:x1", false),
            (
                "https://*.example.com:*",
                "https://a.example.com:8443",
                true,
            ),
            (
                "https://pr-*.preview.example.com",
                "https://pr-12.preview.example.com",
                true,
            ),
            (
                "https://pr-*.preview.example.com",
                "https://pr-.preview.example.com",
                false,
            ),
            ("*", "null", true),
        ];
        for (pattern, origin, expected) in cases {
            let parsed =
                OriginPattern::parse(pattern).unwrap_or(OriginPattern::Exact(String::new()));
            assert_eq!(parsed.matches(origin), expected, "{pattern} vs {origin}");
        }
    }

    #[test]
    fn invalid_patterns_table() {
        for (pattern, reason) in [
            ("example.com", "scheme"),
            ("*.example.com", "scheme"),
            ("https://example.com/", "path"),
            ("https://example.com/app", "path"),
            ("https://", "host is missing"),
            ("ht*ps://x.com", "scheme"),
            ("https://exa mple.com", "characters"),
            ("https://**.example.com", "consecutive"),
            ("://example.com", "scheme"),
        ] {
            match OriginPattern::parse(pattern) {
                Err(CorsConfigError::InvalidOrigin { reason: got, .. }) => {
                    assert!(got.contains(reason), "{pattern}: {got}");
                }
                other => panic!("{pattern}: {other:?}"),
            }
        }
    }

    proptest! {
        #[test]
        fn parsing_and_matching_never_panic(pattern in "[a-z:/*.\\-]{0,30}", origin in "[ -~é]{0,40}") {
            if let Ok(parsed) = OriginPattern::parse(&pattern) {
                let _ = parsed.matches(&origin);
            }
        }

        #[test]
        fn subdomain_wildcard_matches_exactly_the_subdomains(label in "[a-z0-9-]{1,20}", evil in "[a-z]{1,10}") {
            let pattern = OriginPattern::parse("https://*.example.com").unwrap_or(OriginPattern::Any);
            let subdomain = format!("https://{label}.example.com");
            let suffix = format!("https://{label}.example.com.{evil}");
            let lookalike = format!("https://{label}example.com");
            prop_assert!(pattern.matches(&subdomain));
            prop_assert!(!pattern.matches(&suffix));
            prop_assert!(!pattern.matches(&lookalike));
        }
    }
}
