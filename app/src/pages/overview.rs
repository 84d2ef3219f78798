//! The Overview: the plan, and a gauge for every bucket of the account or of one key, refreshed
//! every second from the limiter store, so traffic shows within a second without a reload.
//! Without JavaScript the page renders the same gauges and a plain form picks the key.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use crate::overview::{GaugeView, Overview, load_overview};

#[component]
pub fn OverviewPage() -> impl IntoView {
    let query = use_query_map();
    let selected = move || query.read().get("key").filter(|key| !key.is_empty());
    let tick = RwSignal::new(0u64);
    Effect::new(move |_| {
        let _ = set_interval_with_handle(move || tick.update(|n| *n += 1), std::time::Duration::from_secs(1));
    });
    let data = Resource::new(move || (selected(), tick.get()), |(key, _)| load_overview(key));
    view! {
        <Title text="Overview" />
        <div class="page-header"><h1>"Overview"</h1></div>
        <Transition fallback=|| view! { <p class="muted">"Loading your limits…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(overview) => view! { <OverviewBody overview /> }.into_any(),
                    Err(error) => view! { <div class="alert alert-error" role="alert">{error.to_string()}</div> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn OverviewBody(overview: Overview) -> impl IntoView {
    let Overview { plan_name, keys, selected_key, gauges } = overview;
    let has_keys = !keys.is_empty();
    view! {
        <div class="stack">
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
            <div class="gauge-grid" aria-live="polite">
                {gauges.into_iter().map(|gauge| view! { <Gauge gauge /> }).collect_view()}
            </div>
        </div>
    }
}

#[component]
fn KeySelector(keys: Vec<(String, String)>, selected_key: Option<String>) -> impl IntoView {
    let navigate = leptos_router::hooks::use_navigate();
    let on_change = move |event: leptos::ev::Event| {
        let key = event_target_value(&event);
        let path = if key.is_empty() { "/".to_owned() } else { format!("/?key={key}") };
        navigate(&path, Default::default());
    };
    view! {
        <form method="get" action="/" class="row">
            <label for="key-select">"Show"</label>
            <select id="key-select" name="key" on:change=on_change>
                <option value="" selected=selected_key.is_none()>"The whole account"</option>
                {keys.into_iter().map(|(id, name)| {
                    let is_selected = selected_key.as_deref() == Some(id.as_str());
                    view! { <option value=id selected=is_selected>{format!("Key: {name}")}</option> }
                }).collect_view()}
            </select>
            <noscript><button type="submit" class="btn btn-small">"Show"</button></noscript>
        </form>
    }
}

#[component]
fn Gauge(gauge: GaugeView) -> impl IntoView {
    let label = bucket_label(&gauge.name);
    let heading = label.clone();
    let meta = format!(
        "{} of {} used · {} left · resets in {}",
        gauge.used,
        gauge.limit,
        gauge.remaining,
        human_duration(gauge.reset_seconds)
    );
    view! {
        <section class="gauge" aria-label=label data-bucket=gauge.name.clone()>
            <meter class="gauge-meter" min="0" max=gauge.limit.max(1) value=gauge.used
                low=(gauge.limit as f64 * 0.7) as u64 high=(gauge.limit as f64 * 0.9) as u64 optimum="0">
                {format!("{} of {}", gauge.used, gauge.limit)}
            </meter>
            <h2>{heading}</h2>
            <p class="gauge-meta">{format!("{} · {}", gauge.window, meta)}</p>
        </section>
    }
}

fn bucket_label(name: &str) -> String {
    match name {
        "monthly" => "Monthly quota".into(),
        "burst" => "Burst".into(),
        "daily_cap" => "Daily cap".into(),
        "reads" => "Reads".into(),
        "scans" => "Scans".into(),
        "exports" => "Exports".into(),
        "key_mgmt" => "Key changes".into(),
        other => other.replace('_', " "),
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
