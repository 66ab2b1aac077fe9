//! `canary deploy`: validate everything, write the record, then the first transition.

use super::{
    CanaryError, Controller, DeployRequest, MAX_CONFLICTS, RolloutStatus, VersionChoice, status,
};
use crate::gate::GatePolicy;
use crate::{
    decision::plan_start,
    gate::GateReport,
    ports::{AliasState, PortError},
    record::{RECORD_FORMAT, RolloutRecord},
    state::{LiveState, unix_seconds},
};

/// What [`Controller::check_request`] found.
pub(super) struct Checked {
    /// The alias as read.
    pub(super) alias: AliasState,
    /// The description to restore when the rollout ends.
    pub(super) original_description: String,
    /// The version to roll out, unless it is still to be published.
    pub(super) canary_version: Option<String>,
}

fn is_published(version: &str) -> bool {
    !version.is_empty() && version.len() <= 10 && version.bytes().all(|b| b.is_ascii_digit())
}

/// A function or alias name, or a hook's name, ARN or `name:qualifier`, as Lambda accepts them.
fn check_name(what: &str, name: &str) -> Result<(), CanaryError> {
    let valid = !name.is_empty()
        && name.len() <= 170
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.' | b'$'));
    if valid {
        Ok(())
    } else {
        Err(CanaryError::InvalidInput(format!(
            "{what} {name:?} is not a valid Lambda name"
        )))
    }
}

impl Controller {
    /// Starts a rollout. Everything is checked before anything is written: the function and
    /// alias exist, the version exists and is not already the alias's primary, no rollout is in
    /// progress on the alias (one that is over may be replaced), and the alias has no routing of
    /// its own. With [`VersionChoice::Publish`], `$LATEST` is published first. Then the record is
    /// written, then the first transition in one conditional alias write.
    pub async fn deploy(&self, request: DeployRequest) -> Result<RolloutStatus, CanaryError> {
        let DeployRequest {
            function,
            alias,
            version,
            strategy,
            gates,
            policy,
            pre_hook,
            post_hook,
        } = request;
        let checked = self
            .check_request(&function, &alias, &version, &policy, &pre_hook, &post_hook)
            .await?;
        let (state, original_description) = (checked.alias, checked.original_description);
        let canary_version = match checked.canary_version {
            Some(version) => version,
            None => self.ports.aliases.publish_version(&function).await?,
        };
        if canary_version == state.function_version {
            return Err(CanaryError::InvalidInput(format!(
                "{function}:{alias} already points at version {canary_version}; there is nothing to roll out"
            )));
        }

        let record = RolloutRecord {
            format: RECORD_FORMAT,
            id: RolloutRecord::new_id(),
            function: function.clone(),
            alias: alias.clone(),
            stable_version: state.function_version.clone(),
            canary_version,
            strategy,
            gates,
            policy,
            pre_hook,
            post_hook,
            created_at: unix_seconds(self.now()),
            original_description,
            group: None,
        };
        let document = record.to_json().map_err(|error| {
            CanaryError::InvalidInput(format!("the rollout record cannot be written: {error}"))
        })?;
        // Keyed by the new id and never overwritten: a deploy racing this one writes its own
        // record beside this one, and only the alias write decides which rollout runs.
        self.ports
            .records
            .create_record(&function, &alias, &record.id, &document)
            .await?;
        let record = std::sync::Arc::new(record);
        self.remember(&record);

        let mut state = state;
        for _ in 0..MAX_CONFLICTS {
            let plan = plan_start(&record, self.now());
            let (Some(update), Some(next)) = (plan.update, plan.next) else {
                return Err(CanaryError::Conflict(
                    "the rollout has no first step".to_owned(),
                ));
            };
            match self
                .ports
                .aliases
                .update_alias(&function, &alias, &update, &state.revision_id)
                .await
            {
                Ok(written) => {
                    // A rollout with nothing to wait for (all at once, no hooks) is over already.
                    let written = self.finish_if_over(&record, &next, written).await;
                    return Ok(status::build(
                        &record,
                        &next,
                        &written,
                        GateReport::default(),
                    ));
                }
                Err(PortError::Conflict(_)) => {
                    state = self.read_alias(&function, &alias).await?;
                    // The SDK retries a write whose answer was lost; if AWS had applied the
                    // first attempt, the retry's 412 is about this very write.
                    if let Ok(Some(live)) = LiveState::decode(&state.description)
                        && live.id == record.id
                    {
                        return Ok(status::build(&record, &live, &state, GateReport::default()));
                    }
                    self.check_alias(&function, &alias, &state).await?;
                    if state.function_version != record.stable_version {
                        return Err(CanaryError::Conflict(format!(
                            "{function}:{alias} moved to version {} while deploying; deploy again",
                            state.function_version
                        )));
                    }
                }
                Err(error) => return Err(CanaryError::Aws(error)),
            }
        }
        Err(CanaryError::Conflict(format!(
            "{function}:{alias} kept changing while deploying ({MAX_CONFLICTS} conflicting writes); try again"
        )))
    }

