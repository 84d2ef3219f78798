//! `Idempotency-Key` on POST (seed 002): the first request under a key runs and its response is
//! kept 24 hours; a retry with the same key and body gets that response again (with
//! `Idempotent-Replayed: true`) and causes no second side effect; the same key with a different
//! request gets 422; a duplicate sent while the first is still running gets 409. Keys are scoped
//! to the caller's account. A 5xx is not kept, so a retry runs again; nor is an answer that
//! asks for a retry (408, 409, 425, 429, the upstream's own included). A claimed request
//! finishes even if its caller disconnects ([`ClaimedKey::run`]); a claim a stopped node left
//! unfinished is taken over after `services::idempotency::ABANDONED_AFTER_MINUTES`.
//!
//! The key is looked up before any bucket is charged: a replay costs nothing and is answered
//! even when the buckets are spent, and a request refused with 429 releases its key, so its
//! retry runs.

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

/// What a request's `Idempotency-Key` makes of it, found before any bucket is charged: a retry
/// of a request that already went through is answered from the stored response and charged
/// nothing (seed 002: retrying with the same key after a 429 is safe, and never bills twice).
pub enum Prepared {
    /// Run it: a request with no key to honour, or the first under its key (`claim`).
    Run { request: Request, claim: Option<ClaimedKey> },
    /// The stored response of the request this one repeats.
    Replay(Response),
    /// Refused for its key alone: malformed (400), body over 1 MiB (413), the first request
    /// still running (409), the key used for another request (422), or the store down (503).
    Refused(Response),
}

/// A key this request claimed: [`ClaimedKey::run`] it, or [`ClaimedKey::release`] it when the
/// request is refused, so a retry runs afresh.
pub struct ClaimedKey {
    account_id: String,
    key: String,
}

impl ClaimedKey {
    /// Runs the request and keeps its response for replays (a 5xx releases the key instead).
    ///
    /// It runs as a task of its own, to the end even if the caller goes away meanwhile: a
    /// client that timed out retries, and must then get this request's response rather than
    /// 409s for a claim nobody would finish.
    pub async fn run(self, gateway: &Gateway, request: Request, next: Next) -> Response {
        let request_id = request_id_of(request.headers()).to_owned();
        let (account_id, key) = (self.account_id.clone(), self.key.clone());
        let task = {
            let (gateway, request_id) = (gateway.clone(), request_id.clone());
            tokio::spawn(async move {
                let response = next.run(request).await;
                keep(&gateway, &self.account_id, &self.key, response, &request_id).await
            })
        };
        match task.await {
            Ok(response) => response,
            Err(error) => {
                tracing::error!(%error, request_id, "a request under an Idempotency-Key failed");
                ClaimedKey { account_id, key }.release(gateway).await;
                problem(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    None,
                    "internal_error",
                    "Internal error",
                    "The request failed on our side. Its Idempotency-Key is free: retry it.",
                    &request_id,
                )
            }
        }
    }

    pub async fn release(self, gateway: &Gateway) {
        if let Err(error) = gateway.services.idempotency.abandon(&self.account_id, &self.key).await {
            tracing::warn!(%error, "could not release an idempotency key");
        }
    }
}

/// Looks up a keyed POST's `Idempotency-Key`; every other request runs as it is. Problems
/// carry the policy's `type_base`, as the gateway's others do.
pub async fn prepare(gateway: &Gateway, request: Request, type_base: Option<&str>) -> Prepared {
    if request.method() != Method::POST {
        return Prepared::Run { request, claim: None };
    }
    let mut keys = request.headers().get_all("idempotency-key").iter();
    let (key, another_key) = (keys.next().cloned(), keys.next().is_some());
    let caller = request.extensions().get::<Arc<ResolvedKey>>().cloned();
    let (Some(key), Some(caller)) = (key, caller) else {
        return Prepared::Run { request, claim: None };
    };
    let request_id = request_id_of(request.headers()).to_owned();
    let refuse =
        |status, code, title, detail: &str| problem(status, type_base, code, title, detail, &request_id);
    let valid = key.to_str().ok().filter(|k| valid_key(k) && !another_key).map(str::to_owned);
    let Some(key) = valid else {
        return Prepared::Refused(refuse(
            StatusCode::BAD_REQUEST,
            "invalid_idempotency_key",
            "Invalid Idempotency-Key",
            "Send one Idempotency-Key of 1 to 255 visible ASCII characters, e.g. a UUID.",
        ));
    };
    let (parts, body) = request.into_parts();
    let body = match to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(error) if is_over_limit(&error) => {
            let detail =
                "A request with an Idempotency-Key is kept for replay, so its body may be at most 1 MiB.";
            let too_large = refuse(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", "Body too large", detail);
            return Prepared::Refused(crate::edge::closing_connection(too_large));
        }
        Err(error) => {
            let detail =
                format!("The request body could not be read ({error}). Nothing was done: send it again.");
            let unreadable = refuse(StatusCode::BAD_REQUEST, "body_unreadable", "Body unreadable", &detail);
            return Prepared::Refused(crate::edge::closing_connection(unreadable));
        }
    };
    let fingerprint =
        request_fingerprint(&parts.method, parts.uri.path_and_query().map_or("", |pq| pq.as_str()), &body);
    let store = &gateway.services.idempotency;
    match store.claim(&caller.account_id, &key, &fingerprint).await {
        Ok(Claim::Fresh) => Prepared::Run {
            request: Request::from_parts(parts, Body::from(body)),
            claim: Some(ClaimedKey { account_id: caller.account_id.clone(), key }),
        },
        Ok(Claim::Replay(stored)) => Prepared::Replay(replay(stored)),
        Ok(Claim::InProgress) => Prepared::Refused(refuse(
            StatusCode::CONFLICT,
            "idempotency_in_progress",
            "Request in progress",
            "A request with this Idempotency-Key is still running; retry when it has finished.",
        )),
        Ok(Claim::Mismatch) => Prepared::Refused(refuse(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "Idempotency-Key reused",
            "This Idempotency-Key was used for a different request. Use a new key for a new request.",
        )),
        Err(error) => {
            tracing::error!(%error, request_id, "idempotency store failed");
            Prepared::Refused(super::problems::unavailable(type_base, &request_id))
        }
    }
}

/// Whether reading a body failed on the size limit (not on a connection cut or a stall).
fn is_over_limit(error: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(error) = cause {
        if error.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = error.source();
    }
    false
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

/// Stores the first response for replays (or releases the key after a server error, or an
/// answer that asks for a retry) and returns it.
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
    if parts.status.is_server_error() || asks_for_a_retry(parts.status) {
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

/// Answers that say "not now, try again": keeping one would replay the refusal for a day.
fn asks_for_a_retry(status: StatusCode) -> bool {
    matches!(
        status,
        StatusCode::REQUEST_TIMEOUT
            | StatusCode::CONFLICT
            | StatusCode::TOO_EARLY
            | StatusCode::TOO_MANY_REQUESTS
    )
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
