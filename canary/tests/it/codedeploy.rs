//! `CodeDeployBackend` through the real CodeDeploy SDK: against moto for applications, groups
//! and deployments (moto keeps them `Created`), with `aws-smithy-mocks` for what moto answers
//! with HTTP 500 (StopDeployment, CreateDeploymentConfig, lifecycle hook status, targets).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_codedeploy::Client;
use aws_sdk_codedeploy::config::retry::RetryConfig;
use aws_sdk_codedeploy::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_codedeploy::operation::batch_get_deployment_targets::BatchGetDeploymentTargetsOutput;
use aws_sdk_codedeploy::operation::create_application::CreateApplicationOutput;
use aws_sdk_codedeploy::operation::create_deployment_config::{
    CreateDeploymentConfigError, CreateDeploymentConfigInput, CreateDeploymentConfigOutput,
};
use aws_sdk_codedeploy::operation::create_deployment_group::{
    CreateDeploymentGroupInput, CreateDeploymentGroupOutput,
};
use aws_sdk_codedeploy::operation::get_application::GetApplicationError;
use aws_sdk_codedeploy::operation::get_deployment::GetDeploymentOutput;
use aws_sdk_codedeploy::operation::get_deployment_group::GetDeploymentGroupError;
use aws_sdk_codedeploy::operation::list_deployment_targets::ListDeploymentTargetsOutput;
use aws_sdk_codedeploy::operation::put_lifecycle_event_hook_execution_status::{
    PutLifecycleEventHookExecutionStatusError, PutLifecycleEventHookExecutionStatusOutput,
};
use aws_sdk_codedeploy::operation::stop_deployment::{StopDeploymentError, StopDeploymentOutput};
use aws_sdk_codedeploy::types::error::{
    ApplicationDoesNotExistException, DeploymentAlreadyCompletedException,
    DeploymentConfigAlreadyExistsException, DeploymentGroupDoesNotExistException,
    LifecycleEventAlreadyCompletedException,
};
use aws_sdk_codedeploy::types::{
    AutoRollbackEvent, ComputePlatform, DeploymentInfo, DeploymentStatus, DeploymentTarget,
    LambdaFunctionInfo, LambdaTarget, LifecycleEventStatus, RevisionLocationType, StopStatus,
    TrafficRoutingType,
};
use aws_smithy_mocks::{MockResponseInterceptor, Rule, RuleMode, create_mock_http_client, mock};
use lamina_canary::codedeploy::{
    ALL_AT_ONCE, CodeDeployBackend, DeploymentConfig, LambdaDeployment,
};
use lamina_canary::ports::PortError;
use lamina_local::moto::MotoServer;

const ROLE: &str = "arn:aws:iam::123456789012:role/codedeploy";

fn mocked(rules: &[&Rule]) -> CodeDeployBackend {
    let mut interceptor = MockResponseInterceptor::new().rule_mode(RuleMode::MatchAny);
    for rule in rules {
        interceptor = interceptor.with_rule(rule);
    }
    let config = aws_sdk_codedeploy::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("a", "b", None, None, "test"))
        .http_client(create_mock_http_client())
        .retry_config(RetryConfig::disabled())
        .interceptor(interceptor)
        .build();
    CodeDeployBackend::new(Client::from_conf(config))
}

fn deployment(config: DeploymentConfig) -> LambdaDeployment {
    LambdaDeployment {
        application: "orders-app".into(),
        group: "orders-live".into(),
        config,
        function: "orders".into(),
        alias: "live".into(),
        current_version: "6".into(),
        target_version: "7".into(),
        before_allow_traffic: Some("orders-pre-hook".into()),
        after_allow_traffic: Some("orders-post-hook".into()),
        description: Some("lamina-canary test".into()),
    }
}

