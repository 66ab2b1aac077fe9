//! The `canary` command line: arguments, and what each command does.

mod codedeploy;
pub(crate) mod exit;
mod group;
mod render;
mod watch;

use std::{sync::Arc, time::Duration};

use clap::{Args as ClapArgs, Parser, Subcommand, ValueEnum};
use lamina_canary::{
    aws::AwsBackends,
    clock::SystemClock,
    codedeploy::{CodeDeployBackend, CodeDeployRequest, CodeDeployTarget},
    controller::{
        Backoff, CanaryError, Controller, DeployRequest, Ports, VersionChoice, WaitEnd, WaitEvent,
    },
    gate::{DeadlineAction, GatePolicy, GateSpec},
    state::Phase,
    strategy::{Strategy, parse_duration},
};
use serde::Serialize;

const AFTER_HELP: &str = "\
AWS access uses the standard configuration chain: profiles, AWS_REGION, AWS_ENDPOINT_URL.

Exit codes:
  0  the command did what was asked
  1  a rollout was rolled back, or a promotion was refused by its gates
  2  bad input: arguments, an unknown function, alias or version
  3  AWS could not be reached, or refused the call
  4  the alias's state forbids it: a rollout already in progress, none in progress,
     another controller won, or the alias was edited by hand
  5  a rollout stalled: a deadline passed and its policy says hold (`deploy --wait`)";

/// Progressive delivery for AWS Lambda aliases: shift traffic to a new version step by step,
/// check health gates at each step, and promote or roll back.
#[derive(Debug, Parser)]
#[command(name = "canary", version, after_help = AFTER_HELP)]
pub(crate) struct Args {
    /// How to print results: `text` for people, `json` for programs.
    #[arg(long, global = true, value_enum, default_value_t = OutputFormat::Text)]
    output: OutputFormat,
    /// The AWS region (otherwise the configuration chain's).
    #[arg(long, global = true)]
    region: Option<String>,
    /// The AWS profile (otherwise the configuration chain's).
    #[arg(long, global = true)]
    profile: Option<String>,
    #[command(subcommand)]
    command: Command,
}

/// How results are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputFormat {
    /// Lines for people; a live display on a terminal.
    Text,
    /// One JSON document per result (one per line when following).
    Json,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a rollout: shift the alias's traffic to a new version by a strategy.
    Deploy(Box<DeployArgs>),
    /// Show what `deploy` would do, after its checks, without writing anything: the schedule of
    /// weights and times, the gates and the policy (the same as `deploy --dry-run`).
    Plan(Box<DeployArgs>),
    /// Show where rollouts stand: versions, weights, step, next step time, gate results.
    Status(StatusArgs),
    /// Move a rollout on to its next step now, or with --full send all traffic to the new
    /// version now (its gates are still checked unless --force).
    Promote(PromoteArgs),
    /// Roll back to the stable version with no weights.
    Abort(AbortArgs),
    /// Advance every due rollout by one decision and exit (or keep going with --follow).
    Run(RunArgs),
    /// List an alias's rollouts, past and present, oldest first, with how each went.
    History(TargetArgs),
    /// Hold a rollout at its step, with its traffic, until `canary resume`.
    Pause(TargetArgs),
    /// Let a paused rollout go on from its step (whose hold starts again).
    Resume(TargetArgs),
}

#[derive(Debug, ClapArgs)]
struct TargetArgs {
    /// The function: a name or an ARN.
    function: String,
    /// The alias whose traffic shifts.
    #[arg(long)]
    alias: String,
}

