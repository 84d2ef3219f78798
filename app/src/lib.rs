//! keystile's dashboard: Leptos pages rendered on the server and hydrated in the browser.
//!
//! Pages work before hydration and with JavaScript off: every action is a plain form posting to
//! a server function, which redirects back. Server functions are thin: load the session, call one
//! service from `services`, map its error to [`AppError`].

pub mod auth;
pub mod error;
mod pages;
mod shell;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::path;

pub use error::AppError;

/// The HTML document around the app, rendered on the server for every page.
pub fn document(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <meta name="color-scheme" content="light dark" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HydrationScripts options />
                <MetaTags />
            </head>
            <body>
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="keystile" href="/pkg/keystile.css" />
        <Title formatter=|page: String| format!("{page} · keystile") />
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/login") view=pages::LoginPage />
                <Route path=path!("/signup") view=pages::SignUpPage />
                <ParentRoute path=path!("") view=shell::Shell>
                    <Route path=path!("") view=pages::OverviewPage />
                    <Route path=path!("keys") view=pages::KeysPage />
                    <Route path=path!("usage") view=pages::UsagePage />
                    <Route path=path!("plan") view=pages::PlanPage />
                    <Route path=path!("admin") view=pages::AdminPage />
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// The browser entry point: attaches the app to the server-rendered HTML.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
