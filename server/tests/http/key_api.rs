//! `/v1/keys`: the session-authenticated key management API.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

impl TestApp {
    /// A request to the session API, from the dashboard's own origin.
    pub(crate) fn dashboard_request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.browser
            .request(method, self.url(path))
            .header("origin", &self.address)
            .header("sec-fetch-site", "same-origin")
    }

    pub(crate) async fn keys_api(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let mut request = self.dashboard_request(method, path);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    /// Creates a key through the API: the created key and its secret, as JSON.
    pub(crate) async fn create_key(&self, name: &str) -> Value {
        self.keys_api(reqwest::Method::POST, "/v1/keys", Some(json!({ "name": name })))
            .await
            .json()
            .await
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_api_needs_a_dashboard_session() {
    let app = spawn_app().await;
    let response = app.keys_api(reqwest::Method::GET, "/v1/keys", None).await;
    assert_status(&response, StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_created_through_the_api_works_until_revoked() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let created = app.keys_api(reqwest::Method::POST, "/v1/keys", Some(json!({"name": "CI"}))).await;
    assert_status(&created, StatusCode::CREATED);
    let created: Value = created.json().await.unwrap();
    let secret = created["secret"].as_str().unwrap().to_owned();
    let key_id = created["key"]["id"].as_str().unwrap().to_owned();
    assert_eq!(created["key"]["status"], "active");

    let listed: Value = app.keys_api(reqwest::Method::GET, "/v1/keys", None).await.json().await.unwrap();
    assert_eq!(listed[0]["id"], key_id.as_str());
    assert!(!listed.to_string().contains(&secret), "the list never carries secrets");

    let limits = browser().get(app.url("/v1/limits")).bearer_auth(&secret).send().await.unwrap();
    assert_status(&limits, StatusCode::OK);
    let one = app.keys_api(reqwest::Method::GET, &format!("/v1/keys/{key_id}"), None).await;
    assert_status(&one, StatusCode::OK);
    assert!(one.headers().contains_key("ratelimit-remaining"), "{:?}", one.headers());
    let one: Value = one.json().await.unwrap();
    assert_eq!(one, listed[0], "one key reads as it does in the list");

    let revoked = app.keys_api(reqwest::Method::DELETE, &format!("/v1/keys/{key_id}"), None).await;
    assert_status(&revoked, StatusCode::OK);
    let one: Value =
        app.keys_api(reqwest::Method::GET, &format!("/v1/keys/{key_id}"), None).await.json().await.unwrap();
    assert_eq!(one["status"], "revoked");
    let limits = browser().get(app.url("/v1/limits")).bearer_auth(&secret).send().await.unwrap();
    assert_status(&limits, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renaming_keeps_the_secret_working_and_is_audited() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let created = app.create_key("CI").await;
    let secret = created["secret"].as_str().unwrap().to_owned();
    let path = format!("/v1/keys/{}", created["key"]["id"].as_str().unwrap());

    let renamed = app.keys_api(reqwest::Method::PATCH, &path, Some(json!({"name": " Nightly build "}))).await;
    assert_status(&renamed, StatusCode::OK);
    let renamed: Value = renamed.json().await.unwrap();
    assert_eq!(
        (renamed["name"].as_str(), renamed["status"].as_str()),
        (Some("Nightly build"), Some("active"))
    );
    let limits = browser().get(app.url("/v1/limits")).bearer_auth(&secret).send().await.unwrap();
    assert_status(&limits, StatusCode::OK);

    let empty = app.keys_api(reqwest::Method::PATCH, &path, Some(json!({"name": ""}))).await;
    assert_status(&empty, StatusCode::UNPROCESSABLE_ENTITY);
    let listed: Value = app.keys_api(reqwest::Method::GET, "/v1/keys", None).await.json().await.unwrap();
    assert_eq!(listed[0]["name"], "Nightly build", "a refused rename changes nothing");

    let user = app.services.accounts.user_by_email("ada@example.com").await.unwrap().unwrap();
    let log =
        services::audit::for_account(&app.services.db, user.account_id.as_deref().unwrap(), 5).await.unwrap();
    let renames: Vec<_> = log.iter().filter(|entry| entry.action == "key.rename").collect();
    assert_eq!(renames.len(), 1, "one rename, none for the refused one");
    assert!(renames[0].before.as_deref().unwrap().contains(r#"name="CI""#));
    assert!(renames[0].after.as_deref().unwrap().contains(r#"name="Nightly build""#));
    assert!(!log.iter().any(|entry| format!("{entry:?}").contains(&secret)), "no secret in the audit log");

    // The dashboard's form does the same, without JavaScript.
    let key_id = created["key"]["id"].as_str().unwrap();
    let response = app.submit_form("rename_key", "/keys", &[("key_id", key_id), ("name", "Deploys")]).await;
    assert!(!location(&response).contains("__err"), "{}", location(&response));
    let page = app.get("/keys").await.text().await.unwrap();
    assert!(page.contains("Deploys") && !page.contains("Nightly build"));

    // The audit log names each entry's key as it is called now, not by its id.
    let start = created["key"]["start"].as_str().unwrap();
    let audit = crate::admin::audit_log(&app, false, "", "key.").await;
    let entries = audit.as_array().unwrap();
    assert_eq!(entries.len(), 3, "create and two renames: {audit}");
    for entry in entries {
        assert_eq!(entry["target"], key_id);
        assert_eq!(entry["target_label"].as_str(), Some(format!("Deploys ({start}…)").as_str()), "{entry}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_get_a_clear_4xx() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let not_json = app
        .browser
        .post(app.url("/v1/keys"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_status(&not_json, StatusCode::BAD_REQUEST);
    // Refused before the service or by it, an answer to a signed-in user carries the user's
    // key_mgmt bucket, and a problem has one shape: the policy's type, one title per code, a
    // request id in the body and the header.
    assert_eq!(not_json.headers()["ratelimit-limit"], "10");
    let header_id = not_json.headers()["x-request-id"].to_str().unwrap().to_owned();
    let problem: Value = not_json.json().await.unwrap();
    assert_eq!(problem["type"], "https://api.regsn.app/problems/invalid_request");
    assert_eq!(problem["title"], "Invalid request");
    assert_eq!(problem["request_id"], header_id.as_str());
    let unknown_field = app.keys_api(reqwest::Method::POST, "/v1/keys", Some(json!({"nme": "CI"}))).await;
    assert_status(&unknown_field, StatusCode::UNPROCESSABLE_ENTITY);
    let empty_name = app.keys_api(reqwest::Method::POST, "/v1/keys", Some(json!({"name": "  "}))).await;
    assert_status(&empty_name, StatusCode::UNPROCESSABLE_ENTITY);
    let refused_by_service: Value = empty_name.json().await.unwrap();
    assert_eq!(
        (&refused_by_service["type"], &refused_by_service["title"]),
        (&problem["type"], &problem["title"])
    );
    let oversized =
        app.keys_api(reqwest::Method::POST, "/v1/keys", Some(json!({"name": "x".repeat(100 * 1024)}))).await;
    assert_status(&oversized, StatusCode::PAYLOAD_TOO_LARGE);
    // The rest of the body is unread: the connection closes, so the next request takes a new one.
    assert_eq!(oversized.headers()["connection"], "close");
    let problem: Value = oversized.json().await.unwrap();
    assert_eq!(problem["code"], "body_too_large");
    assert_eq!(problem["detail"], "The body is over 64 KiB, the most this endpoint accepts.");
    for days in ["3651", "100000000", "4294967295"] {
        let body = json!({"name": "CI", "expires_in_days": days.parse::<u32>().unwrap()});
        let far = app.keys_api(reqwest::Method::POST, "/v1/keys", Some(body)).await;
        assert_status(&far, StatusCode::UNPROCESSABLE_ENTITY);
        let from_page =
            app.call(&app.browser, "create_key", &[("name", "CI"), ("expires_in_days", days)]).await;
        assert_status(&from_page, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(from_page.text().await.unwrap().contains("at most 3650 days away"));
    }
    for path in ["/v1/keys/%FF/rotate", "/v1/keys/%C3%28"] {
        let method = if path.ends_with("rotate") { reqwest::Method::POST } else { reqwest::Method::DELETE };
        let bad_id = app.keys_api(method, path, Some(json!({}))).await;
        assert_status(&bad_id, StatusCode::BAD_REQUEST);
        assert_eq!(bad_id.headers()["content-type"], "application/problem+json", "{path}");
        assert_eq!(bad_id.headers()["ratelimit-limit"], "10", "{path}");
    }
    // A key id longer than any file name: the same problem shape as any unknown key.
    let overlong = app.keys_api(reqwest::Method::GET, &format!("/v1/keys/{}", "a".repeat(256)), None).await;
    assert_status(&overlong, StatusCode::NOT_FOUND);
    assert_eq!(overlong.headers()["content-type"], "application/problem+json");
    assert!(overlong.headers().contains_key("x-request-id"));
    let wrong_method = app.keys_api(reqwest::Method::PUT, "/v1/keys", Some(json!({"name": "CI"}))).await;
    assert_status(&wrong_method, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong_method.headers()["allow"], "GET,HEAD,POST");
    assert_eq!(wrong_method.headers()["ratelimit-limit"], "10");
    let header_id = wrong_method.headers()["x-request-id"].to_str().unwrap().to_owned();
    let problem: Value = wrong_method.json().await.unwrap();
    assert_eq!((&problem["code"], &problem["request_id"]), (&json!("method_not_allowed"), &json!(header_id)));
    let listed: Value = app.keys_api(reqwest::Method::GET, "/v1/keys", None).await.json().await.unwrap();
    assert_eq!(listed, json!([]), "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_key_is_not_found_and_untouched() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let created = app.create_key("CI").await;
    let key_id = created["key"]["id"].as_str().unwrap().to_owned();
    app.log_out().await;
    app.sign_up("mallory@example.com").await;
    let read = app.keys_api(reqwest::Method::GET, &format!("/v1/keys/{key_id}"), None).await;
    assert_status(&read, StatusCode::NOT_FOUND);
    assert_eq!(read.headers()["content-type"], "application/problem+json");
    let revoke = app.keys_api(reqwest::Method::DELETE, &format!("/v1/keys/{key_id}"), None).await;
    assert_status(&revoke, StatusCode::NOT_FOUND);
    let rename = app
        .keys_api(reqwest::Method::PATCH, &format!("/v1/keys/{key_id}"), Some(json!({"name": "mine"})))
        .await;
    assert_status(&rename, StatusCode::NOT_FOUND);
    let secret = created["secret"].as_str().unwrap();
    let limits = browser().get(app.url("/v1/limits")).bearer_auth(secret).send().await.unwrap();
    assert_status(&limits, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eleventh_key_change_in_a_minute_gets_429_with_retry_after() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    for n in 0..10 {
        let response =
            app.keys_api(reqwest::Method::POST, "/v1/keys", Some(json!({"name": format!("key {n}")}))).await;
        assert_status(&response, StatusCode::CREATED);
        // Seed 002: every response carries the draft-7 headers, here for key_mgmt (10 a minute).
        assert_eq!(response.headers()["ratelimit-limit"], "10");
        assert_eq!(response.headers()["ratelimit-remaining"], (9 - n).to_string().as_str());
    }
    let listed = app.keys_api(reqwest::Method::GET, "/v1/keys", None).await;
    assert_eq!(listed.headers()["ratelimit-remaining"], "0", "listing reads the bucket, charges nothing");
    let refused = app.keys_api(reqwest::Method::POST, "/v1/keys", Some(json!({"name": "one more"}))).await;
    assert_status(&refused, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(refused.headers()["content-type"], "application/problem+json");
    assert_eq!(refused.headers()["ratelimit-remaining"], "0");
    let request_id = refused.headers()["x-request-id"].to_str().unwrap().to_owned();
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["status"], 429);
    assert_eq!(problem["code"], "rate_limit_exceeded");
    assert_eq!(problem["request_id"], request_id.as_str());
    assert!(
        problem["type"].as_str().unwrap().starts_with("https://"),
        "the policy's problem type: {problem}"
    );
    assert!(problem["detail"].as_str().unwrap().contains("key_mgmt"), "{problem}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_key_change_is_refused() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let response = app
        .browser
        .post(app.url("/v1/keys"))
        .header("sec-fetch-site", "cross-site")
        .json(&json!({"name": "evil"}))
        .send()
        .await
        .unwrap();
    assert_status(&response, StatusCode::FORBIDDEN);
    // In the key API's problem shape, with its request id.
    let header_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let problem: Value = response.json().await.unwrap();
    assert_eq!((&problem["code"], &problem["request_id"]), (&json!("forbidden"), &json!(header_id)));
    let listed: Value = app.keys_api(reqwest::Method::GET, "/v1/keys", None).await.json().await.unwrap();
    assert_eq!(listed, json!([]), "nothing was created");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_dashboard_answer_may_be_stored_by_a_cache_but_static_files_may() {
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let no_store = |response: &reqwest::Response| {
        response.headers().get("cache-control").is_some_and(|value| value == "no-store")
    };
    let created = app.keys_api(reqwest::Method::POST, "/v1/keys", Some(json!({"name": "CI"}))).await;
    assert_status(&created, StatusCode::CREATED);
    assert!(no_store(&created), "the one-time secret: {:?}", created.headers());
    for (method, path) in [
        (reqwest::Method::GET, "/v1/keys"),
        (reqwest::Method::PUT, "/v1/keys"),
        (reqwest::Method::GET, "/keys"),
    ] {
        let response = app.dashboard_request(method.clone(), path).send().await.unwrap();
        assert!(no_store(&response), "{method} {path}: {:?}", response.headers());
    }
    let asset = app.browser.get(app.url("/pkg/keystile.css")).send().await.unwrap();
    assert!(!no_store(&asset), "{:?}", asset.headers());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restrictions_are_lifted_only_when_a_body_says_so() {
    use reqwest::Method;
    let app = spawn_app().await;
    app.sign_up("ada@example.com").await;
    let created = app.create_key("CI").await;
    let id = created["key"]["id"].as_str().unwrap();
    let path = format!("/v1/keys/{id}/restrictions");
    let restricted = json!({"read_only": true, "allowed_ips": ["203.0.113.0/24"]});
    assert_status(&app.keys_api(Method::PUT, &path, Some(restricted)).await, StatusCode::OK);

    // No body is not "no restrictions": it is refused, and so is a blank or doubled entry.
    let empty = app.dashboard_request(Method::PUT, &path).send().await.unwrap();
    assert_status(&empty, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    for entries in [json!([""]), json!(["  "]), json!(["203.0.113.7, 198.51.100.1"])] {
        let refused = app.keys_api(Method::PUT, &path, Some(json!({"allowed_ips": entries}))).await;
        assert_status(&refused, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let key: Value = app.keys_api(Method::GET, &format!("/v1/keys/{id}"), None).await.json().await.unwrap();
    assert_eq!((&key["read_only"], &key["allowed_ips"]), (&json!(true), &json!(["203.0.113.0/24"])));

    // Rotating takes its defaults from no body at all.
    let rotated = app.dashboard_request(Method::POST, &format!("/v1/keys/{id}/rotate")).send().await.unwrap();
    assert_status(&rotated, StatusCode::OK);
}
