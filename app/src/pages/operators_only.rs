//! The guard around the operator console's pages.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Outlet;

/// The console's pages for staff; anyone else signed in gets a 403 page saying so, rather than
/// the console's forms with "no access" in each of their places. (The server functions behind
/// the pages refuse non-staff on their own: this is how the page looks, not the protection.)
///
/// The server decides before the page renders (it marks the request [`crate::admin::NotStaff`])
/// and the answer travels with the page for hydration. Awaiting the viewer here instead would
/// make the console's pages inside a `Suspend`, whose first, discarded render on the server
/// loses their data calls.
#[component]
pub fn OperatorsOnly() -> impl IntoView {
    let not_staff = SharedValue::new(marked_not_staff).into_inner();
    if not_staff { view! { <NotForYourRole /> }.into_any() } else { view! { <Outlet /> }.into_any() }
}

#[cfg(feature = "ssr")]
fn marked_not_staff() -> bool {
    use_context::<axum::http::request::Parts>()
        .is_some_and(|request| request.extensions.get::<crate::admin::NotStaff>().is_some())
}

/// In the browser the answer came with the page; a link followed later is staff's own.
#[cfg(not(feature = "ssr"))]
fn marked_not_staff() -> bool {
    false
}

#[component]
fn NotForYourRole() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(axum::http::StatusCode::FORBIDDEN);
    }
    view! {
        <Title text="Not for your role" />
        <div class="empty-state">
            <h1>"Not for your role"</h1>
            <p>"This page is part of the operator console, for the API's staff."</p>
            <p><a class="btn btn-primary" href="/">"Go to the overview"</a></p>
        </div>
    }
}
