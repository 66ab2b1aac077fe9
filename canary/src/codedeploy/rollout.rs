//! A rollout handed to CodeDeploy: what `canary deploy --codedeploy APP/GROUP` checks and
//! creates, and how `canary status|abort --codedeploy` find the group's deployment.
//!
//! CodeDeploy keeps the state, so there is no record to write: the group's deployments are
//! the truth, and a `canary` killed after `CreateDeployment` leaves a deployment that
//! `canary status --codedeploy` finds.

use std::{fmt, str::FromStr};

use aws_sdk_codedeploy::types::DeploymentStatus;

use super::{CodeDeployBackend, DeploymentConfig, DeploymentReport, LambdaDeployment};
use crate::{
    aws::port_error,
    controller::{CanaryError, VersionChoice},
    gate::GateSpec,
    ports::{AliasStore, PortError},
    strategy::Strategy,
};

/// How many of a group's most recent deployments are read to find the newest one.
const DEPLOYMENTS_READ: usize = 25;

/// A CodeDeploy application and deployment group, written `APP/GROUP`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeDeployTarget {
    /// The application.
    pub application: String,
    /// The deployment group.
    pub group: String,
}

impl FromStr for CodeDeployTarget {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let valid = |name: &str| {
            !name.is_empty()
                && name.len() <= 100
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_.+@".contains(c))
        };
        match text.split_once('/') {
            Some((application, group)) if valid(application) && valid(group) => Ok(Self {
                application: application.to_owned(),
                group: group.to_owned(),
            }),
            _ => Err(format!(
                "{text:?} is not APPLICATION/GROUP (1 to 100 letters, digits or -_.+@ each)"
            )),
        }
    }
}

impl fmt::Display for CodeDeployTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.application, self.group)
    }
}

/// What `canary deploy --codedeploy` asks for.
#[derive(Debug, Clone)]
pub struct CodeDeployRequest {
    /// Where the deployment goes.
    pub target: CodeDeployTarget,
    /// The role CodeDeploy assumes; needed only when the group does not exist yet.
    pub service_role_arn: Option<String>,
    /// The function.
    pub function: String,
    /// The alias whose traffic moves.
    pub alias: String,
    /// The version to roll out.
    pub version: VersionChoice,
    /// The plan, which must be one CodeDeploy can express.
    pub strategy: Strategy,
    /// The gates: CodeDeploy judges a deployment by alarms only, so only `alarm:NAME` gates.
    pub gates: Vec<GateSpec>,
    /// The `BeforeAllowTraffic` hook function.
    pub pre_hook: Option<String>,
    /// The `AfterAllowTraffic` hook function.
    pub post_hook: Option<String>,
}

impl CodeDeployBackend {
    /// Checks the request, then creates the deployment: the strategy must map to a deployment
    /// configuration, the gates must be alarms, the function and alias must exist, the version
    /// must exist and differ from the alias's, and the alias must not already split traffic.
    /// Nothing is written until all of that holds.
    ///
    /// # Errors
    /// [`CanaryError::InvalidInput`] or [`CanaryError::NotFound`] for a refused request;
    /// [`CanaryError::Aws`] when AWS fails.
    pub async fn start_rollout(
        &self,
        aliases: &dyn AliasStore,
        request: &CodeDeployRequest,
    ) -> Result<DeploymentReport, CanaryError> {
        let steps: Vec<_> = request
            .strategy
            .steps()
            .iter()
            .map(|step| (step.percent, step.hold))
            .collect();
        let config = DeploymentConfig::from_steps(&steps).map_err(|why| {
            CanaryError::InvalidInput(format!(
                "strategy {} cannot be a CodeDeploy deployment: {why}",
                request.strategy
            ))
        })?;
        let mut alarms = Vec::new();
        for gate in &request.gates {
            match gate {
                GateSpec::Alarm(name) => alarms.push(name.clone()),
                other => {
                    return Err(CanaryError::InvalidInput(format!(
                        "gate {other} cannot be a CodeDeploy gate: CodeDeploy judges a deployment \
                         by CloudWatch alarms only (alarm:NAME); use the alias backend (no \
                         --codedeploy) for metric, comparison and manual gates"
                    )));
                }
            }
        }
        let alias = aliases
            .get_alias(&request.function, &request.alias)
            .await
            .map_err(not_found_is_input)?;
        if let Some(routing) = &alias.routing {
            return Err(CanaryError::InvalidInput(format!(
                "alias {} already sends {:.1}% of its traffic to version {}: CodeDeploy would \
                 refuse the deployment; settle the alias first",
                request.alias,
                routing.weight * 100.0,
                routing.version
            )));
        }
        let version = match &request.version {
            VersionChoice::Existing(version) => {
                let exists = aliases
                    .version_exists(&request.function, version)
                    .await
                    .map_err(not_found_is_input)?;
                if !exists {
                    return Err(CanaryError::NotFound(format!(
                        "version {version} of function {} does not exist",
                        request.function
                    )));
                }
                version.clone()
            }
            VersionChoice::Publish => aliases
                .publish_version(&request.function)
                .await
                .map_err(CanaryError::Aws)?,
        };
        if version == alias.function_version {
            return Err(CanaryError::InvalidInput(format!(
                "alias {} already points at version {version}",
                request.alias
            )));
        }
        self.ensure_application_and_group(
            &request.target.application,
            &request.target.group,
            request.service_role_arn.as_deref().unwrap_or_default(),
            &alarms,
        )
        .await
        .map_err(|error| match (&request.service_role_arn, error) {
            (None, PortError::Rejected(message)) => CanaryError::InvalidInput(format!(
                "{message} (creating the deployment group needs --service-role)"
            )),
            (_, error) => CanaryError::Aws(error),
        })?;
        let deployment_id = self
            .deploy(&LambdaDeployment {
                application: request.target.application.clone(),
                group: request.target.group.clone(),
                config,
                function: request.function.clone(),
                alias: request.alias.clone(),
                current_version: alias.function_version.clone(),
                target_version: version,
                before_allow_traffic: request.pre_hook.clone(),
                after_allow_traffic: request.post_hook.clone(),
                description: Some(format!("lamina-canary {}", request.strategy)),
            })
            .await
            .map_err(CanaryError::Aws)?;
        self.status(&deployment_id).await.map_err(CanaryError::Aws)
    }

