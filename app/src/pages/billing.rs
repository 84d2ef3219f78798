//! Billing: this month's tier, extra requests and cost, the projection to month end with the
//! arithmetic in words, and the spend cap. Works without JavaScript (a plain form). Staff
//! viewing as the customer see no form.

use leptos::prelude::*;
use leptos_meta::Title;
use numbers::thousands;

use super::{Changes, ErrorAlert, FormError, FormSaved, ReadOnlyNote, SubmitButton, viewing_as};
use crate::billing::{Billing, ClosedMonth, PricedMonth, SetSpendCap, SpendCapView, load_billing};
use crate::shell::CurrentViewer;

#[component]
pub fn BillingPage() -> impl IntoView {
    let set_cap = ServerAction::<SetSpendCap>::new();
    let changes = Changes::new().follow(set_cap);
    let billing = Resource::new(move || changes.get(), |_| load_billing());
    let viewer = use_context::<CurrentViewer>();
    view! {
        <Title text="Billing" />
        <div class="page-header"><h1>"Billing"</h1></div>
        <Transition fallback=|| view! { <p class="muted">"Loading this month's figures…"</p> }>
            {move || Suspend::new(async move {
                let read_only = viewing_as(viewer).await;
                match billing.await {
                    Ok(billing) => view! { <BillingBody billing set_cap read_only /> }.into_any(),
                    Err(error) => view! { <ErrorAlert error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn BillingBody(billing: Billing, set_cap: ServerAction<SetSpendCap>, read_only: bool) -> impl IntoView {
    let Billing { period, priced, last_month, spend_cap } = billing;
    view! {
        <div class="stack">
            <p class="muted">{format!("Billing month {period}. Figures update within a few seconds of your traffic.")}</p>
            {match priced {
                Some(month) => view! { <PricedMonthView month /> }.into_any(),
                None => view! { <div class="alert alert-info">"Usage is not priced here: there are no fees to show."</div> }.into_any(),
            }}
            <SpendCap cap=spend_cap set_cap read_only />
            {last_month.map(|month| view! { <LastMonth month /> })}
        </div>
    }
}

#[component]
fn PricedMonthView(month: PricedMonth) -> impl IntoView {
    view! {
        <section class="grid" aria-label="This month">
            <div class="stat"><div class="stat-label">"Tier (busiest minute)"</div><div class="stat-value">{month.tier}</div></div>
            <div class="stat"><div class="stat-label">"Peak requests a minute"</div><div class="stat-value">{thousands(month.peak_rpm)}</div></div>
            <div class="stat"><div class="stat-label">"Extra requests"</div><div class="stat-value">{thousands(month.extra_requests)}</div></div>
            <div class="stat"><div class="stat-label">"Month to date"</div><div class="stat-value" data-testid="month-to-date-cost">{month.month_to_date}</div></div>
            <div class="stat"><div class="stat-label">"Projected at month end"</div><div class="stat-value">{month.projected_total}</div></div>
        </section>
        <section class="card" aria-labelledby="how-heading">
            <h2 id="how-heading">"How this is worked out"</h2>
            <ul>{month.explanation.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}</ul>
        </section>
    }
}

/// The previous billing month as a statement.
#[component]
fn LastMonth(month: ClosedMonth) -> impl IntoView {
    view! {
        <section class="card stack" aria-labelledby="last-month-heading">
            <h2 id="last-month-heading">{format!("Last month, {}", month.period)}</h2>
            <dl class="kv">
                <dt>"Requests served"</dt><dd>{thousands(month.served)}</dd>
                <dt>"Peak requests a minute"</dt><dd>{thousands(month.peak_rpm)}</dd>
                <dt>"Tier"</dt><dd>{month.tier}</dd>
                <dt>"Extra requests"</dt><dd>{thousands(month.extra_requests)}</dd>
                <dt>"Total"</dt><dd data-testid="last-month-total">{month.total}</dd>
            </dl>
            <p>{month.explanation}</p>
            <p class="muted">"Worked out from last month's usage at today's prices."</p>
        </section>
    }
}

#[component]
fn SpendCap(cap: SpendCapView, set_cap: ServerAction<SetSpendCap>, read_only: bool) -> impl IntoView {
    let SpendCapView { amount, summary, reached, can_change, spent } = cap;
    view! {
        <section class="card stack" aria-labelledby="cap-heading">
            <h2 id="cap-heading">"Spend cap"</h2>
            <p>{summary}</p>
            {reached.then(|| view! {
                <div class="alert alert-warning" role="status">
                    "This month's fees have reached the cap: API calls are refused with 429 until you raise it or the month ends."
                </div>
            })}
            <p class="muted">"Once this month's fees reach the cap, API calls get 429 with a body that says so, until the cap is raised or the month ends."</p>
            <FormError result=set_cap.value() />
            <FormSaved action=set_cap message="Spend cap saved." />
            {read_only.then(|| view! { <ReadOnlyNote /> })}
            {(can_change && !read_only).then(|| view! {
                <ActionForm action=set_cap attr:class="form">
                    <div class="field">
                        <label for="spend-cap">"Monthly cap (USD)"</label>
                        <input id="spend-cap" name="amount" inputmode="decimal" value=amount autocomplete="off" aria-describedby="spend-cap-hint" />
                        <p class="field-hint" id="spend-cap-hint">"Leave empty for no cap."</p>
                    </div>
                    <div class="field">
                        <label><input type="checkbox" name="stop_now" value="yes" aria-describedby="spend-cap-stop-hint" />" Stop API calls now"</label>
                        <p class="field-hint" id="spend-cap-stop-hint">{stop_now_hint(spent)}</p>
                    </div>
                    <div class="form-actions">
                        <SubmitButton pending=set_cap.pending() class="btn btn-primary">"Save spend cap"</SubmitButton>
                    </div>
                </ActionForm>
            })}
        </section>
    }
}

/// What ticking "Stop API calls now" means, with this month's fees so far when there are any.
fn stop_now_hint(spent: Option<String>) -> String {
    let fees = spent.map_or_else(
        || "this month's fees".to_owned(),
        |spent| format!("this month's fees so far ({spent})"),
    );
    format!("A cap at or below {fees} stops every API call at once: tick this to save such a cap.")
}
