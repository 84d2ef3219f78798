//! SQL for accounts and users.

use sqlx::{AnyConnection, FromRow};

use super::team::Invitation;
use super::{Account, Role, User};
use crate::db::{Database, from_millis};

#[derive(FromRow)]
struct UserRow {
    id: String,
    account_id: Option<String>,
    email: String,
    role: String,
    created_at: i64,
}

#[derive(FromRow)]
struct UserWithHashRow {
    #[sqlx(flatten)]
    user: UserRow,
    password_hash: String,
}

#[derive(FromRow)]
pub(super) struct AccountRow {
    id: String,
    name: String,
    plan_id: String,
    billing_anchor_day: i64,
    created_at: i64,
    disabled_at: Option<i64>,
    spend_cap_cents: Option<i64>,
}

impl TryFrom<UserRow> for User {
    type Error = sqlx::Error;

    fn try_from(row: UserRow) -> Result<Self, Self::Error> {
        let role = Role::parse(&row.role)
            .ok_or_else(|| sqlx::Error::Decode(format!("unknown role {:?}", row.role).into()))?;
        Ok(User {
            id: row.id,
            account_id: row.account_id,
            email: row.email,
            role,
            created_at: from_millis(row.created_at),
        })
    }
}

impl From<AccountRow> for Account {
    fn from(row: AccountRow) -> Self {
        Account {
            id: row.id,
            name: row.name,
            plan_id: row.plan_id,
            billing_anchor_day: row.billing_anchor_day.clamp(1, 31) as u8,
            created_at: from_millis(row.created_at),
            disabled_at: row.disabled_at.map(from_millis),
            spend_cap_cents: row.spend_cap_cents.and_then(|cents| u64::try_from(cents).ok()),
        }
    }
}

const USER_COLUMNS: &str = "id, account_id, email, role, created_at";

