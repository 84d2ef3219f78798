//! What a signed-in session remembers, and when it expires.
//!
//! The web layer stores a [`SessionAuth`] in the session under [`AUTH_KEY`] at login. Every
//! request checks it against the injected clock: idle for longer than `idle`, or older than
//! `absolute` since login, and the session is over.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// The session key under which [`SessionAuth`] is stored.
pub const AUTH_KEY: &str = "auth";

/// The session key under which a support view-as ([`ViewAs`]) is stored.
pub const VIEW_AS_KEY: &str = "view_as";

/// An operator viewing a customer's account as its owner sees it, read-only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewAs {
    pub account_id: String,
    pub reason: String,
    /// Milliseconds since the epoch.
    pub started_at: i64,
    /// Milliseconds since the epoch; the view ends by itself then.
    pub ends_at: i64,
}

impl ViewAs {
    pub fn new(account_id: String, reason: String, now: DateTime<Utc>, lasts: Duration) -> Self {
        Self {
            account_id,
            reason,
            started_at: now.timestamp_millis(),
            ends_at: (now + lasts).timestamp_millis(),
        }
    }

    pub fn is_over(&self, now: DateTime<Utc>) -> bool {
        now.timestamp_millis() >= self.ends_at
    }

    /// Whole minutes left, rounded up.
    pub fn minutes_left(&self, now: DateTime<Utc>) -> i64 {
        let left = (self.ends_at - now.timestamp_millis()).max(0);
        (left + 59_999) / 60_000
    }
}

/// How often a busy session records activity; finer would write on every click for nothing.
const TOUCH_EVERY: Duration = Duration::seconds(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionTimeouts {
    pub idle: Duration,
    pub absolute: Duration,
}

impl Default for SessionTimeouts {
    fn default() -> Self {
        Self { idle: Duration::minutes(30), absolute: Duration::hours(12) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionAuth {
    pub user_id: String,
    /// Milliseconds since the epoch at login.
    pub started_at: i64,
    /// Milliseconds since the epoch at the last recorded activity.
    pub last_seen_at: i64,
}

impl SessionAuth {
    pub fn new(user_id: String, now: DateTime<Utc>) -> Self {
        let now = now.timestamp_millis();
        Self { user_id, started_at: now, last_seen_at: now }
    }

    pub fn is_expired(&self, now: DateTime<Utc>, timeouts: SessionTimeouts) -> bool {
        let now = now.timestamp_millis();
        now - self.last_seen_at > timeouts.idle.num_milliseconds()
            || now - self.started_at > timeouts.absolute.num_milliseconds()
    }

    /// The same session with activity recorded at `now`, if enough time has passed to be worth
    /// a write.
    pub fn touched(&self, now: DateTime<Utc>) -> Option<Self> {
        let now = now.timestamp_millis();
        (now - self.last_seen_at >= TOUCH_EVERY.num_milliseconds())
            .then(|| Self { last_seen_at: now, ..self.clone() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 24, h, m, 0).unwrap()
    }

    #[test]
    fn a_session_idle_past_the_limit_expires() {
        let auth = SessionAuth::new("usr_1".into(), at(9, 0));
        let timeouts = SessionTimeouts::default();
        assert!(!auth.is_expired(at(9, 30), timeouts));
        assert!(auth.is_expired(at(9, 31), timeouts));
    }

    #[test]
    fn an_active_session_still_ends_at_the_absolute_limit() {
        let timeouts = SessionTimeouts::default();
        let mut auth = SessionAuth::new("usr_1".into(), at(9, 0));
        for hour in 9..21 {
            for minute in [0, 20, 40] {
                if let Some(touched) = auth.touched(at(hour, minute)) {
                    auth = touched;
                }
            }
        }
        assert!(!auth.is_expired(at(20, 59), timeouts));
        assert!(auth.is_expired(at(21, 1), timeouts));
    }

    #[test]
    fn activity_is_recorded_at_most_once_a_minute() {
        let auth = SessionAuth::new("usr_1".into(), at(9, 0));
        assert_eq!(auth.touched(at(9, 0)), None);
        assert_eq!(auth.touched(at(9, 1)).map(|a| a.last_seen_at), Some(at(9, 1).timestamp_millis()));
    }
}
