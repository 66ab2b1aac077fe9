//! A rollout's immutable record: its plan, gates and hooks, as a JSON document kept beside the
//! alias (an SSM parameter on AWS). The live state, which changes, is in the alias itself
//! ([`crate::state`]).
//!
//! ```
//! use lamina_canary::record::{RecordError, RolloutRecord};
//!
//! let err = RolloutRecord::from_json(r#"{"format": 9}"#).unwrap_err();
//! assert!(matches!(err, RecordError::Format(9)));
//! ```

use serde::{Deserialize, Serialize};

use crate::{
    gate::{GatePolicy, GateSpec},
    group::GroupRef,
    strategy::Strategy,
};

/// The record format this crate writes and reads.
pub const RECORD_FORMAT: u64 = 1;

/// A record that cannot be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The record was written by a newer lamina-canary.
    #[error(
        "the rollout record has format {0}; this lamina-canary reads format {RECORD_FORMAT} (upgrade it)"
    )]
    Format(u64),
    /// The record has no readable `format` field.
    #[error(
        "the rollout record has no numeric `format` field; it was not written by lamina-canary"
    )]
    NoFormat,
    /// The document is not valid JSON or does not have the record's fields.
    #[error("the rollout record cannot be read: {0}")]
    Json(#[from] serde_json::Error),
    /// The record's release group is malformed or does not list the record's own rollout.
    #[error("the rollout record's group cannot be used: {0}")]
    Group(String),
}

/// What a rollout is: everything that does not change while it runs.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RolloutRecord {
    /// The record format, [`RECORD_FORMAT`].
    pub format: u64,
    /// The rollout's id, 12 random lowercase hex digits, also written in the alias's description.
    pub id: String,
    /// The function's name.
    pub function: String,
    /// The alias whose traffic moves.
    pub alias: String,
    /// The version the alias pointed at before the rollout.
    pub stable_version: String,
    /// The version being rolled out.
    pub canary_version: String,
    /// The steps.
    pub strategy: Strategy,
    /// The health gates.
    pub gates: Vec<GateSpec>,
    /// How the gates' verdicts are acted on.
    pub policy: GatePolicy,
    /// The function invoked before any traffic moves, if any.
    pub pre_hook: Option<String>,
    /// The function invoked after the canary became the primary version, if any.
    pub post_hook: Option<String>,
    /// When the rollout was created, in Unix seconds.
    pub created_at: u64,
    /// The alias's description before lamina-canary first wrote its state there.
    pub original_description: String,
    /// The release group this rollout belongs to, if it is one member of a group
    /// ([`crate::group`]). Absent from records of single rollouts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<GroupRef>,
}

impl RolloutRecord {
    /// A fresh rollout id: 12 random lowercase hex digits.
    pub fn new_id() -> String {
        let bits: u64 = rand::random();
        format!("{:012x}", bits & 0xffff_ffff_ffff)
    }

    /// The record as a JSON document.
    pub fn to_json(&self) -> Result<String, RecordError> {
        Ok(serde_json::to_string(self)?)
    }

    /// Reads a JSON document, refusing formats other than [`RECORD_FORMAT`] with a clear error.
    pub fn from_json(document: &str) -> Result<Self, RecordError> {
        let value: serde_json::Value = serde_json::from_str(document)?;
        match value.get("format").and_then(serde_json::Value::as_u64) {
            None => Err(RecordError::NoFormat),
            Some(RECORD_FORMAT) => {
                let record: RolloutRecord = serde_json::from_value(value)?;
                record.check_group()?;
                Ok(record)
            }
            Some(other) => Err(RecordError::Format(other)),
        }
    }

    /// A group must be well formed and list this very rollout as one of its members.
    fn check_group(&self) -> Result<(), RecordError> {
        let Some(group) = &self.group else {
            return Ok(());
        };
        group.validate().map_err(RecordError::Group)?;
        match group.member(&self.function, &self.alias) {
            Some(member) if member.id == self.id => Ok(()),
            _ => Err(RecordError::Group(format!(
                "group {} does not list rollout {} on {}:{}",
                group.name, self.id, self.function, self.alias
            ))),
        }
    }

    /// The manual gate's pause percent, if the rollout has a manual gate (the lowest, if several).
    pub fn manual_pause_percent(&self) -> Option<f64> {
        self.gates
            .iter()
            .filter_map(GateSpec::manual_pause_percent)
            .reduce(f64::min)
    }

    /// Whether any gate needs metrics or alarms (every gate but `manual`).
    pub fn has_automatic_gates(&self) -> bool {
        self.gates.iter().any(|gate| !gate.is_manual())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn record() -> RolloutRecord {
        RolloutRecord {
            format: RECORD_FORMAT,
            id: RolloutRecord::new_id(),
            function: "orders".to_owned(),
            alias: "live".to_owned(),
            stable_version: "3".to_owned(),
            canary_version: "4".to_owned(),
            strategy: "linear10-1m".parse().unwrap(),
            gates: vec![
                "error-rate<=stable".parse().unwrap(),
                "manual@50".parse().unwrap(),
            ],
            policy: GatePolicy::default(),
            pre_hook: Some("orders-pre".to_owned()),
            post_hook: None,
            created_at: 1_700_000_000,
            original_description: "the live alias".to_owned(),
            group: None,
        }
    }

    #[test]
    fn ids_are_twelve_hex_digits() {
        for _ in 0..100 {
            assert!(crate::state::is_rollout_id(&RolloutRecord::new_id()));
        }
    }

    #[test]
    fn round_trips_through_json() {
        let record = record();
        let json = record.to_json().unwrap();
        let back = RolloutRecord::from_json(&json).unwrap();
        assert_eq!(back.to_json().unwrap(), json);
        assert_eq!(back.id, record.id);
        assert_eq!(back.strategy, record.strategy);
        assert!(json.contains("\"format\":1"), "{json}");
        assert!(json.contains("\"canaryVersion\":\"4\""), "{json}");
        assert_eq!(back.manual_pause_percent(), Some(50.0));
        assert!(back.has_automatic_gates());
    }

    #[test]
    fn refuses_other_formats_and_garbage() {
        let json = record().to_json().unwrap();
        let future = json.replace("\"format\":1", "\"format\":2");
        assert!(matches!(
            RolloutRecord::from_json(&future),
            Err(RecordError::Format(2))
        ));
        let message = RolloutRecord::from_json(&future).unwrap_err().to_string();
        assert!(message.contains("upgrade"), "{message}");
        let none = json.replace("\"format\":1,", "");
        assert!(matches!(
            RolloutRecord::from_json(&none),
            Err(RecordError::NoFormat)
        ));
        assert!(matches!(
            RolloutRecord::from_json("{"),
            Err(RecordError::Json(_))
        ));
        let extra = json.replace("\"format\":1,", "\"format\":1,\"surprise\":true,");
        assert!(matches!(
            RolloutRecord::from_json(&extra),
            Err(RecordError::Json(_))
        ));
        let foreign_group = json.replace(
            "\"originalDescription\"",
            "\"group\":{\"name\":\"g\",\"members\":[{\"function\":\"other\",\"alias\":\"live\",\"id\":\"0123456789ab\"}]},\"originalDescription\"",
        );
        assert!(matches!(
            RolloutRecord::from_json(&foreign_group),
            Err(RecordError::Group(_))
        ));
        let bad_strategy = json.replace("linear10-1m", "sideways");
        assert!(matches!(
            RolloutRecord::from_json(&bad_strategy),
            Err(RecordError::Json(_))
        ));
    }
}
