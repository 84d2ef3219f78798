//! How the key API answers: one problem+json shape for every refusal, a request id on every
//! answer, and the user's `key_mgmt` bucket in the policy's rate-limit headers.

use std::time::SystemTime;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use limiter::{BucketState, Decision};
use services::Services;
use services::accounts::User;
use services::keys::KeyError;

use crate::gateway::problem;

/// A problem+json answer of the key API: the policy's problem type base and one title per code,
/// so a client sees one shape whatever refused it.
pub(super) fn api_problem(
    status: StatusCode,
    type_base: Option<&str>,
    code: &str,
    detail: &str,
    request_id: &str,
) -> Response {
    let title = match code {
        "not_signed_in" => "Not signed in",
        "not_found" => "Key not found",
        "invalid_request" => "Invalid request",
        "forbidden" => "Forbidden",
        "method_not_allowed" => "Method not allowed",
        "rate_limit_exceeded" => "Too many key changes",
        "temporarily_unavailable" => "Temporarily unavailable",
        _ => "Internal error",
    };
    problem(status, type_base, code, title, detail, request_id)
}

pub(super) fn with_request_id(mut response: Response, request_id: &str) -> Response {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert(crate::gateway::REQUEST_ID, value);
    }
    response
}

/// The key service's answer, or the problem for its error, with a request id and the user's
/// `key_mgmt` bucket in the policy's rate-limit headers.
pub(super) async fn respond(
    services: &Services,
    user: &User,
    answer: Result<impl IntoResponse, KeyError>,
) -> Response {
    let request_id = crate::gateway::request_id();
    let answer = answer.map(IntoResponse::into_response);
    with_request_id(with_key_mgmt_headers(services, user, answer, &request_id).await, &request_id)
}

/// The answer (or the problem for its error) with the user's `key_mgmt` bucket in the policy's
/// rate-limit headers (seed 002: every response carries them). A change refused by that bucket
/// gets the policy's 429, as a refusal by the gateway's buckets does.
pub(super) async fn with_key_mgmt_headers(
    services: &Services,
    user: &User,
    answer: Result<Response, KeyError>,
    request_id: &str,
) -> Response {
    let policy = services.policy.get();
    let render = policy.responder(policy.route("POST", "/v1/keys").map(|found| found.route));
    let charges: Vec<_> = services.keys.key_mgmt_charge(user).into_iter().collect();
    // Read, not charged: the service has charged the change already, or refused it.
    let buckets = if charges.is_empty() {
        Vec::new()
    } else {
        services.limiter.peek(&charges).await.unwrap_or_default()
    };
    let now = SystemTime::from(services.clock.now());
    let mut response = match answer {
        Ok(response) => response,
        Err(KeyError::Throttled { retry_after }) if !buckets.is_empty() => {
            let denied = buckets
                .iter()
                .map(|bucket| BucketState { denied: true, retry_after: Some(retry_after), ..bucket.clone() })
                .collect();
            let decision = Decision { now, buckets: denied, retry_after: Some(retry_after) };
            return crate::gateway::from_rendered(render.refusal(&decision, request_id));
        }
        Err(refused) => error(refused, policy.rejection.problem_type_base.as_deref(), request_id),
    };
    crate::gateway::add_limit_headers(&render, &buckets, now, &mut response);
    response
}

pub(super) fn error(error: KeyError, type_base: Option<&str>, request_id: &str) -> Response {
    let detail = error.to_string();
    let (status, code) = match &error {
        KeyError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        KeyError::InvalidName
        | KeyError::InvalidExpiry
        | KeyError::InvalidGrace
        | KeyError::InvalidRestrictions(_)
        | KeyError::NotActive
        | KeyError::ReasonRequired => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        KeyError::NoAccount | KeyError::Forbidden | KeyError::DisabledByStaff(_) => {
            (StatusCode::FORBIDDEN, "forbidden")
        }
        KeyError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded"),
        KeyError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
        KeyError::Internal(cause) => {
            tracing::error!(%cause, request_id, "key API failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
        }
    };
    let detail = if status == StatusCode::INTERNAL_SERVER_ERROR {
        "Something went wrong on our side."
    } else {
        &detail
    };
    api_problem(status, type_base, code, detail, request_id)
}