#[tokio::test]
async fn creates_the_application_group_and_deployment_in_moto() {
    let moto = MotoServer::start().await.unwrap();
    let client = Client::new(moto.sdk_config());
    let backend = CodeDeployBackend::new(client.clone());

    let alarms = ["orders-errors".to_owned()];
    let created = backend
        .ensure_application_and_group("orders-app", "orders-live", ROLE, &alarms)
        .await
        .unwrap();
    assert_eq!(created, (true, true));
    // Idempotent.
    let again = backend
        .ensure_application_and_group("orders-app", "orders-live", ROLE, &alarms)
        .await
        .unwrap();
    assert_eq!(again, (false, false));
    let application = client
        .get_application()
        .application_name("orders-app")
        .send()
        .await
        .unwrap();
    assert_eq!(
        application.application().unwrap().compute_platform(),
        Some(&ComputePlatform::Lambda)
    );
    let group = client
        .get_deployment_group()
        .application_name("orders-app")
        .deployment_group_name("orders-live")
        .send()
        .await
        .unwrap();
    assert_eq!(
        group.deployment_group_info().unwrap().service_role_arn(),
        Some(ROLE)
    );

    let canary = DeploymentConfig::from_steps(&[(10.0, Duration::from_secs(300))]).unwrap();
    let request = deployment(canary);
    let id = backend.deploy(&request).await.unwrap();

    let report = backend.status(&id).await.unwrap();
    assert_eq!(report.deployment_id, id);
    assert_eq!(report.status, "Created");
    assert_eq!(
        report.config_name.as_deref(),
        Some("CodeDeployDefault.LambdaCanary10Percent5Minutes")
    );
    assert_eq!(report.traffic_percent, Some(0.0));
    assert_eq!((&report.rollback, &report.error), (&None, &None));
    assert!(!report.is_finished());

    // The revision as stored: the AppSpec and its SHA-256.
    let stored = client
        .get_deployment()
        .deployment_id(&id)
        .send()
        .await
        .unwrap();
    let revision = stored.deployment_info().unwrap().revision().unwrap();
    assert_eq!(
        revision.revision_type(),
        Some(&RevisionLocationType::AppSpecContent)
    );
    let content = revision.app_spec_content().unwrap();
    assert_eq!(content.content(), Some(request.appspec().as_str()));
    assert_eq!(content.sha256().map(str::len), Some(64));
    let appspec: serde_json::Value = serde_json::from_str(content.content().unwrap()).unwrap();
    let properties = &appspec["Resources"][0]["LaminaCanaryTarget"]["Properties"];
    assert_eq!(properties["Name"], "orders");
    assert_eq!(properties["TargetVersion"], "7");
    assert_eq!(
        appspec["Hooks"],
        serde_json::json!([
            { "BeforeAllowTraffic": "orders-pre-hook" },
            { "AfterAllowTraffic": "orders-post-hook" }
        ])
    );

    let listed = client
        .list_deployments()
        .application_name("orders-app")
        .deployment_group_name("orders-live")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.deployments(), std::slice::from_ref(&id));

    // Unknown application, deployment.
    let mut elsewhere = deployment(DeploymentConfig::Predefined(ALL_AT_ONCE.into()));
    elsewhere.application = "nosuch".into();
    let error = backend.deploy(&elsewhere).await.unwrap_err();
    assert!(matches!(error, PortError::NotFound(_)), "{error}");
    let error = backend.status("d-NOSUCH0000").await.unwrap_err();
    assert!(matches!(error, PortError::NotFound(_)), "{error}");
    // promote never reaches CodeDeploy.
    let error = backend.promote(&id).unwrap_err();
    assert!(
        matches!(&error, PortError::Rejected(m) if m.contains("ContinueDeployment")),
        "{error}"
    );
}

