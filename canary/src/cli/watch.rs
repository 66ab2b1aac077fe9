//! `canary status --watch`: a live display on a terminal, a line per change elsewhere.

use std::{
    io::{IsTerminal as _, Write as _},
    time::{Duration, SystemTime},
};

use lamina_canary::{
    controller::{CanaryError, Controller, RolloutStatus},
    state::Phase,
};

use super::{OutputFormat, exit, render};

/// Shows the rollouts (one, or all when `target` is `None`) every `interval` until interrupted,
/// or, for one rollout, until it ends: exit 0 when it succeeded, 1 when it rolled back.
pub(super) async fn watch(
    controller: &Controller,
    target: Option<(String, String)>,
    output: OutputFormat,
    interval: Duration,
) -> Result<u8, CanaryError> {
    let live = output == OutputFormat::Text && std::io::stdout().is_terminal();
    let mut last_shown = String::new();
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        let statuses = match &target {
            Some((function, alias)) => vec![controller.status(function, alias).await?],
            None => controller.status_all().await?,
        };
        let now = SystemTime::now();
        let text = statuses
            .iter()
            .map(|status| render::status_text_at(status, now))
            .collect::<Vec<_>>()
            .join("\n");
        if live {
            // Clear the screen, home the cursor, redraw.
            print!(
                "\x1b[2J\x1b[H{text}\nrefreshing every {}s; Ctrl-C to stop\n",
                interval.as_secs()
            );
            let _ = std::io::stdout().flush();
        } else if text_without_countdown(&statuses) != last_shown {
            last_shown = text_without_countdown(&statuses);
            match output {
                OutputFormat::Json => render::print_json(&statuses),
                OutputFormat::Text => print!("{text}"),
            }
        }
        if let (Some(_), [status]) = (&target, statuses.as_slice()) {
            match status.phase {
                Phase::Succeeded => return Ok(exit::OK),
                Phase::RolledBack => return Ok(exit::ROLLED_BACK),
                Phase::PreHook | Phase::Shifting | Phase::Paused | Phase::PostHook => {}
            }
        }
        tokio::select! {
            _ = &mut interrupted => return Ok(exit::OK),
            () = tokio::time::sleep(interval) => {}
        }
    }
}

/// What counts as a change: everything but the seconds left to the next step.
fn text_without_countdown(statuses: &[RolloutStatus]) -> String {
    statuses
        .iter()
        .map(|status| serde_json::to_string(status).unwrap_or_default())
        .collect()
}
