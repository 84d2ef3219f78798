//! The built-in sample API: a stand-in for the operator's API, answering the seed routes with
//! plausible JSON so the demo and the tests call something real.
//!
//! Routes: `GET /v1/check?name=`, `GET /v1/jurisdictions`, `GET /v1/jurisdictions/{code}/operators`,
//! `GET /v1/operators/search?q=&jurisdiction=&limit=` (exactly `min(limit, matches)` rows, so
//! the gateway's anonymous row cap shows), `GET /v1/snapshots`, `GET /v1/snapshots/{id}` and
//! its `sections`, `sections/{key}`, `changes`; `POST /v1/scans`, `GET /v1/scans/{id}`,
//! `GET /v1/scans/{id}/stream` (server-sent events: five `progress` events one interval apart,
//! then `complete`); `POST /v1/exports`, `GET /v1/exports/{id}`.
//!
//! The reference data is fixed and ids are sequential, so answers are deterministic. Created
//! scans and exports live in memory, the newest [`store::CAPACITY`] of each; each is found only
//! by the account that created it (`X-Keystile-Account-Id`), another's answers 404.
//!
//! Failures are problem+json: malformed JSON or query (or a `name` or `q` over 200 characters)
//! or a body that could not be read → 400, a body of the wrong shape or with unknown values →
//! 422, a body labelled other than JSON → 415, an unknown id or path → 404, a wrong method →
//! 405. Never a 500.

mod catalog;
mod directory;
mod exports;
mod scans;
mod store;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::de::DeserializeOwned;

use crate::gateway::problem;
use store::{Owner, Store};

/// Time between two events of a scan's stream, by default.
pub const STREAM_INTERVAL: Duration = Duration::from_millis(100);

/// The sample API's state: created scans and exports. Cheap to clone.
#[derive(Clone)]
pub struct SampleApi {
    store: Arc<Store>,
    stream_interval: Duration,
}

impl Default for SampleApi {
    fn default() -> Self {
        Self::new()
    }
}

impl SampleApi {
    pub fn new() -> Self {
        Self { store: Arc::new(Store::default()), stream_interval: STREAM_INTERVAL }
    }

    /// The same API with another pace of scan events (and of scan completion).
    pub fn with_stream_interval(self, interval: Duration) -> Self {
        Self { stream_interval: interval, ..self }
    }

    /// Every route above; anything else under any path is a 404 problem.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/v1/check", get(directory::check_licence))
            .route("/v1/jurisdictions", get(directory::list_jurisdictions))
            .route("/v1/jurisdictions/{code}/operators", get(directory::list_jurisdiction_operators))
            .route("/v1/operators/search", get(directory::search_operators))
            .route("/v1/snapshots", get(directory::list_snapshots))
            .route("/v1/snapshots/{id}", get(directory::get_snapshot))
            .route("/v1/snapshots/{id}/sections", get(directory::list_snapshot_sections))
            .route("/v1/snapshots/{id}/sections/{key}", get(directory::get_snapshot_section))
            .route("/v1/snapshots/{id}/changes", get(directory::list_snapshot_changes))
            .route("/v1/scans", axum::routing::post(scans::create_scan))
            .route("/v1/scans/{id}", get(scans::get_scan))
            .route("/v1/scans/{id}/stream", get(scans::stream_scan))
            .route("/v1/exports", axum::routing::post(exports::create_export))
            .route("/v1/exports/{id}", get(exports::get_export))
            .fallback(|| async { SampleError::NoRoute })
            .method_not_allowed_fallback(|| async { SampleError::WrongMethod })
            // The gateway in front already refuses bodies over its configured limit; axum's own
            // 2 MiB default would refuse smaller ones, in plain text.
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(self.clone())
    }
}

/// Why the sample API refuses a request; each is a problem+json answer.
#[derive(Debug, thiserror::Error)]
enum SampleError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    Unprocessable(String),
    #[error("{0}")]
    NotFound(String),
    #[error("There is no such endpoint.")]
    NoRoute,
    #[error("This endpoint does not accept that method.")]
    WrongMethod,
    #[error("Send the body as JSON, with Content-Type: application/json.")]
    UnsupportedMediaType,
}

/// What the caller sent, quoted for an error message and cut to 64 characters: an error names
/// the value it refuses without echoing a whole body back.
fn quoted(value: &str) -> String {
    const SHOWN: usize = 64;
    match value.char_indices().nth(SHOWN) {
        Some((cut, _)) => format!("{:?}…", &value[..cut]),
        None => format!("{value:?}"),
    }
}

impl IntoResponse for SampleError {
    fn into_response(self) -> Response {
        let (status, code, title) = match &self {
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request", "Bad request"),
            Self::Unprocessable(_) => {
                (StatusCode::UNPROCESSABLE_ENTITY, "invalid_request", "Invalid request")
            }
            Self::NotFound(_) | Self::NoRoute => (StatusCode::NOT_FOUND, "not_found", "Not found"),
            Self::WrongMethod => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "Method not allowed"),
            Self::UnsupportedMediaType => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "Unsupported media type")
            }
        };
        problem(status, None, code, title, &self.to_string(), "")
    }
}

/// The route's path parameters. axum answers a segment that does not decode (`%FF`) with plain
/// text; here it is a 400 problem like every other bad input.
struct PathParams<T>(T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for PathParams<T> {
    type Rejection = SampleError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, SampleError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(params)) => Ok(Self(params)),
            Err(rejection) => Err(SampleError::BadRequest(rejection.body_text())),
        }
    }
}

/// The account calling, as the gateway in front names it in `X-Keystile-Account-Id`: what a
/// real upstream reads to serve each account its own records.
struct Caller(Owner);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let account = parts.headers.get(super::forwarding::ACCOUNT_ID).and_then(|v| v.to_str().ok());
        Ok(Self(account.map(str::to_owned)))
    }
}

/// A JSON request body. One labelled as another type is a 415 (a missing Content-Type is taken
/// as JSON); one that could not be read (cut short, sent too slowly) is a 400 problem, as are
/// unreadable JSON and readable JSON of the wrong shape (a 422).
struct JsonBody<T>(T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = SampleError;

    async fn from_request(request: Request, state: &S) -> Result<Self, SampleError> {
        let declared = request.headers().get(header::CONTENT_TYPE).map(|value| value.to_str().unwrap_or(""));
        if declared.is_some_and(|kind| !is_json(kind)) {
            return Err(SampleError::UnsupportedMediaType);
        }
        let body = Bytes::from_request(request, state).await.map_err(|rejection| {
            SampleError::BadRequest(format!("The body could not be read: {}", rejection.body_text()))
        })?;
        parse_json(&body).map(Self)
    }
}

/// `application/json`, or a JSON-based type such as `application/problem+json`, with any
/// parameters (`; charset=utf-8`).
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, SampleError> {
    serde_json::from_slice(body).map_err(|error| match error.classify() {
        serde_json::error::Category::Data => {
            SampleError::Unprocessable(format!("The JSON body does not have the expected shape: {error}"))
        }
        _ => SampleError::BadRequest(format!("The body is not valid JSON: {error}")),
    })
}
