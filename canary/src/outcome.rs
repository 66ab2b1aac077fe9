//! How a rollout ended, kept as a small document beside its record once the alias's
//! description has been given back to its owner.
//!
//! While a rollout runs, its live state is the alias's description ([`crate::state`]). When it
//! ends, the controller writes its outcome here (create-only, like the record) and then puts
//! back the description the alias had before the rollout, so the alias reads as its owner left
//! it and `status` and `history` still know how the rollout went.
//!
//! ```
//! use lamina_canary::{outcome::RolloutOutcome, state::{Phase, RollbackReason}};
//!
//! let outcome = RolloutOutcome::new("0123456789ab", Phase::RolledBack, Some(RollbackReason::Gate), 2, 1_700_000_000);
//! let back = RolloutOutcome::from_json(&outcome.to_json().unwrap()).unwrap();
//! assert_eq!(back, outcome);
//! assert_eq!(back.live_state().why, Some(RollbackReason::Gate));
//! assert!(RolloutOutcome::from_json(r#"{"format":1,"id":"0123456789ab","phase":"shifting","step":0,"endedAt":0}"#).is_err());
//! ```

use serde::{Deserialize, Serialize};

use crate::{
    record::{RECORD_FORMAT, RecordError},
    state::{LiveState, Phase, RollbackReason, from_unix_seconds, is_rollout_id},
};

/// How one rollout ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutOutcome {
    /// The document format, [`RECORD_FORMAT`].
    pub format: u64,
    /// The rollout's id.
    pub id: String,
    /// [`Phase::Succeeded`] or [`Phase::RolledBack`].
    pub phase: Phase,
    /// Why it was rolled back, if it was.
    pub why: Option<RollbackReason>,
    /// The last step reached (0-based).
    pub step: usize,
    /// When it ended, in Unix seconds.
    pub ended_at: u64,
}

impl RolloutOutcome {
    /// The outcome of rollout `id`, ended in `phase` (with `why` when rolled back) at `step`.
    pub fn new(
        id: &str,
        phase: Phase,
        why: Option<RollbackReason>,
        step: usize,
        ended_at: u64,
    ) -> Self {
        Self {
            format: RECORD_FORMAT,
            id: id.to_owned(),
            phase,
            why,
            step,
            ended_at,
        }
    }

    /// The outcome written in the terminal live state `live`, if `live` is over.
    pub fn of(live: &LiveState) -> Option<Self> {
        live.phase.is_terminal().then(|| {
            Self::new(
                &live.id,
                live.phase,
                live.why,
                live.step,
                crate::state::unix_seconds(live.since),
            )
        })
    }

    /// The document.
    pub fn to_json(&self) -> Result<String, RecordError> {
        Ok(serde_json::to_string(self)?)
    }

    /// Reads a document, refusing other formats, a rollout that is not over, a bad id, and a
    /// reason on a success or none on a rollback.
    pub fn from_json(document: &str) -> Result<Self, RecordError> {
        let value: serde_json::Value = serde_json::from_str(document)?;
        let outcome: Self = match value.get("format").and_then(serde_json::Value::as_u64) {
            None => return Err(RecordError::NoFormat),
            Some(RECORD_FORMAT) => serde_json::from_value(value)?,
            Some(other) => return Err(RecordError::Format(other)),
        };
        let consistent = outcome.phase.is_terminal()
            && (outcome.phase == Phase::RolledBack) == outcome.why.is_some()
            && is_rollout_id(&outcome.id);
        if !consistent {
            return Err(RecordError::Json(serde::de::Error::custom(format!(
                "the outcome of rollout {:?} is not an ending: {} with reason {:?}",
                outcome.id, outcome.phase, outcome.why
            ))));
        }
        Ok(outcome)
    }

    /// The terminal live state this outcome stands for.
    pub fn live_state(&self) -> LiveState {
        LiveState {
            id: self.id.clone(),
            phase: self.phase,
            step: self.step,
            since: from_unix_seconds(self.ended_at),
            fails: 0,
            held: None,
            why: self.why,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn only_endings_are_outcomes() {
        let good = RolloutOutcome::new("0123456789ab", Phase::Succeeded, None, 3, 5)
            .to_json()
            .unwrap();
        assert!(RolloutOutcome::from_json(&good).is_ok());
        let cases = [
            good.replace("succeeded", "paused"),
            good.replace("\"why\":null", "\"why\":\"gate\""),
            good.replace("succeeded", "rolled-back"),
            good.replace("0123456789ab", "nope"),
            good.replace("\"format\":1", "\"format\":2"),
            good.replace("\"step\":3", "\"step\":3,\"extra\":1"),
            "{".to_owned(),
        ];
        for case in cases {
            assert!(RolloutOutcome::from_json(&case).is_err(), "{case}");
        }
    }
}
