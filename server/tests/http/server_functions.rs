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
    ("access", "full"),
    ("allowed_ips", "203.0.113.0/24"),
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

/// Values no form would send: empty, a NUL, far too long, out of range, broken escapes.
fn garbage() -> Vec<String> {
    vec![
        String::new(),
        "\0".to_owned(),
        // Long, yet the whole form stays under the 64 KiB body limit.
        "x".repeat(1_000),
        "-1".to_owned(),
        "99999999999999999999999999".to_owned(),
        "%zz%".to_owned(),
        "🦀\u{202e}".to_owned(),
    ]
}

/// Functions that end the caller's session, left out so the rest run signed in.
const ENDS_THE_SESSION: [&str; 2] = ["/api/log_out", "/api/sign_out_everywhere_else"];

/// Calls every server function with every field set to each garbage value, then with a body
/// that is not a form at all; none may answer 5xx.
async fn no_function_fails_on_garbage(app: &TestApp) {
    let paths: Vec<&str> = leptos::server_fn::axum::server_fn_paths().map(|(path, _)| path).collect();
    for path in paths.into_iter().filter(|path| !ENDS_THE_SESSION.contains(path)) {
        for value in garbage() {
            let fields: Vec<(&str, &str)> =
                ANY_ARGUMENTS.iter().map(|(name, _)| (*name, value.as_str())).collect();
            let response = app.browser.post(app.url(path)).form(&fields).send().await.unwrap();
            assert!(response.status().as_u16() < 500, "{path} with {:.20?}: {}", value, response.status());
        }
        let json = app
            .browser
            .post(app.url(path))
            .header("content-type", "application/json")
            .body("{\"unterminated")
            .send()
            .await
            .unwrap();
        assert!(json.status().as_u16() < 500, "{path} with broken JSON: {}", json.status());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_server_function_answers_5xx_to_garbage_from_a_customer_or_an_admin() {
    let app = spawn_app().await;
    app.sign_up("owner@acme.example").await;
    no_function_fails_on_garbage(&app).await;
    app.log_out().await;
    crate::admin::operator(&app, "admin@keystile.example", services::accounts::Role::Admin).await;
    no_function_fails_on_garbage(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_nul_character_anywhere_in_a_dashboard_request_is_a_clear_400() {
    let app = spawn_app().await;
    crate::admin::operator(&app, "admin@keystile.example", services::accounts::Role::Admin).await;
    for path in ["/admin?q=%00", "/admin/accounts/acct%00", "/admin/audit?actor=%00", "/usage?key=%00"] {
        let response = app.get(path).await;
        assert_status(&response, StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()["content-type"], "application/problem+json", "{path}");
    }
    let fields = [("query", "a\0b")];
    assert_status(&app.call(&app.browser, "search_accounts", &fields).await, StatusCode::BAD_REQUEST);
    let json = app
        .browser
        .post(app.url("/v1/keys"))
        .headers(app.form_headers("/keys"))
        .header("content-type", "application/json")
        .body(r#"{"name":"a\u0000"}"#)
        .send()
        .await
        .unwrap();
    assert_status(&json, StatusCode::BAD_REQUEST);
    assert!(json.headers().contains_key("x-request-id"));
    // Text that only looks like an escape passes.
    let fields = [("query", "100%00 sure")];
    assert_status(&app.call(&app.browser, "search_accounts", &fields).await, StatusCode::OK);
    app.log_out().await;
    app.sign_up("ada@example.com").await;
    for name in [r#"batch %007"#, r#"C:\\u0000x"#] {
        let json = app
            .browser
            .post(app.url("/v1/keys"))
            .headers(app.form_headers("/keys"))
            .header("content-type", "application/json")
            .body(format!(r#"{{"name":"{name}"}}"#))
            .send()
            .await
            .unwrap();
        assert_status(&json, StatusCode::CREATED);
    }
}
