//! Every request's edge, outermost, as plain tower layers: [`Edge`] (the caller's address, and
//! the security headers of every answer) and [`BodyLimit`] (the most a request body may carry).
//!
//! They are written as `Layer`s rather than axum `from_fn` middleware because every request
//! passes them: a `from_fn` layer clones the service it wraps and boxes a future on each call,
//! which measurably slowed the gateway (`server/benches/gateway_load.rs`), while these add
//! nothing to a request that needs nothing (a GET without a body passes [`BodyLimit`] untouched).

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, HttpBody};
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use futures_util::FutureExt;
use futures_util::future::{BoxFuture, Either, Map, Ready, ready};
use http_body_util::BodyExt;
use services::ClientIp;
use tower::{Layer, Service};

/// What a layer's service answers.
pub(crate) type Answer = Result<Response, Infallible>;

/// A layer's future: its own answer at once, the inner service's future untouched (what most
/// requests get, at no cost), or a boxed one that finishes the inner answer.
pub(crate) type LayerFuture<F> = Either<Ready<Answer>, Either<F, BoxFuture<'static, Answer>>>;

/// The layer answers `response` itself; the inner service is not called.
pub(crate) fn answer_now<F>(response: Response) -> LayerFuture<F> {
    Either::Left(ready(Ok(response)))
}

/// The inner service's answer, as it is.
pub(crate) fn pass_through<F>(inner: F) -> LayerFuture<F> {
    Either::Right(Either::Left(inner))
}

/// The inner service's answer, finished by `finish`.
pub(crate) fn finish_with<F>(finish: impl Future<Output = Answer> + Send + 'static) -> LayerFuture<F> {
    Either::Right(Either::Right(Box::pin(finish)))
}

/// What the edge needs to know: the proxies whose `X-Forwarded-For` is believed, and whether
/// users reach keystile over HTTPS.
///
/// As a layer, it puts the caller's [`ClientIp`] in the request's extensions (the socket peer,
/// or, when the peer is a trusted proxy, the right-most address in `X-Forwarded-For` that is not
/// itself a trusted proxy), and gives every response the security headers: no framing by other
/// sites, no MIME sniffing, no referrer leaking paths to other origins, and, when served over
/// HTTPS, HTTPS only from then on (a year of HSTS).
#[derive(Clone, Default)]
pub struct Edge {
    pub trusted_proxies: Arc<Vec<IpAddr>>,
    pub https: bool,
}

impl<S> Layer<S> for Edge {
    type Service = EdgeService<S>;

    fn layer(&self, inner: S) -> EdgeService<S> {
        EdgeService { edge: self.clone(), inner }
    }
}

#[derive(Clone)]
pub struct EdgeService<S> {
    edge: Edge,
    inner: S,
}

impl<S> Service<Request> for EdgeService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Map<S::Future, fn(Answer) -> Answer>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let peer = request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|info| info.0.ip())
            .unwrap_or(IpAddr::from([127, 0, 0, 1]));
        let ip = client_ip(peer, request.headers(), &self.edge.trusted_proxies);
        request.extensions_mut().insert(ClientIp(ip));
        let secure: fn(Answer) -> Answer =
            if self.edge.https { with_https_headers } else { with_security_headers };
        self.inner.call(request).map(secure)
    }
}

fn with_security_headers(answer: Answer) -> Answer {
    answer.map(|mut response| {
        let headers = response.headers_mut();
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
        response
    })
}

fn with_https_headers(answer: Answer) -> Answer {
    with_security_headers(answer).map(|mut response| {
        response
            .headers_mut()
            .insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
        response
    })
}

/// The caller's address: the peer, or, when the peer is a trusted proxy, the right-most
/// `X-Forwarded-For` hop that is not a trusted proxy itself.
fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpAddr]) -> IpAddr {
    if !trusted.contains(&peer) {
        return peer;
    }
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|hop| hop.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded.into_iter().rev().find(|hop| !trusted.contains(hop)).unwrap_or(peer)
}

/// Refuses a request body over its `usize` bytes with a problem+json 413: at once when its
/// declared length is over, else once the stream has passed the limit, whatever the handler made
/// of the cut-off body (a server function reads it as unreadable arguments, the proxy as a
/// failed upload).
#[derive(Clone, Copy)]
pub struct BodyLimit(pub usize);

