//! The console's front page section on the last 24 hours: every account's calls summed, and
//! the busiest accounts with the share refused by a limit.

use leptos::prelude::*;
use numbers::thousands;

use crate::admin::{BusyAccount, DayTraffic, recent_traffic};
use crate::pages::{DataTable, ErrorAlert};

/// The last 24 hours of API calls over every account, and the busiest accounts: who is growing
/// into a bigger plan, and who keeps hitting a limit.
#[component]
pub(super) fn LastDay() -> impl IntoView {
    let traffic = Resource::new(|| (), |_| recent_traffic());
    view! {
        <section class="stack" aria-labelledby="last-day-heading">
            <h2 id="last-day-heading">"Last 24 hours"</h2>
            <Transition fallback=|| view! { <p class="muted">"Adding up the last 24 hours…"</p> }>
                {move || Suspend::new(async move {
                    match traffic.await {
                        Ok(traffic) if traffic.accounts == 0 => view! { <p class="muted">"No account has called the API in the last 24 hours."</p> }.into_any(),
                        Ok(traffic) => view! { <BusiestAccounts traffic /> }.into_any(),
                        Err(error) => view! { <ErrorAlert error /> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn BusiestAccounts(traffic: DayTraffic) -> impl IntoView {
    let DayTraffic { requests, limited, accounts, busiest } = traffic;
    let from = if accounts == 1 {
        "1 account".to_owned()
    } else {
        format!("{} accounts", thousands(accounts as u64))
    };
    view! {
        <p data-testid="last-day-summary">
            {format!("{} API calls from {from}; {} refused by a limit.", thousands(requests), with_share(limited, requests))}
        </p>
        <DataTable label="Busiest accounts, last 24 hours">
            <thead><tr>
                <th scope="col">"Account"</th><th scope="col">"Owner"</th><th scope="col">"Plan"</th>
                <th scope="col" class="num">"Calls"</th><th scope="col" class="num">"Refused by a limit"</th>
            </tr></thead>
            <tbody>{busiest.into_iter().map(|BusyAccount { account, requests, limited }| view! {
                <tr>
                    <th scope="row"><a href=format!("/admin/accounts/{}", account.id)>{account.name}</a></th>
                    <td>{account.owner_email.unwrap_or_else(|| "—".to_owned())}</td>
                    <td>{account.plan}</td>
                    <td class="num">{thousands(requests)}</td>
                    <td class="num">{with_share(limited, requests)}</td>
                </tr>
            }).collect_view()}</tbody>
        </DataTable>
    }
}

/// "1,234 (5.2 %)": `part` and its share of `whole`, to a tenth of a percent.
fn with_share(part: u64, whole: u64) -> String {
    if part == 0 || whole == 0 {
        return thousands(part);
    }
    let tenths = (part as f64 * 1000.0 / whole as f64).round();
    let share = if tenths < 1.0 { "under 0.1".to_owned() } else { format!("{:.1}", tenths / 10.0) };
    format!("{} ({share} %)", thousands(part))
}

#[cfg(test)]
mod tests {
    use super::with_share;

    #[test]
    fn a_count_comes_with_its_share_to_a_tenth_of_a_percent() {
        assert_eq!(with_share(0, 500), "0");
        assert_eq!(with_share(26, 500), "26 (5.2 %)");
        assert_eq!(with_share(1_500, 1_500), "1,500 (100.0 %)");
        assert_eq!(with_share(1, 20_000), "1 (under 0.1 %)");
    }
}
