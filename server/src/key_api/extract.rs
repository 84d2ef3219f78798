//! What a `/v1/keys` request must bring: a dashboard session, a readable JSON body, a readable
//! key id. A request without them is refused here, before the key service sees it, in the key
//! API's problem shape.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, OptionalFromRequest, Path, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::Response;
use services::Services;
use services::accounts::User;
use services::keys::KeyError;
use services::sessions::{AUTH_KEY, SessionAuth, VIEW_AS_KEY, ViewAs};
use tower_sessions::Session;

use super::answers::{api_problem, error, with_key_mgmt_headers, with_request_id};

/// The signed-in dashboard user (during a support view-as, the viewed account's owner, as the
/// pages have it); without a valid session the request is refused with 401.
pub struct SignedIn(pub(crate) User);

/// The signed-in user, left on the request so that the extractors after [`SignedIn`] refuse
/// with the user's `key_mgmt` headers, as every answer to a signed-in user has them.
#[derive(Clone)]
struct RequestUser(User);

impl<S> FromRequestParts<S> for SignedIn
where
    S: Send + Sync,
    Services: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Response> {
        let services = Services::from_ref(state);
        match signed_in_user(&services, parts, state).await {
            Ok(Some(user)) => {
                parts.extensions.insert(RequestUser(user.clone()));
                Ok(SignedIn(user))
            }
            Ok(None) => {
                let detail = "Log in to the dashboard first.";
                Err(refused(&services, None, StatusCode::UNAUTHORIZED, "not_signed_in", detail).await)
            }
            Err(cause) => Err(refused_with(&services, None, |type_base, request_id| {
                error(KeyError::Internal(cause.to_string()), type_base, request_id)
            })
            .await),
        }
    }
}

/// The session's user; `None` without a valid session.
async fn signed_in_user<S: Send + Sync>(
    services: &Services,
    parts: &mut Parts,
    state: &S,
) -> Result<Option<User>, services::DbError> {
    let Ok(session) = Session::from_request_parts(parts, state).await else {
        return Ok(None);
    };
    // The session guard already ended expired sessions.
    let Some(auth) = session.get::<SessionAuth>(AUTH_KEY).await.ok().flatten() else {
        return Ok(None);
    };
    let now = services.clock.now();
    let view_as = session.get::<ViewAs>(VIEW_AS_KEY).await.ok().flatten().filter(|view| !view.is_over(now));
    match view_as {
        // Support sees the account as its owner does, as on the pages; the view-as guard has
        // already refused every change.
        Some(view) => services.accounts.owner_of(&view.account_id).await,
        None => services.accounts.user(&auth.user_id).await,
    }
}

/// A JSON body; a missing or unreadable one is refused with a problem+json 400/415/422. As
/// `Option<ApiJson<T>>`, a request with no body at all (and no content type) reads as `None`, so
/// `POST /v1/keys/{id}/rotate` alone takes the defaults.
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
        let user = request.extensions().get::<RequestUser>().map(|user| user.0.clone());
        let (status, detail) = match <Json<T> as FromRequest<S>>::from_request(request, state).await {
            Ok(Json(value)) => return Ok(ApiJson(value)),
            Err(rejection) => (rejection.status(), rejection.body_text()),
        };
        Err(unreadable(&services, user.as_ref(), status, &detail).await)
    }
}

impl<T, S> OptionalFromRequest<S> for ApiJson<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
    Services: FromRef<S>,
{
    type Rejection = Response;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, Response> {
        if request.headers().contains_key(header::CONTENT_TYPE) {
            return <Self as FromRequest<S>>::from_request(request, state).await.map(Some);
        }
        let services = Services::from_ref(state);
        let user = request.extensions().get::<RequestUser>().map(|user| user.0.clone());
        let refuse = async |status, detail: &str| unreadable(&services, user.as_ref(), status, detail).await;
        match Bytes::from_request(request, state).await {
            Ok(body) if body.is_empty() => Ok(None),
            Ok(_) => {
                let detail = "Send the body as JSON, with `Content-Type: application/json`.";
                Err(refuse(StatusCode::UNSUPPORTED_MEDIA_TYPE, detail).await)
            }
            Err(rejection) => Err(refuse(rejection.status(), &rejection.body_text()).await),
        }
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
                let services = Services::from_ref(state);
                let user = parts.extensions.get::<RequestUser>().map(|user| &user.0);
                Err(unreadable(&services, user, rejection.status(), &rejection.body_text()).await)
            }
        }
    }
}

/// A request refused before it reached the key service: a problem+json with a request id of its
/// own and, for a signed-in user, the user's `key_mgmt` headers.
pub(super) async fn refused(
    services: &Services,
    user: Option<&User>,
    status: StatusCode,
    code: &str,
    detail: &str,
) -> Response {
    refused_with(services, user, |type_base, request_id| {
        api_problem(status, type_base, code, detail, request_id)
    })
    .await
}

/// `answer` (given the policy's problem type base and a new request id) with that request id in
/// its `X-Request-Id` header and, for a signed-in user, the user's `key_mgmt` headers.
async fn refused_with(
    services: &Services,
    user: Option<&User>,
    answer: impl FnOnce(Option<&str>, &str) -> Response,
) -> Response {
    let request_id = crate::gateway::request_id();
    let type_base = services.policy.get().rejection.problem_type_base.clone();
    let answer = answer(type_base.as_deref(), &request_id);
    let answer = match user {
        Some(user) => with_key_mgmt_headers(services, user, Ok(answer), &request_id).await,
        None => answer,
    };
    with_request_id(answer, &request_id)
}

/// A body or key id that cannot be read.
async fn unreadable(services: &Services, user: Option<&User>, status: StatusCode, detail: &str) -> Response {
    refused(services, user, status, "invalid_request", detail).await
}

/// The user a request to the key API signed in as, if it did (the session is read here: a
/// request refused before the handler, like a wrong method, has not been through [`SignedIn`]).
pub(super) async fn signed_in<S: Send + Sync>(
    services: &Services,
    parts: &mut Parts,
    state: &S,
) -> Option<User> {
    signed_in_user(services, parts, state).await.ok().flatten()
}
