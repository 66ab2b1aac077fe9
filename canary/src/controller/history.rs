//! `canary history`: an alias's rollouts, past and present, from their records.

use serde::Serialize;

use super::{CanaryError, Controller};
use crate::{
    record::RolloutRecord,
    state::{LiveState, Phase, RollbackReason},
};

/// What is known of how a rollout in an alias's history went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum HistoryOutcome {
    /// The alias still describes this rollout, or its stored outcome says how it ended: its
    /// phase, and why it rolled back if it did.
    Described {
        /// The phase.
        phase: Phase,
        /// Why it rolled back.
        why: Option<RollbackReason>,
    },
    /// A later rollout started from this one's version: it was rolled out.
    Succeeded,
    /// A later rollout started from this one's stable version: it was rolled back or aborted,
    /// or it lost the race to another deploy and never ran (the alias's description, which said
    /// which, has since been replaced).
    NotRolledOut,
    /// Nothing tells: the alias neither describes it nor was deployed from its versions since.
    Unknown,
}

/// One rollout in an alias's history.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// The rollout's id.
    pub id: String,
    /// When it was deployed (Unix seconds).
    pub created_unix: u64,
    /// The version the alias served before.
    pub stable_version: String,
    /// The version rolled out.
    pub canary_version: String,
    /// The strategy, as written.
    pub strategy: String,
    /// The gates, as written.
    pub gates: Vec<String>,
    /// How it went.
    #[serde(flatten)]
    pub outcome: HistoryOutcome,
}

impl Controller {
    /// The rollouts of `function:alias`, oldest first, from their records (unreadable records
    /// are left out). The rollout the alias describes has its phase, an ended one its stored
    /// outcome; an older one without either has its outcome inferred from the rollout that
    /// followed it.
    pub async fn history(
        &self,
        function: &str,
        alias: &str,
    ) -> Result<Vec<HistoryEntry>, CanaryError> {
        let state = self.read_alias(function, alias).await?;
        let described = LiveState::decode(&state.description).ok().flatten();
        let mut records: Vec<RolloutRecord> = self
            .ports
            .records
            .history(function, alias)
            .await?
            .into_iter()
            .filter_map(|(id, document)| {
                RolloutRecord::from_json(&document)
                    .ok()
                    .filter(|record| record.id == id)
            })
            .collect();
        records.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let mut ended = Vec::with_capacity(records.len());
        for record in &records {
            ended.push(self.outcome_of(record).await?);
        }
        let entries = records
            .iter()
            .zip(ended)
            .enumerate()
            .map(|(index, (record, ended))| {
                let next = records.get(index + 1);
                let outcome = match (&described, next) {
                    (Some(live), _) if live.id == record.id => HistoryOutcome::Described {
                        phase: live.phase,
                        why: live.why,
                    },
                    _ if let Some(ended) = ended => HistoryOutcome::Described {
                        phase: ended.phase,
                        why: ended.why,
                    },
                    (_, Some(next)) if next.stable_version == record.canary_version => {
                        HistoryOutcome::Succeeded
                    }
                    (_, Some(next)) if next.stable_version == record.stable_version => {
                        HistoryOutcome::NotRolledOut
                    }
                    _ => HistoryOutcome::Unknown,
                };
                HistoryEntry {
                    id: record.id.clone(),
                    created_unix: record.created_at,
                    stable_version: record.stable_version.clone(),
                    canary_version: record.canary_version.clone(),
                    strategy: record.strategy.to_string(),
                    gates: record.gates.iter().map(ToString::to_string).collect(),
                    outcome,
                }
            })
            .collect();
        Ok(entries)
    }
}
