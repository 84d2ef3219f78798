//! The operator console over HTTP: admins change accounts (audited, applied by the gateway at
//! the next request), support staff only read, customers get 403.

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::Value;
use services::accounts::{Role, User};

use crate::helpers::*;

/// An operator of `role`, signed in in the app's browser.
pub async fn operator(app: &TestApp, email: &str, role: Role) -> User {
    let user = app.services.accounts.create_operator(email, PASSWORD.into(), role).await.unwrap();
    let response = app.log_in(email, PASSWORD, "/admin").await;
    assert!(response.status().is_redirection(), "operator log in: {}", response.status());
    user
}

/// A customer with a key: (owner, key id, secret).
pub async fn customer(app: &TestApp, email: &str) -> (User, String, String) {
    let owner = app.services.accounts.sign_up(email, PASSWORD.into(), "Acme Corp").await.unwrap();
    let key = app.services.keys.create(&owner, "Production", None, Default::default()).await.unwrap();
    (owner, key.key.id, key.secret.expose_secret().to_owned())
}

pub async fn call(app: &TestApp, function: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    app.call(&app.browser, function, fields).await
}

/// The audit log page's entries (`all_accounts` for operators), filtered by actor and action.
pub async fn audit_log(app: &TestApp, all_accounts: bool, actor: &str, action: &str) -> Value {
    let fields = [
        ("all_accounts", if all_accounts { "true" } else { "false" }),
        ("account", ""),
        ("actor", actor),
        ("action", action),
        ("from", ""),
        ("to", ""),
    ];
    call(app, "list_audit", &fields).await.json().await.unwrap()
}

/// A node of a multi-node deployment: the Redis every node shares, behind a trusted proxy on
/// loopback (see `TestApp::form_headers`).
pub fn shared_redis(settings: &mut server::settings::Settings) {
    settings.redis_url = Some("redis://127.0.0.1:6379".into());
    settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
}

