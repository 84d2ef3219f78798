//! Pages on other sites calling the API from a browser (CORS), as seed 001 expects a front-end
//! to: reading `X-RateLimit-Remaining` before a call and linking `X-Upgrade-URL` on a 429.
//!
//! The keyed API authenticates with keys sent explicitly, never with cookies, so letting any
//! origin call it grants no page more than the key it already holds; that is why the default
//! is `*`, as public APIs such as GitHub's answer. An operator may name the allowed origins
//! instead, or none (`cors_origins = []`): no page on another site can then call the API (a
//! preflight is then an API request like any other, and without a key it gets the 401).
//!
//! - **Preflights** (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) from an
//!   allowed origin are answered here, 204, for every method and the headers asked for. They
//!   need no key, charge no bucket, are not counted and never reach the upstream.
//! - **Every other answer** to an allowed origin (admitted, 401, 429, 502…) carries
//!   `Access-Control-Allow-Origin` and `Access-Control-Expose-Headers: *`, so the page can
//!   read the rate-limit headers, `Retry-After`, `X-Upgrade-URL` and the request id.
//!   Credentials are never allowed, which is what lets `*` stand for every header.
//!
//! A request from an origin not allowed gets no CORS headers, and the browser keeps the answer
//! from the page. Requests without `Origin` (programs, not browsers) get none either.
//!
//! [`CorsLayer`] is the API's outermost layer, so that the 413 of an oversized body is readable
//! too. It is a plain tower layer rather than an axum `from_fn` middleware: a request without
//! `Origin` goes straight through, with no boxed future, so programs pay nothing for it (unless
//! origins are listed: every answer then says `Vary: Origin`).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use tower::{Layer, Service};

use crate::edge::{LayerFuture, answer_now, finish_with, pass_through};

/// How long a browser may reuse a preflight's answer.
const PREFLIGHT_MAX_AGE_SECONDS: &str = "600";
const METHODS: &str = "GET, HEAD, POST, PUT, PATCH, DELETE";

/// The origins whose pages may call the API.
#[derive(Debug, Clone, Default)]
pub enum Cors {
    /// Any origin (`*`).
    #[default]
    Any,
    /// Only these, each as `scheme://host[:port]`.
    Listed(Vec<HeaderValue>),
}

impl Cors {
    /// From the settings' list: `*` anywhere in it allows any origin; an empty list allows none.
    pub fn from_origins(origins: &[String]) -> Self {
        if origins.iter().any(|origin| origin == "*") {
            return Cors::Any;
        }
        // Browsers send scheme and host in lower case.
        let listed =
            origins.iter().filter_map(|origin| HeaderValue::from_str(&origin.to_ascii_lowercase()).ok());
        Cors::Listed(listed.collect())
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if it is allowed.
    fn allowed(&self, origin: &HeaderValue) -> Option<HeaderValue> {
        match self {
            Cors::Any => Some(HeaderValue::from_static("*")),
            Cors::Listed(origins) => origins.contains(origin).then(|| origin.clone()),
        }
    }

    /// The answer to `request` when it is a preflight from an allowed origin.
    fn preflight(&self, request: &Request) -> Option<Response> {
        let headers = request.headers();
        if request.method() != Method::OPTIONS || !headers.contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return None;
        }
        let allow_origin = self.allowed(headers.get(header::ORIGIN)?)?;
        let mut response = Response::new(Body::empty());
        *response.status_mut() = StatusCode::NO_CONTENT;
        let out = response.headers_mut();
        self.add_vary(out);
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        out.insert(header::ACCESS_CONTROL_ALLOW_METHODS, HeaderValue::from_static(METHODS));
        if let Some(asked) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            // `Authorization` cannot be granted by `*`, so the headers asked for are named back.
            out.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
        out.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static(PREFLIGHT_MAX_AGE_SECONDS));
        // Like every answer of the API, one a caller can quote to support.
        if let Ok(id) = HeaderValue::from_str(&super::enforce::request_id()) {
            out.insert(super::problems::REQUEST_ID, id);
        }
        Some(response)
    }

    /// Lets the page at `origin` (the request's `Origin`, if it sent one) read `response`.
    fn allow(&self, origin: Option<&HeaderValue>, response: &mut Response) {
        let out = response.headers_mut();
        self.add_vary(out);
        let Some(allow_origin) = origin.and_then(|origin| self.allowed(origin)) else {
            return;
        };
        out.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, allow_origin);
        out.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("*"));
    }

    /// A listed origin is echoed and another gets nothing, so every answer differs by `Origin`
    /// and caches must know it (a cached answer to one origin must not serve another).
    fn add_vary(&self, headers: &mut HeaderMap) {
        if matches!(self, Cors::Listed(_)) {
            headers.append(header::VARY, HeaderValue::from_static("Origin"));
        }
    }
}

/// Applies [`Cors`] to every answer of the service it wraps.
#[derive(Clone)]
pub struct CorsLayer(Arc<Cors>);

impl CorsLayer {
    pub fn new(cors: Cors) -> Self {
        Self(Arc::new(cors))
    }
}

impl<S> Layer<S> for CorsLayer {
    type Service = CorsService<S>;

    fn layer(&self, inner: S) -> CorsService<S> {
        CorsService { cors: Arc::clone(&self.0), inner }
    }
}

#[derive(Clone)]
pub struct CorsService<S> {
    cors: Arc<Cors>,
    inner: S,
}

impl<S> Service<Request> for CorsService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    /// A preflight's answer, the inner future as it is (no `Origin`), or boxed to add headers.
    type Future = LayerFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let origin = request.headers().get(header::ORIGIN).cloned();
        if origin.is_none() && matches!(*self.cors, Cors::Any) {
            // A program's request, and no `Vary` to add: nothing to do.
            return pass_through(self.inner.call(request));
        }
        if let Some(preflight) = self.cors.preflight(&request) {
            return answer_now(preflight);
        }
        let cors = Arc::clone(&self.cors);
        let answer = self.inner.call(request);
        finish_with(async move {
            let mut response = answer.await?;
            cors.allow(origin.as_ref(), &mut response);
            Ok(response)
        })
    }
}

/// Whether `origin` is one `Access-Control-Allow-Origin` can name: `*`, or
/// `http(s)://host[:port]` with no path, as browsers send it.
pub fn is_valid_origin(origin: &str) -> bool {
    if origin == "*" {
        return true;
    }
    let Some((scheme, host)) = origin.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !host.is_empty()
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':' | b'[' | b']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_and_host_only() {
        for good in ["*", "https://app.example.com", "http://127.0.0.1:5173", "http://[::1]:8080"] {
            assert!(is_valid_origin(good), "{good}");
        }
        for bad in ["", "app.example.com", "https://", "https://app.example.com/", "ftp://x", "https://a b"] {
            assert!(!is_valid_origin(bad), "{bad}");
        }
    }
}
