//! `--group`: release groups from the command line (deploy, status, promote, abort).

use std::time::Duration;

use lamina_canary::{
    controller::{
        Backoff, CanaryError, Controller, GroupDeployRequest, GroupMemberRequest, GroupStatus,
        WaitEnd, WaitEvent,
    },
    gate::{GatePolicy, GateSpec},
    state::Phase,
    strategy::Strategy,
};

use super::{OutputFormat, exit, render, retrying};

/// Reads the members given as `FUNCTION=VERSION`, each on `alias`.
pub(super) fn members(
    texts: &[String],
    alias: &str,
) -> Result<Vec<GroupMemberRequest>, CanaryError> {
    texts
        .iter()
        .map(|text| match text.split_once('=') {
            Some((function, version)) if !function.is_empty() && !version.is_empty() => {
                Ok(GroupMemberRequest {
                    function: function.to_owned(),
                    alias: alias.to_owned(),
                    version: version.to_owned(),
                })
            }
            _ => Err(CanaryError::InvalidInput(format!(
                "group member {text:?} is not FUNCTION=VERSION"
            ))),
        })
        .collect()
}

/// A group as text: its summary, then each member's rollout.
fn text(status: &GroupStatus) -> String {
    let mut text = format!("{}\n", status.summary);
    for member in &status.members {
        match &member.rollout {
            Some(rollout) => text.push_str(&render::status_text(rollout)),
            None => text.push_str(&format!(
                "{}:{}  not started\n",
                member.function, member.alias
            )),
        }
    }
    text
}

/// What `deploy --group` was given.
pub(super) struct GroupDeploy {
    pub(super) name: String,
    pub(super) members: Vec<GroupMemberRequest>,
    pub(super) strategy: Strategy,
    pub(super) gates: Vec<GateSpec>,
    pub(super) policy: GatePolicy,
    pub(super) wait: bool,
    pub(super) interval: Duration,
}

/// `canary deploy --group NAME FUNCTION=VERSION...`, and with `--wait`, until it ends.
pub(super) async fn deploy(
    controller: &Controller,
    args: GroupDeploy,
    output: OutputFormat,
) -> Result<u8, CanaryError> {
    let status = controller
        .deploy_group(GroupDeployRequest {
            name: args.name,
            members: args.members,
            strategy: args.strategy,
            gates: args.gates,
            policy: args.policy,
        })
        .await?;
    render::print(output, &status, text(&status));
    let Some(first) = status.members.first() else {
        return Ok(exit::OK);
    };
    if !args.wait {
        return Ok(exit::OK);
    }
    // Every decision on one member decides the whole group.
    let end = controller
        .wait(
            &first.function,
            &first.alias,
            args.interval,
            Backoff::default(),
            tokio::time::sleep,
            |event| match event {
                WaitEvent::Outcome(outcome) => {
                    render::print(output, outcome, render::outcome_text(outcome));
                }
                WaitEvent::Retry(error, delay) => retrying(error, delay),
            },
        )
        .await?;
    Ok(match end {
        WaitEnd::Ended(outcome) => match outcome.status.map(|status| status.phase) {
            Some(Phase::RolledBack) => exit::ROLLED_BACK,
            _ => exit::OK,
        },
        WaitEnd::Paused(_) => exit::OK,
        WaitEnd::Stalled(_) => exit::STALLED,
    })
}

/// `canary status --group NAME`.
pub(super) async fn status(
    controller: &Controller,
    name: &str,
    output: OutputFormat,
) -> Result<u8, CanaryError> {
    let status = controller.group_status(name).await?;
    render::print(output, &status, text(&status));
    Ok(exit::OK)
}

/// `canary promote --group NAME --full`.
pub(super) async fn promote(
    controller: &Controller,
    name: &str,
    force: bool,
    output: OutputFormat,
) -> Result<u8, CanaryError> {
    let status = controller.promote_group(name, force).await?;
    render::print(output, &status, text(&status));
    Ok(exit::OK)
}

/// `canary abort --group NAME`.
pub(super) async fn abort(
    controller: &Controller,
    name: &str,
    output: OutputFormat,
) -> Result<u8, CanaryError> {
    let status = controller.abort_group(name).await?;
    render::print(output, &status, text(&status));
    Ok(exit::OK)
}
