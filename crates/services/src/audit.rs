//! The audit log: who changed what, before and after, when. Entries are written in the same
//! transaction as the change they describe, so neither exists without the other.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::{AnyConnection, FromRow};

use crate::accounts::User;
use crate::db::Database;
use crate::ids::new_id;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    pub id: String,
    pub account_id: Option<String>,
    /// The account's name now.
    pub account_name: Option<String>,
    pub actor_id: Option<String>,
    pub actor_email: String,
    /// e.g. `key.create`, `key.rotate`, `key.revoke`, `plan.change`.
    pub action: String,
    /// The id of what changed: a key, an account, a plan, a bucket's name.
    pub target: Option<String>,
    /// What that target is called now, where it is a key ("name (start…)"), an account (its
    /// name) or a user (their email); ids alone say little to a reader.
    pub target_label: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// The most characters an operator's reason for a change may have.
pub const MAX_REASON_CHARS: usize = 500;

/// An operator's reason for a change, trimmed; `None` when it is blank or longer than
/// [`MAX_REASON_CHARS`].
pub fn stated_reason(text: &str) -> Option<&str> {
    let reason = text.trim();
    (!reason.is_empty() && reason.chars().count() <= MAX_REASON_CHARS).then_some(reason)
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

/// Records one entry on its own (no other change to make atomic with it): view-as starts,
/// ends and page views.
pub async fn record_now(
    db: &Database,
    account_id: &str,
    actor: &User,
    action: &str,
    target: Option<&str>,
    reason: Option<&str>,
    at: DateTime<Utc>,
) -> Result<(), sqlx::Error> {
    let mut conn = db.pool().acquire().await?;
    let change =
        Change { account_id: Some(account_id), actor, action, target, before: None, after: None, reason, at };
    record(&mut conn, change).await
}

#[derive(FromRow)]
struct EntryRow {
    id: String,
    account_id: Option<String>,
    account_name: Option<String>,
    actor_id: Option<String>,
    actor_email: String,
    action: String,
    target: Option<String>,
    target_label: Option<String>,
    before_value: Option<String>,
    after_value: Option<String>,
    reason: Option<String>,
    at: i64,
}

impl EntryRow {
    fn into_entry(self) -> AuditEntry {
        AuditEntry {
            id: self.id,
            account_id: self.account_id,
            account_name: self.account_name,
            actor_id: self.actor_id,
            actor_email: self.actor_email,
            action: self.action,
            target: self.target,
            target_label: self.target_label,
            before: self.before_value,
            after: self.after_value,
            reason: self.reason,
            at: crate::db::from_millis(self.at),
        }
    }
}

/// Entries with their targets' current names; callers add `WHERE` and `ORDER BY` on `log`.
/// An invitation or a removed member has no row left to name it, so team entries fall back
/// to the email address the entry itself recorded.
const SELECT_ENTRIES: &str = "SELECT log.id, log.account_id, account.name AS account_name, log.actor_id, \
     log.actor_email, log.action, log.target, \
     COALESCE(target_key.name || ' (' || target_key.start || '…)', target_account.name, target_user.email, \
       CASE WHEN log.action LIKE 'member.%' OR log.action LIKE 'invitation.%' \
       THEN COALESCE(log.after_value, log.before_value) END) AS target_label, \
     log.before_value, log.after_value, log.reason, log.at \
     FROM audit_log log \
     LEFT JOIN accounts account ON account.id = log.account_id \
     LEFT JOIN api_keys target_key ON target_key.id = log.target \
     LEFT JOIN accounts target_account ON target_account.id = log.target \
     LEFT JOIN users target_user ON target_user.id = log.target";

/// An account's entries, newest first.
pub async fn for_account(
    db: &Database,
    account_id: &str,
    limit: i64,
) -> Result<Vec<AuditEntry>, sqlx::Error> {
    let sql =
        format!("{SELECT_ENTRIES} WHERE log.account_id = $1 ORDER BY log.at DESC, log.id DESC LIMIT $2");
    let rows: Vec<EntryRow> = sqlx::query_as(&sql).bind(account_id).bind(limit).fetch_all(db.pool()).await?;
    Ok(rows.into_iter().map(EntryRow::into_entry).collect())
}

/// When `action` was last recorded on the account for `target`, if ever.
pub async fn last_at(
    db: &Database,
    account_id: &str,
    action: &str,
    target: &str,
) -> Result<Option<DateTime<Utc>>, sqlx::Error> {
    let at: Option<i64> = sqlx::query_scalar(
        "SELECT MAX(at) FROM audit_log WHERE account_id = $1 AND action = $2 AND target = $3",
    )
    .bind(account_id)
    .bind(action)
    .bind(target)
    .fetch_one(db.pool())
    .await?;
    Ok(at.map(crate::db::from_millis))
}

/// The latest `action` entry since `since` per (account, target), in one query: every counter
/// reset a restart must respect.
pub async fn latest_per_account_and_target(
    db: &Database,
    action: &str,
    since: DateTime<Utc>,
) -> Result<HashMap<(String, String), DateTime<Utc>>, sqlx::Error> {
    let rows: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT account_id, target, MAX(at) FROM audit_log \
         WHERE action = $1 AND at >= $2 AND account_id IS NOT NULL AND target IS NOT NULL \
         GROUP BY account_id, target",
    )
    .bind(action)
    .bind(since.timestamp_millis())
    .fetch_all(db.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(account, target, at)| ((account, target), crate::db::from_millis(at)))
        .collect())
}

