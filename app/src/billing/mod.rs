//! Server functions for the Billing page: this billing month priced by seed 000's tiers (from
//! the busiest minute and the requests above the free number in each minute), the projection
//! to month end, and the account's spend cap (seed 002).

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Billing {
    /// "Nov 1 – Nov 30".
    pub period: String,
    /// The month priced, with the arithmetic in words; `None` when the policy has no pricing.
    pub priced: Option<PricedMonth>,
    /// The billing month before this one, priced as a statement; `None` when the policy has
    /// no pricing or the account did not exist before this month.
    pub last_month: Option<ClosedMonth>,
    pub spend_cap: SpendCapView,
}

/// A billing month that has ended, priced from its usage at the current prices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedMonth {
    /// "Oct 1 – Oct 31".
    pub period: String,
    pub served: u64,
    pub peak_rpm: u64,
    pub extra_requests: u64,
    /// "11–30 requests a minute".
    pub tier: String,
    /// "$110.00", or "Custom pricing".
    pub total: String,
    /// The sum in words.
    pub explanation: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PricedMonth {
    pub peak_rpm: u64,
    pub extra_requests: u64,
    /// "11–30 requests a minute".
    pub tier: String,
    /// "$223.40", or "Custom pricing".
    pub month_to_date: String,
    pub projected_extra: u64,
    pub projected_total: String,
    /// How the figures above were reached, one sentence each.
    pub explanation: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpendCapView {
    /// The cap as typed in the form ("50.00"); empty without one.
    pub amount: String,
    /// "$50.00 a month" or "No spend cap".
    pub summary: String,
    /// The month's fees have reached the cap: API calls get 429 until it is raised.
    pub reached: bool,
    /// Owners may change it, when the policy lets accounts set their own.
    pub can_change: bool,
    /// This month's fees so far ("$565.00"), when they are more than nothing: a cap at or below
    /// them stops API calls at once, which the form asks to confirm.
    pub spent: Option<String>,
}

#[server]
pub async fn load_billing() -> Result<Billing, AppError> {
    use crate::auth::ssr::{require_user, services};
    let user = require_user().await?;
    ssr::billing(&services()?, &user).await
}

/// Sets the spend cap from a typed amount ("50", "49.99"); an empty amount removes it. A cap
/// this month's fees have already reached stops every API call at once: it is refused unless
/// `stop_now` confirms it.
#[server]
pub async fn set_spend_cap(amount: String, stop_now: Option<String>) -> Result<(), AppError> {
    use services::accounts::SpendCapError;
    let cents = parse_amount(&amount)?;
    let user = crate::auth::ssr::require_user().await?;
    let services = crate::auth::ssr::services()?;
    if stop_now.is_none() {
        ssr::refuse_a_cap_already_reached(&services, &user, cents).await?;
    }
    services.accounts.set_spend_cap(&user, cents).await.map_err(|error| match error {
        SpendCapError::NotOwner => AppError::Forbidden,
        SpendCapError::SetByOperator => AppError::Invalid(error.to_string()),
        SpendCapError::Internal(cause) => crate::auth::ssr::internal(cause),
    })?;
    Ok(())
}

/// "50", "49.9", "49.99", "$1,000" → cents; "" → no cap.
pub fn parse_amount(text: &str) -> Result<Option<u64>, AppError> {
    let invalid =
        || AppError::Invalid("Enter an amount like 50 or 49.99, or leave it empty for no cap.".into());
    let text: String = text.trim().trim_start_matches('$').chars().filter(|c| *c != ',').collect();
    if text.is_empty() {
        return Ok(None);
    }
    let (whole, fraction) = text.split_once('.').unwrap_or((&text, ""));
    let digits =
        |part: &str| !part.is_empty() && part.len() <= 12 && part.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || (!fraction.is_empty() && (!digits(fraction) || fraction.len() > 2)) {
        return Err(invalid());
    }
    let cents = format!("{fraction:0<2}").parse::<u64>().map_err(|_| invalid())?;
    let whole = whole.parse::<u64>().map_err(|_| invalid())?;
    Ok(Some(whole * 100 + cents))
}

#[cfg(feature = "ssr")]
pub(crate) mod pricing;
#[cfg(feature = "ssr")]
pub(crate) mod ssr;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_read_as_cents_and_nonsense_is_refused() {
        assert_eq!(parse_amount(""), Ok(None));
        assert_eq!(parse_amount(" 50 "), Ok(Some(5_000)));
        assert_eq!(parse_amount("$1,000.5"), Ok(Some(100_050)));
        assert_eq!(parse_amount("49.99"), Ok(Some(4_999)));
        for bad in ["-5", "5.999", "abc", "1e3", ".5", "99999999999999"] {
            assert!(parse_amount(bad).is_err(), "{bad}");
        }
    }
}