#[tokio::test]
async fn a_new_group_gets_alarms_auto_rollback_and_traffic_control() {
    let seen: Arc<Mutex<Vec<CreateDeploymentGroupInput>>> = Arc::default();
    let record = seen.clone();
    let get_app = mock!(Client::get_application).then_error(|| {
        GetApplicationError::ApplicationDoesNotExistException(
            ApplicationDoesNotExistException::builder().build(),
        )
    });
    let create_app = mock!(Client::create_application)
        .match_requests(|input| input.compute_platform() == Some(&ComputePlatform::Lambda))
        .then_output(|| {
            CreateApplicationOutput::builder()
                .application_id("app-1")
                .build()
        });
    let get_group = mock!(Client::get_deployment_group).then_error(|| {
        GetDeploymentGroupError::DeploymentGroupDoesNotExistException(
            DeploymentGroupDoesNotExistException::builder().build(),
        )
    });
    let create_group = mock!(Client::create_deployment_group).then_compute_output(move |input| {
        record.lock().unwrap().push(input.clone());
        CreateDeploymentGroupOutput::builder()
            .deployment_group_id("g-1")
            .build()
    });
    let backend = mocked(&[&get_app, &create_app, &get_group, &create_group]);
    let alarms = ["orders-errors".to_owned(), "orders-latency".to_owned()];
    let created = backend
        .ensure_application_and_group("orders-app", "orders-live", ROLE, &alarms)
        .await
        .unwrap();
    assert_eq!(created, (true, true));
    assert_eq!(create_app.num_calls(), 1);
    let input = &seen.lock().unwrap()[0];
    assert_eq!(input.service_role_arn(), Some(ROLE));
    let alarm_configuration = input.alarm_configuration().unwrap();
    assert!(alarm_configuration.enabled());
    let names: Vec<_> = alarm_configuration
        .alarms()
        .iter()
        .filter_map(|a| a.name())
        .collect();
    assert_eq!(names, ["orders-errors", "orders-latency"]);
    let rollback = input.auto_rollback_configuration().unwrap();
    assert!(rollback.enabled());
    assert_eq!(
        rollback.events(),
        [
            AutoRollbackEvent::DeploymentFailure,
            AutoRollbackEvent::DeploymentStopOnAlarm
        ]
    );
    let style = input.deployment_style().unwrap();
    assert_eq!(
        style.deployment_type().map(|t| t.as_str()),
        Some("BLUE_GREEN")
    );
    assert_eq!(
        style.deployment_option().map(|o| o.as_str()),
        Some("WITH_TRAFFIC_CONTROL")
    );
}

