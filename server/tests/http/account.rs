//! The Account page: changing one's own password (the current one checked and throttled like
//! a login) and signing out every other browser; both audited.

use reqwest::StatusCode;

use crate::helpers::*;

const NEW_PASSWORD: &str = "a brand new horse";

async fn change_password(app: &TestApp, current: &str, new: &str, confirm: &str) -> reqwest::Response {
    let fields = [("current_password", current), ("new_password", new), ("confirm_password", confirm)];
    app.submit_form("change_password", "/account", &fields).await
}

async fn audited(app: &TestApp, action: &str) -> i64 {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(app.services.db.pool())
        .await
        .unwrap();
    count
}

async fn password_changes_audited(app: &TestApp) -> i64 {
    audited(app, "user.password_change").await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_signs_out_every_other_browser_and_keeps_this_one() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let laptop = app.another_browser("ada@example.com", PASSWORD).await;
    assert_status(&laptop.get(app.url("/keys")).send().await.unwrap(), StatusCode::OK);

    let changed = change_password(&app, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert!(session_cookie(&changed).is_some(), "this browser is signed in again under a new id");
    assert_eq!(
        success_shown(&app.browser, &changed).await,
        "Your password was changed. Every other browser logged in as you has been logged out."
    );

    let laptop_visit = laptop.get(app.url("/keys")).send().await.unwrap();
    assert_redirect(&laptop_visit, "/login?next=/keys");

    app.log_out().await;
    let with_old = app.log_in("ada@example.com", PASSWORD, "/").await;
    assert!(location(&with_old).contains("__err="), "the old password no longer logs in");
    assert_redirect(&app.log_in("ada@example.com", NEW_PASSWORD, "/").await, "/");

    assert_eq!(password_changes_audited(&app).await, 1);
    let (before, after): (Option<String>, Option<String>) = sqlx::query_as(
        "SELECT before_value, after_value FROM audit_log WHERE action = 'user.password_change'",
    )
    .fetch_one(app.services.db.pool())
    .await
    .unwrap();
    assert_eq!((before, after), (None, None), "no password, old or new, in the audit log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_current_password_a_mismatch_or_a_short_one_changes_nothing() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let laptop = app.another_browser("ada@example.com", PASSWORD).await;

    let cases = [
        ("not my password", NEW_PASSWORD, NEW_PASSWORD, "Your current password is not correct."),
        (PASSWORD, NEW_PASSWORD, "a brand new horsE", "The new password and its confirmation do not match."),
        (PASSWORD, "short", "short", "Use a new password of 8 to 128 characters, not only spaces."),
        (PASSWORD, "        ", "        ", "Use a new password of 8 to 128 characters, not only spaces."),
    ];
    for (current, new, confirm, message) in cases {
        let refused = change_password(&app, current, new, confirm).await;
        assert_eq!(error_shown(&app.browser, &refused).await, message);
    }

    assert_eq!(password_changes_audited(&app).await, 0);
    assert_status(&laptop.get(app.url("/keys")).send().await.unwrap(), StatusCode::OK);
    app.log_out().await;
    assert_redirect(&app.log_in("ada@example.com", PASSWORD, "/").await, "/");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_the_current_password_is_throttled_like_a_login() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    // The policy's (account, IP) login bucket: 5 attempts per 15 minutes.
    for _ in 0..5 {
        let refused = change_password(&app, "a guess at it", NEW_PASSWORD, NEW_PASSWORD).await;
        assert_eq!(error_shown(&app.browser, &refused).await, "Your current password is not correct.");
    }
    let throttled = change_password(&app, PASSWORD, NEW_PASSWORD, NEW_PASSWORD).await;
    assert!(error_shown(&app.browser, &throttled).await.starts_with("Too many attempts."));
    assert_eq!(password_changes_audited(&app).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signing_out_everywhere_else_keeps_only_this_browser() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let laptop = app.another_browser("ada@example.com", PASSWORD).await;
    let phone = app.another_browser("ada@example.com", PASSWORD).await;

    let ended = app.submit_form("sign_out_everywhere_else", "/account", &[]).await;
    assert!(session_cookie(&ended).is_some(), "this browser is signed in again under a new id");
    assert_eq!(
        success_shown(&app.browser, &ended).await,
        "Every other browser logged in as you has been logged out."
    );
    assert_status(&app.get("/keys").await, StatusCode::OK);
    for other in [laptop, phone] {
        assert_redirect(&other.get(app.url("/keys")).send().await.unwrap(), "/login?next=/keys");
    }
    assert_eq!(audited(&app, "user.sign_out_everywhere").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_renames_the_account_and_a_blank_name_changes_nothing() {
    let app = spawn_app().await;
    let signed_up = app.sign_up("ada@example.com").await;
    assert_redirect(&signed_up, "/");
    let account_name = || async {
        let user = app.services.accounts.user_by_email("ada@example.com").await.unwrap().unwrap();
        app.services.accounts.account(&user.account_id.unwrap()).await.unwrap().unwrap().name
    };
    assert_eq!(account_name().await, "ada", "named after the email when signing up without one");

    let renamed = app.submit_form("rename_account", "/account", &[("name", "  Analytical Engines  ")]).await;
    assert!(location(&renamed).starts_with(&app.url("/account")) && !location(&renamed).contains("__err="));
    assert_eq!(account_name().await, "Analytical Engines");
    let page = app.get("/account").await.text().await.unwrap();
    assert!(page.contains(r#"value="Analytical Engines""#), "the form shows the new name");

    let blank = app.submit_form("rename_account", "/account", &[("name", "   ")]).await;
    assert_eq!(
        error_shown(&app.browser, &blank).await,
        "Give the account a name of 1 to 100 characters, without tabs, line breaks or other control characters."
    );
    let with_newline =
        app.submit_form("rename_account", "/account", &[("name", "Analytical\nEngines")]).await;
    assert!(location(&with_newline).contains("__err="), "a line break is refused");
    assert_eq!(account_name().await, "Analytical Engines");
    let (before, after): (Option<String>, Option<String>) =
        sqlx::query_as("SELECT before_value, after_value FROM audit_log WHERE action = 'account.rename'")
            .fetch_one(app.services.db.pool())
            .await
            .unwrap();
    assert_eq!((before.as_deref(), after.as_deref()), (Some("ada"), Some("Analytical Engines")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_sent_without_javascript_says_it_worked_on_the_page_it_returns_to() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let page = app.get("/account").await.text().await.unwrap();
    assert!(!page.contains("alert-success"), "nothing is said before anything is done");

    let renamed = app.submit_form("rename_account", "/account", &[("name", "Analytical Engines")]).await;
    assert_eq!(location(&renamed), app.url("/account?__ok=%2Fapi%2Frename_account"));
    assert_eq!(success_shown(&app.browser, &renamed).await, "Saved.");

    // Sent again from the marked page and refused: the error replaces the earlier success.
    let marked_page = location(&renamed).trim_start_matches(&app.address).to_owned();
    let blank = app.submit_form("rename_account", &marked_page, &[("name", " ")]).await;
    assert!(!location(&blank).contains("__ok="), "{}", location(&blank));
    let page = app.browser.get(location(&blank)).send().await.unwrap().text().await.unwrap();
    assert!(page.contains(r#"role="alert""#) && !page.contains("alert-success"), "only the error is shown");

    // A success marks only its own form: the key page's rename form says nothing of the account.
    let user = app.services.accounts.user_by_email("ada@example.com").await.unwrap().unwrap();
    let key_id = app.services.keys.create(&user, "CI", None, Default::default()).await.unwrap().key.id;
    let renamed_key =
        app.submit_form("rename_key", "/keys", &[("key_id", key_id.as_str()), ("name", "Deploys")]).await;
    assert_eq!(success_shown(&app.browser, &renamed_key).await, "Key renamed.");
    let page = app.browser.get(location(&renamed_key)).send().await.unwrap().text().await.unwrap();
    assert_eq!(page.matches("alert-success").count(), 1, "the restrict form stays silent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_from_before_records_named_their_user_are_named_at_start() {
    let mut first = spawn_app().await;
    first.sign_up("ada@example.com").await;
    // As a record written before migration 0008 would be.
    sqlx::query("UPDATE sessions SET user_id = NULL").execute(first.services.db.pool()).await.unwrap();
    first.shut_down().await;

    let restarted = spawn_app_on(first.database_url.clone(), |_| {}).await;
    let ada = restarted.services.accounts.user_by_email("ada@example.com").await.unwrap().unwrap();
    let named: Vec<(Option<String>,)> =
        sqlx::query_as("SELECT user_id FROM sessions").fetch_all(restarted.services.db.pool()).await.unwrap();
    assert_eq!(named, [(Some(ada.id),)], "so a password change would end that session too");
}
