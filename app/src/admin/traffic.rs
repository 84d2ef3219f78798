//! The operator console's front page: every account's API calls over the last 24 hours, and
//! the busiest accounts.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::AccountListing;
use crate::AppError;

/// The console's last 24 hours: every account's API traffic summed, and the busiest accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayTraffic {
    pub requests: u64,
    pub limited: u64,
    /// How many accounts called the API.
    pub accounts: usize,
    /// At most [`BUSIEST_SHOWN`], the most requests first.
    pub busiest: Vec<BusyAccount>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusyAccount {
    pub account: AccountListing,
    pub requests: u64,
    pub limited: u64,
}

/// How many of the busiest accounts the console lists.
pub const BUSIEST_SHOWN: usize = 10;

/// The last 24 hours of API traffic, over every account and per busiest account.
#[server]
pub async fn recent_traffic() -> Result<DayTraffic, AppError> {
    use std::collections::HashMap;

    use super::{admin_error, listing};
    use crate::auth::ssr::{internal, require_operator, services};
    let operator = require_operator().await?;
    let services = services()?;
    // Whole minutes, this one included.
    let this_minute_end = usage::Granularity::Minute.end_of(services.clock.now());
    let by_account = usage::UsageQueries::new(services.db.clone())
        .by_account(this_minute_end - chrono::Duration::hours(24), this_minute_end)
        .await
        .map_err(internal)?;
    let busiest = &by_account[..by_account.len().min(BUSIEST_SHOWN)];
    let ids: Vec<String> = busiest.iter().map(|usage| usage.account_id.clone()).collect();
    let mut summaries: HashMap<String, _> = services
        .accounts
        .summaries(&operator, &ids)
        .await
        .map_err(admin_error)?
        .into_iter()
        .map(|summary| (summary.account.id.clone(), summary))
        .collect();
    let policy = services.policy.get();
    Ok(DayTraffic {
        requests: by_account.iter().map(|usage| usage.counts.requests).sum(),
        limited: by_account.iter().map(|usage| usage.counts.limited).sum(),
        accounts: by_account.len(),
        busiest: busiest
            .iter()
            .filter_map(|usage| {
                let summary = summaries.remove(&usage.account_id)?;
                let counts = usage.counts;
                Some(BusyAccount {
                    account: listing(summary, &policy),
                    requests: counts.requests,
                    limited: counts.limited,
                })
            })
            .collect(),
    })
}
