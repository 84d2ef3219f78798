//! SQL for API keys.

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, FromRow};

use super::secret::GeneratedSecret;
use super::{ApiKey, KeyUse, PreviousSecret, QuotaSince, Rejection, Restrictions, VerifiedKey};
use crate::db::{Database, from_millis};
use policy::KeyQuota;

#[derive(FromRow)]
pub(super) struct KeyRow {
    id: String,
    account_id: String,
    name: String,
    start: String,
    secret_hash: String,
    previous_start: Option<String>,
    previous_secret_hash: Option<String>,
    previous_expires_at: Option<i64>,
    previous_last_used_at: Option<i64>,
    previous_last_used_from: Option<String>,
    created_at: i64,
    expires_at: Option<i64>,
    last_used_at: Option<i64>,
    last_used_from: Option<String>,
    revoked_at: Option<i64>,
    disabled_at: Option<i64>,
    staff_disable_reason: Option<String>,
    access: String,
    allowed_ips: Option<String>,
    quota_limit: Option<i64>,
    quota_period: Option<String>,
    /// Selected by the queries for pages only ([`LISTED_COLUMNS`]).
    #[sqlx(default)]
    created_by_email: Option<String>,
}

const COLUMNS: &str = "id, account_id, name, start, secret_hash, previous_start, previous_secret_hash, \
    previous_expires_at, previous_last_used_at, previous_last_used_from, created_at, expires_at, last_used_at, \
    last_used_from, revoked_at, disabled_at, staff_disable_reason, access, allowed_ips, quota_limit, quota_period";

/// `access` of a read-only key; any other value (`full`) restricts nothing.
const READ_ONLY: &str = "read";

/// [`COLUMNS`] and the creator's email, while they are a user.
fn listed_columns() -> String {
    format!("{COLUMNS}, (SELECT email FROM users WHERE users.id = api_keys.created_by) AS created_by_email")
}

impl KeyRow {
    /// The stored restrictions. Rows are written from parsed values only, so an unreadable
    /// address list or quota means the database was edited by hand: logged, and the gateway
    /// then refuses the key (see [`Self::verify`]) rather than let it in unrestricted.
    fn restrictions(&self) -> Result<Restrictions, String> {
        let listed = self.allowed_ips.as_deref().unwrap_or("");
        let quota = match (self.quota_limit, self.quota_period.as_deref()) {
            (Some(limit), Some(period)) => u64::try_from(limit)
                .map_err(|_| format!("a quota of {limit} requests"))
                .and_then(|limit| KeyQuota::per(limit, period))
                .map(Some),
            (None, None) => Ok(None),
            _ => Err("a quota needs both its limit and its period".to_owned()),
        };
        quota
            .and_then(|quota| Ok(Restrictions::parse(self.access == READ_ONLY, listed)?.with_quota(quota)))
            .inspect_err(|error| {
                tracing::error!(key_id = %self.id, %error, "the key's stored restrictions are unreadable");
            })
    }

    fn into_key(self) -> ApiKey {
        let restrictions = self.restrictions().unwrap_or_default();
        let previous = match (self.previous_start, self.previous_expires_at) {
            (Some(start), Some(expires_at)) => Some(PreviousSecret {
                start,
                expires_at: from_millis(expires_at),
                last_used_at: self.previous_last_used_at.map(from_millis),
                last_used_from: self.previous_last_used_from,
            }),
            _ => None,
        };
        ApiKey {
            id: self.id,
            account_id: self.account_id,
            name: self.name,
            start: self.start,
            created_at: from_millis(self.created_at),
            expires_at: self.expires_at.map(from_millis),
            last_used_at: self.last_used_at.map(from_millis),
            last_used_from: self.last_used_from,
            previous,
            revoked_at: self.revoked_at.map(from_millis),
            disabled_at: self.disabled_at.map(from_millis),
            staff_disable_reason: self.staff_disable_reason,
            created_by: self.created_by_email,
            restrictions,
        }
    }

