//! The API description served at `/openapi.json` (`public/openapi.json`) against the real API:
//! every answer below must be one the description documents for its operation and status, with
//! a body its schema accepts, and every documented status is met at least once.

use std::collections::BTreeSet;

use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use services::accounts::Role;

use crate::helpers::*;

const DESCRIPTION: &str = include_str!("../../../public/openapi.json");

/// The description, and the (operation, status) pairs the test has checked.
struct Described {
    document: Value,
    met: BTreeSet<(String, u16)>,
}

impl Described {
    fn load() -> Self {
        let document: Value = serde_json::from_str(DESCRIPTION).expect("public/openapi.json is JSON");
        assert_eq!(document["openapi"], "3.1.0");
        Described { document, met: BTreeSet::new() }
    }

    /// Sends `request`, an operation on `template` (`/v1/keys/{id}`), and checks the answer
    /// against the description: documented status, documented content type, body valid. Returns
    /// the status and body.
    async fn send(&mut self, method: Method, template: &str, request: RequestBuilder) -> (StatusCode, Value) {
        let response = request.send().await.unwrap();
        let status = response.status();
        let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_owned());
        let text = response.text().await.unwrap();
        let operation = &self.document["paths"][template][method.as_str().to_lowercase()];
        assert!(operation.is_object(), "{method} {template} is not described");
        let documented = self.resolve(&operation["responses"][status.as_str()]);
        assert!(
            documented.is_object(),
            "{method} {template} answered {status}, which is not described: {text}"
        );
        let content_type = content_type.unwrap_or_default();
        let schema = &documented["content"][&content_type]["schema"];
        assert!(schema.is_object(), "{method} {template} {status}: {content_type} is not described");
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
        self.assert_valid(schema, &body, &format!("{method} {template} {status}"));
        self.met.insert((format!("{method} {template}"), status.as_u16()));
        (status, body)
    }

    /// A response object, following its `$ref` into `components`.
    fn resolve<'a>(&'a self, object: &'a Value) -> &'a Value {
        match object["$ref"].as_str().and_then(|path| path.strip_prefix('#')) {
            Some(pointer) => self.document.pointer(pointer).unwrap_or(&Value::Null),
            None => object,
        }
    }

    fn assert_valid(&self, schema: &Value, body: &Value, what: &str) {
        // The schema's `$ref`s point into the document's components: give it them.
        let mut root = schema.clone();
        root["components"] = self.document["components"].clone();
        let validator = jsonschema::validator_for(&root).expect("a valid schema");
        let errors: Vec<String> = validator.iter_errors(body).map(|error| error.to_string()).collect();
        assert!(errors.is_empty(), "{what}: the body does not match the description: {errors:?}\n{body}");
    }

    /// Every status the description documents, except a limiter store outage's 503.
    fn documented_statuses(&self) -> BTreeSet<u16> {
        let paths = self.document["paths"].as_object().unwrap();
        paths
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .filter_map(|operation| operation["responses"].as_object())
            .flat_map(|responses| responses.keys().map(|status| status.parse::<u16>().unwrap()))
            .filter(|status| *status != 503)
            .collect()
    }

    fn operations(&self) -> BTreeSet<String> {
        let paths = self.document["paths"].as_object().unwrap();
        paths
            .iter()
            .flat_map(|(template, item)| {
                item.as_object()
                    .unwrap()
                    .keys()
                    .filter(|method| *method != "parameters")
                    .map(move |method| format!("{} {template}", method.to_uppercase()))
            })
            .collect()
    }
}

