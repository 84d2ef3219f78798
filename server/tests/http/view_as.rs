//! Support view-as over HTTP: every server function is classified read-only or refused, every
//! refused one and every mutating route answers 403 with the database unchanged, and the
//! customer's audit log records the view.

use reqwest::StatusCode;
use serde_json::Value;
use services::accounts::Role;

use crate::admin::{audit_log, call, customer, operator};
use crate::helpers::*;

/// Everything a view-as could change, as text: compared before and after.
async fn snapshot(app: &TestApp) -> String {
    let mut out = String::new();
    for (table, order) in [
        ("accounts", "id"),
        ("users", "id"),
        ("api_keys", "id"),
        ("account_overrides", "account_id, bucket"),
        ("audit_log", "id"),
        ("idempotency_records", "1"),
        ("invitations", "id"),
    ] {
        let sql = format!("SELECT * FROM {table} ORDER BY {order}");
        let rows = sqlx::query(&sql).fetch_all(app.services.db.pool()).await.unwrap_or_default();
        out.push_str(&format!("{table}: {} rows\n", rows.len()));
        for row in rows {
            use sqlx::Row;
            let values: Vec<String> = (0..row.len())
                .map(|i| {
                    row.try_get::<Option<String>, _>(i)
                        .map(|v| format!("{v:?}"))
                        .or_else(|_| row.try_get::<Option<i64>, _>(i).map(|v| format!("{v:?}")))
                        .unwrap_or_default()
                })
                .collect();
            out.push_str(&values.join("|"));
            out.push('\n');
        }
    }
    out
}

/// The session id a response sets.
fn session_id(response: &reqwest::Response) -> String {
    let cookie = session_cookie(response).expect("the response sets the session cookie");
    cookie.split(';').next().unwrap_or_default().to_owned()
}

async fn start_view_as(app: &TestApp, account_id: &str, reason: &str) -> reqwest::Response {
    call(app, "start_view_as", &[("account_id", account_id), ("reason", reason)]).await
}

