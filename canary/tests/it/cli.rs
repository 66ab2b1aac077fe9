//! The `canary` binary against moto: whole rollouts driven from the command line, the alias
//! checked through the real Lambda SDK after each command, and bad input refused with nothing
//! written. (moto cannot serve CloudWatch to the Rust SDK, so these rollouts have no metric
//! gates; the gates are proven on the in-memory ports in `rollouts.rs`.)

use std::process::Output;

use aws_sdk_lambda::Client;
use lamina_local::moto::MotoServer;
use serde_json::Value;

use crate::moto_function::function_with_alias;

const CANARY: &str = env!("CARGO_BIN_EXE_canary");

struct Fixture {
    moto: MotoServer,
    lambda: Client,
    ssm: aws_sdk_ssm::Client,
}

/// moto with a function `orders`, versions 1 and 2, and alias `live` on version 1.
async fn fixture() -> Fixture {
    let moto = MotoServer::start().await.unwrap();
    moto.disable_lambda_docker().await.unwrap();
    let lambda = function_with_alias(&moto, "orders", "production traffic").await;
    let ssm = aws_sdk_ssm::Client::new(moto.sdk_config());
    Fixture { moto, lambda, ssm }
}

impl Fixture {
    /// Runs `canary` with `args`, pointed at moto, and waits for it.
    async fn canary(&self, args: &[&str]) -> Output {
        let mut command = tokio::process::Command::new(CANARY);
        command
            .args(args)
            .envs(self.moto.environment())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env_remove("AWS_PROFILE");
        command.output().await.unwrap()
    }

    /// Runs `canary --output json` and parses the one JSON document it printed.
    async fn canary_json(&self, args: &[&str]) -> (i32, Value) {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        let output = self.canary(&all).await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        let document = stdout.lines().last().unwrap_or_default();
        let value = serde_json::from_str(document).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}): {stdout}\nstderr: {}",
                String::from_utf8_lossy(&output.stderr)
            )
        });
        (output.status.code().unwrap(), value)
    }

    /// The alias as Lambda has it: primary version, additional version weights, description.
    async fn alias(&self) -> (String, Vec<(String, f64)>, String) {
        let alias = self
            .lambda
            .get_alias()
            .function_name("orders")
            .name("live")
            .send()
            .await
            .unwrap();
        let weights = alias
            .routing_config()
            .and_then(|routing| routing.additional_version_weights())
            .map(|weights| weights.iter().map(|(v, w)| (v.clone(), *w)).collect())
            .unwrap_or_default();
        (
            alias.function_version().unwrap().to_owned(),
            weights,
            alias.description().unwrap_or_default().to_owned(),
        )
    }

    async fn record_exists(&self) -> bool {
        let found = self
            .ssm
            .get_parameters_by_path()
            .path("/lamina-canary/orders/live")
            .send()
            .await
            .unwrap();
        !found.parameters().is_empty()
    }
}

