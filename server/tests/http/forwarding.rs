//! What reaches the upstream through the gateway: the path that was charged, and none of the
//! caller's keystile credentials; and what an upstream may not send back.

use axum::http::HeaderMap;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::gateway::{call, customer_with_key};
use crate::helpers::*;

/// A keystile whose upstream answers with the path, the cookies and the `X-Keystile-*` headers
/// it received, and tries to set keystile's session cookie and one of its own.
async fn behind_an_echo() -> TestApp {
    let upstream = axum::Router::new().fallback(|uri: axum::http::Uri, headers: HeaderMap| async move {
        let cookies: Vec<&str> = headers.get_all("cookie").iter().filter_map(|v| v.to_str().ok()).collect();
        let keystile: serde_json::Map<String, Value> = headers
            .iter()
            .filter(|(name, _)| name.as_str().starts_with("x-keystile-"))
            .map(|(name, value)| (name.to_string(), json!(value.to_str().unwrap_or("?"))))
            .collect();
        let set_cookies = [
            ("set-cookie", "keystile_session=planted; Path=/"),
            ("set-cookie", "upstream_pref=dark; Path=/"),
        ];
        (set_cookies, axum::Json(json!({ "path": uri.path(), "cookies": cookies, "keystile": keystile })))
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, upstream).await });
    spawn_app_with(|settings| settings.upstream_url = Some(format!("http://{address}"))).await
}

async fn scans_used(app: &TestApp, key: &str) -> u64 {
    let limits: Value = call(app, "/v1/limits", Some(key)).await.json().await.unwrap();
    let buckets = limits["buckets"].as_array().unwrap();
    buckets.iter().find(|b| b["name"] == "scans").unwrap()["used"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spelling_of_a_route_is_charged_as_that_route_and_forwarded_as_charged() {
    let app = behind_an_echo().await;
    let (_, _, key) = customer_with_key(&app).await;
    let spellings = [
        ("/v1/sc%61ns", "/v1/scans"),
        ("/v1/x/../scans", "/v1/scans"),
        ("/v1/%2e/sc%41ns", "/v1/scAns"),
        ("/v1/Scans", "/v1/Scans"),
    ];
    for (used_before, (sent, forwarded)) in spellings.into_iter().enumerate() {
        let response = browser().post(app.url(sent)).bearer_auth(&key).send().await.unwrap();
        assert_status(&response, StatusCode::OK);
        let echoed: Value = response.json().await.unwrap();
        assert_eq!(echoed["path"], forwarded, "{sent}");
        assert_eq!(scans_used(&app, &key).await, used_before as u64 + 1, "{sent}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_session_never_reaches_the_upstream_nor_can_it_set_one() {
    let app = behind_an_echo().await;
    let (_, _, key) = customer_with_key(&app).await;
    let response = browser()
        .get(app.url("/v1/snapshots"))
        .bearer_auth(&key)
        .header("cookie", "theme=light; keystile_session=the-callers-session; lang=en")
        .header("cookie", "keystile_session=again")
        .send()
        .await
        .unwrap();
    assert_status(&response, StatusCode::OK);
    let set_cookies: Vec<String> =
        response.headers().get_all("set-cookie").iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert_eq!(
        set_cookies,
        ["upstream_pref=dark; Path=/"],
        "the upstream's own cookie passes, keystile's not"
    );
    let echoed: Value = response.json().await.unwrap();
    assert_eq!(echoed["cookies"], json!(["theme=light; lang=en"]), "other cookies pass");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upstream_is_told_the_verified_caller_and_never_what_the_caller_claims() {
    let app = behind_an_echo().await;
    let (user, key_id, key) = customer_with_key(&app).await;
    let account_id = user.account_id.unwrap();
    let plan = app.services.accounts.account(&account_id).await.unwrap().unwrap().plan_id;
    let claimed = [
        ("x-keystile-account-id", "acct_someone_else"),
        ("X-Keystile-Plan", "enterprise"),
        ("x-keystile-admin", "yes"),
    ];
    let send = |key: Option<&str>| {
        let mut request = browser().get(app.url("/v1/check?name=acme"));
        for (name, value) in claimed {
            request = request.header(name, value);
        }
        if let Some(key) = key {
            request = request.bearer_auth(key);
        }
        request.send()
    };

    let keyed: Value = send(Some(&key)).await.unwrap().json().await.unwrap();
    assert_eq!(
        keyed["keystile"],
        json!({ "x-keystile-account-id": account_id, "x-keystile-key-id": key_id, "x-keystile-plan": plan }),
        "only the gateway's word on who is calling"
    );
    let anonymous: Value = send(None).await.unwrap().json().await.unwrap();
    assert_eq!(anonymous["keystile"], json!({}), "an anonymous call names no one");
}
