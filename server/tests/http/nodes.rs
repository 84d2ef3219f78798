//! Several gateway nodes sharing one PostgreSQL database and one Redis, as a multi-node
//! deployment runs: revocation reaches every node, the nodes together admit exactly a bucket's
//! limit, and quota leases are given back when a node stops.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;
use services::accounts::{Role, User};

use crate::gateway::{call, customer_with_key};
use crate::helpers::*;

/// Two nodes sharing one PostgreSQL database and one Redis, as a multi-node deployment runs.
async fn two_nodes() -> (TestApp, TestApp) {
    let database_url = services::testing::fresh_database_url(services::Backend::Postgres).await;
    let node = |url: String| {
        spawn_app_on(url, |settings| settings.redis_url = Some("redis://127.0.0.1:6379".into()))
    };
    (node(database_url.clone()).await, node(database_url).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_revoked_on_one_node_is_refused_by_the_other_within_a_second() {
    let (a, b) = two_nodes().await;
    let (user, key_id, key) = customer_with_key(&a).await;
    assert_status(&call(&b, "/v1/limits", Some(&key)).await, StatusCode::OK);

    a.services.keys.revoke(&user, &key_id).await.unwrap();
    eventually(Duration::from_secs(1), || async {
        match call(&b, "/v1/limits", Some(&key)).await.status() {
            StatusCode::UNAUTHORIZED => Ok(()),
            status => Err(format!("node b still admits the revoked key: {status}")),
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_together_admit_exactly_the_buckets_limit() {
    let (a, b) = two_nodes().await;
    let (user, _, key) = customer_with_key(&a).await;
    // A plan without a burst ceiling, so the reads bucket (60/min) is the one that binds.
    set_plan(&a, &user, "business").await;
    let requests = (0..150).map(|n| {
        let node = if n % 2 == 0 { &a } else { &b };
        call(node, "/v1/snapshots/s1", Some(&key))
    });
    let statuses: Vec<StatusCode> =
        futures_util::future::join_all(requests).await.iter().map(|response| response.status()).collect();
    let refused = statuses.iter().filter(|status| **status == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!(statuses.len() - refused, 60, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_spends_roomy_buckets_from_leases_and_gives_them_back_when_it_stops() {
    let (mut a, b) = two_nodes().await;
    let (user, _, key) = customer_with_key(&a).await;
    let account_id = user.account_id.as_deref().unwrap();
    let admin = a.services.accounts.create_operator("admin@keystile.example", PASSWORD.into(), Role::Admin);
    let admin = admin.await.unwrap();
    // Every bucket of the route far from its limit: each may be spent from node a's leases.
    for bucket in [policy::MONTHLY, policy::BURST, policy::DAILY_CAP, "reads"] {
        a.services.accounts.set_override(&admin, account_id, bucket, Some(1_000_000)).await.unwrap();
    }
    for _ in 0..100 {
        assert_status(&call(&a, "/v1/snapshots", Some(&key)).await, StatusCode::OK);
    }
    // Node a knows what it spent; node b also counts what a holds reserved, until a gives it back.
    assert_eq!(reads_used(&a, &key).await, 100);
    let seen_by_b = reads_used(&b, &key).await;
    assert!((100..=164).contains(&seen_by_b), "node b sees {seen_by_b}");
    a.shut_down().await;
    assert_eq!(reads_used(&b, &key).await, 100);
}

/// What `GET /v1/limits` on `node` says the key has used of its reads bucket.
async fn reads_used(node: &TestApp, key: &str) -> u64 {
    let limits: Value = call(node, "/v1/limits", Some(key)).await.json().await.unwrap();
    let buckets = limits["buckets"].as_array().cloned().unwrap_or_default();
    buckets.iter().find(|b| b["name"] == "reads").and_then(|b| b["used"].as_u64()).unwrap_or_default()
}

async fn set_plan(app: &TestApp, user: &User, plan: &str) {
    sqlx::query("UPDATE accounts SET plan_id = $1 WHERE id = $2")
        .bind(plan)
        .bind(user.account_id.as_deref().unwrap())
        .execute(app.services.db.pool())
        .await
        .unwrap();
}
