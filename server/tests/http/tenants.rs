//! Tenant isolation through the server functions: every function that takes an id, called by
//! another account's user with this account's ids, is refused and changes nothing.

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::Value;

use crate::helpers::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_accounts_ids_are_refused_and_nothing_changes() {
    let app = spawn_app().await;
    let ada = app.services.accounts.sign_up("ada@example.com", PASSWORD.into(), "").await.unwrap();
    let key = app.services.keys.create(&ada, "Production", None, Default::default()).await.unwrap();
    let before = app.services.keys.list(ada.account_id.as_deref().unwrap()).await.unwrap();
    app.sign_up("mallory@example.com").await;

    let call = |function: &'static str, fields: Vec<(&'static str, String)>| {
        let url = app.url(&format!("/api/{function}"));
        let browser = app.browser.clone();
        async move { browser.post(url).form(&fields).send().await.unwrap() }
    };
    let id = key.key.id.clone();
    for (function, fields) in [
        ("rotate_key", vec![("key_id", id.clone()), ("grace", "now".to_owned())]),
        ("revoke_key", vec![("key_id", id.clone()), ("confirm_name", "Production".to_owned())]),
    ] {
        let response = call(function, fields).await;
        assert!(response.status().is_client_error(), "{function}: {}", response.status());
        assert_ne!(response.status(), StatusCode::UNAUTHORIZED, "{function} should see a signed-in user");
    }
    for (function, fields) in
        [("load_overview", vec![("key_id", id.clone())]), ("load_usage", vec![("key_id", id.clone())])]
    {
        let body: Value = call(function, fields).await.json().await.unwrap();
        assert!(!body.to_string().contains(&id), "{function} showed another account's key: {body}");
    }

    let after = app.services.keys.list(ada.account_id.as_deref().unwrap()).await.unwrap();
    assert_eq!(before, after, "another account's calls changed the keys");
    let still_works =
        browser().get(app.url("/v1/limits")).bearer_auth(key.secret.expose_secret()).send().await.unwrap();
    assert_status(&still_works, StatusCode::OK);
}
