//! CloudWatch units and storage resolutions.

use std::fmt;

/// A CloudWatch metric unit: the whole list CloudWatch accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Unit {
    /// `Seconds`
    Seconds,
    /// `Microseconds`
    Microseconds,
    /// `Milliseconds`
    Milliseconds,
    /// `Bytes`
    Bytes,
    /// `Kilobytes`
    Kilobytes,
    /// `Megabytes`
    Megabytes,
    /// `Gigabytes`
    Gigabytes,
    /// `Terabytes`
    Terabytes,
    /// `Bits`
    Bits,
    /// `Kilobits`
    Kilobits,
    /// `Megabits`
    Megabits,
    /// `Gigabits`
    Gigabits,
    /// `Terabits`
    Terabits,
    /// `Percent`
    Percent,
    /// `Count`
    Count,
    /// `Bytes/Second`
    BytesPerSecond,
    /// `Kilobytes/Second`
    KilobytesPerSecond,
    /// `Megabytes/Second`
    MegabytesPerSecond,
    /// `Gigabytes/Second`
    GigabytesPerSecond,
    /// `Terabytes/Second`
    TerabytesPerSecond,
    /// `Bits/Second`
    BitsPerSecond,
    /// `Kilobits/Second`
    KilobitsPerSecond,
    /// `Megabits/Second`
    MegabitsPerSecond,
    /// `Gigabits/Second`
    GigabitsPerSecond,
    /// `Terabits/Second`
    TerabitsPerSecond,
    /// `Count/Second`
    CountPerSecond,
    /// `None`: a unitless value.
    None,
}

impl Unit {
    /// Every unit, in CloudWatch's order.
    pub const ALL: [Unit; 27] = [
        Unit::Seconds,
        Unit::Microseconds,
        Unit::Milliseconds,
        Unit::Bytes,
        Unit::Kilobytes,
        Unit::Megabytes,
        Unit::Gigabytes,
        Unit::Terabytes,
        Unit::Bits,
        Unit::Kilobits,
        Unit::Megabits,
        Unit::Gigabits,
        Unit::Terabits,
        Unit::Percent,
        Unit::Count,
        Unit::BytesPerSecond,
        Unit::KilobytesPerSecond,
        Unit::MegabytesPerSecond,
        Unit::GigabytesPerSecond,
        Unit::TerabytesPerSecond,
        Unit::BitsPerSecond,
        Unit::KilobitsPerSecond,
        Unit::MegabitsPerSecond,
        Unit::GigabitsPerSecond,
        Unit::TerabitsPerSecond,
        Unit::CountPerSecond,
        Unit::None,
    ];

    /// The name CloudWatch uses, as written in the document's `Unit` member.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Unit::Seconds => "Seconds",
            Unit::Microseconds => "Microseconds",
            Unit::Milliseconds => "Milliseconds",
            Unit::Bytes => "Bytes",
            Unit::Kilobytes => "Kilobytes",
            Unit::Megabytes => "Megabytes",
            Unit::Gigabytes => "Gigabytes",
            Unit::Terabytes => "Terabytes",
            Unit::Bits => "Bits",
            Unit::Kilobits => "Kilobits",
            Unit::Megabits => "Megabits",
            Unit::Gigabits => "Gigabits",
            Unit::Terabits => "Terabits",
            Unit::Percent => "Percent",
            Unit::Count => "Count",
            Unit::BytesPerSecond => "Bytes/Second",
            Unit::KilobytesPerSecond => "Kilobytes/Second",
            Unit::MegabytesPerSecond => "Megabytes/Second",
            Unit::GigabytesPerSecond => "Gigabytes/Second",
            Unit::TerabytesPerSecond => "Terabytes/Second",
            Unit::BitsPerSecond => "Bits/Second",
            Unit::KilobitsPerSecond => "Kilobits/Second",
            Unit::MegabitsPerSecond => "Megabits/Second",
            Unit::GigabitsPerSecond => "Gigabits/Second",
            Unit::TerabitsPerSecond => "Terabits/Second",
            Unit::CountPerSecond => "Count/Second",
            Unit::None => "None",
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A metric's storage resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Resolution {
    /// One-minute resolution (`StorageResolution` 60, CloudWatch's default; left out of the document).
    #[default]
    Standard,
    /// One-second resolution (`StorageResolution` 1), billed as a high-resolution metric.
    High,
}

impl Resolution {
    /// The `StorageResolution` value in seconds.
    #[must_use]
    pub const fn seconds(self) -> u8 {
        match self {
            Resolution::Standard => 60,
            Resolution::High => 1,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn unit_names_are_distinct_and_cloudwatch_spelled() {
        let names: std::collections::HashSet<_> = Unit::ALL.iter().map(|u| u.as_str()).collect();
        assert_eq!(names.len(), 27);
        assert_eq!(Unit::CountPerSecond.to_string(), "Count/Second");
        assert_eq!(Unit::None.as_str(), "None");
    }

    #[test]
    fn resolutions() {
        assert_eq!(Resolution::default(), Resolution::Standard);
        assert_eq!(Resolution::Standard.seconds(), 60);
        assert_eq!(Resolution::High.seconds(), 1);
    }
}