#[tokio::test]
async fn custom_configurations_are_created_once() {
    let seen: Arc<Mutex<Vec<CreateDeploymentConfigInput>>> = Arc::default();
    let record = seen.clone();
    let create = mock!(Client::create_deployment_config).then_compute_output(move |input| {
        record.lock().unwrap().push(input.clone());
        CreateDeploymentConfigOutput::builder()
            .deployment_config_id("c-1")
            .build()
    });
    let backend = mocked(&[&create]);
    let linear = DeploymentConfig::from_steps(
        &[20.0, 40.0, 60.0, 80.0].map(|p| (p, Duration::from_secs(180))),
    )
    .unwrap();
    assert!(backend.ensure_custom_config(&linear).await.unwrap());
    let input = seen.lock().unwrap()[0].clone();
    assert_eq!(
        input.deployment_config_name(),
        Some("Lamina.LambdaLinear20PercentEvery3Minutes")
    );
    assert_eq!(input.compute_platform(), Some(&ComputePlatform::Lambda));
    let routing = input.traffic_routing_config().unwrap();
    assert_eq!(routing.r#type(), Some(&TrafficRoutingType::TimeBasedLinear));
    let step = routing.time_based_linear().unwrap();
    assert_eq!((step.linear_percentage(), step.linear_interval()), (20, 3));

    // Predefined: nothing to create, nothing sent.
    let predefined = DeploymentConfig::Predefined(ALL_AT_ONCE.into());
    assert!(!backend.ensure_custom_config(&predefined).await.unwrap());
    assert_eq!(create.num_calls(), 1);

    let exists = mock!(Client::create_deployment_config).then_error(|| {
        CreateDeploymentConfigError::DeploymentConfigAlreadyExistsException(
            DeploymentConfigAlreadyExistsException::builder().build(),
        )
    });
    assert!(
        !mocked(&[&exists])
            .ensure_custom_config(&linear)
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn abort_stops_with_rollback() {
    let stop = mock!(Client::stop_deployment)
        .match_requests(|input| {
            input.deployment_id() == Some("d-1") && input.auto_rollback_enabled() == Some(true)
        })
        .then_output(|| {
            StopDeploymentOutput::builder()
                .status(StopStatus::Pending)
                .status_message("Stopping")
                .build()
        });
    let backend = mocked(&[&stop]);
    assert_eq!(
        backend.abort("d-1").await.unwrap(),
        ("Pending".to_owned(), Some("Stopping".to_owned()))
    );
    let done = mock!(Client::stop_deployment).then_error(|| {
        StopDeploymentError::DeploymentAlreadyCompletedException(
            DeploymentAlreadyCompletedException::builder().build(),
        )
    });
    let error = mocked(&[&done]).abort("d-1").await.unwrap_err();
    assert!(matches!(error, PortError::Conflict(_)), "{error}");
    let down = mock!(Client::stop_deployment)
        .sequence()
        .http_status(500, None)
        .build();
    let error = mocked(&[&down]).abort("d-1").await.unwrap_err();
    assert!(matches!(error, PortError::Unavailable(_)), "{error}");
}

#[tokio::test]
async fn hook_results_are_reported() {
    let succeeded = mock!(Client::put_lifecycle_event_hook_execution_status)
        .match_requests(|input| {
            input.deployment_id() == Some("d-1")
                && input.lifecycle_event_hook_execution_id() == Some("exec-1")
                && input.status() == Some(&LifecycleEventStatus::Succeeded)
        })
        .then_output(|| PutLifecycleEventHookExecutionStatusOutput::builder().build());
    let failed = mock!(Client::put_lifecycle_event_hook_execution_status)
        .match_requests(|input| input.status() == Some(&LifecycleEventStatus::Failed))
        .then_output(|| PutLifecycleEventHookExecutionStatusOutput::builder().build());
    let backend = mocked(&[&succeeded, &failed]);
    backend
        .put_hook_status("d-1", "exec-1", true)
        .await
        .unwrap();
    backend
        .put_hook_status("d-1", "exec-1", false)
        .await
        .unwrap();
    assert_eq!((succeeded.num_calls(), failed.num_calls()), (1, 1));

    let late = mock!(Client::put_lifecycle_event_hook_execution_status).then_error(|| {
        PutLifecycleEventHookExecutionStatusError::LifecycleEventAlreadyCompletedException(
            LifecycleEventAlreadyCompletedException::builder().build(),
        )
    });
    let error = mocked(&[&late])
        .put_hook_status("d-1", "exec-1", true)
        .await
        .unwrap_err();
    assert!(matches!(error, PortError::Conflict(_)), "{error}");
}

#[tokio::test]
async fn status_reads_the_lambda_targets_weight_while_shifting() {
    let get = mock!(Client::get_deployment).then_output(|| {
        GetDeploymentOutput::builder()
            .deployment_info(
                DeploymentInfo::builder()
                    .deployment_id("d-1")
                    .status(DeploymentStatus::InProgress)
                    .deployment_config_name("CodeDeployDefault.LambdaLinear10PercentEvery1Minute")
                    .build(),
            )
            .build()
    });
    let list = mock!(Client::list_deployment_targets).then_output(|| {
        ListDeploymentTargetsOutput::builder()
            .target_ids("orders:live")
            .build()
    });
    let batch = mock!(Client::batch_get_deployment_targets)
        .match_requests(|input| input.target_ids() == ["orders:live"])
        .then_output(|| {
            BatchGetDeploymentTargetsOutput::builder()
                .deployment_targets(
                    DeploymentTarget::builder()
                        .lambda_target(
                            LambdaTarget::builder()
                                .lambda_function_info(
                                    LambdaFunctionInfo::builder()
                                        .function_name("orders")
                                        .target_version_weight(0.3)
                                        .build(),
                                )
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
    let report = mocked(&[&get, &list, &batch]).status("d-1").await.unwrap();
    assert_eq!(report.status, "InProgress");
    let percent = report.traffic_percent.unwrap();
    assert!((percent - 30.0).abs() < 1e-9, "{percent}");
}
