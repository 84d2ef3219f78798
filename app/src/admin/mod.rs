//! Server functions of the operator console: find accounts, read one (admins and support), and
//! change it (admins): plan, per-bucket overrides, bucket resets, disabling. Each change is
//! audited by the service with the operator as actor.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;
use crate::keys::KeyView;
use crate::overview::Overview;

mod traffic;
pub use traffic::{BUSIEST_SHOWN, BusyAccount, DayTraffic, RecentTraffic, recent_traffic};

/// Whether a path is one of the operator console's pages.
pub fn is_console_path(path: &str) -> bool {
    path == "/admin" || path.starts_with("/admin/")
}

/// Set by the server on a request for a console page from a signed-in user who is not staff,
/// so the page knows before it renders anything that it is not for them.
#[derive(Debug, Clone, Copy)]
pub struct NotStaff;

/// The accounts a search lists, and whether it found more than it lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountSearch {
    pub accounts: Vec<AccountListing>,
    pub more: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountListing {
    pub id: String,
    pub name: String,
    /// The plan's name ("Pro"), or its id when the catalogue no longer has it.
    pub plan: String,
    pub owner_email: Option<String>,
    pub disabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminAccount {
    pub id: String,
    pub name: String,
    pub plan_id: String,
    pub disabled: bool,
    /// When, by whom and why it was disabled, from the audit log, while it is.
    pub disabled_note: Option<String>,
    /// Whether the viewer may change things (admins) or only look (support).
    pub can_change: bool,
    /// (email, role)
    pub users: Vec<(String, String)>,
    pub keys: Vec<KeyView>,
    /// (id, name) of every plan in the catalogue.
    pub plans: Vec<(String, String)>,
    /// Every bucket an override can be set for.
    pub limits: Vec<LimitRow>,
    pub overview: Overview,
    /// The owner's Usage page data (the whole account: charts and latest refusals), when the
    /// account has an owner.
    pub usage: Option<crate::usage::UsageReport>,
}

/// One bucket of an account's Limits table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitRow {
    pub bucket: String,
    /// Counted per key (reset one key at a time), else per account.
    pub per_key: bool,
    /// What the plan gives, in words ("100,000 per month"), or "none".
    pub plan_limit: String,
    pub override_limit: Option<u64>,
}

#[cfg(feature = "ssr")]
pub(crate) fn admin_error(error: services::accounts::admin::AdminError) -> AppError {
    use services::accounts::admin::AdminError;
    match error {
        AdminError::Forbidden => AppError::Forbidden,
        AdminError::NotFound => AppError::Invalid(error.to_string()),
        AdminError::Invalid(message) => AppError::Invalid(message),
        AdminError::Internal(cause) => crate::auth::ssr::internal(cause),
    }
}

/// "Disabled 2026-12-06 14:03 UTC by ops@example.com: <reason>", from the account's latest
/// `account.disable` entry in the audit log.
#[cfg(feature = "ssr")]
async fn disabled_note(services: &services::Services, account_id: &str) -> Result<Option<String>, AppError> {
    use services::audit::{self, AuditFilter};
    let filter =
        AuditFilter { account_id: Some(account_id), action: Some("account.disable"), ..Default::default() };
    let latest = audit::search(&services.db, &filter, 1).await.map_err(crate::auth::ssr::internal)?;
    Ok(latest.into_iter().next().map(|entry| {
        let when = entry.at.format("%Y-%m-%d %H:%M UTC");
        let reason = entry.reason.map(|reason| format!(": {reason}")).unwrap_or_default();
        format!("Disabled {when} by {}{reason}", entry.actor_email)
    }))
}

/// A whole number as a person types it ("1,000", " 60 "); `None` when empty.
#[cfg(feature = "ssr")]
pub(crate) fn whole_number(text: &str, what: &str) -> Result<Option<u64>, AppError> {
    let text = text.trim().replace([',', '_'], "");
    if text.is_empty() {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| AppError::Invalid(format!("{what} is a whole number.")))
}

/// An account as the console lists it, its plan by name.
#[cfg(feature = "ssr")]
fn listing(summary: services::accounts::admin::AccountSummary, policy: &policy::Policy) -> AccountListing {
    AccountListing {
        plan: policy
            .plan(&summary.account.plan_id)
            .map_or(summary.account.plan_id.clone(), |plan| plan.name.clone()),
        id: summary.account.id,
        name: summary.account.name,
        owner_email: summary.owner_email,
        disabled: summary.account.disabled_at.is_some(),
    }
}

#[server]
pub async fn search_accounts(query: String) -> Result<AccountSearch, AppError> {
    use crate::auth::ssr::{require_operator, services};
    let operator = require_operator().await?;
    let services = services()?;
    let found = services.accounts.search(&operator, &query).await.map_err(admin_error)?;
    let policy = services.policy.get();
    let accounts = found.accounts.into_iter().map(|summary| listing(summary, &policy)).collect();
    Ok(AccountSearch { accounts, more: found.more })
}

