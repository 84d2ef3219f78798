//! The operator console: search accounts, and one account's page (users, keys without secrets,
//! plan, gauges, overrides, bucket resets, disabling, and starting a support view-as). Admins
//! change things; support staff only look and view as the customer. Plain forms throughout.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::{DataTable, ErrorAlert};
use crate::admin::{AccountListing, search_accounts};

mod account;
mod last_day;

pub use account::AdminAccountPage;
use last_day::LastDay;

#[component]
pub fn AdminPage() -> impl IntoView {
    let query = use_query_map();
    let q = move || query.read().get("q").unwrap_or_default();
    let results = Resource::new(q, search_accounts);
    view! {
        <Title text="Accounts" />
        <div class="page-header"><h1>"Accounts"</h1></div>
        <div class="stack">
            <div>
                <form method="get" action="/admin" class="row" role="search">
                    <label for="account-search">"Find an account"</label>
                    <input id="account-search" type="search" name="q" value=q placeholder="email, account name or key start (ks_…)" autocomplete="off" aria-describedby="account-search-hint" />
                    <button type="submit" class="btn btn-primary">"Search"</button>
                </form>
                <p class="field-hint" id="account-search-hint">"A user's email, the account's name, or the start of one of its keys."</p>
            </div>
            {move || q().is_empty().then(|| view! { <LastDay /> })}
            <Transition fallback=|| view! { <p class="muted">"Searching…"</p> }>
                {move || Suspend::new(async move {
                    match results.await {
                        Ok(found) if found.accounts.is_empty() && q().is_empty() => view! { <div class="empty-state"><h2>"No customer accounts yet"</h2><p>"Accounts appear here as customers sign up."</p></div> }.into_any(),
                        Ok(found) if found.accounts.is_empty() => view! { <div class="empty-state"><h2>"No accounts match"</h2><p>"Try part of an email or a key's first characters."</p></div> }.into_any(),
                        Ok(found) => {
                            let title = if q().is_empty() { "Newest accounts" } else { "Accounts found" };
                            let more = found.more.then(|| view! {
                                <p class="muted" data-testid="more-accounts">
                                    {format!("Showing the first {}: there are more. Search for part of a name, an email or a key's first characters to find one.", found.accounts.len())}
                                </p>
                            });
                            view! {
                                <section class="stack">
                                    <h2>{title}</h2>
                                    {more}
                                    <AccountTable accounts=found.accounts caption=title />
                                </section>
                            }.into_any()
                        }
                        Err(error) => view! { <ErrorAlert error /> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}

/// Accounts as the console lists them, each linking to its page.
#[component]
fn AccountTable(accounts: Vec<AccountListing>, caption: &'static str) -> impl IntoView {
    view! {
        <DataTable label=caption>
            <thead><tr><th scope="col">"Account"</th><th scope="col">"Owner"</th><th scope="col">"Plan"</th><th scope="col">"Status"</th></tr></thead>
            <tbody>{accounts.into_iter().map(|account| view! {
                <tr>
                    <th scope="row"><a href=format!("/admin/accounts/{}", account.id)>{account.name}</a></th>
                    <td>{account.owner_email.unwrap_or_else(|| "—".to_owned())}</td>
                    <td>{account.plan}</td>
                    <td>{if account.disabled { "Disabled" } else { "Active" }}</td>
                </tr>
            }).collect_view()}</tbody>
        </DataTable>
    }
}
