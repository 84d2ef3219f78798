//! The people of a customer account: its owner, the members the owner invited, and pending
//! invitations.
//!
//! There is no mail here, so an invitation is a code: the owner invites an address, is shown
//! the code once, and passes it on. Whoever joins enters that address, the code and a password
//! of their own. A code works once, for that address only, for [`INVITATION_LIFETIME`]; only
//! its SHA-256 is stored. Members use the account's keys, usage and audit log like its owner;
//! the plan, spend cap, name and team stay the owner's.

use chrono::{DateTime, Duration, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::credentials::{validate_email, validate_password};
use super::{Accounts, Role, SignUpError, User, normalize_email, repo};
use crate::db::{DbError, is_unique_violation};
use crate::{ids, keys, passwords};

/// How long an invitation code works.
pub const INVITATION_LIFETIME: Duration = Duration::days(7);

/// Invitations an account may have waiting at once (expired ones are dropped at the next).
pub const MAX_PENDING_INVITATIONS: i64 = 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub id: String,
    pub account_id: String,
    pub email: String,
    /// The inviter's email, as it was then.
    pub invited_by: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

impl Invitation {
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }
}

/// A new invitation and its code, which exists only in this value.
pub struct NewInvitation {
    pub invitation: Invitation,
    pub code: SecretString,
}

#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    #[error("Only the account's owner can change its team.")]
    NotOwner,
    #[error("Enter a valid email address, like name@example.com.")]
    InvalidEmail,
    #[error("{0} is already on this account's team.")]
    AlreadyMember(String),
    #[error("This account has {max} invitations waiting. Revoke some first.", max = MAX_PENDING_INVITATIONS)]
    TooManyInvitations,
    #[error("There is no such member or invitation on this account.")]
    NotFound,
    #[error("The owner cannot leave the account; only members can.")]
    OwnerCannotLeave,
    #[error(transparent)]
    Internal(#[from] DbError),
}

#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// One message for an unknown code, another address's code, and an expired or used one.
    #[error(
        "This invitation code is not valid for this email, or it has expired. Ask the account's owner for a new one."
    )]
    InvalidInvitation,
    #[error(transparent)]
    InvalidPassword(SignUpError),
    #[error(
        "This email already signs in to keystile, and an email belongs to one account here. Ask the owner to invite another address."
    )]
    EmailTaken,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<DbError> for JoinError {
    fn from(error: DbError) -> Self {
        JoinError::Internal(error.to_string())
    }
}

impl Accounts {
    /// The account's users (owner first) and its invitations (newest first, expired ones
    /// included until they are replaced or revoked).
    pub async fn team(&self, account_id: &str) -> Result<(Vec<User>, Vec<Invitation>), DbError> {
        let users = repo::users_of(&self.db, account_id).await?;
        let invitations = repo::invitations_of(&self.db, account_id).await?;
        Ok((users, invitations))
    }

    /// Invites `email` to the owner's account as a member, replacing an earlier invitation of
    /// the same address; audited.
    pub async fn invite(&self, actor: &User, email: &str) -> Result<NewInvitation, TeamError> {
        let account_id = owned_account(actor)?;
        let email = validate_email(email).map_err(|_| TeamError::InvalidEmail)?;
        let users = repo::users_of(&self.db, account_id).await.map_err(DbError::from)?;
        if users.iter().any(|user| normalize_email(&user.email) == normalize_email(&email)) {
            return Err(TeamError::AlreadyMember(email));
        }
        let now = self.clock.now();
        let invitation = Invitation {
            id: ids::new_id("inv"),
            account_id: account_id.to_owned(),
            email,
            invited_by: actor.email.clone(),
            created_at: now,
            expires_at: now + INVITATION_LIFETIME,
        };
        let code = format!("invite_{}", ids::random_base62(32));
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        repo::replace_invitation(&mut tx, &invitation, &keys::digest(&code)).await.map_err(DbError::from)?;
        if repo::count_invitations(&mut tx, account_id).await.map_err(DbError::from)?
            > MAX_PENDING_INVITATIONS
        {
            return Err(TeamError::TooManyInvitations);
        }
        let change = self.change(actor, account_id, "member.invite", None, Some(invitation.email.clone()));
        crate::audit::record(&mut tx, crate::audit::Change { target: Some(&invitation.id), ..change })
            .await
            .map_err(DbError::from)?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(NewInvitation { invitation, code: code.into() })
    }