    /// Every check `deploy` makes before writing anything, with reads only: the policy, the
    /// names, the alias, and the version (`None` for [`VersionChoice::Publish`], which is
    /// published only when deploying).
    pub(super) async fn check_request(
        &self,
        function: &str,
        alias: &str,
        version: &VersionChoice,
        policy: &GatePolicy,
        pre_hook: &Option<String>,
        post_hook: &Option<String>,
    ) -> Result<Checked, CanaryError> {
        policy.validate().map_err(CanaryError::InvalidInput)?;
        check_name("the function", function)?;
        check_name("the alias", alias)?;
        for hook in pre_hook.iter().chain(post_hook) {
            check_name("the hook function", hook)?;
        }
        if let VersionChoice::Existing(version) = version
            && !is_published(version)
        {
            return Err(CanaryError::InvalidInput(format!(
                "{version:?} is not a published version number"
            )));
        }
        let state = self.read_alias(function, alias).await?;
        let original_description = self.check_alias(function, alias, &state).await?;
        let canary_version = match version {
            VersionChoice::Existing(version) => {
                let exists = match self.ports.aliases.version_exists(function, version).await {
                    Ok(exists) => exists,
                    Err(PortError::NotFound(_)) => false,
                    Err(error) => return Err(CanaryError::Aws(error)),
                };
                if !exists {
                    return Err(CanaryError::NotFound(format!(
                        "version {version} of {function} does not exist"
                    )));
                }
                if *version == state.function_version {
                    return Err(CanaryError::InvalidInput(format!(
                        "{function}:{alias} already points at version {version}; there is nothing to roll out"
                    )));
                }
                Some(version.clone())
            }
            VersionChoice::Publish => None,
        };
        Ok(Checked {
            alias: state,
            original_description,
            canary_version,
        })
    }

    /// Checks that a rollout may start on the alias, returning the description to keep as the
    /// alias's original one.
    async fn check_alias(
        &self,
        function: &str,
        alias: &str,
        state: &AliasState,
    ) -> Result<String, CanaryError> {
        if !is_published(&state.function_version) {
            return Err(CanaryError::InvalidInput(format!(
                "{function}:{alias} points at {}; Lambda can only split traffic from a published version",
                state.function_version
            )));
        }
        let original = match LiveState::decode(&state.description) {
            Ok(None) => state.description.clone(),
            Ok(Some(live)) if !live.phase.is_terminal() => {
                return Err(CanaryError::AlreadyInProgress { id: live.id });
            }
            Ok(Some(live)) => {
                // Keep the description from before the first rollout, if the record says it.
                match self
                    .ports
                    .records
                    .get_record(function, alias, &live.id)
                    .await?
                {
                    Some(document) => RolloutRecord::from_json(&document)
                        .ok()
                        .filter(|record| record.id == live.id)
                        .map(|record| record.original_description)
                        .unwrap_or_default(),
                    None => String::new(),
                }
            }
            Err(error) => {
                return Err(CanaryError::Drift(format!(
                    "the description of {function}:{alias} looks like lamina-canary's but cannot be read ({error}); fix it by hand first"
                )));
            }
        };
        if let Some(routing) = &state.routing
            && routing.weight > 0.0
        {
            return Err(CanaryError::Drift(format!(
                "{function}:{alias} already sends {}% of its traffic to version {}; remove that routing first",
                routing.weight * 100.0,
                routing.version
            )));
        }
        Ok(original)
    }
}