#[derive(Debug, ClapArgs)]
struct DeployArgs {
    #[command(flatten)]
    target: TargetArgs,
    /// The published version to roll out.
    #[arg(long, required_unless_present_any = ["publish", "group"], conflicts_with = "publish")]
    version: Option<String>,
    /// Deploy a release group: FUNCTION (then MEMBERS) are FUNCTION=VERSION pairs, each on
    /// --alias, shifted in lock-step; a gate failing on any member rolls back all of them.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["version", "publish", "codedeploy", "dry_run", "pre_hook", "post_hook"])]
    group: Option<String>,
    /// With --group: the members after the first, as FUNCTION=VERSION.
    #[arg(value_name = "MEMBERS", requires = "group")]
    members: Vec<String>,
    /// Publish $LATEST as a new version and roll that out.
    #[arg(long)]
    publish: bool,
    /// canary10-5m, canary10-10m, canary10-15m, canary10-30m, linear10-1m, linear10-2m,
    /// linear10-3m, linear10-10m, all-at-once, or steps like `steps:5,25,50@2m`.
    #[arg(long, default_value = "canary10-5m", value_parser = parse_strategy)]
    strategy: Strategy,
    /// A health gate (repeatable): error-rate<=1%, error-rate<=stable, errors<=5, throttles<=0,
    /// duration-p99<=800ms, alarm:NAME, metric:NS/NAME{Dim=Value}:STAT<=N, manual, manual@50.
    #[arg(long = "gate", value_parser = parse_gate)]
    gates: Vec<GateSpec>,
    /// A function to invoke before any traffic shifts; the rollout stops unless it succeeds.
    #[arg(long)]
    pre_hook: Option<String>,
    /// A function to invoke once all traffic has shifted; the rollout rolls back unless it succeeds.
    #[arg(long)]
    post_hook: Option<String>,
    /// Canary requests needed in a step before a gate gives a verdict.
    #[arg(long, default_value_t = GatePolicy::default().min_requests)]
    min_requests: u64,
    /// Failed gate checks tolerated in one step before rolling back.
    #[arg(long, default_value_t = GatePolicy::default().failure_limit)]
    failure_limit: u32,
    /// How long a gate whose data source fails may hold the rollout before --on-data-deadline
    /// applies.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    data_deadline: Duration,
    /// What a rollout does once its data source has failed past --data-deadline: hold (stay,
    /// report it as stalled) or rollback.
    #[arg(long, default_value = "hold", value_parser = ["hold", "rollback"])]
    on_data_deadline: String,
    /// How long past its hold a step may wait for enough data before --on-progress-deadline
    /// applies.
    #[arg(long, default_value = "30m", value_parser = parse_duration)]
    progress_deadline: Duration,
    /// What a step still short of data at its progress deadline does: rollback, hold (stay,
    /// report it as stalled) or promote (go on as if its gates had passed).
    #[arg(long, default_value = "rollback", value_parser = ["rollback", "hold", "promote"])]
    on_progress_deadline: String,
    /// How long an alias edited by hand during the rollout may stay so before the rollout is
    /// rolled back.
    #[arg(long, default_value = "10m", value_parser = parse_duration)]
    drift_timeout: Duration,
    /// Hand the rollout to CodeDeploy in this application and deployment group (created when
    /// missing) instead of driving the alias; only alarm:NAME gates apply there.
    #[arg(long, value_name = "APP/GROUP", value_parser = parse_codedeploy)]
    codedeploy: Option<CodeDeployTarget>,
    /// The role CodeDeploy assumes, needed when --codedeploy creates the deployment group.
    #[arg(long, value_name = "ARN", requires = "codedeploy")]
    service_role: Option<String>,
    /// Keep driving the rollout until it ends (exit 0 when promoted, 1 when rolled back).
    #[arg(long, conflicts_with = "codedeploy")]
    wait: bool,
    /// Check everything and show the schedule of weights and times, the gates and the policy,
    /// without writing anything.
    #[arg(long, conflicts_with_all = ["codedeploy", "wait", "publish"])]
    dry_run: bool,
    /// How often to decide while waiting.
    #[arg(long, default_value = "30s", value_parser = parse_duration, requires = "wait")]
    interval: Duration,
}

#[derive(Debug, ClapArgs)]
struct StatusArgs {
    /// The function (with --alias): show one rollout; without it, every rollout.
    #[arg(requires = "alias", conflicts_with_all = ["codedeploy", "group"])]
    function: Option<String>,
    /// Show the release group NAME, every member.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["codedeploy", "watch"])]
    group: Option<String>,
    /// Show the newest deployment of this CodeDeploy application and deployment group.
    #[arg(long, value_name = "APP/GROUP", value_parser = parse_codedeploy)]
    codedeploy: Option<CodeDeployTarget>,
    /// The alias.
    #[arg(long, requires = "function")]
    alias: Option<String>,
    /// Keep the display up to date until interrupted.
    #[arg(long)]
    watch: bool,
    /// How often to refresh with --watch.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    interval: Duration,
}

