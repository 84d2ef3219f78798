//! The frame around every signed-in page: navigation, the signed-in user, and log out.

use leptos::prelude::*;
use leptos_router::components::{A, Outlet};

use crate::auth::{LogOut, ViewAsBanner, Viewer, current_viewer};
use crate::view_as::StopViewAs;

/// The signed-in user, as the shell loaded them for this page.
#[derive(Clone, Copy)]
pub struct CurrentViewer(pub Resource<Result<Option<Viewer>, crate::AppError>>);

#[component]
pub fn Shell() -> impl IntoView {
    let viewer = Resource::new(|| (), |_| current_viewer());
    // Pages that show who is signed in read it from here rather than asking again.
    provide_context(CurrentViewer(viewer));
    Effect::new(|_| escape_folds_disclosures());
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <div class="shell">
            <nav class="nav" aria-label="Main">
                <div class="brand">"keystile"</div>
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        viewer.await.ok().flatten().map(|viewer| view! { <ViewerNav viewer /> })
                    })}
                </Transition>
            </nav>
            <main class="main" id="main" tabindex="-1">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        viewer.await.ok().flatten().map(|viewer| view! {
                            {viewer.view_as.map(|banner| view! { <ViewAsBannerView banner /> })}
                            {viewer.account_disabled.then(|| view! { <AccountDisabledNotice /> })}
                        })
                    })}
                </Transition>
                <Outlet />
            </main>
        </div>
    }
}

/// Escape folds the open disclosure that holds the focus (a row's "Rename…", "Revoke…") and
/// puts the focus back on its summary, as Escape closes a dialog. In the browser only.
fn escape_folds_disclosures() {
    use leptos::wasm_bindgen::JsCast;
    let listener = window_event_listener(leptos::ev::keydown, |event| {
        if event.key() != "Escape" || event.default_prevented() {
            return;
        }
        let target = event.target().and_then(|target| target.dyn_into::<web_sys::Element>().ok());
        let Some(details) = target.and_then(|target| target.closest("details[open]").ok().flatten()) else {
            return;
        };
        let _ = details.remove_attribute("open");
        crate::pages::focus_toggle(&details);
    });
    on_cleanup(move || listener.remove());
}

/// The account's pages (for customers, and staff viewing as one), the operator section (for
/// staff) and the footer with the user's email and log out.
#[component]
fn ViewerNav(viewer: Viewer) -> impl IntoView {
    let log_out = ServerAction::<LogOut>::new();
    view! {
        <Show when=move || viewer.has_account>
            <A href="/" exact=true>"Overview"</A>
            <A href="/keys">"Keys"</A>
            <A href="/usage">"Usage"</A>
            <A href="/billing">"Billing"</A>
            <A href="/plan">"Plan"</A>
            <A href="/team">"Team"</A>
            <A href="/audit">"Audit log"</A>
        </Show>
        <Show when=move || viewer.is_operator>
            <div class="nav-section">"Operator"</div>
            <A href="/admin" exact=true>"Accounts"</A>
            <A href="/admin/audit">"Audit, all accounts"</A>
            <A href="/admin/plans">"Plan catalogue"</A>
            <A href="/admin/limits">"Limits and pricing"</A>
        </Show>
        <div class="nav-footer">
            <A href="/account" attr:class="user-email" attr:title="Your account">{viewer.email.clone()}</A>
            <ActionForm action=log_out>
                <button type="submit" class="btn btn-ghost btn-small">"Log out"</button>
            </ActionForm>
        </div>
    }
}

/// On every page of a view-as: whose account, who is looking, why, for how long, and the way out.
#[component]
fn ViewAsBannerView(banner: ViewAsBanner) -> impl IntoView {
    let stop = ServerAction::<StopViewAs>::new();
    // A full page load afterwards: the session changed under every part of the page.
    let back = format!("/admin/accounts/{}", banner.account_id);
    Effect::new(move |_| {
        if let Some(Ok(())) = stop.value().get() {
            let _ = window().location().set_href(&back);
        }
    });
    view! {
        <div class="banner banner-warning" role="status" aria-label="Viewing as customer">
            <p>
                <strong>{format!("Viewing {} as its owner sees it", banner.account_name)}</strong>
                {format!(" · {} · reason: {} · ends in {} min · read-only", banner.operator_email, banner.reason, banner.minutes_left)}
            </p>
            <ActionForm action=stop>
                <button type="submit" class="btn btn-small">"Exit view"</button>
            </ActionForm>
        </div>
    }
}

/// On every page of a disabled account, which otherwise looks as it did: keys listed as active
/// would leave a customer guessing why the API answers 401.
#[component]
fn AccountDisabledNotice() -> impl IntoView {
    view! {
        <div class="alert alert-error page-notice" role="status">
            <strong>"This account is disabled."</strong>
            " The API refuses its keys with 401 until the operator enables it again. Contact them to find out why."
        </div>
    }
}
