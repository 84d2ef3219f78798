//! API keys: create (the secret shown once), list, rotate with a grace period, revoke, expire,
//! and verify on every gateway request.
//!
//! Every change is charged to the acting user's `key_mgmt` bucket first (fail closed when the
//! limiter store is down), is scoped to the actor's own account (another account's key id is
//! simply not found), and writes an audit entry in the same transaction.

mod model;
mod quota;
mod repo;
mod restrictions;
mod secret;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use limiter::{Charge, Clock, LimiterStore};
use secrecy::SecretString;

use model::valid_name;
pub use model::{
    ApiKey, KeyError, KeyStatus, KeyUse, KeyWithSecret, MAX_EXPIRY_DAYS, MAX_GRACE_DAYS, NewExpiry,
    PreviousSecret, Rejection, VerifiedKey, expiry_after_days,
};
pub use quota::QuotaSince;
pub use restrictions::{IpRange, MAX_ALLOWED_RANGES, Restrictions};
pub use secret::{KeyFormat, SecretFormatError, digest};

use crate::CurrentPolicy;
use crate::accounts::{Role, User};
use crate::audit;
use crate::changes::{Change, ChangeFeed};
use crate::db::Database;
use crate::ids::new_id;
use crate::throttle;

#[derive(Clone)]
pub struct Keys {
    db: Database,
    clock: Arc<dyn Clock>,
    limiter: Arc<dyn LimiterStore>,
    policy: CurrentPolicy,
    format: KeyFormat,
    changes: Arc<dyn ChangeFeed>,
}

impl Keys {
    pub fn new(
        db: Database,
        clock: Arc<dyn Clock>,
        limiter: Arc<dyn LimiterStore>,
        policy: CurrentPolicy,
        format: KeyFormat,
        changes: Arc<dyn ChangeFeed>,
    ) -> Self {
        Self { db, clock, limiter, policy, format, changes }
    }

    pub fn format(&self) -> &KeyFormat {
        &self.format
    }

    pub async fn list(&self, account_id: &str) -> Result<Vec<ApiKey>, KeyError> {
        Ok(repo::list(&self.db, account_id).await?)
    }

    pub async fn create(
        &self,
        actor: &User,
        name: &str,
        expires_at: Option<DateTime<Utc>>,
        restrictions: Restrictions,
    ) -> Result<KeyWithSecret, KeyError> {
        let account_id = actor.account_id.clone().ok_or(KeyError::NoAccount)?;
        let name = valid_name(name)?;
        let now = self.clock.now();
        let expires_at = checked_expiry(expires_at, now)?;
        self.charge_key_mgmt(actor).await?;
        let generated = self.format.generate();
        let key = ApiKey {
            id: new_id("key"),
            account_id,
            name,
            start: generated.start,
            created_at: now,
            expires_at,
            last_used_at: None,
            last_used_from: None,
            previous: None,
            revoked_at: None,
            disabled_at: None,
            staff_disable_reason: None,
            created_by: Some(actor.email.clone()),
            restrictions,
        };
        let mut tx = self.db.pool().begin().await?;
        repo::insert(&mut tx, &key, &generated.hash, &actor.id).await?;
        audit::record(&mut tx, change(actor, &key, "key.create", None, Some(describe(&key)), now)).await?;
        tx.commit().await?;
        Ok(KeyWithSecret { key, secret: SecretString::from(generated.secret) })
    }

    /// A new secret under the same key id (charts and limits continue). The old secret keeps
    /// working for `grace` (zero: it stops now); the key's expiry is kept or replaced.
    pub async fn rotate(
        &self,
        actor: &User,
        key_id: &str,
        grace: Duration,
        new_expiry: NewExpiry,
    ) -> Result<KeyWithSecret, KeyError> {
        if grace > Duration::days(MAX_GRACE_DAYS) {
            return Err(KeyError::InvalidGrace);
        }
        let key = self.get(actor, key_id).await?;
        let now = self.clock.now();
        if key.status(now).is_final() {
            return Err(KeyError::NotActive);
        }
        let expires_at = match new_expiry {
            NewExpiry::Keep => key.expires_at,
            NewExpiry::Replace(expires_at) => checked_expiry(expires_at, now)?,
        };
        self.charge_key_mgmt(actor).await?;
        let generated = self.format.generate();
        let grace_end = now + grace.max(Duration::zero());
        let mut tx = self.db.pool().begin().await?;
        repo::rotate(&mut tx, &key.id, &generated, grace_end, expires_at, now).await?;
        let rotated = ApiKey {
            start: generated.start.clone(),
            expires_at,
            previous: (grace_end > now).then(|| PreviousSecret {
                start: key.start.clone(),
                expires_at: grace_end,
                last_used_at: key.last_used_at,
                last_used_from: key.last_used_from.clone(),
            }),
            ..key.clone()
        };
        let after = if grace_end > now {
            format!("{}; old secret works until {}", describe(&rotated), in_words(grace_end))
        } else {
            format!("{}; old secret stopped at once", describe(&rotated))
        };
        audit::record(&mut tx, change(actor, &key, "key.rotate", Some(describe(&key)), Some(after), now))
            .await?;
        tx.commit().await?;
        // Caches hold the old secret's grace end; they must learn the new one.
        self.changes.publish(Change::Key { key_id: key.id.clone() });
        Ok(KeyWithSecret { key: rotated, secret: SecretString::from(generated.secret) })
    }

