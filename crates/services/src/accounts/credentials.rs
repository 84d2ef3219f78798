//! Signing up, operator staff, checking credentials, and replacing a password (which ends
//! every session of the user).
//!
//! Emails are unique regardless of case. Credential checks answer the same way, in the same
//! time, for an unknown email and a wrong password.

use secrecy::{ExposeSecret, SecretString};

use super::{Account, Accounts, MAX_ACCOUNT_NAME, Role, User, repo};
use crate::db::{DbError, is_unique_violation};
use crate::{ids, passwords};

#[derive(Debug, thiserror::Error)]
pub enum SignUpError {
    #[error("Enter a valid email address, like name@example.com.")]
    InvalidEmail,
    #[error("Use a password of {min} to {max} characters, not only spaces.", min = passwords::MIN_LENGTH, max = passwords::MAX_LENGTH)]
    InvalidPassword,
    #[error("An account with this email already exists. Log in instead.")]
    EmailTaken,
    #[error(
        "Give the account a name of at most {MAX_ACCOUNT_NAME} characters, without tabs, line breaks or other control characters."
    )]
    InvalidAccountName,
    /// Sign-ups share the per-address login budget, so probing which emails have accounts is
    /// as slow here as guessing passwords at the login.
    #[error("Too many attempts from this address.")]
    Throttled { retry_after: std::time::Duration },
    #[error("Signing up is unavailable for a moment. Try again shortly.")]
    Unavailable,
    #[error("internal error: {0}")]
    Internal(String),
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

impl Accounts {
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
            name: account_name_or_default(account_name, &email)?,
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
pub(super) fn validate_email(email: &str) -> Result<String, SignUpError> {
    let email = email.trim();
    let plausible = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && !crate::text::has_forbidden_character(email)
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

/// Length is the rule (NIST SP 800-63B: no composition rules, spaces allowed), but a password
/// of spaces alone is the first one any guesser tries.
pub(super) fn validate_password(password: &SecretString) -> Result<(), SignUpError> {
    let password = password.expose_secret();
    let length = password.chars().count();
    if (passwords::MIN_LENGTH..=passwords::MAX_LENGTH).contains(&length) && !password.trim().is_empty() {
        Ok(())
    } else {
        Err(SignUpError::InvalidPassword)
    }
}

/// The name given, or the email's local part when none was.
fn account_name_or_default(name: &str, email: &str) -> Result<String, SignUpError> {
    let name = crate::text::display_text(name, 0, MAX_ACCOUNT_NAME).ok_or(SignUpError::InvalidAccountName)?;
    if name.is_empty() {
        Ok(email.split('@').next().unwrap_or(email).chars().take(MAX_ACCOUNT_NAME).collect())
    } else {
        Ok(name.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_checked_for_plausibility() {
        assert!(validate_email(" Ada@Example.com ").is_ok());
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "a@b@c.com",
            "ada@.com",
            "a\0x@x.com",
        ] {
            assert!(validate_email(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn emails_compare_without_case() {
        assert_eq!(normalize_email(" Ada@Example.COM"), "ada@example.com");
    }

    #[test]
    fn account_name_defaults_to_the_email_local_part() {
        assert_eq!(account_name_or_default("  ", "ada@example.com").unwrap(), "ada");
        assert_eq!(account_name_or_default("Acme", "ada@example.com").unwrap(), "Acme");
        assert!(account_name_or_default("Acme\nCorp", "ada@example.com").is_err());
        assert!(account_name_or_default(&"a".repeat(101), "ada@example.com").is_err(), "not cut silently");
    }
}
