//! Progressive delivery for AWS Lambda aliases.
//!
//! `lamina-canary` shifts an alias's traffic from a stable version to a new one step by step,
//! checks health gates at each step, and promotes or rolls back. The `canary` CLI drives it;
//! the library is the same controller, for a scheduled Lambda function or your own tooling.
//!
//! - [`strategy`]: the CodeDeploy presets and custom step lists;
//! - [`gate`]: per-version Lambda metrics, custom metrics, alarms, manual gates, and the
//!   canary-against-stable comparison ([`stats`]);
//! - [`controller`]: `deploy`, `run`, `promote`, `abort` and `status`, each transition one
//!   conditional alias write ([`state`] keeps the live state in the alias's description,
//!   [`record`] the rollout's plan beside it), decided by the pure functions of [`decision`];
//! - [`ports`]: what the controller needs from AWS, implemented on the AWS SDK in [`aws`] and
//!   in memory (enforcing what AWS enforces) in [`memory`];
//! - [`codedeploy`]: the same plan as a CodeDeploy deployment.
//!
//! What `canary run` does, as a function an EventBridge schedule can trigger:
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use lamina_canary::{
//!     aws::AwsBackends,
//!     clock::SystemClock,
//!     controller::{Controller, Ports},
//! };
//!
//! # async fn example() {
//! let sdk_config = aws_config::load_from_env().await;
//! let aws = AwsBackends::new(&sdk_config);
//! let controller = Controller::new(Ports {
//!     aliases: Arc::new(aws.aliases),
//!     records: Arc::new(aws.records),
//!     metrics: Arc::new(aws.metrics),
//!     hooks: Arc::new(aws.hooks),
//!     clock: Arc::new(SystemClock),
//! });
//! for outcome in controller.run_all().await.unwrap_or_default() {
//!     println!("{}:{} {:?}", outcome.function, outcome.alias, outcome.action);
//! }
//! # }
//! ```

pub mod aws;
pub mod clock;
pub mod codedeploy;
pub mod controller;
pub mod decision;
pub mod gate;
pub mod group;
pub mod memory;
pub mod outcome;
pub mod ports;
pub mod record;
pub mod state;
pub mod stats;
pub mod strategy;
