//! Pages whose issue has not landed yet say so plainly instead of pretending.

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
fn NotBuilt(title: &'static str, what: &'static str) -> impl IntoView {
    view! {
        <Title text=title />
        <div class="page-header"><h1>{title}</h1></div>
        <div class="notice-unbuilt" role="status">
            <p><strong>"This page is not built yet."</strong></p>
            <p class="muted">{what}</p>
        </div>
    }
}

#[component]
pub fn AdminPage() -> impl IntoView {
    view! { <NotBuilt title="Admin" what="Account search, plan changes, overrides and the audit log will appear here." /> }
}
