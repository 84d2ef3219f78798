//! The gateway over HTTP: keys, buckets, refusals, headers, streams and uploads. Several nodes
//! sharing one store: `nodes.rs`.

use std::time::Duration;

use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use services::accounts::User;

use crate::helpers::*;

pub async fn customer_with_key(app: &TestApp) -> (User, String, String) {
    let email = format!("dev-{}@example.com", services::ids::random_base62(8).to_lowercase());
    let user =
        app.services.accounts.sign_up(&email, secrecy::SecretString::from(PASSWORD), "").await.unwrap();
    let created = app.services.keys.create(&user, "test key", None, Default::default()).await.unwrap();
    (user, created.key.id, created.secret.expose_secret().to_owned())
}

pub async fn call(app: &TestApp, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut request = browser().get(app.url(path));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

/// The body without its request id, which differs on every response by design.
async fn problem_without_request_id(response: reqwest::Response) -> Value {
    let mut body: Value = response.json().await.unwrap();
    body.as_object_mut().unwrap().remove("request_id");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_route_without_a_key_gets_401() {
    let app = spawn_app().await;
    let response = call(&app, "/v1/snapshots/s1", None).await;
    assert_status(&response, StatusCode::UNAUTHORIZED);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    assert_eq!(problem_without_request_id(response).await["code"], "api_key_required");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_unknown_revoked_expired_and_disabled_keys_get_one_identical_401() {
    let app = spawn_app().await;
    let (user, key_id, revoked) = customer_with_key(&app).await;
    app.services.keys.revoke(&user, &key_id).await.unwrap();
    let expiring = app
        .services
        .keys
        .create(
            &user,
            "short-lived",
            Some(limiter::Clock::now(&app.clock) + chrono::Duration::minutes(1)),
            Default::default(),
        )
        .await
        .unwrap();
    let disabled = app.services.keys.create(&user, "paused", None, Default::default()).await.unwrap();
    app.services.keys.set_disabled(&user, &disabled.key.id, true).await.unwrap();
    app.clock.advance(chrono::Duration::minutes(2));
    let unknown = app.services.keys.format().generate().secret;

    let mut bodies = Vec::new();
    for key in
        ["not-a-key", &unknown, &revoked, expiring.secret.expose_secret(), disabled.secret.expose_secret()]
    {
        let response = call(&app, "/v1/snapshots/s1", Some(key)).await;
        assert_status(&response, StatusCode::UNAUTHORIZED);
        bodies.push(problem_without_request_id(response).await);
    }
    assert!(bodies.windows(2).all(|pair| pair[0] == pair[1]), "{bodies:#?}");
    assert_eq!(bodies[0]["code"], "invalid_api_key");
    // The one body fits each case: a disabled key's owner is not told to replace it.
    assert!(bodies[0]["detail"].as_str().unwrap().contains("unknown, revoked, expired or disabled"));

    // A working key beside a second one (the same one, even): the gateway does not guess which
    // is meant, and says that this is the mistake, not the key.
    let (_, _, working) = customer_with_key(&app).await;
    for second in ["not-a-key", working.as_str()] {
        let two_keys = browser()
            .get(app.url("/v1/snapshots/s1"))
            .header("authorization", format!("Bearer {working}"))
            .header("x-api-key", second)
            .send()
            .await
            .unwrap();
        assert_status(&two_keys, StatusCode::BAD_REQUEST);
        let body = problem_without_request_id(two_keys).await;
        assert_eq!(body["code"], "several_api_keys", "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_lists_every_bucket_and_charges_nothing() {
    let app = spawn_app().await;
    let (_, _, key) = customer_with_key(&app).await;
    let first: Value = call(&app, "/v1/limits", Some(&key)).await.json().await.unwrap();
    let second: Value = call(&app, "/v1/limits", Some(&key)).await.json().await.unwrap();
    let names: Vec<&str> =
        first["buckets"].as_array().unwrap().iter().map(|b| b["name"].as_str().unwrap()).collect();
    for expected in ["monthly", "burst", "daily_cap", "reads", "scans", "exports"] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    assert_eq!(first, second, "reading the limits charged something");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reads_bucket_admits_exactly_its_limit_then_refuses_with_problem_json() {
    let app = spawn_app().await;
    let (_, _, key) = customer_with_key(&app).await;
    // Starter's burst (5/s) would refuse first; step the clock a second every 5 requests.
    for n in 0..60 {
        if n % 5 == 0 {
            app.clock.advance(chrono::Duration::seconds(1));
        }
        let response = call(&app, "/v1/snapshots/s1", Some(&key)).await;
        assert_ne!(response.status(), StatusCode::TOO_MANY_REQUESTS, "request {n} refused");
    }
    app.clock.advance(chrono::Duration::seconds(1));
    let refused = call(&app, "/v1/snapshots/s1", Some(&key)).await;
    assert_status(&refused, StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key("retry-after"));
    assert_eq!(refused.headers()["content-type"], "application/problem+json");
    let request_id = refused.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["status"], 429);
    assert!(body["detail"].as_str().unwrap().contains("reads"), "{body}");
    assert_eq!(body["request_id"], request_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_the_request_id_that_the_upstream_was_sent() {
    // An upstream that answers with the request id it received.
    let upstream = axum::Router::new().fallback(|headers: axum::http::HeaderMap| async move {
        headers.get("x-request-id").map_or(String::new(), |id| id.to_str().unwrap_or("").to_owned())
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, upstream).await });
    let app = spawn_app_with(|settings| settings.upstream_url = Some(format!("http://{address}"))).await;
    let (_, _, key) = customer_with_key(&app).await;

    // A caller's own X-Request-Id is replaced: the gateway's id is the one its logs know.
    let admitted = browser()
        .get(app.url("/v1/snapshots"))
        .bearer_auth(&key)
        .header("x-request-id", "mine")
        .send()
        .await
        .unwrap();
    assert_status(&admitted, StatusCode::OK);
    let id = admitted.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(id.starts_with("req_"), "{id}");
    assert_eq!(admitted.text().await.unwrap(), id, "the upstream was sent another id");

    let refused = call(&app, "/v1/snapshots", Some("not-a-key")).await;
    assert_status(&refused, StatusCode::UNAUTHORIZED);
    let refused_id = refused.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_ne!(refused_id, id, "ids are per request");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["request_id"], refused_id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_method_on_the_gateways_own_endpoints_is_a_405_problem_with_its_request_id() {
    let app = spawn_app().await;
    let (_, _, key) = customer_with_key(&app).await;
    for path in ["/v1/limits", "/v1/usage?group_by=key"] {
        let response = browser().post(app.url(path)).bearer_auth(&key).send().await.unwrap();
        assert_status(&response, StatusCode::METHOD_NOT_ALLOWED);
        assert!(response.headers()["allow"].to_str().unwrap().contains("GET"), "{path}");
        assert_eq!(response.headers()["content-type"], "application/problem+json");
        let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "method_not_allowed", "{path}");
        assert_eq!(body["request_id"], id, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_use_is_recorded_in_batches_not_per_request() {
    let app = spawn_app().await;
    let (user, _, key) = customer_with_key(&app).await;
    assert_status(&call(&app, "/v1/limits", Some(&key)).await, StatusCode::OK);
    let account_id = user.account_id.unwrap();
    // The gateway writes last-used times once a second; wait for that flush, no longer.
    eventually(Duration::from_secs(5), || async {
        let keys = app.services.keys.list(&account_id).await.unwrap();
        keys[0].last_used_at.map(|_| ()).ok_or_else(|| "last use was never recorded".to_owned())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admitted_requests_carry_the_policys_rate_limit_headers() {
    let app = spawn_app().await;
    let (_, _, key) = customer_with_key(&app).await;
    // Seed 002's draft-7 headers on a keyed read.
    let read = call(&app, "/v1/snapshots/s1", Some(&key)).await;
    for name in ["ratelimit-limit", "ratelimit-remaining", "ratelimit-reset"] {
        assert!(read.headers().contains_key(name), "{name} missing: {:?}", read.headers());
    }
    // Seed 001's X-RateLimit-* on an anonymous public route: 10 an hour per address.
    let public = call(&app, "/v1/check?name=acme", None).await;
    assert_eq!(public.headers()["x-ratelimit-limit"], "10");
    assert_eq!(public.headers()["x-ratelimit-remaining"], "9");
    assert_eq!(public.headers()["x-ratelimit-policy"], "tier=public;limit=10;window=hour");
    // Every answer of a public endpoint carries the upgrade link, a keyed one too; a keyed
    // read of a route that is not public does not.
    assert_eq!(public.headers()["x-upgrade-url"], "https://igregulator.io/pricing");
    let keyed = call(&app, "/v1/check?name=acme", Some(&key)).await;
    assert_eq!(keyed.headers()["x-upgrade-url"], "https://igregulator.io/pricing");
    assert!(!read.headers().contains_key("x-upgrade-url"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_eleventh_anonymous_call_in_an_hour_waits_for_the_top_of_the_hour() {
    let app = spawn_app().await;
    for _ in 0..10 {
        assert_ne!(call(&app, "/v1/jurisdictions", None).await.status(), StatusCode::TOO_MANY_REQUESTS);
    }
    let refused = call(&app, "/v1/jurisdictions", None).await;
    assert_status(&refused, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after <= 3600, "{retry_after}");
    assert_eq!(refused.headers()["x-ratelimit-remaining"], "0");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["code"], "rate_limited", "seed 001's body: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anonymous_searches_get_at_most_three_rows_keyed_ones_what_they_ask() {
    let app = spawn_app().await;
    let anonymous: Value = call(&app, "/v1/operators/search?limit=50", None).await.json().await.unwrap();
    assert_eq!(anonymous["count"], 3, "{anonymous}");
    let (_, _, key) = customer_with_key(&app).await;
    let keyed: Value = call(&app, "/v1/operators/search?limit=50", Some(&key)).await.json().await.unwrap();
    assert!(keyed["count"].as_u64().unwrap() > 3, "{keyed}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scans_event_stream_flows_through_the_gateway_event_by_event_and_costs_nothing() {
    use futures_util::StreamExt;
    let app = spawn_app().await;
    let (_, _, key) = customer_with_key(&app).await;
    let scan: Value = browser()
        .post(app.url("/v1/scans"))
        .bearer_auth(&key)
        .json(&serde_json::json!({"jurisdictions": ["UK"], "areas": ["AML"], "horizon": 12}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let before: Value = call(&app, "/v1/limits", Some(&key)).await.json().await.unwrap();

    let stream = call(&app, &format!("/v1/scans/{}/stream", scan["id"].as_str().unwrap()), Some(&key)).await;
    if stream.status() != StatusCode::OK {
        panic!("{} {}", stream.status(), stream.text().await.unwrap());
    }
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut chunks = stream.bytes_stream();
    let first = String::from_utf8(chunks.next().await.unwrap().unwrap().to_vec()).unwrap();
    assert!(
        first.contains("progress") && !first.contains("completed"),
        "the first event came alone: {first}"
    );
    let mut rest = String::new();
    while let Some(chunk) = chunks.next().await {
        rest.push_str(&String::from_utf8_lossy(&chunk.unwrap()));
    }
    assert!(rest.contains("completed"), "{rest}");

    let after: Value = call(&app, "/v1/limits", Some(&key)).await.json().await.unwrap();
    assert_eq!(before, after, "the stream is exempt from every bucket");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotent_retry_creates_one_scan_not_two() {
    let app = spawn_app().await;
    let (_, _, key) = customer_with_key(&app).await;
    let post = |idempotency_key: Option<&'static str>| {
        let mut request = browser()
            .post(app.url("/v1/scans"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"jurisdictions": ["UK"], "areas": ["AML"], "horizon": 12}));
        if let Some(idempotency_key) = idempotency_key {
            request = request.header("idempotency-key", idempotency_key);
        }
        async move { request.send().await.unwrap().json::<Value>().await.unwrap()["id"].clone() }
    };
    let first = post(Some("deploy-42")).await;
    let retry = post(Some("deploy-42")).await;
    let fresh = post(None).await;
    assert_eq!(first, retry, "the retry replayed the first scan");
    assert_ne!(first, fresh);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_up_to_the_configured_limit_reach_the_upstream_and_larger_ones_get_413() {
    let app = spawn_app().await;
    let (_, _, key) = customer_with_key(&app).await;
    let post = |bytes: usize| {
        browser()
            .post(app.url("/v1/exports"))
            .bearer_auth(&key)
            .header("content-type", "application/json")
            .body(format!(
                "{{\"snapshot_id\":\"snap_uk_aml_2025q1\",\"format\":\"pdf\",\"note\":\"{}\"}}",
                "x".repeat(bytes)
            ))
            .send()
    };
    for bytes in [200 * 1024, 3 * 1024 * 1024] {
        let large = post(bytes).await.unwrap();
        assert!(large.status().is_success(), "a {bytes}-byte upload: {}", large.status());
    }
    // The server answers 413 from the declared length and may close before the client has
    // written the rest; either way the upload is refused.
    match post(11 * 1024 * 1024).await {
        Ok(huge) => {
            assert_status(&huge, StatusCode::PAYLOAD_TOO_LARGE);
            assert_eq!(huge.headers()["content-type"], "application/problem+json");
            let problem: Value = huge.json().await.unwrap();
            assert_eq!(problem["detail"], "The body is over 10 MiB, the most this endpoint accepts.");
        }
        Err(error) => assert!(error.is_request(), "{error}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sample_api_names_a_refused_value_without_echoing_it_whole() {
    let app = spawn_app().await;
    let (_, _, key) = customer_with_key(&app).await;
    let long_id = "s".repeat(10_000);
    let response = browser()
        .post(app.url("/v1/exports"))
        .bearer_auth(&key)
        .json(&serde_json::json!({ "snapshot_id": long_id, "format": "pdf" }))
        .send()
        .await
        .unwrap();
    assert_status(&response, StatusCode::UNPROCESSABLE_ENTITY);
    let detail = response.json::<Value>().await.unwrap()["detail"].as_str().unwrap().to_owned();
    assert!(detail.starts_with(&format!("There is no snapshot \"{}\"…", "s".repeat(64))), "{detail}");
    assert!(detail.len() < 120, "{} characters", detail.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_finds_its_own_scans_and_exports_and_not_another_accounts() {
    let app = spawn_app().await;
    let (_, _, owner) = customer_with_key(&app).await;
    let (_, _, stranger) = customer_with_key(&app).await;
    let create = |path: &'static str, body: Value| {
        let request = browser().post(app.url(path)).bearer_auth(&owner).json(&body);
        async move {
            let response = request.send().await.unwrap();
            assert_status(&response, StatusCode::ACCEPTED);
            response.headers()["location"].to_str().unwrap().to_owned()
        }
    };
    let scan = create("/v1/scans", json!({ "jurisdictions": ["UK"], "areas": ["AML"] })).await;
    let export = create("/v1/exports", json!({ "snapshot_id": "snap_uk_aml_2025q1" })).await;
    for path in [scan.clone(), format!("{scan}/stream"), export] {
        assert_status(&call(&app, &path, Some(&owner)).await, StatusCode::OK);
        let refused = call(&app, &path, Some(&stranger)).await;
        assert_status(&refused, StatusCode::NOT_FOUND);
        let problem: Value = refused.json().await.unwrap();
        assert_eq!(problem["code"], "not_found", "{path}: as if it did not exist");
    }
}
