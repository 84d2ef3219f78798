//! The Plan page and switching plans.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

async fn monthly_limit(app: &TestApp, key: &str) -> u64 {
    let limits: Value =
        browser().get(app.url("/v1/limits")).bearer_auth(key).send().await.unwrap().json().await.unwrap();
    let monthly = limits["buckets"].as_array().unwrap().iter().find(|b| b["name"] == "monthly").cloned();
    monthly.map_or(0, |bucket| bucket["limit"].as_u64().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_plan_page_lists_the_catalogue_with_the_current_plan_marked() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let page = app.get("/plan").await.text().await.unwrap();
    for plan in ["starter", "pro", "business", "enterprise"] {
        assert!(page.contains(&format!(r#"data-plan="{plan}""#)), "{plan} missing");
    }
    let starter = &page[page.find(r#"data-plan="starter""#).unwrap()..];
    let starter = &starter[..starter.find("</section>").unwrap()];
    assert!(starter.contains("Current plan"), "{starter}");
    assert!(page.contains("10,000 calls a month"));
    // Enterprise's numbers come from its contract, not from having none.
    let enterprise = &page[page.find(r#"data-plan="enterprise""#).unwrap()..];
    let enterprise = &enterprise[..enterprise.find("</section>").unwrap()];
    assert!(enterprise.contains("Monthly quota set by contract"), "{enterprise}");
    assert!(!enterprise.contains("No fixed monthly quota"), "{enterprise}");
    // The default policy bills by seed 000's tiers, so no plan shows a price of its own that the
    // Billing page would contradict.
    assert!(starter.contains("Billed by usage"), "{starter}");
    assert!(!page.contains("/month"), "a plan shows a fixed price");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_plan_with_a_quota_says_whether_this_months_pace_fits_it() {
    let app = spawn_app().await;
    let ada = app.signed_up("ada@example.com").await;
    let section = |page: &str, plan: &str| {
        let start = page.find(&format!(r#"data-plan="{plan}""#)).unwrap();
        page[start..][..page[start..].find("</section>").unwrap()].to_owned()
    };
    let page = app.get("/plan").await.text().await.unwrap();
    assert!(!section(&page, "starter").contains("pace"), "no pace before any call");

    let secret = app.new_key(&ada, "CI").await;
    for _ in 0..3 {
        browser().get(app.url("/v1/snapshots")).bearer_auth(&secret).send().await.unwrap();
    }
    crate::usage::wait_for_requests(&app, ada.account_id.as_deref().unwrap(), 3).await;
    let now = limiter::Clock::now(&app.clock);
    let (start, end) = limiter::billing_month(now, 1);
    let projected = usage::at_this_pace(3, start, end, now);
    let starter = section(&app.get("/plan").await.text().await.unwrap(), "starter");
    let shown = starter
        .split("Fits this month's pace: about ")
        .nth(1)
        .and_then(|rest| rest.split_once(" of 10,000."));
    assert_eq!(shown.map(|(about, _)| about.replace(',', "")), Some(projected.to_string()), "{starter}");
    let page = app.get("/plan").await.text().await.unwrap();
    assert!(!section(&page, "business").contains("pace"), "no quota to compare with");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_plans_limits_apply_at_the_next_request_and_the_change_is_audited() {
    let app = spawn_app().await;
    let user = app.signed_up("ada@example.com").await;
    let key = app.new_key(&user, "CI").await;
    assert_eq!(monthly_limit(&app, &key).await, 10_000);
    app.clock.advance(chrono::Duration::seconds(1));

    let response = app.submit_form("change_plan", "/plan", &[("plan_id", "pro")]).await;
    assert!(response.status().is_redirection());
    assert!(!location(&response).contains("__err"), "{}", location(&response));
    assert_eq!(monthly_limit(&app, &key).await, 100_000, "the gateway's cached key saw the new plan");

    let log =
        services::audit::for_account(&app.services.db, user.account_id.as_deref().unwrap(), 5).await.unwrap();
    assert_eq!(log[0].action, "plan.change");
    assert_eq!((log[0].before.as_deref(), log[0].after.as_deref()), (Some("starter"), Some("pro")));
    // The audit log page names the plans.
    let fields = [
        ("all_accounts", "false"),
        ("account", ""),
        ("actor", ""),
        ("action", "plan."),
        ("from", ""),
        ("to", ""),
    ];
    let page: serde_json::Value = app.call(&app.browser, "list_audit", &fields).await.json().await.unwrap();
    assert_eq!(
        (&page[0]["before"], &page[0]["after"]),
        (&serde_json::json!("Starter"), &serde_json::json!("Pro"))
    );

    // Dates the wrong way round are refused, not answered with "no entries".
    let mut backwards = fields;
    backwards[4] = ("from", "2026-11-20");
    backwards[5] = ("to", "2026-11-10");
    let refused = app.call(&app.browser, "list_audit", &backwards).await;
    assert_status(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("The From date is after the To date"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_plan_is_refused_and_nothing_changes() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let response = app.submit_form("change_plan", "/plan", &[("plan_id", "platinum")]).await;
    assert!(location(&response).contains("__err"), "{}", location(&response));
    let user = app.services.accounts.user_by_email("ada@example.com").await.unwrap().unwrap();
    let account = app.services.accounts.account(user.account_id.as_deref().unwrap()).await.unwrap().unwrap();
    assert_eq!(account.plan_id, "starter");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_arranged_by_contract_cannot_be_chosen_by_the_customer_only_assigned_by_an_admin() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let page = app.get("/plan").await.text().await.unwrap();
    let enterprise = &page[page.find(r#"data-plan="enterprise""#).unwrap()..];
    let enterprise = &enterprise[..enterprise.find("</section>").unwrap()];
    assert!(enterprise.contains("Arranged by contract"), "{enterprise}");
    assert!(!enterprise.contains("Choose Enterprise"), "{enterprise}");
    assert!(page.contains("Choose Pro"));

    // The form posted by hand is refused, with the reason, and nothing changes.
    let response = app.submit_form("change_plan", "/plan", &[("plan_id", "enterprise")]).await;
    assert!(location(&response).contains("__err"), "{}", location(&response));
    let user = app.services.accounts.user_by_email("ada@example.com").await.unwrap().unwrap();
    let account = app.services.accounts.account(user.account_id.as_deref().unwrap()).await.unwrap().unwrap();
    assert_eq!(account.plan_id, "starter");
    let log = services::audit::for_account(&app.services.db, &account.id, 5).await.unwrap();
    assert!(log.iter().all(|entry| entry.action != "plan.change"));

    // An admin assigns it.
    app.log_out().await;
    crate::admin::operator(&app, "admin@keystile.example", services::accounts::Role::Admin).await;
    let assign = [("account_id", account.id.as_str()), ("plan_id", "enterprise")];
    assert_status(&crate::admin::call(&app, "admin_change_plan", &assign).await, StatusCode::OK);
    let account = app.services.accounts.account(&account.id).await.unwrap().unwrap();
    assert_eq!(account.plan_id, "enterprise");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_current_plans_card_shows_the_limits_set_for_the_account() {
    let app = spawn_app().await;
    let ada = app.signed_up("ada@example.com").await;
    let account_id = ada.account_id.clone().unwrap();
    let admin = app
        .services
        .accounts
        .create_operator("admin@keystile.example", PASSWORD.into(), services::accounts::Role::Admin)
        .await
        .unwrap();
    for (bucket, limit) in [("monthly", 777), ("burst", 3), ("reads", 2)] {
        app.services.accounts.set_override(&admin, &account_id, bucket, Some(limit)).await.unwrap();
    }
    let page = app.get("/plan").await.text().await.unwrap();
    let card = |plan: &str| {
        let start = page.find(&format!(r#"data-plan="{plan}""#)).unwrap();
        page[start..][..page[start..].find("</section>").unwrap()].to_owned()
    };
    let starter = card("starter");
    for own in ["777 calls a month", "Bursts of 3 per second", "reads: 2 per minute (set for your account)"] {
        assert!(starter.contains(own), "{own} missing: {starter}");
    }
    assert!(!starter.contains("10,000 calls a month"), "the plan's quota, which no longer applies");
    let pro = card("pro");
    assert!(
        !pro.contains("777") && !pro.contains("set for your account"),
        "another plan shows its own: {pro}"
    );

    // A price an admin gives a plan is not shown while the policy's pricing tiers make the
    // bill: the Plan page would promise $49 a month where Billing charges by the tiers.
    let starter = app.services.policy.get().plan("starter").unwrap().clone();
    let priced = services::catalogue::PlanEdit {
        name: starter.name.clone(),
        description: starter.description.clone(),
        price_cents: Some(4_900),
        monthly_quota: starter.monthly_quota,
        burst_per_second: starter.burst.map(|burst| burst.count()),
        daily_cap: starter.daily_cap,
        self_service: starter.self_service,
    };
    app.services.catalogue.edit_plan(&admin, "starter", priced).await.unwrap();
    let page = app.get("/plan").await.text().await.unwrap();
    assert!(!page.contains("$49/month") && page.contains("Billed by usage"), "{page}");
}
