//! The CodeDeploy backend: the same plan as a CodeDeploy deployment.
//!
//! Where Lamina's controller drives the alias itself, this backend hands the rollout to
//! CodeDeploy: [`DeploymentConfig::from_steps`] turns the plan's steps into a deployment
//! configuration (refusing plans CodeDeploy cannot express), [`CodeDeployBackend`] makes sure the
//! application and deployment group exist, creates the deployment from an AppSpec naming the
//! function, alias, versions and hook functions, and reads, stops or reports hook results for it.
//!
//! ```no_run
//! use std::time::Duration;
//! use lamina_canary::codedeploy::{CodeDeployBackend, DeploymentConfig, LambdaDeployment};
//!
//! # async fn demo(config: &aws_config::SdkConfig) -> Result<(), Box<dyn std::error::Error>> {
//! let backend = CodeDeployBackend::new(aws_sdk_codedeploy::Client::new(config));
//! backend
//!     .ensure_application_and_group("orders", "live", "arn:aws:iam::123456789012:role/cd", &[])
//!     .await?;
//! let plan = DeploymentConfig::from_steps(&[(10.0, Duration::from_secs(300))])?;
//! let id = backend
//!     .deploy(&LambdaDeployment {
//!         application: "orders".into(),
//!         group: "live".into(),
//!         config: plan,
//!         function: "orders".into(),
//!         alias: "live".into(),
//!         current_version: "6".into(),
//!         target_version: "7".into(),
//!         before_allow_traffic: None,
//!         after_allow_traffic: None,
//!         description: None,
//!     })
//!     .await?;
//! println!("{:?}", backend.status(&id).await?);
//! # Ok(())
//! # }
//! ```
//!
//! What CodeDeploy cannot do for Lambda: skip a deployment's waits. `ContinueDeployment` only
//! applies to blue/green EC2 and ECS deployments waiting in `READY_WAIT` or `TERMINATION_WAIT`, so
//! [`CodeDeployBackend::promote`] refuses with an explanation instead of calling it.

mod config;
mod deployment;
mod rollout;

pub use config::{ALL_AT_ONCE, DeploymentConfig};
pub use deployment::{DeploymentReport, LambdaDeployment, RollbackReport};
pub use rollout::{CodeDeployRequest, CodeDeployTarget, is_in_progress};

use aws_sdk_codedeploy::Client;
use aws_sdk_codedeploy::operation::create_application::CreateApplicationError;
use aws_sdk_codedeploy::operation::create_deployment_config::CreateDeploymentConfigError;
use aws_sdk_codedeploy::operation::create_deployment_group::CreateDeploymentGroupError;
use aws_sdk_codedeploy::operation::get_application::GetApplicationError;
use aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupError;
use aws_sdk_codedeploy::operation::put_lifecycle_event_hook_execution_status::PutLifecycleEventHookExecutionStatusError;
use aws_sdk_codedeploy::operation::stop_deployment::StopDeploymentError;
use aws_sdk_codedeploy::types::{
    Alarm, AlarmConfiguration, AppSpecContent, AutoRollbackConfiguration, AutoRollbackEvent,
    ComputePlatform, DeploymentOption, DeploymentStatus, DeploymentStyle, DeploymentType,
    LifecycleEventStatus, RevisionLocation, RevisionLocationType,
};

use crate::aws::{ErrorClass, port_error};
use crate::ports::PortError;

/// The CodeDeploy API for Lambda deployments.
///
/// Errors are [`PortError`]s as the table in [`crate::aws`] says; in particular a missing
/// application, group, configuration or deployment is [`PortError::NotFound`], and an invalid
/// request (`Invalid*Exception`) is [`PortError::Rejected`].
#[derive(Debug, Clone)]
pub struct CodeDeployBackend {
    client: Client,
}

