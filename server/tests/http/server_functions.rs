//! Every server function the dashboard registers, found in the registry rather than listed by
//! hand: all but the few that serve signed-out visitors refuse a caller without a session with
//! 401, and do nothing.

use reqwest::StatusCode;

use crate::helpers::*;

/// Every argument name the functions take, filled in, so each call reaches its checks (a
/// missing argument would be refused as unreadable first); extra fields are ignored.
pub const ANY_ARGUMENTS: &[(&str, &str)] = &[
    ("plan_id", "pro"),
    ("key_id", "key_x"),
    ("name", "sneaky"),
    ("grace", "now"),
    ("confirm_name", "Production"),
    ("amount", "1"),
    ("account_id", "acct_x"),
    ("bucket", "reads"),
    ("limit", "1"),
    ("disabled", "true"),
    ("reason", "x"),
    ("query", "acme"),
    ("all_accounts", "false"),
    ("account", ""),
    ("actor", ""),
    ("action", ""),
    ("from", ""),
    ("to", ""),
    ("email", "x@example.com"),
    ("password", "correct horse battery"),
    ("account_name", "x"),
    ("next", "/"),
    ("description", "x"),
    ("price_cents", "1"),
    ("monthly_quota", "1"),
    ("burst_per_second", "1"),
    ("daily_cap", "on"),
    ("current_password", "correct horse battery"),
    ("new_password", "a new horse battery"),
    ("confirm_password", "a new horse battery"),
    ("user_id", "usr_x"),
    ("invitation_id", "inv_x"),
    ("code", "invite_x"),
    ("count", "1"),
    ("tier", "x"),
    ("monthly_cents", "1"),
    ("extra_request_cents", "1"),
    ("free_requests_per_minute", "1"),
];

/// The only functions a signed-out visitor may call.
const PUBLIC: [&str; 5] =
    ["/api/log_in", "/api/sign_up", "/api/join_account", "/api/log_out", "/api/current_viewer"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_other_server_function_needs_a_login() {
    let app = spawn_app().await;
    let paths: Vec<&str> = leptos::server_fn::axum::server_fn_paths().map(|(path, _)| path).collect();
    assert!(paths.len() >= 10, "the registry looks empty: {paths:?}");
    for path in paths.into_iter().filter(|path| !PUBLIC.contains(path)) {
        let response = browser().post(app.url(path)).form(ANY_ARGUMENTS).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{path} answered a signed-out caller");
    }
}