pub async fn reads(app: &TestApp, secret: &str) -> StatusCode {
    browser().get(app.url("/v1/snapshots/s1")).bearer_auth(secret).send().await.unwrap().status()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_and_support_staff_get_403_from_admin_changes() {
    let app = spawn_app().await;
    let (owner, key_id, secret) = customer(&app, "owner@acme.example").await;
    let account_id = owner.account_id.clone().unwrap();
    let changes: [(&str, Vec<(&str, &str)>); 5] = [
        ("admin_change_plan", vec![("account_id", &account_id), ("plan_id", "pro")]),
        ("set_override", vec![("account_id", &account_id), ("bucket", "reads"), ("limit", "5")]),
        ("reset_bucket", vec![("account_id", &account_id), ("bucket", "monthly"), ("confirm", "yes")]),
        (
            "set_account_disabled",
            vec![
                ("account_id", &account_id),
                ("disabled", "true"),
                ("reason", "x"),
                ("confirm_name", "Acme Corp"),
            ],
        ),
        (
            "admin_set_key_disabled",
            vec![("account_id", &account_id), ("key_id", &key_id), ("disabled", "true"), ("reason", "x")],
        ),
    ];

    app.log_in("owner@acme.example", PASSWORD, "/").await;
    for (function, fields) in &changes {
        assert_status(&call(&app, function, fields).await, StatusCode::FORBIDDEN);
    }
    assert_status(&call(&app, "search_accounts", &[("query", "acme")]).await, StatusCode::FORBIDDEN);
    for function in ["load_account", "admin_overview"] {
        assert_status(&call(&app, function, &[("account_id", &account_id)]).await, StatusCode::FORBIDDEN);
    }
    app.log_out().await;

    operator(&app, "support@keystile.example", Role::Support).await;
    for (function, fields) in &changes {
        assert_status(&call(&app, function, fields).await, StatusCode::FORBIDDEN);
    }
    let found: Value = call(&app, "search_accounts", &[("query", "acme")]).await.json().await.unwrap();
    assert_eq!(found["accounts"][0]["id"], account_id.as_str(), "support can search");
    assert_eq!(found["accounts"][0]["plan"], "Starter", "the plan by its name");
    let gauges: Value =
        call(&app, "admin_overview", &[("account_id", &account_id)]).await.json().await.unwrap();
    assert_eq!(gauges["plan_name"], "Starter", "support can read the account's gauges");
    let account = app.services.accounts.account(&account_id).await.unwrap().unwrap();
    assert_eq!((account.plan_id.as_str(), account.disabled_at), ("starter", None), "nothing changed");
    assert_ne!(reads(&app, &secret).await, StatusCode::UNAUTHORIZED, "the key still works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_found_by_email_name_or_key_start() {
    let app = spawn_app().await;
    let (owner, _, secret) = customer(&app, "dev@initech.example").await;
    app.clock.advance(chrono::Duration::seconds(1));
    let (newer, _, _) = customer(&app, "someone@else.example").await;
    operator(&app, "admin@keystile.example", Role::Admin).await;
    for query in ["INITECH", "dev@", &secret[..9]] {
        let found: Value = call(&app, "search_accounts", &[("query", query)]).await.json().await.unwrap();
        let ids: Vec<&str> =
            found["accounts"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
        assert_eq!(ids, vec![owner.account_id.as_deref().unwrap()], "{query}");
    }
    let none: Value = call(&app, "search_accounts", &[("query", "%")]).await.json().await.unwrap();
    assert_eq!(
        none,
        serde_json::json!({ "accounts": [], "more": false }),
        "LIKE wildcards are taken literally"
    );

    // Longer than anything it could match: refused plainly (SQLite would fail on 50,000).
    let long = "a".repeat(60_000);
    let refused = call(&app, "search_accounts", &[("query", &long)]).await;
    assert_status(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("Search for at most 254 characters."));
    for (actor, action) in [(long.as_str(), ""), ("", long.as_str())] {
        let fields = [
            ("all_accounts", "true"),
            ("account", ""),
            ("actor", actor),
            ("action", action),
            ("from", ""),
            ("to", ""),
        ];
        let refused = call(&app, "list_audit", &fields).await;
        assert_status(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    }

    // No query: the newest accounts, newest first, on the console's front page too.
    let newest: Value = call(&app, "search_accounts", &[("query", " ")]).await.json().await.unwrap();
    let ids: Vec<&str> =
        newest["accounts"].as_array().unwrap().iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [newer.account_id.as_deref().unwrap(), owner.account_id.as_deref().unwrap()]);
    assert_eq!(newest["more"], false);
    let page = app.get("/admin").await.text().await.unwrap();
    assert!(page.contains("Newest accounts"), "{page}");
    assert!(page.contains("dev@initech.example") && page.contains("someone@else.example"));
    assert!(!page.contains("there are more"));

    // Past fifty, the list says it shows only the first fifty, rather than leaving some out unsaid.
    for n in 0..50 {
        let email = format!("bulk{n}@initech.example");
        app.services.accounts.sign_up(&email, secrecy::SecretString::from(PASSWORD), "").await.unwrap();
    }
    let many: Value = call(&app, "search_accounts", &[("query", "initech")]).await.json().await.unwrap();
    assert_eq!((many["accounts"].as_array().unwrap().len(), &many["more"]), (50, &Value::Bool(true)));
    let page = app.get("/admin?q=initech").await.text().await.unwrap();
    assert!(page.contains("Showing the first 50: there are more."), "{page}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admins_changes_apply_at_the_next_request_and_are_audited() {
    let app = spawn_app().await;
    let (owner, _, secret) = customer(&app, "owner@acme.example").await;
    let account_id = owner.account_id.clone().unwrap();
    operator(&app, "admin@keystile.example", Role::Admin).await;

    assert_status(
        &call(&app, "admin_change_plan", &[("account_id", &account_id), ("plan_id", "pro")]).await,
        StatusCode::OK,
    );
    assert_eq!(app.services.accounts.account(&account_id).await.unwrap().unwrap().plan_id, "pro");
    // Choosing the plan it is on changes nothing, so the audit log gains nothing.
    let same = call(&app, "admin_change_plan", &[("account_id", &account_id), ("plan_id", "pro")]).await;
    assert_status(&same, StatusCode::OK);
    let changes = audit_log(&app, true, "admin@keystile.example", "plan.change").await;
    assert_eq!(changes.as_array().unwrap().len(), 1, "{changes}");

    // An override of the reads bucket: the gateway admits two, then refuses.
    let set =
        call(&app, "set_override", &[("account_id", &account_id), ("bucket", "reads"), ("limit", "2")]).await;
    assert_status(&set, StatusCode::OK);
    assert_ne!(reads(&app, &secret).await, StatusCode::TOO_MANY_REQUESTS);
    assert_ne!(reads(&app, &secret).await, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(reads(&app, &secret).await, StatusCode::TOO_MANY_REQUESTS);
    let bad =
        call(&app, "set_override", &[("account_id", &account_id), ("bucket", "reads"), ("limit", "lots")])
            .await;
    assert_status(&bad, StatusCode::UNPROCESSABLE_ENTITY);
    // A burst of 0 would refuse every call (and fail every gauge); beyond 2^50 the limiter cannot
    // count exactly. Both are refused, and the reads override stays.
    for (bucket, limit) in [("burst", "0"), ("monthly", "0"), ("reads", "18446744073709551615")] {
        let fields = [("account_id", account_id.as_str()), ("bucket", bucket), ("limit", limit)];
        let refused = call(&app, "set_override", &fields).await;
        assert_status(&refused, StatusCode::UNPROCESSABLE_ENTITY);
        let message = refused.text().await.unwrap();
        assert!(message.contains("an override must be at"), "{message}");
    }
    assert_eq!(app.services.accounts.overrides(&account_id).await.unwrap().get("reads"), Some(2));
    assert_eq!(app.services.accounts.overrides(&account_id).await.unwrap().get("burst"), None);

    // Resetting the key's reads counter lets it through again.
    let key_id = app.services.keys.list(&account_id).await.unwrap()[0].id.clone();
    let reads_of_key = [("account_id", account_id.as_str()), ("bucket", "reads"), ("key_id", &key_id)];
    let unconfirmed = call(&app, "reset_bucket", &reads_of_key).await;
    assert_status(&unconfirmed, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unconfirmed.text().await.unwrap().contains("Start it from zero now"));
    assert_eq!(reads(&app, &secret).await, StatusCode::TOO_MANY_REQUESTS, "nothing was reset");
    let reset = call(&app, "reset_bucket", &[reads_of_key.as_slice(), &[("confirm", "yes")]].concat()).await;
    assert_status(&reset, StatusCode::OK);
    assert_ne!(reads(&app, &secret).await, StatusCode::TOO_MANY_REQUESTS);

    // Disabling needs the name typed; then every key is refused.
    let unconfirmed = call(
        &app,
        "set_account_disabled",
        &[("account_id", &account_id), ("disabled", "true"), ("reason", "fraud"), ("confirm_name", "acme")],
    )
    .await;
    assert_status(&unconfirmed, StatusCode::UNPROCESSABLE_ENTITY);
    let disable = call(
        &app,
        "set_account_disabled",
        &[
            ("account_id", &account_id),
            ("disabled", "true"),
            ("reason", "fraud"),
            ("confirm_name", "Acme Corp"),
        ],
    )
    .await;
    assert_status(&disable, StatusCode::OK);
    assert_eq!(reads(&app, &secret).await, StatusCode::UNAUTHORIZED);
    // The customer is told on every page, rather than left to wonder about the 401s.
    let owner_browser = browser();
    let fields = [("email", "owner@acme.example"), ("password", PASSWORD), ("next", "/keys")];
    let owner_log_in =
        owner_browser.post(app.url("/api/log_in")).headers(app.form_headers("/login")).form(&fields);
    assert_redirect(&owner_log_in.send().await.unwrap(), "/keys");
    let owners_keys_page =
        || async { owner_browser.get(app.url("/keys")).send().await.unwrap().text().await.unwrap() };
    assert!(owners_keys_page().await.contains("This account is disabled."));
    // Admins and support see when, by whom and why.
    let admin_page =
        || async { app.get(&format!("/admin/accounts/{account_id}")).await.text().await.unwrap() };
    let page = admin_page().await;
    let note = page.find("Disabled 20").map(|start| &page[start..]).and_then(|note| note.split('<').next());
    assert!(
        note.is_some_and(|note| note.ends_with(" UTC by admin@keystile.example: fraud")),
        "the reason on the admin page: {note:?}"
    );
    let enable = call(
        &app,
        "set_account_disabled",
        &[("account_id", &account_id), ("disabled", "false"), ("reason", "cleared"), ("confirm_name", "")],
    )
    .await;
    assert_status(&enable, StatusCode::OK);
    assert_ne!(reads(&app, &secret).await, StatusCode::UNAUTHORIZED);
    assert!(!owners_keys_page().await.contains("This account is disabled."));
    assert!(!admin_page().await.contains(": fraud"), "no note once enabled");

    let log = services::audit::for_account(&app.services.db, &account_id, 20).await.unwrap();
    let mut actions: Vec<&str> = log.iter().map(|entry| entry.action.as_str()).collect();
    actions.sort();
    assert_eq!(
        actions,
        ["account.disable", "account.enable", "bucket.reset", "key.create", "override.set", "plan.change"]
    );
    let plan = log.iter().find(|entry| entry.action == "plan.change").unwrap();
    assert_eq!(
        (plan.actor_email.as_str(), plan.before.as_deref(), plan.after.as_deref()),
        ("admin@keystile.example", Some("starter"), Some("pro"))
    );
    let disable = log.iter().find(|entry| entry.action == "account.disable").unwrap();
    assert_eq!(disable.reason.as_deref(), Some("fraud"));

    let page = app.get(&format!("/admin/accounts/{account_id}")).await.text().await.unwrap();
    assert!(page.contains("Acme Corp") && page.contains("owner@acme.example"), "the account page");
    // The account's usage as its owner sees it: the charts and why calls were refused.
    assert!(page.contains("Requests per minute, last hour") && page.contains("Latest refused requests"));
    // Each bucket with what the plan (now Pro) gives, beside the override.
    assert!(page.contains("100,000 per month") && page.contains("60 per minute"), "{page}");
    assert!(page.contains("reads (one key)"), "per-key buckets are reset one key at a time");
    assert!(!page.contains(&secret), "a secret on the admin page");
    assert!(page.contains("Projected bill"), "the month as its owner sees it");
    assert!(
        !page.contains("/billing#how-heading"),
        "the customer's Billing page is not the operator's to open"
    );
    let audit = audit_log(&app, true, "admin@", "plan.").await;
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");
    assert_eq!(audit[0]["target_label"], "Acme Corp", "the target account by its name");
    assert_eq!(audit[0]["account_name"], "Acme Corp", "whose entry it is, by name");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_disabled_accounts_keys_are_refused_on_every_node_within_a_second() {
    let database_url = services::testing::fresh_database_url(services::Backend::Postgres).await;
    let node = |url: String| spawn_app_on(url, shared_redis);
    let (a, b) = (node(database_url.clone()).await, node(database_url).await);
    let (owner, _, secret) = customer(&a, "owner@acme.example").await;
    assert_ne!(reads(&b, &secret).await, StatusCode::UNAUTHORIZED, "node b has the key cached");
    // An email of its own: the per-account login throttle lives in the Redis all runs share.
    let admin = format!("admin-{}@keystile.example", services::ids::random_base62(8).to_lowercase());
    operator(&a, &admin, Role::Admin).await;
    let account_id = owner.account_id.unwrap();
    let fields = [
        ("account_id", account_id.as_str()),
        ("disabled", "true"),
        ("reason", "abuse"),
        ("confirm_name", "Acme Corp"),
    ];
    assert_status(&call(&a, "set_account_disabled", &fields).await, StatusCode::OK);
    eventually(Duration::from_secs(1), || async {
        match reads(&b, &secret).await {
            StatusCode::UNAUTHORIZED => Ok(()),
            status => Err(format!("node b still admits the key: {status}")),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_ranks_the_accounts_by_their_calls_over_the_last_day() {
    let app = spawn_app().await;
    let (quiet, _, quiet_secret) = customer(&app, "owner@quiet.example").await;
    let (busy, _, busy_secret) = customer(&app, "owner@busy.example").await;
    assert_status(&call(&app, "recent_traffic", &[]).await, StatusCode::UNAUTHORIZED);
    let list = |secret: &str| browser().get(app.url("/v1/snapshots")).bearer_auth(secret.to_owned()).send();
    for _ in 0..2 {
        assert_status(&list(&quiet_secret).await.unwrap(), StatusCode::OK);
    }
    // Starter's burst admits 5 at once; the test clock stands still, so the sixth gets 429.
    for expected in [StatusCode::OK; 5].into_iter().chain([StatusCode::TOO_MANY_REQUESTS]) {
        assert_status(&list(&busy_secret).await.unwrap(), expected);
    }
    app.log_in("owner@busy.example", PASSWORD, "/").await;
    assert_status(&call(&app, "recent_traffic", &[]).await, StatusCode::FORBIDDEN);

    operator(&app, "support@keystile.example", Role::Support).await;
    let traffic = eventually(Duration::from_secs(5), || async {
        let traffic: Value = call(&app, "recent_traffic", &[]).await.json().await.unwrap();
        if traffic["requests"] == 8 { Ok(traffic) } else { Err(format!("usage never arrived: {traffic}")) }
    })
    .await;
    assert_eq!((&traffic["limited"], &traffic["accounts"]), (&Value::from(1), &Value::from(2)));
    let ranked: Vec<(&str, u64, u64)> = traffic["busiest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let id = row["account"]["id"].as_str().unwrap();
            (id, row["requests"].as_u64().unwrap(), row["limited"].as_u64().unwrap())
        })
        .collect();
    let (busy_id, quiet_id) = (busy.account_id.as_deref().unwrap(), quiet.account_id.as_deref().unwrap());
    assert_eq!(ranked, vec![(busy_id, 6, 1), (quiet_id, 2, 0)]);
    assert_eq!(traffic["busiest"][0]["account"]["owner_email"], "owner@busy.example");

    let page = app.get("/admin").await.text().await.unwrap();
    assert!(page.contains("8 API calls from 2 accounts; 1 (12.5 %) refused by a limit."), "{page}");
    // A day later, the calls have left the window.
    app.clock.advance(chrono::Duration::hours(25));
    app.log_in("support@keystile.example", PASSWORD, "/admin").await;
    let traffic: Value = call(&app, "recent_traffic", &[]).await.json().await.unwrap();
    assert_eq!((&traffic["requests"], &traffic["busiest"]), (&Value::from(0), &serde_json::json!([])));
}