#[derive(Debug, ClapArgs)]
struct PromoteArgs {
    /// The function: a name or an ARN.
    #[arg(required_unless_present_any = ["codedeploy", "group"], requires = "alias")]
    function: Option<String>,
    /// The alias whose rollout to finish.
    #[arg(long, requires = "function")]
    alias: Option<String>,
    /// The CodeDeploy application and group whose deployment to finish (CodeDeploy refuses: it
    /// cannot skip a Lambda deployment's waits; the answer says what to do instead).
    #[arg(long, value_name = "APP/GROUP", value_parser = parse_codedeploy, conflicts_with = "function")]
    codedeploy: Option<CodeDeployTarget>,
    /// Finish every member of the release group NAME now (with --full: a group moves step by
    /// step only under `canary run`; refused if any member's gate fails).
    #[arg(long, value_name = "NAME", conflicts_with_all = ["function", "codedeploy"], requires = "full")]
    group: Option<String>,
    /// Promote even if a gate fails.
    #[arg(long)]
    force: bool,
    /// Skip every remaining step and send all traffic to the new version now (without it, the
    /// rollout moves on to its next step only).
    #[arg(long)]
    full: bool,
}

#[derive(Debug, ClapArgs)]
struct AbortArgs {
    /// The function: a name or an ARN.
    #[arg(required_unless_present_any = ["codedeploy", "group"], requires = "alias")]
    function: Option<String>,
    /// The alias whose rollout to roll back.
    #[arg(long, requires = "function")]
    alias: Option<String>,
    /// Stop the CodeDeploy application and group's deployment, with automatic rollback.
    #[arg(long, value_name = "APP/GROUP", value_parser = parse_codedeploy, conflicts_with = "function")]
    codedeploy: Option<CodeDeployTarget>,
    /// Roll back every member of the release group NAME.
    #[arg(long, value_name = "NAME", conflicts_with_all = ["function", "codedeploy", "force"])]
    group: Option<String>,
    /// Roll back even when the alias's description cannot be read or its record is missing,
    /// taking the stable version from the newest rollout record that matches the alias.
    #[arg(long, conflicts_with = "codedeploy")]
    force: bool,
}

#[derive(Debug, ClapArgs)]
struct RunArgs {
    /// Keep deciding every --interval until interrupted.
    #[arg(long)]
    follow: bool,
    /// How often to decide with --follow.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    interval: Duration,
}

fn parse_strategy(text: &str) -> Result<Strategy, String> {
    text.parse::<Strategy>().map_err(|error| error.to_string())
}

fn parse_codedeploy(text: &str) -> Result<CodeDeployTarget, String> {
    text.parse::<CodeDeployTarget>()
}

fn parse_gate(text: &str) -> Result<GateSpec, String> {
    text.parse::<GateSpec>().map_err(|error| error.to_string())
}

/// Runs the command and returns the process's exit code.
pub(crate) async fn run(args: Args) -> u8 {
    let aws = Aws::load(&args).await;
    let controller = &aws.controller;
    let output = args.output;
    let result = match args.command {
        Command::Deploy(deploy) => match (deploy.codedeploy.clone(), deploy.group.is_some()) {
            (Some(target), _) => run_codedeploy_deploy(&aws, *deploy, target, output).await,
            (None, true) => run_group_deploy(controller, *deploy, output).await,
            (None, false) => run_deploy(controller, *deploy, output).await,
        },
        Command::Plan(plan) => run_plan(controller, *plan, output).await,
        Command::Status(status) => match (status.codedeploy.clone(), status.group.clone()) {
            (Some(target), _) => codedeploy::status(&aws.codedeploy, &target, output).await,
            (None, Some(name)) => group::status(controller, &name, output).await,
            (None, None) => run_status(controller, status, output).await,
        },
        Command::Promote(PromoteArgs {
            group: Some(name),
            force,
            ..
        }) => group::promote(controller, &name, force, output).await,
        Command::Abort(AbortArgs {
            group: Some(name), ..
        }) => group::abort(controller, &name, output).await,
        Command::Promote(promote) => match (promote.codedeploy, promote.function, promote.alias) {
            (Some(target), _, _) => aws
                .codedeploy
                .promote_latest(&target)
                .await
                .map(|()| exit::OK),
            (None, Some(function), Some(alias)) => if promote.full {
                controller.promote(&function, &alias, promote.force).await
            } else {
                controller
                    .promote_step(&function, &alias, promote.force)
                    .await
            }
            .map(|status| {
                render::print(output, &status, render::status_text(&status));
                exit::OK
            }),
            (None, _, _) => unreachable_arguments(),
        },
        Command::Abort(abort) => match (abort.codedeploy, abort.function, abort.alias) {
            (Some(target), _, _) => aws.codedeploy.abort_latest(&target).await.map(|report| {
                codedeploy::print(output, &target, &report);
                exit::OK
            }),
            (None, Some(function), Some(alias)) => {
                let aborted = if abort.force {
                    controller.force_abort(&function, &alias).await
                } else {
                    controller.abort(&function, &alias).await
                };
                aborted.map(|status| {
                    render::print(output, &status, render::status_text(&status));
                    exit::OK
                })
            }
            (None, _, _) => unreachable_arguments(),
        },
        Command::Run(run) => run_decisions(controller, run, output).await,
        Command::Pause(target) => {
            controller
                .pause(&target.function, &target.alias)
                .await
                .map(|status| {
                    render::print(output, &status, render::status_text(&status));
                    exit::OK
                })
        }
        Command::Resume(target) => controller
            .resume(&target.function, &target.alias)
            .await
            .map(|status| {
                render::print(output, &status, render::status_text(&status));
                exit::OK
            }),
        Command::History(target) => controller
            .history(&target.function, &target.alias)
            .await
            .map(|entries| {
                render::print(output, &entries, render::history_text(&entries));
                exit::OK
            }),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            let code = exit::code_for(&error);
            match output {
                OutputFormat::Text => eprintln!("error: {error}"),
                OutputFormat::Json => render::print_json(&ErrorDocument {
                    error: error.to_string(),
                    exit_code: code,
                }),
            }
            code
        }
    }
}

