//! What operators do to customer accounts: find them, read them (admin and support), and change
//! them (admin only): plan, per-bucket overrides, disabling. Every change is audited in the
//! same transaction, with the operator as actor, and announced on the change feed so every
//! gateway node applies it at the next request.

use sqlx::FromRow;

use super::repo::{self, AccountRow};
use super::{Account, Accounts, Role, User};
use crate::audit;
use crate::db::DbError;

/// An account as the search lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountSummary {
    pub account: Account,
    pub owner_email: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("This needs an operator role you do not have.")]
    Forbidden,
    #[error("There is no such account.")]
    NotFound,
    /// Input the operator can fix; the message says how.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Internal(#[from] DbError),
}

impl From<sqlx::Error> for AdminError {
    fn from(error: sqlx::Error) -> Self {
        AdminError::Internal(DbError::from(error))
    }
}

/// Admins and support staff read; only admins change.
pub fn require_operator(actor: &User) -> Result<(), AdminError> {
    if actor.role.is_operator() { Ok(()) } else { Err(AdminError::Forbidden) }
}

pub fn require_admin(actor: &User) -> Result<(), AdminError> {
    if actor.role == Role::Admin { Ok(()) } else { Err(AdminError::Forbidden) }
}

#[derive(FromRow)]
struct SummaryRow {
    #[sqlx(flatten)]
    account: AccountRow,
    owner_email: Option<String>,
}

impl From<SummaryRow> for AccountSummary {
    fn from(row: SummaryRow) -> Self {
        AccountSummary { account: row.account.into(), owner_email: row.owner_email }
    }
}

/// How many accounts one search lists.
pub const SEARCH_LIMIT: usize = 50;

/// What a search found: at most [`SEARCH_LIMIT`] accounts, and whether there were more.
#[derive(Debug, Clone)]
pub struct Found {
    pub accounts: Vec<AccountSummary>,
    pub more: bool,
}

/// An account row with its owner's email; a query appends its `WHERE` and `ORDER BY`.
const SUMMARY_SELECT: &str = "SELECT a.id, a.name, a.plan_id, a.billing_anchor_day, a.created_at, a.disabled_at, a.spend_cap_cents, \
     (SELECT MIN(o.email) FROM users o WHERE o.account_id = a.id AND o.role = 'owner') AS owner_email \
     FROM accounts a ";

impl Accounts {
    /// Accounts whose name or a user's email contains `query` (any case), or with a key whose
    /// visible start begins with it; at most fifty, by name. An empty query lists the fifty
    /// newest accounts, newest first.
    pub async fn search(&self, actor: &User, query: &str) -> Result<Found, AdminError> {
        // One more than is shown, to know whether there are more.
        let fetched = i64::try_from(SEARCH_LIMIT + 1).unwrap_or(i64::MAX);
        require_operator(actor)?;
        let query = query.trim();
        let rows: Vec<SummaryRow> = if query.is_empty() {
            sqlx::query_as(&format!("{SUMMARY_SELECT} ORDER BY a.created_at DESC, a.id LIMIT $1"))
                .bind(fetched)
                .fetch_all(self.db.pool())
                .await?
        } else {
            let escaped =
                audit::escape_like(query).map_err(|too_long| AdminError::Invalid(too_long.to_string()))?;
            sqlx::query_as(&format!(
                "{SUMMARY_SELECT} WHERE lower(a.name) LIKE $1 ESCAPE '\\' \
                 OR a.id IN (SELECT u.account_id FROM users u WHERE u.email_normalized LIKE $1 ESCAPE '\\') \
                 OR a.id IN (SELECT k.account_id FROM api_keys k WHERE k.start LIKE $2 ESCAPE '\\' OR k.previous_start LIKE $2 ESCAPE '\\') \
                 ORDER BY a.name, a.id LIMIT $3"
            ))
            .bind(format!("%{}%", escaped.to_lowercase()))
            .bind(format!("{escaped}%"))
            .bind(fetched)
            .fetch_all(self.db.pool())
            .await?
        };
        let more = rows.len() > SEARCH_LIMIT;
        Ok(Found { accounts: rows.into_iter().take(SEARCH_LIMIT).map(AccountSummary::from).collect(), more })
    }

    /// The accounts with these ids, as the search lists them, in no particular order; ids of
    /// no account are skipped.
    pub async fn summaries(&self, actor: &User, ids: &[String]) -> Result<Vec<AccountSummary>, AdminError> {
        require_operator(actor)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let placeholders: Vec<String> = (1..=ids.len()).map(|i| format!("${i}")).collect();
        let sql = format!("{SUMMARY_SELECT} WHERE a.id IN ({})", placeholders.join(", "));
        let mut select = sqlx::query_as::<_, SummaryRow>(&sql);
        for id in ids {
            select = select.bind(id);
        }
        let rows = select.fetch_all(self.db.pool()).await?;
        Ok(rows.into_iter().map(AccountSummary::from).collect())
    }

    /// An account for an operator's eyes.
    pub async fn account_for_operator(&self, actor: &User, account_id: &str) -> Result<Account, AdminError> {
        require_operator(actor)?;
        self.account(account_id).await?.ok_or(AdminError::NotFound)
    }

