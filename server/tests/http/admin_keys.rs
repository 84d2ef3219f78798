//! An admin disables one of a customer's keys (not the whole account) with a reason, and
//! enables it again.

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use services::accounts::Role;
use services::keys::KeyStatus;

use crate::admin::{audit_log, call, customer, operator, reads};
use crate::helpers::*;

async fn switch(
    app: &TestApp,
    account_id: &str,
    key_id: &str,
    disabled: &str,
    reason: &str,
) -> reqwest::Response {
    let fields = [("account_id", account_id), ("key_id", key_id), ("disabled", disabled), ("reason", reason)];
    call(app, "admin_set_key_disabled", &fields).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_disables_one_key_with_a_reason_and_the_customer_sees_it() {
    let app = spawn_app().await;
    let (owner, key_id, secret) = customer(&app, "owner@acme.example").await;
    let account_id = owner.account_id.clone().unwrap();
    let other = app.services.keys.create(&owner, "Staging", None, Default::default()).await.unwrap();
    operator(&app, "admin@keystile.example", Role::Admin).await;
    let page = app.get(&format!("/admin/accounts/{account_id}")).await.text().await.unwrap();
    assert!(page.contains("Disable key"), "the admin's account page offers it");

    assert_status(&switch(&app, &account_id, &key_id, "true", "  ").await, StatusCode::UNPROCESSABLE_ENTITY);
    let essay = "x".repeat(services::audit::MAX_REASON_CHARS + 1);
    assert_status(
        &switch(&app, &account_id, &key_id, "true", &essay).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    );
    assert_ne!(reads(&app, &secret).await, StatusCode::UNAUTHORIZED, "no reason, no change");

    assert_status(
        &switch(&app, &account_id, &key_id, "true", "scraping the catalogue at 300/s").await,
        StatusCode::OK,
    );
    assert_eq!(reads(&app, &secret).await, StatusCode::UNAUTHORIZED);
    assert_ne!(
        reads(&app, other.secret.expose_secret()).await,
        StatusCode::UNAUTHORIZED,
        "the account's other keys work"
    );
    let entries = audit_log(&app, true, "admin@keystile.example", "key.disable").await;
    assert_eq!(entries[0]["reason"], "scraping the catalogue at 300/s", "{entries}");

    // The customer sees it disabled, with staff's reason, and cannot enable it themselves.
    let keys = app.services.keys.list(&account_id).await.unwrap();
    let now = limiter::Clock::now(&app.clock);
    let disabled = keys.iter().find(|key| key.id == key_id).unwrap();
    assert_eq!(disabled.status(now), KeyStatus::Disabled);
    assert_eq!(disabled.staff_disable_reason.as_deref(), Some("scraping the catalogue at 300/s"));
    let refused = app.services.keys.set_disabled(&owner, &key_id, false).await.unwrap_err();
    assert!(matches!(refused, services::keys::KeyError::DisabledByStaff(_)), "{refused:?}");
    assert_eq!(reads(&app, &secret).await, StatusCode::UNAUTHORIZED);
    assert_status(
        &switch(&app, &account_id, &key_id, "false", "they fixed their crawler").await,
        StatusCode::OK,
    );
    assert_ne!(reads(&app, &secret).await, StatusCode::UNAUTHORIZED);
    let entries = audit_log(&app, true, "admin@keystile.example", "key.enable").await;
    assert_eq!(entries[0]["reason"], "they fixed their crawler");
    // In an incident staff may switch many keys in a minute: more than key_mgmt's 10.
    for n in 0..12 {
        let disabled = if n % 2 == 0 { "true" } else { "false" };
        assert_status(
            &switch(&app, &account_id, &other.key.id, disabled, "incident drill").await,
            StatusCode::OK,
        );
    }
    // Enabled by staff, the key is its owner's again to switch.
    let owned = app.services.keys.set_disabled(&owner, &key_id, true).await.unwrap();
    assert_eq!(owned.staff_disable_reason, None);
    // Staff see who disabled it: the customer, not one of them.
    let page = app.get(&format!("/admin/accounts/{account_id}")).await.text().await.unwrap();
    assert!(
        page.contains("Disabled by the account&#x27;s team")
            || page.contains("Disabled by the account's team"),
        "{page}"
    );
    app.services.keys.set_disabled(&owner, &key_id, false).await.unwrap();
}