impl CodeDeployBackend {
    /// A backend on `client`.
    #[must_use]
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// Creates the application (compute platform Lambda) and the deployment group if they are
    /// missing. A new group gets blue/green with traffic control (what Lambda requires),
    /// `service_role_arn`, the `alarms` (enabled when there are any) and automatic rollback on
    /// `DEPLOYMENT_FAILURE` and `DEPLOYMENT_STOP_ON_ALARM`. Existing ones are left as they are;
    /// an existing application on another compute platform is [`PortError::Rejected`].
    /// Returns whether the application and the group were created.
    ///
    /// # Errors
    /// As the type's documentation says.
    pub async fn ensure_application_and_group(
        &self,
        application: &str,
        group: &str,
        service_role_arn: &str,
        alarms: &[String],
    ) -> Result<(bool, bool), PortError> {
        let application_created = self.ensure_application(application).await?;
        let what = format!("GetDeploymentGroup {application}/{group}");
        match self
            .client
            .get_deployment_group()
            .application_name(application)
            .deployment_group_name(group)
            .send()
            .await
        {
            Ok(_) => return Ok((application_created, false)),
            Err(error) => {
                let missing = matches!(
                    error.as_service_error(),
                    Some(GetDeploymentGroupError::DeploymentGroupDoesNotExistException(_))
                );
                if !missing {
                    return Err(port_error(&what, &error, None));
                }
            }
        }
        let auto_rollback = AutoRollbackConfiguration::builder()
            .enabled(true)
            .events(AutoRollbackEvent::DeploymentFailure)
            .events(AutoRollbackEvent::DeploymentStopOnAlarm)
            .build();
        let alarm_configuration = AlarmConfiguration::builder()
            .enabled(!alarms.is_empty())
            .set_alarms(Some(
                alarms
                    .iter()
                    .map(|name| Alarm::builder().name(name).build())
                    .collect(),
            ))
            .build();
        let created = self
            .client
            .create_deployment_group()
            .application_name(application)
            .deployment_group_name(group)
            .service_role_arn(service_role_arn)
            .deployment_style(
                DeploymentStyle::builder()
                    .deployment_type(DeploymentType::BlueGreen)
                    .deployment_option(DeploymentOption::WithTrafficControl)
                    .build(),
            )
            .alarm_configuration(alarm_configuration)
            .auto_rollback_configuration(auto_rollback)
            .send()
            .await;
        match created {
            Ok(_) => Ok((application_created, true)),
            // Another caller created it between our read and our write.
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(CreateDeploymentGroupError::DeploymentGroupAlreadyExistsException(_))
                ) =>
            {
                Ok((application_created, false))
            }
            Err(error) => Err(port_error(
                &format!("CreateDeploymentGroup {application}/{group}"),
                &error,
                None,
            )),
        }
    }

    async fn ensure_application(&self, application: &str) -> Result<bool, PortError> {
        match self
            .client
            .get_application()
            .application_name(application)
            .send()
            .await
        {
            Ok(output) => {
                let platform = output.application().and_then(|a| a.compute_platform());
                return match platform {
                    Some(ComputePlatform::Lambda) | None => Ok(false),
                    Some(other) => Err(PortError::Rejected(format!(
                        "the CodeDeploy application {application} deploys to {}, not Lambda",
                        other.as_str()
                    ))),
                };
            }
            Err(error) => {
                let missing = matches!(
                    error.as_service_error(),
                    Some(GetApplicationError::ApplicationDoesNotExistException(_))
                );
                if !missing {
                    return Err(port_error(
                        &format!("GetApplication {application}"),
                        &error,
                        None,
                    ));
                }
            }
        }
        match self
            .client
            .create_application()
            .application_name(application)
            .compute_platform(ComputePlatform::Lambda)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(CreateApplicationError::ApplicationAlreadyExistsException(_))
                ) =>
            {
                Ok(false)
            }
            Err(error) => Err(port_error(
                &format!("CreateApplication {application}"),
                &error,
                None,
            )),
        }
    }

    /// Creates a custom configuration (`CreateDeploymentConfig` with its `TrafficRoutingConfig`,
    /// compute platform Lambda). A predefined configuration needs nothing, and one that already
    /// exists is fine: the name encodes the whole configuration. Returns whether it was created.
    ///
    /// # Errors
    /// As the type's documentation says.
    pub async fn ensure_custom_config(&self, config: &DeploymentConfig) -> Result<bool, PortError> {
        let Some(routing) = config.traffic_routing() else {
            return Ok(false);
        };
        let name = config.name();
        match self
            .client
            .create_deployment_config()
            .deployment_config_name(&name)
            .compute_platform(ComputePlatform::Lambda)
            .traffic_routing_config(routing)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(CreateDeploymentConfigError::DeploymentConfigAlreadyExistsException(_))
                ) =>
            {
                Ok(false)
            }
            Err(error) => {
                let typed = error.as_service_error().and_then(|e| match e {
                    CreateDeploymentConfigError::DeploymentConfigLimitExceededException(_)
                    | CreateDeploymentConfigError::InvalidTrafficRoutingConfigurationException(_)
                    | CreateDeploymentConfigError::InvalidDeploymentConfigNameException(_) => {
                        Some(ErrorClass::Rejected)
                    }
                    _ => None,
                });
                Err(port_error(
                    &format!("CreateDeploymentConfig {name}"),
                    &error,
                    typed,
                ))
            }
        }
    }

    /// Creates the deployment (after [`CodeDeployBackend::ensure_custom_config`] for a custom
    /// configuration) with its AppSpec as `AppSpecContent` (content and SHA-256) and returns
    /// the deployment's id.
    ///
    /// # Errors
    /// As the type's documentation says.
    pub async fn deploy(&self, deployment: &LambdaDeployment) -> Result<String, PortError> {
        self.ensure_custom_config(&deployment.config).await?;
        let appspec = deployment.appspec();
        let revision = RevisionLocation::builder()
            .revision_type(RevisionLocationType::AppSpecContent)
            .app_spec_content(
                AppSpecContent::builder()
                    .sha256(sha256_hex(appspec.as_bytes()))
                    .content(appspec)
                    .build(),
            )
            .build();
        let what = format!(
            "CreateDeployment {}/{}",
            deployment.application, deployment.group
        );
        let output = self
            .client
            .create_deployment()
            .application_name(&deployment.application)
            .deployment_group_name(&deployment.group)
            .deployment_config_name(deployment.config.name())
            .revision(revision)
            .set_description(deployment.description.clone())
            .send()
            .await
            .map_err(|error| port_error(&what, &error, None))?;
        output.deployment_id().map(str::to_owned).ok_or_else(|| {
            PortError::Unavailable(format!("{what}: the answer has no deploymentId"))
        })
    }

    /// Reads the deployment (`GetDeployment`; while traffic is moving, also
    /// `ListDeploymentTargets` and `BatchGetDeploymentTargets` for the Lambda target's weight).
    ///
    /// # Errors
    /// As the type's documentation says.
    pub async fn status(&self, deployment_id: &str) -> Result<DeploymentReport, PortError> {
        let what = format!("GetDeployment {deployment_id}");
        let output = self
            .client
            .get_deployment()
            .deployment_id(deployment_id)
            .send()
            .await
            .map_err(|error| port_error(&what, &error, None))?;
        let info = output.deployment_info().ok_or_else(|| {
            PortError::Unavailable(format!("{what}: the answer has no deploymentInfo"))
        })?;
        let status = info
            .status()
            .ok_or_else(|| PortError::Unavailable(format!("{what}: the answer has no status")))?;
        let traffic_percent = match status {
            DeploymentStatus::Created | DeploymentStatus::Queued | DeploymentStatus::Ready => {
                Some(0.0)
            }
            DeploymentStatus::Succeeded => Some(100.0),
            DeploymentStatus::InProgress | DeploymentStatus::Baking => {
                self.target_weight(deployment_id).await?
            }
            _ => None,
        };
        // Some answers carry empty `rollbackInfo` and `errorInformation` objects: only filled
        // ones count.
        let rollback = info
            .rollback_info()
            .map(|rollback| RollbackReport {
                rollback_deployment_id: rollback.rollback_deployment_id().map(str::to_owned),
                triggered_by: rollback
                    .rollback_triggering_deployment_id()
                    .map(str::to_owned),
                message: rollback.rollback_message().map(str::to_owned),
            })
            .filter(|rollback| {
                rollback.rollback_deployment_id.is_some()
                    || rollback.triggered_by.is_some()
                    || rollback.message.is_some()
            });
        let error = info
            .error_information()
            .filter(|error| error.code().is_some() || error.message().is_some())
            .map(|error| {
                format!(
                    "{}: {}",
                    error.code().map_or("UNKNOWN", |code| code.as_str()),
                    error.message().unwrap_or_default()
                )
            });
        Ok(DeploymentReport {
            deployment_id: info.deployment_id().unwrap_or(deployment_id).to_owned(),
            status: status.as_str().to_owned(),
            config_name: info.deployment_config_name().map(str::to_owned),
            traffic_percent,
            rollback,
            error,
            messages: info.deployment_status_messages().to_vec(),
        })
    }

    async fn target_weight(&self, deployment_id: &str) -> Result<Option<f64>, PortError> {
        let what = format!("ListDeploymentTargets {deployment_id}");
        let targets = self
            .client
            .list_deployment_targets()
            .deployment_id(deployment_id)
            .send()
            .await
            .map_err(|error| port_error(&what, &error, None))?;
        if targets.target_ids().is_empty() {
            return Ok(None);
        }
        let what = format!("BatchGetDeploymentTargets {deployment_id}");
        let output = self
            .client
            .batch_get_deployment_targets()
            .deployment_id(deployment_id)
            .set_target_ids(Some(targets.target_ids().to_vec()))
            .send()
            .await
            .map_err(|error| port_error(&what, &error, None))?;
        Ok(output
            .deployment_targets()
            .iter()
            .filter_map(|target| target.lambda_target()?.lambda_function_info())
            .map(|info| info.target_version_weight() * 100.0)
            .next())
    }

    /// Stops the deployment with automatic rollback (`StopDeployment`,
    /// `autoRollbackEnabled=true`): CodeDeploy moves the alias back to the current version.
    /// Returns CodeDeploy's stop status (`Pending` or `Succeeded`) and message.
    ///
    /// # Errors
    /// A finished deployment is [`PortError::Conflict`]; otherwise as the type's documentation says.
    pub async fn abort(&self, deployment_id: &str) -> Result<(String, Option<String>), PortError> {
        let output = self
            .client
            .stop_deployment()
            .deployment_id(deployment_id)
            .auto_rollback_enabled(true)
            .send()
            .await
            .map_err(|error| {
                let typed = error.as_service_error().and_then(|e| match e {
                    StopDeploymentError::DeploymentAlreadyCompletedException(_) => {
                        Some(ErrorClass::Conflict)
                    }
                    StopDeploymentError::UnsupportedActionForDeploymentTypeException(_) => {
                        Some(ErrorClass::Rejected)
                    }
                    _ => None,
                });
                port_error(&format!("StopDeployment {deployment_id}"), &error, typed)
            })?;
        Ok((
            output
                .status()
                .map_or_else(|| "Unknown".to_owned(), |status| status.as_str().to_owned()),
            output.status_message().map(str::to_owned),
        ))
    }

    /// Always [`PortError::Rejected`]: CodeDeploy cannot skip a Lambda deployment's waits.
    /// `ContinueDeployment` only starts rerouting in blue/green EC2 and ECS deployments waiting in
    /// `READY_WAIT` (or ends `TERMINATION_WAIT`); a Lambda deployment shifts traffic on its
    /// configuration's schedule and nothing shortens it. No request is sent.
    ///
    /// # Errors
    /// Always, with that explanation.
    pub fn promote(&self, deployment_id: &str) -> Result<(), PortError> {
        Err(PortError::Rejected(format!(
            "CodeDeploy cannot promote Lambda deployment {deployment_id} early: it shifts traffic \
             on its deployment configuration's schedule, and ContinueDeployment only applies to \
             blue/green EC2/ECS deployments; wait for it to finish, or abort it and deploy again \
             with {ALL_AT_ONCE}"
        )))
    }

    /// Reports a lifecycle hook's result (`PutLifecycleEventHookExecutionStatus`), as a hook
    /// function written with Lamina must before CodeDeploy's hook timeout.
    ///
    /// # Errors
    /// A hook already reported or timed out is [`PortError::Conflict`]; an unknown execution
    /// id is [`PortError::NotFound`]; otherwise as the type's documentation says.
    pub async fn put_hook_status(
        &self,
        deployment_id: &str,
        execution_id: &str,
        succeeded: bool,
    ) -> Result<(), PortError> {
        let status = if succeeded {
            LifecycleEventStatus::Succeeded
        } else {
            LifecycleEventStatus::Failed
        };
        self.client
            .put_lifecycle_event_hook_execution_status()
            .deployment_id(deployment_id)
            .lifecycle_event_hook_execution_id(execution_id)
            .status(status)
            .send()
            .await
            .map_err(|error| {
                use PutLifecycleEventHookExecutionStatusError as E;
                let typed = error.as_service_error().and_then(|e| match e {
                    E::LifecycleEventAlreadyCompletedException(_) => Some(ErrorClass::Conflict),
                    E::InvalidLifecycleEventHookExecutionIdException(_)
                    | E::DeploymentDoesNotExistException(_) => Some(ErrorClass::NotFound),
                    _ => None,
                });
                port_error(
                    &format!("PutLifecycleEventHookExecutionStatus {deployment_id}/{execution_id}"),
                    &error,
                    typed,
                )
            })?;
        Ok(())
    }
}

/// The lower-case hex SHA-256 of `bytes`: what an AppSpec's `sha256` carries.
fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest as _, Sha256};
    Sha256::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::sha256_hex;

    #[test]
    fn the_appspec_digest_is_lower_case_hex_sha256() {
        // FIPS 180-2 test vectors.
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
