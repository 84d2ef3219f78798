//! One module per page.

mod account;
mod admin;
mod audit;
mod auth_forms;
mod billing;
mod catalogue;
mod keys;
mod limits;
mod not_found;
mod operators_only;
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
pub use limits::LimitsPage;
pub use not_found::NotFound;
pub use operators_only::OperatorsOnly;
pub use overview::OverviewPage;
pub use plan::PlanPage;
pub use team::TeamPage;
pub use usage::UsagePage;

use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::components::Form;
use leptos_router::hooks::use_query_map;

use crate::AppError;
use crate::auth::Viewer;
use crate::shell::CurrentViewer;

/// The error from a form's last submission, announced to screen readers and scrolled into
/// view: in a long form (a key's restrictions) it would otherwise appear above the screen,
/// and pressing the button would seem to do nothing.
#[component]
pub fn FormError<T>(#[prop(into)] result: Signal<Option<Result<T, AppError>>>) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    move || {
        result.get().and_then(Result::err).map(|error| {
            let alert = NodeRef::<leptos::html::Div>::new();
            #[cfg(feature = "hydrate")]
            alert.on_load(|element| {
                let options = web_sys::ScrollIntoViewOptions::new();
                options.set_block(web_sys::ScrollLogicalPosition::Nearest);
                element.scroll_into_view_with_scroll_into_view_options(&options);
            });
            view! { <ErrorAlert error anchor=alert /> }
        })
    }
}

/// An error as a page shows it. An ended session links to the login page, which brings the
/// user back to this page.
#[component]
pub fn ErrorAlert(
    error: AppError,
    /// For a caller that acts on the alert once it is shown (scrolls to it).
    #[prop(optional)]
    anchor: NodeRef<leptos::html::Div>,
) -> impl IntoView {
    let message = match error {
        AppError::Unauthenticated => {
            let location = leptos_router::hooks::use_location();
            let (path, query) = (location.pathname.get_untracked(), location.search.get_untracked());
            let here = if query.is_empty() { path } else { format!("{path}?{query}") };
            let login = crate::auth::login_url(&here);
            view! { "Your session has ended. " <a href=login>"Log in again"</a> " to continue." }.into_any()
        }
        other => other.to_string().into_any(),
    };
    view! { <div node_ref=anchor class="alert alert-error" role="alert">{message}</div> }
}

/// A form's submit button, marked disabled and busy while the form's server action is on its
/// way, and a second press then does nothing, so the change is not sent twice. It stays
/// focusable meanwhile (`aria-disabled`, not `disabled`): a focused button that is disabled
/// drops the focus to the page's start, losing a keyboard user's place at every submission.
/// Attributes and handlers written on it (`on:click`) go to the button.
#[component]
pub fn SubmitButton(
    /// The form's `ServerAction::pending()`.
    #[prop(into)]
    pending: Signal<bool>,
    /// e.g. `btn btn-primary`.
    #[prop(default = "btn")]
    class: &'static str,
    /// Disabled until the page has hydrated: forms whose result only a script can show (a
    /// secret shown once).
    #[prop(optional)]
    needs_javascript: bool,
    children: Children,
) -> impl IntoView {
    let live = RwSignal::new(!needs_javascript);
    Effect::new(move |_| live.set(true));
    view! {
        <button type="submit" class=class disabled=move || !live.get()
            aria-disabled=move || pending.get().then_some("true")
            aria-busy=move || pending.get().to_string()
            on:click=move |event| if pending.get_untracked() { event.prevent_default() }>
            {children()}
        </button>
    }
}

/// A data table in a frame that scrolls sideways when the table is wider than the page. The
/// frame is a named region that takes keyboard focus, so columns past the edge can be reached
/// with the arrow keys, not only with a pointer. `label` names the frame and captions the
/// table for screen readers.
#[component]
pub fn DataTable(#[prop(into)] label: Signal<String>, children: Children) -> impl IntoView {
    view! {
        <div class="table-wrap" role="region" tabindex="0" aria-label=label>
            <table class="table">
                <caption class="sr-only">{label}</caption>
                {children()}
            </table>
        </div>
    }
}

