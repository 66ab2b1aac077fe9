//! The end of a rollout: its outcome kept beside its record, and the alias's description given
//! back to its owner.

use super::{CanaryError, Controller, RolloutStatus, status};
use crate::{
    gate::GateReport,
    outcome::RolloutOutcome,
    ports::{AliasState, AliasUpdate, PortError},
    record::RolloutRecord,
    state::LiveState,
};

impl Controller {
    /// After the write that ended `record`'s rollout (the alias now `written`, describing
    /// `ended`): stores the outcome (create-only; one already stored is kept), then puts back
    /// the description the alias had before the rollout, in one write conditional on
    /// `written`'s revision that keeps its versions and routing. Returns the alias as left.
    ///
    /// Killed between the two, or refused by AWS, the alias still describes the ended rollout,
    /// and the next decision on it (`canary run`) finishes this. A write that loses to someone
    /// else's leaves the alias to them.
    pub(super) async fn finish(
        &self,
        record: &RolloutRecord,
        ended: &LiveState,
        written: AliasState,
    ) -> Result<AliasState, CanaryError> {
        let Some(outcome) = RolloutOutcome::of(ended) else {
            return Ok(written);
        };
        if ended.id != record.id {
            // The record is another rollout's (two deploys raced): its description is not ours
            // to give back.
            return Ok(written);
        }
        let document = outcome.to_json().map_err(|error| {
            CanaryError::InvalidInput(format!("the outcome cannot be written: {error}"))
        })?;
        match self
            .ports
            .records
            .create_outcome(&record.function, &record.alias, &record.id, &document)
            .await
        {
            Ok(()) | Err(PortError::Conflict(_)) => {}
            Err(error) => return Err(CanaryError::Aws(error)),
        }
        let update = AliasUpdate {
            function_version: written.function_version.clone(),
            routing: written.routing.clone(),
            description: record.original_description.clone(),
        };
        match self
            .ports
            .aliases
            .update_alias(
                &record.function,
                &record.alias,
                &update,
                &written.revision_id,
            )
            .await
        {
            Ok(restored) => Ok(restored),
            Err(PortError::Conflict(_)) => Ok(written),
            Err(error) => Err(CanaryError::Aws(error)),
        }
    }

    /// [`finish`](Self::finish) when `ended` is over, keeping `written` if finishing fails: the
    /// rollout is over either way, and its description says how until the next decision
    /// finishes it.
    pub(super) async fn finish_if_over(
        &self,
        record: &RolloutRecord,
        ended: &LiveState,
        written: AliasState,
    ) -> AliasState {
        if !ended.phase.is_terminal() {
            return written;
        }
        let kept = written.clone();
        self.finish(record, ended, written).await.unwrap_or(kept)
    }

    /// The newest rollout of `function:alias` that has ended and given the alias back, as a
    /// status: its record and its stored outcome. `None` when the newest record has no outcome.
    pub(super) async fn last_ended(
        &self,
        function: &str,
        alias: &str,
        state: &AliasState,
    ) -> Result<Option<RolloutStatus>, CanaryError> {
        let newest = self
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
            .max_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let Some(record) = newest else {
            return Ok(None);
        };
        let Some(outcome) = self.outcome_of(&record).await? else {
            return Ok(None);
        };
        Ok(Some(status::build(
            &record,
            &outcome.live_state(),
            state,
            GateReport::default(),
        )))
    }

    /// The stored outcome of `record`'s rollout, if there is a readable one.
    pub(super) async fn outcome_of(
        &self,
        record: &RolloutRecord,
    ) -> Result<Option<RolloutOutcome>, CanaryError> {
        Ok(self
            .ports
            .records
            .get_outcome(&record.function, &record.alias, &record.id)
            .await?
            .and_then(|document| RolloutOutcome::from_json(&document).ok())
            .filter(|outcome| outcome.id == record.id))
    }
}
