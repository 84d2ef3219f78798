//! What a `/v1/keys` request must bring: a dashboard session, a readable JSON body, a readable
//! key id. A request without them is refused here, before the key service sees it, in the key
//! API's problem shape.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::Response;
use services::Services;
use services::accounts::User;
use services::keys::KeyError;
use services::sessions::{AUTH_KEY, SessionAuth, VIEW_AS_KEY, ViewAs};
use tower_sessions::Session;

use super::{api_problem, error, with_fresh_request_id};

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
            refused(&services, StatusCode::UNAUTHORIZED, "not_signed_in", "Log in to the dashboard first.")
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
            Err(cause) => Err(with_fresh_request_id(&services, |type_base, request_id| {
                error(KeyError::Internal(cause.to_string()), type_base, request_id)
            })),
        }
    }
}

/// A JSON body; unreadable JSON is refused with a problem+json 400/415/422. No body at all
/// (and no content type) reads as `{}`, so `POST /v1/keys/{id}/rotate` alone takes the defaults.
pub struct ApiJson<T>(pub(super) T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
    Services: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Self, Response> {
        let services = Services::from_ref(state);
        let bad_json =
            |rejection: JsonRejection| unreadable(&services, rejection.status(), &rejection.body_text());
        if request.headers().contains_key(header::CONTENT_TYPE) {
            return Json::<T>::from_request(request, state)
                .await
                .map(|Json(value)| ApiJson(value))
                .map_err(bad_json);
        }
        let body = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| unreadable(&services, rejection.status(), &rejection.body_text()))?;
        if !body.is_empty() {
            let detail = "Send the body as JSON, with `Content-Type: application/json`.";
            return Err(unreadable(&services, StatusCode::UNSUPPORTED_MEDIA_TYPE, detail));
        }
        Json::<T>::from_bytes(b"{}").map(|Json(value)| ApiJson(value)).map_err(bad_json)
    }
}

/// The key id in the path; one that is not valid percent-encoded UTF-8 is refused with a
/// problem+json 400, like a bad body.
pub struct KeyIdPath(pub(super) String);

impl<S> FromRequestParts<S> for KeyIdPath
where
    S: Send + Sync,
    Services: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(key_id)) => Ok(KeyIdPath(key_id)),
            Err(rejection) => {
                Err(unreadable(&Services::from_ref(state), rejection.status(), &rejection.body_text()))
            }
        }
    }
}

/// A request refused before it reached the key service, with a request id of its own.
fn refused(services: &Services, status: StatusCode, code: &str, detail: &str) -> Response {
    with_fresh_request_id(services, |type_base, request_id| {
        api_problem(status, type_base, code, detail, request_id)
    })
}

/// A body or key id that cannot be read.
fn unreadable(services: &Services, status: StatusCode, detail: &str) -> Response {
    refused(services, status, "invalid_request", detail)
}
