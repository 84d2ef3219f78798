//! What a key is, as the service hands it out and the gateway verifies it, and what can go
//! wrong with a key change.

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::Restrictions;
use crate::throttle::Refused;

const MAX_NAME_CHARS: usize = 64;

/// The furthest a key's expiry may be: ten years.
pub const MAX_EXPIRY_DAYS: u32 = 3650;

/// The longest an old secret keeps working after a rotation: long enough to roll the new one
/// out everywhere, short enough that a leaked key cannot be "rotated" yet kept for years.
pub const MAX_GRACE_DAYS: i64 = 30;

/// The expiry of a key created now to last `days` (`None` or 0: never expires).
pub fn expiry_after_days(now: DateTime<Utc>, days: Option<u32>) -> Result<Option<DateTime<Utc>>, KeyError> {
    match days.filter(|days| *days > 0) {
        None => Ok(None),
        Some(days) if days <= MAX_EXPIRY_DAYS => Ok(Some(now + chrono::Duration::days(days.into()))),
        Some(_) => Err(KeyError::InvalidExpiry),
    }
}

/// What rotating a key does to its expiry: keep it, or replace it (`None`: never expires), so
/// that a key about to expire can be renewed under the same id, charts and limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NewExpiry {
    #[default]
    Keep,
    Replace(Option<DateTime<Utc>>),
}

impl NewExpiry {
    /// From a rotation's `expires_in_days`: absent keeps the expiry, 0 removes it, and `days`
    /// sets it that many days from `now`.
    pub fn after_days(now: DateTime<Utc>, days: Option<u32>) -> Result<Self, KeyError> {
        match days {
            None => Ok(NewExpiry::Keep),
            Some(days) => expiry_after_days(now, Some(days)).map(NewExpiry::Replace),
        }
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
    /// Since when it has been disabled; `None` while enabled.
    pub disabled_at: Option<DateTime<Utc>>,
    /// Why keystile staff disabled it, if they did: then only staff can enable it again.
    pub staff_disable_reason: Option<String>,
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
    /// Turned off by its owner until they enable it again; refused like a revoked key.
    Disabled,
}

impl KeyStatus {
    /// Revoked and expired keys stay so: they can be renamed and restricted, no more.
    pub fn is_final(&self) -> bool {
        matches!(self, KeyStatus::Revoked | KeyStatus::Expired)
    }

    /// The word the dashboard and the key API give it: `active`, `rotating`, `revoked`, …
    pub fn as_str(&self) -> &'static str {
        match self {
            KeyStatus::Active => "active",
            KeyStatus::Rotating { .. } => "rotating",
            KeyStatus::Revoked => "revoked",
            KeyStatus::Expired => "expired",
            KeyStatus::Disabled => "disabled",
        }
    }

    /// Until when the previous secret still works, while rotating.
    pub fn rotating_until(&self) -> Option<DateTime<Utc>> {
        match *self {
            KeyStatus::Rotating { until } => Some(until),
            _ => None,
        }
    }
}

impl ApiKey {
    /// Revoked and expired are final, so they outrank disabled.
    pub fn status(&self, now: DateTime<Utc>) -> KeyStatus {
        if self.revoked_at.is_some() {
            KeyStatus::Revoked
        } else if self.expires_at.is_some_and(|at| at <= now) {
            KeyStatus::Expired
        } else if self.disabled_at.is_some() {
            KeyStatus::Disabled
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
    #[error("disabled key")]
    Disabled,
}

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("No such key.")]
    NotFound,
    #[error(
        "Give the key a name of 1 to {MAX_NAME_CHARS} characters, without tabs, line breaks or other control characters."
    )]
    InvalidName,
    #[error("Choose an expiry in the future and at most {MAX_EXPIRY_DAYS} days away.")]
    InvalidExpiry,
    #[error("The old secret can keep working for at most {MAX_GRACE_DAYS} days after a rotation.")]
    InvalidGrace,
    #[error("{0}")]
    InvalidRestrictions(String),
    #[error("This key is revoked or expired; create a new one instead.")]
    NotActive,
    #[error("Only members of a customer account manage its keys.")]
    NoAccount,
    #[error("This needs an operator role you do not have.")]
    Forbidden,
    #[error("Say why, for the audit log, in at most {} characters.", crate::audit::MAX_REASON_CHARS)]
    ReasonRequired,
    #[error("keystile staff disabled this key ({0}); ask them to enable it again.")]
    DisabledByStaff(String),
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

/// The last time a secret was used, and from where, as the gateway saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyUse {
    pub key_id: String,
    pub via_previous: bool,
    pub at: DateTime<Utc>,
    pub from: std::net::IpAddr,
}

pub(super) fn valid_name(name: &str) -> Result<String, KeyError> {
    crate::text::display_text(name, 1, MAX_NAME_CHARS).map(str::to_owned).ok_or(KeyError::InvalidName)
}
