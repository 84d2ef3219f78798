//! The Team page: an owner invites by email, the invitee joins with the one-time code and a
//! password of their own, and becomes a member of the account; the owner revokes invitations
//! and removes members. All audited.

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::admin::audit_log;
use crate::helpers::*;

const OWNER: &str = "ada@example.com";
const MEMBER: &str = "bob@example.com";
const MEMBER_PASSWORD: &str = "bob's own horse";

/// Invites `email` as the app's signed-in browser; the code, or the refusal.
async fn invite(app: &TestApp, email: &str) -> Result<String, (StatusCode, String)> {
    let response = app.call(&app.browser, "invite_member", &[("email", email)]).await;
    let status = response.status();
    let body = response.text().await.unwrap();
    if status != StatusCode::OK {
        return Err((status, body));
    }
    let invited: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(invited["email"], email);
    Ok(invited["code"].as_str().unwrap().to_owned())
}

/// Joins from a fresh browser, as the Join page's form does without JavaScript; that browser,
/// or the page's error.
async fn join(app: &TestApp, email: &str, code: &str) -> Result<Client, String> {
    let browser = browser();
    let fields = [("email", email), ("code", code), ("password", MEMBER_PASSWORD)];
    let response = browser
        .post(app.url("/api/join_account"))
        .headers(app.form_headers("/join"))
        .form(&fields)
        .send()
        .await
        .unwrap();
    if location(&response) == "/" {
        return Ok(browser);
    }
    Err(error_shown(&browser, &response).await)
}

async fn team(app: &TestApp, client: &Client) -> Value {
    let response = app.call(client, "load_team", &[]).await;
    assert_status(&response, StatusCode::OK);
    response.json().await.unwrap()
}

fn emails(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|entry| entry["email"].as_str().unwrap()).collect()
}

/// A plain form's change went through: the browser is sent back to the page, with no error.
fn assert_back_on_team_page(app: &TestApp, response: &reqwest::Response) {
    assert!(location(response).starts_with(&app.url("/team")) && !location(response).contains("__err="));
}

