//! Key restrictions: a read-only key and a key limited to address ranges are refused with 403
//! outside them, charged nothing, and a change applies at the key's next request.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// An app behind a trusted proxy on 127.0.0.1, so requests can come from any address.
async fn spawn_behind_proxy() -> TestApp {
    spawn_app_with(|settings| settings.trusted_proxies = vec!["127.0.0.1".parse().unwrap()]).await
}

/// A key created through `/v1/keys` with these fields besides its name: (key id, secret).
async fn create_key(app: &TestApp, fields: Value) -> (String, String) {
    let mut body = json!({ "name": "restricted" });
    body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    let created = app.keys_api(Method::POST, "/v1/keys", Some(body)).await;
    assert_status(&created, StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    (created["key"]["id"].as_str().unwrap().to_owned(), created["secret"].as_str().unwrap().to_owned())
}

async fn request(app: &TestApp, method: Method, path: &str, secret: &str, from: &str) -> reqwest::Response {
    let mut request = browser().request(method.clone(), app.url(path)).bearer_auth(secret);
    request = request.header("x-forwarded-for", from);
    if method == Method::POST {
        request = request.json(&json!({"jurisdictions": ["UK"], "areas": ["AML"], "horizon": 12}));
    }
    request.send().await.unwrap()
}

/// What each bucket has left, from `/v1/limits` (which charges nothing).
async fn remaining(app: &TestApp, secret: &str, from: &str) -> Value {
    let limits: Value = request(app, Method::GET, "/v1/limits", secret, from).await.json().await.unwrap();
    limits["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["name"].as_str().unwrap().to_owned(), b["remaining"].clone()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

async fn assert_restricted(response: reqwest::Response, says: &str) {
    assert_status(&response, StatusCode::FORBIDDEN);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "api_key_restricted", "{body}");
    assert!(body["detail"].as_str().unwrap().contains(says), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_key_reads_but_starts_nothing_until_it_is_given_full_access() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let (key_id, secret) = create_key(&app, json!({ "read_only": true })).await;
    let here = "127.0.0.1";

    assert_status(&request(&app, Method::GET, "/v1/snapshots", &secret, here).await, StatusCode::OK);
    let before = remaining(&app, &secret, here).await;
    assert_restricted(request(&app, Method::POST, "/v1/scans", &secret, here).await, "GET, HEAD and OPTIONS")
        .await;
    assert_eq!(remaining(&app, &secret, here).await, before, "a refused request is charged nothing");

    let path = format!("/v1/keys/{key_id}/restrictions");
    let changed = app.keys_api(Method::PUT, &path, Some(json!({ "read_only": false }))).await;
    assert_status(&changed, StatusCode::OK);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!((changed["read_only"].as_bool(), changed["allowed_ips"].clone()), (Some(false), json!([])));
    // The key was verified and cached a moment ago: the change must reach the cache at once.
    let scan = request(&app, Method::POST, "/v1/scans", &secret, here).await;
    assert!(scan.status().is_success(), "{}", scan.status());

    // The refusal is in the account's usage, as refused, costing nothing: five keyed requests
    // (a read, two looks at the limits, two scans), one refused, the read and the scan charged.
    let user = app.services.accounts.user_by_email("ada@example.com").await.unwrap().unwrap();
    let counts = crate::usage::wait_for_requests(&app, user.account_id.as_deref().unwrap(), 5).await;
    assert_eq!(counts, usage::Counts { requests: 5, limited: 1, cost: 2 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_limited_to_address_ranges_is_refused_from_elsewhere() {
    let app = spawn_behind_proxy().await;
    app.sign_up("ada@example.com").await;
    let ranges = json!({ "allowed_ips": ["198.51.100.0/24", "2001:db8::/32"] });
    let (key_id, secret) = create_key(&app, ranges).await;

    for inside in ["198.51.100.7", "2001:db8::1"] {
        let response = request(&app, Method::GET, "/v1/snapshots", &secret, inside).await;
        assert_status(&response, StatusCode::OK);
    }
    let before = remaining(&app, &secret, "198.51.100.7").await;
    let outside = request(&app, Method::GET, "/v1/snapshots", &secret, "203.0.113.9").await;
    assert_restricted(outside, "203.0.113.9").await;
    // `/v1/limits` is refused from outside too: the key is no use there at all.
    let limits = request(&app, Method::GET, "/v1/limits", &secret, "203.0.113.9").await;
    assert_status(&limits, StatusCode::FORBIDDEN);
    assert_eq!(
        remaining(&app, &secret, "198.51.100.7").await,
        before,
        "a refused request is charged nothing"
    );

    let listed: Value = app.keys_api(Method::GET, "/v1/keys", None).await.json().await.unwrap();
    assert_eq!(listed[0]["allowed_ips"], json!(["198.51.100.0/24", "2001:db8::/32"]));

    // The dashboard's form, without JavaScript: one range per line; then any address again.
    let fields = [("key_id", key_id.as_str()), ("access", "full"), ("allowed_ips", "203.0.113.0/24\r\n")];
    let response = app.submit_form("restrict_key", "/keys", &fields).await;
    assert!(!location(&response).contains("__err"), "{}", location(&response));
    assert_status(&request(&app, Method::GET, "/v1/snapshots", &secret, "203.0.113.9").await, StatusCode::OK);
    let old_range = request(&app, Method::GET, "/v1/snapshots", &secret, "198.51.100.7").await;
    assert_restricted(old_range, "198.51.100.7").await;
    let page = app.get("/keys").await.text().await.unwrap();
    assert!(page.contains("From 203.0.113.0/24"), "the key's row shows its range");

    let fields = [("key_id", key_id.as_str()), ("access", "full"), ("allowed_ips", "")];
    app.submit_form("restrict_key", "/keys", &fields).await;
    assert_status(&request(&app, Method::GET, "/v1/snapshots", &secret, "192.0.2.1").await, StatusCode::OK);

    let user = app.services.accounts.user_by_email("ada@example.com").await.unwrap().unwrap();
    let log = services::audit::for_account(&app.services.db, user.account_id.as_deref().unwrap(), 10)
        .await
        .unwrap();
    let changes: Vec<_> = log.iter().filter(|entry| entry.action == "key.restrict").collect();
    assert_eq!(changes.len(), 2, "{log:#?}");
    let words =
        |entry: &&services::audit::AuditEntry| (entry.before.clone().unwrap(), entry.after.clone().unwrap());
    let mut changes: Vec<(String, String)> = changes.iter().map(words).collect();
    changes.sort();
    assert!(changes[0].0.contains("(full access; from 198.51.100.0/24, 2001:db8::/32)"), "{changes:?}");
    assert!(changes[0].1.contains("(full access; from 203.0.113.0/24)"), "{changes:?}");
    assert!(changes[1].0.contains("(full access; from 203.0.113.0/24)"), "{changes:?}");
    assert!(!changes[1].1.contains("from "), "an unrestricted key is described without any: {changes:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_restrictions_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    for bad in [
        json!({"allowed_ips": ["10.0.0.1/33"]}),
        json!({"allowed_ips": ["office"]}),
        json!({"read_only": "yes"}),
    ] {
        let mut body = json!({ "name": "bad" });
        body.as_object_mut().unwrap().extend(bad.as_object().unwrap().clone());
        let refused = app.keys_api(Method::POST, "/v1/keys", Some(body)).await;
        assert!(refused.status().is_client_error(), "{bad}: {}", refused.status());
    }
    let listed: Value = app.keys_api(Method::GET, "/v1/keys", None).await.json().await.unwrap();
    assert_eq!(listed, json!([]), "no key was created");

    let (key_id, _) = create_key(&app, json!({ "allowed_ips": ["192.0.2.0/24"] })).await;
    let path = format!("/v1/keys/{key_id}/restrictions");
    let masked = app.keys_api(Method::PUT, &path, Some(json!({ "allowed_ips": ["192.0.2.7/24"] }))).await;
    assert_status(&masked, StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = masked.json().await.unwrap();
    assert!(body["detail"].as_str().unwrap().contains("did you mean 192.0.2.0/24?"), "{body}");

    let fields = [("key_id", key_id.as_str()), ("access", "everything"), ("allowed_ips", "")];
    let response = app.submit_form("restrict_key", "/keys", &fields).await;
    assert_eq!(error_shown(&app.browser, &response).await, "Choose full access or read only.");
    // Every field's mistake at once: the address and the quota.
    let fields = [
        ("key_id", key_id.as_str()),
        ("access", "read"),
        ("allowed_ips", "192.0.2.0/24\nnot-an-address"),
        ("quota_limit", "abc"),
        ("quota_per", "day"),
    ];
    let response = app.submit_form("restrict_key", "/keys", &fields).await;
    let shown = error_shown(&app.browser, &response).await;
    assert!(shown.contains("not-an-address") && shown.contains("\"abc\" is not a number"), "{shown}");

    let listed: Value = app.keys_api(Method::GET, "/v1/keys", None).await.json().await.unwrap();
    assert_eq!(
        (listed[0]["read_only"].as_bool(), listed[0]["allowed_ips"].clone()),
        (Some(false), json!(["192.0.2.0/24"]))
    );
    let unknown_field = app.keys_api(Method::PUT, &path, Some(json!({ "read_only": true, "ips": [] }))).await;
    assert_status(&unknown_field, StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rate_limited_call_is_a_use_of_the_key_and_a_call_from_outside_its_addresses_is_not() {
    let app = spawn_behind_proxy().await;
    app.sign_up("ada@example.com").await;
    let (_, secret) = create_key(&app, json!({ "allowed_ips": ["198.51.100.0/24"] })).await;
    // Starter's burst admits 5 at once and the clock barely moves, so the sixth is refused.
    for _ in 0..5 {
        assert_status(
            &request(&app, Method::GET, "/v1/snapshots", &secret, "198.51.100.7").await,
            StatusCode::OK,
        );
    }
    app.clock.advance(chrono::Duration::milliseconds(1));
    let limited = request(&app, Method::GET, "/v1/snapshots", &secret, "198.51.100.8").await;
    assert_status(&limited, StatusCode::TOO_MANY_REQUESTS);
    app.clock.advance(chrono::Duration::milliseconds(1));
    let outside = request(&app, Method::GET, "/v1/snapshots", &secret, "203.0.113.9").await;
    assert_status(&outside, StatusCode::FORBIDDEN);

    // All three land in one flush; the latest use is the limited call, not the forbidden one.
    eventually(std::time::Duration::from_secs(5), || async {
        let listed: Value = app.keys_api(Method::GET, "/v1/keys", None).await.json().await.unwrap();
        match listed[0]["last_used_from"].as_str() {
            Some("198.51.100.8") => Ok(()),
            _ => Err(format!("the limited call is not the last use: {listed}")),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_keys_page_shows_where_each_secret_was_last_used() {
    let app = spawn_behind_proxy().await;
    app.sign_up("ada@example.com").await;
    let (key_id, old_secret) = create_key(&app, json!({})).await;
    assert_status(
        &request(&app, Method::GET, "/v1/snapshots", &old_secret, "198.51.100.7").await,
        StatusCode::OK,
    );
    let listed = eventually(std::time::Duration::from_secs(5), || async {
        let listed: Value = app.keys_api(Method::GET, "/v1/keys", None).await.json().await.unwrap();
        match listed[0]["last_used_from"].as_str() {
            Some("198.51.100.7") => Ok(listed),
            _ => Err(format!("no last use recorded yet: {listed}")),
        }
    })
    .await;
    assert!(listed[0]["last_used_at"].is_string());

    // Rotated with a grace period: the page tells which machine still sends the old secret.
    let rotate = format!("/v1/keys/{key_id}/rotate");
    app.keys_api(Method::POST, &rotate, Some(json!({ "grace_seconds": 3600 }))).await;
    app.clock.advance(chrono::Duration::seconds(1));
    assert_status(
        &request(&app, Method::GET, "/v1/snapshots", &old_secret, "203.0.113.9").await,
        StatusCode::OK,
    );
    eventually(std::time::Duration::from_secs(5), || async {
        let page = app.get("/keys").await.text().await.unwrap();
        if page.contains("from 203.0.113.9") && page.contains("from 198.51.100.7") {
            Ok(())
        } else {
            Err("the old secret's last use is not on the page yet".to_owned())
        }
    })
    .await;
}
