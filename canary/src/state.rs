//! A rollout's live state, kept in the alias's description so that every transition is one
//! conditional alias write and a killed controller leaves an alias that describes itself.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use lamina_canary::state::{LiveState, Phase};
//!
//! let state = LiveState {
//!     id: "3f9a1c2b7d4e".to_owned(),
//!     phase: Phase::Shifting,
//!     step: 2,
//!     since: UNIX_EPOCH + Duration::from_secs(1_732_800_000),
//!     fails: 0,
//!     held: None,
//!     why: None,
//! };
//! let text = state.encode();
//! assert_eq!(
//!     text,
//!     "lamina-canary/1 id=3f9a1c2b7d4e phase=shifting step=2 since=1732800000 fails=0 held=0 why=-"
//! );
//! assert_eq!(LiveState::decode(&text).unwrap(), Some(state));
//! assert_eq!(LiveState::decode("my alias").unwrap(), None);
//! ```

use std::{
    fmt,
    str::FromStr,
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use serde::{Deserialize, Serialize};

/// What every description written by lamina-canary starts with.
pub const PREFIX: &str = "lamina-canary/";

/// The version of the description format this crate writes and reads.
pub const FORMAT: u32 = 1;

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// The record is written and no traffic is shifted yet; the pre-traffic hook runs next.
    PreHook,
    /// The canary gets the current step's share of the traffic.
    Shifting,
    /// A manual gate was reached; waiting for `canary promote` or `canary abort`.
    Paused,
    /// The canary is the primary version; the post-traffic hook runs next.
    PostHook,
    /// The canary is the primary version and the rollout is over.
    Succeeded,
    /// The stable version is the primary version again and the rollout is over.
    RolledBack,
}

impl Phase {
    /// Every phase, in the order a rollout goes through them.
    pub const ALL: [Phase; 6] = [
        Phase::PreHook,
        Phase::Shifting,
        Phase::Paused,
        Phase::PostHook,
        Phase::Succeeded,
        Phase::RolledBack,
    ];

    /// The phase's name in the description: `pre-hook`, `shifting`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::PreHook => "pre-hook",
            Phase::Shifting => "shifting",
            Phase::Paused => "paused",
            Phase::PostHook => "post-hook",
            Phase::Succeeded => "succeeded",
            Phase::RolledBack => "rolled-back",
        }
    }

    /// Whether the rollout is over (succeeded or rolled back).
    pub fn is_terminal(self) -> bool {
        matches!(self, Phase::Succeeded | Phase::RolledBack)
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Phase {
    type Err = StateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|phase| phase.as_str() == text)
            .ok_or_else(|| StateError::Field {
                field: "phase",
                value: text.to_owned(),
            })
    }
}

/// Why a rollout was rolled back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RollbackReason {
    /// A gate failed more often than the policy tolerates.
    Gate,
    /// The pre-traffic hook failed.
    Hook,
    /// Someone ran `canary abort`.
    Abort,
    /// A gate's data source stayed unavailable longer than the policy's data deadline.
    Deadline,
    /// The post-traffic hook failed (the primary went back to the stable version).
    PostHook,
    /// The alias was edited by hand during the rollout, and then aborted (or left so past the
    /// drift timeout).
    Drift,
    /// A step waited for enough data past its progress deadline, and the policy said roll back.
    Progress,
    /// The canary version was deleted during the rollout.
    Vanished,
}

impl RollbackReason {
    /// Every reason.
    pub const ALL: [RollbackReason; 8] = [
        RollbackReason::Gate,
        RollbackReason::Hook,
        RollbackReason::Abort,
        RollbackReason::Deadline,
        RollbackReason::PostHook,
        RollbackReason::Drift,
        RollbackReason::Progress,
        RollbackReason::Vanished,
    ];

    /// The reason's name in the description: `gate`, `hook`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            RollbackReason::Gate => "gate",
            RollbackReason::Hook => "hook",
            RollbackReason::Abort => "abort",
            RollbackReason::Deadline => "deadline",
            RollbackReason::PostHook => "post-hook",
            RollbackReason::Drift => "drift",
            RollbackReason::Progress => "progress",
            RollbackReason::Vanished => "vanished",
        }
    }
}

