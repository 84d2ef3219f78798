//! keystile's dashboard: Leptos pages rendered on the server and hydrated in the browser.
//!
//! Pages work before hydration and with JavaScript off: every action is a plain form posting to
//! a server function, which redirects back. Server functions are thin: load the session, call one
//! service from `services`, map its error to [`AppError`].

pub mod account;
pub mod admin;
pub mod audit_log;
pub mod auth;
pub mod billing;
pub mod charts;
pub mod error;
pub mod keys;
pub mod limits;
pub mod overview;
mod pages;
pub mod plans;
mod shell;
pub mod team;
pub mod usage;
pub mod view_as;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{SsrMode, path};

pub use error::AppError;

/// The HTML document around the app, rendered on the server for every page.
pub fn html_document(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                // Deferred scripts run in order, so ECharts is there before the app hydrates.
                <script src="/pkg/echarts.min.js" defer></script>
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

/// Scripts run only from this site or inline with this response's nonce (Leptos puts it on its
/// hydration and resource scripts), the bundle may compile its WebAssembly, and nothing loads
/// from elsewhere: an injected `<script>` or `onclick` does not run. Inline styles stay allowed:
/// ECharts writes its tooltips as HTML with `style` attributes.
#[cfg(feature = "ssr")]
fn set_content_security_policy() {
    use axum::http::{HeaderValue, header};
    let (Some(nonce), Some(response)) = (use_nonce(), use_context::<leptos_axum::ResponseOptions>()) else {
        return;
    };
    let policy = format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; \
         img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    );
    if let Ok(value) = HeaderValue::from_str(&policy) {
        response.insert_header(header::CONTENT_SECURITY_POLICY, value);
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    mark_hydrated();
    view! {
        <Stylesheet id="keystile" href="/pkg/keystile.css" />
        <Title formatter=|page: String| format!("{page} · keystile") />
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/login") view=pages::LoginPage />
                <Route path=path!("/signup") view=pages::SignUpPage />
                <Route path=path!("/join") view=pages::JoinPage />
                // Async: the server waits for the page's data and sends complete HTML, so
                // pages read right before hydration and with JavaScript off.
                <ParentRoute path=path!("") view=shell::Shell ssr=SsrMode::Async>
                    <Route path=path!("") view=pages::OverviewPage />
                    <Route path=path!("keys") view=pages::KeysPage />
                    <Route path=path!("usage") view=pages::UsagePage />
                    <Route path=path!("billing") view=pages::BillingPage />
                    <Route path=path!("plan") view=pages::PlanPage />
                    <Route path=path!("audit") view=pages::AuditPage />
                    <Route path=path!("account") view=pages::AccountPage />
                    <Route path=path!("team") view=pages::TeamPage />
                    <ParentRoute path=path!("admin") view=pages::OperatorsOnly>
                        <Route path=path!("") view=pages::AdminPage />
                        <Route path=path!("audit") view=pages::AdminAuditPage />
                        <Route path=path!("plans") view=pages::CataloguePage />
                        <Route path=path!("limits") view=pages::LimitsPage />
                        <Route path=path!("accounts/:id") view=pages::AdminAccountPage />
                    </ParentRoute>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// Sets `data-hydrated` on `<body>` once the app is live in the browser, so browser tests (and
/// curious people) can tell a hydrated page from server-rendered HTML.
fn mark_hydrated() {
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "");
        }
    });
}

/// The browser entry point: attaches the app to the server-rendered HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