/// The JSON printed for a failed command.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorDocument {
    error: String,
    exit_code: u8,
}

/// What the commands talk to: the controller on the alias backend, and CodeDeploy.
struct Aws {
    controller: Controller,
    codedeploy: CodeDeployBackend,
    aliases: Arc<dyn lamina_canary::ports::AliasStore>,
}

impl Aws {
    async fn load(args: &Args) -> Self {
        let sdk_config = sdk_config(args).await;
        let backends = AwsBackends::new(&sdk_config);
        let aliases = Arc::new(backends.aliases);
        let controller = Controller::new(Ports {
            aliases: aliases.clone(),
            records: Arc::new(backends.records),
            metrics: Arc::new(backends.metrics),
            hooks: Arc::new(backends.hooks),
            clock: Arc::new(SystemClock),
        });
        Self {
            controller,
            codedeploy: CodeDeployBackend::new(aws_sdk_codedeploy::Client::new(&sdk_config)),
            aliases,
        }
    }
}

/// clap makes FUNCTION and --alias required without --codedeploy, so this cannot happen; it is
/// still an answer, not a panic.
fn unreachable_arguments() -> Result<u8, CanaryError> {
    Err(CanaryError::InvalidInput(
        "give FUNCTION --alias ALIAS, or --codedeploy APP/GROUP".to_owned(),
    ))
}

async fn sdk_config(args: &Args) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = &args.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    if let Some(profile) = &args.profile {
        loader = loader.profile_name(profile);
    }
    loader.load().await
}

async fn run_codedeploy_deploy(
    aws: &Aws,
    args: DeployArgs,
    target: CodeDeployTarget,
    output: OutputFormat,
) -> Result<u8, CanaryError> {
    let request = CodeDeployRequest {
        target: target.clone(),
        service_role_arn: args.service_role,
        function: args.target.function,
        alias: args.target.alias,
        version: match args.version {
            Some(version) => VersionChoice::Existing(version),
            None => VersionChoice::Publish,
        },
        strategy: args.strategy,
        gates: args.gates,
        pre_hook: args.pre_hook,
        post_hook: args.post_hook,
    };
    let report = aws
        .codedeploy
        .start_rollout(aws.aliases.as_ref(), &request)
        .await?;
    codedeploy::print(output, &target, &report);
    Ok(exit::OK)
}

/// `deploy --group`: FUNCTION and MEMBERS are the members, as FUNCTION=VERSION.
async fn run_group_deploy(
    controller: &Controller,
    args: DeployArgs,
    output: OutputFormat,
) -> Result<u8, CanaryError> {
    let policy = policy_of(&args)?;
    let mut texts = vec![args.target.function];
    texts.extend(args.members);
    let deploy = group::GroupDeploy {
        name: args.group.unwrap_or_default(),
        members: group::members(&texts, &args.target.alias)?,
        strategy: args.strategy,
        gates: args.gates,
        policy,
        wait: args.wait,
        interval: args.interval,
    };
    group::deploy(controller, deploy, output).await
}

/// The gate policy the deploy flags ask for.
fn policy_of(args: &DeployArgs) -> Result<GatePolicy, CanaryError> {
    Ok(GatePolicy {
        min_requests: args.min_requests,
        failure_limit: args.failure_limit,
        data_deadline: args.data_deadline,
        on_data_deadline: parse_action(&args.on_data_deadline)?,
        progress_deadline: args.progress_deadline,
        on_progress_deadline: parse_action(&args.on_progress_deadline)?,
        drift_timeout: args.drift_timeout,
    })
}

