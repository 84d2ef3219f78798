//! Password hashing with argon2id (m = 19456 KiB, t = 2, p = 1, OWASP's minimum), run on the
//! blocking thread pool so a login never stalls the async runtime.
//!
//! Verifying an unknown email still hashes against a dummy, so the time taken does not reveal
//! whether the account exists.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

pub const MIN_LENGTH: usize = 8;
pub const MAX_LENGTH: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password hasher failed: {0}")]
    Hash(String),
    #[error("the password hashing task was cancelled")]
    Cancelled,
}

fn hasher() -> Argon2<'static> {
    // These parameters are constants within argon2's accepted ranges.
    let params = Params::new(19_456, 2, 1, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string (`$argon2id$v=19$m=19456,t=2,p=1$…`) for `password`.
pub async fn hash(password: SecretString) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || hash_blocking(password.expose_secret()))
        .await
        .map_err(|_| PasswordError::Cancelled)?
}

fn hash_blocking(password: &str) -> Result<String, PasswordError> {
    let salt = SaltString::generate(&mut OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| PasswordError::Hash(e.to_string()))
}

/// True when `candidate` matches `stored`. With no stored hash (unknown email) it checks against
/// a dummy hash and returns false, taking the same time as a real check.
pub async fn verify(candidate: SecretString, stored: Option<String>) -> Result<bool, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let dummy;
        let phc = match &stored {
            Some(phc) => phc.as_str(),
            None => {
                dummy = dummy_hash()?;
                dummy.as_str()
            }
        };
        let parsed = PasswordHash::new(phc).map_err(|e| PasswordError::Hash(e.to_string()))?;
        let matches = hasher().verify_password(candidate.expose_secret().as_bytes(), &parsed).is_ok();
        Ok(matches && stored.is_some())
    })
    .await
    .map_err(|_| PasswordError::Cancelled)?
}

fn dummy_hash() -> Result<String, PasswordError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash.clone());
    }
    let hash = hash_blocking("keystile-dummy-password-for-timing")?;
    Ok(DUMMY.get_or_init(|| hash).clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash(SecretString::from("correct horse")).await.unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(verify(SecretString::from("correct horse"), Some(hash.clone())).await.unwrap());
        assert!(!verify(SecretString::from("wrong horse"), Some(hash)).await.unwrap());
    }

    #[tokio::test]
    async fn an_unknown_user_never_verifies() {
        let dummy = dummy_hash().unwrap();
        // Even the dummy's own password fails when there is no stored hash.
        assert!(!verify(SecretString::from("keystile-dummy-password-for-timing"), None).await.unwrap());
        assert!(dummy.starts_with("$argon2id$"));
    }
}