impl TestApp {
    fn with_key(&self, path: &str, secret: &str) -> RequestBuilder {
        browser().get(self.url(path)).bearer_auth(secret)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_of_the_api_is_the_one_its_description_documents() {
    let app = spawn_app().await;
    let mut api = Described::load();
    let (get, post) = (Method::GET, Method::POST);
    let keys = "/v1/keys";
    let key = "/v1/keys/{id}";

    api.send(get.clone(), keys, app.dashboard_request(get.clone(), keys)).await;
    app.signed_up("ada@example.com").await;
    api.send(get.clone(), keys, app.dashboard_request(get.clone(), keys)).await;
    let created =
        app.dashboard_request(post.clone(), keys).json(&json!({ "name": "CI", "expires_in_days": 30 }));
    let (status, created) = api.send(post.clone(), keys, created).await;
    assert_eq!(status, StatusCode::CREATED);
    let (id, secret) = (created["key"]["id"].as_str().unwrap(), created["secret"].as_str().unwrap());
    let this_key = format!("/v1/keys/{id}");
    let not_json =
        app.dashboard_request(post.clone(), keys).header("content-type", "application/json").body("{");
    assert_eq!(api.send(post.clone(), keys, not_json).await.0, StatusCode::BAD_REQUEST);
    let no_type = app.dashboard_request(post.clone(), keys).body(r#"{"name": "CI"}"#);
    assert_eq!(api.send(post.clone(), keys, no_type).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    for refused in [
        json!({ "name": " " }),
        json!({ "nmae": "CI" }),
        json!({ "name": "CI", "allowed_ips": ["nowhere"] }),
        json!({ "name": "CI", "quota": { "limit": 0, "per": "day" } }),
        json!({ "name": "CI", "quota": { "limit": 10, "per": "week" } }),
    ] {
        let request = app.dashboard_request(post.clone(), keys).json(&refused);
        assert_eq!(api.send(post.clone(), keys, request).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    }

    api.send(get.clone(), key, app.dashboard_request(get.clone(), &this_key)).await;
    let unknown = app.dashboard_request(get.clone(), "/v1/keys/key_unknown");
    assert_eq!(api.send(get.clone(), key, unknown).await.0, StatusCode::NOT_FOUND);
    let unreadable = app.dashboard_request(get.clone(), "/v1/keys/%FF");
    assert_eq!(api.send(get.clone(), key, unreadable).await.0, StatusCode::BAD_REQUEST);
    // key_mgmt takes 10 changes a minute: a new minute for the next ten.
    app.clock.advance(chrono::Duration::minutes(1));
    let renamed = app.dashboard_request(Method::PATCH, &this_key).json(&json!({ "name": "CI runner" }));
    api.send(Method::PATCH, key, renamed).await;
    let restrictions = format!("{this_key}/restrictions");
    for allowed_ips in [json!(["192.0.2.0/24"]), json!([])] {
        let quota = json!({ "limit": 1000, "per": "month" });
        let restricted = app
            .dashboard_request(Method::PUT, &restrictions)
            .json(&json!({ "allowed_ips": allowed_ips, "quota": quota }));
        let (_, restricted) = api.send(Method::PUT, "/v1/keys/{id}/restrictions", restricted).await;
        assert_eq!(restricted["quota"], quota);
        if allowed_ips != json!([]) {
            let outside = app.with_key("/v1/limits", secret);
            assert_eq!(api.send(get.clone(), "/v1/limits", outside).await.0, StatusCode::FORBIDDEN);
        }
    }
    let rotate = app
        .dashboard_request(post.clone(), &format!("{this_key}/rotate"))
        .json(&json!({ "grace_seconds": 60 }));
    let (_, rotated) = api.send(post.clone(), "/v1/keys/{id}/rotate", rotate).await;
    assert_eq!(rotated["key"]["status"], "rotating");
    let secret = rotated["secret"].as_str().unwrap();
    for change in ["disable", "enable"] {
        let path = format!("{this_key}/{change}");
        api.send(
            post.clone(),
            &format!("/v1/keys/{{id}}/{change}"),
            app.dashboard_request(post.clone(), &path),
        )
        .await;
    }

    // The key's own endpoints.
    let (status, limits) = api.send(get.clone(), "/v1/limits", app.with_key("/v1/limits", secret)).await;
    assert_eq!((status, limits["buckets"].as_array().map(Vec::is_empty)), (StatusCode::OK, Some(false)));
    let anonymous = browser().get(app.url("/v1/limits"));
    assert_eq!(api.send(get.clone(), "/v1/limits", anonymous).await.0, StatusCode::UNAUTHORIZED);
    let usage = "/v1/usage";
    api.send(get.clone(), usage, app.with_key("/v1/usage?group_by=key", secret)).await;
    api.send(get.clone(), usage, app.with_key(usage, secret)).await;
    api.send(get.clone(), usage, browser().get(app.url("/v1/usage?group_by=key"))).await;
    // Starter's burst admits 5 at once; the test clock stands still.
    for _ in 0..5 {
        let status = api.send(get.clone(), usage, app.with_key("/v1/usage?group_by=key", secret)).await.0;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
        assert_eq!(status, StatusCode::OK);
    }

    api.send(Method::DELETE, key, app.dashboard_request(Method::DELETE, &this_key)).await;
    let revoked = app.dashboard_request(post.clone(), &format!("{this_key}/disable"));
    assert_eq!(
        api.send(post.clone(), "/v1/keys/{id}/disable", revoked).await.0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // Renames until key_mgmt is spent (a revoked key may still be renamed).
    let mut status = StatusCode::OK;
    for n in 0..10 {
        let renamed =
            app.dashboard_request(Method::PATCH, &this_key).json(&json!({ "name": format!("CI {n}") }));
        status = api.send(Method::PATCH, key, renamed).await.0;
        if status == StatusCode::TOO_MANY_REQUESTS {
            break;
        }
    }
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    // An operator has no keys of their own.
    app.services.accounts.create_operator("ops@example.com", PASSWORD.into(), Role::Admin).await.unwrap();
    app.log_in("ops@example.com", PASSWORD, "/admin").await;
    let operator = app.dashboard_request(get.clone(), keys);
    assert_eq!(api.send(get.clone(), keys, operator).await.0, StatusCode::FORBIDDEN);

    let met_statuses: BTreeSet<u16> = api.met.iter().map(|(_, status)| *status).collect();
    assert_eq!(met_statuses, api.documented_statuses(), "a documented status the test never met");
    let met_operations: BTreeSet<String> = api.met.iter().map(|(operation, _)| operation.clone()).collect();
    assert_eq!(met_operations, api.operations(), "an operation the test never called");
}
