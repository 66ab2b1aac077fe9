//! The controller: deploys rollouts and moves them on, one decision at a time, through the ports.
//!
//! Every transition is one conditional alias write ([`crate::decision`] says which); the
//! rollout's record is read once per id and cached, so a decision costs at most `GetAlias`, one
//! `GetMetricData` and one `UpdateAlias` (plus `DescribeAlarms` with alarm gates).
//!
//! ```
//! use std::{sync::Arc, time::{Duration, UNIX_EPOCH}};
//! use lamina_canary::{
//!     clock::ManualClock,
//!     controller::{Action, Controller, DeployRequest, Ports, VersionChoice},
//!     memory::{InMemoryLambda, InMemoryMetrics, InMemoryRecords},
//!     state::Phase,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let lambda = Arc::new(InMemoryLambda::new());
//! lambda.add_function("orders");
//! let stable = lambda.add_version("orders");
//! let canary = lambda.add_version("orders");
//! lambda.add_alias("orders", "live", &stable, "");
//! let clock = ManualClock::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
//! let controller = Controller::new(Ports {
//!     aliases: lambda.clone(),
//!     records: Arc::new(InMemoryRecords::new()),
//!     metrics: Arc::new(InMemoryMetrics::new()),
//!     hooks: lambda.clone(),
//!     clock: Arc::new(clock.clone()),
//! });
//! let status = controller
//!     .deploy(DeployRequest {
//!         function: "orders".into(),
//!         alias: "live".into(),
//!         version: VersionChoice::Existing(canary.clone()),
//!         strategy: "canary10-5m".parse()?,
//!         gates: vec![],
//!         policy: Default::default(),
//!         pre_hook: None,
//!         post_hook: None,
//!     })
//!     .await?;
//! assert_eq!(status.canary_weight, 0.1);
//! clock.advance(Duration::from_secs(300));
//! let outcome = controller.run_once("orders", "live").await?;
//! assert!(matches!(outcome.action, Action::Promoted));
//! assert_eq!(outcome.status.unwrap().phase, Phase::Succeeded);
//! # Ok(())
//! # }
//! ```

mod deploy;
mod finish;
mod follow;
mod group;
mod group_run;
mod history;
mod manual;
mod plan;
mod run;
mod status;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError},
    time::SystemTime,
};

use serde::Serialize;

pub use follow::{Backoff, WaitEnd, WaitEvent};
pub use group::{GroupDeployRequest, GroupMemberRequest, GroupMemberStatus, GroupStatus};
pub use history::{HistoryEntry, HistoryOutcome};
pub use plan::{PlannedStep, RolloutPlan, schedule};
pub use run::CONCURRENT_ROLLOUTS;

use crate::{
    clock::Clock,
    decision::step_weight,
    gate::{GatePolicy, GateReport, GateSpec, GateTarget, evaluate_gates},
    ports::{
        AliasState, AliasStore, HookInvoker, MetricSource, MetricWindow, PortError, RecordStore,
    },
    record::RolloutRecord,
    state::{LiveState, Phase, RollbackReason},
    strategy::Strategy,
};

/// How many times a write that lost a race is re-decided before giving up.
const MAX_CONFLICTS: usize = 3;

/// Records kept in the cache before it is emptied (records are small and immutable).
const CACHE_LIMIT: usize = 1024;

/// Everything the controller talks to.
#[derive(Debug, Clone)]
pub struct Ports {
    /// The function's aliases and versions (Lambda).
    pub aliases: Arc<dyn AliasStore>,
    /// The rollout records (SSM).
    pub records: Arc<dyn RecordStore>,
    /// Metrics and alarms (CloudWatch).
    pub metrics: Arc<dyn MetricSource>,
    /// Hook functions (Lambda Invoke).
    pub hooks: Arc<dyn HookInvoker>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

/// Deploys rollouts and moves them on.
#[derive(Debug)]
pub struct Controller {
    ports: Ports,
    records: Mutex<HashMap<String, Arc<RolloutRecord>>>,
}

/// What `canary deploy` asks for.
#[derive(Debug)]
pub struct DeployRequest {
    /// The function's name.
    pub function: String,
    /// The alias whose traffic moves.
    pub alias: String,
    /// The version to roll out.
    pub version: VersionChoice,
    /// The steps.
    pub strategy: Strategy,
    /// The health gates.
    pub gates: Vec<GateSpec>,
    /// How the gates' verdicts are acted on.
    pub policy: GatePolicy,
    /// The function to invoke before any traffic moves.
    pub pre_hook: Option<String>,
    /// The function to invoke once the canary is the primary version.
    pub post_hook: Option<String>,
}

/// Which version to roll out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionChoice {
    /// A published version, such as `"7"`.
    Existing(String),
    /// Publish `$LATEST` first and roll out the result.
    Publish,
}