#[server]
pub async fn load_account(account_id: String) -> Result<AdminAccount, AppError> {
    use crate::auth::ssr::{internal, require_operator, services};
    let operator = require_operator().await?;
    let services = services()?;
    let accounts = &services.accounts;
    let account = accounts.account_for_operator(&operator, &account_id).await.map_err(admin_error)?;
    let users = accounts.users_of(&operator, &account.id).await.map_err(admin_error)?;
    let now = services.clock.now();
    let keys = services.keys.list(&account.id).await.map_err(internal)?;
    let overrides = accounts.overrides(&account.id).await.map_err(internal)?;
    let policy = services.policy.get();
    let plan = policy.plan_or_default(&account.plan_id).ok_or_else(|| internal("the policy has no plans"))?;
    let limits = policy
        .account_buckets(plan)
        .into_iter()
        .map(|(bucket, scope, limit)| LimitRow {
            per_key: scope == limiter::Scope::Key,
            plan_limit: limit.map_or_else(|| "none".to_owned(), |limit| limit.describe()),
            override_limit: overrides.get(&bucket),
            bucket,
        })
        .collect();
    let disabled_note = match account.disabled_at {
        Some(_) => disabled_note(&services, &account.id).await?,
        None => None,
    };
    Ok(AdminAccount {
        id: account.id.clone(),
        name: account.name.clone(),
        plan_id: account.plan_id.clone(),
        disabled: account.disabled_at.is_some(),
        disabled_note,
        can_change: operator.role == services::accounts::Role::Admin,
        users: users.into_iter().map(|user| (user.email, user.role.as_str().to_owned())).collect(),
        keys: keys.iter().map(|key| crate::keys::ssr::view(key, now)).collect(),
        plans: policy.plans().iter().map(|plan| (plan.id.clone(), plan.name.clone())).collect(),
        limits,
        overview: crate::overview::ssr::overview_for(&services, &account, None, None).await?,
        usage: match accounts.owner_of(&account.id).await.map_err(internal)? {
            Some(owner) => Some(crate::usage::ssr::usage_report(&services, &owner, None, None).await?),
            None => None,
        },
    })
}

#[server]
pub async fn admin_change_plan(account_id: String, plan_id: String) -> Result<(), AppError> {
    use crate::auth::ssr::{require_operator, services};
    let operator = require_operator().await?;
    services()?.accounts.set_plan_as_admin(&operator, &account_id, &plan_id).await.map_err(admin_error)?;
    Ok(())
}

/// Sets a bucket's limit for this account; an empty limit goes back to the plan's.
#[server]
pub async fn set_override(account_id: String, bucket: String, limit: String) -> Result<(), AppError> {
    use crate::auth::ssr::{require_operator, services};
    let operator = require_operator().await?;
    let limit = match limit.trim() {
        "" => None,
        text => Some(text.replace([',', '_'], "").parse::<u64>().map_err(|_| {
            AppError::Invalid(
                "Enter a whole number of requests, or leave it empty for the plan's limit.".into(),
            )
        })?),
    };
    services()?.accounts.set_override(&operator, &account_id, &bucket, limit).await.map_err(admin_error)?;
    Ok(())
}

/// Clears one of the account's bucket counters (account-wide buckets, or one key's), confirmed
/// with the form's checkbox: it lets through requests the counter refused, and cannot be undone.
#[server]
pub async fn reset_bucket(
    account_id: String,
    bucket: String,
    key_id: Option<String>,
    confirm: Option<String>,
) -> Result<(), AppError> {
    use crate::auth::ssr::{internal, require_operator, services};
    use services::gauges::{self, Subject};
    let operator = require_operator().await?;
    if confirm.is_none() {
        return Err(AppError::Invalid("Tick “Start it from zero now” to reset the counter.".into()));
    }
    let services = services()?;
    let account =
        services.accounts.account_for_operator(&operator, &account_id).await.map_err(admin_error)?;
    let overrides = services.accounts.overrides(&account.id).await.map_err(internal)?;
    let keys = services.keys.list(&account.id).await.map_err(internal)?;
    let key_id = key_id.filter(|id| keys.iter().any(|key| &key.id == id));
    let subject = Subject {
        account_id: &account.id,
        plan_id: &account.plan_id,
        anchor_day: account.billing_anchor_day,
        overrides: &overrides,
        key_id: key_id.as_deref(),
        key_quota: keys
            .iter()
            .find(|key| Some(&key.id) == key_id.as_ref())
            .and_then(|key| key.restrictions.quota),
        user_id: None,
    };
    let reset = gauges::reset(&services, &operator, &subject, &bucket).await.map_err(admin_error)?;
    if !reset {
        let message = match key_id {
            None => {
                format!("{bucket} is not an account-wide bucket: to reset a key's own counter, pick the key.")
            }
            Some(_) => format!("{bucket} is not one of this key's buckets."),
        };
        return Err(AppError::Invalid(message));
    }
    Ok(())
}