#[test]
fn every_server_function_is_classified_for_view_as() {
    use app::view_as::{READ_ONLY_FUNCTIONS, REFUSED_FUNCTIONS};
    let registered: Vec<&str> = leptos::server_fn::axum::server_fn_paths()
        .map(|(path, _)| path.trim_start_matches("/api/"))
        .collect();
    assert!(registered.len() >= 20, "{registered:?}");
    for function in &registered {
        let read_only = READ_ONLY_FUNCTIONS.contains(function);
        let refused = REFUSED_FUNCTIONS.contains(function);
        assert!(read_only != refused, "{function} must be in exactly one of the view-as lists");
    }
    for listed in READ_ONLY_FUNCTIONS.iter().chain(REFUSED_FUNCTIONS) {
        assert!(registered.contains(listed), "{listed} is listed but not a server function");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_view_as_every_mutation_is_refused_and_nothing_changes() {
    let app = spawn_app().await;
    let (owner, key_id, _) = customer(&app, "owner@acme.example").await;
    let account_id = owner.account_id.clone().unwrap();
    operator(&app, "support@keystile.example", Role::Support).await;
    let before_cookie = app.get("/admin").await;
    assert_status(&before_cookie, StatusCode::OK);

    let started = start_view_as(&app, &account_id, "ticket 42: quota question").await;
    assert!(started.status().is_success() || started.status().is_redirection(), "{}", started.status());
    assert!(session_cookie(&started).is_some(), "the session id is cycled when view-as starts");

    // Reads work, as the customer sees them.
    let overview: Value = call(&app, "load_overview", &[("key_id", "")]).await.json().await.unwrap();
    assert_eq!(overview["keys"][0][0], key_id.as_str());
    let keys: Value = app.get("/v1/keys").await.json().await.unwrap();
    assert_eq!(keys[0]["id"], key_id.as_str(), "the JSON key list reads as the Keys page does");
    let export = app.get("/usage/export.csv?what=keys").await;
    assert_status(&export, StatusCode::OK);
    let team: Value = call(&app, "load_team", &[]).await.json().await.unwrap();
    assert_eq!(team["members"][0]["email"], "owner@acme.example");
    assert_eq!(team["can_manage"], false, "the team is shown, its controls are not");
    let page = app.get("/keys").await.text().await.unwrap();
    assert!(page.contains("Viewing Acme Corp as its owner sees it"), "the banner");
    assert!(page.contains("ticket 42: quota question") && page.contains("support@keystile.example"));

    let before = snapshot(&app).await;
    // This account's real ids, so each call would act on it if it were let through.
    let mut fields = crate::server_functions::ANY_ARGUMENTS.to_vec();
    fields.retain(|(name, _)| !["account_id", "key_id"].contains(name));
    fields.extend([("account_id", account_id.as_str()), ("key_id", key_id.as_str())]);
    for function in app::view_as::REFUSED_FUNCTIONS {
        let response = call(&app, function, &fields).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{function} ran during a view-as");
    }
    for (method, path) in [
        (reqwest::Method::POST, "/v1/keys".to_owned()),
        (reqwest::Method::POST, format!("/v1/keys/{key_id}/rotate")),
        (reqwest::Method::DELETE, format!("/v1/keys/{key_id}")),
    ] {
        let response = app
            .browser
            .request(method.clone(), app.url(&path))
            .header("origin", &app.address)
            .header("sec-fetch-site", "same-origin")
            .json(&serde_json::json!({"name": "sneaky", "grace_seconds": 0}))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{method} {path} during a view-as");
    }
    assert_eq!(snapshot(&app).await, before, "the database changed during a view-as");
}

/// The console's account page refreshes every second; a refresh sent with the id that starting
/// the view-as has just replaced must not sign support out when it answers last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refresh_sent_before_the_view_as_began_does_not_sign_support_out() {
    let app = spawn_app().await;
    let (owner, _, _) = customer(&app, "owner@acme.example").await;
    let account_id = owner.account_id.clone().unwrap();
    operator(&app, "support@keystile.example", Role::Support).await;
    let before = session_id(&app.log_in("support@keystile.example", PASSWORD, "/admin").await);

    let started = start_view_as(&app, &account_id, "ticket 7").await;
    assert_ne!(session_id(&started), before, "the id is cycled");
    let refresh = app.call(&sending_cookie(&before), "admin_overview", &[("account_id", &account_id)]).await;
    assert_eq!(session_cookie(&refresh), None, "the refresh leaves the new cookie alone");
    let page = app.get("/keys").await.text().await.unwrap();
    assert!(page.contains("Viewing Acme Corp as its owner sees it"), "still viewing as");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_as_needs_a_reason_cannot_nest_and_is_in_the_customers_audit_log() {
    let app = spawn_app().await;
    let (owner, _, _) = customer(&app, "owner@acme.example").await;
    let account_id = owner.account_id.clone().unwrap();
    operator(&app, "admin@keystile.example", Role::Admin).await;

    assert_status(&start_view_as(&app, &account_id, "  ").await, StatusCode::UNPROCESSABLE_ENTITY);
    let unknown = start_view_as(&app, "acct_nonexistent", "checking").await;
    assert_status(&unknown, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.text().await.unwrap().contains("There is no such account."));
    let started = start_view_as(&app, &account_id, "checking the gauges").await;
    assert_status(&start_view_as(&app, &account_id, "again").await, StatusCode::FORBIDDEN);
    for page in ["/usage", "/usage", "/keys"] {
        app.browser.get(app.url(page)).header("accept", "text/html").send().await.unwrap();
    }
    // A page fetched without asking for HTML (curl's default) is a page seen all the same; so
    // is the Team page's data, loaded when it is reached by a link inside the app.
    app.browser.get(app.url("/billing")).send().await.unwrap();
    assert_status(&call(&app, "load_team", &[]).await, StatusCode::OK);
    let stopped = call(&app, "stop_view_as", &[]).await;
    assert!(stopped.status().is_success() || stopped.status().is_redirection());
    assert_ne!(session_id(&stopped), session_id(&started), "the session id is cycled when view-as stops");
    let after: Value = call(&app, "load_account", &[("account_id", &account_id)]).await.json().await.unwrap();
    assert_eq!(after["id"], account_id.as_str(), "operator functions work again after the exit");

    app.log_out().await;
    app.log_in("owner@acme.example", PASSWORD, "/").await;
    let log = audit_log(&app, false, "", "view_as.").await;
    let mut seen: Vec<(String, String)> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["target"].as_str().unwrap_or("").to_owned()))
        .collect();
    seen.sort();
    let expected = [
        ("view_as.end", ""),
        ("view_as.page", "/billing"),
        ("view_as.page", "/keys"),
        ("view_as.page", "/team"),
        ("view_as.page", "/usage"),
        ("view_as.start", ""),
    ];
    assert_eq!(seen, expected.map(|(a, t)| (a.to_owned(), t.to_owned())), "{log}");
    assert!(log.to_string().contains("checking the gauges"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_view_as_ends_by_itself_when_its_time_is_up() {
    let app = spawn_app_with(|settings| settings.view_as_minutes = 5).await;
    let (owner, _, _) = customer(&app, "owner@acme.example").await;
    let account_id = owner.account_id.clone().unwrap();
    operator(&app, "support@keystile.example", Role::Support).await;
    let started = start_view_as(&app, &account_id, "a quick look").await;
    assert!(app.get("/").await.text().await.unwrap().contains("ends in 5 min"));

    app.clock.advance(chrono::Duration::minutes(6));
    let page = app.get("/admin").await;
    assert_status(&page, StatusCode::OK);
    assert_ne!(session_id(&page), session_id(&started), "the session id is cycled when the view ends");
    assert!(!page.text().await.unwrap().contains("Viewing Acme Corp"));
    let log = services::audit::for_account(&app.services.db, &account_id, 10).await.unwrap();
    let end = log.iter().find(|entry| entry.action == "view_as.end").expect("the end is audited");
    assert_eq!(end.reason.as_deref(), Some("time ran out"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_out_during_a_view_as_ends_it_and_says_so() {
    let app = spawn_app().await;
    let (owner, _, _) = customer(&app, "owner@acme.example").await;
    let account_id = owner.account_id.clone().unwrap();
    operator(&app, "support@keystile.example", Role::Support).await;
    start_view_as(&app, &account_id, "a quick look").await;
    // The console is out of reach during the view; its page says so and offers the way out.
    let console = app.browser.get(app.url("/admin")).header("accept", "text/html").send().await.unwrap();
    assert_status(&console, StatusCode::FORBIDDEN);
    assert!(console.text().await.unwrap().contains(r#"<form method="post" action="/api/stop_view_as">"#));

    let logged_out = app.log_out().await;
    assert!(
        logged_out.status().is_redirection() || logged_out.status().is_success(),
        "{}",
        logged_out.status()
    );
    let page = app.get("/keys").await;
    assert!(page.status().is_redirection(), "{}", page.status());
    assert!(page.headers()["location"].to_str().unwrap().starts_with("/login"), "signed out");
    let log = services::audit::for_account(&app.services.db, &account_id, 10).await.unwrap();
    let end = log.iter().find(|entry| entry.action == "view_as.end").expect("the end is audited");
    assert_eq!(end.reason.as_deref(), Some("logged out"));
    assert_eq!(end.actor_email, "support@keystile.example");
}
