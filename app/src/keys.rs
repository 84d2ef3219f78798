//! Server functions for the Keys page. The secret of a created or rotated key travels only in
//! the response to that call (never in page HTML or hydration data) and is shown once.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

/// A key as the table shows it. Never the secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    pub id: String,
    pub name: String,
    pub start: String,
    pub created_at: String,
    /// Who created it, while they are on the account's team.
    pub created_by: Option<String>,
    pub last_used_at: Option<String>,
    /// The client address of that last use.
    pub last_used_from: Option<String>,
    pub expires_at: Option<String>,
    /// `active`, `rotating`, `disabled`, `revoked` or `expired`.
    pub status: String,
    /// Why keystile staff disabled it, if they did: then only staff can enable it.
    pub staff_disable_reason: Option<String>,
    /// While rotating: when the old secret stops working, and when it was last used.
    pub rotating_until: Option<String>,
    pub old_secret_last_used_at: Option<String>,
    pub old_secret_last_used_from: Option<String>,
    /// GET and HEAD requests only.
    pub read_only: bool,
    /// The address ranges requests may come from; empty: anywhere.
    pub allowed_ips: Vec<String>,
    /// The key's own quota, below the plan's.
    pub quota: Option<QuotaView>,
    /// Usable now, but expiring within [`EXPIRES_SOON_DAYS`]: time to rotate it with a new
    /// expiry, or replace it.
    pub expires_soon: bool,
}

/// A key's own quota: `limit` requests per `per` (`day` or `month`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaView {
    pub limit: u64,
    pub per: String,
    /// "1,000 requests a day".
    pub words: String,
    /// What the key used of it so far this day or month, when the limiter could be read.
    pub used: Option<u64>,
}

/// The forms' choices for a key's quota period: (form value, label).
pub const QUOTA_PERIODS: [(&str, &str); 2] = [("day", "a day (UTC)"), ("month", "a billing month")];

impl KeyView {
    /// Not revoked or expired: it can still be rotated, disabled or enabled, and revoked.
    pub fn can_change(&self) -> bool {
        !matches!(self.status.as_str(), "revoked" | "expired")
    }
}

/// A usable key expiring within this many days is flagged on the Keys page.
pub const EXPIRES_SOON_DAYS: i64 = 7;

/// The forms' access choices: (form value, label).
pub const ACCESS_CHOICES: [(&str, &str); 2] = [("full", "Full access"), ("read", "Read only (GET and HEAD)")];

/// A key with its secret: the one time the secret leaves the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyWithSecret {
    pub key: KeyView,
    pub secret: String,
}

/// Grace periods offered when rotating: (form value, label, seconds).
/// The expiries a key can be given when it is created or rotated: (days, label).
pub const EXPIRY_CHOICES: [(&str, &str); 4] =
    [("7", "In 7 days"), ("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year")];

pub const GRACE_PERIODS: [(&str, &str, i64); 4] = [
    ("now", "End it now", 0),
    ("1h", "1 hour", 3600),
    ("24h", "24 hours", 86_400),
    ("7d", "7 days", 604_800),
];

#[server]
pub async fn list_keys() -> Result<Vec<KeyView>, AppError> {
    let user = crate::auth::ssr::require_user().await?;
    let account_id = user.account_id.ok_or(AppError::Forbidden)?;
    let services = crate::auth::ssr::services()?;
    let now = services.clock.now();
    let keys = services.keys.list(&account_id).await.map_err(ssr::key_error)?;
    let used = services.key_quota_use(&account_id, &keys).await;
    Ok(keys
        .iter()
        .map(|key| {
            let mut view = ssr::view(key, now);
            if let Some(quota) = view.quota.as_mut() {
                quota.used = used.get(&key.id).copied();
            }
            view
        })
        .collect())
}