    /// The group's newest deployment (by creation time, among its most recent 25), or `None`
    /// when it has none (`GetDeploymentGroup`, `ListDeployments`, `GetDeployment` for each).
    ///
    /// # Errors
    /// A missing application or group is [`PortError::NotFound`]; otherwise as
    /// [`CodeDeployBackend`] says.
    pub async fn latest_deployment(
        &self,
        target: &CodeDeployTarget,
    ) -> Result<Option<DeploymentReport>, PortError> {
        // ListDeployments answers an unknown application or group with an error on AWS but an
        // empty list on some stand-ins: ask for the group first, so both say "not found".
        let what = format!("GetDeploymentGroup {target}");
        self.client
            .get_deployment_group()
            .application_name(&target.application)
            .deployment_group_name(&target.group)
            .send()
            .await
            .map_err(|error| port_error(&what, &error, None))?;
        let what = format!("ListDeployments {target}");
        let listed = self
            .client
            .list_deployments()
            .application_name(&target.application)
            .deployment_group_name(&target.group)
            .send()
            .await
            .map_err(|error| port_error(&what, &error, None))?;
        let mut newest: Option<(aws_smithy_types::DateTime, String)> = None;
        for id in listed.deployments().iter().take(DEPLOYMENTS_READ) {
            let what = format!("GetDeployment {id}");
            let output = self
                .client
                .get_deployment()
                .deployment_id(id)
                .send()
                .await
                .map_err(|error| port_error(&what, &error, None))?;
            let Some(created) = output.deployment_info().and_then(|info| info.create_time()) else {
                continue;
            };
            if newest.as_ref().is_none_or(|(time, _)| created > time) {
                newest = Some((*created, id.clone()));
            }
        }
        match newest {
            Some((_, id)) => self.status(&id).await.map(Some),
            None => Ok(None),
        }
    }

    /// Stops the group's deployment in progress with automatic rollback.
    ///
    /// # Errors
    /// [`CanaryError::NoRollout`] when the group has no deployment in progress;
    /// [`CanaryError::Aws`] when AWS fails.
    pub async fn abort_latest(
        &self,
        target: &CodeDeployTarget,
    ) -> Result<DeploymentReport, CanaryError> {
        let report = self.in_progress(target).await?;
        self.abort(&report.deployment_id)
            .await
            .map_err(CanaryError::Aws)?;
        self.status(&report.deployment_id)
            .await
            .map_err(CanaryError::Aws)
    }

    /// What `canary promote --codedeploy` can do: refuse, saying why (see
    /// [`promote`](Self::promote)), once it has found the deployment in progress.
    ///
    /// # Errors
    /// Always: [`CanaryError::NoRollout`] without a deployment in progress, else
    /// [`CanaryError::Refused`] with CodeDeploy's limits explained.
    pub async fn promote_latest(&self, target: &CodeDeployTarget) -> Result<(), CanaryError> {
        let report = self.in_progress(target).await?;
        self.promote(&report.deployment_id)
            .map_err(|error| CanaryError::Refused(error.to_string()))
    }

    async fn in_progress(
        &self,
        target: &CodeDeployTarget,
    ) -> Result<DeploymentReport, CanaryError> {
        let no_rollout = || CanaryError::NoRollout {
            function: target.application.clone(),
            alias: target.group.clone(),
        };
        let report = self
            .latest_deployment(target)
            .await
            .map_err(not_found_is_input)?
            .ok_or_else(no_rollout)?;
        if report.is_finished() {
            return Err(no_rollout());
        }
        Ok(report)
    }
}

/// Whether CodeDeploy still moves traffic for a deployment in `status`.
#[must_use]
pub fn is_in_progress(status: &str) -> bool {
    [
        DeploymentStatus::Created,
        DeploymentStatus::Queued,
        DeploymentStatus::InProgress,
        DeploymentStatus::Baking,
        DeploymentStatus::Ready,
    ]
    .iter()
    .any(|known| known.as_str() == status)
}

/// A missing function, alias, application or group is the user's mistake.
fn not_found_is_input(error: PortError) -> CanaryError {
    match error {
        PortError::NotFound(what) => CanaryError::NotFound(what),
        other => CanaryError::Aws(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_and_print() {
        let target: CodeDeployTarget = "orders-app/live".parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(target.application, "orders-app");
        assert_eq!(target.group, "live");
        assert_eq!(target.to_string(), "orders-app/live");
        for bad in ["", "orders", "/live", "orders/", "a/b/c", "orders app/live"] {
            assert!(bad.parse::<CodeDeployTarget>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn in_progress_statuses() {
        assert!(is_in_progress("InProgress"));
        assert!(is_in_progress("Created"));
        assert!(!is_in_progress("Succeeded"));
        assert!(!is_in_progress("Stopped"));
    }
}
