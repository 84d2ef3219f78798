//! `/v1/keys`: key management as JSON for a signed-in dashboard user (a session, never an API
//! key), charged to the user's `key_mgmt` bucket like the dashboard's own key actions.
//!
//! - `GET /v1/keys` — the account's keys
//! - `POST /v1/keys` `{"name": "...", "expires_in_days": 30}` — 201 with the secret, once
//! - `POST /v1/keys/{id}/rotate` `{"grace_seconds": 86400}` — the new secret, once
//! - `PATCH /v1/keys/{id}` `{"name": "..."}` — rename
//! - `DELETE /v1/keys/{id}` — revoke
//!
//! Errors are problem+json: 401 without a session, 400/415/422 for bad JSON or an unreadable key
//! id, 404 for a key of another account, 429 with `Retry-After` when `key_mgmt` is spent.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use services::Services;
use services::accounts::User;
use services::keys::{ApiKey, KeyError, KeyStatus, KeyWithSecret};
use services::sessions::{AUTH_KEY, SessionAuth, VIEW_AS_KEY, ViewAs};
use tower_sessions::Session;

use crate::gateway::problem;

#[derive(Serialize)]
struct KeyJson {
    id: String,
    name: String,
    start: String,
    status: &'static str,
    created_at: String,
    expires_at: Option<String>,
    last_used_at: Option<String>,
    /// While a rotation's grace lasts: when the old secret stops working.
    old_secret_expires_at: Option<String>,
}

#[derive(Serialize)]
struct CreatedJson {
    key: KeyJson,
    /// Shown this once; keystile keeps only its SHA-256.
    secret: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    name: String,
    #[serde(default)]
    expires_in_days: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateRequest {
    #[serde(default)]
    grace_seconds: u32,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RenameRequest {
    name: String,
}

/// The signed-in dashboard user (during a support view-as, the viewed account's owner, as the
/// pages have it); without a valid session the request is refused with 401.
pub struct SignedIn(pub(crate) User);

impl<S> FromRequestParts<S> for SignedIn
where
    S: Send + Sync,
    Services: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let services = Services::from_ref(state);
        let unauthenticated = || {
            problem(
                StatusCode::UNAUTHORIZED,
                None,
                "not_signed_in",
                "Not signed in",
                "Log in to the dashboard first.",
                "",
            )
        };
        let session = Session::from_request_parts(parts, state).await.map_err(|_| unauthenticated())?;
        // The session guard already ended expired sessions.
        let auth = session.get::<SessionAuth>(AUTH_KEY).await.ok().flatten().ok_or_else(unauthenticated)?;
        let now = services.clock.now();
        let view_as =
            session.get::<ViewAs>(VIEW_AS_KEY).await.ok().flatten().filter(|view| !view.is_over(now));
        let user = match view_as {
            // Support sees the account as its owner does, as on the pages; the view-as guard
            // has already refused every change.
            Some(view) => services.accounts.owner_of(&view.account_id).await,
            None => services.accounts.user(&auth.user_id).await,
        };
        match user {
            Ok(Some(user)) => Ok(SignedIn(user)),
            Ok(None) => Err(unauthenticated()),
            Err(cause) => Err(error(KeyError::Internal(cause.to_string()))),
        }
    }
}

/// A JSON body; unreadable JSON is refused with a problem+json 400/415/422.
pub struct ApiJson<T>(T);

impl<T: serde::de::DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(ApiJson(value)),
            Err(rejection) => Err(bad_json(rejection)),
        }
    }
}

/// The key id in the path; one that is not valid percent-encoded UTF-8 is refused with a
/// problem+json 400, like a bad body.
pub struct KeyIdPath(String);

impl<S: Send + Sync> FromRequestParts<S> for KeyIdPath {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(key_id)) => Ok(KeyIdPath(key_id)),
            Err(rejection) => Err(invalid_request(rejection.status(), &rejection.body_text())),
        }
    }
}

