//! Accounts and their users: sign-up, credential checks, operator staff.
//!
//! A customer account has users (owner, member); operator staff (admin, support) belong to no
//! account. Emails are unique regardless of case. Credential checks answer the same way, in the
//! same time, for an unknown email and a wrong password.

pub mod admin;
mod repo;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use limiter::Clock;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::CurrentPolicy;
use crate::db::{Database, DbError, is_unique_violation};
use crate::{ids, passwords};

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
pub enum SignUpError {
    #[error("Enter a valid email address, like name@example.com.")]
    InvalidEmail,
    #[error("Use a password of {min} to {max} characters.", min = passwords::MIN_LENGTH, max = passwords::MAX_LENGTH)]
    InvalidPassword,
    #[error("An account with this email already exists. Log in instead.")]
    EmailTaken,
    #[error("internal error: {0}")]
    Internal(String),
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
    #[error("Give the account a name of 1 to {max} characters.", max = MAX_ACCOUNT_NAME)]
    InvalidName,
    #[error(transparent)]
    Internal(#[from] DbError),
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Deliberately one message for an unknown email and a wrong password.
    #[error("Email or password is incorrect.")]
    Invalid,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DbError> for SignUpError {
    fn from(error: DbError) -> Self {
        SignUpError::Internal(error.to_string())
    }
}

impl From<passwords::PasswordError> for SignUpError {
    fn from(error: passwords::PasswordError) -> Self {
        SignUpError::Internal(error.to_string())
    }
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

    /// Creates a customer account on the default plan, with `email` as its owner.
    pub async fn sign_up(
        &self,
        email: &str,
        password: SecretString,
        account_name: &str,
    ) -> Result<User, SignUpError> {
        let email = validate_email(email)?;
        validate_password(&password)?;
        let password_hash = passwords::hash(password).await?;
        let now = self.clock.now();
        let policy = self.policy.get();
        let account = Account {
            id: ids::new_id("acc"),
            name: account_name_or_default(account_name, &email),
            plan_id: policy.accounts.default_plan.clone(),
            billing_anchor_day: policy.accounts.billing_anchor_day,
            created_at: now,
            disabled_at: None,
            spend_cap_cents: policy.spend_cap.default_cents,
        };
        let user = User {
            id: ids::new_id("usr"),
            account_id: Some(account.id.clone()),
            email,
            role: Role::Owner,
            created_at: now,
        };
        repo::insert_account_with_owner(&self.db, &account, &user, &password_hash)
            .await
            .map_err(taken_or_internal)?;
        Ok(user)
    }

    /// Creates an operator (admin or support) user, who belongs to no account.
    pub async fn create_operator(
        &self,
        email: &str,
        password: SecretString,
        role: Role,
    ) -> Result<User, SignUpError> {
        if !role.is_operator() {
            return Err(SignUpError::Internal(format!("{} is not an operator role", role.as_str())));
        }
        let email = validate_email(email)?;
        validate_password(&password)?;
        let password_hash = passwords::hash(password).await?;
        let user =
            User { id: ids::new_id("usr"), account_id: None, email, role, created_at: self.clock.now() };
        repo::insert_user(&self.db, &user, &password_hash).await.map_err(taken_or_internal)?;
        Ok(user)
    }

    /// The user with this email and password. Unknown email and wrong password are the same
    /// error, reached in the same time.
    pub async fn verify_credentials(
        &self,
        email: &str,
        password: SecretString,
    ) -> Result<User, CredentialsError> {
        let internal = |e: &dyn std::fmt::Display| CredentialsError::Internal(e.to_string());
        let found = repo::user_with_hash_by_email(&self.db, &normalize_email(email))
            .await
            .map_err(|e| internal(&e))?;
        let (user, stored_hash) = match found {
            Some((user, hash)) => (Some(user), Some(hash)),
            None => (None, None),
        };
        let matches = passwords::verify(password, stored_hash).await.map_err(|e| internal(&e))?;
        match user {
            Some(user) if matches => Ok(user),
            _ => Err(CredentialsError::Invalid),
        }
    }

    /// Gives `user` a new password and ends every session they have (see
    /// [`Accounts::sign_out_everywhere`]). The caller has checked the current password, or is
    /// the operator's command line, which says so in `reason` for the audit log.
    pub async fn replace_password(
        &self,
        user: &User,
        new_password: SecretString,
        reason: Option<&str>,
    ) -> Result<(), SignUpError> {
        validate_password(&new_password)?;
        let password_hash = passwords::hash(new_password).await?;
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        repo::set_password_hash(&mut tx, &user.id, &password_hash).await.map_err(DbError::from)?;
        self.end_sessions(&mut tx, user, "user.password_change", reason).await?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(())
    }

    /// Ends every session `user` has, on every browser, and audits it. The caller signs the
    /// browser that asked in again under a new session id.
    pub async fn sign_out_everywhere(&self, user: &User) -> Result<(), DbError> {
        let mut tx = self.db.pool().begin().await?;
        self.end_sessions(&mut tx, user, "user.sign_out_everywhere", None).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes `user`'s session records and audits `action`, in the caller's transaction.
    async fn end_sessions(
        &self,
        tx: &mut sqlx::AnyConnection,
        user: &User,
        action: &str,
        reason: Option<&str>,
    ) -> Result<(), DbError> {
        repo::end_sessions_of(tx, &user.id).await?;
        let change = crate::audit::Change {
            account_id: user.account_id.as_deref(),
            actor: user,
            action,
            target: None,
            before: None,
            after: None,
            reason,
            at: self.clock.now(),
        };
        crate::audit::record(tx, change).await?;
        Ok(())
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
        let cents = |cap: Option<u64>| Some(cap.map_or_else(|| "none".to_owned(), |cents| cents.to_string()));
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        repo::set_spend_cap(&mut tx, account_id, cap_cents).await.map_err(DbError::from)?;
        let change = self.change(
            actor,
            account_id,
            "spend_cap.change",
            cents(account.spend_cap_cents),
            cents(cap_cents),
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
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_ACCOUNT_NAME {
            return Err(RenameError::InvalidName);
        }
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

    /// The account's per-bucket limits that replace its plan's.
    pub async fn overrides(&self, account_id: &str) -> Result<policy::Overrides, DbError> {
        let mut overrides = policy::Overrides::new();
        for (bucket, limit) in repo::overrides(&self.db, account_id).await? {
            overrides.set(bucket, limit);
        }
        Ok(overrides)
    }
}

fn taken_or_internal(error: sqlx::Error) -> SignUpError {
    if is_unique_violation(&error) {
        SignUpError::EmailTaken
    } else {
        SignUpError::Internal(error.to_string())
    }
}

pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// A plausible address: one `@`, something before it, a dotted domain after, no spaces.
fn validate_email(email: &str) -> Result<String, SignUpError> {
    let email = email.trim();
    let plausible = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
            }
            None => false,
        };
    if plausible { Ok(email.to_owned()) } else { Err(SignUpError::InvalidEmail) }
}

/// Length is the only rule (NIST SP 800-63B): no composition rules.
fn validate_password(password: &SecretString) -> Result<(), SignUpError> {
    let length = password.expose_secret().chars().count();
    if (passwords::MIN_LENGTH..=passwords::MAX_LENGTH).contains(&length) {
        Ok(())
    } else {
        Err(SignUpError::InvalidPassword)
    }
}

/// The longest account name, in characters.
pub const MAX_ACCOUNT_NAME: usize = 100;

fn account_name_or_default(name: &str, email: &str) -> String {
    let name = name.trim();
    if name.is_empty() {
        email.split('@').next().unwrap_or(email).to_owned()
    } else {
        name.chars().take(MAX_ACCOUNT_NAME).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_for_plausibility() {
        assert!(validate_email(" Ada@Example.com ").is_ok());
        for bad in
            ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "a@b@c.com", "ada@.com"]
        {
            assert!(validate_email(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn emails_compare_without_case() {
        assert_eq!(normalize_email(" Ada@Example.COM"), "ada@example.com");
    }

    #[test]
    fn account_name_defaults_to_the_email_local_part() {
        assert_eq!(account_name_or_default("  ", "ada@example.com"), "ada");
        assert_eq!(account_name_or_default("Acme", "ada@example.com"), "Acme");
    }
}
