//! Logging in, throttled so that guessing is slow and the real owner is never locked out.
//!
//! Every attempt is charged, before the password is checked, to three limiter buckets: per
//! (email, IP), per IP, and per account (email). The per-account bucket stops guessing spread
//! over many addresses, the per-IP one guessing many accounts from one address. A browser that
//! has logged in to that account before presents a device token (OWASP's "device cookie") and
//! skips both: an attack spread over many addresses does not lock the owner out, and the people
//! of one office behind one address, each on their own browser, do not use up that address's
//! budget by logging in every day. The token proves nothing but an earlier login to that one
//! account, so it lets no one guess at any other; the (email, IP) bucket still counts every
//! attempt. A success clears the (email, IP) bucket. When the limiter store fails, logins fail
//! closed.
//! Sign-ups are charged to the per-IP bucket too.

use std::sync::Arc;
use std::time::Duration;

use limiter::{BucketSpec, Charge, Clock, LimiterStore};
use secrecy::SecretString;
use sha2::{Digest, Sha256};

use crate::CurrentPolicy;
use crate::accounts::{Accounts, CredentialsError, SignUpError, User, normalize_email};
use crate::db::Database;
use crate::ids::{lowercase_hex, random_base62};
use crate::throttle::{self, Refused};

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("Email or password is incorrect.")]
    InvalidCredentials,
    #[error("Too many login attempts.")]
    Throttled { retry_after: Duration },
    /// The limiter store is down: security limits fail closed.
    #[error("Logging in is unavailable for a moment. Try again shortly.")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Debug, thiserror::Error)]
pub enum PasswordChangeError {
    #[error("Your current password is not correct.")]
    WrongPassword,
    #[error("Use a new password of {min} to {max} characters, not only spaces.", min = crate::passwords::MIN_LENGTH, max = crate::passwords::MAX_LENGTH)]
    InvalidPassword,
    #[error("Too many attempts.")]
    Throttled { retry_after: Duration },
    #[error("Changing passwords is unavailable for a moment. Try again shortly.")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<Refused> for LoginError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Throttled { retry_after } => LoginError::Throttled { retry_after },
            Refused::Unavailable => LoginError::Unavailable,
        }
    }
}

impl From<Refused> for PasswordChangeError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Throttled { retry_after } => PasswordChangeError::Throttled { retry_after },
            Refused::Unavailable => PasswordChangeError::Unavailable,
        }
    }
}

impl From<Refused> for SignUpError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Throttled { retry_after } => SignUpError::Throttled { retry_after },
            Refused::Unavailable => SignUpError::Unavailable,
        }
    }
}

/// A successful login: the user, and a new device token to remember when the browser had none
/// for this account.
#[derive(Debug)]
pub struct LoggedIn {
    pub user: User,
    pub new_device_token: Option<String>,
}

#[derive(Clone)]
pub struct Logins {
    db: Database,
    clock: Arc<dyn Clock>,
    accounts: Accounts,
    limiter: Arc<dyn LimiterStore>,
    policy: CurrentPolicy,
}

impl Logins {
    pub fn new(
        db: Database,
        clock: Arc<dyn Clock>,
        accounts: Accounts,
        limiter: Arc<dyn LimiterStore>,
        policy: CurrentPolicy,
    ) -> Self {
        Self { db, clock, accounts, limiter, policy }
    }

    pub async fn log_in(
        &self,
        email: &str,
        password: SecretString,
        ip: std::net::IpAddr,
        device_token: Option<&str>,
    ) -> Result<LoggedIn, LoginError> {
        let email = normalize_email(email);
        let recognised = match device_token {
            Some(token) => self.device_belongs_to(token, &email).await?,
            None => false,
        };
        let charges = self.charges(&email, ip, recognised);
        throttle::charge(&*self.limiter, &charges, "the login").await?;
        let user = self.accounts.verify_credentials(&email, password).await.map_err(|error| match error {
            CredentialsError::Invalid => LoginError::InvalidCredentials,
            CredentialsError::Internal(cause) => LoginError::Internal(cause),
        })?;
        self.forget_typos(&charges).await;
        let new_device_token = if recognised { None } else { Some(self.remember_device(&user).await?) };
        Ok(LoggedIn { user, new_device_token })
    }

