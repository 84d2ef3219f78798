//! Request guards shared by every dashboard route: cross-site refusal, the caller's address, and
//! sending signed-out visitors to the login page.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use app::AppError;
use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use http_body_util::BodyExt;
use services::ClientIp;

use crate::sessions::SignedIn;

/// Refuses state-changing requests a browser sends from another site (Fetch Metadata first,
/// then Origin). Same-origin forms, with or without JavaScript, pass; so do non-browser clients,
/// which send neither header and carry no ambient cookies worth forging.
///
/// Only the dashboard's routes pass this: the keyed API authenticates with keys sent explicitly,
/// not ambient cookies, so browsers on other sites may call it.
pub async fn refuse_cross_site(request: Request, next: Next) -> Response {
    if is_cross_site_write(request.method(), request.headers()) {
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

/// What the edge needs to know: the proxies whose `X-Forwarded-For` is believed, and whether
/// users reach keystile over HTTPS.
#[derive(Clone, Default)]
pub struct Edge {
    pub trusted_proxies: Arc<Vec<IpAddr>>,
    pub https: bool,
}

/// Every request's edge: puts the caller's [`ClientIp`] in the request's extensions (the
/// socket peer, or, when the peer is a trusted proxy, the right-most address in
/// `X-Forwarded-For` that is not itself a trusted proxy), and gives every response the security
/// headers: no framing by other sites, no MIME sniffing, no referrer leaking paths to other
/// origins, and, when served over HTTPS, HTTPS only from then on (a year of HSTS).
pub async fn edge(State(edge): State<Edge>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let ip = client_ip(peer, request.headers(), &edge.trusted_proxies);
    request.extensions_mut().insert(ClientIp(ip));
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_FRAME_OPTIONS, header::HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, header::HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, header::HeaderValue::from_static("same-origin"));
    if edge.https {
        headers
            .insert(header::STRICT_TRANSPORT_SECURITY, header::HeaderValue::from_static("max-age=31536000"));
    }
    response
}

fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded.into_iter().rev().find(|hop| !trusted.contains(hop)).unwrap_or(peer)
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
        let login = if wanted == "/" {
            "/login".to_owned()
        } else {
            format!("/login?next={}", encode_query_value(wanted))
        };
        return Redirect::to(&login).into_response();
    }
    next.run(request).await
}

fn encode_query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Answers 404 at once for a path with a segment longer than any file name can be: no route,
/// page or file has one, and the static-file fallback would log each such request as an error
/// (`File name too long`), letting anyone fill the logs with errors.
pub async fn refuse_overlong_paths(request: Request, next: Next) -> Response {
    if has_overlong_segment(request.uri().path()) {
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
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Refuses with 400 a dashboard request that carries a NUL character (`%00` in its address or
/// form, `\u0000` in JSON) anywhere: no field of ours holds one, and PostgreSQL cannot even
/// compare text with one, so it would otherwise end as a database error. Runs inside
/// [`limit_body`], so a body read here is already bounded.
pub async fn refuse_nul(request: Request, next: Next) -> Response {
    let address = request.uri().path_and_query().map_or("", |address| address.as_str());
    if has_encoded_nul(address.as_bytes()) {
        return nul_refused();
    }
    if request.body().is_end_stream() {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = body.collect().await.map(|collected| collected.to_bytes()) else {
        // The body was cut off (over the limit) or broken: `limit_body` answers for it.
        return next.run(Request::from_parts(parts, Body::empty())).await;
    };
    if bytes.contains(&0) || has_encoded_nul(&bytes) {
        return nul_refused();
    }
    next.run(Request::from_parts(parts, Body::from(bytes))).await
}

/// `%00` (URL and form encoding) or `\u0000` (JSON), in either case.
fn has_encoded_nul(bytes: &[u8]) -> bool {
    bytes.windows(3).any(|window| window == b"%00")
        || bytes.windows(6).any(|window| window.eq_ignore_ascii_case(b"\\u0000"))
}

fn nul_refused() -> Response {
    crate::gateway::problem(
        StatusCode::BAD_REQUEST,
        None,
        "nul_character",
        "NUL character",
        "The request contains a NUL character (%00), which no field accepts.",
        "",
    )
}

/// Refuses a request body over `max` bytes with a problem+json 413: at once when its declared
/// length is over, else once the stream has passed the limit, whatever the handler made of the
/// cut-off body (a server function reads it as unreadable arguments, the proxy as a failed
/// upload).
pub async fn limit_body(State(max): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > max as u64) {
        return body_too_large(max);
    }
    if request.body().is_end_stream() {
        // No body at all (most GETs): nothing to count.
        return next.run(request).await;
    }
    let passed_limit = Arc::new(AtomicBool::new(false));
    let noticed = Arc::clone(&passed_limit);
    let request = request.map(|body| {
        Body::new(http_body_util::Limited::new(body, max).map_err(move |error| {
            if error.is::<http_body_util::LengthLimitError>() {
                noticed.store(true, Ordering::Relaxed);
            }
            error
        }))
    });
    let response = next.run(request).await;
    if passed_limit.load(Ordering::Relaxed) {
        return body_too_large(max);
    }
    response
}

fn body_too_large(max: usize) -> Response {
    let detail = format!("The body is over {}, the most this endpoint accepts.", size_in_words(max));
    closing_connection(crate::gateway::problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        None,
        "body_too_large",
        "Body too large",
        &detail,
        "",
    ))
}

/// A body limit as people write it, in the largest unit that says it exactly: "10 MiB".
fn size_in_words(bytes: usize) -> String {
    let exactly = |unit: usize| bytes >= unit && bytes.is_multiple_of(unit);
    match bytes {
        _ if exactly(1024 * 1024) => format!("{} MiB", bytes / (1024 * 1024)),
        _ if exactly(1024) => format!("{} KiB", bytes / 1024),
        _ => format!("{bytes} bytes"),
    }
}

/// Marks a refusal sent before its request body was read to the end: the connection closes
/// after it, since a client that sent its next request on the same connection would find it
/// broken mid-write.
pub(crate) fn closing_connection(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn nul_characters_are_found_however_they_are_encoded() {
        for text in ["/admin?q=%00", "name=a%00b", "email=%00", r#"{"name":"a\u0000"}"#, r#"{"n":"\U0000"}"#]
        {
            assert!(has_encoded_nul(text.as_bytes()), "{text}");
        }
        for text in ["/admin?q=%2500", "name=100%25", "a%0", "u0000", r#"{"n":"\u0020"}"#] {
            assert!(!has_encoded_nul(text.as_bytes()), "{text}");
        }
    }

    #[test]
    fn body_limits_are_said_in_the_largest_whole_unit() {
        assert_eq!(size_in_words(64 * 1024), "64 KiB");
        assert_eq!(size_in_words(10 * 1024 * 1024), "10 MiB");
        assert_eq!(size_in_words(3 * 512 * 1024), "1536 KiB");
        assert_eq!(size_in_words(5_000), "5000 bytes");
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

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let spoofed = headers(&[("x-forwarded-for", "198.51.100.1, 203.0.113.7")]);
        assert_eq!(client_ip(client, &spoofed, &[proxy]), client);
        assert_eq!(client_ip(proxy, &spoofed, &[proxy]), client);
        assert_eq!(client_ip(proxy, &headers(&[]), &[proxy]), proxy);
    }

    #[test]
    fn the_wanted_page_survives_the_trip_through_login() {
        assert_eq!(encode_query_value("/keys?tab=a&b=c"), "/keys%3Ftab%3Da%26b%3Dc");
    }
}
