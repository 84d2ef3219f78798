//! The audit log page's data: who did what, before and after, when. Customers read their own
//! account's entries (view-as starts, ends and page views included); operators read all.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRow {
    pub id: String,
    /// "2026-11-24 14:05:09 UTC".
    pub at: String,
    pub account_id: Option<String>,
    /// The account's name now.
    pub account_name: Option<String>,
    pub actor: String,
    pub action: String,
    /// The id of what changed.
    pub target: Option<String>,
    /// What that is called now (a key's name and start, an account's name), where known.
    pub target_label: Option<String>,
    pub before: Option<String>,
    pub after: Option<String>,
    pub reason: Option<String>,
}

/// How many entries one page lists.
pub const AUDIT_PAGE: i64 = 200;

/// Entries newest first, narrowed by actor (part of an email), action (or its start, `key.`)
/// and dates (`YYYY-MM-DD`, UTC, both days included). `all_accounts` is for operators, who
/// may narrow it to one `account` (an id).
#[server]
pub async fn list_audit(
    all_accounts: bool,
    account: String,
    actor: String,
    action: String,
    from: String,
    to: String,
) -> Result<Vec<AuditRow>, AppError> {
    use crate::auth::ssr::{internal, require_operator, require_user, services};
    use services::audit::{self, AuditFilter};

    let account_id = if all_accounts {
        require_operator().await?;
        Some(account.trim().to_owned()).filter(|id| !id.is_empty())
    } else {
        Some(require_user().await?.account_id.ok_or(AppError::Forbidden)?)
    };
    let day = |text: &str, next: bool| -> Result<Option<chrono::DateTime<chrono::Utc>>, AppError> {
        if text.trim().is_empty() {
            return Ok(None);
        }
        let date = chrono::NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
            .map_err(|_| AppError::Invalid("Dates look like 2026-11-24.".into()))?;
        let date = if next { date.succ_opt().unwrap_or(date) } else { date };
        Ok(date.and_hms_opt(0, 0, 0).map(|at| at.and_utc()))
    };
    let (from, to) = (day(&from, false)?, day(&to, true)?);
    if let (Some(from), Some(to)) = (from, to)
        && from >= to
    {
        return Err(AppError::Invalid(
            "The From date is after the To date: pick one on or before it.".into(),
        ));
    }
    let filter = AuditFilter {
        account_id: account_id.as_deref(),
        actor: Some(actor.as_str()),
        action: Some(action.as_str()),
        from,
        to,
    };
    let services = services()?;
    let entries = audit::search(&services.db, &filter, AUDIT_PAGE).await.map_err(|error| match error {
        audit::SearchError::TooLong => AppError::Invalid(error.to_string()),
        audit::SearchError::Db(cause) => internal(cause),
    })?;
    // A plan change is stored as plan ids; shown as the plans' names where they still exist.
    let policy = services.policy.get();
    let plan_name =
        |id: Option<String>| id.map(|id| policy.plan(&id).map_or(id.clone(), |plan| plan.name.clone()));
    Ok(entries
        .into_iter()
        .map(|entry| {
            let (before, after) = if entry.action == "plan.change" {
                (plan_name(entry.before), plan_name(entry.after))
            } else {
                (entry.before, entry.after)
            };
            AuditRow {
                id: entry.id,
                at: entry.at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                account_id: entry.account_id,
                account_name: entry.account_name,
                actor: entry.actor_email,
                action: entry.action,
                target: entry.target,
                target_label: entry.target_label,
                before,
                after,
                reason: entry.reason,
            }
        })
        .collect())
}
