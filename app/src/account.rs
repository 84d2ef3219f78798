//! Server functions of the Account page: the signed-in user's password and sessions, and the
//! account's name.

use leptos::prelude::*;

use crate::AppError;

/// Changes the signed-in user's own password. Every other browser signed in as them is signed
/// out; this one stays signed in under a new session id.
#[server]
pub async fn change_password(
    current_password: String,
    new_password: String,
    confirm_password: String,
) -> Result<(), AppError> {
    use crate::auth::ssr::{client_ip, internal, real_user, services, start_session};
    use services::logins::PasswordChangeError;
    let services = services()?;
    let user = real_user().await?.ok_or(AppError::Unauthenticated)?;
    if new_password != confirm_password {
        return Err(AppError::Invalid("The new password and its confirmation do not match.".into()));
    }
    let ip = client_ip().await?;
    services.logins.change_password(&user, current_password.into(), new_password.into(), ip).await.map_err(
        |error| match error {
            PasswordChangeError::WrongPassword | PasswordChangeError::InvalidPassword => {
                AppError::Invalid(error.to_string())
            }
            PasswordChangeError::Throttled { retry_after } => {
                AppError::Throttled { retry_after_secs: retry_after.as_secs() }
            }
            PasswordChangeError::Unavailable => AppError::Unavailable(error.to_string()),
            PasswordChangeError::Internal(cause) => internal(cause),
        },
    )?;
    start_session(&services, user.id).await?;
    Ok(())
}

/// Signs out every other browser signed in as the user; this one stays signed in under a new
/// session id.
#[server]
pub async fn sign_out_everywhere_else() -> Result<(), AppError> {
    use crate::auth::ssr::{internal, real_user, services, start_session};
    let services = services()?;
    let user = real_user().await?.ok_or(AppError::Unauthenticated)?;
    services.accounts.sign_out_everywhere(&user).await.map_err(internal)?;
    start_session(&services, user.id).await?;
    Ok(())
}

/// Renames the signed-in owner's account.
#[server]
pub async fn rename_account(name: String) -> Result<(), AppError> {
    use crate::auth::ssr::{internal, require_user, services};
    use services::accounts::RenameError;
    let user = require_user().await?;
    services()?.accounts.rename(&user, &name).await.map_err(|error| match error {
        RenameError::NotOwner => AppError::Forbidden,
        RenameError::InvalidName => AppError::Invalid(error.to_string()),
        RenameError::Internal(cause) => internal(cause),
    })?;
    Ok(())
}
