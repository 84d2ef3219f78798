//! Dashboard sessions: the tower-sessions store in SQL, and the guard that ends idle and
//! over-long sessions on every request.
//!
//! The store keeps each record's JSON with its expiry, and the user it is signed in as, in the
//! `sessions` table (SQLite or PostgreSQL alike); a password change ends a user's sessions
//! there. Idle and absolute timeouts are judged by the injected clock in
//! [`end_expired_sessions`], so tests move time instead of waiting. A browser is sent a session
//! cookie only when its session changes ([`session_cookie_only_on_change`]).

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use axum::extract::{Request, State};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use limiter::Clock;
use serde::Deserialize;
use services::Database;
use services::sessions::{AUTH_KEY, SessionAuth, SessionTimeouts};
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{ExpiredDeletion, Session};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "keystile_session";

#[derive(Clone, Debug)]
pub struct SqlSessionStore {
    db: Database,
}

impl SqlSessionStore {
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Inserts the record unless its id is taken; the rows written (0 or 1).
    async fn insert(&self, record: &Record) -> session_store::Result<u64> {
        let data = serde_json::to_string(&record.data).map_err(backend_error)?;
        let written = sqlx::query(
            "INSERT INTO sessions (id, data, expires_at, user_id) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING",
        )
        .bind(record.id.to_string())
        .bind(data)
        .bind(expires_at_millis(record))
        .bind(signed_in_user(&record.data))
        .execute(self.db.pool())
        .await
        .map_err(backend_error)?;
        Ok(written.rows_affected())
    }

    /// Names the user of live records written before records named their user (migration
    /// 0008), so that a password change ends those sessions too. Run once at start; returns
    /// how many it named.
    pub async fn name_unnamed_users(&self) -> session_store::Result<usize> {
        let unnamed: Vec<(String, String)> =
            sqlx::query_as("SELECT id, data FROM sessions WHERE user_id IS NULL AND expires_at > $1")
                .bind(now_millis())
                .fetch_all(self.db.pool())
                .await
                .map_err(backend_error)?;
        let mut named = 0;
        for (id, data) in unnamed {
            let Some(user_id) = serde_json::from_str(&data).ok().and_then(|data| signed_in_user(&data))
            else {
                continue;
            };
            sqlx::query("UPDATE sessions SET user_id = $1 WHERE id = $2 AND user_id IS NULL")
                .bind(user_id)
                .bind(id)
                .execute(self.db.pool())
                .await
                .map_err(backend_error)?;
            named += 1;
        }
        Ok(named)
    }
}

/// Who a record with this data is signed in as, if anyone.
fn signed_in_user(data: &HashMap<String, serde_json::Value>) -> Option<String> {
    let auth = data.get(AUTH_KEY)?;
    SessionAuth::deserialize(auth).ok().map(|auth| auth.user_id)
}

fn backend_error(error: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

fn expires_at_millis(record: &Record) -> i64 {
    (record.expiry_date.unix_timestamp_nanos() / 1_000_000) as i64
}

fn now_millis() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

#[async_trait]
impl SessionStore for SqlSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A 128-bit random id practically never collides, but if it does, draw another.
        while self.insert(record).await? == 0 {
            record.id = Id::default();
        }
        Ok(())
    }

    /// Updates the record if it still exists. A request that loaded the session before it ended
    /// (log out, a password change, a new id at sign-in or view-as) and saves it after, as
    /// recording activity does, must not write it back: the session stays ended.
    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = serde_json::to_string(&record.data).map_err(backend_error)?;
        sqlx::query("UPDATE sessions SET data = $1, expires_at = $2, user_id = $3 WHERE id = $4")
            .bind(data)
            .bind(expires_at_millis(record))
            .bind(signed_in_user(&record.data))
            .bind(record.id.to_string())
            .execute(self.db.pool())
            .await
            .map_err(backend_error)?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let row: Option<(String, i64)> =
            sqlx::query_as("SELECT data, expires_at FROM sessions WHERE id = $1 AND expires_at > $2")
                .bind(id.to_string())
                .bind(now_millis())
                .fetch_optional(self.db.pool())
                .await
                .map_err(backend_error)?;
        let Some((data, expires_at)) = row else {
            return Ok(None);
        };
        let expiry_date = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(expires_at) * 1_000_000)
            .map_err(backend_error)?;
        let data = serde_json::from_str(&data).map_err(backend_error)?;
        Ok(Some(Record { id: *id, data, expiry_date }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE id = $1")
            .bind(id.to_string())
            .execute(self.db.pool())
            .await
            .map_err(backend_error)?;
        Ok(())
    }
}

#[async_trait]
impl ExpiredDeletion for SqlSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now_millis())
            .execute(self.db.pool())
            .await
            .map_err(backend_error)?;
        Ok(())
    }
}

/// What the session guard needs: the clock and the timeouts.
#[derive(Clone)]
pub struct SessionGuard {
    pub clock: Arc<dyn Clock>,
    pub timeouts: SessionTimeouts,
}

/// Marks a request whose session is signed in and still valid, with the session's own user
/// (an operator stays one while viewing an account).
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub user_id: String,
}

/// Marks the response to a request whose cookie named a session that is gone (ended, or replaced
/// by a new id) and which did not start or end one itself.
#[derive(Debug, Clone, Copy)]
struct SessionGone;

