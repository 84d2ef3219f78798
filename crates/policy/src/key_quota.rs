//! A key's own quota: the owner of an account caps one key below what the plan allows ("this
//! staging key may use at most 1,000 requests a day"), so a runaway job or a leaked key cannot
//! spend the whole account's quota. It is charged wherever the monthly quota is, per key, in
//! the same atomic decision as every other bucket.

use limiter::{BucketSpec, Scope};
use serde::{Deserialize, Serialize};

use crate::limits::FixedWindow;

/// The limiter name of a key's own quota.
pub const KEY_QUOTA: &str = "key_quota";

/// At most `limit` requests (quota units, as the monthly quota counts them) per UTC day or per
/// billing month, for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawKeyQuota", into = "RawKeyQuota")]
pub struct KeyQuota {
    limit: u64,
    window: FixedWindow,
}

/// The written form: `{"limit": 1000, "per": "day"}`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKeyQuota {
    limit: u64,
    per: FixedWindow,
}

impl KeyQuota {
    /// A quota of `limit` per `window`, which must be a day or a month; the message says why not.
    pub fn new(limit: u64, window: FixedWindow) -> Result<Self, String> {
        if !matches!(window, FixedWindow::Day | FixedWindow::Month) {
            return Err(format!("A key's quota is per day or per month, not per {}.", window.as_str()));
        }
        if limit == 0 || limit > limiter::MAX_UNITS {
            let most = numbers::thousands(limiter::MAX_UNITS);
            return Err(format!("A key's quota must be at least 1 request (and at most {most})."));
        }
        Ok(Self { limit, window })
    }

    /// From a form's two fields: a count (empty for no quota) and `day` or `month`.
    pub fn parse(limit: &str, per: &str) -> Result<Option<Self>, String> {
        let limit = limit.trim().replace([',', '_', ' '], "");
        if limit.is_empty() {
            return Ok(None);
        }
        let limit = limit.parse::<u64>().map_err(|_| {
            format!("{limit:?} is not a number of requests: write a whole number such as 1000.")
        })?;
        Self::per(limit, per).map(Some)
    }

    /// `limit` per `day` or `month`, as a form or the database writes the period.
    pub fn per(limit: u64, per: &str) -> Result<Self, String> {
        let window = match per {
            "day" => FixedWindow::Day,
            "month" => FixedWindow::Month,
            other => return Err(format!("{other:?} is not a period: choose day or month.")),
        };
        Self::new(limit, window)
    }

    pub fn limit(self) -> u64 {
        self.limit
    }

    /// `Day` or `Month`.
    pub fn window(self) -> FixedWindow {
        self.window
    }

    /// The limiter bucket, on the account's billing month when it is monthly.
    pub fn spec(self, anchor_day: u8) -> BucketSpec {
        BucketSpec::new(KEY_QUOTA, self.limit, self.window.to_window(anchor_day), Scope::Key)
    }

    /// In words: "1,000 requests a day", "1 request a month".
    pub fn describe(self) -> String {
        let noun = if self.limit == 1 { "request" } else { "requests" };
        format!("{} {noun} a {}", numbers::thousands(self.limit), self.window.as_str())
    }
}

impl TryFrom<RawKeyQuota> for KeyQuota {
    type Error = String;

    fn try_from(raw: RawKeyQuota) -> Result<Self, String> {
        Self::new(raw.limit, raw.per)
    }
}

impl From<KeyQuota> for RawKeyQuota {
    fn from(quota: KeyQuota) -> Self {
        Self { limit: quota.limit, per: quota.window }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_quota_is_a_count_per_day_or_month() {
        let quota = KeyQuota::parse(" 1,000 ", "day").unwrap().unwrap();
        assert_eq!((quota.limit(), quota.window()), (1_000, FixedWindow::Day));
        assert_eq!(quota.describe(), "1,000 requests a day");
        assert_eq!(KeyQuota::per(1, "month").map(KeyQuota::describe), Ok("1 request a month".to_owned()));
        assert_eq!(KeyQuota::parse("", "month"), Ok(None));
        assert!(KeyQuota::parse("0", "day").unwrap_err().contains("at least 1 request"));
        assert!(KeyQuota::parse("ten", "day").unwrap_err().contains("not a number"));
        assert!(KeyQuota::parse("10", "week").unwrap_err().contains("day or month"));
        assert!(KeyQuota::new(10, FixedWindow::Hour).is_err());
    }

    #[test]
    fn its_written_form_is_checked_like_a_form() {
        let quota: KeyQuota = serde_json::from_str(r#"{"limit": 500, "per": "month"}"#).unwrap();
        assert_eq!(quota.spec(15).window, limiter::Window::Month { anchor_day: 15 });
        assert_eq!(serde_json::to_string(&quota).unwrap(), r#"{"limit":500,"per":"month"}"#);
        assert!(serde_json::from_str::<KeyQuota>(r#"{"limit": 500, "per": "minute"}"#).is_err());
        assert!(serde_json::from_str::<KeyQuota>(r#"{"limit": 0, "per": "day"}"#).is_err());
    }
}
