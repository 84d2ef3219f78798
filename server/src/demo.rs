//! The embedded demo: a customer account on the Pro plan with two keys (one pinned to this
//! machine's addresses) and an invitation
//! waiting, and traffic from those keys through the gateway at a rate that swells and ebbs, now
//! and then crossing a limit, so the dashboard has live data from the first minute. On by
//! default with the embedded settings (`demo = true`), off in production (`KEYSTILE_DEMO=false`).
//!
//! Secrets are shown only when made, so each start rotates the demo keys (no grace) to learn
//! fresh ones; they live in this task's memory only.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use policy::KeyQuota;
use secrecy::{ExposeSecret, SecretString};
use services::Services;
use services::accounts::{SignUpError, User};
use services::keys::{NewExpiry, Restrictions};

pub const DEMO_EMAIL: &str = "demo@keystile.dev";
pub const DEMO_PASSWORD: &str = "keystile-demo";
pub const DEMO_TEAMMATE: &str = "teammate@keystile.dev";
/// The demo's keys, with the addresses each may call from and their own daily quota: the
/// production key is pinned to this machine (where the demo traffic comes from), as a server's
/// key should be; the batch key may not spend more than its share of the plan.
const DEMO_KEYS: [(&str, &str, &str); 2] =
    [("Production server", "127.0.0.1, ::1", ""), ("Nightly batch", "", "5000")];
const DEMO_PLAN: &str = "pro";

/// Creates the demo customer and its keys if missing, prints how to log in, and starts the
/// traffic against `gateway`.
pub async fn start(services: &Services, gateway: SocketAddr) -> anyhow::Result<()> {
    let user = demo_user(services).await?;
    let mut secrets = Vec::new();
    for (name, allowed_ips, daily_quota) in DEMO_KEYS {
        let quota = KeyQuota::parse(daily_quota, "day").map_err(anyhow::Error::msg)?;
        let restrictions =
            Restrictions::parse(false, allowed_ips).map_err(anyhow::Error::msg)?.with_quota(quota);
        secrets.push(fresh_secret(services, &user, name, restrictions).await?);
    }
    println!("Demo account: {DEMO_EMAIL} / {DEMO_PASSWORD}");
    tokio::spawn(traffic(format!("http://{gateway}"), secrets));
    Ok(())
}

async fn demo_user(services: &Services) -> anyhow::Result<User> {
    match services.accounts.sign_up(DEMO_EMAIL, SecretString::from(DEMO_PASSWORD), "Demo Co").await {
        Ok(user) => {
            // Pro's monthly quota lasts the demo traffic a few days; Starter's would be gone
            // in hours and leave nothing but 429s to look at.
            if let Err(error) = services.accounts.change_plan(&user, DEMO_PLAN).await {
                tracing::warn!(%error, "the demo account stays on the default plan");
            }
            // A pending invitation, so the Team page shows what inviting looks like; nobody
            // needs its code.
            if let Err(error) = services.accounts.invite(&user, DEMO_TEAMMATE).await {
                tracing::warn!(%error, "the demo account has no pending invitation");
            }
            Ok(user)
        }
        Err(SignUpError::EmailTaken) => {
            services.accounts.user_by_email(DEMO_EMAIL).await?.context("the demo user vanished")
        }
        Err(error) => Err(error).context("creating the demo account"),
    }
}

/// The key named `name`, created with `restrictions` if missing, rotated with no grace if it
/// exists (its restrictions as the demo's user left them).
async fn fresh_secret(
    services: &Services,
    user: &User,
    name: &str,
    restrictions: Restrictions,
) -> anyhow::Result<SecretString> {
    let account_id = user.account_id.as_deref().context("the demo user has no account")?;
    let existing = services.keys.list(account_id).await?;
    let usable = existing.iter().find(|key| key.name == name && key.revoked_at.is_none());
    let with_secret = match usable {
        Some(key) => services.keys.rotate(user, &key.id, chrono::Duration::zero(), NewExpiry::Keep).await?,
        None => services.keys.create(user, name, None, restrictions).await?,
    };
    Ok(with_secret.secret)
}

/// What the demo clients call, with how often (out of 20) each is picked.
const CALLS: [(u32, &str, &str); 6] = [
    (9, "GET", "/v1/snapshots/snap_demo"),
    (4, "GET", "/v1/scans/scan_demo"),
    (3, "GET", "/v1/usage?group_by=key"),
    (2, "GET", "/v1/limits"),
    (1, "POST", "/v1/scans"),
    (1, "POST", "/v1/exports"),
];

async fn traffic(base: String, secrets: Vec<SecretString>) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build();
    let Ok(client) = client else {
        tracing::warn!("demo traffic disabled: no HTTP client");
        return;
    };
    let started = std::time::Instant::now();
    for tick in 0u64.. {
        // Between about 0.2 and 1.4 requests a second on a ten-minute swell, and for ten
        // seconds every five minutes (the first at start) a rush of 15 a second that crosses
        // the reads limit; scans and exports cross their hourly limits now and then.
        let elapsed = started.elapsed().as_secs_f64();
        let phase = elapsed / 600.0 * std::f64::consts::TAU;
        let rush = elapsed % 300.0 < 10.0;
        let per_second = if rush { 15.0 } else { 0.8 + 0.6 * phase.sin() };
        tokio::time::sleep(Duration::from_secs_f64(1.0 / per_second)).await;
        let secret = &secrets[(tick % 7 == 0) as usize];
        let (method, path) = pick(tick);
        let request = match method {
            "POST" => client.post(format!("{base}{path}")).json(&serde_json::json!({
                "jurisdictions": ["UK"], "areas": ["AML"], "horizon": 12, "snapshot_id": "snap_demo", "format": "pdf"
            })),
            _ => client.get(format!("{base}{path}")),
        };
        if let Err(error) = request.bearer_auth(secret.expose_secret()).send().await {
            tracing::debug!(%error, "demo request failed");
        }
        // No anonymous calls: they would show nowhere in the dashboard, yet spend this
        // machine's public allowance (10 an hour) before its user tries `/v1/check` by hand.
    }
}

/// A deterministic spread over [`CALLS`] by weight.
fn pick(tick: u64) -> (&'static str, &'static str) {
    let total: u32 = CALLS.iter().map(|(weight, _, _)| weight).sum();
    let mut slot = (tick.wrapping_mul(2_654_435_761) % u64::from(total)) as u32;
    for (weight, method, path) in CALLS {
        if slot < weight {
            return (method, path);
        }
        slot -= weight;
    }
    ("GET", "/v1/limits")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calls_are_spread_by_weight() {
        let picks: Vec<_> = (0..2000).map(pick).collect();
        let reads = picks.iter().filter(|(_, path)| path.starts_with("/v1/snapshots")).count();
        let scans = picks.iter().filter(|(method, path)| *method == "POST" && *path == "/v1/scans").count();
        assert!((800..1000).contains(&reads), "{reads}");
        assert!((50..150).contains(&scans), "{scans}");
    }
}
