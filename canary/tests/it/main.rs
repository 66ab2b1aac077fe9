//! lamina-canary's integration tests.

#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod aws_lambda;
mod aws_ssm;
mod bounds;
mod cli;
mod cli_cases;
mod cloudwatch;
mod codedeploy;
mod crash;
mod finish;
mod follow;
mod groups;
mod groups_moto;
mod history;
mod moto_function;
mod promote;
mod race;
mod rollouts;
mod vanished;
