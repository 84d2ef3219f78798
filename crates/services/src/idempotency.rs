//! Idempotency records: the first request under a key claims it, later ones replay its stored
//! response, a different request under the same key is refused. Kept 24 hours.
//!
//! Claiming is one `INSERT … ON CONFLICT DO NOTHING`, so two concurrent duplicates can never
//! both run: the loser sees the claim still in progress.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::Duration;
use limiter::Clock;

use crate::db::Database;

/// How long a record lasts.
pub const RETENTION_HOURS: i64 = 24;
/// A claim still unfinished after this long belongs to a node that stopped while running its
/// request (a running one finishes even if its caller left): the next request takes it over.
pub const ABANDONED_AFTER_MINUTES: i64 = 10;

/// A stored response to replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    /// (name, value) pairs, JSON-encoded in the database.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Claim {
    /// This request is the first: run it, then [`Idempotency::complete`] or [`Idempotency::abandon`].
    Fresh,
    Replay(StoredResponse),
    /// The first request with this key is still running.
    InProgress,
    /// The key was used for a different request (method, path or body).
    Mismatch,
}

#[derive(Debug, thiserror::Error)]
#[error("idempotency store failed: {0}")]
pub struct IdempotencyError(String);

impl From<sqlx::Error> for IdempotencyError {
    fn from(error: sqlx::Error) -> Self {
        IdempotencyError(error.to_string())
    }
}

#[derive(sqlx::FromRow)]
struct RecordRow {
    fingerprint: String,
    response_status: Option<i64>,
    response_headers: Option<String>,
    response_body: Option<String>,
}

#[derive(Clone)]
pub struct Idempotency {
    db: Database,
    clock: Arc<dyn Clock>,
}

impl Idempotency {
    pub fn new(db: Database, clock: Arc<dyn Clock>) -> Self {
        Self { db, clock }
    }

    pub async fn claim(
        &self,
        account_id: &str,
        key: &str,
        fingerprint: &str,
    ) -> Result<Claim, IdempotencyError> {
        let now = self.clock.now().timestamp_millis();
        let expired_before = now - Duration::hours(RETENTION_HOURS).num_milliseconds();
        let abandoned_before = now - Duration::minutes(ABANDONED_AFTER_MINUTES).num_milliseconds();
        sqlx::query(
            "DELETE FROM idempotency_records WHERE account_id = $1 AND idempotency_key = $2 \
             AND (created_at < $3 OR (response_status IS NULL AND created_at < $4))",
        )
        .bind(account_id)
        .bind(key)
        .bind(expired_before)
        .bind(abandoned_before)
        .execute(self.db.pool())
        .await?;
        let inserted = sqlx::query(
            "INSERT INTO idempotency_records (account_id, idempotency_key, fingerprint, created_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT (account_id, idempotency_key) DO NOTHING",
        )
        .bind(account_id)
        .bind(key)
        .bind(fingerprint)
        .bind(now)
        .execute(self.db.pool())
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Claim::Fresh);
        }
        let row: Option<RecordRow> = sqlx::query_as(
            "SELECT fingerprint, response_status, response_headers, response_body FROM idempotency_records \
             WHERE account_id = $1 AND idempotency_key = $2",
        )
        .bind(account_id)
        .bind(key)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(match row {
            // Deleted between our insert and select (an abandoned run): the caller may retry.
            None => Claim::InProgress,
            Some(row) if row.fingerprint != fingerprint => Claim::Mismatch,
            Some(RecordRow { response_status: Some(status), response_headers, response_body, .. }) => {
                Claim::Replay(decode(status, response_headers, response_body)?)
            }
            Some(_) => Claim::InProgress,
        })
    }

    /// Stores the response of a claimed request for replays.
    pub async fn complete(
        &self,
        account_id: &str,
        key: &str,
        response: &StoredResponse,
    ) -> Result<(), IdempotencyError> {
        let headers =
            serde_json::to_string(&response.headers).map_err(|e| IdempotencyError(e.to_string()))?;
        sqlx::query(
            "UPDATE idempotency_records SET response_status = $1, response_headers = $2, response_body = $3 \
             WHERE account_id = $4 AND idempotency_key = $5",
        )
        .bind(i64::from(response.status))
        .bind(headers)
        .bind(base64_encode(&response.body))
        .bind(account_id)
        .bind(key)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Releases a claim whose request failed on the server's side, so a retry runs again.
    pub async fn abandon(&self, account_id: &str, key: &str) -> Result<(), IdempotencyError> {
        sqlx::query("DELETE FROM idempotency_records WHERE account_id = $1 AND idempotency_key = $2")
            .bind(account_id)
            .bind(key)
            .execute(self.db.pool())
            .await?;
        Ok(())
    }

    /// Deletes records older than the retention.
    pub async fn purge_expired(&self) -> Result<u64, IdempotencyError> {
        let before = (self.clock.now() - Duration::hours(RETENTION_HOURS)).timestamp_millis();
        let deleted = sqlx::query("DELETE FROM idempotency_records WHERE created_at < $1")
            .bind(before)
            .execute(self.db.pool())
            .await?;
        Ok(deleted.rows_affected())
    }
}

fn decode(
    status: i64,
    headers: Option<String>,
    body: Option<String>,
) -> Result<StoredResponse, IdempotencyError> {
    let headers: Vec<(String, String)> = match headers {
        Some(json) => serde_json::from_str(&json).map_err(|e| IdempotencyError(e.to_string()))?,
        None => Vec::new(),
    };
    let body =
        base64_decode(body.as_deref().unwrap_or("")).ok_or_else(|| IdempotencyError("bad body".into()))?;
    Ok(StoredResponse { status: u16::try_from(status).unwrap_or(500), headers, body })
}

fn base64_encode(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

fn base64_decode(text: &str) -> Option<Vec<u8>> {
    BASE64.decode(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_survive_the_base64_round_trip() {
        for body in [&b""[..], b"a", b"ab", b"abc", b"{\"id\":\"scan_1\"}", &[0u8, 255, 128, 7]] {
            assert_eq!(base64_decode(&base64_encode(body)).unwrap(), body);
        }
        assert_eq!(base64_encode(b"Man"), "TWFu");
        assert_eq!(base64_encode(b"Ma"), "TWE=");
    }
}
