//! Signing up, logging in and out, and who is signed in.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::AppError;

/// The signed-in user as pages see them: no secrets, nothing the browser should not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Viewer {
    pub email: String,
    /// `owner`, `member`, `admin` or `support`.
    pub role: String,
    pub is_operator: bool,
    /// Belongs to a customer account (operator staff have none, except while viewing as one).
    pub has_account: bool,
    /// The account's name, for customers (and staff viewing as one).
    pub account_name: Option<String>,
    /// The operator disabled the account: its API keys are refused until it is enabled again.
    pub account_disabled: bool,
    /// Set while an operator views a customer's account (read-only).
    pub view_as: Option<ViewAsBanner>,
}

/// What the view-as banner says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewAsBanner {
    pub account_id: String,
    pub account_name: String,
    pub operator_email: String,
    pub reason: String,
    pub minutes_left: i64,
}

#[server]
pub async fn current_viewer() -> Result<Option<Viewer>, AppError> {
    let Some(user) = ssr::signed_in_user().await? else {
        return Ok(None);
    };
    let services = ssr::services()?;
    let account = match &user.account_id {
        Some(account_id) => services.accounts.account(account_id).await.map_err(ssr::internal)?,
        None => None,
    };
    let view_as = match ssr::view_as().await? {
        Some(view) => {
            let operator = ssr::real_user().await?.ok_or(AppError::Unauthenticated)?;
            Some(ViewAsBanner {
                account_id: view.account_id.clone(),
                account_name: account.as_ref().map_or_else(|| view.account_id.clone(), |a| a.name.clone()),
                operator_email: operator.email,
                reason: view.reason.clone(),
                minutes_left: view.minutes_left(services.clock.now()),
            })
        }
        None => None,
    };
    Ok(Some(Viewer {
        email: user.email,
        role: user.role.as_str().to_owned(),
        is_operator: user.role.is_operator(),
        has_account: user.account_id.is_some(),
        account_disabled: account.as_ref().is_some_and(|account| account.disabled_at.is_some()),
        account_name: account.map(|account| account.name),
        view_as,
    }))
}

#[server]
pub async fn log_in(email: String, password: String, next: String) -> Result<(), AppError> {
    use services::logins::LoginError;
    let services = ssr::services()?;
    let ip = ssr::client_ip().await?;
    let device = ssr::device_token().await?;
    let logged_in = services
        .logins
        .log_in(&email, secrecy::SecretString::from(password), ip, device.as_deref())
        .await
        .map_err(|error| match error {
            LoginError::InvalidCredentials => AppError::Invalid(error.to_string()),
            LoginError::Throttled { retry_after } => {
                AppError::Throttled { retry_after_secs: retry_after.as_secs() }
            }
            LoginError::Unavailable => AppError::Unavailable(error.to_string()),
            LoginError::Internal(cause) => ssr::internal(cause),
        })?;
    if let Some(token) = logged_in.new_device_token {
        ssr::remember_device(&token);
    }
    ssr::start_session(&services, logged_in.user.id).await?;
    leptos_axum::redirect(&landing(&next, logged_in.user.account_id.is_some()));
    Ok(())
}

#[server]
pub async fn sign_up(email: String, password: String, account_name: String) -> Result<(), AppError> {
    use services::accounts::SignUpError;
    let services = ssr::services()?;
    let ip = ssr::client_ip().await?;
    let user = services
        .logins
        .sign_up(&email, secrecy::SecretString::from(password), &account_name, ip)
        .await
        .map_err(|error| match error {
            SignUpError::Throttled { retry_after } => {
                AppError::Throttled { retry_after_secs: retry_after.as_secs() }
            }
            SignUpError::Unavailable => AppError::Unavailable(error.to_string()),
            SignUpError::Internal(cause) => ssr::internal(cause),
            expected => AppError::Invalid(expected.to_string()),
        })?;
    ssr::sign_in_new_user(&services, user).await?;
    leptos_axum::redirect("/");
    Ok(())
}

#[server]
pub async fn log_out() -> Result<(), AppError> {
    // Logging out ends a support view-as too, as the account's audit log says.
    crate::view_as::ssr::end_view(Some("logged out")).await?;
    let session = ssr::session().await?;
    session.flush().await.map_err(ssr::internal)?;
    leptos_axum::redirect("/login");
    Ok(())
}

/// Where a login lands: the page it was going to, else the home page: the overview for a
/// customer, the console for operator staff (who have no account of their own).
#[cfg(feature = "ssr")]
fn landing(next: &str, has_account: bool) -> String {
    match safe_next(next) {
        home if home == "/" && !has_account => "/admin".to_owned(),
        next => next,
    }
}

/// Where to go after login: a path on this site only, never another origin. Browsers drop
/// tabs and newlines from a URL (so `/\t/evil.example` would become `//evil.example`), and a
/// control character cannot be sent in a `Location` header at all: any of them, or any
/// whitespace, means the home page.
pub fn safe_next(next: &str) -> String {
    let is_local_path = next.starts_with('/')
        && !next.starts_with("//")
        && !next.contains('\\')
        && !next.chars().any(|c| c.is_control() || c.is_whitespace());
    if is_local_path { next.to_owned() } else { "/".to_owned() }
}

/// The login page, which brings the user back to `wanted` (a path with its query) afterwards.
pub fn login_url(wanted: &str) -> String {
    if wanted == "/" { "/login".to_owned() } else { format!("/login?next={}", encode_query_value(wanted)) }
}

/// Percent-encodes everything but unreserved characters and `/`, for a value in a query.
fn encode_query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(feature = "ssr")]
pub mod ssr {
    //! Server-side helpers every server function shares.

