//! One module per page.

mod account;
mod admin;
mod audit;
mod auth_forms;
mod billing;
mod catalogue;
mod keys;
mod not_found;
pub(crate) mod overview;
mod plan;
mod secret_dialog;
mod team;
pub(crate) mod usage;

pub use account::AccountPage;
pub use admin::{AdminAccountPage, AdminPage};
pub use audit::{AdminAuditPage, AuditPage};
pub use auth_forms::{JoinPage, LoginPage, SignUpPage};
pub use billing::BillingPage;
pub use catalogue::CataloguePage;
pub use keys::KeysPage;
pub use not_found::NotFound;
pub use overview::OverviewPage;
pub use plan::PlanPage;
pub use team::TeamPage;
pub use usage::UsagePage;

use leptos::prelude::*;

use crate::AppError;

/// The error from a form's last submission, announced to screen readers.
#[component]
pub fn FormError<T>(#[prop(into)] result: Signal<Option<Result<T, AppError>>>) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    move || {
        result.get().and_then(Result::err).map(|error| {
            view! { <div class="alert alert-error" role="alert">{error.to_string()}</div> }
        })
    }
}

/// Keeps `live` current while the page is open: every `every`, in the browser only, calls
/// `load` and stores what it returns (a failed call keeps the last value on screen).
pub(crate) fn refresh_every<T, Load, Fut>(live: RwSignal<T>, every: std::time::Duration, load: Load)
where
    T: Send + Sync + 'static,
    Load: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, AppError>> + 'static,
{
    Effect::new(move |_| {
        let load = load.clone();
        let handle = set_interval_with_handle(
            move || {
                let next = load();
                leptos::task::spawn_local(async move {
                    if let Ok(value) = next.await {
                        live.set(value);
                    }
                });
            },
            every,
        );
        if let Ok(handle) = handle {
            on_cleanup(move || handle.clear());
        }
    });
}

/// `2026-11-24T12:00:00Z` → `2026-11-24 12:00 UTC`: how tables show an instant.
pub(crate) fn short_time(iso: &str) -> String {
    match (iso.get(..10), iso.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => iso.to_owned(),
    }
}