/// Says a form's last submission succeeded, as a status screen readers announce politely: the
/// action's result with JavaScript, or, after a form sent without it, the server's mark in the
/// address (`__ok`, see the server's `form_success`).
#[component]
pub fn FormSaved<S>(action: ServerAction<S>, message: &'static str) -> impl IntoView
where
    S: ServerFn<Error = AppError> + Clone + Send + Sync + 'static,
    S::Output: Clone + Send + Sync + 'static,
{
    let query = use_query_map();
    let marked_in_address = move || query.with(|query| query.get_str("__ok") == Some(S::PATH));
    move || {
        let saved = match action.value().get() {
            Some(result) => result.is_ok(),
            None => marked_in_address(),
        };
        saved.then(|| view! { <div class="alert alert-success" role="status">{message}</div> })
    }
}

/// Folds a row's disclosure once its action succeeded: a page keeps a table's elements when its
/// list reloads, so it would otherwise stay open over the row's new state. The focus goes back
/// to the disclosure's toggle, as Escape leaves it: the button pressed is folded away, and
/// focus left on it would fall to the page's start, losing a keyboard or screen reader user's place.
pub(crate) fn close_after_success(
    details: NodeRef<leptos::html::Details>,
    succeeded: impl Fn() -> bool + Send + Sync + 'static,
) {
    Effect::new(move |_| {
        if succeeded()
            && let Some(details) = details.get()
            && details.open()
        {
            details.set_open(false);
            focus_toggle(&details);
        }
    });
}

/// Puts the focus on a `<details>`' toggle, its `<summary>`.
pub(crate) fn focus_toggle(details: &web_sys::Element) {
    use leptos::wasm_bindgen::JsCast;
    let summary = details.query_selector("summary").ok().flatten();
    if let Some(summary) = summary.and_then(|summary| summary.dyn_into::<web_sys::HtmlElement>().ok()) {
        let _ = summary.focus();
    }
}

/// How many of the page's changes succeeded, for its data to reload after each one and only
/// then: a refused change (a mistake in a field, an ended session) changed nothing, and a
/// reload would replace the form that says why with the page's own error.
#[derive(Clone, Copy)]
pub(crate) struct Changes(RwSignal<usize>);

impl Changes {
    pub(crate) fn new() -> Self {
        Self(RwSignal::new(0))
    }

    /// Counts `action`'s successes too (in the browser, where actions run).
    pub(crate) fn follow<S>(self, action: ServerAction<S>) -> Self
    where
        S: ServerFn + Clone + Send + Sync + 'static,
        S::Output: Send + Sync + 'static,
        S::Error: Send + Sync + 'static,
    {
        Effect::new(move |_| {
            if action.value().with(|last| matches!(last, Some(Ok(_)))) {
                self.0.update(|count| *count += 1);
            }
        });
        self
    }

    /// The count, tracked: a resource that reads it reloads after each success.
    pub(crate) fn get(self) -> usize {
        self.0.get()
    }
}

/// Runs `run` with what each submission of `action` sends, as it is sent (in the browser).
pub(crate) fn on_each_submission<S>(action: ServerAction<S>, run: impl Fn(&S) + Send + Sync + 'static)
where
    S: ServerFn + Clone + Send + Sync + 'static,
    S::Output: Send + Sync + 'static,
    S::Error: Send + Sync + 'static,
{
    Effect::new(move |_| {
        action.input().with(|sent| {
            if let Some(sent) = sent {
                run(sent);
            }
        })
    });
}

/// Empties `form` once its last submission succeeded, so pressing its button again does not
/// repeat the change (as without JavaScript, where the page reloads).
pub(crate) fn reset_after_success<T>(
    form: NodeRef<leptos::html::Form>,
    result: impl Into<Signal<Option<Result<T, AppError>>>>,
) where
    T: Clone + Send + Sync + 'static,
{
    let result = result.into();
    Effect::new(move |_| {
        if result.with(|result| matches!(result, Some(Ok(_))))
            && let Some(form) = form.get()
        {
            form.reset();
        }
    });
}

/// The signed-in user as the shell loaded them, for a page to await inside its `Suspend`.
pub(crate) async fn signed_in(current: Option<CurrentViewer>) -> Option<Viewer> {
    match current {
        Some(CurrentViewer(viewer)) => viewer.await.ok().flatten(),
        None => None,
    }
}

/// Whether staff are viewing this account as its customer: the server refuses every change
/// then, so pages show this note instead of their forms.
pub(crate) async fn viewing_as(current: Option<CurrentViewer>) -> bool {
    signed_in(current).await.is_some_and(|viewer| viewer.view_as.is_some())
}

#[component]
pub(crate) fn ReadOnlyNote() -> impl IntoView {
    view! { <p class="muted">"Read-only while you view this account as its customer."</p> }
}

/// Keeps `live` current while the page is open: every `every`, in the browser only, calls
/// `load` and stores what it returns (a failed call keeps the last value on screen). A hidden
/// tab asks nothing: no work for the server, and a tab left in the background does not keep
/// its session from idling out. Back in view, it catches up at once.
pub(crate) fn refresh_every<T, Load, Fut>(live: RwSignal<T>, every: std::time::Duration, load: Load)
where
    T: Send + Sync + 'static,
    Load: Fn() -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, AppError>> + 'static,
{
    Effect::new(move |_| {
        let load = load.clone();
        let refresh_if_shown = move || {
            if document().hidden() {
                return;
            }
            let next = load();
            leptos::task::spawn_local(async move {
                if let Ok(value) = next.await {
                    live.set(value);
                }
            });
        };
        let ticks = set_interval_with_handle(refresh_if_shown.clone(), every);
        let shown = window_event_listener_untyped("visibilitychange", move |_| refresh_if_shown());
        on_cleanup(move || {
            if let Ok(ticks) = ticks {
                ticks.clear();
            }
            shown.remove();
        });
    });
}

/// "2026-12-05 19:14 UTC" as its date over its hour, so a table's time columns stay narrow
/// enough for the whole table to fit a desktop window; a word such as "Never" stays as it is.
pub(crate) fn date_over_hour(at: &str) -> AnyView {
    match at.split_once(' ') {
        Some((date, hour)) => view! { {date.to_owned()}<br />{hour.to_owned()} }.into_any(),
        None => at.to_owned().into_any(),
    }
}

/// An email address that may wrap after its `@` when its column is narrow (other text as is),
/// so a long address does not push a table past a desktop window.
pub(crate) fn breakable_email(text: String) -> AnyView {
    match text.split_once('@') {
        Some((local, domain)) => view! { {format!("{local}@")}<wbr />{domain.to_owned()} }.into_any(),
        None => text.into_any(),
    }
}

/// `2026-11-24T12:00:00Z` → `2026-11-24 12:00 UTC`: how tables show an instant.
pub(crate) fn short_time(iso: &str) -> String {
    match (iso.get(..10), iso.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => iso.to_owned(),
    }
}

/// `owner` → `Owner`: a stored word as a heading or a label shows it.
pub(crate) fn sentence_case(word: &str) -> String {
    let mut letters = word.chars();
    letters.next().map_or_else(String::new, |first| first.to_uppercase().chain(letters).collect())
}

/// A GET form of view choices ("Show" a key's figures): the router's `Form`, which navigates in
/// place once the page is live, and a full page load before that. That `Form` also sends the
/// pressed button as a field, with an empty name when it has none (`?key=k_1&=`); that field
/// is dropped, so the address reads as it does without JavaScript.
#[component]
pub(crate) fn GetForm(action: &'static str, children: Children) -> impl IntoView {
    let drop_nameless_fields: std::sync::Arc<dyn Fn(&web_sys::FormData)> =
        std::sync::Arc::new(|data| data.delete(""));
    view! {
        <Form action attr:class="row" on_form_data=drop_nameless_fields>
            {children()}
        </Form>
    }
}
