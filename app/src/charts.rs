//! Charts: the options are pure functions of the page's data (tested natively); the browser
//! draws them with ECharts through charming's wasm renderer. On the server, and without
//! JavaScript, a chart is its accessible text: the element's label and the figures beside it.

use charming::Chart;
use charming::component::{Axis, Grid, Legend};
use charming::element::{
    AxisLabel, AxisLine, AxisLineStyle, AxisTick, AxisType, Color, Pointer, SplitLine, Tooltip, Trigger,
};
use charming::series::{Bar, Gauge, GaugeDetail, GaugeProgress};
use leptos::prelude::*;

use crate::usage::UsagePoint;

const ALLOWED_COLOR: &str = "#2563eb";
const LIMITED_COLOR: &str = "#dc2626";
/// A gauge's empty track: grey at a quarter, as visible on the light page as on the dark one.
const TRACK_COLOR: &str = "rgba(128, 128, 128, 0.25)";
/// The card shows through, light or dark: the renderer's theme picks only text and line colours.
const NO_BACKGROUND: &str = "transparent";

/// Allowed and limited requests per point, stacked.
pub fn usage_chart(points: &[UsagePoint]) -> Chart {
    let labels: Vec<String> = points.iter().map(|point| point.label.clone()).collect();
    let allowed: Vec<i64> = points.iter().map(|point| as_i64(point.allowed)).collect();
    let limited: Vec<i64> = points.iter().map(|point| as_i64(point.limited)).collect();
    // No animation: the chart is redrawn every few seconds with fresh data.
    Chart::new()
        .animation(false)
        .background_color(NO_BACKGROUND)
        .color(vec![Color::from(ALLOWED_COLOR), Color::from(LIMITED_COLOR)])
        .tooltip(Tooltip::new().trigger(Trigger::Axis))
        .legend(Legend::new().bottom(0))
        .grid(Grid::new().left(48).right(16).top(16).bottom(56))
        .x_axis(Axis::new().type_(AxisType::Category).data(labels))
        .y_axis(Axis::new().type_(AxisType::Value).min_interval(1))
        .series(Bar::new().name("Allowed").stack("requests").data(allowed))
        .series(Bar::new().name("Limited").stack("requests").data(limited))
}

/// One bucket's gauge: a ring filled to the share of its limit used, with that share in the
/// middle. The counts themselves are in the text beside it, with thousands separators that an
/// axis label could not have.
pub fn gauge_chart(used: u64, limit: u64) -> Chart {
    let near_limit = limit > 0 && used.saturating_mul(10) >= limit.saturating_mul(9);
    let color = if near_limit { LIMITED_COLOR } else { ALLOWED_COLOR };
    const RING: f64 = 14.0;
    Chart::new().background_color(NO_BACKGROUND).color(vec![Color::from(color)]).series(
        Gauge::new()
            .min(0)
            .max(100)
            .radius("95%")
            .start_angle(200)
            .end_angle(-20)
            .progress(GaugeProgress::new().show(true).width(RING).round_cap(true))
            .axis_line(
                AxisLine::new()
                    .round_cap(true)
                    .line_style(AxisLineStyle::new().width(RING).color((1.0, TRACK_COLOR))),
            )
            .axis_tick(AxisTick::new().show(false))
            .split_line(SplitLine::new().show(false))
            .axis_label(AxisLabel::new().show(false))
            .pointer(Pointer::new().show(false))
            // The share in the ring's own colour ("auto"), which reads on light and dark cards.
            .detail(GaugeDetail::new().formatter("{value}%").font_size(24).color("auto"))
            .data(vec![percent_used(used, limit)]),
    )
}

/// `used` as a percentage of `limit`, to a tenth, at most 100.
fn percent_used(used: u64, limit: u64) -> f64 {
    let share = used.min(limit.max(1)) as f64 / limit.max(1) as f64;
    (share * 1000.0).round() / 10.0
}

fn as_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// A chart drawn into a `<div>` once the page is live, and redrawn when `chart` changes. The
/// `label` describes it for screen readers and is all a no-JavaScript visitor sees of it.
#[component]
pub fn EChart(
    #[prop(into)] chart: Signal<Chart>,
    #[prop(into)] label: String,
    #[prop(optional, into)] class: String,
) -> impl IntoView {
    let node = NodeRef::<leptos::html::Div>::new();
    #[cfg(feature = "hydrate")]
    draw_when_live(node, chart);
    #[cfg(not(feature = "hydrate"))]
    let _ = chart;
    view! { <div node_ref=node class=format!("chart {class}") role="img" aria-label=label></div> }
}

