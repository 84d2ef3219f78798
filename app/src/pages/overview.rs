//! The Overview: the plan, this billing month so far and where it is heading, and a gauge for
//! every bucket of the account or of one key, refreshed every second from the limiter store,
//! so traffic shows within a second without a reload. Without JavaScript the page renders the
//! same figures with native meters, and a plain form picks the key.

use super::{ErrorAlert, GetForm};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use numbers::thousands;

use super::short_time;
use crate::charts::{EChart, gauge_chart};
use crate::overview::{GaugeView, Overview, load_overview};

const REFRESH: std::time::Duration = std::time::Duration::from_secs(1);

#[component]
pub fn OverviewPage() -> impl IntoView {
    let query = use_query_map();
    let selected = move || query.read().get("key").filter(|key| !key.is_empty());
    let data = Resource::new(selected, load_overview);
    view! {
        <Title text="Overview" />
        <div class="page-header"><h1>"Overview"</h1></div>
        <Transition fallback=|| view! { <p class="muted">"Loading your limits…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(overview) => view! { <OverviewBody overview /> }.into_any(),
                    Err(error) => view! { <ErrorAlert error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn OverviewBody(overview: Overview) -> impl IntoView {
    let live = RwSignal::new(overview.clone());
    let key = overview.selected_key.clone();
    super::refresh_every(live, REFRESH, move || load_overview(key.clone()));
    let Overview { plan_name, keys, selected_key, expiring_keys, spent_key_quotas, gauges, .. } = overview;
    let has_keys = !keys.is_empty();
    view! {
        <div class="stack">
            {expiring_keys.into_iter().map(|(name, at)| view! {
                <div class="alert alert-warning" role="status">
                    {format!("Key “{name}” expires {}. Before then, rotate it with a new expiry (its secret changes, its charts and limits stay) or replace it. ", short_time(&at))}
                    <a href="/keys">"Go to Keys"</a>
                </div>
            }).collect_view()}
            {spent_key_quotas.into_iter().map(|warning| view! {
                <div class="alert alert-warning" role="status" data-testid="key-quota-spent">
                    {warning}" "<a href="/keys">"Go to Keys"</a>
                </div>
            }).collect_view()}
            {move || live.read().month.spend_cap_reached.then(|| view! {
                <div class="alert alert-warning" role="status" data-testid="spend-cap-reached">
                    "This month's fees have reached your spend cap: API calls get 429 until it is raised or the month ends. "
                    <a href="/billing">"Go to Billing"</a>
                </div>
            })}
            {move || live.read().month.quota_warning.clone().map(|warning| view! {
                <div class="alert alert-warning" role="status" data-testid="quota-warning">
                    {warning}" "<a href="/plan">"Compare plans"</a>
                </div>
            })}
            <div class="row">
                <span class="badge badge-plan">{format!("{plan_name} plan")}</span>
                <KeySelector keys selected_key />
            </div>
            {(!has_keys).then(|| view! {
                <div class="empty-state">
                    <h2>"No keys yet"</h2>
                    <p>"Your account's limits are below. " <a href="/keys">"Create a key"</a> " to see its own buckets too."</p>
                </div>
            })}
            <Month live explains_the_bill=true />
            <div class="gauge-grid">
                {gauges.into_iter().map(|gauge| view! { <Gauge live name=gauge.name /> }).collect_view()}
            </div>
        </div>
    }
}

/// Month to date, the projection and the day the quota runs out.
#[component]
pub(crate) fn Month(
    live: RwSignal<Overview>,
    /// Links the bill to the Billing page's explanation: for the customer, whose page it is.
    #[prop(optional)]
    explains_the_bill: bool,
) -> impl IntoView {
    let month = move || live.read().month.clone();
    view! {
        <section class="grid" aria-label="This billing month, whole account">
            <div class="stat">
                <div class="stat-label">{move || format!("Requests this month, whole account ({})", month().period)}</div>
                <div class="stat-value" data-testid="month-to-date">{move || thousands(month().requests_to_date)}</div>
                <div class="stat-label">{move || match month().limited_to_date {
                    0 => "admitted, none refused".to_owned(),
                    limited => format!("admitted, and {} refused", thousands(limited)),
                }}</div>
            </div>
            <div class="stat">
                <div class="stat-label">"Projected by month end"</div>
                <div class="stat-value">{move || {
                    let month = month();
                    match month.quota {
                        Some(quota) => format!("{} of {}", thousands(month.projected), thousands(quota)),
                        None => thousands(month.projected),
                    }
                }}</div>
                // The quota counts units, not requests: exempt calls cost none, some cost more.
                <div class="stat-label">{move || match month().quota {
                    Some(_) => "counted toward the quota, at this month's pace",
                    None => "requests, at this month's pace",
                }}</div>
            </div>
            <div class="stat">
                <div class="stat-label">"Quota runs out"</div>
                <div class="stat-value">{move || {
                    let month = month();
                    match (month.quota, month.runs_out_on) {
                        (None, _) => "No monthly quota".to_owned(),
                        (Some(_), Some(when)) => when,
                        (Some(_), None) => "Lasts the month".to_owned(),
                    }
                }}</div>
            </div>
            {move || month().bill.map(|bill| view! {
                <div class="stat">
                    <div class="stat-label">"Projected bill"</div>
                    <div class="stat-value" data-testid="projected-bill">{bill.projected_total}</div>
                    <div class="stat-label">
                        {format!("in the {} tier", bill.tier)}
                        {explains_the_bill.then(|| view! { " · " <a href="/billing#how-heading">"How it is worked out"</a> })}
                    </div>
                </div>
            })}
        </section>
    }
}

/// A plain GET form: the view changes when "Show" is pressed, not at each option the arrow
/// keys pass (the router's `Form` navigates in place once the page is live).
#[component]
fn KeySelector(keys: Vec<(String, String)>, selected_key: Option<String>) -> impl IntoView {
    view! {
        <GetForm action="/">
            <label for="key-select">"Show"</label>
            <select id="key-select" name="key">
                <option value="" selected=selected_key.is_none()>"The whole account"</option>
                {keys.into_iter().map(|(id, name)| {
                    let is_selected = selected_key.as_deref() == Some(id.as_str());
                    view! { <option value=id selected=is_selected>{format!("Key: {name}")}</option> }
                }).collect_view()}
            </select>
            <button type="submit" class="btn btn-small">"Show"</button>
        </GetForm>
    }
}

/// One bucket: a gauge drawn once the page is live (a native meter before that and without
/// JavaScript), with used, limit, remaining and reset time in words.
#[component]
pub(crate) fn Gauge(live: RwSignal<Overview>, name: String) -> impl IntoView {
    let label = bucket_label(&name);
    let gauge = {
        let name = name.clone();
        Memo::new(move |_| live.read().gauges.iter().find(|gauge| gauge.name == name).cloned())
    };
    let field = move |read: fn(&GaugeView) -> u64| gauge.read().as_ref().map_or(0, read);
    let chart = Signal::derive(move || gauge_chart(field(|g| g.used), field(|g| g.limit)));
    let meta = move || {
        gauge.get().map_or_else(String::new, |gauge| {
            format!(
                "{}{} · {} of {} used · {} left · resets in {}",
                nearness(&gauge),
                gauge.window,
                thousands(gauge.used),
                thousands(gauge.limit),
                thousands(gauge.remaining),
                human_duration(gauge.reset_seconds)
            )
        })
    };
    view! {
        <section class="gauge" aria-label=label.clone() data-bucket=name.clone()>
            <h2>{label.clone()}</h2>
            <EChart chart label=label.clone() class="gauge-chart" />
            <meter class="gauge-meter" min="0" max=move || field(|g| g.limit).max(1) value=move || field(|g| g.used)
                low=move || (field(|g| g.limit) as f64 * 0.7) as u64 high=move || (field(|g| g.limit) as f64 * 0.9) as u64 optimum="0">
                {move || format!("{} of {}", thousands(field(|g| g.used)), thousands(field(|g| g.limit)))}
            </meter>
            <p class="gauge-meta">{meta}</p>
        </section>
    }
}

/// How close a bucket is to its limit, in words, so the state is not told by colour alone.
fn nearness(gauge: &GaugeView) -> &'static str {
    if gauge.remaining == 0 {
        "Limit reached · "
    } else if gauge.used.saturating_mul(10) >= gauge.limit.saturating_mul(9) {
        "Near limit · "
    } else {
        ""
    }
}

/// A gauge's title: the plan buckets and key management by what they mean, any other bucket by
/// its policy name as a heading ("reads" → "Reads", "bulk_exports" → "Bulk exports").
pub(crate) fn bucket_label(name: &str) -> String {
    match name {
        "monthly" => "Monthly quota".into(),
        "key_mgmt" => "Key changes".into(),
        "key_quota" => "Key's own quota".into(),
        "restricted" => "Key restrictions".into(),
        other => super::sentence_case(&other.replace('_', " ")),
    }
}

/// 42 s, 5 min, 3 h, 2 d.
fn human_duration(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min", seconds.div_ceil(60)),
        3600..86_400 => format!("{} h", seconds.div_ceil(3600)),
        _ => format!("{} d", seconds.div_ceil(86_400)),
    }
}

#[cfg(test)]
mod tests {
    use super::{bucket_label, nearness};
    use crate::overview::GaugeView;

    #[test]
    fn a_bucket_near_or_at_its_limit_says_so_in_words() {
        let said = |used, limit| {
            let gauge = GaugeView {
                name: "burst".into(),
                window: "per second".into(),
                limit,
                used,
                remaining: limit.saturating_sub(used),
                reset_seconds: 1,
            };
            nearness(&gauge)
        };
        assert_eq!(
            [said(0, 10), said(8, 10), said(9, 10), said(10, 10)],
            ["", "", "Near limit · ", "Limit reached · "]
        );
    }

    #[test]
    fn gauges_are_titled_by_meaning_or_by_the_bucket_name_as_a_heading() {
        let titles: Vec<String> =
            ["monthly", "burst", "daily_cap", "key_mgmt", "key_quota", "reads", "bulk_exports", ""]
                .map(bucket_label)
                .into();
        assert_eq!(
            titles,
            [
                "Monthly quota",
                "Burst",
                "Daily cap",
                "Key changes",
                "Key's own quota",
                "Reads",
                "Bulk exports",
                ""
            ]
        );
    }
}
