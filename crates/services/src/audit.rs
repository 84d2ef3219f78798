//! The audit log: who changed what, before and after, when. Entries are written in the same
//! transaction as the change they describe, so neither exists without the other.

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, FromRow};

use crate::accounts::User;
use crate::db::Database;
use crate::ids::new_id;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: String,
    pub account_id: Option<String>,
    pub actor_id: Option<String>,
    pub actor_email: String,
    /// e.g. `key.create`, `key.rotate`, `key.revoke`, `plan.change`.
    pub action: String,
    pub target: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// What a change records; [`record`] adds the id.
pub struct Change<'a> {
    pub account_id: Option<&'a str>,
    pub actor: &'a User,
    pub action: &'a str,
    pub target: Option<&'a str>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<&'a str>,
    pub at: DateTime<Utc>,
}

pub async fn record(conn: &mut AnyConnection, change: Change<'_>) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_log (id, account_id, actor_id, actor_email, action, target, before_value, after_value, reason, at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    )
    .bind(new_id("aud"))
    .bind(change.account_id)
    .bind(&change.actor.id)
    .bind(&change.actor.email)
    .bind(change.action)
    .bind(change.target)
    .bind(change.before)
    .bind(change.after)
    .bind(change.reason)
    .bind(change.at.timestamp_millis())
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(FromRow)]
struct EntryRow {
    id: String,
    account_id: Option<String>,
    actor_id: Option<String>,
    actor_email: String,
    action: String,
    target: Option<String>,
    before_value: Option<String>,
    after_value: Option<String>,
    reason: Option<String>,
    at: i64,
}

/// An account's entries, newest first.
pub async fn for_account(
    db: &Database,
    account_id: &str,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let rows: Vec<EntryRow> = sqlx::query_as(
        "SELECT id, account_id, actor_id, actor_email, action, target, before_value, after_value, reason, at \
         FROM audit_log WHERE account_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
    )
    .bind(account_id)
    .bind(limit)
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| AuditEntry {
            id: row.id,
            account_id: row.account_id,
            actor_id: row.actor_id,
            actor_email: row.actor_email,
            action: row.action,
            target: row.target,
            before: row.before_value,
            after: row.after_value,
            reason: row.reason,
            at: crate::db::from_millis(row.at),
        })
        .collect())
}