/// ECharts' dark theme (light text and grid lines) when the page follows a dark system setting,
/// as the style sheet does.
#[cfg(feature = "hydrate")]
fn page_theme() -> charming::theme::Theme {
    let dark = window()
        .match_media("(prefers-color-scheme: dark)")
        .ok()
        .flatten()
        .is_some_and(|query| query.matches());
    if dark { charming::theme::Theme::Dark } else { charming::theme::Theme::Default }
}

/// Draws into the element itself: the renderer finds it by id, so the element gets an id of
/// its own when first drawn (a page being replaced may still hold an element with any id the
/// server could have chosen).
#[cfg(feature = "hydrate")]
fn draw_when_live(node: NodeRef<leptos::html::Div>, chart: Signal<Chart>) {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use charming::WasmRenderer;
    static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
    let drawn = StoredValue::new_local(None::<charming::Echarts>);
    // The element may not be in the document yet when the effect first runs (a page being
    // swapped in): then try again shortly, a bounded number of times.
    let attempts = RwSignal::new(0u32);
    Effect::new(move |_| {
        let chart = chart.get();
        let attempt = attempts.get();
        let Some(element) = node.get() else {
            return;
        };
        drawn.update_value(|drawn| match drawn {
            Some(echarts) => WasmRenderer::update(echarts, &chart),
            None if element.is_connected() => {
                let id = format!("echart-{}", NEXT_ID.fetch_add(1, Ordering::Relaxed));
                element.set_id(&id);
                *drawn = WasmRenderer::new_opt(None, None).theme(page_theme()).render(&id, &chart).ok();
            }
            None if attempt < 50 => {
                set_timeout(move || attempts.update(|n| *n += 1), std::time::Duration::from_millis(40));
            }
            None => {}
        });
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(label: &str, allowed: u64, limited: u64) -> UsagePoint {
        UsagePoint { start: String::new(), label: label.into(), allowed, limited }
    }

    #[test]
    fn usage_stacks_allowed_and_limited_per_label() {
        let chart =
            serde_json::to_value(usage_chart(&[point("14:00", 5, 0), point("14:01", 60, 4)])).unwrap();
        assert_eq!(chart["xAxis"]["data"], serde_json::json!(["14:00", "14:01"]));
        assert_eq!(chart["series"][0]["name"], "Allowed");
        assert_eq!(chart["series"][0]["data"], serde_json::json!([5, 60]));
        assert_eq!(chart["series"][1]["data"], serde_json::json!([0, 4]));
        assert_eq!(chart["series"][0]["stack"], chart["series"][1]["stack"]);
    }

    #[test]
    fn charts_read_on_light_and_dark_cards_alike() {
        let usage = serde_json::to_value(usage_chart(&[point("14:00", 5, 0)])).unwrap();
        let gauge = serde_json::to_value(gauge_chart(10, 100)).unwrap();
        for chart in [&usage, &gauge] {
            assert_eq!(chart["backgroundColor"], NO_BACKGROUND, "the card shows through");
        }
        assert_eq!(gauge["series"][0]["detail"]["color"], "auto", "the share in the ring's colour");
        assert_eq!(
            gauge["series"][0]["axisLine"]["lineStyle"]["color"][0],
            serde_json::json!([1.0, TRACK_COLOR])
        );
    }

    #[test]
    fn a_gauge_turns_red_near_its_limit_and_never_overflows() {
        let calm = serde_json::to_value(gauge_chart(10, 100)).unwrap();
        let close = serde_json::to_value(gauge_chart(95, 100)).unwrap();
        assert_eq!(calm["color"][0], ALLOWED_COLOR);
        assert_eq!(close["color"][0], LIMITED_COLOR);
        let over = serde_json::to_value(gauge_chart(7, 5)).unwrap();
        assert_eq!(over["series"][0]["data"], serde_json::json!([100.0]));
        assert_eq!(over["series"][0]["max"], 100.0);
    }

    #[test]
    fn a_gauge_shows_the_share_used_to_a_tenth() {
        assert_eq!(percent_used(165, 100_000), 0.2);
        assert_eq!(percent_used(1, 3), 33.3);
        assert_eq!(percent_used(0, 60), 0.0);
        assert_eq!(percent_used(0, 0), 0.0);
    }
}
