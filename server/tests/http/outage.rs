//! Redis down: traffic keeps flowing on each node's local bound, security buckets refuse, the
//! answers are quick and never 500, and which buckets refuse follows the policy in force.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::gateway::{call, customer_with_key};
use crate::helpers::*;

/// Nothing listens on port 1: every connection to "Redis" is refused at once.
const DEAD_REDIS: &str = "redis://127.0.0.1:1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_traffic_flows_and_buckets_marked_fail_closed_refuse_even_after_a_policy_edit() {
    let shipped = policy::Policy::shipped_text("default").unwrap();
    let path = std::env::temp_dir().join(format!("keystile-outage-{}.toml", services::ids::random_base62(8)));
    std::fs::write(&path, shipped).unwrap();
    // The key is made before the outage (making one charges key_mgmt, which would refuse).
    let mut before = spawn_app().await;
    let (user, _, key) = customer_with_key(&before).await;
    before.shut_down().await;
    let app = spawn_app_on(before.database_url.clone(), |settings| {
        settings.redis_url = Some(DEAD_REDIS.into());
        settings.policy = Some(path.clone());
    })
    .await;

    let started = Instant::now();
    assert_eq!(call(&app, "/v1/snapshots", Some(&key)).await.status(), StatusCode::OK, "traffic flows");
    assert!(started.elapsed() < Duration::from_secs(2), "answered in {:?}", started.elapsed());

    // Logging in charges the login throttle, which fails closed: refused, not a 500.
    let login = app.log_in(&user.email, PASSWORD, "/").await;
    let shown = error_shown(&app.browser, &login).await;
    assert!(shown.contains("Logging in is unavailable for a moment"), "{shown}");
    assert_status(&app.get("/").await, StatusCode::SEE_OTHER);

    // The operator marks `reads` fail_closed while the node runs: reads now refuse.
    let edited = shipped.replacen(
        "window = \"minute\"\nscope = \"key\"\n",
        "window = \"minute\"\nscope = \"key\"\nfail_closed = true\n",
        1,
    );
    assert_ne!(edited, shipped);
    std::fs::write(&path, edited).unwrap();
    eventually(Duration::from_secs(5), || async {
        match call(&app, "/v1/snapshots", Some(&key)).await.status() {
            StatusCode::SERVICE_UNAVAILABLE => Ok(()),
            other => Err(format!("reads still answered {other}")),
        }
    })
    .await;
    assert_eq!(
        call(&app, "/v1/check?name=x", None).await.status(),
        StatusCode::OK,
        "other traffic still flows"
    );
    let _ = std::fs::remove_file(&path);
}
