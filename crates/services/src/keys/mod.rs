//! API keys: create (the secret shown once), list, rotate with a grace period, revoke, expire,
//! and verify on every gateway request.
//!
//! Every change is charged to the acting user's `key_mgmt` bucket first (fail closed when the
//! limiter store is down), is scoped to the actor's own account (another account's key id is
//! simply not found), and writes an audit entry in the same transaction.

mod repo;
mod restrictions;
mod secret;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use limiter::{Charge, Clock, LimiterStore};
use secrecy::SecretString;

pub use restrictions::{IpRange, MAX_ALLOWED_RANGES, Restrictions};
pub use secret::{KeyFormat, SecretFormatError, digest};

use crate::CurrentPolicy;
use crate::accounts::User;
use crate::audit;
use crate::changes::{Change, ChangeFeed};
use crate::db::Database;
use crate::ids::new_id;
use crate::throttle::{self, Refused};

const MAX_NAME_CHARS: usize = 64;

/// The furthest a key's expiry may be: ten years.
pub const MAX_EXPIRY_DAYS: u32 = 3650;

/// The expiry of a key created now to last `days` (`None` or 0: never expires).
pub fn expiry_after_days(now: DateTime<Utc>, days: Option<u32>) -> Result<Option<DateTime<Utc>>, KeyError> {
    match days.filter(|days| *days > 0) {
        None => Ok(None),
        Some(days) if days <= MAX_EXPIRY_DAYS => Ok(Some(now + chrono::Duration::days(days.into()))),
        Some(_) => Err(KeyError::InvalidExpiry),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    pub id: String,
    pub account_id: String,
    pub name: String,
    /// Prefix and first characters of the current secret, e.g. `ks_3kTmdQ`.
    pub start: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// The client address of that last use.
    pub last_used_from: Option<String>,
    /// The secret replaced by the last rotation, while its grace period lasts.
    pub previous: Option<PreviousSecret>,
    pub revoked_at: Option<DateTime<Utc>>,
    /// The email of whoever created it, while they are a user of the account.
    pub created_by: Option<String>,
    pub restrictions: Restrictions,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviousSecret {
    pub start: String,
    pub expires_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// Who still sends it: the client address of its last use.
    pub last_used_from: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyStatus {
    Active,
    /// Rotated: the previous secret still works until this instant.
    Rotating {
        until: DateTime<Utc>,
    },
    Revoked,
    Expired,
}

impl ApiKey {
    pub fn status(&self, now: DateTime<Utc>) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            KeyStatus::Expired
        } else {
            match &self.previous {
                Some(previous) if previous.expires_at > now => {
                    KeyStatus::Rotating { until: previous.expires_at }
                }
                _ => KeyStatus::Active,
            }
        }
    }
}

/// A key with its plaintext secret, returned by create and rotate only.
#[derive(Debug)]
pub struct KeyWithSecret {
    pub key: ApiKey,
    pub secret: SecretString,
}

/// What the gateway learns from a valid secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedKey {
    pub key_id: String,
    pub account_id: String,
    /// The secret stops working at this instant (key expiry, or the end of a rotation's grace
    /// for a previous secret); caches must not outlive it.
    pub valid_until: Option<DateTime<Utc>>,
    /// The caller used the secret replaced by a rotation.
    pub via_previous: bool,
    pub restrictions: Restrictions,
}

/// Why a secret was refused. The gateway answers all of them with one identical 401.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("malformed key")]
    Malformed,
    #[error("unknown key")]
    Unknown,
    #[error("revoked key")]
    Revoked,
    #[error("expired key")]
    Expired,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("No such key.")]
    NotFound,
    #[error("Give the key a name of 1 to {MAX_NAME_CHARS} characters.")]
    InvalidName,
    #[error("Choose an expiry in the future and at most {MAX_EXPIRY_DAYS} days away.")]
    InvalidExpiry,
    #[error("{0}")]
    InvalidRestrictions(String),
    #[error("This key is revoked or expired; create a new one instead.")]
    NotActive,
    #[error("Only members of a customer account manage its keys.")]
    NoAccount,
    #[error("Too many key changes.")]
    Throttled { retry_after: std::time::Duration },
    #[error("Key management is unavailable for a moment. Try again shortly.")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<Refused> for KeyError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Throttled { retry_after } => KeyError::Throttled { retry_after },
            Refused::Unavailable => KeyError::Unavailable,
        }
    }
}

impl From<sqlx::Error> for KeyError {
    fn from(error: sqlx::Error) -> Self {
        KeyError::Internal(error.to_string())
    }
}

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
        let furthest = now + chrono::Duration::days(MAX_EXPIRY_DAYS.into());
        if expires_at.is_some_and(|at| at <= now || at > furthest) {
            return Err(KeyError::InvalidExpiry);
        }
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
    /// working for `grace` (zero: it stops now).
    pub async fn rotate(
        &self,
        actor: &User,
        key_id: &str,
        grace: Duration,
    ) -> Result<KeyWithSecret, KeyError> {
        let key = self.owned_key(actor, key_id).await?;
        let now = self.clock.now();
        if matches!(key.status(now), KeyStatus::Revoked | KeyStatus::Expired) {
            return Err(KeyError::NotActive);
        }
        self.charge_key_mgmt(actor).await?;
        let generated = self.format.generate();
        let grace_end = now + grace.max(Duration::zero());
        let mut tx = self.db.pool().begin().await?;
        repo::rotate(&mut tx, &key.id, &generated, grace_end, now).await?;
        let rotated = ApiKey {
            start: generated.start.clone(),
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
        let key = self.owned_key(actor, key_id).await?;
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
        let key = self.owned_key(actor, key_id).await?;
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

    /// Changes what a key may do (revoked and expired keys too, as renaming does). Every node
    /// drops the key from its cache, so the next request meets the new restrictions.
    pub async fn restrict(
        &self,
        actor: &User,
        key_id: &str,
        restrictions: Restrictions,
    ) -> Result<ApiKey, KeyError> {
        let key = self.owned_key(actor, key_id).await?;
        if key.restrictions == restrictions {
            return Ok(key);
        }
        self.charge_key_mgmt(actor).await?;
        let now = self.clock.now();
        let mut tx = self.db.pool().begin().await?;
        repo::restrict(&mut tx, &key.id, &restrictions).await?;
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

    async fn owned_key(&self, actor: &User, key_id: &str) -> Result<ApiKey, KeyError> {
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

/// The last time a secret was used, and from where, as the gateway saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    pub key_id: String,
    pub via_previous: bool,
    pub at: DateTime<Utc>,
    pub from: std::net::IpAddr,
}

fn valid_name(name: &str) -> Result<String, KeyError> {
    crate::text::display_text(name, 1, MAX_NAME_CHARS).map(str::to_owned).ok_or(KeyError::InvalidName)
}

/// A key as the audit log shows it: never its secret.
fn describe(key: &ApiKey) -> String {
    let mut text = format!("name={:?} start={}", key.name, key.start);
    if let Some(at) = key.expires_at {
        text.push_str(&format!(" expires {}", in_words(at)));
    }
    if key.revoked_at.is_some() {
        text.push_str(" revoked");
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
