//! Copying the policy's rendering of a decision into the HTTP response: the rate-limit headers
//! of every style in force, or the whole 429 (status, headers, body). The header names and body
//! shapes are the policy crate's (`policy::Responder`); this module only knows axum.

use std::time::SystemTime;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use limiter::{BucketState, Decision};
use policy::{RenderedRefusal, Responder};

/// Adds the rate-limit headers of every style in force for the route.
pub fn add_limit_headers(
    render: &Responder<'_>,
    buckets: &[BucketState<'_>],
    now: SystemTime,
    response: &mut Response,
) {
    insert_all(response.headers_mut(), render.headers(buckets, now));
}

/// The 429 for a refused request, as the refusing bucket's policy says.
pub fn refusal(render: &Responder<'_>, decision: &Decision<'_>, request_id: &str) -> Response {
    from_rendered(render.refusal(decision, request_id))
}

pub fn from_rendered(rendered: RenderedRefusal) -> Response {
    let status = StatusCode::from_u16(rendered.status).unwrap_or(StatusCode::TOO_MANY_REQUESTS);
    let mut response = (status, rendered.body).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(rendered.content_type));
    insert_all(response.headers_mut(), rendered.headers);
    response
}

fn insert_all(headers: &mut HeaderMap, pairs: Vec<(String, String)>) {
    for (name, value) in pairs {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            headers.insert(name, value);
        }
    }
}