/// Creates a key; `access`, `allowed_ips` and a quota (`quota_limit` per `quota_per`) may
/// restrict it (left out: it may do anything, from anywhere, within the plan).
#[server]
pub async fn create_key(
    name: String,
    expires_in_days: Option<u32>,
    access: Option<String>,
    allowed_ips: Option<String>,
    quota_limit: Option<String>,
    quota_per: Option<String>,
) -> Result<KeyWithSecret, AppError> {
    let user = crate::auth::ssr::require_user().await?;
    let services = crate::auth::ssr::services()?;
    let now = services.clock.now();
    let expires_at = services::keys::expiry_after_days(now, expires_in_days).map_err(ssr::key_error)?;
    let restrictions = ssr::restrictions(
        access.as_deref(),
        allowed_ips.as_deref(),
        (quota_limit.as_deref(), quota_per.as_deref()),
    )?;
    let created =
        services.keys.create(&user, &name, expires_at, restrictions).await.map_err(ssr::key_error)?;
    Ok(ssr::with_secret(created, now))
}

/// Changes what a key may do; every node applies it at the key's next request.
#[server]
pub async fn restrict_key(
    key_id: String,
    access: String,
    allowed_ips: Option<String>,
    quota_limit: Option<String>,
    quota_per: Option<String>,
) -> Result<(), AppError> {
    let user = crate::auth::ssr::require_user().await?;
    let services = crate::auth::ssr::services()?;
    let restrictions = ssr::restrictions(
        Some(&access),
        allowed_ips.as_deref(),
        (quota_limit.as_deref(), quota_per.as_deref()),
    )?;
    services.keys.restrict(&user, &key_id, restrictions).await.map_err(ssr::key_error)?;
    Ok(())
}

/// A new secret for the key; `expires_in_days` absent keeps its expiry, 0 removes it, N renews
/// it for N days.
#[server]
pub async fn rotate_key(
    key_id: String,
    grace: String,
    expires_in_days: Option<u32>,
) -> Result<KeyWithSecret, AppError> {
    let user = crate::auth::ssr::require_user().await?;
    let services = crate::auth::ssr::services()?;
    let seconds = GRACE_PERIODS
        .iter()
        .find(|(value, _, _)| *value == grace)
        .map(|(_, _, seconds)| *seconds)
        .ok_or_else(|| AppError::Invalid("Choose how long the old secret keeps working.".into()))?;
    let new_expiry = services::keys::NewExpiry::after_days(services.clock.now(), expires_in_days)
        .map_err(ssr::key_error)?;
    let rotated = services
        .keys
        .rotate(&user, &key_id, chrono::Duration::seconds(seconds), new_expiry)
        .await
        .map_err(ssr::key_error)?;
    Ok(ssr::with_secret(rotated, services.clock.now()))
}

/// Gives a key a new name; its secret and limits stay as they are.
#[server]
pub async fn rename_key(key_id: String, name: String) -> Result<(), AppError> {
    let user = crate::auth::ssr::require_user().await?;
    let services = crate::auth::ssr::services()?;
    services.keys.rename(&user, &key_id, &name).await.map_err(ssr::key_error)?;
    Ok(())
}

/// Disables a key (requests with it get 401 until it is enabled again) or enables it.
#[server]
pub async fn set_key_disabled(key_id: String, disabled: bool) -> Result<(), AppError> {
    let user = crate::auth::ssr::require_user().await?;
    let services = crate::auth::ssr::services()?;
    services.keys.set_disabled(&user, &key_id, disabled).await.map_err(ssr::key_error)?;
    Ok(())
}

