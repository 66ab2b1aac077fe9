//! The API contract, written once against [`Target`](crate::target::Target).
//!
//! [`contract_suite!`] expands to one `#[tokio::test]` per case, each on a fresh target made by the
//! given async constructor: `contract_suite!(crate::serve::Serve::start)` today, the Lambda
//! handlers under `lamina-local` with moto later.

pub mod auth;
pub mod bad_input;
pub mod groups;
pub mod headers;
pub mod images;
pub mod search;
pub mod uploads;

/// The web client's origin: the targets are configured to allow it, and no other.
pub const CLIENT_ORIGIN: &str = "https://photos.example.com";

/// One test per case on a fresh target from `$start` (an async fn returning a `Target`).
macro_rules! contract_suite {
    ($start:path) => {
        $crate::suite::contract_suite!(@cases $start;
            health => headers::health,
            unknown_routes => headers::unknown_routes_and_methods_are_problems,
            cors => headers::cors,
            cors_other_origins => headers::cors_other_origins_are_not_allowed,
            groups_create => groups::create_returns_the_new_group,
            groups_empty => groups::empty_list,
            groups_user_id_from_token => groups::user_id_comes_from_the_token,
            groups_validation => groups::validation,
            groups_pagination => groups::pagination,
            groups_bad_limits_and_keys => groups::bad_limits_and_keys,
            images_create => images::create_returns_a_pending_image_and_an_upload_url,
            images_newest_first => images::newest_first_and_paginated,
            images_missing_and_malformed_ids => images::missing_and_malformed_ids,
            images_title_validation => images::title_validation,
            search_by_title_words => search::finds_by_title_words,
            search_syntax_is_literal => search::query_syntax_is_literal,
            search_bad_queries => search::bad_queries,
            upload_png_becomes_ready => uploads::png_upload_becomes_ready_with_a_thumbnail,
            upload_every_allowed_type => uploads::every_allowed_type,
            upload_undecodable_stays_pending => uploads::undecodable_upload_stays_pending,
            auth_bad_tokens => auth::bad_tokens_are_401,
            bad_input_malformed_bodies => bad_input::malformed_bodies,
        );
    };
    (@cases $start:path; $($name:ident => $module:ident :: $case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                use $crate::target::Target as _;
                let target = $start().await;
                $crate::suite::$module::$case(&target).await;
                target.stop().await;
            }
        )*
    };
}

pub(crate) use contract_suite;