impl fmt::Display for RollbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A description that starts with [`PREFIX`] but cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StateError {
    /// The description was written by a newer lamina-canary.
    #[error(
        "the alias description uses state format {0}; this lamina-canary reads format {FORMAT} (upgrade it)"
    )]
    Format(String),
    /// A field is missing.
    #[error("the alias description has no `{0}=` field")]
    Missing(&'static str),
    /// A field appears twice, or a word is not a known `key=value` field.
    #[error("the alias description has an unexpected word {0:?}")]
    Unexpected(String),
    /// A field's value cannot be read.
    #[error("the alias description's `{field}` field has the invalid value {value:?}")]
    Field {
        /// The field's name.
        field: &'static str,
        /// Its value as written.
        value: String,
    },
}

/// A rollout's live state: what the alias's description says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveState {
    /// The rollout's id (12 lowercase hex digits), the key of its record.
    pub id: String,
    /// Where the rollout stands.
    pub phase: Phase,
    /// The current step (0-based) while shifting or paused; otherwise the last step reached.
    pub step: usize,
    /// When the current step (or phase) began; the gates' window starts here.
    pub since: SystemTime,
    /// Failed gate checks in this step.
    pub fails: u32,
    /// Since when the rollout has been held by something it cannot fix, if it is: a gate's data
    /// source that fails, or an alias edited by hand.
    pub held: Option<SystemTime>,
    /// Why the rollout was rolled back, once it was.
    pub why: Option<RollbackReason>,
}

/// Whole seconds since the Unix epoch; times before it count as 0.
pub fn unix_seconds(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or(0)
}

/// The time `seconds` after the Unix epoch.
pub fn from_unix_seconds(seconds: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(seconds)
}

