//! RFC 9457 problem+json answers the gateway gives itself (401, 400, 403, 405, 503), in the same shape as
//! its 429s: `type`, `title`, `status`, `code`, `detail`, `request_id`. An answer without a
//! request id leaves the field out.

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    request_id: &'a str,
}

/// The gateway's id for a request: set on the request it forwards (so the upstream can log it)
/// and on every answer.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id the gateway gave this request, for problems answered inside it ("" outside).
pub fn request_id_of(headers: &HeaderMap) -> &str {
    headers.get(REQUEST_ID).and_then(|value| value.to_str().ok()).unwrap_or("")
}

/// A problem+json response; `type_base` is the policy's problem type base (or none).
pub fn problem(
    status: StatusCode,
    type_base: Option<&str>,
    code: &str,
    title: &str,
    detail: &str,
    request_id: &str,
) -> Response {
    let kind = type_base.map_or_else(|| "about:blank".to_owned(), |base| format!("{base}{code}"));
    let body = Problem { kind, title, status: status.as_u16(), code, detail, request_id };
    let json = serde_json::to_string(&body).unwrap_or_default();
    let mut response = (status, json).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    response
}

/// One body for every refused key (unknown, revoked, expired, malformed, disabled, or of a
/// disabled account), so a caller learns nothing about which it was; the detail names them all,
/// so that the owner of a disabled key is not told to replace it.
pub fn invalid_key(type_base: Option<&str>, request_id: &str) -> Response {
    let mut response = problem(
        StatusCode::UNAUTHORIZED,
        type_base,
        "invalid_api_key",
        "Invalid API key",
        "The API key is not valid: it is unknown, revoked, expired or disabled. Check the key, and its state on the dashboard's Keys page.",
        request_id,
    );
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

pub fn key_required(type_base: Option<&str>, request_id: &str) -> Response {
    let mut response = problem(
        StatusCode::UNAUTHORIZED,
        type_base,
        "api_key_required",
        "API key required",
        "This endpoint needs an API key: send it as `Authorization: Bearer <key>`.",
        request_id,
    );
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// More than one key header (`Authorization` and `X-API-Key`, or one twice): a mistake in the
/// caller's code, told as such rather than as a bad key.
pub fn several_keys(type_base: Option<&str>, request_id: &str) -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        type_base,
        "several_api_keys",
        "More than one API key",
        "Send the API key once: in `Authorization: Bearer <key>` or in `X-API-Key`, not both or twice.",
        request_id,
    )
}

/// A valid key used outside its restrictions. Unlike the 401, this names what was refused:
/// the caller holds a real key and needs to know which restriction to lift or respect.
pub fn key_restricted(detail: &str, type_base: Option<&str>, request_id: &str) -> Response {
    problem(StatusCode::FORBIDDEN, type_base, "api_key_restricted", "API key restricted", detail, request_id)
}

pub fn unavailable(type_base: Option<&str>, request_id: &str) -> Response {
    let mut response = problem(
        StatusCode::SERVICE_UNAVAILABLE,
        type_base,
        "temporarily_unavailable",
        "Temporarily unavailable",
        "The gateway could not check this request's limits. Retry shortly.",
        request_id,
    );
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// A request the gateway's own endpoints cannot answer as asked; `detail` says how to fix it.
pub fn bad_request(detail: &str, request_id: &str) -> Response {
    problem(StatusCode::BAD_REQUEST, None, "invalid_request", "Invalid request", detail, request_id)
}

/// The detail of a 405, for the gateway's endpoints and the key API alike.
pub const WRONG_METHOD: &str =
    "This endpoint does not take that method: the Allow header lists those it takes.";

/// A method an endpoint does not take; axum adds the `Allow` header naming those it does.
pub fn method_not_allowed(type_base: Option<&str>, request_id: &str) -> Response {
    let (status, code, title) = (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Method not allowed");
    problem(status, type_base, code, title, WRONG_METHOD, request_id)
}
