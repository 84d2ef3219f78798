//! Each role to its own pages: the operator console for staff, an account's pages for its
//! owner and members. This is how the pages look; the server functions behind them are what
//! protect them.

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use services::Services;
use services::sessions::{VIEW_AS_KEY, ViewAs};
use tower_sessions::Session;

use crate::sessions::SignedIn;

/// A customer who opens a console page gets the request marked [`app::admin::NotStaff`], so it
/// answers 403 "Not for your role" instead of the console; staff, who have no account, go from
/// an account's page to the console, their home (unless viewing an account as its owner).
/// Only page loads of the two sections pay for the user lookup.
pub async fn pages_by_role(State(services): State<Services>, mut request: Request, next: Next) -> Response {
    let Some(section) = page_section(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let Some(SignedIn { user_id }) = request.extensions().get::<SignedIn>().cloned() else {
        return next.run(request).await;
    };
    // A failed lookup changes nothing here: the pages' server functions still check.
    let Ok(Some(user)) = services.accounts.user(&user_id).await else {
        return next.run(request).await;
    };
    match section {
        Section::Console if !user.role.is_operator() => {
            request.extensions_mut().insert(app::admin::NotStaff);
        }
        Section::Account
            if user.role.is_operator()
                && !viewing_as(request.extensions().get::<Session>().cloned()).await =>
        {
            return Redirect::to("/admin").into_response();
        }
        _ => {}
    }
    next.run(request).await
}

enum Section {
    /// The operator console, for staff.
    Console,
    /// An account's pages, for its owner and members (not `/account`: everyone's own settings).
    Account,
}

fn page_section(method: &Method, path: &str) -> Option<Section> {
    if !matches!(*method, Method::GET | Method::HEAD) {
        return None;
    }
    match path {
        _ if app::admin::is_console_path(path) => Some(Section::Console),
        "/" | "/keys" | "/usage" | "/billing" | "/plan" | "/team" | "/audit" => Some(Section::Account),
        _ => None,
    }
}

async fn viewing_as(session: Option<Session>) -> bool {
    let Some(session) = session else {
        return false;
    };
    matches!(session.get::<ViewAs>(VIEW_AS_KEY).await, Ok(Some(_)))
}
