//! SQL for accounts and users.

use sqlx::{AnyConnection, FromRow};

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

async fn insert_user_in(
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

pub(super) async fn account_by_id(db: &Database, id: &str) -> Result<Option<Account>, sqlx::Error> {
    let row: Option<AccountRow> = sqlx::query_as(
        "SELECT id, name, plan_id, billing_anchor_day, created_at, disabled_at, spend_cap_cents FROM accounts WHERE id = $1",
    )
    .bind(id)
    .fetch_optional(db.pool())
    .await?;
    Ok(row.map(Account::from))
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