    use leptos::prelude::*;
    use services::Services;
    use services::accounts::User;
    use services::sessions::{AUTH_KEY, SessionAuth, VIEW_AS_KEY, ViewAs};
    use tower_sessions::Session;

    use crate::AppError;

    /// Logs the cause for operators and returns the generic error users see.
    pub fn internal(cause: impl std::fmt::Display) -> AppError {
        tracing::error!(%cause, "server function failed");
        AppError::Internal
    }

    pub fn services() -> Result<Services, AppError> {
        use_context::<Services>().ok_or_else(|| internal("services are not in the server function's context"))
    }

    pub async fn session() -> Result<Session, AppError> {
        leptos_axum::extract::<Session>().await.map_err(internal)
    }

    /// The user the pages act for: the signed-in user, or, while an operator views a customer's
    /// account, that account's owner (the server refuses every mutation then; see
    /// `crate::view_as`). Expired sessions were already ended by the server's session guard.
    pub async fn signed_in_user() -> Result<Option<User>, AppError> {
        if let Some(view) = view_as().await? {
            return services()?.accounts.owner_of(&view.account_id).await.map_err(internal);
        }
        real_user().await
    }

    /// Whoever signed in, operator or customer, view-as or not.
    pub async fn real_user() -> Result<Option<User>, AppError> {
        let session = session().await?;
        let Some(auth) = session.get::<SessionAuth>(AUTH_KEY).await.map_err(internal)? else {
            return Ok(None);
        };
        services()?.accounts.user(&auth.user_id).await.map_err(internal)
    }

    /// The session's view-as, if one is on and not over.
    pub async fn view_as() -> Result<Option<ViewAs>, AppError> {
        let view = session().await?.get::<ViewAs>(VIEW_AS_KEY).await.map_err(internal)?;
        let now = services()?.clock.now();
        Ok(view.filter(|view| !view.is_over(now)))
    }

    /// The signed-in operator (admin or support), acting as themselves.
    pub async fn require_operator() -> Result<User, AppError> {
        let user = real_user().await?.ok_or(AppError::Unauthenticated)?;
        if user.role.is_operator() { Ok(user) } else { Err(AppError::Forbidden) }
    }

    /// Cookie attributes the server decided from its settings.
    #[derive(Debug, Clone, Copy)]
    pub struct CookieSettings {
        pub secure: bool,
    }

    /// The browser's login-device cookie: see `services::logins`.
    const DEVICE_COOKIE: &str = "keystile_device";

    pub async fn client_ip() -> Result<std::net::IpAddr, AppError> {
        let axum::Extension(services::ClientIp(ip)) =
            leptos_axum::extract::<axum::Extension<services::ClientIp>>().await.map_err(internal)?;
        Ok(ip)
    }

    pub async fn device_token() -> Result<Option<String>, AppError> {
        let headers = leptos_axum::extract::<axum::http::HeaderMap>().await.map_err(internal)?;
        let token = headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(name, _)| *name == DEVICE_COOKIE)
            .map(|(_, value)| value.to_owned());
        Ok(token)
    }

    /// Asks the browser to keep the device token for a year, sent only to the login function.
    pub fn remember_device(token: &str) {
        let secure = use_context::<CookieSettings>().is_some_and(|c| c.secure);
        let cookie = format!(
            "{DEVICE_COOKIE}={token}; Path=/api/log_in; Max-Age=31536000; HttpOnly; SameSite=Lax{}",
            if secure { "; Secure" } else { "" }
        );
        if let (Some(response), Ok(value)) =
            (use_context::<leptos_axum::ResponseOptions>(), axum::http::HeaderValue::from_str(&cookie))
        {
            response.append_header(axum::http::header::SET_COOKIE, value);
        }
    }

    pub async fn require_user() -> Result<User, AppError> {
        signed_in_user().await?.ok_or(AppError::Unauthenticated)
    }

    /// Signs in a user who has just set their password (signing up, or joining a team). The
    /// browser that did so is theirs: it skips the per-account login throttle.
    pub async fn sign_in_new_user(services: &Services, user: User) -> Result<(), AppError> {
        match services.logins.remember_device(&user).await {
            Ok(token) => remember_device(&token),
            Err(error) => tracing::warn!(%error, "could not remember the new user's device"),
        }
        start_session(services, user.id).await
    }

    /// Signs `user_id` in under a fresh session id, so an id planted before login is worthless.
    pub async fn start_session(services: &Services, user_id: String) -> Result<(), AppError> {
        let session = session().await?;
        session.cycle_id().await.map_err(internal)?;
        let auth = SessionAuth::new(user_id, services.clock.now());
        session.insert(AUTH_KEY, auth).await.map_err(internal)
    }
}

#[cfg(test)]
mod tests {
    use super::{login_url, safe_next};

    #[test]
    fn the_wanted_page_survives_the_trip_through_login() {
        assert_eq!(login_url("/keys?tab=a&b=c"), "/login?next=/keys%3Ftab%3Da%26b%3Dc");
        assert_eq!(login_url("/"), "/login");
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_next("/keys?tab=active"), "/keys?tab=active");
        for unsafe_next in [
            "",
            "https://evil.example",
            "//evil.example",
            "/\\evil.example",
            "keys",
            "/\t/evil.example",
            "/\n",
            "/a\u{7f}",
            "/ /x",
        ] {
            assert_eq!(safe_next(unsafe_next), "/", "{unsafe_next:?}");
        }
    }

    #[cfg(feature = "ssr")]
    #[test]
    fn staff_without_an_account_land_on_the_console() {
        use super::landing;
        assert_eq!(landing("/", false), "/admin");
        assert_eq!(landing("https://evil.example", false), "/admin");
        assert_eq!(landing("/admin/audit", false), "/admin/audit");
        assert_eq!(landing("/", true), "/");
    }
}