    pub async fn revoke(&self, actor: &User, key_id: &str) -> Result<ApiKey, KeyError> {
        let key = self.get(actor, key_id).await?;
        if key.revoked_at.is_some() {
            return Ok(key);
        }
        self.charge_key_mgmt(actor).await?;
        let now = self.clock.now();
        let mut tx = self.db.pool().begin().await?;
        repo::revoke(&mut tx, &key.id, now).await?;
        let revoked = ApiKey { revoked_at: Some(now), ..key.clone() };
        audit::record(
            &mut tx,
            change(actor, &key, "key.revoke", Some(describe(&key)), Some(describe(&revoked)), now),
        )
        .await?;
        tx.commit().await?;
        self.changes.publish(Change::Key { key_id: key.id.clone() });
        Ok(revoked)
    }

    /// Gives a key a new name (revoked and expired keys too: the name is how the usage charts
    /// and the audit log show it). Its secret and limits are untouched.
    pub async fn rename(&self, actor: &User, key_id: &str, name: &str) -> Result<ApiKey, KeyError> {
        let key = self.get(actor, key_id).await?;
        let name = valid_name(name)?;
        if key.name == name {
            return Ok(key);
        }
        self.charge_key_mgmt(actor).await?;
        let now = self.clock.now();
        let mut tx = self.db.pool().begin().await?;
        repo::rename(&mut tx, &key.id, &name).await?;
        let renamed = ApiKey { name, ..key.clone() };
        audit::record(
            &mut tx,
            change(actor, &key, "key.rename", Some(describe(&key)), Some(describe(&renamed)), now),
        )
        .await?;
        tx.commit().await?;
        Ok(renamed)
    }

    /// Turns a key off (`disabled`) or on again. Unlike revoking, this can be undone: secrets,
    /// charts and limits stay. Every node drops the key from its cache, so its next request
    /// meets the change. Revoked and expired keys cannot be changed this way.
    pub async fn set_disabled(&self, actor: &User, key_id: &str, disabled: bool) -> Result<ApiKey, KeyError> {
        let key = self.get(actor, key_id).await?;
        self.switch(actor, key, disabled, None).await
    }

    /// An admin disables or enables one of a customer's keys (say, one that misbehaves, where
    /// disabling the whole account would be too much). The reason goes to the account's audit
    /// log beside the admin's name. Support staff, who only read, are refused.
    pub async fn set_disabled_as_admin(
        &self,
        admin: &User,
        account_id: &str,
        key_id: &str,
        disabled: bool,
        reason: &str,
    ) -> Result<ApiKey, KeyError> {
        if admin.role != Role::Admin {
            return Err(KeyError::Forbidden);
        }
        let reason = crate::audit::stated_reason(reason).ok_or(KeyError::ReasonRequired)?;
        let key = repo::by_id(&self.db, account_id, key_id).await?.ok_or(KeyError::NotFound)?;
        self.switch(admin, key, disabled, Some(reason)).await
    }

    async fn switch(
        &self,
        actor: &User,
        key: ApiKey,
        disabled: bool,
        reason: Option<&str>,
    ) -> Result<ApiKey, KeyError> {
        let now = self.clock.now();
        if key.status(now).is_final() {
            return Err(KeyError::NotActive);
        }
        if key.disabled_at.is_some() == disabled {
            return Ok(key);
        }
        // `reason` is staff's: a key they disabled is theirs to enable.
        if let (Some(staff_reason), None) = (&key.staff_disable_reason, reason) {
            return Err(KeyError::DisabledByStaff(staff_reason.clone()));
        }
        // Staff are not held to the customers' key_mgmt bucket: an incident may need many keys
        // switched at once, and each of their switches is audited with its reason.
        if reason.is_none() {
            self.charge_key_mgmt(actor).await?;
        }
        let disabled_at = disabled.then_some(now);
        let staff_disable_reason = reason.filter(|_| disabled).map(str::to_owned);
        let mut tx = self.db.pool().begin().await?;
        repo::set_disabled(&mut tx, &key.id, disabled_at, staff_disable_reason.as_deref()).await?;
        let changed = ApiKey { disabled_at, staff_disable_reason, ..key.clone() };
        let action = if disabled { "key.disable" } else { "key.enable" };
        let mut entry = change(actor, &key, action, Some(describe(&key)), Some(describe(&changed)), now);
        entry.reason = reason;
        audit::record(&mut tx, entry).await?;
        tx.commit().await?;
        self.changes.publish(Change::Key { key_id: key.id.clone() });
        Ok(changed)
    }