    /// Judges the row found for a presented secret's digest.
    pub(super) fn verify(self, now: DateTime<Utc>) -> Result<VerifiedKey, Rejection> {
        let now_ms = now.timestamp_millis();
        if self.revoked_at.is_some() {
            return Err(Rejection::Revoked);
        }
        if self.expires_at.is_some_and(|at| at <= now_ms) {
            return Err(Rejection::Expired);
        }
        if self.disabled_at.is_some() {
            return Err(Rejection::Disabled);
        }
        // by_secret_hash clears the previous secret when the current one matched.
        let via_previous = self.previous_secret_hash.is_some();
        let grace_end = if via_previous { self.previous_expires_at } else { None };
        if grace_end.is_some_and(|end| end <= now_ms) {
            // The rotation's grace period is over: that secret is simply no longer a key.
            return Err(Rejection::Unknown);
        }
        let valid_until = [self.expires_at, grace_end].into_iter().flatten().min().map(from_millis);
        let restrictions = self.restrictions().map_err(|_| Rejection::Revoked)?;
        Ok(VerifiedKey {
            key_id: self.id,
            account_id: self.account_id,
            valid_until,
            via_previous,
            restrictions,
        })
    }
}

pub(super) async fn insert(
    conn: &mut AnyConnection,
    key: &ApiKey,
    secret_hash: &str,
    created_by: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO api_keys (id, account_id, name, start, secret_hash, created_by, created_at, expires_at, \
           access, allowed_ips, quota_limit, quota_period) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
    )
    .bind(&key.id)
    .bind(&key.account_id)
    .bind(&key.name)
    .bind(&key.start)
    .bind(secret_hash)
    .bind(created_by)
    .bind(key.created_at.timestamp_millis())
    .bind(key.expires_at.map(|at| at.timestamp_millis()))
    .bind(access(&key.restrictions))
    .bind(key.restrictions.allowed_ips_text())
    .bind(quota_limit(&key.restrictions))
    .bind(quota_period(&key.restrictions))
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn list(db: &Database, account_id: &str) -> Result<Vec<ApiKey>, sqlx::Error> {
    let rows: Vec<KeyRow> = sqlx::query_as(&format!(
        "SELECT {} FROM api_keys WHERE account_id = $1 ORDER BY created_at DESC, id",
        listed_columns()
    ))
    .bind(account_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(KeyRow::into_key).collect())
}

/// Every unrevoked key that has its own quota: its id, the quota and when it started counting.
pub(super) async fn quotas(db: &Database) -> Result<Vec<(String, QuotaSince)>, sqlx::Error> {
    #[derive(FromRow)]
    struct QuotaRow {
        #[sqlx(flatten)]
        key: KeyRow,
        quota_since: Option<i64>,
    }
    let rows: Vec<QuotaRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, quota_since FROM api_keys WHERE quota_limit IS NOT NULL AND revoked_at IS NULL"
    ))
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let quota = row.key.restrictions().ok()?.quota?;
            Some((row.key.id, QuotaSince { quota, since: row.quota_since.map(from_millis) }))
        })
        .collect())
}

pub(super) async fn by_id(
    db: &Database,
    account_id: &str,
    key_id: &str,
) -> Result<Option<ApiKey>, sqlx::Error> {
    let row: Option<KeyRow> = sqlx::query_as(&format!(
        "SELECT {} FROM api_keys WHERE account_id = $1 AND id = $2",
        listed_columns()
    ))
    .bind(account_id)
    .bind(key_id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(KeyRow::into_key))
}

/// The row whose current or previous secret has this digest. When the current secret matched,
/// the previous one is cleared from the row, so [`KeyRow::verify`] can tell which matched.
pub(super) async fn by_secret_hash(db: &Database, hash: &str) -> Result<Option<KeyRow>, sqlx::Error> {
    let row: Option<KeyRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM api_keys WHERE secret_hash = $1 OR previous_secret_hash = $1"
    ))
    .bind(hash)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(|mut row| {
        if row.secret_hash == hash {
            // The current secret matched: the previous one is irrelevant to this caller.
            row.previous_secret_hash = None;
            row.previous_expires_at = None;
        }
        row
    }))
}

