//! `Idempotency-Key` on POST (seed 002): the first request under a key runs and its response is
//! kept 24 hours; a retry with the same key and body gets that response again (with
//! `Idempotent-Replayed: true`) and causes no second side effect; the same key with a different
//! request gets 422; a duplicate sent while the first is still running gets 409. Keys are scoped
//! to the caller's account. A 5xx is not kept, so a retry runs again.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use services::idempotency::{Claim, StoredResponse};
use services::ids::lowercase_hex;
use sha2::{Digest, Sha256};

use super::Gateway;
use super::callers::ResolvedKey;
use super::problems::{problem, request_id_of};

/// Largest request or response body kept for replay.
const MAX_BODY: usize = 1024 * 1024;
const MAX_KEY_LEN: usize = 255;

/// Runs an admitted request: through `next` at once, or under its `Idempotency-Key`. The
/// enforcement layer calls it, so a replay is still authenticated and counted.
pub async fn idempotent(gateway: &Gateway, request: Request, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let key = request.headers().get("idempotency-key").cloned();
    let caller = request.extensions().get::<Arc<ResolvedKey>>().cloned();
    let (Some(key), Some(caller)) = (key, caller) else {
        return next.run(request).await;
    };
    let request_id = request_id_of(request.headers()).to_owned();
    let Some(key) = key.to_str().ok().filter(|k| valid_key(k)).map(str::to_owned) else {
        return problem(
            StatusCode::BAD_REQUEST,
            None,
            "invalid_idempotency_key",
            "Invalid Idempotency-Key",
            "Use 1 to 255 visible ASCII characters, e.g. a UUID.",
            &request_id,
        );
    };
    let (parts, body) = request.into_parts();
    let Ok(body) = to_bytes(body, MAX_BODY).await else {
        return problem(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            "body_too_large",
            "Body too large",
            "A request with an Idempotency-Key is kept for replay, so its body may be at most 1 MiB.",
            &request_id,
        );
    };
    let fingerprint =
        request_fingerprint(&parts.method, parts.uri.path_and_query().map_or("", |pq| pq.as_str()), &body);
    let store = &gateway.services.idempotency;
    match store.claim(&caller.account_id, &key, &fingerprint).await {
        Ok(Claim::Fresh) => {
            let response = next.run(Request::from_parts(parts, Body::from(body))).await;
            keep(gateway, &caller.account_id, &key, response, &request_id).await
        }
        Ok(Claim::Replay(stored)) => replay(stored),
        Ok(Claim::InProgress) => problem(
            StatusCode::CONFLICT,
            None,
            "idempotency_in_progress",
            "Request in progress",
            "A request with this Idempotency-Key is still running; retry when it has finished.",
            &request_id,
        ),
        Ok(Claim::Mismatch) => problem(
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            "idempotency_key_reused",
            "Idempotency-Key reused",
            "This Idempotency-Key was used for a different request. Use a new key for a new request.",
            &request_id,
        ),
        Err(error) => {
            tracing::error!(%error, request_id, "idempotency store failed");
            super::problems::unavailable(None, &request_id)
        }
    }
}

fn valid_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// What makes two requests "the same" under one key: method, path with query, and body.
pub fn request_fingerprint(method: &Method, path_and_query: &str, body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(method.as_str().as_bytes());
    hasher.update(b" ");
    hasher.update(path_and_query.as_bytes());
    hasher.update(b"\n");
    hasher.update(body);
    lowercase_hex(&hasher.finalize())
}

/// Stores the first response for replays (or releases the key after a server error) and
/// returns it.
async fn keep(
    gateway: &Gateway,
    account_id: &str,
    key: &str,
    response: Response,
    request_id: &str,
) -> Response {
    let store = &gateway.services.idempotency;
    let (parts, body) = response.into_parts();
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            let _ = store.abandon(account_id, key).await;
            return problem(
                StatusCode::BAD_GATEWAY,
                None,
                "upstream_body_too_large",
                "Bad gateway",
                "The upstream's answer is over 1 MiB, too large to keep for replay under an Idempotency-Key.",
                request_id,
            );
        }
    };
    if parts.status.is_server_error() {
        if let Err(error) = store.abandon(account_id, key).await {
            tracing::warn!(%error, "could not release an idempotency key");
        }
    } else {
        let headers = [header::CONTENT_TYPE, header::LOCATION]
            .iter()
            .filter_map(|name| {
                let value = parts.headers.get(name)?.to_str().ok()?;
                Some((name.as_str().to_owned(), value.to_owned()))
            })
            .collect();
        let stored = StoredResponse { status: parts.status.as_u16(), headers, body: body.to_vec() };
        if let Err(error) = store.complete(account_id, key, &stored).await {
            tracing::warn!(%error, "could not store a response for replay");
        }
    }
    Response::from_parts(parts, Body::from(body))
}

fn replay(stored: StoredResponse) -> Response {
    let mut response = Response::new(Body::from(stored.body));
    *response.status_mut() = StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK);
    for (name, value) in stored.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}
