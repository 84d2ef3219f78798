//! The one enforcement point of support view-as: while a session views a customer's account,
//! every request that is not on the read-only allow-list (`app::view_as`) is refused with 403
//! before any handler runs, page views are written to the account's audit log, and a view that
//! has run out is ended (and audited) on the next request.

use axum::extract::{Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use services::Services;
use services::sessions::{AUTH_KEY, SessionAuth, VIEW_AS_KEY, ViewAs};
use tower_sessions::Session;

pub async fn guard(
    State(services): State<Services>,
    session: Session,
    request: Request,
    next: Next,
) -> Response {
    let Ok(Some(view)) = session.get::<ViewAs>(VIEW_AS_KEY).await else {
        return next.run(request).await;
    };
    let now = services.clock.now();
    if view.is_over(now) {
        let _ = session.remove::<ViewAs>(VIEW_AS_KEY).await;
        // A fresh session id when the privileged view ends, as when it starts.
        let _ = session.cycle_id().await;
        audit(&services, &session, &view, "view_as.end", None, Some("time ran out")).await;
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    if !app::view_as::is_read_only_request(request.method().as_str(), &path) {
        return if is_page_view(&request) { refused_page() } else { refused(&path) };
    }
    let (data_of_page, page_path) = (page_of_data_call(&path), is_page_path(&request).then_some(path));
    let response = next.run(request).await;
    // What was shown, whatever the request said it accepts: a page (HTML came back) or the
    // data a page loads when reached by a link inside the app (no page load then).
    let shown = data_of_page.map(str::to_owned).or(page_path.filter(|_| is_html(&response)));
    if let Some(page) = shown.filter(|_| response.status().is_success()) {
        // Each page once per visit: polling and reloads of the same page are not new views.
        let last = session.get::<String>(LAST_PAGE_KEY).await.ok().flatten();
        if last.as_deref() != Some(page.as_str()) {
            audit(&services, &session, &view, "view_as.page", Some(&page), None).await;
            let _ = session.insert(LAST_PAGE_KEY, &page).await;
        }
    }
    response
}

/// The session key of the last page a view-as was seen on.
const LAST_PAGE_KEY: &str = "view_as_page";

/// The page whose data a server function loads, for a page reached by a link inside the app.
fn page_of_data_call(path: &str) -> Option<&'static str> {
    match path {
        "/api/load_overview" => Some("/"),
        "/api/list_keys" => Some("/keys"),
        "/api/load_usage" => Some("/usage"),
        "/api/load_billing" => Some("/billing"),
        "/api/list_plans" => Some("/plan"),
        "/api/list_audit" => Some("/audit"),
        "/api/load_team" => Some("/team"),
        _ => None,
    }
}

fn is_html(response: &Response) -> bool {
    let content_type = response.headers().get(header::CONTENT_TYPE).and_then(|value| value.to_str().ok());
    content_type.is_some_and(|value| value.starts_with("text/html"))
}

/// A 403 the page can show: server functions get the app's error in JSON.
fn refused(path: &str) -> Response {
    if path.starts_with("/api/") {
        let body = serde_json::to_string(&app::AppError::ReadOnlyView).unwrap_or_default();
        return (StatusCode::FORBIDDEN, [(header::CONTENT_TYPE, "application/json")], body).into_response();
    }
    (
        StatusCode::FORBIDDEN,
        "Read-only: you are viewing this account as its owner sees it. Exit the view to make changes.",
    )
        .into_response()
}

/// A console page asked for during a view-as: a page that says why and offers the way out,
/// rather than a bare refusal with nowhere to go.
fn refused_page() -> Response {
    const PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Read-only view</title><link rel="stylesheet" href="/pkg/keystile.css"></head>
<body><main class="main stack" id="main">
<h1>You are viewing a customer's account</h1>
<p>While you see the account as its owner does, the operator console and every change are out of reach. Exit the view to use them.</p>
<form method="post" action="/api/stop_view_as"><button type="submit" class="btn btn-primary">Exit the view</button></form>
<p><a href="/">Back to the account's overview</a></p>
</main></body>
</html>"#;
    (StatusCode::FORBIDDEN, axum::response::Html(PAGE)).into_response()
}

/// A browser loading a page: a page's path, asking for HTML.
fn is_page_view(request: &Request) -> bool {
    let wants_html = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    wants_html && is_page_path(request)
}

/// A GET of a path a page may be at (not data, scripts, styles or the API).
fn is_page_path(request: &Request) -> bool {
    let path = request.uri().path();
    request.method() == Method::GET
        && !["/api/", "/pkg/", "/v1/", "/usage/export"].iter().any(|prefix| path.starts_with(prefix))
        && !path.contains('.')
}

async fn audit(
    services: &Services,
    session: &Session,
    view: &ViewAs,
    action: &str,
    target: Option<&str>,
    reason: Option<&str>,
) {
    let Ok(Some(auth)) = session.get::<SessionAuth>(AUTH_KEY).await else {
        return;
    };
    let Ok(Some(operator)) = services.accounts.user(&auth.user_id).await else {
        return;
    };
    let now = services.clock.now();
    if let Err(error) =
        services::audit::record_now(&services.db, &view.account_id, &operator, action, target, reason, now)
            .await
    {
        tracing::error!(%error, action, "could not write the view-as audit entry");
    }
}
