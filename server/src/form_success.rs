//! Success messages for forms sent without JavaScript.
//!
//! Without JavaScript a form posts to its server function, which redirects back to the page it
//! came from. server_fn marks a failure in that address (`__path` and `__err`, which the page's
//! form reads to show the error) but marks nothing on success, so the reloaded page could not
//! say "Key renamed." as it does with JavaScript. [`mark_success`] adds `__ok=<the server
//! function's path>` to a successful redirect back, and the page's `FormSaved` shows its
//! message for it. A page's own redirects (after logging in, say) are left as they are.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use url::Url;

/// The query parameter naming the server function that just succeeded.
const SUCCESS_PARAM: &str = "__ok";
/// server_fn's parameter carrying a failed call's error, with `__path`, its function.
const ERROR_PARAM: &str = "__err";
/// Every parameter a call puts in the address; the rest belongs to the page.
const CALL_PARAMS: [&str; 3] = [SUCCESS_PARAM, "__path", ERROR_PARAM];

/// Marks a server function's redirect back to its form's page with [`SUCCESS_PARAM`] if it
/// succeeded, and drops an earlier call's mark either way.
pub async fn mark_success(request: Request, next: Next) -> Response {
    if !request.uri().path().starts_with("/api/") {
        return next.run(request).await;
    }
    let server_fn = request.uri().path().to_owned();
    let referer = request.headers().get(header::REFERER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut response = next.run(request).await;
    if !response.status().is_redirection() {
        return response;
    }
    let location = response.headers().get(header::LOCATION).and_then(|v| v.to_str().ok());
    let marked = match (referer, location) {
        (Some(referer), Some(location)) => back_with_mark(&referer, location, &server_fn),
        _ => None,
    };
    if let Some(value) = marked.and_then(|marked| HeaderValue::from_str(&marked).ok()) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

/// `location` with its success mark set for `server_fn` (or dropped, after a failure), when it
/// is `referer`'s page again; `None` for a redirect anywhere else.
fn back_with_mark(referer: &str, location: &str, server_fn: &str) -> Option<String> {
    let (referer, mut location) = (Url::parse(referer).ok()?, Url::parse(location).ok()?);
    let same_page = referer.origin() == location.origin()
        && referer.path() == location.path()
        && pairs_without(&referer, &CALL_PARAMS) == pairs_without(&location, &CALL_PARAMS);
    if !same_page {
        return None;
    }
    let failed = location.query_pairs().any(|(key, _)| key == ERROR_PARAM);
    let mut pairs = pairs_without(&location, &[SUCCESS_PARAM]);
    if !failed {
        pairs.push((SUCCESS_PARAM.to_owned(), server_fn.to_owned()));
    }
    location.set_query(None);
    if !pairs.is_empty() {
        location.query_pairs_mut().extend_pairs(&pairs);
    }
    Some(location.to_string())
}

/// `url`'s query pairs but those named in `dropped`, in order.
fn pairs_without(url: &Url, dropped: &[&str]) -> Vec<(String, String)> {
    url.query_pairs()
        .filter(|(key, _)| !dropped.contains(&key.as_ref()))
        .map(|(key, value)| (key.into_owned(), value.into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::back_with_mark;

    const KEYS: &str = "http://127.0.0.1:3000/keys";

    #[test]
    fn a_redirect_back_after_success_is_marked() {
        let marked = back_with_mark(KEYS, KEYS, "/api/rename_key");
        assert_eq!(marked.as_deref(), Some("http://127.0.0.1:3000/keys?__ok=%2Fapi%2Frename_key"));
    }

    #[test]
    fn an_earlier_mark_is_replaced_and_the_page_query_kept() {
        let page = "http://127.0.0.1:3000/audit?action=key.&__ok=%2Fapi%2Frename_key";
        let marked = back_with_mark(page, page, "/api/revoke_key");
        assert_eq!(
            marked.as_deref(),
            Some("http://127.0.0.1:3000/audit?action=key.&__ok=%2Fapi%2Frevoke_key")
        );
    }

    #[test]
    fn a_failure_drops_the_earlier_mark_and_keeps_the_error() {
        let page = "http://127.0.0.1:3000/keys?__ok=%2Fapi%2Frename_key";
        let failed =
            "http://127.0.0.1:3000/keys?__ok=%2Fapi%2Frename_key&__path=%2Fapi%2Frename_key&__err=abc";
        let marked = back_with_mark(page, failed, "/api/rename_key");
        assert_eq!(
            marked.as_deref(),
            Some("http://127.0.0.1:3000/keys?__path=%2Fapi%2Frename_key&__err=abc")
        );
    }

    #[test]
    fn a_redirect_elsewhere_is_left_alone() {
        assert_eq!(
            back_with_mark("http://127.0.0.1:3000/login", "http://127.0.0.1:3000/", "/api/login"),
            None
        );
        assert_eq!(back_with_mark(KEYS, "/keys", "/api/rename_key"), None, "not an absolute address");
    }
}
