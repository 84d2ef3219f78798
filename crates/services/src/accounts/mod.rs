//! Accounts and their users, and the changes an owner makes to their account (plan, spend cap,
//! name). Sign-up, credentials and passwords are in `credentials`; members and invitations in
//! `team`; operators' changes in `admin`.
//!
//! A customer account has users (owner, member); operator staff (admin, support) belong to no
//! account.

pub mod admin;
mod credentials;
pub(crate) mod repo;
mod team;

pub use credentials::{CredentialsError, SignUpError, normalize_email};
pub use team::{
    INVITATION_LIFETIME, Invitation, JoinError, MAX_PENDING_INVITATIONS, NewInvitation, TeamError,
};

use std::sync::Arc;

use chrono::{DateTime, Utc};
use limiter::Clock;
use serde::{Deserialize, Serialize};

use crate::CurrentPolicy;
use crate::db::{Database, DbError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Owner,
    Member,
    Admin,
    Support,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Support => "support",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        match text {
            "owner" => Some(Role::Owner),
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            "support" => Some(Role::Support),
            _ => None,
        }
    }

    /// Operator staff: they work on other people's accounts, not their own.
    pub fn is_operator(self) -> bool {
        matches!(self, Role::Admin | Role::Support)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub account_id: Option<String>,
    pub email: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub plan_id: String,
    pub billing_anchor_day: u8,
    pub created_at: DateTime<Utc>,
    /// A disabled account's keys are refused everywhere.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Monthly spend cap in cents; `None`: no cap.
    pub spend_cap_cents: Option<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanChangeError {
    #[error("Only the account's owner can change its plan.")]
    NotOwner,
    #[error("There is no such plan.")]
    UnknownPlan,
    #[error("This plan is arranged with us by contract; contact us to move your account to it.")]
    ArrangedByOperator,
    #[error(transparent)]
    Internal(#[from] DbError),
}

#[derive(Debug, thiserror::Error)]
pub enum SpendCapError {
    #[error("Only the account's owner can change its spend cap.")]
    NotOwner,
    #[error("Spend caps are set by the operator here; ask them to change yours.")]
    SetByOperator,
    #[error(transparent)]
    Internal(#[from] DbError),
}

#[derive(Debug, thiserror::Error)]
pub enum RenameError {
    #[error("Only the account's owner can rename it.")]
    NotOwner,
    #[error("Give the account a name of 1 to {max} characters, without tabs, line breaks or other control characters.", max = MAX_ACCOUNT_NAME)]
    InvalidName,
    #[error(transparent)]
    Internal(#[from] DbError),
}

/// The accounts service. Clones share the database and clock.
#[derive(Clone)]
pub struct Accounts {
    db: Database,
    clock: Arc<dyn Clock>,
    policy: CurrentPolicy,
    changes: Arc<dyn crate::changes::ChangeFeed>,
}

impl Accounts {
    pub fn new(
        db: Database,
        clock: Arc<dyn Clock>,
        policy: CurrentPolicy,
        changes: Arc<dyn crate::changes::ChangeFeed>,
    ) -> Self {
        Self { db, clock, policy, changes }
    }

    pub async fn user(&self, user_id: &str) -> Result<Option<User>, DbError> {
        Ok(repo::user_by_id(&self.db, user_id).await?)
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<User>, DbError> {
        Ok(repo::user_with_hash_by_email(&self.db, &normalize_email(email)).await?.map(|(user, _)| user))
    }

    pub async fn account(&self, account_id: &str) -> Result<Option<Account>, DbError> {
        Ok(repo::account_by_id(&self.db, account_id).await?)
    }

    /// Moves the actor's account to `plan_id` (owners only; plans a customer may choose). The gateway uses the new plan's
    /// limits from the next request on every node; counters are kept; the change is audited.
    pub async fn change_plan(&self, actor: &User, plan_id: &str) -> Result<Account, PlanChangeError> {
        let account_id = actor.account_id.as_deref().ok_or(PlanChangeError::NotOwner)?;
        if actor.role != Role::Owner {
            return Err(PlanChangeError::NotOwner);
        }
        match self.policy.get().plan(plan_id) {
            None => return Err(PlanChangeError::UnknownPlan),
            Some(plan) if !plan.self_service => return Err(PlanChangeError::ArrangedByOperator),
            Some(_) => {}
        }
        let account = self.account(account_id).await?.ok_or(PlanChangeError::NotOwner)?;
        if account.plan_id == plan_id {
            return Ok(account);
        }
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        repo::set_plan(&mut tx, account_id, plan_id).await.map_err(DbError::from)?;
        let change = self.change(
            actor,
            account_id,
            "plan.change",
            Some(account.plan_id.clone()),
            Some(plan_id.to_owned()),
        );
        crate::audit::record(&mut tx, change).await.map_err(DbError::from)?;
        tx.commit().await.map_err(DbError::from)?;
        self.announce(account_id);
        Ok(Account { plan_id: plan_id.to_owned(), ..account })
    }

    /// Sets (or with `None` removes) the monthly spend cap of the actor's account (owners only,
    /// when the policy lets accounts set their own). Audited; every node's gateway applies it at
    /// the next request.
    pub async fn set_spend_cap(
        &self,
        actor: &User,
        cap_cents: Option<u64>,
    ) -> Result<Account, SpendCapError> {
        let account_id = actor.account_id.as_deref().ok_or(SpendCapError::NotOwner)?;
        if actor.role != Role::Owner {
            return Err(SpendCapError::NotOwner);
        }
        if !self.policy.get().spend_cap.account_may_set {
            return Err(SpendCapError::SetByOperator);
        }
        let account = self.account(account_id).await?.ok_or(SpendCapError::NotOwner)?;
        if account.spend_cap_cents == cap_cents {
            return Ok(account);
        }
        // Written as the owner typed it, in the policy's currency: "$75.50", not 7550.
        let policy = self.policy.get();
        let currency = policy.currency();
        let written = |cap: Option<u64>| {
            Some(cap.map_or_else(|| "none".to_owned(), |cents| numbers::money(cents, currency)))
        };
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        repo::set_spend_cap(&mut tx, account_id, cap_cents).await.map_err(DbError::from)?;
        let change = self.change(
            actor,
            account_id,
            "spend_cap.change",
            written(account.spend_cap_cents),
            written(cap_cents),
        );
        crate::audit::record(&mut tx, change).await.map_err(DbError::from)?;
        tx.commit().await.map_err(DbError::from)?;
        self.announce(account_id);
        Ok(Account { spend_cap_cents: cap_cents, ..account })
    }

    /// Renames the actor's account (owners only); audited. The name is trimmed and must not be
    /// empty.
    pub async fn rename(&self, actor: &User, name: &str) -> Result<Account, RenameError> {
        let account_id = actor.account_id.as_deref().ok_or(RenameError::NotOwner)?;
        if actor.role != Role::Owner {
            return Err(RenameError::NotOwner);
        }
        let name = crate::text::display_text(name, 1, MAX_ACCOUNT_NAME).ok_or(RenameError::InvalidName)?;
        let account = self.account(account_id).await?.ok_or(RenameError::NotOwner)?;
        if account.name == name {
            return Ok(account);
        }
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        repo::set_name(&mut tx, account_id, name).await.map_err(DbError::from)?;
        let change = self.change(
            actor,
            account_id,
            "account.rename",
            Some(account.name.clone()),
            Some(name.to_owned()),
        );
        crate::audit::record(&mut tx, change).await.map_err(DbError::from)?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(Account { name: name.to_owned(), ..account })
    }

    /// An audit entry for a change of the account itself, made now.
    fn change<'a>(
        &self,
        actor: &'a User,
        account_id: &'a str,
        action: &'a str,
        before: Option<String>,
        after: Option<String>,
    ) -> crate::audit::Change<'a> {
        crate::audit::Change {
            account_id: Some(account_id),
            actor,
            action,
            target: Some(account_id),
            before,
            after,
            reason: None,
            at: self.clock.now(),
        }
    }

    /// Every gateway node drops its cached keys of the account and reads them afresh.
    fn announce(&self, account_id: &str) {
        self.changes.publish(crate::changes::Change::Account { account_id: account_id.to_owned() });
    }

    /// Every account with its overrides, in two queries: what a restart needs to refill the
    /// in-memory limiter.
    pub async fn all_with_overrides(&self) -> Result<Vec<(Account, policy::Overrides)>, DbError> {
        let mut overrides: std::collections::HashMap<String, policy::Overrides> =
            std::collections::HashMap::new();
        for (account_id, bucket, limit) in repo::all_overrides(&self.db).await? {
            overrides.entry(account_id).or_default().set(bucket, limit);
        }
        let accounts = repo::all_accounts(&self.db).await?;
        Ok(accounts
            .into_iter()
            .map(|account| {
                let overrides = overrides.remove(&account.id).unwrap_or_default();
                (account, overrides)
            })
            .collect())
    }

    /// The account's per-bucket limits that replace its plan's.
    pub async fn overrides(&self, account_id: &str) -> Result<policy::Overrides, DbError> {
        let mut overrides = policy::Overrides::new();
        for (bucket, limit) in repo::overrides(&self.db, account_id).await? {
            overrides.set(bucket, limit);
        }
        Ok(overrides)
    }
}

/// The longest account name, in characters.
pub const MAX_ACCOUNT_NAME: usize = 100;