#[tokio::test]
async fn deploy_status_and_promote_move_the_alias() {
    let fixture = fixture().await;
    let (code, deployed) = fixture
        .canary_json(&[
            "deploy",
            "orders",
            "--alias",
            "live",
            "--version",
            "2",
            "--strategy",
            "steps:10,50@1h",
        ])
        .await;
    assert_eq!(code, 0, "{deployed}");
    assert_eq!(deployed["phase"], "shifting");
    assert_eq!(deployed["canaryVersion"], "2");
    assert_eq!(deployed["stableVersion"], "1");
    let (primary, weights, description) = fixture.alias().await;
    assert_eq!(primary, "1");
    assert_eq!(weights, vec![("2".to_owned(), 0.1)]);
    assert!(description.starts_with("lamina-canary/1 "), "{description}");
    assert!(fixture.record_exists().await);

    let (code, status) = fixture
        .canary_json(&["status", "orders", "--alias", "live"])
        .await;
    assert_eq!(code, 0);
    assert_eq!(status["step"], 0);
    assert_eq!(status["steps"], 2);
    assert!(status["nextStepUnix"].as_u64().is_some(), "{status}");

    // A second rollout on the same alias is refused while this one runs: exit 4, nothing changes.
    let (code, refused) = fixture
        .canary_json(&["deploy", "orders", "--alias", "live", "--version", "2"])
        .await;
    assert_eq!(code, 4, "{refused}");
    assert_eq!(refused["exitCode"], 4);
    assert_eq!(fixture.alias().await.1, vec![("2".to_owned(), 0.1)]);

    // `promote` moves on one step, without waiting for the hour's hold.
    let (code, promoted) = fixture
        .canary_json(&["promote", "orders", "--alias", "live"])
        .await;
    assert_eq!(code, 0, "{promoted}");
    assert_eq!(
        (promoted["phase"].as_str(), promoted["step"].as_u64()),
        (Some("shifting"), Some(1))
    );
    assert_eq!(fixture.alias().await.1, vec![("2".to_owned(), 0.5)]);
    // `promote --full` finishes now.
    let (code, promoted) = fixture
        .canary_json(&["promote", "orders", "--alias", "live", "--full"])
        .await;
    assert_eq!(code, 0, "{promoted}");
    assert_eq!(promoted["phase"], "succeeded");
    let (primary, weights, description) = fixture.alias().await;
    assert_eq!((primary.as_str(), weights.len()), ("2", 0));
    assert_eq!(description, "production traffic");

    // Nothing left to abort.
    let output = fixture
        .canary(&["abort", "orders", "--alias", "live"])
        .await;
    assert_eq!(output.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no rollout in progress"), "{stderr}");
}

#[tokio::test]
async fn abort_puts_all_traffic_back_on_the_stable_version() {
    let fixture = fixture().await;
    let output = fixture
        .canary(&[
            "deploy",
            "orders",
            "--alias",
            "live",
            "--version",
            "2",
            "--strategy",
            "linear10-10m",
        ])
        .await;
    assert_eq!(output.status.code(), Some(0));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("orders:live"), "{text}");
    assert!(text.contains("step 1/9"), "{text}");

    let (code, aborted) = fixture
        .canary_json(&["abort", "orders", "--alias", "live"])
        .await;
    assert_eq!(code, 0, "{aborted}");
    assert_eq!(aborted["phase"], "rolled-back");
    let (primary, weights, description) = fixture.alias().await;
    assert_eq!((primary.as_str(), weights.len()), ("1", 0));
    // The rollout is over: the alias has its own description back, and how the rollout ended
    // is kept beside its record.
    assert_eq!(description, "production traffic");
    let id = aborted["id"].as_str().unwrap();
    let outcome = fixture
        .ssm
        .get_parameter()
        .name(format!("/lamina-canary/orders/live/{id}/outcome"))
        .send()
        .await
        .unwrap();
    let outcome: Value =
        serde_json::from_str(outcome.parameter().unwrap().value().unwrap()).unwrap();
    assert_eq!(
        (outcome["phase"].as_str(), outcome["why"].as_str()),
        (Some("rolled-back"), Some("abort"))
    );
    let (code, status) = fixture
        .canary_json(&["status", "orders", "--alias", "live"])
        .await;
    assert_eq!(code, 0, "{status}");
    assert_eq!(
        (status["phase"].as_str(), status["why"].as_str()),
        (Some("rolled-back"), Some("abort"))
    );
    let (code, history) = fixture
        .canary_json(&["history", "orders", "--alias", "live"])
        .await;
    assert_eq!(code, 0, "{history}");
    assert_eq!(history[0]["outcome"], "described");
    assert_eq!(history[0]["why"], "abort");
}