    /// The account's users (never their password hashes).
    pub async fn users_of(&self, actor: &User, account_id: &str) -> Result<Vec<User>, AdminError> {
        require_operator(actor)?;
        Ok(repo::users_of(&self.db, account_id).await?)
    }

    /// The owner whose view support and admins see under view-as.
    pub async fn owner_of(&self, account_id: &str) -> Result<Option<User>, DbError> {
        let users = repo::users_of(&self.db, account_id).await?;
        Ok(users.into_iter().find(|user| user.role == Role::Owner))
    }

    /// Moves any account to `plan_id` (admins).
    pub async fn set_plan_as_admin(
        &self,
        actor: &User,
        account_id: &str,
        plan_id: &str,
    ) -> Result<Account, AdminError> {
        require_admin(actor)?;
        if self.policy.get().plan(plan_id).is_none() {
            return Err(AdminError::Invalid("There is no such plan.".into()));
        }
        let account = self.account(account_id).await?.ok_or(AdminError::NotFound)?;
        // Nothing changes, so nothing is written or audited.
        if account.plan_id == plan_id {
            return Ok(account);
        }
        let mut tx = self.db.pool().begin().await?;
        repo::set_plan(&mut tx, account_id, plan_id).await?;
        let change = self.change(
            actor,
            account_id,
            "plan.change",
            Some(account.plan_id.clone()),
            Some(plan_id.to_owned()),
        );
        audit::record(&mut tx, change).await?;
        tx.commit().await?;
        self.announce(account_id);
        Ok(Account { plan_id: plan_id.to_owned(), ..account })
    }

    /// Sets (or with `None` removes) the account's own limit for `bucket`, replacing its plan's.
    pub async fn set_override(
        &self,
        actor: &User,
        account_id: &str,
        bucket: &str,
        limit: Option<u64>,
    ) -> Result<(), AdminError> {
        require_admin(actor)?;
        let policy = self.policy.get();
        let known = policy.buckets.contains_key(bucket)
            || [policy::MONTHLY, policy::BURST, policy::DAILY_CAP].contains(&bucket);
        if !known {
            return Err(AdminError::Invalid(format!("There is no bucket called {bucket:?}.")));
        }
        if let Some(limit) = limit {
            let mut checked = policy::Overrides::new();
            checked.set(bucket, limit);
            policy.check_overrides(&checked).map_err(|error| AdminError::Invalid(error.to_string()))?;
        }
        self.account(account_id).await?.ok_or(AdminError::NotFound)?;
        let before = self.overrides(account_id).await?.get(bucket);
        if before == limit {
            return Ok(());
        }
        // In range: checked above.
        let limit_value = limit.map(|limit| i64::try_from(limit).unwrap_or(i64::MAX));
        let mut tx = self.db.pool().begin().await?;
        match limit_value {
            Some(value) => {
                sqlx::query(
                    "INSERT INTO account_overrides (account_id, bucket, limit_value, updated_at) VALUES ($1, $2, $3, $4) \
                     ON CONFLICT (account_id, bucket) DO UPDATE SET limit_value = excluded.limit_value, updated_at = excluded.updated_at",
                )
                .bind(account_id)
                .bind(bucket)
                .bind(value)
                .bind(self.clock.now().timestamp_millis())
                .execute(&mut *tx)
                .await?;
            }
            None => {
                sqlx::query("DELETE FROM account_overrides WHERE account_id = $1 AND bucket = $2")
                    .bind(account_id)
                    .bind(bucket)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let shown = |value: Option<u64>| Some(value.map_or_else(|| "plan".to_owned(), |v| v.to_string()));
        let mut change = self.change(actor, account_id, "override.set", shown(before), shown(limit));
        change.target = Some(bucket);
        audit::record(&mut tx, change).await?;
        tx.commit().await?;
        self.announce(account_id);
        Ok(())
    }

    /// Disables the account (its keys get 401 on every node) or enables it again.
    pub async fn set_disabled(
        &self,
        actor: &User,
        account_id: &str,
        disabled: bool,
        reason: &str,
    ) -> Result<Account, AdminError> {
        require_admin(actor)?;
        let Some(reason) = audit::stated_reason(reason) else {
            let rule =
                format!("Say why, for the audit log, in at most {} characters.", audit::MAX_REASON_CHARS);
            return Err(AdminError::Invalid(rule));
        };
        let account = self.account(account_id).await?.ok_or(AdminError::NotFound)?;
        if account.disabled_at.is_some() == disabled {
            return Ok(account);
        }
        let now = self.clock.now();
        let disabled_at = disabled.then_some(now);
        let mut tx = self.db.pool().begin().await?;
        sqlx::query("UPDATE accounts SET disabled_at = $1 WHERE id = $2")
            .bind(disabled_at.map(|at| at.timestamp_millis()))
            .bind(account_id)
            .execute(&mut *tx)
            .await?;
        let state = |disabled: bool| Some(if disabled { "disabled" } else { "enabled" }.to_owned());
        let action = if disabled { "account.disable" } else { "account.enable" };
        let mut change =
            self.change(actor, account_id, action, state(account.disabled_at.is_some()), state(disabled));
        change.reason = Some(reason);
        audit::record(&mut tx, change).await?;
        tx.commit().await?;
        self.announce(account_id);
        Ok(Account { disabled_at, ..account })
    }
}