/// Revokes a key; `confirm_name` must repeat the key's name, checked here as well as in the page.
#[server]
pub async fn revoke_key(key_id: String, confirm_name: String) -> Result<(), AppError> {
    let user = crate::auth::ssr::require_user().await?;
    let account_id = user.account_id.clone().ok_or(AppError::Forbidden)?;
    let services = crate::auth::ssr::services()?;
    let keys = services.keys.list(&account_id).await.map_err(ssr::key_error)?;
    let key = keys.iter().find(|key| key.id == key_id).ok_or(AppError::Invalid("No such key.".into()))?;
    if confirm_name.trim() != key.name {
        return Err(AppError::Invalid(format!("Type the key's name, {:?}, to revoke it.", key.name)));
    }
    services.keys.revoke(&user, &key_id).await.map_err(ssr::key_error)?;
    Ok(())
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use chrono::{DateTime, SecondsFormat, Utc};
    use secrecy::ExposeSecret;
    use services::keys::{ApiKey, KeyError, Restrictions};

    use super::{KeyView, KeyWithSecret, QuotaView};
    use crate::AppError;

    fn time(at: DateTime<Utc>) -> String {
        at.to_rfc3339_opts(SecondsFormat::Secs, true)
    }

    pub fn view(key: &ApiKey, now: DateTime<Utc>) -> KeyView {
        let status = key.status(now);
        let rotating_until = status.rotating_until().map(time);
        let status = status.as_str();
        KeyView {
            id: key.id.clone(),
            name: key.name.clone(),
            start: key.start.clone(),
            created_at: time(key.created_at),
            created_by: key.created_by.clone(),
            last_used_at: key.last_used_at.map(time),
            last_used_from: key.last_used_from.clone(),
            expires_at: key.expires_at.map(time),
            status: status.to_owned(),
            staff_disable_reason: key.staff_disable_reason.clone(),
            rotating_until,
            old_secret_last_used_at: key.previous.as_ref().and_then(|p| p.last_used_at).map(time),
            old_secret_last_used_from: key.previous.as_ref().and_then(|p| p.last_used_from.clone()),
            read_only: key.restrictions.read_only,
            allowed_ips: key.restrictions.allowed_ips.iter().map(ToString::to_string).collect(),
            quota: key.restrictions.quota.map(|quota| QuotaView {
                limit: quota.limit(),
                per: quota.window().as_str().to_owned(),
                words: quota.describe(),
                used: None,
            }),
            expires_soon: matches!(status, "active" | "rotating")
                && key
                    .expires_at
                    .is_some_and(|at| at - now <= chrono::Duration::days(super::EXPIRES_SOON_DAYS)),
        }
    }

    /// The restrictions the forms ask for: `access` one of [`super::ACCESS_CHOICES`] (left out:
    /// full), `allowed_ips` one range per line.
    /// The restrictions the forms ask for: access, allowed addresses and a quota of (a count,
    /// empty for none; `day` or `month`). Every field's mistake is reported at once, so the
    /// owner does not fix one only to be told of the next.
    pub fn restrictions(
        access: Option<&str>,
        allowed_ips: Option<&str>,
        (limit, per): (Option<&str>, Option<&str>),
    ) -> Result<Restrictions, AppError> {
        let read_only = match access.unwrap_or("full") {
            "full" => Ok(false),
            "read" => Ok(true),
            _ => Err("Choose full access or read only.".to_owned()),
        };
        let ranges =
            read_only.and_then(|read_only| Restrictions::parse(read_only, allowed_ips.unwrap_or("")));
        let quota = policy::KeyQuota::parse(limit.unwrap_or(""), per.unwrap_or("day"));
        match (ranges, quota) {
            (Ok(ranges), Ok(quota)) => Ok(ranges.with_quota(quota)),
            (Err(ranges), Err(quota)) => Err(AppError::Invalid(format!("{ranges} {quota}"))),
            (Err(message), _) | (_, Err(message)) => Err(AppError::Invalid(message)),
        }
    }

    pub fn with_secret(created: services::keys::KeyWithSecret, now: DateTime<Utc>) -> KeyWithSecret {
        KeyWithSecret { key: view(&created.key, now), secret: created.secret.expose_secret().to_owned() }
    }

    pub fn key_error(error: KeyError) -> AppError {
        match error {
            KeyError::Throttled { retry_after } => {
                AppError::Throttled { retry_after_secs: retry_after.as_secs().max(1) }
            }
            KeyError::Unavailable => AppError::Unavailable(error.to_string()),
            KeyError::NoAccount | KeyError::Forbidden => AppError::Forbidden,
            KeyError::Internal(cause) => crate::auth::ssr::internal(cause),
            expected => AppError::Invalid(expected.to_string()),
        }
    }
}