#[tokio::test]
async fn run_and_wait_carry_due_rollouts_to_the_end() {
    let fixture = fixture().await;
    let (code, _) = fixture
        .canary_json(&[
            "deploy",
            "orders",
            "--alias",
            "live",
            "--version",
            "2",
            "--strategy",
            "steps:50@1s",
        ])
        .await;
    assert_eq!(code, 0);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let (code, outcomes) = fixture.canary_json(&["run"]).await;
    assert_eq!(code, 0, "{outcomes}");
    let outcomes = outcomes.as_array().unwrap();
    assert_eq!(outcomes.len(), 1, "{outcomes:?}");
    assert_eq!(outcomes[0]["function"], "orders");
    let (primary, weights, _) = fixture.alias().await;
    assert_eq!((primary.as_str(), weights.len()), ("2", 0));

    // A new rollout back to version 1, driven to its end by `deploy --wait`.
    let output = fixture
        .canary(&[
            "deploy",
            "orders",
            "--alias",
            "live",
            "--version",
            "1",
            "--strategy",
            "steps:50@1s",
            "--wait",
            "--interval",
            "1s",
        ])
        .await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(fixture.alias().await.0, "1");
}

#[tokio::test]
async fn bad_input_is_refused_before_anything_is_written() {
    let fixture = fixture().await;
    let cases: &[(&[&str], &str)] = &[
        (
            &["deploy", "payments", "--alias", "live", "--version", "2"],
            "payments",
        ),
        (
            &["deploy", "orders", "--alias", "staging", "--version", "2"],
            "staging",
        ),
        (
            &["deploy", "orders", "--alias", "live", "--version", "9"],
            "9",
        ),
        (
            &["deploy", "orders", "--alias", "live", "--version", "1"],
            "already",
        ),
    ];
    for (args, mentions) in cases {
        let output = fixture.canary(args).await;
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(mentions), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let (primary, weights, description) = fixture.alias().await;
    assert_eq!((primary.as_str(), weights.len()), ("1", 0));
    assert_eq!(description, "production traffic");
    assert!(!fixture.record_exists().await);

    let (code, statuses) = fixture.canary_json(&["status"]).await;
    assert_eq!(code, 0);
    assert_eq!(statuses, serde_json::json!([]));
}

#[tokio::test]
async fn codedeploy_deployments_are_created_found_and_explained() {
    let fixture = fixture().await;
    let role = fixture
        .moto
        .create_iam_role("codedeploy-role")
        .await
        .unwrap();

    // Checked before anything is created: CodeDeploy judges by alarms only.
    let output = fixture
        .canary(&[
            "deploy",
            "orders",
            "--alias",
            "live",
            "--version",
            "2",
            "--codedeploy",
            "orders-app/live",
            "--service-role",
            &role,
            "--gate",
            "error-rate<=1%",
        ])
        .await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("alarm"));
    let (code, none) = fixture
        .canary_json(&["status", "--codedeploy", "orders-app/live"])
        .await;
    assert_eq!(code, 2, "the application must not exist yet: {none}");

    let (code, created) = fixture
        .canary_json(&[
            "deploy",
            "orders",
            "--alias",
            "live",
            "--version",
            "2",
            "--strategy",
            "linear10-1m",
            "--codedeploy",
            "orders-app/live",
            "--service-role",
            &role,
            "--gate",
            "alarm:orders-errors",
        ])
        .await;
    assert_eq!(code, 0, "{created}");
    assert_eq!(created["backend"], "codedeploy");
    assert_eq!(
        created["configName"],
        "CodeDeployDefault.LambdaLinear10PercentEvery1Minute"
    );
    let id = created["deploymentId"].as_str().unwrap().to_owned();

    let (code, status) = fixture
        .canary_json(&["status", "--codedeploy", "orders-app/live"])
        .await;
    assert_eq!(code, 0);
    assert_eq!(status["deploymentId"], id.as_str());
    assert_eq!(status["inProgress"], true);

    // CodeDeploy cannot skip a Lambda deployment's waits: refused, with what to do instead.
    let output = fixture
        .canary(&["promote", "--codedeploy", "orders-app/live"])
        .await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot promote"), "{stderr}");
    assert!(stderr.contains(&id), "{stderr}");
}

