//! Cases only `udagram serve` has: its signed upload URLs, `/files`, the development issuer, and the
//! process itself (SIGKILL, SIGTERM).

mod dev_issuer;
mod durability;
mod files;
mod shutdown;
mod upload_form;
mod websocket;

use crate::serve::Serve;

macro_rules! serve_cases {
    ($($name:ident => $case:path),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                $case(Serve::start().await).await;
            }
        )*
    };
}

serve_cases!(
    upload_form_forged => upload_form::forged_forms_are_403,
    upload_form_size_and_replay => upload_form::too_large_empty_and_replay,
    upload_refusals_carry_cors => upload_form::upload_refusals_carry_cors,
    files_path_tricks => files::path_tricks,
    dev_issuer_jwks_and_claims => dev_issuer::jwks_and_claims,
    dev_issuer_keys_belong_to_the_data_dir => dev_issuer::keys_belong_to_the_data_dir,
    sigkill_loses_no_acknowledged_write => durability::sigkill_loses_no_acknowledged_write,
    sigkill_loses_no_acknowledged_upload_processing =>
        durability::sigkill_loses_no_acknowledged_upload_processing,
    sigterm_finishes_an_upload_in_flight => shutdown::sigterm_finishes_an_upload_in_flight,
    sigterm_answers_or_refuses_cleanly => shutdown::sigterm_answers_or_refuses_cleanly,
    websocket_connect_needs_a_valid_token => websocket::connect_needs_a_valid_token,
    websocket_every_client_gets_the_ready_notice => websocket::every_client_gets_the_ready_notice,
    websocket_stale_connections_are_removed_when_gone =>
        websocket::stale_connections_are_removed_when_gone,
    websocket_sigterm_closes_sockets_cleanly => websocket::sigterm_closes_sockets_cleanly,
    websocket_closes_when_the_token_expires => websocket::closes_when_the_token_expires,
);
