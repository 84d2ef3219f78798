//! Server function for the Overview page: the plan and every bucket of the account (or of one
//! of its keys), read from the limiter store the gateway enforces against.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    pub plan_name: String,
    /// (id, name) of the account's usable keys, for the selector.
    pub keys: Vec<(String, String)>,
    pub selected_key: Option<String>,
    pub gauges: Vec<GaugeView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GaugeView {
    pub name: String,
    pub window: String,
    pub limit: u64,
    pub used: u64,
    pub remaining: u64,
    pub reset_seconds: u64,
}

#[server]
pub async fn load_overview(key_id: Option<String>) -> Result<Overview, AppError> {
    use crate::auth::ssr::{internal, require_user, services};
    use services::gauges::{self, Subject};

    let user = require_user().await?;
    let account_id = user.account_id.clone().ok_or(AppError::Forbidden)?;
    let services = services()?;
    let account =
        services.accounts.account(&account_id).await.map_err(internal)?.ok_or(AppError::Forbidden)?;
    let overrides = services.accounts.overrides(&account_id).await.map_err(internal)?;
    let now = services.clock.now();
    let keys: Vec<(String, String)> = services
        .keys
        .list(&account_id)
        .await
        .map_err(internal)?
        .into_iter()
        .filter(|key| key.revoked_at.is_none() && key.expires_at.is_none_or(|at| at > now))
        .map(|key| (key.id, key.name))
        .collect();
    // Only this account's keys can be selected; anything else shows the whole account.
    let selected_key = key_id.filter(|id| keys.iter().any(|(key, _)| key == id));
    let subject = Subject {
        account_id: &account_id,
        plan_id: &account.plan_id,
        anchor_day: account.billing_anchor_day,
        overrides: &overrides,
        key_id: selected_key.as_deref(),
        user_id: Some(&user.id),
    };
    let gauges = gauges::read(&services, &subject).await.map_err(internal)?;
    let policy = services.policy.get();
    let plan_name =
        policy.plan_or_default(&account.plan_id).map_or(account.plan_id.clone(), |plan| plan.name.clone());
    Ok(Overview {
        plan_name,
        keys,
        selected_key,
        gauges: gauges
            .into_iter()
            .map(|g| GaugeView {
                name: g.name,
                window: g.window,
                limit: g.limit,
                used: g.used,
                remaining: g.remaining,
                reset_seconds: g.reset_seconds,
            })
            .collect(),
    })
}