/// Disables (or enables) the account, confirmed by typing its name.
#[server]
pub async fn set_account_disabled(
    account_id: String,
    disabled: bool,
    reason: String,
    confirm_name: String,
) -> Result<(), AppError> {
    use crate::auth::ssr::{require_operator, services};
    let operator = require_operator().await?;
    let services = services()?;
    let account =
        services.accounts.account_for_operator(&operator, &account_id).await.map_err(admin_error)?;
    if disabled && confirm_name.trim() != account.name {
        return Err(AppError::Invalid(format!("Type {} to confirm.", account.name)));
    }
    services.accounts.set_disabled(&operator, &account_id, disabled, &reason).await.map_err(admin_error)?;
    Ok(())
}

/// An admin disables one of the account's keys, or enables it again, with a reason for the
/// account's audit log.
#[server]
pub async fn admin_set_key_disabled(
    account_id: String,
    key_id: String,
    disabled: bool,
    reason: String,
) -> Result<(), AppError> {
    use crate::auth::ssr::{require_operator, services};
    let operator = require_operator().await?;
    let services = services()?;
    services
        .keys
        .set_disabled_as_admin(&operator, &account_id, &key_id, disabled, &reason)
        .await
        .map_err(crate::keys::ssr::key_error)?;
    Ok(())
}

/// A plan as the catalogue editor shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CataloguePlan {
    pub id: String,
    pub name: String,
    pub description: String,
    pub price_cents: Option<u64>,
    pub monthly_quota: Option<u64>,
    pub burst_per_second: Option<u64>,
    pub daily_cap: bool,
    pub self_service: bool,
    pub can_change: bool,
}

#[server]
pub async fn list_catalogue() -> Result<Vec<CataloguePlan>, AppError> {
    use crate::auth::ssr::{require_operator, services};
    let operator = require_operator().await?;
    let policy = services()?.policy.get();
    Ok(policy
        .plans()
        .iter()
        .map(|plan| CataloguePlan {
            id: plan.id.clone(),
            name: plan.name.clone(),
            description: plan.description.clone(),
            price_cents: plan.price_cents,
            monthly_quota: plan.monthly_quota,
            burst_per_second: plan.burst.as_ref().map(policy::Limit::count),
            daily_cap: plan.daily_cap,
            self_service: plan.self_service,
            can_change: operator.role == services::accounts::Role::Admin,
        })
        .collect())
}

/// The catalogue editor's fields for one plan, as its plain HTML form posts them (a checkbox
/// is absent when unticked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanForm {
    pub name: String,
    pub description: String,
    pub price_cents: String,
    pub monthly_quota: String,
    pub burst_per_second: String,
    #[serde(default)]
    pub daily_cap: Option<String>,
    #[serde(default)]
    pub self_service: Option<String>,
}

/// Changes one plan of the catalogue; empty numbers mean "none" (no price, no quota, no burst).
#[server]
pub async fn edit_plan(plan_id: String, #[server(flatten)] form: PlanForm) -> Result<(), AppError> {
    use crate::auth::ssr::{require_operator, services};
    let operator = require_operator().await?;
    let number = whole_number;
    // A ticked checkbox posts "on"; an unticked one posts nothing. Scripts may say so plainly.
    let ticked = |field: &Option<String>| match field.as_deref().map(str::trim) {
        None | Some("false" | "off" | "0") => Ok(false),
        Some("on" | "true" | "1") => Ok(true),
        Some(_) => Err(AppError::Invalid("A checkbox is on, off, true or false.".into())),
    };
    let edit = services::catalogue::PlanEdit {
        price_cents: number(&form.price_cents, "The price in cents")?,
        monthly_quota: number(&form.monthly_quota, "The monthly quota")?,
        burst_per_second: number(&form.burst_per_second, "The burst")?,
        daily_cap: ticked(&form.daily_cap)?,
        self_service: ticked(&form.self_service)?,
        name: form.name,
        description: form.description,
    };
    services()?.catalogue.edit_plan(&operator, &plan_id, edit).await.map_err(admin_error)?;
    Ok(())
}

/// The account's gauges and month as its owner sees them, for the live account page.
#[server]
pub async fn admin_overview(account_id: String) -> Result<Overview, AppError> {
    use crate::auth::ssr::{require_operator, services};
    let operator = require_operator().await?;
    let services = services()?;
    let account =
        services.accounts.account_for_operator(&operator, &account_id).await.map_err(admin_error)?;
    crate::overview::ssr::overview_for(&services, &account, None, None).await
}