/// A rollout as the CLI shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutStatus {
    /// The function's name.
    pub function: String,
    /// The alias.
    pub alias: String,
    /// The rollout's id.
    pub id: String,
    /// Where it stands.
    pub phase: Phase,
    /// Why it was rolled back, if it was.
    pub why: Option<RollbackReason>,
    /// The version the alias pointed at before.
    pub stable_version: String,
    /// The version being rolled out.
    pub canary_version: String,
    /// The canary's share of the traffic now, as read from the alias (0.0 to 1.0).
    pub canary_weight: f64,
    /// The current step (0-based), while shifting or paused.
    pub step: Option<usize>,
    /// How many steps the strategy has.
    pub steps: usize,
    /// The strategy, as written on the command line.
    pub strategy: String,
    /// When the current step began (Unix seconds), while shifting or paused.
    pub step_started_unix: Option<u64>,
    /// When the current step's hold ends (Unix seconds), while shifting.
    pub next_step_unix: Option<u64>,
    /// The gates' verdicts, when they were evaluated.
    pub gates: GateReport,
    /// One human sentence.
    pub summary: String,
}

/// What one decision did to one rollout.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunOutcome {
    /// The function's name.
    pub function: String,
    /// The alias.
    pub alias: String,
    /// What happened.
    pub action: Action,
    /// The rollout afterwards, when it could be read.
    pub status: Option<RolloutStatus>,
}

/// What a decision did.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "action",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Action {
    /// Nothing moved.
    Waited {
        /// Why.
        reason: String,
    },
    /// The canary's share went up.
    Advanced {
        /// The new step (0-based).
        to_step: usize,
        /// The canary's new share (0.0 to 1.0).
        weight: f64,
    },
    /// A manual gate stopped the rollout.
    Paused {
        /// The step it stays at (0-based).
        at_step: usize,
    },
    /// The canary became the primary version.
    Promoted,
    /// The post-traffic hook passed; the rollout is over.
    Succeeded,
    /// The stable version is back.
    RolledBack {
        /// Why.
        why: RollbackReason,
    },
    /// The pre-traffic hook passed and the first step (or pause, or promotion) was written.
    HookPassed,
    /// The rollout was already over.
    NothingToDo,
    /// The rollout had ended at the decision before: its outcome was stored beside its record
    /// and the alias was given back the description it had before the rollout.
    Finished,
    /// The alias was edited by hand; nothing was written.
    Drifted {
        /// What does not match.
        detail: String,
    },
    /// A wait reached its bound and the policy says hold: the rollout stays where it is until a
    /// person promotes or aborts it.
    Stalled {
        /// Why.
        reason: String,
    },
    /// The function or alias was deleted: the rollout is over and its records were removed.
    Vanished {
        /// What is gone.
        detail: String,
    },
    /// Another controller moved the rollout first.
    LostRace,
    /// This rollout could not be handled (the others were).
    Failed {
        /// The error, as a sentence.
        error: String,
    },
}

/// Why a controller operation did not happen.
///
/// Not `#[non_exhaustive]`: the CLI matches every variant to choose its exit code.
#[derive(Debug, thiserror::Error)]
pub enum CanaryError {
    /// The function, alias, version or record does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request itself is wrong.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The alias has no rollout in progress: its description was not written by lamina-canary,
    /// or its rollout is over.
    #[error("{function}:{alias} has no rollout in progress")]
    NoRollout {
        /// The function.
        function: String,
        /// The alias.
        alias: String,
    },
    /// A rollout is already in progress on the alias.
    #[error("rollout {id} is already in progress on this alias; promote or abort it first")]
    AlreadyInProgress {
        /// The rollout in progress.
        id: String,
    },
    /// The gates refused a promotion.
    #[error("{0}")]
    Refused(String),
    /// The alias is not in a state lamina-canary can work from: edited by hand during the
    /// rollout, routing set by something else, or a description or record it cannot read.
    #[error("{0}")]
    Drift(String),
    /// Another controller kept moving the alias.
    #[error("{0}")]
    Conflict(String),
    /// AWS could not be reached or refused a call.
    #[error("an AWS call failed: {0}")]
    Aws(#[from] PortError),
}

/// A rollout as read: the alias, its live state and its record.
#[derive(Debug)]
struct Snapshot {
    alias: AliasState,
    live: LiveState,
    record: Arc<RolloutRecord>,
}

impl Controller {
    /// A controller over `ports`, with an empty record cache.
    pub fn new(ports: Ports) -> Self {
        Self {
            ports,
            records: Mutex::new(HashMap::new()),
        }
    }