/// Which entries the audit log page lists; every field narrows it.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter<'a> {
    /// One account's entries; `None` for all (operators only).
    pub account_id: Option<&'a str>,
    /// Part of the actor's email, any case.
    pub actor: Option<&'a str>,
    /// The action, or its start (`key.` for every key action).
    pub action: Option<&'a str>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// Entries matching `filter`, newest first, at most `limit`.
pub async fn search(
    db: &Database,
    filter: &AuditFilter<'_>,
    limit: i64,
) -> Result<Vec<AuditEntry>, SearchError> {
    let mut conditions = Vec::new();
    let mut binds: Vec<Bind> = Vec::new();
    let mut add = |condition: &str, bind: Bind| {
        binds.push(bind);
        conditions.push(condition.replace('?', &format!("${}", binds.len())));
    };
    if let Some(account_id) = filter.account_id {
        add("log.account_id = ?", Bind::Text(account_id.to_owned()));
    }
    if let Some(actor) = filter.actor.filter(|actor| !actor.trim().is_empty()) {
        add(
            "lower(log.actor_email) LIKE ? ESCAPE '\\'",
            Bind::Text(format!("%{}%", escape_like(&actor.trim().to_lowercase())?)),
        );
    }
    if let Some(action) = filter.action.filter(|action| !action.trim().is_empty()) {
        add("log.action LIKE ? ESCAPE '\\'", Bind::Text(format!("{}%", escape_like(action.trim())?)));
    }
    if let Some(from) = filter.from {
        add("log.at >= ?", Bind::Int(from.timestamp_millis()));
    }
    if let Some(to) = filter.to {
        add("log.at < ?", Bind::Int(to.timestamp_millis()));
    }
    let mut sql = String::from(SELECT_ENTRIES);
    if !conditions.is_empty() {
        sql.push_str(" WHERE ");
        sql.push_str(&conditions.join(" AND "));
    }
    sql.push_str(&format!(" ORDER BY log.at DESC, log.id DESC LIMIT ${}", binds.len() + 1));
    let mut query = sqlx::query_as::<_, EntryRow>(&sql);
    for bind in binds {
        query = match bind {
            Bind::Text(text) => query.bind(text),
            Bind::Int(int) => query.bind(int),
        };
    }
    let rows = query.bind(limit).fetch_all(db.pool()).await?;
    Ok(rows.into_iter().map(EntryRow::into_entry).collect())
}

enum Bind {
    Text(String),
    Int(i64),
}

/// The longest text a search takes: as long as the longest email it could match. (SQLite
/// also refuses a `LIKE` pattern over 50,000 bytes, which would otherwise be a 500.)
pub const MAX_SEARCH_CHARS: usize = 254;

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("Search for at most {MAX_SEARCH_CHARS} characters.")]
    TooLong,
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// `text` for a `LIKE … ESCAPE '\'` pattern, its wildcards taken literally.
pub(crate) fn escape_like(text: &str) -> Result<String, SearchError> {
    if text.chars().count() > MAX_SEARCH_CHARS {
        return Err(SearchError::TooLong);
    }
    Ok(text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"))
}
