//! What the key API reads and writes: the request bodies, and a key as JSON (dates in RFC 3339,
//! with what it has used of its own quota).

use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use policy::KeyQuota;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use services::Services;
use services::keys::{ApiKey, KeyError, KeyWithSecret, Restrictions};

#[derive(Serialize)]
pub(super) struct KeyJson {
    id: String,
    name: String,
    start: String,
    status: &'static str,
    created_at: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    /// The client address of that last use.
    last_used_from: Option<String>,
    /// While a rotation's grace lasts: when the old secret stops working.
    old_secret_expires_at: Option<String>,
    /// GET, HEAD and OPTIONS only.
    read_only: bool,
    /// The address ranges requests may come from; empty: anywhere.
    allowed_ips: Vec<String>,
    /// The key's own quota, `{"limit": 1000, "per": "day"}`; null: the plan's alone.
    quota: Option<KeyQuota>,
    /// What the key has used of its own quota this day or billing month; null without one (or
    /// while the limiter store cannot be read).
    quota_used: Option<u64>,
}

#[derive(Serialize)]
pub(super) struct CreatedJson {
    key: KeyJson,
    /// Shown this once; keystile keeps only its SHA-256.
    secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    pub(super) name: String,
    #[serde(default)]
    pub(super) expires_in_days: Option<u32>,
    #[serde(default)]
    pub(super) read_only: bool,
    #[serde(default)]
    pub(super) allowed_ips: Vec<String>,
    #[serde(default)]
    pub(super) quota: Option<KeyQuota>,
}

/// A key's restrictions as JSON; every field may be left out (no restriction).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestrictionsRequest {
    #[serde(default)]
    pub(super) read_only: bool,
    #[serde(default)]
    pub(super) allowed_ips: Vec<String>,
    /// `{"limit": 1000, "per": "day"}` (or `"month"`); absent or null: none.
    #[serde(default)]
    pub(super) quota: Option<KeyQuota>,
}

pub(super) fn restrictions(
    read_only: bool,
    allowed_ips: &[String],
    quota: Option<KeyQuota>,
) -> Result<Restrictions, KeyError> {
    let parsed = Restrictions::from_list(read_only, allowed_ips).map_err(KeyError::InvalidRestrictions)?;
    Ok(parsed.with_quota(quota))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    #[serde(default)]
    pub(super) grace_seconds: u32,
    /// Absent: the key keeps its expiry; 0: it never expires; N: it expires in N days.
    pub(super) expires_in_days: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameRequest {
    pub(super) name: String,
}

pub(super) async fn account_keys_json(
    services: &Services,
    account_id: &str,
) -> Result<Json<Vec<KeyJson>>, KeyError> {
    let keys = services.keys.list(account_id).await?;
    let used = services.key_quota_use(account_id, &keys).await;
    let now = services.clock.now();
    Ok(Json(keys.iter().map(|key| key_json(key, now, used.get(&key.id).copied())).collect()))
}

pub(super) fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// The key as JSON, with what it has used of its own quota.
pub(super) async fn current_key_json(services: &Services, key: &ApiKey) -> KeyJson {
    let used = services.key_quota_use(&key.account_id, std::slice::from_ref(key)).await;
    key_json(key, services.clock.now(), used.get(&key.id).copied())
}

pub(super) async fn with_quota_use(
    services: &Services,
    key: Result<ApiKey, KeyError>,
) -> Result<Json<KeyJson>, KeyError> {
    Ok(Json(current_key_json(services, &key?).await))
}

pub(super) fn key_json(key: &ApiKey, now: DateTime<Utc>, quota_used: Option<u64>) -> KeyJson {
    let status = key.status(now);
    let old_secret_expires_at = status.rotating_until().map(time);
    let status = status.as_str();
    KeyJson {
        id: key.id.clone(),
        name: key.name.clone(),
        start: key.start.clone(),
        status,
        created_at: time(key.created_at),
        expires_at: key.expires_at.map(time),
        last_used_at: key.last_used_at.map(time),
        last_used_from: key.last_used_from.clone(),
        old_secret_expires_at,
        read_only: key.restrictions.read_only,
        allowed_ips: key.restrictions.allowed_ips.iter().map(ToString::to_string).collect(),
        quota: key.restrictions.quota,
        quota_used,
    }
}

pub(super) async fn created_json(services: &Services, created: KeyWithSecret) -> CreatedJson {
    CreatedJson {
        key: current_key_json(services, &created.key).await,
        secret: created.secret.expose_secret().to_owned(),
    }
}