#[tokio::test]
async fn status_watch_prints_each_change_and_ends_with_the_rollout() {
    let fixture = fixture().await;
    let (code, _) = fixture
        .canary_json(&[
            "deploy",
            "orders",
            "--alias",
            "live",
            "--version",
            "2",
            "--strategy",
            "steps:50@1s",
        ])
        .await;
    assert_eq!(code, 0);
    let watcher = {
        let mut command = tokio::process::Command::new(CANARY);
        command
            .args([
                "--output",
                "json",
                "status",
                "orders",
                "--alias",
                "live",
                "--watch",
                "--interval",
                "1s",
            ])
            .envs(fixture.moto.environment())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env_remove("AWS_PROFILE")
            .stdout(std::process::Stdio::piped());
        command.spawn().unwrap()
    };
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (code, _) = fixture.canary_json(&["run"]).await;
    assert_eq!(code, 0);
    let output = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        watcher.wait_with_output(),
    )
    .await
    .expect("the watcher ends when the rollout does")
    .unwrap();
    // Not a terminal: one JSON line per change, not a redraw every interval; exit 0 on success.
    assert_eq!(output.status.code(), Some(0));
    let lines: Vec<Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0][0]["phase"], "shifting");
    assert_eq!(lines[1][0]["phase"], "succeeded");
}

#[tokio::test]
async fn a_dry_run_shows_the_plan_and_changes_nothing() {
    let fixture = fixture().await;
    let (code, plan) = fixture
        .canary_json(&[
            "deploy",
            "orders",
            "--alias",
            "live",
            "--version",
            "2",
            "--strategy",
            "canary10-30m",
            "--gate",
            "error-rate<=stable",
            "--dry-run",
        ])
        .await;
    assert_eq!(code, 0, "{plan}");
    assert_eq!(plan["stableVersion"], "1");
    assert_eq!(plan["canaryVersion"], "2");
    assert_eq!(plan["steps"][0]["weight"], 0.1);
    assert_eq!(plan["steps"][0]["holdSecs"], 1800);
    assert_eq!(plan["fullAfterSecs"], 1800);
    assert_eq!(plan["gates"][0], "error-rate<=stable");
    let (primary, weights, description) = fixture.alias().await;
    assert_eq!(
        (primary.as_str(), weights.len(), description.as_str()),
        ("1", 0, "production traffic")
    );
    assert!(!fixture.record_exists().await);
    // A dry run of something deploy would refuse is refused the same way.
    let (code, error) = fixture
        .canary_json(&[
            "deploy",
            "orders",
            "--alias",
            "live",
            "--version",
            "9",
            "--dry-run",
        ])
        .await;
    assert_eq!(code, 2, "{error}");
    assert!(!fixture.record_exists().await);
}

#[tokio::test]
async fn plan_shows_the_schedule_and_changes_nothing() {
    let fixture = fixture().await;
    let (code, plan) = fixture
        .canary_json(&[
            "plan",
            "orders",
            "--alias",
            "live",
            "--version",
            "2",
            "--strategy",
            "steps:10@5m,50@10m",
            "--gate",
            "manual@50",
        ])
        .await;
    assert_eq!(code, 0, "{plan}");
    assert_eq!(
        (
            plan["stableVersion"].as_str(),
            plan["canaryVersion"].as_str()
        ),
        (Some("1"), Some("2"))
    );
    assert_eq!(plan["steps"][1]["weight"], 0.5);
    assert_eq!(plan["steps"][1]["startsAfterSecs"], 300);
    assert_eq!(plan["steps"][1]["pauses"], true);
    assert_eq!(plan["fullAfterSecs"], 900);
    let (primary, weights, description) = fixture.alias().await;
    assert_eq!(
        (primary.as_str(), weights.len(), description.as_str()),
        ("1", 0, "production traffic")
    );
    assert!(!fixture.record_exists().await);
    // What deploy would refuse, plan refuses the same way; flags that write are refused.
    let (code, error) = fixture
        .canary_json(&["plan", "orders", "--alias", "live", "--version", "9"])
        .await;
    assert_eq!(code, 2, "{error}");
    let (code, error) = fixture
        .canary_json(&[
            "plan",
            "orders",
            "--alias",
            "live",
            "--version",
            "2",
            "--wait",
        ])
        .await;
    assert_eq!(code, 2, "{error}");
    assert!(
        error["error"].as_str().unwrap().contains("--wait"),
        "{error}"
    );
    assert!(!fixture.record_exists().await);
}
