//! Limits and pricing (admins change; support reads): every bucket's limit, the routes that
//! charge them, and the pricing tiers' fees. A saved change is in force at the next request on
//! every node and outlives restarts and edits of the policy file.

use leptos::prelude::*;
use leptos_meta::Title;
use numbers::{money, thousands};

use super::{Changes, DataTable, ErrorAlert, FormError, FormSaved, SubmitButton};
use crate::limits::{
    BucketLimit, EditBucketLimit, EditFreeRequests, EditTierFees, LimitsAndPricing, PricingView, RouteRow,
    WINDOWS, load_limits,
};

#[component]
pub fn LimitsPage() -> impl IntoView {
    let edit_bucket = ServerAction::<EditBucketLimit>::new();
    let edit_tier = ServerAction::<EditTierFees>::new();
    let edit_free = ServerAction::<EditFreeRequests>::new();
    let changes = Changes::new().follow(edit_bucket).follow(edit_tier).follow(edit_free);
    let limits = Resource::new(move || changes.get(), |_| load_limits());
    view! {
        <Title text="Limits and pricing" />
        <div class="page-header"><h1>"Limits and pricing"</h1></div>
        <p class="muted">"A change applies at the next request on every node, and stays over the policy file until it is changed here again. Everything else (routes, scopes, the words of a 429) comes from the policy file; words written with {limit} and {window} follow these limits."</p>
        <Transition fallback=|| view! { <p class="muted">"Loading the limits…"</p> }>
            {move || Suspend::new(async move {
                match limits.await {
                    Ok(limits) => view! { <Limits limits edit_bucket edit_tier edit_free /> }.into_any(),
                    Err(error) => view! { <ErrorAlert error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn Limits(
    limits: LimitsAndPricing,
    edit_bucket: ServerAction<EditBucketLimit>,
    edit_tier: ServerAction<EditTierFees>,
    edit_free: ServerAction<EditFreeRequests>,
) -> impl IntoView {
    let LimitsAndPricing { can_change, buckets, routes, pricing } = limits;
    view! {
        <section class="card stack" aria-labelledby="buckets-heading">
            <h2 id="buckets-heading">"Buckets"</h2>
            <FormError result=edit_bucket.value() />
            <FormSaved action=edit_bucket message="Saved. The next request uses the new limit." />
            <BucketTable buckets can_change edit=edit_bucket />
        </section>
        {pricing.map(|pricing| view! { <Pricing pricing can_change edit_tier edit_free /> })}
        <section class="card stack" aria-labelledby="routes-heading">
            <h2 id="routes-heading">"Routes"</h2>
            <p class="muted">"What each route charges. A call with a key also counts toward its plan's monthly quota, burst and daily cap where the route is metered."</p>
            <RouteTable routes />
        </section>
    }
}

#[component]
fn BucketTable(
    buckets: Vec<BucketLimit>,
    can_change: bool,
    edit: ServerAction<EditBucketLimit>,
) -> impl IntoView {
    if buckets.is_empty() {
        return view! { <p class="empty-state">"The policy names no buckets of its own; plans' buckets are in the plan catalogue."</p> }.into_any();
    }
    view! {
        <DataTable label="Buckets">
            <thead><tr>
                <th scope="col">"Bucket"</th><th scope="col">"Counted per"</th><th scope="col">"Limit"</th>
                {can_change.then(|| view! { <th scope="col">"Change"</th> })}
            </tr></thead>
            <tbody>{buckets.into_iter().map(|bucket| view! { <BucketRow bucket can_change edit /> }).collect_view()}</tbody>
        </DataTable>
    }
    .into_any()
}

#[component]
fn BucketRow(bucket: BucketLimit, can_change: bool, edit: ServerAction<EditBucketLimit>) -> impl IntoView {
    let closed = bucket.fail_closed.then_some(" · refuses when the limiter store is down");
    let (name, description, scope, summary) =
        (bucket.name.clone(), bucket.description.clone(), bucket.scope.clone(), bucket.summary.clone());
    let form = can_change.then(|| view! { <td><BucketForm bucket edit /></td> });
    let row_attr = name.clone();
    view! {
        <tr data-bucket=row_attr>
            <th scope="row">
                {name}
                {description.map(|text| view! { <div class="field-hint">{text}</div> })}
            </th>
            <td>{scope}{closed}</td>
            <td>{summary}</td>
            {form}
        </tr>
    }
}

/// A bucket's limit form: the count, and the window (fixed) or the burst (GCRA).
#[component]
fn BucketForm(bucket: BucketLimit, edit: ServerAction<EditBucketLimit>) -> impl IntoView {
    let name = bucket.name.clone();
    let id = move |field: &str| format!("bucket-{name}-{field}");
    let shape = match bucket.window.clone() {
        Some(current) => view! {
            <label class="sr-only" for=id("window")>{format!("Window of {}", bucket.name)}</label>
            <select id=id("window") name="window">
                {WINDOWS.iter().map(|window| view! { <option value=*window selected=current == *window>{format!("per {window}")}</option> }).collect_view()}
            </select>
        }
        .into_any(),
        None => view! {
            <label for=id("burst")>"burst"</label>
            <input id=id("burst") name="burst" inputmode="numeric" size="6" value=bucket.burst.map(|b| b.to_string()).unwrap_or_default() aria-label=format!("Burst of {}", bucket.name) />
        }
        .into_any(),
    };
    view! {
        <ActionForm action=edit attr:class="row">
            <input type="hidden" name="bucket" value=bucket.name.clone() />
            <label class="sr-only" for=id("count")>{format!("Limit of {}", bucket.name)}</label>
            <input id=id("count") name="count" inputmode="numeric" size="8" required value=bucket.count.to_string() />
            {shape}
            <SubmitButton pending=edit.pending() class="btn btn-small">
                "Save"<span class="sr-only">{format!(" the limit of {}", bucket.name)}</span>
            </SubmitButton>
        </ActionForm>
    }
}

#[component]
fn Pricing(
    pricing: PricingView,
    can_change: bool,
    edit_tier: ServerAction<EditTierFees>,
    edit_free: ServerAction<EditFreeRequests>,
) -> impl IntoView {
    let PricingView { currency, free_requests_per_minute, tiers } = pricing;
    let fee = {
        let currency = currency.clone();
        move |cents: Option<u64>| cents.map_or_else(|| "custom".to_owned(), |cents| money(cents, &currency))
    };
    view! {
        <section class="card stack" aria-labelledby="pricing-heading">
            <h2 id="pricing-heading">"Pricing"</h2>
            <p class="muted">"An account's tier is set by its busiest minute of the month; requests above the free ones in a minute are extra and cost the tier's fee each. Fees in cents of "{currency.clone()}"; both empty means custom pricing."</p>
            <FormError result=edit_free.value() />
            <FormSaved action=edit_free message="Saved. Bills are worked out with it from now on." />
            {if can_change {
                view! {
                    <ActionForm action=edit_free attr:class="row">
                        <label for="free-requests">"Free requests a minute"</label>
                        <input id="free-requests" name="free_requests_per_minute" inputmode="numeric" size="6" required value=free_requests_per_minute.to_string() />
                        <SubmitButton pending=edit_free.pending() class="btn btn-small">"Save"<span class="sr-only">" the free requests a minute"</span></SubmitButton>
                    </ActionForm>
                }.into_any()
            } else {
                view! { <p>"Free requests a minute: "{thousands(free_requests_per_minute)}</p> }.into_any()
            }}
            <FormError result=edit_tier.value() />
            <FormSaved action=edit_tier message="Saved. Bills are worked out with the new fees from now on." />
            <DataTable label="Pricing tiers">
                <thead><tr>
                    <th scope="col">"Tier"</th><th scope="col">"Busiest minute"</th><th scope="col">"Monthly fee"</th><th scope="col">"Per extra request"</th>
                    {can_change.then(|| view! { <th scope="col">"Change"</th> })}
                </tr></thead>
                <tbody>{tiers.into_iter().map(|tier| {
                    let id = format!("tier-{}", tier.name.to_lowercase().replace(' ', "-"));
                    let number = |cents: Option<u64>| cents.map(|c| c.to_string()).unwrap_or_default();
                    let (row_name, row_attr) = (tier.name.clone(), tier.name.clone());
                    view! {
                        <tr data-tier=row_attr>
                            <th scope="row">{row_name}</th>
                            <td>{format!("{} requests", tier.band)}</td>
                            <td>{fee(tier.monthly_cents)}</td>
                            <td>{fee(tier.extra_request_cents)}</td>
                            {can_change.then(|| view! { <td>
                                <ActionForm action=edit_tier attr:class="row">
                                    <input type="hidden" name="tier" value=tier.name.clone() />
                                    <label for=format!("{id}-monthly")>"monthly"</label>
                                    <input id=format!("{id}-monthly") name="monthly_cents" inputmode="numeric" size="7" value=number(tier.monthly_cents) aria-label=format!("Monthly fee of {} in cents", tier.name) />
                                    <label for=format!("{id}-extra")>"extra"</label>
                                    <input id=format!("{id}-extra") name="extra_request_cents" inputmode="numeric" size="4" value=number(tier.extra_request_cents) aria-label=format!("Fee per extra request of {} in cents", tier.name) />
                                    <SubmitButton pending=edit_tier.pending() class="btn btn-small">
                                        "Save"<span class="sr-only">{format!(" the fees of {}", tier.name)}</span>
                                    </SubmitButton>
                                </ActionForm>
                            </td> })}
                        </tr>
                    }
                }).collect_view()}</tbody>
            </DataTable>
        </section>
    }
}

#[component]
fn RouteTable(routes: Vec<RouteRow>) -> impl IntoView {
    view! {
        <DataTable label="Routes and the buckets they charge">
            <thead><tr><th scope="col">"Method"</th><th scope="col">"Path"</th><th scope="col">"Charges"</th></tr></thead>
            <tbody>{routes.into_iter().map(|route| view! {
                <tr><td class="mono">{route.method}</td><th scope="row" class="mono">{route.path}</th><td>{route.charges}</td></tr>
            }).collect_view()}</tbody>
        </DataTable>
    }
}