async fn run_deploy(
    controller: &Controller,
    args: DeployArgs,
    output: OutputFormat,
) -> Result<u8, CanaryError> {
    let request = DeployRequest {
        function: args.target.function.clone(),
        alias: args.target.alias.clone(),
        version: match args.version {
            Some(version) => VersionChoice::Existing(version),
            None => VersionChoice::Publish,
        },
        strategy: args.strategy,
        gates: args.gates,
        policy: GatePolicy {
            min_requests: args.min_requests,
            failure_limit: args.failure_limit,
            data_deadline: args.data_deadline,
            on_data_deadline: parse_action(&args.on_data_deadline)?,
            progress_deadline: args.progress_deadline,
            on_progress_deadline: parse_action(&args.on_progress_deadline)?,
            drift_timeout: args.drift_timeout,
        },
        pre_hook: args.pre_hook,
        post_hook: args.post_hook,
    };
    if args.dry_run {
        let plan = controller.plan(request).await?;
        render::print(output, &plan, render::plan_text(&plan));
        return Ok(exit::OK);
    }
    let status = controller.deploy(request).await?;
    render::print(output, &status, render::status_text(&status));
    if !args.wait {
        return Ok(exit::OK);
    }
    match status.phase {
        Phase::Succeeded => return Ok(exit::OK),
        Phase::RolledBack => return Ok(exit::ROLLED_BACK),
        // A manual gate: only a person can move it on, so stop waiting here.
        Phase::Paused => return Ok(exit::OK),
        Phase::PreHook | Phase::Shifting | Phase::PostHook => {}
    }
    let end = controller
        .wait(
            &args.target.function,
            &args.target.alias,
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

/// `canary plan`: `deploy --dry-run`, refusing the flags that only mean something to a deploy
/// that writes.
async fn run_plan(
    controller: &Controller,
    mut args: DeployArgs,
    output: OutputFormat,
) -> Result<u8, CanaryError> {
    let writing_flags = [
        (args.wait, "--wait"),
        (args.codedeploy.is_some(), "--codedeploy"),
        (args.publish, "--publish"),
    ];
    if let Some((_, flag)) = writing_flags.iter().find(|(given, _)| *given) {
        return Err(CanaryError::InvalidInput(format!(
            "`canary plan` writes nothing, so {flag} does not apply; give --version, or run `canary deploy`"
        )));
    }
    args.dry_run = true;
    run_deploy(controller, args, output).await
}

/// Says on stderr that a transient error is about to be retried.
fn retrying(error: &CanaryError, delay: Duration) {
    eprintln!(
        "retrying in {}: {error}",
        lamina_canary::strategy::format_duration(delay)
    );
}

fn parse_action(text: &str) -> Result<DeadlineAction, CanaryError> {
    text.parse().map_err(CanaryError::InvalidInput)
}

async fn run_status(
    controller: &Controller,
    args: StatusArgs,
    output: OutputFormat,
) -> Result<u8, CanaryError> {
    let target = args.function.zip(args.alias);
    if args.watch {
        return watch::watch(controller, target, output, args.interval).await;
    }
    match target {
        Some((function, alias)) => {
            let status = controller.status(&function, &alias).await?;
            render::print(output, &status, render::status_text(&status));
        }
        None => {
            let statuses = controller.status_all().await?;
            render::print(output, &statuses, render::statuses_text(&statuses));
        }
    }
    Ok(exit::OK)
}

async fn run_decisions(
    controller: &Controller,
    args: RunArgs,
    output: OutputFormat,
) -> Result<u8, CanaryError> {
    let backoff = Backoff::default();
    let mut failures = 0;
    loop {
        let outcomes = match controller.run_all().await {
            Ok(outcomes) => outcomes,
            // Following, a transient failure to list the rollouts is retried, within a bound.
            Err(error) if args.follow && error.is_transient() && failures < backoff.attempts => {
                failures += 1;
                let delay = backoff.delay(failures);
                retrying(&error, delay);
                tokio::time::sleep(delay).await;
                continue;
            }
            Err(error) => return Err(error),
        };
        failures = 0;
        let failed = outcomes.iter().any(|outcome| {
            matches!(
                outcome.action,
                lamina_canary::controller::Action::Failed { .. }
            )
        });
        if args.follow {
            for outcome in &outcomes {
                render::print(output, outcome, render::outcome_text(outcome));
            }
        } else {
            render::print(output, &outcomes, render::outcomes_text(&outcomes));
            return Ok(if failed { exit::AWS } else { exit::OK });
        }
        tokio::time::sleep(args.interval).await;
    }
}