    /// Signs up a new owner, charging the attempt to the login's per-address bucket first: an
    /// answer of "this email already has an account" is then no faster a way to find accounts
    /// than the login is.
    pub async fn sign_up(
        &self,
        email: &str,
        password: SecretString,
        account_name: &str,
        ip: std::net::IpAddr,
    ) -> Result<User, SignUpError> {
        let per_address = self.policy.get().security.login.specs().ip;
        let charge = [Charge { spec: per_address, subject: ip.to_string(), cost: 1 }];
        throttle::charge(&*self.limiter, &charge, "the sign-up").await?;
        self.accounts.sign_up(email, password, account_name).await
    }

    /// Changes a signed-in user's password once their current one checks out. Each attempt is
    /// throttled like a login from `ip` on a recognised device, so a session left open is no
    /// faster way to guess the password. Every session of the user ends; see
    /// [`Accounts::replace_password`].
    pub async fn change_password(
        &self,
        user: &User,
        current: SecretString,
        new_password: SecretString,
        ip: std::net::IpAddr,
    ) -> Result<(), PasswordChangeError> {
        let charges = self.charges(&normalize_email(&user.email), ip, true);
        throttle::charge(&*self.limiter, &charges, "the password change").await?;
        match self.accounts.verify_credentials(&user.email, current).await {
            Ok(checked) if checked.id == user.id => {}
            Ok(_) | Err(CredentialsError::Invalid) => return Err(PasswordChangeError::WrongPassword),
            Err(CredentialsError::Internal(cause)) => return Err(PasswordChangeError::Internal(cause)),
        }
        self.forget_typos(&charges).await;
        self.accounts.replace_password(user, new_password, None).await.map_err(|error| match error {
            SignUpError::InvalidPassword => PasswordChangeError::InvalidPassword,
            other => PasswordChangeError::Internal(other.to_string()),
        })
    }

    /// The owner proved their password: their own earlier typos from this address (the
    /// (account, IP) bucket, first of `charges`) no longer count.
    async fn forget_typos(&self, charges: &[Charge]) {
        if let Err(error) = self.limiter.reset(&charges[0].spec, &charges[0].subject).await {
            tracing::warn!(%error, "could not clear the login throttle after a success");
        }
    }

    /// The policy's login buckets for this attempt: the (email, IP) one first, then, unless the
    /// device is recognised, the per-IP and per-account ones.
    fn charges(&self, email: &str, ip: std::net::IpAddr, recognised_device: bool) -> Vec<Charge> {
        let specs = self.policy.get().security.login.specs();
        let charge = |spec: BucketSpec, subject: String| Charge { spec, subject, cost: 1 };
        let mut charges = vec![charge(specs.account_ip, format!("{email}@{ip}"))];
        if !recognised_device {
            charges.push(charge(specs.ip, ip.to_string()));
            charges.push(charge(specs.account, email.to_owned()));
        }
        charges
    }

    async fn device_belongs_to(&self, token: &str, email: &str) -> Result<bool, LoginError> {
        let owner: Option<(String,)> = sqlx::query_as(
            "SELECT u.email_normalized FROM login_devices d JOIN users u ON u.id = d.user_id WHERE d.token_hash = $1",
        )
        .bind(token_hash(token))
        .fetch_optional(self.db.pool())
        .await
        .map_err(|e| LoginError::Internal(e.to_string()))?;
        Ok(owner.is_some_and(|(owner,)| owner == email))
    }

    /// Remembers a browser that `user` signed in on; the token goes in its device cookie.
    pub async fn remember_device(&self, user: &User) -> Result<String, LoginError> {
        let token = random_base62(32);
        sqlx::query("INSERT INTO login_devices (token_hash, user_id, created_at) VALUES ($1, $2, $3)")
            .bind(token_hash(&token))
            .bind(&user.id)
            .bind(self.clock.now().timestamp_millis())
            .execute(self.db.pool())
            .await
            .map_err(|e| LoginError::Internal(e.to_string()))?;
        Ok(token)
    }
}

fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    lowercase_hex(&digest)
}