impl<S> Layer<S> for BodyLimit {
    type Service = BodyLimitService<S>;

    fn layer(&self, inner: S) -> BodyLimitService<S> {
        BodyLimitService { max: self.0, inner }
    }
}

#[derive(Clone)]
pub struct BodyLimitService<S> {
    max: usize,
    inner: S,
}

impl<S> Service<Request> for BodyLimitService<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    /// The 413 at once, the inner future as it is (no body), or boxed to watch the body.
    type Future = LayerFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let max = self.max;
        let declared = request
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse::<u64>().ok());
        if declared.is_some_and(|length| length > max as u64) {
            return answer_now(body_too_large(max, None));
        }
        if request.body().is_end_stream() {
            // No body at all (most GETs): nothing to count.
            return pass_through(self.inner.call(request));
        }
        let passed_limit = Arc::new(AtomicBool::new(false));
        let noticed = Arc::clone(&passed_limit);
        let request = request.map(|body| {
            Body::new(http_body_util::Limited::new(body, max).map_err(move |error| {
                if error.is::<http_body_util::LengthLimitError>() {
                    noticed.store(true, Ordering::Relaxed);
                }
                error
            }))
        });
        let answer = self.inner.call(request);
        finish_with(async move {
            let response = answer.await?;
            if !passed_limit.load(Ordering::Relaxed) {
                return Ok(response);
            }
            // The id the gateway gave the request and its logs know, if it got that far.
            Ok(body_too_large(max, response.headers().get(crate::gateway::REQUEST_ID)))
        })
    }
}

/// The 413, under the request's id (`request_id`, or a new one), in its body and header.
fn body_too_large(max: usize, request_id: Option<&HeaderValue>) -> Response {
    let detail = format!("The body is over {}, the most this endpoint accepts.", size_in_words(max));
    let request_id =
        request_id.and_then(|id| id.to_str().ok()).map_or_else(crate::gateway::request_id, str::to_owned);
    let mut response = crate::gateway::problem(
        StatusCode::PAYLOAD_TOO_LARGE,
        None,
        "body_too_large",
        "Body too large",
        &detail,
        &request_id,
    );
    if let Ok(id) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(crate::gateway::REQUEST_ID, id);
    }
    closing_connection(response)
}

/// A body limit as people write it, in the largest unit that says it exactly: "10 MiB".
fn size_in_words(bytes: usize) -> String {
    let exactly = |unit: usize| bytes >= unit && bytes.is_multiple_of(unit);
    match bytes {
        _ if exactly(1024 * 1024) => format!("{} MiB", bytes / (1024 * 1024)),
        _ if exactly(1024) => format!("{} KiB", bytes / 1024),
        _ => format!("{bytes} bytes"),
    }
}

/// Marks a refusal sent before its request body was read to the end: the connection closes
/// after it, since a client that sent its next request on the same connection would find it
/// broken mid-write.
pub(crate) fn closing_connection(mut response: Response) -> Response {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A header map of `pairs`, for the edge's and the dashboard guards' tests.
    pub(crate) fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn body_limits_are_said_in_the_largest_whole_unit() {
        assert_eq!(size_in_words(64 * 1024), "64 KiB");
        assert_eq!(size_in_words(10 * 1024 * 1024), "10 MiB");
        assert_eq!(size_in_words(3 * 512 * 1024), "1536 KiB");
        assert_eq!(size_in_words(5_000), "5000 bytes");
    }

    #[test]
    fn forwarded_addresses_are_believed_only_from_trusted_proxies() {
        let proxy: IpAddr = "10.0.0.1".parse().unwrap();
        let client: IpAddr = "203.0.113.7".parse().unwrap();
        let spoofed = headers(&[("x-forwarded-for", "198.51.100.1, 203.0.113.7")]);
        assert_eq!(client_ip(client, &spoofed, &[proxy]), client);
        assert_eq!(client_ip(proxy, &spoofed, &[proxy]), client);
        assert_eq!(client_ip(proxy, &headers(&[]), &[proxy]), proxy);
    }
}