pub(super) async fn rotate(
    conn: &mut AnyConnection,
    key_id: &str,
    generated: &GeneratedSecret,
    grace_end: DateTime<Utc>,
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let keep_previous = grace_end > now;
    sqlx::query(
        "UPDATE api_keys SET \
           previous_start = CASE WHEN $1 = 1 THEN start ELSE NULL END, \
           previous_secret_hash = CASE WHEN $1 = 1 THEN secret_hash ELSE NULL END, \
           previous_expires_at = CASE WHEN $1 = 1 THEN $2 ELSE NULL END, \
           previous_last_used_at = CASE WHEN $1 = 1 THEN last_used_at ELSE NULL END, \
           previous_last_used_from = CASE WHEN $1 = 1 THEN last_used_from ELSE NULL END, \
           start = $3, secret_hash = $4, rotated_at = $5, expires_at = $6 \
         WHERE id = $7",
    )
    .bind(i64::from(keep_previous))
    .bind(grace_end.timestamp_millis())
    .bind(&generated.start)
    .bind(&generated.hash)
    .bind(now.timestamp_millis())
    .bind(expires_at.map(|at| at.timestamp_millis()))
    .bind(key_id)
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn revoke(
    conn: &mut AnyConnection,
    key_id: &str,
    now: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
        .bind(now.timestamp_millis())
        .bind(key_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn rename(conn: &mut AnyConnection, key_id: &str, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_keys SET name = $1 WHERE id = $2").bind(name).bind(key_id).execute(conn).await?;
    Ok(())
}

/// Disables the key from `at` (with staff's reason, when staff did it), or enables it again
/// (`None`).
pub(super) async fn set_disabled(
    conn: &mut AnyConnection,
    key_id: &str,
    at: Option<DateTime<Utc>>,
    staff_reason: Option<&str>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE api_keys SET disabled_at = $1, staff_disable_reason = $2 WHERE id = $3")
        .bind(at.map(|at| at.timestamp_millis()))
        .bind(staff_reason)
        .bind(key_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn restrict(
    conn: &mut AnyConnection,
    key_id: &str,
    restrictions: &Restrictions,
    quota_counts_from: Option<DateTime<Utc>>,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE api_keys SET access = $1, allowed_ips = $2, quota_limit = $3, quota_period = $4, \
           quota_since = COALESCE($5, quota_since) WHERE id = $6",
    )
    .bind(access(restrictions))
    .bind(restrictions.allowed_ips_text())
    .bind(quota_limit(restrictions))
    .bind(quota_period(restrictions))
    .bind(quota_counts_from.map(|at| at.timestamp_millis()))
    .bind(key_id)
    .execute(conn)
    .await?;
    Ok(())
}

fn access(restrictions: &Restrictions) -> &'static str {
    if restrictions.read_only { READ_ONLY } else { "full" }
}

fn quota_limit(restrictions: &Restrictions) -> Option<i64> {
    // At most limiter::MAX_UNITS (2^50), so it always fits.
    restrictions.quota.map(|quota| i64::try_from(quota.limit()).unwrap_or(i64::MAX))
}

fn quota_period(restrictions: &Restrictions) -> Option<&'static str> {
    restrictions.quota.map(|quota| quota.window().as_str())
}

/// Moves `last_used_at` (or the previous secret's) forward, never back, with the address of
/// that use: batches from several nodes may arrive out of order. (Every `SET` expression
/// reads the row as it was before the update, so both columns test the old time.)
pub(super) async fn record_use(conn: &mut AnyConnection, key_use: &KeyUse) -> Result<(), sqlx::Error> {
    let (at, from) = if key_use.via_previous {
        ("previous_last_used_at", "previous_last_used_from")
    } else {
        ("last_used_at", "last_used_from")
    };
    let newer = format!("{at} IS NULL OR {at} < $1");
    sqlx::query(&format!(
        "UPDATE api_keys SET {at} = CASE WHEN {newer} THEN $1 ELSE {at} END, \
           {from} = CASE WHEN {newer} THEN $2 ELSE {from} END \
         WHERE id = $3"
    ))
    .bind(key_use.at.timestamp_millis())
    .bind(key_use.from.to_canonical().to_string())
    .bind(&key_use.key_id)
    .execute(conn)
    .await?;
    Ok(())
}
