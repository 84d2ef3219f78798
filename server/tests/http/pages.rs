//! What the dashboard's pages render for whom: staff viewing an account as its customer get the
//! owner's pages without the forms the server would refuse; a filtered, cut or empty list says
//! so in words.

use limiter::Clock;
use services::accounts::Role;

use crate::admin::{call, customer, operator};
use crate::helpers::*;

/// Markup only each page's form has: the create-key name field, the plan switch's action, the
/// spend cap's amount field.
const FORMS: [(&str, &str); 3] = [
    ("/keys", r#"id="key-name""#),
    ("/plan", r#"action="/api/change_plan""#),
    ("/billing", r#"name="amount""#),
];

const READ_ONLY: &str = "Read-only while you view this account as its customer.";

/// Support staff in the app's browser, viewing the account as its customer.
async fn view_as(app: &TestApp, account_id: &str) {
    operator(app, "support@keystile.example", Role::Support).await;
    let started = call(app, "start_view_as", &[("account_id", account_id), ("reason", "ticket 7")]).await;
    assert!(started.status().is_success() || started.status().is_redirection(), "{}", started.status());
}

/// The page's HTML without Leptos's hydration markers (`<!>`), so tests can read it as text.
async fn page(app: &TestApp, path: &str) -> String {
    app.get(path).await.text().await.unwrap().replace("<!>", "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_viewing_as_the_customer_see_no_forms_where_the_owner_sees_them() {
    let app = spawn_app().await;
    let (owner, _, _) = customer(&app, "owner@acme.example").await;
    let account_id = owner.account_id.clone().unwrap();

    app.log_in("owner@acme.example", PASSWORD, "/").await;
    for (path, form) in FORMS {
        let html = page(&app, path).await;
        assert!(html.contains(form), "the owner's {path} lacks {form}");
        assert!(!html.contains(READ_ONLY), "the owner's {path} says it is read-only");
    }

    app.log_out().await;
    view_as(&app, &account_id).await;
    for (path, form) in FORMS {
        let html = page(&app, path).await;
        assert!(html.contains("Viewing Acme Corp as its owner sees it"), "{path} is not under view-as");
        assert!(!html.contains(form), "{path} under view-as shows {form}");
        assert!(html.contains(READ_ONLY), "{path} under view-as does not say it is read-only");
    }
    let keys = page(&app, "/keys").await;
    assert!(keys.contains("Production"), "the key list is still shown");
    assert!(!keys.contains("Revoke…") && !keys.contains("Rename…"), "a key row's actions are shown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_accounts_audit_log_names_the_account_and_links_back_to_every_account() {
    let app = spawn_app().await;
    let (owner, _, _) = customer(&app, "owner@acme.example").await;
    let account_id = owner.account_id.clone().unwrap();
    operator(&app, "admin@keystile.example", Role::Admin).await;

    let every = page(&app, "/admin/audit").await;
    assert!(every.contains("Every change to every account"), "the unfiltered log says what it shows");
    assert!(!every.contains("Filtered to"), "the unfiltered log says it is filtered");

    let one = page(&app, &format!("/admin/audit?account={account_id}&action=key.")).await;
    assert!(!one.contains("Every change to every account"), "one account's log claims to show every account");
    assert!(one.contains("Filtered to <strong>Acme Corp</strong>"), "the filter does not name the account");
    assert!(
        one.contains(r#"<a href="/admin/audit?action=key%2E">Show all accounts</a>"#),
        "no way back to every account, with the other filters kept"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_audit_log_cut_at_its_page_size_says_so() {
    const CUT: &str = "Showing the newest 200 entries. Narrow the search to see older ones.";
    let app = spawn_app().await;
    let (owner, _, _) = customer(&app, "owner@acme.example").await;
    let account_id = owner.account_id.clone().unwrap();
    app.log_in("owner@acme.example", PASSWORD, "/").await;
    assert!(!page(&app, "/audit").await.contains(CUT), "a short log says it was cut");

    for _ in 0..200 {
        let at = app.clock.now();
        services::audit::record_now(&app.services.db, &account_id, &owner, "view_as.page", None, None, at)
            .await
            .unwrap();
    }
    let html = page(&app, "/audit").await;
    assert!(html.contains(CUT), "a log cut at 200 entries does not say so");
    assert!(!page(&app, "/audit?action=key.").await.contains(CUT), "a narrowed log says it was cut");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_without_users_or_keys_says_so_in_the_console() {
    let app = spawn_app().await;
    sqlx::query(
        "INSERT INTO accounts (id, name, plan_id, billing_anchor_day, created_at) \
         VALUES ('acc_empty', 'Empty Ltd', 'starter', 1, 0)",
    )
    .execute(app.services.db.pool())
    .await
    .unwrap();
    operator(&app, "admin@keystile.example", Role::Admin).await;

    let listing = page(&app, "/admin").await;
    assert!(listing.contains("Empty Ltd</a></th><td>—</td>"), "a missing owner is a blank cell");

    let account = page(&app, "/admin/accounts/acc_empty").await;
    assert!(
        account.contains("<title>Empty Ltd · Admin · keystile</title>"),
        "the title is not the account's name"
    );
    assert!(account.contains("No users."), "an empty users list says nothing");
    assert!(account.contains("No keys yet."), "an empty keys table says nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_without_pricing_and_the_catalogue_say_plainly_what_they_show() {
    let shipped = policy::Policy::shipped_text("default").unwrap();
    let (start, end) = (shipped.find("\n[pricing]\n").unwrap(), shipped.find("\n[spend_cap]\n").unwrap());
    let unpriced = format!("{}{}", &shipped[..start], &shipped[end..]);
    let path =
        std::env::temp_dir().join(format!("keystile-unpriced-{}.toml", services::ids::random_base62(8)));
    std::fs::write(&path, unpriced).unwrap();
    let app = spawn_app_with(|settings| settings.policy = Some(path.clone())).await;
    customer(&app, "owner@acme.example").await;
    app.log_in("owner@acme.example", PASSWORD, "/").await;
    assert!(page(&app, "/billing").await.contains("Usage is not priced here: there are no fees to show."));
    app.log_out().await;

    operator(&app, "admin@keystile.example", Role::Admin).await;
    assert!(page(&app, "/admin/plans").await.contains("In cents, e.g. 4900 for $49.00."), "the price's unit");
    std::fs::remove_file(&path).ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_log_says_what_happened_in_words_beside_its_code() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let created = app.call(&app.browser, "create_key", &[("name", "CI"), ("expires_in_days", "")]).await;
    assert!(created.status().is_success(), "{}", created.status());
    let log = page(&app, "/audit").await;
    let words = log.find("Key created").expect("the action in words");
    assert!(log[words..].contains("key.create"), "the code beneath it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_inline_script_carries_the_nonce_the_page_s_policy_allows() {
    let app = spawn_app().await;
    let first = app.get("/login").await;
    let policy = first.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(policy.contains("default-src 'self'") && policy.contains("object-src 'none'"), "{policy}");
    let nonce =
        policy.split(['\'', ' ']).find_map(|word| word.strip_prefix("nonce-")).expect("a nonce").to_owned();
    let html = first.text().await.unwrap();
    let script_tags: Vec<&str> =
        html.split("<script").skip(1).map(|rest| rest.split('>').next().unwrap_or_default()).collect();
    assert!(script_tags.iter().any(|tag| !tag.contains(" src=")), "the hydration script is inline");
    for tag in script_tags {
        assert!(tag.contains(r#" src="/"#) || tag.contains(&format!(r#"nonce="{nonce}""#)), "<script{tag}>");
    }
    let again = app.get("/login").await.headers()["content-security-policy"].to_str().unwrap().to_owned();
    assert!(!again.contains(&nonce), "a new nonce for every response");
}
