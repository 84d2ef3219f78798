//! Request guards shared by every dashboard route: cross-site refusal, NUL characters, overlong
//! paths, server function error statuses, and sending signed-out visitors to the login page.
//! (The caller's address and the body limit are the edge's: [`crate::edge`].)

use app::AppError;
use axum::body::{Body, HttpBody};
use axum::extract::{Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use http_body_util::BodyExt;
use services::Services;

use crate::sessions::SignedIn;

/// Refuses state-changing requests a browser sends from another site (Fetch Metadata first,
/// then Origin). Same-origin forms, with or without JavaScript, pass; so do non-browser clients,
/// which send neither header and carry no ambient cookies worth forging.
///
/// Only the dashboard's routes pass this: the keyed API authenticates with keys sent explicitly,
/// not ambient cookies, so browsers on other sites may call it.
///
/// The key API answers in its own problem+json shape; pages and forms get plain text.
pub async fn refuse_cross_site(State(services): State<Services>, request: Request, next: Next) -> Response {
    if is_cross_site_write(request.method(), request.headers()) {
        if request.uri().path().starts_with("/v1/keys") {
            return crate::key_api::cross_site_refusal(&services).await;
        }
        return (StatusCode::FORBIDDEN, "Cross-site requests are refused.").into_response();
    }
    next.run(request).await
}

fn is_cross_site_write(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let header = |name| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return !matches!(site, "same-origin" | "none");
    }
    match (header("origin"), header("host")) {
        (Some(origin), Some(host)) => origin_authority(origin) != Some(host),
        // An Origin with no Host to compare against, or the literal "null" origin: refuse.
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// `https://example.com:8443` → `example.com:8443`.
fn origin_authority(origin: &str) -> Option<&str> {
    origin.split_once("://").map(|(_, authority)| authority.trim_end_matches('/'))
}

/// Tells browsers and proxies to keep no copy of a dashboard answer: pages, server functions
/// and `/v1/keys` (whose answers carry one-time secrets) hold an account's data, which a shared
/// cache or the back button would otherwise show to the next person at the screen. Static
/// files keep their own caching.
pub async fn no_store(request: Request, next: Next) -> Response {
    let is_static = is_static_path(request.uri().path());
    let mut response = next.run(request).await;
    if !is_static {
        response.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

fn is_static_path(path: &str) -> bool {
    ["/pkg/", "/assets/"].iter().any(|prefix| path.starts_with(prefix))
        || matches!(path, "/favicon.svg" | "/favicon.ico" | "/openapi.json")
}

/// Paths anyone may load: the auth pages, server functions (each checks its own access), the
/// gateway's API and its description, and static assets.
fn is_public_path(path: &str) -> bool {
    const PUBLIC_PREFIXES: [&str; 5] = ["/api/", "/pkg/", "/assets/", "/v1/", "/healthz"];
    matches!(path, "/login" | "/signup" | "/join" | "/favicon.svg" | "/favicon.ico" | "/openapi.json")
        || PUBLIC_PREFIXES.iter().any(|prefix| path.starts_with(prefix))
}

/// Sends signed-out visitors of dashboard pages to the login page, remembering where they were
/// going; sends signed-in visitors of the login, sign-up and join pages to the overview.
pub async fn require_sign_in_for_pages(request: Request, next: Next) -> Response {
    let signed_in = request.extensions().get::<SignedIn>().is_some();
    let path = request.uri().path();
    let is_page_visit = matches!(*request.method(), Method::GET | Method::HEAD);
    if is_page_visit && signed_in && matches!(path, "/login" | "/signup" | "/join") {
        return Redirect::to("/").into_response();
    }
    if is_page_visit && !signed_in && !is_public_path(path) {
        let wanted = request.uri().path_and_query().map(|pq| pq.as_str()).unwrap_or("/");
        return Redirect::to(&app::auth::login_url(wanted)).into_response();
    }
    next.run(request).await
}

/// Answers 404 at once for a path with a segment longer than any file name can be: no route,
/// page or file has one, and the static-file fallback would log each such request as an error
/// (`File name too long`), letting anyone fill the logs with errors.
pub async fn refuse_overlong_paths(
    State(services): State<Services>,
    request: Request,
    next: Next,
) -> Response {
    if has_overlong_segment(request.uri().path()) {
        if request.uri().path().starts_with("/v1/keys") {
            return crate::key_api::overlong_path_refusal(&services).await;
        }
        return (StatusCode::NOT_FOUND, "Page not found.").into_response();
    }
    next.run(request).await
}

/// Longer than NAME_MAX (255 bytes) on the file systems the site is served from.
fn has_overlong_segment(path: &str) -> bool {
    path.split('/').any(|segment| segment.len() > 255)
}

/// server_fn answers every failed server function with 500; this gives the response the status
/// its [`AppError`] means (401, 403, 422, 429, or 400 for unreadable arguments), so bad input is
/// never reported as a server fault.
pub async fn server_fn_error_status(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let is_server_fn_error = response.status() == StatusCode::INTERNAL_SERVER_ERROR
        && response.headers().contains_key("serverfnerror");
    if !is_server_fn_error {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Something went wrong on our side.").into_response();
    };
    if let Ok(error) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        // A throttled call (too many logins, say) says when to retry, as every 429 does.
        if let AppError::Throttled { retry_after_secs } = error {
            parts.headers.insert(axum::http::header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
        }
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Refuses with 400 a dashboard request that carries a NUL character (`%00` in its address or
/// in a form, `\u0000` in JSON, a raw NUL byte) anywhere: no field of ours holds one, and
/// PostgreSQL cannot even compare text with one, so it would otherwise end as a database error.
/// A body is read as its `Content-Type` says, so text that only looks like an escape (`%00` in
/// JSON, `\\u0000`) passes. Runs inside [`crate::edge::BodyLimit`], so a body read here is
/// already bounded.
pub async fn refuse_nul(request: Request, next: Next) -> Response {
    let address = request.uri().path_and_query().map_or("", |address| address.as_str());
    if has_percent_encoded_nul(address.as_bytes()) {
        return nul_refused();
    }
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let encoding = BodyEncoding::of(request.headers());
    let (parts, body) = request.into_parts();
    let Ok(bytes) = body.collect().await.map(|collected| collected.to_bytes()) else {
        // The body was cut off (over the limit) or broken: `BodyLimit` answers for it.
        return next.run(Request::from_parts(parts, Body::empty())).await;
    };
    if encoding.has_nul(&bytes) {
        return nul_refused();
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// How a body writes its characters, from its `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyEncoding {
    Form,
    Json,
    Other,
}

impl BodyEncoding {
    fn of(headers: &HeaderMap) -> Self {
        let content_type = headers.get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).unwrap_or("");
        let media_type = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        match media_type.as_str() {
            "application/x-www-form-urlencoded" => Self::Form,
            "application/json" => Self::Json,
            other if other.ends_with("+json") => Self::Json,
            _ => Self::Other,
        }
    }

    fn has_nul(self, body: &[u8]) -> bool {
        body.contains(&0)
            || match self {
                Self::Form => has_percent_encoded_nul(body),
                Self::Json => has_json_escaped_nul(body),
                Self::Other => false,
            }
    }
}

/// `%00`, as URL and form encoding write a NUL.
fn has_percent_encoded_nul(bytes: &[u8]) -> bool {
    bytes.windows(3).any(|window| window == b"%00")
}

/// `\u0000` as a JSON escape: a backslash that is not itself escaped, then `u0000`.
fn has_json_escaped_nul(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    while let Some(at) = rest.iter().position(|&byte| byte == b'\\') {
        if rest[at + 1..].starts_with(b"u0000") {
            return true;
        }
        // Skip the escaped character, which may be a backslash itself.
        rest = rest.get(at + 2..).unwrap_or_default();
    }
    false
}

fn nul_refused() -> Response {
    let request_id = crate::gateway::request_id();
    let detail = "The request contains a NUL character, which no field accepts.";
    let mut response = crate::gateway::problem(
        StatusCode::BAD_REQUEST,
        None,
        "nul_character",
        "NUL character",
        detail,
        &request_id,
    );
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(crate::gateway::REQUEST_ID, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::edge::tests::headers;

    #[test]
    fn nul_characters_are_found_as_the_body_encodes_them() {
        use BodyEncoding::{Form, Json, Other};
        let found = [
            (Form, "name=a%00b"),
            (Form, "email=%00"),
            (Json, r#"{"name":"a\u0000"}"#),
            (Json, r#"{"name":"a\\\u0000"}"#),
            (Other, "a\0b"),
            (Json, "a\0b"),
        ];
        for (encoding, body) in found {
            assert!(encoding.has_nul(body.as_bytes()), "{encoding:?} {body}");
        }
        let not_found = [
            (Form, "query=100%2500+sure"),
            (Form, "a%0"),
            (Json, r#"{"name":"batch %007"}"#),
            (Json, r#"{"name":"C:\\u0000x"}"#),
            (Json, r#"{"n":"\u0020"}"#),
            (Json, "trailing \\"),
            (Other, "%00 \\u0000"),
        ];
        for (encoding, body) in not_found {
            assert!(!encoding.has_nul(body.as_bytes()), "{encoding:?} {body}");
        }
        assert!(has_percent_encoded_nul(b"/admin?q=%00"));
        assert!(!has_percent_encoded_nul(b"/admin?q=%2500"));
    }

    #[test]
    fn a_body_encoding_is_read_from_its_media_type() {
        let of = |content_type| BodyEncoding::of(&headers(&[("content-type", content_type)]));
        assert_eq!(of("application/x-www-form-urlencoded; charset=UTF-8"), BodyEncoding::Form);
        assert_eq!(of("Application/JSON"), BodyEncoding::Json);
        assert_eq!(of("application/merge-patch+json"), BodyEncoding::Json);
        assert_eq!(of("text/plain"), BodyEncoding::Other);
    }

    #[test]
    fn only_segments_over_255_bytes_are_overlong() {
        let longest = "a".repeat(255);
        assert!(!has_overlong_segment(&format!("/pkg/{longest}/x")));
        assert!(has_overlong_segment(&format!("/pkg/{longest}a")));
        assert!(has_overlong_segment(&format!("/{longest}a/keys")));
        assert!(!has_overlong_segment("/"));
    }

    #[test]
    fn cross_site_writes_are_recognised() {
        let post = Method::POST;
        assert!(is_cross_site_write(&post, &headers(&[("sec-fetch-site", "cross-site")])));
        assert!(is_cross_site_write(&post, &headers(&[("sec-fetch-site", "same-site")])));
        assert!(!is_cross_site_write(&post, &headers(&[("sec-fetch-site", "same-origin")])));
        assert!(is_cross_site_write(
            &post,
            &headers(&[("origin", "https://evil.example"), ("host", "keystile.example")])
        ));
        assert!(!is_cross_site_write(
            &post,
            &headers(&[("origin", "http://127.0.0.1:3000"), ("host", "127.0.0.1:3000")])
        ));
        assert!(is_cross_site_write(&post, &headers(&[("origin", "null"), ("host", "127.0.0.1:3000")])));
        assert!(!is_cross_site_write(&post, &headers(&[])));
        assert!(!is_cross_site_write(&Method::GET, &headers(&[("sec-fetch-site", "cross-site")])));
    }
}
