//! Usage: for the whole account or one key, requests per minute (last hour), per hour (48 h)
//! and per day (30 days), allowed and limited stacked, optionally for one bucket; the per-key
//! table of this billing month; the latest refused requests; CSV downloads of the charts and
//! the table. Refreshed every two seconds while open. The filters are a plain GET form, applied
//! with its button; without JavaScript each chart is summed up in words.

use super::{ErrorAlert, GetForm};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;
use numbers::thousands;

use super::DataTable;
use crate::charts::{EChart, usage_chart};
use crate::usage::{LATEST_REFUSALS, UsageChartData, UsageReport, load_usage};

const REFRESH: std::time::Duration = std::time::Duration::from_secs(2);

#[component]
pub fn UsagePage() -> impl IntoView {
    let query = use_query_map();
    let param = move |name: &str| query.read().get(name).filter(|value| !value.is_empty());
    let data =
        Resource::new(move || (param("key"), param("bucket")), |(key, bucket)| load_usage(key, bucket));
    view! {
        <Title text="Usage" />
        <div class="page-header"><h1>"Usage"</h1></div>
        <Transition fallback=|| view! { <p class="muted">"Loading usage…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(report) => view! { <UsageBody report /> }.into_any(),
                    Err(error) => view! { <ErrorAlert error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn UsageBody(report: UsageReport) -> impl IntoView {
    if report.keys.is_empty() {
        return view! {
            <div class="empty-state">
                <h2>"No usage yet"</h2>
                <p>"Usage is counted per API key. " <a href="/keys">"Create a key"</a> " and call the API with it; its traffic shows here within seconds."</p>
            </div>
        }
        .into_any();
    }
    let live = RwSignal::new(report.clone());
    let (key, bucket) = (report.selected_key.clone(), report.selected_bucket.clone());
    super::refresh_every(live, REFRESH, move || load_usage(key.clone(), bucket.clone()));
    let export = export_query(&report);
    view! {
        <div class="stack">
            <Filters report=report.clone() />
            {(0..report.charts.len()).map(|index| view! { <ChartCard live index /> }).collect_view()}
            <KeyTable live />
            <Refusals live />
            <p class="row">
                <a class="btn btn-small" href=format!("/usage/export.csv?what=series{export}") download="usage-series.csv">"Download chart data (CSV)"</a>
                <a class="btn btn-small" href=format!("/usage/export.csv?what=keys{export}") download="usage-by-key.csv">"Download table (CSV)"</a>
            </p>
        </div>
    }
    .into_any()
}

/// `&key=…&bucket=…` for the CSV links, so they hold what the page shows.
fn export_query(report: &UsageReport) -> String {
    let mut query = String::new();
    if let Some(key) = &report.selected_key {
        query.push_str(&format!("&key={key}"));
    }
    if let Some(bucket) = &report.selected_bucket {
        query.push_str(&format!("&bucket={bucket}"));
    }
    query
}

/// The bucket filter's options, `selected` marked.
fn bucket_options(names: Vec<String>, selected: Option<String>) -> impl IntoView {
    names
        .into_iter()
        .map(|name| {
            let is_selected = selected.as_deref() == Some(name.as_str());
            let label = super::overview::bucket_label(&name);
            view! { <option value=name selected=is_selected>{label}</option> }
        })
        .collect_view()
}

/// A plain GET form, applied with "Show" (see the Overview's key selector).
#[component]
fn Filters(report: UsageReport) -> impl IntoView {
    let selected_key = report.selected_key.clone();
    let selected_bucket = report.selected_bucket.clone();
    view! {
        <GetForm action="/usage">
            <label for="usage-key">"Key"</label>
            <select id="usage-key" name="key">
                <option value="" selected=selected_key.is_none()>"The whole account"</option>
                {report.keys.into_iter().map(|(id, name)| {
                    let selected = selected_key.as_deref() == Some(id.as_str());
                    view! { <option value=id selected=selected>{name}</option> }
                }).collect_view()}
            </select>
            <label for="usage-bucket">"Bucket"</label>
            <select id="usage-bucket" name="bucket">
                <option value="" selected=selected_bucket.is_none()>"All buckets"</option>
                <optgroup label="Calls, by category">
                    {bucket_options(report.buckets, selected_bucket.clone())}
                </optgroup>
                // Admitted calls count under their category, so these charts show refusals alone.
                <optgroup label="Refusals only">
                    {bucket_options(report.refusal_buckets, selected_bucket)}
                </optgroup>
            </select>
            <button type="submit" class="btn btn-small">"Show"</button>
        </GetForm>
    }
}

#[component]
pub(crate) fn ChartCard(live: RwSignal<UsageReport>, index: usize) -> impl IntoView {
    let data = move || live.read().charts.get(index).cloned();
    // The title and span never change; only the points follow the live report.
    let initial = live
        .with_untracked(|report| report.charts.get(index).cloned())
        .unwrap_or_else(|| UsageChartData { span: String::new(), title: String::new(), points: vec![] });
    let chart = Signal::derive(move || usage_chart(&data().map(|chart| chart.points).unwrap_or_default()));
    let summary = move || data().map(|chart| summary(&chart)).unwrap_or_default();
    view! {
        <section class="card" data-chart=initial.span.clone()>
            <h2>{initial.title.clone()}</h2>
            <EChart chart label=initial.title class="chart-usage" />
            <p class="muted" data-testid=format!("summary-{}", initial.span)>{summary}</p>
        </section>
    }
}

/// "1,234 allowed, 12 limited": the chart in words.
fn summary(chart: &UsageChartData) -> String {
    let allowed: u64 = chart.points.iter().map(|point| point.allowed).sum();
    let limited: u64 = chart.points.iter().map(|point| point.limited).sum();
    format!("{} allowed, {} limited in this period.", thousands(allowed), thousands(limited))
}

#[component]
fn KeyTable(live: RwSignal<UsageReport>) -> impl IntoView {
    let period = move || live.read().table_period.clone();
    let rows = move || live.read().table.clone();
    view! {
        <section class="card">
            <h2>"By key, this billing month"</h2>
            <DataTable label=Signal::derive(period)>
                <thead><tr><th scope="col">"Key"</th><th scope="col">"Requests"</th><th scope="col">"Limited"</th><th scope="col">"Quota units"</th></tr></thead>
                <tbody>
                    {move || {
                        let rows = rows();
                        if rows.is_empty() {
                            return view! { <tr><td colspan="4" class="muted">"No requests this month yet."</td></tr> }.into_any();
                        }
                        rows.into_iter().map(|row| view! {
                            <tr data-key=row.key_id.clone()>
                                // The key's own charts, all buckets.
                                <td><a href=format!("/usage?key={}", row.key_id)>{row.name}</a></td>
                                <td>{thousands(row.requests)}</td>
                                <td>{thousands(row.limited)}</td>
                                <td>{thousands(row.cost)}</td>
                            </tr>
                        }).collect_view().into_any()
                    }}
                </tbody>
            </DataTable>
            <p class="muted">{move || format!("Period: {}. The same figures as GET /v1/usage?group_by=key.", period())}</p>
        </section>
    }
}

/// The latest refused requests: what a customer asks support first ("why did this call fail?").
#[component]
pub(crate) fn Refusals(live: RwSignal<UsageReport>) -> impl IntoView {
    let rows = move || live.read().refusals.clone();
    view! {
        <section class="card" aria-labelledby="refusals-heading">
            <h2 id="refusals-heading">"Latest refused requests"</h2>
            <DataTable label=Signal::derive(move || format!("The latest {LATEST_REFUSALS} refused requests, newest first"))>
                <thead><tr>
                    <th scope="col">"When"</th><th scope="col">"Key"</th><th scope="col">"Request"</th>
                    <th scope="col">"Answer"</th><th scope="col">"Why"</th><th scope="col">"From"</th><th scope="col">"Request id"</th>
                </tr></thead>
                <tbody>
                    {move || {
                        let rows = rows();
                        if rows.is_empty() {
                            return view! { <tr><td colspan="7" class="muted">"No refused requests: every call was admitted."</td></tr> }.into_any();
                        }
                        rows.into_iter().map(|row| view! {
                            <tr>
                                <td class="nowrap">{super::date_over_hour(&super::short_time(&row.at))}</td>
                                <td>{row.key_name}</td>
                                <td><code>{row.request}</code></td>
                                <td>{row.status}</td>
                                <td>{super::overview::bucket_label(&row.bucket)}</td>
                                <td>{row.client_ip}</td>
                                <td class="nowrap"><code>{row.request_id}</code></td>
                            </tr>
                        }).collect_view().into_any()
                    }}
                </tbody>
            </DataTable>
            <p class="muted">"The request id is the X-Request-Id the caller was answered with, also in the error body's request_id. Only the latest refusals are kept."</p>
        </section>
    }
}