const INVALID_CODE: &str = "This invitation code is not valid for this email, or it has expired.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invited_member_joins_with_the_code_and_shares_the_account() {
    let app = spawn_app().await;
    app.sign_up(OWNER).await;
    let owner = app.services.accounts.user_by_email(OWNER).await.unwrap().unwrap();
    let key = app.services.keys.create(&owner, "Production", None, Default::default()).await.unwrap();

    let code = invite(&app, "Bob@Example.com").await.unwrap();
    assert!(code.starts_with("invite_") && code.len() == "invite_".len() + 32, "{code}");
    let pending = team(&app, &app.browser).await;
    assert_eq!(emails(&pending["invitations"]), ["Bob@Example.com"]);
    assert_eq!(pending["invitations"][0]["expired"], false);
    let (stored,): (String,) =
        sqlx::query_as("SELECT code_hash FROM invitations").fetch_one(app.services.db.pool()).await.unwrap();
    assert_ne!(stored, code, "only a digest of the code is kept");

    // The address matches whatever its case; the code works once.
    let bob = join(&app, MEMBER, &code).await.expect("bob joins");
    assert_eq!(
        join(&app, MEMBER, &code).await.err().unwrap(),
        INVALID_CODE.to_owned() + " Ask the account's owner for a new one."
    );

    let seen_by_bob = team(&app, &bob).await;
    assert_eq!(emails(&seen_by_bob["members"]), [OWNER, "Bob@Example.com"]);
    assert_eq!(seen_by_bob["members"][1]["role"], "member");
    assert_eq!(seen_by_bob["members"][1]["is_viewer"], true);
    assert_eq!(seen_by_bob["can_manage"], false);
    assert!(seen_by_bob["invitations"].as_array().unwrap().is_empty(), "the used invitation is gone");
    let keys: Value = app.call(&bob, "list_keys", &[]).await.json().await.unwrap();
    assert_eq!(keys[0]["id"], key.key.id.as_str(), "the member sees the account's keys");
    assert_eq!(keys[0]["created_by"], OWNER, "and who created each");
    let page = bob.get(app.url("/team")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Only the account's owner can invite or remove members."), "{page}");

    // Members use keys, but the plan and the team stay the owner's.
    let plans = bob.get(app.url("/plan")).send().await.unwrap().text().await.unwrap();
    assert!(plans.contains("Only the account's owner can change its plan.") && !plans.contains("Choose Pro"));
    let owners_plans = app.get("/plan").await.text().await.unwrap();
    assert!(!owners_plans.contains("Only the account's owner") && owners_plans.contains("Choose Pro"));
    assert_status(&app.call(&bob, "change_plan", &[("plan_id", "pro")]).await, StatusCode::FORBIDDEN);
    assert_status(
        &app.call(&bob, "invite_member", &[("email", "eve@example.com")]).await,
        StatusCode::FORBIDDEN,
    );
    let created = app.call(&bob, "create_key", &[("name", "Bob's laptop")]).await;
    assert_status(&created, StatusCode::OK);

    // Bob signs in again later with his own password.
    let again = app.another_browser(MEMBER, MEMBER_PASSWORD).await;
    assert_eq!(team(&app, &again).await["members"][1]["is_viewer"], true);

    let invited = audit_log(&app, false, "", "member.invite").await;
    assert_eq!(invited[0]["after"], "Bob@Example.com");
    assert_eq!(invited[0]["target_label"], "Bob@Example.com", "an invitation is named by its address");
    let joined = audit_log(&app, false, "", "member.join").await;
    assert_eq!(joined[0]["actor"], "Bob@Example.com");
    assert_eq!(joined[0]["target_label"], "Bob@Example.com", "the audit log names the member, not their id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_code_works_only_for_its_address_only_once_and_only_for_seven_days() {
    let app = spawn_app().await;
    app.sign_up(OWNER).await;
    let code = invite(&app, MEMBER).await.unwrap();
    let refused = |result: Result<Client, String>| result.expect_err("refused").starts_with(INVALID_CODE);

    assert!(refused(join(&app, "eve@example.com", &code).await), "another address");
    assert!(refused(join(&app, MEMBER, "invite_0000000000000000000000000000000").await), "a made-up code");
    assert!(refused(join(&app, MEMBER, "").await), "no code");

    // Inviting the address again replaces the first code.
    let second = invite(&app, MEMBER).await.unwrap();
    assert!(refused(join(&app, MEMBER, &code).await), "the replaced code");
    assert_eq!(emails(&team(&app, &app.browser).await["invitations"]), [MEMBER]);

    app.clock.advance(chrono::Duration::days(7));
    app.log_in(OWNER, PASSWORD, "/").await; // the session itself ended after 12 hours
    assert_eq!(team(&app, &app.browser).await["invitations"][0]["expired"], true);
    assert!(refused(join(&app, MEMBER, &second).await), "the expired code");

    // A new invitation drops the expired one and works.
    let third = invite(&app, MEMBER).await.unwrap();
    join(&app, MEMBER, &third).await.expect("a fresh code works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_revokes_an_invitation_and_removes_a_member() {
    let app = spawn_app().await;
    app.sign_up(OWNER).await;
    let revoked_code = invite(&app, "carol@example.com").await.unwrap();
    let invitation = team(&app, &app.browser).await["invitations"][0]["id"].as_str().unwrap().to_owned();
    let revoked = app.submit_form("revoke_invitation", "/team", &[("invitation_id", &invitation)]).await;
    assert_back_on_team_page(&app, &revoked);
    assert!(join(&app, "carol@example.com", &revoked_code).await.err().unwrap().starts_with(INVALID_CODE));
    let withdrawn = audit_log(&app, false, "", "invitation.revoke").await;
    assert_eq!(withdrawn[0]["before"], "carol@example.com");
    assert_eq!(withdrawn[0]["target_label"], "carol@example.com", "though the invitation is gone");

    let bob = join(&app, MEMBER, &invite(&app, MEMBER).await.unwrap()).await.unwrap();
    let bobs_key = app.call(&bob, "create_key", &[("name", "Bob's laptop")]).await;
    let bobs_key: Value = bobs_key.json().await.unwrap();
    let members = team(&app, &app.browser).await["members"].clone();
    let (owner_id, bob_id) = (members[0]["id"].as_str().unwrap(), members[1]["id"].as_str().unwrap());

    // The owner cannot be removed; a member of another account is not found.
    let refused = app.call(&app.browser, "remove_member", &[("user_id", owner_id)]).await;
    assert_status(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("There is no such member or invitation on this account."));

    let removed = app.submit_form("remove_member", "/team", &[("user_id", bob_id)]).await;
    assert_back_on_team_page(&app, &removed);
    assert_redirect(&bob.get(app.url("/keys")).send().await.unwrap(), "/login?next=/keys");
    let log_in = browser()
        .post(app.url("/api/log_in"))
        .headers(app.form_headers("/login"))
        .form(&[("email", MEMBER), ("password", MEMBER_PASSWORD), ("next", "/")])
        .send()
        .await
        .unwrap();
    assert!(location(&log_in).contains("__err="), "a removed member cannot log in");
    assert_eq!(emails(&team(&app, &app.browser).await["members"]), [OWNER]);
    let keys: Value = app.call(&app.browser, "list_keys", &[]).await.json().await.unwrap();
    assert_eq!(bobs_key["key"]["created_by"], MEMBER);
    assert_eq!(keys[0]["id"], bobs_key["key"]["id"], "the key Bob created stays with the account");
    assert_eq!(keys[0]["created_by"], Value::Null, "no longer naming a creator who is gone");
    let removal = audit_log(&app, false, "", "member.remove").await;
    assert_eq!((&removal[0]["before"], &removal[0]["target_label"]), (&json!(MEMBER), &json!(MEMBER)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitations_refuse_bad_addresses_members_taken_emails_and_more_than_twenty_waiting() {
    let app = spawn_app().await;
    app.sign_up(OWNER).await;
    let (status, body) = invite(&app, "not an address").await.unwrap_err();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("Enter a valid email address"), "{body}");
    let (status, body) = invite(&app, "ADA@example.com").await.unwrap_err();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("is already on this account's team"), "{body}");

    // Someone with an account of their own can be invited (the owner learns nothing about
    // other accounts), but an email signs in to one account only.
    app.services.accounts.sign_up("carol@example.com", PASSWORD.into(), "").await.unwrap();
    let code = invite(&app, "carol@example.com").await.unwrap();
    let taken = join(&app, "carol@example.com", &code).await.err().unwrap();
    assert!(taken.starts_with("This email already signs in to keystile"), "{taken}");
    assert_eq!(
        emails(&team(&app, &app.browser).await["invitations"]),
        ["carol@example.com"],
        "the code is kept"
    );

    for n in 2..=20 {
        invite(&app, &format!("person{n}@example.com")).await.unwrap();
    }
    let (status, body) = invite(&app, "one.too.many@example.com").await.unwrap_err();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("This account has 20 invitations waiting."), "{body}");
    assert_eq!(team(&app, &app.browser).await["invitations"].as_array().unwrap().len(), 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_leaves_the_account_and_the_owner_cannot() {
    let app = spawn_app().await;
    app.sign_up(OWNER).await;
    let bob = join(&app, MEMBER, &invite(&app, MEMBER).await.unwrap()).await.unwrap();
    let page = bob.get(app.url("/account")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Leave this account"), "members are offered to leave");
    assert!(
        !app.get("/account").await.text().await.unwrap().contains("Leave this account"),
        "owners are not"
    );

    let refused = app.call(&app.browser, "leave_account", &[]).await;
    assert_status(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.text().await.unwrap().contains("The owner cannot leave the account"));

    let left =
        bob.post(app.url("/api/leave_account")).headers(app.form_headers("/account")).send().await.unwrap();
    assert_redirect(&left, "/login");
    assert_redirect(&bob.get(app.url("/keys")).send().await.unwrap(), "/login?next=/keys");
    assert_eq!(emails(&team(&app, &app.browser).await["members"]), [OWNER]);
    assert_eq!(audit_log(&app, false, "", "member.leave").await[0]["actor"], MEMBER);
}
