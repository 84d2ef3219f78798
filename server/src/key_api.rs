//! `/v1/keys`: key management as JSON for a signed-in dashboard user (a session, never an API
//! key), charged to the user's `key_mgmt` bucket like the dashboard's own key actions.
//!
//! - `GET /v1/keys` — the account's keys
//! - `GET /v1/keys/{id}` — one of them
//! - `POST /v1/keys` `{"name": "...", "expires_in_days": 30, "read_only": true,
//!   "allowed_ips": ["203.0.113.0/24"]}` — 201 with the secret, once (only `name` is required)
//! - `POST /v1/keys/{id}/rotate` `{"grace_seconds": 86400, "expires_in_days": 90}` — the new
//!   secret, once; the key keeps its expiry unless `expires_in_days` is given (0: never)
//! - `PATCH /v1/keys/{id}` `{"name": "..."}` — rename
//! - `PUT /v1/keys/{id}/restrictions` `{"read_only": false, "allowed_ips": []}` — what the key
//!   may do from now on, on every node at its next request
//! - `POST /v1/keys/{id}/disable`, `POST /v1/keys/{id}/enable` — requests with the key get 401
//!   until it is enabled again; secrets, charts and limits stay
//! - `DELETE /v1/keys/{id}` — revoke, for good
//!
//! Errors are problem+json, each with a request id: 401 without a session, 403 for a change sent
//! from another site's page, 400/415/422 for bad JSON or an unreadable key id, 404 for a key of
//! another account, 405 (with `Allow`) for a method a route does not take, 429 with
//! `Retry-After` when `key_mgmt` is spent. Every answer to a signed-in user carries the user's
//! `key_mgmt` bucket in the rate-limit headers. Only rotate's body, every field of which is
//! optional, may be left out: a `PUT` of restrictions without one is refused, not read as "none".

use axum::extract::{FromRef, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use services::Services;
use services::keys::{KeyError, NewExpiry};

mod answers;
mod extract;
mod json;

use answers::respond;
pub use extract::{ApiJson, KeyIdPath, SignedIn};
use json::{
    CreateRequest, RenameRequest, RestrictionsRequest, RotateRequest, account_keys_json, created_json,
    restrictions, with_quota_use,
};

/// The routes above, for a router whose state holds the [`Services`]. A method a route does not
/// take is a 405 problem, whose `Allow` header (axum's) names those it does.
pub fn routes<S>() -> Router<S>
where
    S: Clone + Send + Sync + 'static,
    Services: FromRef<S>,
{
    Router::new()
        .route("/v1/keys", get(list).post(create))
        .route("/v1/keys/{id}", get(show).delete(revoke).patch(rename))
        .route("/v1/keys/{id}/restrictions", put(restrict))
        .route("/v1/keys/{id}/rotate", post(rotate))
        .route("/v1/keys/{id}/disable", post(disable))
        .route("/v1/keys/{id}/enable", post(enable))
        .method_not_allowed_fallback(wrong_method)
}

async fn wrong_method(State(services): State<Services>, mut parts: Parts) -> Response {
    let user = extract::signed_in(&services, &mut parts, &services).await;
    let detail = crate::gateway::WRONG_METHOD;
    extract::refused(&services, user.as_ref(), StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", detail)
        .await
}

/// The answer to a state-changing request sent from another site's page: a 403 problem with a
/// request id, like the key API's other refusals.
pub async fn cross_site_refusal(services: &Services) -> Response {
    let detail = "Requests from other sites' pages are refused: call the key API from the dashboard's own pages, or without a browser.";
    extract::refused(services, None, StatusCode::FORBIDDEN, "forbidden", detail).await
}

/// The answer to a key API path with a segment longer than any key id: 404, in the key API's
/// problem shape.
pub async fn overlong_path_refusal(services: &Services) -> Response {
    extract::refused(services, None, StatusCode::NOT_FOUND, "not_found", "No such key.").await
}

pub async fn list(State(services): State<Services>, SignedIn(user): SignedIn) -> Response {
    let answer = match user.account_id.as_deref() {
        Some(account_id) => account_keys_json(&services, account_id).await,
        None => Err(KeyError::NoAccount),
    };
    respond(&services, &user, answer).await
}

pub async fn show(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    KeyIdPath(key_id): KeyIdPath,
) -> Response {
    let found = services.keys.get(&user, &key_id).await;
    let answer = with_quota_use(&services, found).await;
    respond(&services, &user, answer).await
}

pub async fn create(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    ApiJson(request): ApiJson<CreateRequest>,
) -> Response {
    let now = services.clock.now();
    let valid = services::keys::expiry_after_days(now, request.expires_in_days).and_then(|expires_at| {
        Ok((expires_at, restrictions(request.read_only, &request.allowed_ips, request.quota)?))
    });
    let created = match valid {
        Ok((expires_at, restrictions)) => {
            services.keys.create(&user, &request.name, expires_at, restrictions).await
        }
        Err(invalid) => Err(invalid),
    };
    let answer = match created {
        Ok(created) => Ok((StatusCode::CREATED, Json(created_json(&services, created).await))),
        Err(error) => Err(error),
    };
    respond(&services, &user, answer).await
}

pub async fn rotate(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    KeyIdPath(key_id): KeyIdPath,
    body: Option<ApiJson<RotateRequest>>,
) -> Response {
    let request = body.map_or_else(RotateRequest::default, |ApiJson(request)| request);
    let grace = chrono::Duration::seconds(request.grace_seconds.into());
    let rotated = match NewExpiry::after_days(services.clock.now(), request.expires_in_days) {
        Ok(new_expiry) => services.keys.rotate(&user, &key_id, grace, new_expiry).await,
        Err(invalid) => Err(invalid),
    };
    let answer = match rotated {
        Ok(rotated) => Ok(Json(created_json(&services, rotated).await)),
        Err(error) => Err(error),
    };
    respond(&services, &user, answer).await
}

pub async fn rename(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    KeyIdPath(key_id): KeyIdPath,
    ApiJson(request): ApiJson<RenameRequest>,
) -> Response {
    let renamed = services.keys.rename(&user, &key_id, &request.name).await;
    let answer = with_quota_use(&services, renamed).await;
    respond(&services, &user, answer).await
}

pub async fn restrict(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    KeyIdPath(key_id): KeyIdPath,
    ApiJson(request): ApiJson<RestrictionsRequest>,
) -> Response {
    let restricted = match restrictions(request.read_only, &request.allowed_ips, request.quota) {
        Ok(restrictions) => services.keys.restrict(&user, &key_id, restrictions).await,
        Err(invalid) => Err(invalid),
    };
    let answer = with_quota_use(&services, restricted).await;
    respond(&services, &user, answer).await
}

pub async fn disable(state: State<Services>, user: SignedIn, key_id: KeyIdPath) -> Response {
    set_disabled(state, user, key_id, true).await
}

pub async fn enable(state: State<Services>, user: SignedIn, key_id: KeyIdPath) -> Response {
    set_disabled(state, user, key_id, false).await
}

async fn set_disabled(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    KeyIdPath(key_id): KeyIdPath,
    disabled: bool,
) -> Response {
    let changed = services.keys.set_disabled(&user, &key_id, disabled).await;
    let answer = with_quota_use(&services, changed).await;
    respond(&services, &user, answer).await
}

pub async fn revoke(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    KeyIdPath(key_id): KeyIdPath,
) -> Response {
    let revoked = services.keys.revoke(&user, &key_id).await;
    let answer = with_quota_use(&services, revoked).await;
    respond(&services, &user, answer).await
}