    fn now(&self) -> SystemTime {
        self.ports.clock.now()
    }

    /// Reads the alias; a missing function or alias is [`CanaryError::NotFound`].
    async fn read_alias(&self, function: &str, alias: &str) -> Result<AliasState, CanaryError> {
        match self.ports.aliases.get_alias(function, alias).await {
            Ok(state) => Ok(state),
            Err(PortError::NotFound(what)) => Err(CanaryError::NotFound(format!(
                "{function}:{alias} does not exist ({what} not found)"
            ))),
            Err(error) => Err(CanaryError::Aws(error)),
        }
    }

    /// The live state in `alias`'s description; no rollout and unreadable ones are errors.
    fn live_state(
        function: &str,
        alias: &str,
        state: &AliasState,
    ) -> Result<LiveState, CanaryError> {
        match LiveState::decode(&state.description) {
            Ok(Some(live)) => Ok(live),
            Ok(None) => Err(CanaryError::NoRollout {
                function: function.to_owned(),
                alias: alias.to_owned(),
            }),
            Err(error) => Err(CanaryError::Drift(format!(
                "the description of {function}:{alias} cannot be read: {error}"
            ))),
        }
    }

    /// The record of rollout `id`, from the cache or the record store.
    async fn record(
        &self,
        function: &str,
        alias: &str,
        id: &str,
    ) -> Result<Arc<RolloutRecord>, CanaryError> {
        let cache = |records: &Mutex<HashMap<String, Arc<RolloutRecord>>>| {
            records
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(id)
                .cloned()
        };
        if let Some(record) = cache(&self.records)
            && record.function == function
            && record.alias == alias
        {
            return Ok(record);
        }
        let document = self
            .ports
            .records
            .get_record(function, alias, id)
            .await?
            .ok_or_else(|| {
                CanaryError::NotFound(format!(
                    "the record of rollout {id} on {function}:{alias} is missing"
                ))
            })?;
        let record = RolloutRecord::from_json(&document).map_err(|error| {
            CanaryError::Drift(format!("the record of {function}:{alias}: {error}"))
        })?;
        if record.function != function || record.alias != alias || record.id != id {
            return Err(CanaryError::Drift(format!(
                "the record stored for rollout {id} on {function}:{alias} is rollout {} on {}:{}",
                record.id, record.function, record.alias
            )));
        }
        let record = Arc::new(record);
        self.remember(&record);
        Ok(record)
    }

    fn remember(&self, record: &Arc<RolloutRecord>) {
        let mut records = self.records.lock().unwrap_or_else(PoisonError::into_inner);
        if records.len() >= CACHE_LIMIT {
            records.clear();
        }
        records.insert(record.id.clone(), Arc::clone(record));
    }

    /// Reads the alias, its live state and its record.
    async fn snapshot_of(
        &self,
        function: &str,
        alias: &str,
        state: AliasState,
    ) -> Result<Snapshot, CanaryError> {
        let live = Self::live_state(function, alias, &state)?;
        let record = self.record(function, alias, &live.id).await?;
        Ok(Snapshot {
            alias: state,
            live,
            record,
        })
    }

    async fn snapshot(&self, function: &str, alias: &str) -> Result<Snapshot, CanaryError> {
        let state = self.read_alias(function, alias).await?;
        self.snapshot_of(function, alias, state).await
    }

    /// The gates' verdicts for a shifting or paused rollout with automatic gates, else `None`.
    async fn evaluate(
        &self,
        record: &RolloutRecord,
        live: &LiveState,
        now: SystemTime,
    ) -> Option<GateReport> {
        if !matches!(live.phase, Phase::Shifting | Phase::Paused)
            || !record.has_automatic_gates()
            || live.id != record.id
        {
            return None;
        }
        let target = GateTarget {
            function: &record.function,
            alias: &record.alias,
            canary_version: &record.canary_version,
            stable_version: &record.stable_version,
            canary_weight: step_weight(record, live.step),
            steps: record.strategy.steps().len(),
        };
        let window = MetricWindow {
            start: live.since.min(now),
            end: now,
        };
        Some(
            evaluate_gates(
                &record.gates,
                &record.policy,
                &target,
                window,
                self.ports.metrics.as_ref(),
            )
            .await,
        )
    }
}
