//! `canary status|deploy|abort --codedeploy`: a CodeDeploy deployment, shown the way the
//! alias backend's rollouts are.

use lamina_canary::{
    codedeploy::{CodeDeployBackend, CodeDeployTarget, DeploymentReport, is_in_progress},
    controller::CanaryError,
};
use serde::Serialize;

use super::{OutputFormat, exit, render};

/// A deployment as `--output json` prints it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentView<'a> {
    backend: &'static str,
    application: &'a str,
    group: &'a str,
    deployment_id: &'a str,
    status: &'a str,
    in_progress: bool,
    config_name: Option<&'a str>,
    traffic_percent: Option<f64>,
    rollback_deployment_id: Option<&'a str>,
    rollback_message: Option<&'a str>,
    error: Option<&'a str>,
    messages: &'a [String],
}

/// Prints one deployment.
pub(super) fn print(output: OutputFormat, target: &CodeDeployTarget, report: &DeploymentReport) {
    let rollback = report.rollback.as_ref();
    let view = DeploymentView {
        backend: "codedeploy",
        application: &target.application,
        group: &target.group,
        deployment_id: &report.deployment_id,
        status: &report.status,
        in_progress: is_in_progress(&report.status),
        config_name: report.config_name.as_deref(),
        traffic_percent: report.traffic_percent,
        rollback_deployment_id: rollback.and_then(|r| r.rollback_deployment_id.as_deref()),
        rollback_message: rollback.and_then(|r| r.message.as_deref()),
        error: report.error.as_deref(),
        messages: &report.messages,
    };
    render::print(output, &view, text(target, report));
}

fn text(target: &CodeDeployTarget, report: &DeploymentReport) -> String {
    let traffic = report
        .traffic_percent
        .map_or_else(|| "unknown".to_owned(), |percent| format!("{percent:.1}%"));
    let mut text = format!(
        "{target}  CodeDeploy {}  {}  new version at {traffic}  config {}\n",
        report.deployment_id,
        report.status,
        report.config_name.as_deref().unwrap_or("unknown"),
    );
    if let Some(rollback) = &report.rollback {
        if let Some(id) = &rollback.rollback_deployment_id {
            text.push_str(&format!("  rolled back by {id}\n"));
        }
        if let Some(message) = &rollback.message {
            text.push_str(&format!("  {message}\n"));
        }
    }
    if let Some(error) = &report.error {
        text.push_str(&format!("  error: {error}\n"));
    }
    for message in &report.messages {
        text.push_str(&format!("  {message}\n"));
    }
    text
}

/// `canary status --codedeploy APP/GROUP`: the group's newest deployment.
pub(super) async fn status(
    backend: &CodeDeployBackend,
    target: &CodeDeployTarget,
    output: OutputFormat,
) -> Result<u8, CanaryError> {
    let report = backend
        .latest_deployment(target)
        .await
        .map_err(|error| match error {
            lamina_canary::ports::PortError::NotFound(what) => CanaryError::NotFound(what),
            other => CanaryError::Aws(other),
        })?;
    match report {
        Some(report) => print(output, target, &report),
        None => match output {
            OutputFormat::Json => render::print_json(&serde_json::json!({
                "backend": "codedeploy",
                "application": target.application,
                "group": target.group,
                "deploymentId": null,
            })),
            OutputFormat::Text => println!("{target}  no deployments"),
        },
    }
    Ok(exit::OK)
}
