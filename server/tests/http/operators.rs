//! Operator users, created with the binary's `create-operator` subcommand, and `set-password`
//! for anyone locked out.

use std::io::Write;
use std::process::{Command, Stdio};

use reqwest::StatusCode;

use crate::helpers::*;

/// Runs the keystile binary against the test's database, with `password` on standard input
/// (never in the arguments).
fn keystile(app: &TestApp, args: &[&str], password: &str) -> std::process::Output {
    keystile_logging(app, args, password, "warn")
}

/// [`keystile`] with the log at `level`.
fn keystile_logging(app: &TestApp, args: &[&str], password: &str, level: &str) -> std::process::Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keystile"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("RUST_LOG", level)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run the keystile binary");
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    child.wait_with_output().unwrap()
}

fn create_operator(app: &TestApp, email: &str, role: &str, password: &str) -> std::process::Output {
    keystile(app, &["create-operator", "--email", email, "--role", role], password)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_is_plain_text_when_it_is_not_written_to_a_terminal() {
    let app = spawn_app().await;
    let args = ["create-operator", "--email", "ops@example.com", "--role", "support"];
    let output = keystile_logging(&app, &args, "operator password", "debug");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let log = String::from_utf8_lossy(&output.stdout);
    assert!(log.contains("DEBUG"), "the log is there: {log}");
    assert!(!log.contains('\u{1b}'), "no terminal colour codes in a log file: {log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_created_on_the_command_line_can_log_in_and_sees_the_operator_section() {
    let app = spawn_app().await;
    let output = create_operator(&app, "ops@example.com", "admin", "operator password");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("Created admin user ops@example.com"));

    // Staff have no account of their own: they land on the console, whose navigation has no
    // customer pages.
    assert_redirect(&app.log_in("ops@example.com", "operator password", "/").await, "/admin");
    let console = app.get("/admin").await;
    assert_status(&console, StatusCode::OK);
    let page = console.text().await.unwrap();
    assert!(page.contains(r#"href="/admin""#), "operators see the Admin link");
    assert!(!page.contains(r#"href="/keys""#), "an operator has no keys page of their own");
    // An account's pages, opened by address, lead back to the console; their own settings stay.
    for path in ["/", "/keys", "/usage", "/billing", "/plan", "/team", "/audit"] {
        assert_redirect(&app.get(path).await, "/admin");
    }
    assert_status(&app.get("/account").await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_do_not_see_the_operator_section() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let page = app.get("/").await.text().await.unwrap();
    assert!(!page.contains(r#"href="/admin""#));
    assert!(page.contains(r#"href="/keys""#));
    // The console's pages tell them they are not for them, instead of showing its forms.
    for path in ["/admin", "/admin/audit", "/admin/plans", "/admin/limits", "/admin/accounts/acct_x"] {
        let response = app.get(path).await;
        assert_status(&response, StatusCode::FORBIDDEN);
        let page = response.text().await.unwrap();
        assert!(page.contains("Not for your role"), "{path}: {page}");
        assert!(!page.contains("You don't have access"), "no console parts refusing one by one: {path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_weak_operator_password_is_refused_and_nothing_is_created() {
    let app = spawn_app().await;
    let output = create_operator(&app, "ops@example.com", "support", "short");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("8 to 128 characters"));
    assert!(location(&app.log_in("ops@example.com", "short", "/").await).contains("__err="));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_password_lets_a_locked_out_customer_back_in_and_ends_their_sessions() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let output = keystile(&app, &["set-password", "--email", "ADA@example.com"], "handed over in person");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("Set a new password for ada@example.com"));

    assert_redirect(&app.get("/keys").await, "/login?next=/keys");
    assert!(location(&app.log_in("ada@example.com", PASSWORD, "/").await).contains("__err="));
    assert_redirect(&app.log_in("ada@example.com", "handed over in person", "/").await, "/");
    let (reason,): (Option<String>,) =
        sqlx::query_as("SELECT reason FROM audit_log WHERE action = 'user.password_change'")
            .fetch_one(app.services.db.pool())
            .await
            .unwrap();
    assert_eq!(reason.as_deref(), Some("set with `keystile set-password`"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_password_refuses_an_unknown_email_and_a_weak_password() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let unknown = keystile(&app, &["set-password", "--email", "nobody@example.com"], "a fine password");
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("there is no user nobody@example.com"));
    let weak = keystile(&app, &["set-password", "--email", "ada@example.com"], "short");
    assert!(!weak.status.success());
    assert!(String::from_utf8_lossy(&weak.stderr).contains("8 to 128 characters"));
    assert_status(&app.get("/keys").await, StatusCode::OK);
    assert_redirect(&app.log_in("ada@example.com", PASSWORD, "/").await, "/");
}
