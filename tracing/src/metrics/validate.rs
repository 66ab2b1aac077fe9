//! CloudWatch's rules for names and values, checked when they are added.

use super::error::NameRule;

/// Longest namespace, metric name and dimension name CloudWatch accepts.
pub(crate) const MAX_NAME_LEN: usize = 255;
/// Longest dimension value CloudWatch accepts.
pub(crate) const MAX_DIMENSION_VALUE_LEN: usize = 1024;
/// Most dimensions in a dimension set.
pub(crate) const MAX_DIMENSIONS: usize = 30;
/// Most metrics in one document's directive.
pub(crate) const MAX_METRICS_PER_DOCUMENT: usize = 100;
/// Most values of one metric in one document.
pub(crate) const MAX_VALUES_PER_METRIC: usize = 100;
/// Smallest non-zero magnitude CloudWatch accepts (EMF specification).
pub(crate) const MIN_MAGNITUDE: f64 = 8.515920e-109;
/// Largest magnitude CloudWatch accepts (EMF specification).
pub(crate) const MAX_MAGNITUDE: f64 = 1.174271e+108;
/// The root member holding the EMF directive.
pub(crate) const RESERVED: &str = "_aws";

/// Rules shared by metric names, dimension names and dimension values.
fn ascii_text(text: &str, max: usize) -> Result<(), NameRule> {
    if text.is_empty() {
        return Err(NameRule::Empty);
    }
    if !text.is_ascii() {
        return Err(NameRule::NonAscii);
    }
    // ASCII, so bytes are characters.
    if text.len() > max {
        return Err(NameRule::TooLong { max });
    }
    if text.bytes().any(|b| b.is_ascii_control()) {
        return Err(NameRule::ControlCharacter);
    }
    if text.bytes().all(|b| b == b' ') {
        return Err(NameRule::OnlyWhitespace);
    }
    if text == RESERVED {
        return Err(NameRule::Reserved);
    }
    Ok(())
}

/// A namespace: 1-255 characters from `0-9A-Za-z . - _ / # :` and space, not starting with a colon
/// or `AWS/`.
pub(crate) fn namespace(namespace: &str) -> Result<(), NameRule> {
    ascii_text(namespace, MAX_NAME_LEN)?;
    if let Some(bad) = namespace
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || ".-_/#: ".contains(*c)))
    {
        return Err(NameRule::InvalidCharacter(bad));
    }
    if namespace.starts_with(':') {
        return Err(NameRule::LeadingColon);
    }
    if namespace.starts_with("AWS/") {
        return Err(NameRule::ReservedPrefix);
    }
    Ok(())
}

/// A metric name: 1-255 ASCII characters, no control characters, not only whitespace.
pub(crate) fn metric_name(name: &str) -> Result<(), NameRule> {
    ascii_text(name, MAX_NAME_LEN)
}

/// A dimension name: as a metric name, and not starting with a colon.
pub(crate) fn dimension_name(name: &str) -> Result<(), NameRule> {
    ascii_text(name, MAX_NAME_LEN)?;
    if name.starts_with(':') {
        return Err(NameRule::LeadingColon);
    }
    Ok(())
}

/// A dimension value: 1-1024 ASCII characters, no control characters, not only whitespace.
pub(crate) fn dimension_value(value: &str) -> Result<(), NameRule> {
    match ascii_text(value, MAX_DIMENSION_VALUE_LEN) {
        // A dimension value may be the string "_aws"; only member names are reserved.
        Err(NameRule::Reserved) => Ok(()),
        other => other,
    }
}

/// A metadata key: any non-empty string except `_aws`.
pub(crate) fn metadata_key(key: &str) -> Result<(), NameRule> {
    if key.is_empty() {
        return Err(NameRule::Empty);
    }
    if key == RESERVED {
        return Err(NameRule::Reserved);
    }
    Ok(())
}

/// Whether CloudWatch accepts the value: finite, and zero or within its magnitudes.
pub(crate) fn value_in_range(value: f64) -> bool {
    let magnitude = value.abs();
    value == 0.0 || (MIN_MAGNITUDE..=MAX_MAGNITUDE).contains(&magnitude)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn namespace_rules() {
        let long = "n".repeat(256);
        let cases: &[(&str, Result<(), NameRule>)] = &[
            ("Orders", Ok(())),
            ("my-app/orders.v2_#1 x:y", Ok(())),
            ("", Err(NameRule::Empty)),
            ("   ", Err(NameRule::OnlyWhitespace)),
            (":ns", Err(NameRule::LeadingColon)),
            ("AWS/Lambda", Err(NameRule::ReservedPrefix)),
            ("a,b", Err(NameRule::InvalidCharacter(','))),
            ("é", Err(NameRule::NonAscii)),
            ("a\tb", Err(NameRule::ControlCharacter)),
            (&long, Err(NameRule::TooLong { max: 255 })),
        ];
        for (input, expected) in cases {
            assert_eq!(namespace(input), *expected, "{input:?}");
        }
        assert_eq!(namespace(&"n".repeat(255)), Ok(()));
    }

    #[test]
    fn name_and_value_rules() {
        assert_eq!(metric_name("Latency p99"), Ok(()));
        assert_eq!(metric_name(":ok-for-metrics"), Ok(()));
        assert_eq!(metric_name("_aws"), Err(NameRule::Reserved));
        assert_eq!(metric_name("a\nb"), Err(NameRule::ControlCharacter));
        assert_eq!(dimension_name(":x"), Err(NameRule::LeadingColon));
        assert_eq!(dimension_name("_aws"), Err(NameRule::Reserved));
        assert_eq!(dimension_name(&"d".repeat(255)), Ok(()));
        assert_eq!(
            dimension_name(&"d".repeat(256)),
            Err(NameRule::TooLong { max: 255 })
        );
        assert_eq!(dimension_value(&"v".repeat(1024)), Ok(()));
        assert_eq!(
            dimension_value(&"v".repeat(1025)),
            Err(NameRule::TooLong { max: 1024 })
        );
        assert_eq!(dimension_value("_aws"), Ok(()));
        assert_eq!(dimension_value(" "), Err(NameRule::OnlyWhitespace));
        assert_eq!(metadata_key("é ok"), Ok(()));
        assert_eq!(metadata_key(""), Err(NameRule::Empty));
    }

    #[test]
    fn value_ranges() {
        for ok in [0.0, -0.0, 1.0, -1.5e100, MAX_MAGNITUDE, MIN_MAGNITUDE] {
            assert!(value_in_range(ok), "{ok}");
        }
        for bad in [1e109, -1e109, 1e-110, f64::MAX] {
            assert!(!value_in_range(bad), "{bad}");
        }
    }
}
