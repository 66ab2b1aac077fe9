//! [`LambdaDeployment`] (and its AppSpec) and [`DeploymentReport`]: what goes into a CodeDeploy
//! deployment and what comes out of reading one.

use super::DeploymentConfig;

/// A deployment of a new version of a function behind an alias.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaDeployment {
    /// The CodeDeploy application.
    pub application: String,
    /// The deployment group in it.
    pub group: String,
    /// How traffic is shifted.
    pub config: DeploymentConfig,
    /// The function's name.
    pub function: String,
    /// The alias whose traffic moves.
    pub alias: String,
    /// The version the alias points at now.
    pub current_version: String,
    /// The version traffic moves to.
    pub target_version: String,
    /// The `BeforeAllowTraffic` hook function, if any.
    pub before_allow_traffic: Option<String>,
    /// The `AfterAllowTraffic` hook function, if any.
    pub after_allow_traffic: Option<String>,
    /// The deployment's description.
    pub description: Option<String>,
}

impl LambdaDeployment {
    /// The AppSpec (JSON) CodeDeploy runs: one `AWS::Lambda::Function` resource with `Name`,
    /// `Alias`, `CurrentVersion` and `TargetVersion`, and the hooks that are set.
    #[must_use]
    pub fn appspec(&self) -> String {
        let mut hooks = Vec::new();
        if let Some(hook) = &self.before_allow_traffic {
            hooks.push(serde_json::json!({ "BeforeAllowTraffic": hook }));
        }
        if let Some(hook) = &self.after_allow_traffic {
            hooks.push(serde_json::json!({ "AfterAllowTraffic": hook }));
        }
        let mut appspec = serde_json::json!({
            "version": 0.0,
            "Resources": [{
                "LaminaCanaryTarget": {
                    "Type": "AWS::Lambda::Function",
                    "Properties": {
                        "Name": self.function,
                        "Alias": self.alias,
                        "CurrentVersion": self.current_version,
                        "TargetVersion": self.target_version,
                    }
                }
            }],
        });
        if !hooks.is_empty() {
            appspec["Hooks"] = serde_json::Value::Array(hooks);
        }
        appspec.to_string()
    }
}

/// What [`CodeDeployBackend::status`](super::CodeDeployBackend::status) found.
#[derive(Debug, Clone, PartialEq)]
pub struct DeploymentReport {
    /// The deployment's id.
    pub deployment_id: String,
    /// CodeDeploy's status: `Created`, `Queued`, `InProgress`, `Baking`, `Ready`, `Succeeded`,
    /// `Failed` or `Stopped`.
    pub status: String,
    /// The deployment configuration's name.
    pub config_name: Option<String>,
    /// The share of the alias's traffic on the target version, from 0 to 100: 0 before traffic
    /// moves (`Created`, `Queued`, `Ready`), 100 once `Succeeded`, the Lambda target's
    /// `targetVersionWeight` while `InProgress` or `Baking`, and `None` after a failure or stop
    /// (CodeDeploy does not say how far it got).
    pub traffic_percent: Option<f64>,
    /// Set when the deployment was rolled back or is a rollback.
    pub rollback: Option<RollbackReport>,
    /// CodeDeploy's error code and message, when the deployment failed.
    pub error: Option<String>,
    /// CodeDeploy's status messages.
    pub messages: Vec<String>,
}

impl DeploymentReport {
    /// Whether CodeDeploy is done with the deployment (`Succeeded`, `Failed` or `Stopped`).
    #[must_use]
    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "Succeeded" | "Failed" | "Stopped")
    }
}

/// A deployment's rollback information.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RollbackReport {
    /// The deployment that rolls this one back.
    pub rollback_deployment_id: Option<String>,
    /// The deployment this one rolls back.
    pub triggered_by: Option<String>,
    /// Why, in CodeDeploy's words.
    pub message: Option<String>,
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::codedeploy::ALL_AT_ONCE;

    #[test]
    fn appspec_names_the_function_versions_and_hooks() {
        let deployment = LambdaDeployment {
            application: "app".into(),
            group: "group".into(),
            config: DeploymentConfig::Predefined(ALL_AT_ONCE.into()),
            function: "orders".into(),
            alias: "live".into(),
            current_version: "6".into(),
            target_version: "7".into(),
            before_allow_traffic: Some("orders-pre".into()),
            after_allow_traffic: None,
            description: None,
        };
        let appspec: serde_json::Value = serde_json::from_str(&deployment.appspec()).unwrap();
        assert_eq!(appspec["version"], 0.0);
        let properties = &appspec["Resources"][0]["LaminaCanaryTarget"]["Properties"];
        assert_eq!(
            appspec["Resources"][0]["LaminaCanaryTarget"]["Type"],
            "AWS::Lambda::Function"
        );
        assert_eq!(properties["Name"], "orders");
        assert_eq!(properties["Alias"], "live");
        assert_eq!(properties["CurrentVersion"], "6");
        assert_eq!(properties["TargetVersion"], "7");
        assert_eq!(
            appspec["Hooks"],
            serde_json::json!([{ "BeforeAllowTraffic": "orders-pre" }])
        );
        let no_hooks = LambdaDeployment {
            before_allow_traffic: None,
            ..deployment
        };
        let appspec: serde_json::Value = serde_json::from_str(&no_hooks.appspec()).unwrap();
        assert!(appspec.get("Hooks").is_none());
    }
}