pub async fn list(State(services): State<Services>, SignedIn(user): SignedIn) -> Response {
    let Some(account_id) = user.account_id else {
        return error(KeyError::NoAccount);
    };
    match services.keys.list(&account_id).await {
        Ok(keys) => {
            let now = services.clock.now();
            Json(keys.iter().map(|key| key_json(key, now)).collect::<Vec<_>>()).into_response()
        }
        Err(e) => error(e),
    }
}

pub async fn create(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    ApiJson(request): ApiJson<CreateRequest>,
) -> Response {
    let now = services.clock.now();
    let created = match services::keys::expiry_after_days(now, request.expires_in_days) {
        Ok(expires_at) => services.keys.create(&user, &request.name, expires_at).await,
        Err(invalid) => Err(invalid),
    };
    match created {
        Ok(created) => (StatusCode::CREATED, Json(created_json(created, now))).into_response(),
        Err(e) => error(e),
    }
}

pub async fn rotate(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    KeyIdPath(key_id): KeyIdPath,
    ApiJson(request): ApiJson<RotateRequest>,
) -> Response {
    let grace = chrono::Duration::seconds(request.grace_seconds.into());
    match services.keys.rotate(&user, &key_id, grace).await {
        Ok(rotated) => Json(created_json(rotated, services.clock.now())).into_response(),
        Err(e) => error(e),
    }
}

pub async fn rename(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    KeyIdPath(key_id): KeyIdPath,
    ApiJson(request): ApiJson<RenameRequest>,
) -> Response {
    match services.keys.rename(&user, &key_id, &request.name).await {
        Ok(key) => Json(key_json(&key, services.clock.now())).into_response(),
        Err(e) => error(e),
    }
}

pub async fn revoke(
    State(services): State<Services>,
    SignedIn(user): SignedIn,
    KeyIdPath(key_id): KeyIdPath,
) -> Response {
    match services.keys.revoke(&user, &key_id).await {
        Ok(key) => Json(key_json(&key, services.clock.now())).into_response(),
        Err(e) => error(e),
    }
}

fn bad_json(rejection: JsonRejection) -> Response {
    invalid_request(rejection.status(), &rejection.body_text())
}

fn invalid_request(status: StatusCode, detail: &str) -> Response {
    problem(status, None, "invalid_request", "Invalid request", detail, "")
}

fn error(error: KeyError) -> Response {
    let detail = error.to_string();
    let (status, code) = match &error {
        KeyError::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        KeyError::InvalidName | KeyError::InvalidExpiry | KeyError::NotActive => {
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request")
        }
        KeyError::NoAccount => (StatusCode::FORBIDDEN, "forbidden"),
        KeyError::Throttled { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limit_exceeded"),
        KeyError::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
        KeyError::Internal(cause) => {
            tracing::error!(%cause, "key API failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
        }
    };
    let detail = if status == StatusCode::INTERNAL_SERVER_ERROR {
        "Something went wrong on our side."
    } else {
        &detail
    };
    let mut response = problem(status, None, code, "Key management", detail, "");
    if let KeyError::Throttled { retry_after } = error
        && let Ok(value) = HeaderValue::from_str(&retry_after.as_secs().max(1).to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn key_json(key: &ApiKey, now: DateTime<Utc>) -> KeyJson {
    let (status, old_secret_expires_at) = match key.status(now) {
        KeyStatus::Active => ("active", None),
        KeyStatus::Rotating { until } => ("rotating", Some(time(until))),
        KeyStatus::Revoked => ("revoked", None),
        KeyStatus::Expired => ("expired", None),
    };
    KeyJson {
        id: key.id.clone(),
        name: key.name.clone(),
        start: key.start.clone(),
        status,
        created_at: time(key.created_at),
        expires_at: key.expires_at.map(time),
        last_used_at: key.last_used_at.map(time),
        old_secret_expires_at,
    }
}

fn created_json(created: KeyWithSecret, now: DateTime<Utc>) -> CreatedJson {
    CreatedJson { key: key_json(&created.key, now), secret: created.secret.expose_secret().to_owned() }
}
