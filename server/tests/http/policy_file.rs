//! The policy file is watched: an edit is in force within seconds, with no restart, and an
//! edit that does not validate changes nothing.

use std::time::Duration;

use serde_json::Value;

use crate::gateway::{call, customer_with_key};
use crate::helpers::*;

/// The `reads` bucket's limit, as `/v1/limits` reports it to `key`.
async fn reads_limit(app: &TestApp, key: &str) -> u64 {
    let limits: Value = call(app, "/v1/limits", Some(key)).await.json().await.unwrap();
    let buckets = limits["buckets"].as_array().unwrap();
    buckets.iter().find(|bucket| bucket["name"] == "reads").unwrap()["limit"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_policy_file_is_in_force_within_seconds_and_a_broken_edit_changes_nothing() {
    let shipped = policy::Policy::shipped_text("default").unwrap();
    let path =
        std::env::temp_dir().join(format!("keystile-watched-{}.toml", services::ids::random_base62(8)));
    std::fs::write(&path, shipped).unwrap();
    let app = spawn_app_with(|settings| settings.policy = Some(path.clone())).await;
    let (_, _, key) = customer_with_key(&app).await;
    assert_eq!(reads_limit(&app, &key).await, 60);

    // The first `limit = 60` is the reads bucket's.
    std::fs::write(&path, shipped.replacen("limit = 60", "limit = 2", 1)).unwrap();
    eventually(Duration::from_secs(5), || async {
        match reads_limit(&app, &key).await {
            2 => Ok(()),
            limit => Err(format!("reads limit still {limit}")),
        }
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(call(&app, "/v1/snapshots", Some(&key)).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429], "the gateway enforces the new limit");

    std::fs::write(&path, shipped.replacen("limit = 60", "limit = -60", 1)).unwrap();
    // Two checks of the file go by.
    tokio::time::sleep(server::policy_file::CHECK_EVERY * 2 + Duration::from_millis(500)).await;
    assert_eq!(reads_limit(&app, &key).await, 2, "the broken edit was ignored");
    let _ = std::fs::remove_file(&path);
}