pub(super) async fn insert_account_with_owner(
    db: &Database,
    account: &Account,
    owner: &User,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    let mut tx = db.pool().begin().await?;
    sqlx::query(
        "INSERT INTO accounts (id, name, plan_id, billing_anchor_day, created_at, spend_cap_cents) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&account.id)
    .bind(&account.name)
    .bind(&account.plan_id)
    .bind(i64::from(account.billing_anchor_day))
    .bind(account.created_at.timestamp_millis())
    .bind(account.spend_cap_cents.and_then(|cents| i64::try_from(cents).ok()))
    .execute(&mut *tx)
    .await?;
    insert_user_in(&mut tx, owner, password_hash).await?;
    tx.commit().await
}

pub(super) async fn insert_user(db: &Database, user: &User, password_hash: &str) -> Result<(), sqlx::Error> {
    let mut conn = db.pool().acquire().await?;
    insert_user_in(&mut conn, user, password_hash).await
}

pub(super) async fn insert_user_in(
    conn: &mut AnyConnection,
    user: &User,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO users (id, account_id, email, email_normalized, password_hash, role, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&user.id)
    .bind(&user.account_id)
    .bind(&user.email)
    .bind(super::normalize_email(&user.email))
    .bind(password_hash)
    .bind(user.role.as_str())
    .bind(user.created_at.timestamp_millis())
    .execute(conn)
    .await?;
    Ok(())
}

pub(super) async fn user_with_hash_by_email(
    db: &Database,
    email_normalized: &str,
) -> Result<Option<(User, String)>, sqlx::Error> {
    let row: Option<UserWithHashRow> = sqlx::query_as(&format!(
        "SELECT {USER_COLUMNS}, password_hash FROM users WHERE email_normalized = $1"
    ))
    .bind(email_normalized)
    .fetch_optional(db.pool())
    .await?;
    row.map(|row| Ok((User::try_from(row.user)?, row.password_hash))).transpose()
}

pub(super) async fn set_password_hash(
    conn: &mut AnyConnection,
    user_id: &str,
    password_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = $1 WHERE id = $2")
        .bind(password_hash)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Deletes every session record signed in as `user_id`: each of those browsers is signed out
/// at its next request.
pub(super) async fn end_sessions_of(conn: &mut AnyConnection, user_id: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(conn).await?;
    Ok(())
}

pub(super) async fn user_by_id(db: &Database, id: &str) -> Result<Option<User>, sqlx::Error> {
    let row: Option<UserRow> = sqlx::query_as(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1"))
        .bind(id)
        .fetch_optional(db.pool())
        .await?;
    row.map(User::try_from).transpose()
}

pub(crate) async fn account_by_id(db: &Database, id: &str) -> Result<Option<Account>, sqlx::Error> {
    let row: Option<AccountRow> = sqlx::query_as(
        "SELECT id, name, plan_id, billing_anchor_day, created_at, disabled_at, spend_cap_cents FROM accounts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(Account::from))
}

/// Every customer account.
pub(super) async fn all_accounts(db: &Database) -> Result<Vec<Account>, sqlx::Error> {
    let rows: Vec<AccountRow> = sqlx::query_as(
        "SELECT id, name, plan_id, billing_anchor_day, created_at, disabled_at, spend_cap_cents FROM accounts",
    )
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(Account::from).collect())
}

/// Every account's overrides: (account id, bucket, limit).
pub(super) async fn all_overrides(db: &Database) -> Result<Vec<(String, String, u64)>, sqlx::Error> {
    let rows: Vec<(String, String, i64)> =
        sqlx::query_as("SELECT account_id, bucket, limit_value FROM account_overrides")
            .fetch_all(db.pool())
            .await?;
    Ok(rows
        .into_iter()
        .map(|(account, bucket, limit)| (account, bucket, u64::try_from(limit).unwrap_or(0)))
        .collect())
}

pub(super) async fn overrides(db: &Database, account_id: &str) -> Result<Vec<(String, u64)>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT bucket, limit_value FROM account_overrides WHERE account_id = $1 ORDER BY bucket",
    )
    .bind(account_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(|(bucket, limit)| (bucket, u64::try_from(limit).unwrap_or(0))).collect())
}

pub(super) async fn set_plan(
    conn: &mut AnyConnection,
    account_id: &str,
    plan_id: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE accounts SET plan_id = $1 WHERE id = $2")
        .bind(plan_id)
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn set_name(
    conn: &mut AnyConnection,
    account_id: &str,
    name: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE accounts SET name = $1 WHERE id = $2")
        .bind(name)
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(())
}

pub(super) async fn set_spend_cap(
    conn: &mut AnyConnection,
    account_id: &str,
    cap_cents: Option<u64>,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE accounts SET spend_cap_cents = $1 WHERE id = $2")
        .bind(cap_cents.map(|cents| i64::try_from(cents).unwrap_or(i64::MAX)))
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// The account's users, owners first, then by email.
pub(super) async fn users_of(db: &Database, account_id: &str) -> Result<Vec<User>, sqlx::Error> {
    let rows: Vec<UserRow> = sqlx::query_as(
        "SELECT id, account_id, email, role, created_at FROM users WHERE account_id = $1 \
         ORDER BY CASE WHEN role = 'owner' THEN 0 ELSE 1 END, email",
    )
    .bind(account_id)
    .fetch_all(db.pool())
    .await?;
    rows.into_iter().map(User::try_from).collect()
}

#[derive(FromRow)]
struct InvitationRow {
    id: String,
    account_id: String,
    email: String,
    invited_by_email: String,
    created_at: i64,
    expires_at: i64,
}

impl From<InvitationRow> for Invitation {
    fn from(row: InvitationRow) -> Self {
        Invitation {
            id: row.id,
            account_id: row.account_id,
            email: row.email,
            invited_by: row.invited_by_email,
            created_at: from_millis(row.created_at),
            expires_at: from_millis(row.expires_at),
        }
    }
}

const INVITATION_COLUMNS: &str = "id, account_id, email, invited_by_email, created_at, expires_at";

/// The account's invitations, newest first.
pub(super) async fn invitations_of(db: &Database, account_id: &str) -> Result<Vec<Invitation>, sqlx::Error> {
    let rows: Vec<InvitationRow> = sqlx::query_as(&format!(
        "SELECT {INVITATION_COLUMNS} FROM invitations WHERE account_id = $1 ORDER BY created_at DESC, email"
    ))
    .bind(account_id)
    .fetch_all(db.pool())
    .await?;
    Ok(rows.into_iter().map(Invitation::from).collect())
}

pub(super) async fn invitation_by_code_hash(
    db: &Database,
    code_hash: &str,
) -> Result<Option<Invitation>, sqlx::Error> {
    let row: Option<InvitationRow> =
        sqlx::query_as(&format!("SELECT {INVITATION_COLUMNS} FROM invitations WHERE code_hash = $1"))
            .bind(code_hash)
            .fetch_optional(db.pool())
            .await?;
    Ok(row.map(Invitation::from))
}

/// Stores a new invitation in place of any earlier one for the same address (in one upsert, so
/// two invitations of one address at once cannot both insert), and drops the account's expired
/// ones.
pub(super) async fn replace_invitation(
    conn: &mut AnyConnection,
    invitation: &Invitation,
    code_hash: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM invitations WHERE account_id = $1 AND expires_at <= $2")
        .bind(&invitation.account_id)
        .bind(invitation.created_at.timestamp_millis())
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "INSERT INTO invitations (id, account_id, email, email_normalized, code_hash, invited_by_email, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
         ON CONFLICT (account_id, email_normalized) DO UPDATE SET id = excluded.id, email = excluded.email, \
         code_hash = excluded.code_hash, invited_by_email = excluded.invited_by_email, \
         created_at = excluded.created_at, expires_at = excluded.expires_at",
    )
    .bind(&invitation.id)
    .bind(&invitation.account_id)
    .bind(&invitation.email)
    .bind(super::normalize_email(&invitation.email))
    .bind(code_hash)
    .bind(&invitation.invited_by)
    .bind(invitation.created_at.timestamp_millis())
    .bind(invitation.expires_at.timestamp_millis())
    .execute(conn)
    .await?;
    Ok(())
}

/// Deletes the invitation; whether there was one to delete (a code is used once, even by two
/// browsers at the same moment).
pub(super) async fn delete_invitation(
    conn: &mut AnyConnection,
    account_id: &str,
    invitation_id: &str,
) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query("DELETE FROM invitations WHERE id = $1 AND account_id = $2")
        .bind(invitation_id)
        .bind(account_id)
        .execute(conn)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

pub(super) async fn count_invitations(
    conn: &mut AnyConnection,
    account_id: &str,
) -> Result<i64, sqlx::Error> {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM invitations WHERE account_id = $1")
        .bind(account_id)
        .fetch_one(conn)
        .await?;
    Ok(count)
}

/// Removes a member: their sessions, remembered browsers and the user itself. The keys they
/// created stay with the account, no longer naming their creator.
pub(super) async fn delete_member(conn: &mut AnyConnection, user_id: &str) -> Result<(), sqlx::Error> {
    end_sessions_of(conn, user_id).await?;
    sqlx::query("DELETE FROM login_devices WHERE user_id = $1").bind(user_id).execute(&mut *conn).await?;
    sqlx::query("UPDATE api_keys SET created_by = NULL WHERE created_by = $1")
        .bind(user_id)
        .execute(&mut *conn)
        .await?;
    sqlx::query("DELETE FROM users WHERE id = $1 AND role = 'member'").bind(user_id).execute(conn).await?;
    Ok(())
}
