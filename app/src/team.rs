//! Server functions of the Team page (the account's people and invitations) and of the Join
//! page. An invitation's code travels only in the response to the call that created it (never
//! in page HTML or hydration data) and is shown once.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

/// The Team page's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamView {
    pub members: Vec<MemberView>,
    pub invitations: Vec<InvitationView>,
    /// The viewer is the owner, acting as themselves: they may invite and remove.
    pub can_manage: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub id: String,
    pub email: String,
    /// `owner` or `member`.
    pub role: String,
    pub joined_at: String,
    pub is_viewer: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub invited_by: String,
    pub expires_at: String,
    pub expired: bool,
}

/// A new invitation with its code: the one time the code leaves the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationWithCode {
    pub email: String,
    pub code: String,
    pub expires_at: String,
}

#[server]
pub async fn load_team() -> Result<TeamView, AppError> {
    use crate::auth::ssr::{internal, require_user, services, view_as};
    let user = require_user().await?;
    let account_id = user.account_id.clone().ok_or(AppError::Forbidden)?;
    let services = services()?;
    let (users, invitations) = services.accounts.team(&account_id).await.map_err(internal)?;
    let now = services.clock.now();
    let can_manage = user.role == services::accounts::Role::Owner && view_as().await?.is_none();
    Ok(TeamView {
        members: users
            .into_iter()
            .map(|member| MemberView {
                is_viewer: member.id == user.id,
                id: member.id,
                email: member.email,
                role: member.role.as_str().to_owned(),
                joined_at: member.created_at.to_rfc3339(),
            })
            .collect(),
        invitations: invitations
            .into_iter()
            .map(|invitation| InvitationView {
                expired: invitation.is_expired(now),
                id: invitation.id,
                email: invitation.email,
                invited_by: invitation.invited_by,
                expires_at: invitation.expires_at.to_rfc3339(),
            })
            .collect(),
        can_manage,
    })
}

/// Invites `email` to the signed-in owner's account; answers with the code to pass on.
#[server]
pub async fn invite_member(email: String) -> Result<InvitationWithCode, AppError> {
    use crate::auth::ssr::{require_user, services};
    use secrecy::ExposeSecret;
    let user = require_user().await?;
    let created = services()?.accounts.invite(&user, &email).await.map_err(ssr::team_error)?;
    Ok(InvitationWithCode {
        email: created.invitation.email,
        code: created.code.expose_secret().to_owned(),
        expires_at: created.invitation.expires_at.to_rfc3339(),
    })
}

#[server]
pub async fn revoke_invitation(invitation_id: String) -> Result<(), AppError> {
    use crate::auth::ssr::{require_user, services};
    let user = require_user().await?;
    services()?.accounts.revoke_invitation(&user, &invitation_id).await.map_err(ssr::team_error)
}

#[server]
pub async fn remove_member(user_id: String) -> Result<(), AppError> {
    use crate::auth::ssr::{require_user, services};
    let user = require_user().await?;
    services()?.accounts.remove_member(&user, &user_id).await.map_err(ssr::team_error)
}

/// The signed-in member leaves the account and is signed out.
#[server]
pub async fn leave_account() -> Result<(), AppError> {
    use crate::auth::ssr::{internal, real_user, services, session};
    let member = real_user().await?.ok_or(AppError::Unauthenticated)?;
    services()?.accounts.leave(&member).await.map_err(ssr::team_error)?;
    session().await?.flush().await.map_err(internal)?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// Joins the account that invited `email`, with the invitation's code and a new password;
/// signs the new member in and lands on the overview.
#[server]
pub async fn join_account(email: String, code: String, password: String) -> Result<(), AppError> {
    use crate::auth::ssr::{internal, services, sign_in_new_user};
    use services::accounts::JoinError;
    let services = services()?;
    let member =
        services.accounts.join(&email, code.into(), password.into()).await.map_err(|error| match error {
            JoinError::Internal(cause) => internal(cause),
            expected => AppError::Invalid(expected.to_string()),
        })?;
    sign_in_new_user(&services, member).await?;
    leptos_axum::redirect("/");
    Ok(())
}

#[cfg(feature = "ssr")]
mod ssr {
    use services::accounts::TeamError;

    use crate::AppError;

    pub fn team_error(error: TeamError) -> AppError {
        match error {
            TeamError::NotOwner => AppError::Forbidden,
            TeamError::Internal(cause) => crate::auth::ssr::internal(cause),
            expected => AppError::Invalid(expected.to_string()),
        }
    }
}