    /// Changes what a key may do (revoked and expired keys too, as renaming does). Every node
    /// drops the key from its cache, so the next request meets the new restrictions. A quota
    /// set where there was none, or over another window, counts from now (see [`quota`]).
    pub async fn restrict(
        &self,
        actor: &User,
        key_id: &str,
        restrictions: Restrictions,
    ) -> Result<ApiKey, KeyError> {
        let key = self.get(actor, key_id).await?;
        if key.restrictions == restrictions {
            return Ok(key);
        }
        self.charge_key_mgmt(actor).await?;
        let new_count = quota::starts_a_new_count(key.restrictions.quota, restrictions.quota);
        if let Some(quota) = restrictions.quota.filter(|_| new_count) {
            // No request charges this counter until the quota is saved, so it can be cleared first.
            self.clear_quota_count(&key, quota).await?;
        }
        let now = self.clock.now();
        let mut tx = self.db.pool().begin().await?;
        repo::restrict(&mut tx, &key.id, &restrictions, new_count.then_some(now)).await?;
        let restricted = ApiKey { restrictions, ..key.clone() };
        audit::record(
            &mut tx,
            change(actor, &key, "key.restrict", Some(describe(&key)), Some(describe(&restricted)), now),
        )
        .await?;
        tx.commit().await?;
        self.changes.publish(Change::Key { key_id: key.id.clone() });
        Ok(restricted)
    }

    /// Checks a presented secret: its form first (no look-up for junk), then the database.
    pub async fn verify(&self, candidate: &str) -> Result<Result<VerifiedKey, Rejection>, KeyError> {
        match self.format.parse(candidate) {
            Some(digest) => self.verify_digest(&digest).await,
            None => Ok(Err(Rejection::Malformed)),
        }
    }

    /// Checks the digest of a well-formed secret (see [`KeyFormat::parse`]) against the database.
    pub async fn verify_digest(&self, digest: &str) -> Result<Result<VerifiedKey, Rejection>, KeyError> {
        let Some(found) = repo::by_secret_hash(&self.db, digest).await? else {
            return Ok(Err(Rejection::Unknown));
        };
        Ok(found.verify(self.clock.now()))
    }

    /// Records last-used instants gathered by the gateway, in one batch.
    pub async fn record_use(&self, uses: &[KeyUse]) -> Result<(), KeyError> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.db.pool().begin().await?;
        for key_use in uses {
            repo::record_use(&mut tx, key_use).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// One of `actor`'s account's keys; `NotFound` for any other id, another account's included.
    pub async fn get(&self, actor: &User, key_id: &str) -> Result<ApiKey, KeyError> {
        let account_id = actor.account_id.as_deref().ok_or(KeyError::NoAccount)?;
        repo::by_id(&self.db, account_id, key_id).await?.ok_or(KeyError::NotFound)
    }

    /// What one key change charges: `actor`'s unit of the policy's key-management bucket
    /// (`None` when the policy has none: key changes are free).
    pub fn key_mgmt_charge(&self, actor: &User) -> Option<Charge> {
        let spec = self.policy.get().key_management_spec()?;
        Some(Charge { spec, subject: actor.id.clone(), cost: 1 })
    }

    /// Charges the policy's key-management bucket for `actor` (none configured: free).
    async fn charge_key_mgmt(&self, actor: &User) -> Result<(), KeyError> {
        let Some(charge) = self.key_mgmt_charge(actor) else {
            return Ok(());
        };
        Ok(throttle::charge(&*self.limiter, &[charge], "the key change").await?)
    }
}

/// A key as the audit log shows it: never its secret.
/// An expiry a key may be given at `now`: in the future, and at most [`MAX_EXPIRY_DAYS`] away.
fn checked_expiry(
    expires_at: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, KeyError> {
    let furthest = now + Duration::days(MAX_EXPIRY_DAYS.into());
    match expires_at {
        Some(at) if at <= now || at > furthest => Err(KeyError::InvalidExpiry),
        valid => Ok(valid),
    }
}

fn describe(key: &ApiKey) -> String {
    // Quoted as written: `{:?}` would escape accents typed as combining marks (é as e\u{301}).
    let mut text = format!("name=\"{}\" start={}", key.name, key.start);
    if let Some(at) = key.expires_at {
        text.push_str(&format!(" expires {}", in_words(at)));
    }
    if key.revoked_at.is_some() {
        text.push_str(" revoked");
    }
    if key.disabled_at.is_some() {
        text.push_str(" disabled");
    }
    if key.restrictions != Restrictions::default() {
        text.push_str(&format!(" ({})", key.restrictions.describe()));
    }
    text
}

/// An instant as the audit log shows it: to the second, in UTC.
fn in_words(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn change<'a>(
    actor: &'a User,
    key: &'a ApiKey,
    action: &'a str,
    before: Option<String>,
    after: Option<String>,
    at: DateTime<Utc>,
) -> audit::Change<'a> {
    audit::Change {
        account_id: Some(&key.account_id),
        actor,
        action,
        target: Some(&key.id),
        before,
        after,
        reason: None,
        at,
    }
}

#[cfg(test)]
mod tests;