    /// Withdraws an invitation of the owner's account: its code stops working; audited.
    pub async fn revoke_invitation(&self, actor: &User, invitation_id: &str) -> Result<(), TeamError> {
        let account_id = owned_account(actor)?;
        let invitations = repo::invitations_of(&self.db, account_id).await.map_err(DbError::from)?;
        let invitation = invitations
            .into_iter()
            .find(|invitation| invitation.id == invitation_id)
            .ok_or(TeamError::NotFound)?;
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        if !repo::delete_invitation(&mut tx, account_id, invitation_id).await.map_err(DbError::from)? {
            return Err(TeamError::NotFound);
        }
        let change = self.change(actor, account_id, "invitation.revoke", Some(invitation.email), None);
        crate::audit::record(&mut tx, crate::audit::Change { target: Some(invitation_id), ..change })
            .await
            .map_err(DbError::from)?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(())
    }

    /// Removes a member from the owner's account: every browser signed in as them is signed
    /// out and they can no longer log in; the keys they created stay with the account. Audited.
    pub async fn remove_member(&self, actor: &User, user_id: &str) -> Result<(), TeamError> {
        let account_id = owned_account(actor)?;
        let member = match repo::user_by_id(&self.db, user_id).await.map_err(DbError::from)? {
            Some(user) if user.account_id.as_deref() == Some(account_id) && user.role == Role::Member => user,
            _ => return Err(TeamError::NotFound),
        };
        Ok(self.delete_member(actor, account_id, &member, "member.remove").await?)
    }

    /// A member leaves the account: as if the owner removed them (see
    /// [`Accounts::remove_member`]). Owners cannot leave their own account.
    pub async fn leave(&self, member: &User) -> Result<(), TeamError> {
        let account_id = match member.account_id.as_deref() {
            Some(account_id) if member.role == Role::Member => account_id,
            _ => return Err(TeamError::OwnerCannotLeave),
        };
        Ok(self.delete_member(member, account_id, member, "member.leave").await?)
    }

    /// Deletes `member` (see `repo::delete_member`) and audits `action` by `actor`, in one
    /// transaction.
    async fn delete_member(
        &self,
        actor: &User,
        account_id: &str,
        member: &User,
        action: &str,
    ) -> Result<(), DbError> {
        let mut tx = self.db.pool().begin().await?;
        repo::delete_member(&mut tx, &member.id).await?;
        let change = self.change(actor, account_id, action, Some(member.email.clone()), None);
        crate::audit::record(&mut tx, crate::audit::Change { target: Some(&member.id), ..change }).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Accepts an invitation: creates the member with their own password and uses the code up.
    /// A wrong, expired or used code, or another address's, is refused before any password is
    /// hashed.
    pub async fn join(
        &self,
        email: &str,
        code: SecretString,
        password: SecretString,
    ) -> Result<User, JoinError> {
        let found = repo::invitation_by_code_hash(&self.db, &keys::digest(code.expose_secret().trim()))
            .await
            .map_err(DbError::from)?;
        let now = self.clock.now();
        let invitation = match found {
            Some(invitation)
                if !invitation.is_expired(now)
                    && normalize_email(&invitation.email) == normalize_email(email) =>
            {
                invitation
            }
            _ => return Err(JoinError::InvalidInvitation),
        };
        validate_password(&password).map_err(JoinError::InvalidPassword)?;
        let password_hash =
            passwords::hash(password).await.map_err(|error| JoinError::Internal(error.to_string()))?;
        let member = User {
            id: ids::new_id("usr"),
            account_id: Some(invitation.account_id.clone()),
            email: invitation.email.clone(),
            role: Role::Member,
            created_at: now,
        };
        let mut tx = self.db.pool().begin().await.map_err(DbError::from)?;
        if !repo::delete_invitation(&mut tx, &invitation.account_id, &invitation.id)
            .await
            .map_err(DbError::from)?
        {
            return Err(JoinError::InvalidInvitation);
        }
        repo::insert_user_in(&mut tx, &member, &password_hash).await.map_err(|error| {
            if is_unique_violation(&error) {
                JoinError::EmailTaken
            } else {
                JoinError::Internal(error.to_string())
            }
        })?;
        let change =
            self.change(&member, &invitation.account_id, "member.join", None, Some(member.email.clone()));
        crate::audit::record(&mut tx, crate::audit::Change { target: Some(&member.id), ..change })
            .await
            .map_err(DbError::from)?;
        tx.commit().await.map_err(DbError::from)?;
        Ok(member)
    }
}

/// The actor's account, when they are its owner.
fn owned_account(actor: &User) -> Result<&str, TeamError> {
    match actor.account_id.as_deref() {
        Some(account_id) if actor.role == Role::Owner => Ok(account_id),
        _ => Err(TeamError::NotOwner),
    }
}