/// Whether `id` is a rollout id: 12 lowercase hex digits.
pub fn is_rollout_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl LiveState {
    /// The description text: `lamina-canary/1 id=... phase=... step=N since=S fails=N held=S why=R`,
    /// at most 90 characters, well within Lambda's 256.
    pub fn encode(&self) -> String {
        format!(
            "{PREFIX}{FORMAT} id={} phase={} step={} since={} fails={} held={} why={}",
            self.id,
            self.phase,
            self.step,
            unix_seconds(self.since),
            self.fails,
            self.held.map(unix_seconds).unwrap_or(0),
            self.why.map(RollbackReason::as_str).unwrap_or("-"),
        )
    }

    /// Reads a description: `Ok(None)` when it was not written by lamina-canary (it does not
    /// start with [`PREFIX`]), an error when it was but cannot be read.
    pub fn decode(description: &str) -> Result<Option<LiveState>, StateError> {
        let Some(rest) = description.strip_prefix(PREFIX) else {
            return Ok(None);
        };
        let mut words = rest.split(' ');
        let format = words.next().unwrap_or_default();
        if format != FORMAT.to_string() {
            return Err(StateError::Format(format.chars().take(16).collect()));
        }
        let mut fields: [Option<&str>; 7] = [None; 7];
        const KEYS: [&str; 7] = ["id", "phase", "step", "since", "fails", "held", "why"];
        for word in words {
            let unexpected = || StateError::Unexpected(word.chars().take(32).collect());
            let (key, value) = word.split_once('=').ok_or_else(unexpected)?;
            let slot = KEYS
                .iter()
                .position(|known| *known == key)
                .ok_or_else(unexpected)?;
            if fields[slot].replace(value).is_some() {
                return Err(unexpected());
            }
        }
        let field = |slot: usize| fields[slot].ok_or(StateError::Missing(KEYS[slot]));
        let invalid = |slot: usize, value: &str| StateError::Field {
            field: KEYS[slot],
            value: value.chars().take(32).collect(),
        };
        let number = |slot: usize| -> Result<u64, StateError> {
            let value = field(slot)?;
            if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
                return Err(invalid(slot, value));
            }
            value.parse::<u64>().map_err(|_| invalid(slot, value))
        };

        let id = field(0)?;
        if !is_rollout_id(id) {
            return Err(invalid(0, id));
        }
        let phase: Phase = field(1)?.parse()?;
        let step = usize::try_from(number(2)?).map_err(|_| invalid(2, field(2).unwrap_or("")))?;
        let since = from_unix_seconds(number(3)?);
        let fails = u32::try_from(number(4)?).map_err(|_| invalid(4, field(4).unwrap_or("")))?;
        let held = match number(5)? {
            0 => None,
            seconds => Some(from_unix_seconds(seconds)),
        };
        let why_text = field(6)?;
        let why = match why_text {
            "-" => None,
            text => Some(
                RollbackReason::ALL
                    .into_iter()
                    .find(|reason| reason.as_str() == text)
                    .ok_or_else(|| invalid(6, text))?,
            ),
        };
        if (phase == Phase::RolledBack) != why.is_some() {
            return Err(invalid(6, why_text));
        }
        Ok(Some(LiveState {
            id: id.to_owned(),
            phase,
            step,
            since,
            fails,
            held,
            why,
        }))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use proptest::prelude::*;

    use super::*;

    fn sample() -> LiveState {
        LiveState {
            id: "0123456789ab".to_owned(),
            phase: Phase::Shifting,
            step: 3,
            since: from_unix_seconds(1_700_000_000),
            fails: 1,
            held: Some(from_unix_seconds(1_700_000_100)),
            why: None,
        }
    }

    #[test]
    fn foreign_descriptions_are_not_ours() {
        for text in [
            "",
            "production",
            "lamina-canary",
            "Lamina-canary/1 id=x",
            " lamina-canary/1",
        ] {
            assert_eq!(LiveState::decode(text).unwrap(), None, "{text:?}");
        }
    }

    #[test]
    fn malformed_descriptions_are_errors() {
        let good = sample().encode();
        let cases = [
            ("lamina-canary/2 id=0123456789ab", "format"),
            ("lamina-canary/", "format"),
            (&good.replace("id=0123456789ab", "id=XYZ"), "id"),
            (&good.replace("phase=shifting", "phase=flying"), "phase"),
            (&good.replace("step=3", "step=-1"), "step"),
            (&good.replace("step=3", "step=+3"), "step"),
            (&good.replace("since=1700000000", "since="), "since"),
            (&good.replace("fails=1", "fails=99999999999"), "fails"),
            (&good.replace("why=-", "why=bored"), "why"),
            (
                &good.replace("why=-", "why=gate"),
                "why on a shifting phase",
            ),
            (&good.replace(" held=1700000100", ""), "missing held"),
            (&format!("{good} extra"), "extra word"),
            (&format!("{good} id=0123456789ab"), "duplicate"),
            (&good.replace(' ', "  "), "double space"),
        ];
        for (text, what) in cases {
            assert!(LiveState::decode(text).is_err(), "{what}: {text:?}");
        }
    }

    #[test]
    fn every_phase_and_reason_round_trips() {
        for phase in Phase::ALL {
            let reasons: Vec<Option<RollbackReason>> = if phase == Phase::RolledBack {
                RollbackReason::ALL.into_iter().map(Some).collect()
            } else {
                vec![None]
            };
            for why in reasons {
                let state = LiveState {
                    phase,
                    why,
                    held: None,
                    ..sample()
                };
                assert_eq!(LiveState::decode(&state.encode()).unwrap(), Some(state));
            }
        }
    }

    #[test]
    fn the_longest_description_fits_in_an_alias() {
        let state = LiveState {
            id: "ffffffffffff".to_owned(),
            phase: Phase::RolledBack,
            step: usize::MAX,
            since: from_unix_seconds(u64::MAX / 4),
            fails: u32::MAX,
            held: Some(from_unix_seconds(u64::MAX / 4)),
            why: Some(RollbackReason::PostHook),
        };
        assert!(state.encode().len() <= crate::ports::MAX_ALIAS_DESCRIPTION);
    }

    fn arb_state() -> impl Strategy<Value = LiveState> {
        (
            "[0-9a-f]{12}",
            0..6usize,
            0..25usize,
            0..4_000_000_000u64,
            any::<u32>(),
            0..4_000_000_000u64,
            0..8usize,
        )
            .prop_map(|(id, phase, step, since, fails, held, why)| {
                let phase = Phase::ALL[phase];
                LiveState {
                    id,
                    phase,
                    step,
                    since: from_unix_seconds(since),
                    fails,
                    held: (held > 0).then(|| from_unix_seconds(held)),
                    why: (phase == Phase::RolledBack).then_some(RollbackReason::ALL[why]),
                }
            })
    }

    proptest! {
        #[test]
        fn round_trip(state in arb_state()) {
            let text = state.encode();
            prop_assert!(text.len() <= crate::ports::MAX_ALIAS_DESCRIPTION);
            prop_assert_eq!(LiveState::decode(&text).unwrap(), Some(state));
        }

        #[test]
        fn arbitrary_text_never_panics(text in ".{0,300}") {
            let _ = LiveState::decode(&text);
        }

        #[test]
        fn arbitrary_text_after_the_prefix_never_panics(text in "[ -~]{0,120}") {
            let _ = LiveState::decode(&format!("{PREFIX}{text}"));
            let _ = LiveState::decode(&format!("{PREFIX}1 {text}"));
        }
    }
}