/// Ends sessions idle past the idle timeout or older than the absolute one (deleting the record
/// and clearing the cookie), records activity, and marks the request [`SignedIn`].
pub async fn end_expired_sessions(
    State(guard): State<SessionGuard>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(session) = request.extensions().get::<Session>().cloned() else {
        return next.run(request).await;
    };
    let named_a_session = session.id().is_some();
    match check_session(&guard, &session).await {
        Ok(Some(user_id)) => {
            request.extensions_mut().insert(SignedIn { user_id });
        }
        Ok(None) => {}
        Err(error) => {
            tracing::error!(%error, "could not read the session; treating the request as signed out")
        }
    }
    let mut response = next.run(request).await;
    if named_a_session && !session.is_modified() && session.is_empty().await {
        response.extensions_mut().insert(SessionGone);
    }
    response
}

/// Sends the session cookie only when this request gave the session a new id (sign-up, sign-in,
/// view-as start and end) or ended it (log out, timeouts): never the id the request came with
/// again, and no removal for a session that was already gone when the request arrived.
///
/// Why: a new id deletes the old record. A request sent just before with the old id (a page's
/// once-a-second refresh) finds no record, or found it and records activity after; tower-sessions
/// would answer it with the cookie's removal or with the old id, and if that answer arrived after
/// the new cookie the browser would lose the session it had just been given. An old cookie left
/// in place names no session, so it signs nobody in. The cookie lives as long as a session can
/// (the absolute timeout), so activity needs no new cookie: idleness is judged on the server.
pub async fn session_cookie_only_on_change(request: Request, next: Next) -> Response {
    let sent = sent_session_id(&request);
    let mut response = next.run(request).await;
    let gone = response.extensions().get::<SessionGone>().is_some();
    let keep = |cookie: &HeaderValue| match session_cookie_value(cookie.as_bytes()) {
        Some(b"") => !gone,
        Some(id) => Some(id) != sent.as_deref(),
        None => true,
    };
    let headers = response.headers_mut();
    // Most answers set no session cookie, or a new one: their headers stay as they are.
    if headers.get_all(SET_COOKIE).iter().all(keep) {
        return response;
    }
    let kept: Vec<HeaderValue> =
        headers.get_all(SET_COOKIE).iter().filter(|cookie| keep(cookie)).cloned().collect();
    headers.remove(SET_COOKIE);
    for cookie in kept {
        headers.append(SET_COOKIE, cookie);
    }
    response
}

/// Removes the session cookie from a request's `Cookie` headers, keeping every other cookie.
/// A browser sends it with same-site API calls too (its path is `/`); forwarded upstream, it
/// would hand the upstream the caller's dashboard session.
pub fn remove_session_cookie(headers: &mut HeaderMap) {
    let carries =
        |header: &HeaderValue| cookie_pairs(header).any(|pair| session_cookie_value(pair).is_some());
    if !headers.get_all(COOKIE).iter().any(carries) {
        return;
    }
    let kept: Vec<HeaderValue> = headers
        .get_all(COOKIE)
        .iter()
        .map(|header| {
            let others: Vec<&[u8]> =
                cookie_pairs(header).filter(|pair| session_cookie_value(pair).is_none()).collect();
            others.join(&b"; "[..])
        })
        .filter(|others| !others.is_empty())
        .filter_map(|others| HeaderValue::from_bytes(&others).ok())
        .collect();
    headers.remove(COOKIE);
    for header in kept {
        headers.append(COOKIE, header);
    }
}

/// Removes every `Set-Cookie` naming the session cookie: only keystile sets it, never an
/// upstream (which could otherwise plant a session id of its choosing in the caller's browser).
pub fn remove_session_set_cookie(headers: &mut HeaderMap) {
    if headers.get_all(SET_COOKIE).iter().all(|line| session_cookie_value(line.as_bytes()).is_none()) {
        return;
    }
    let kept: Vec<HeaderValue> = headers
        .get_all(SET_COOKIE)
        .iter()
        .filter(|line| session_cookie_value(line.as_bytes()).is_none())
        .cloned()
        .collect();
    headers.remove(SET_COOKIE);
    for line in kept {
        headers.append(SET_COOKIE, line);
    }
}

/// The `name=value` pairs of one `Cookie` header.
fn cookie_pairs(header: &HeaderValue) -> impl Iterator<Item = &[u8]> {
    header.as_bytes().split(|&byte| byte == b';').map(<[u8]>::trim_ascii).filter(|pair| !pair.is_empty())
}

/// The session id the request's `Cookie` header carries, as sent.
fn sent_session_id(request: &Request) -> Option<Vec<u8>> {
    request
        .headers()
        .get_all(COOKIE)
        .iter()
        .find_map(|header| cookie_pairs(header).find_map(session_cookie_value).map(<[u8]>::to_vec))
}

/// The value of a `keystile_session=…` cookie pair or `Set-Cookie` line; `None` for another cookie.
fn session_cookie_value(cookie: &[u8]) -> Option<&[u8]> {
    let value = cookie.strip_prefix(SESSION_COOKIE.as_bytes())?.strip_prefix(b"=")?;
    Some(value.split(|&byte| byte == b';').next().unwrap_or_default().trim_ascii())
}

async fn check_session(
    guard: &SessionGuard,
    session: &Session,
) -> Result<Option<String>, tower_sessions::session::Error> {
    let Ok(auth) = session.get::<SessionAuth>(AUTH_KEY).await else {
        return Ok(None);
    };
    let Some(auth) = auth else {
        return Ok(None);
    };
    let now = guard.clock.now();
    if auth.is_expired(now, guard.timeouts) {
        session.flush().await?;
        return Ok(None);
    }
    if let Some(touched) = auth.touched(now) {
        session.insert(AUTH_KEY, touched).await?;
    }
    Ok(Some(auth.user_id))
}
