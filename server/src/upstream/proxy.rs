//! The streaming reverse proxy to the operator's API.
//!
//! One pooled hyper client (HTTP/1.1, keep-alive) per proxy. A request keeps its method, path,
//! query and body under the base URL's path (`http://h:9000/api` + `/v1/check?x=1` →
//! `http://h:9000/api/v1/check?x=1`); bodies are handed over as streams in both directions, so
//! uploads and server-sent events are never buffered. Hop-by-hop headers and the caller's API key
//! are dropped; `X-Forwarded-*` are added.
//!
//! Failures: cannot connect, or the connection fails before a response head → 502; no response
//! head within the timeout (connect included) → 504. Both are problem+json and logged without
//! headers. A response body that fails mid-stream ends the stream (the status has been sent).

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::uri::{Authority, PathAndQuery};
use axum::http::{StatusCode, Uri, Version, header};
use axum::response::Response;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::forwarding::{self, Origin};
use super::{ProxyOptions, UpstreamError};
use crate::gateway::{REQUEST_ID, problem};

/// Idle pooled connections are closed after this long.
const POOL_IDLE: Duration = Duration::from_secs(90);

/// An upstream base URL: `http://host[:port][/prefix]`, checked once at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamUrl {
    authority: Authority,
    /// The prefix without a trailing slash: empty, or `/api`.
    prefix: String,
}

impl FromStr for UpstreamUrl {
    type Err = UpstreamError;

    fn from_str(url: &str) -> Result<Self, UpstreamError> {
        if url.contains('#') || url.contains('?') {
            return Err(UpstreamError::QueryOrFragment);
        }
        let uri: Uri = url.parse().map_err(|_| UpstreamError::Unparsable)?;
        match uri.scheme_str() {
            Some("http") => {}
            Some(_) => return Err(UpstreamError::UnsupportedScheme),
            None => return Err(UpstreamError::Unparsable),
        }
        let authority = uri.authority().cloned().ok_or(UpstreamError::NoHost)?;
        if authority.as_str().contains('@') {
            return Err(UpstreamError::Credentials);
        }
        if authority.host().is_empty() {
            return Err(UpstreamError::NoHost);
        }
        Ok(Self { authority, prefix: uri.path().trim_end_matches('/').to_owned() })
    }
}

impl UpstreamUrl {
    /// The upstream URI of a request's path and query.
    pub fn join(&self, path_and_query: &str) -> Result<Uri, axum::http::Error> {
        let path_and_query = match (self.prefix.as_str(), path_and_query) {
            ("", "") => PathAndQuery::from_static("/"),
            (prefix, rest) => PathAndQuery::try_from(format!("{prefix}{rest}"))?,
        };
        Uri::builder().scheme("http").authority(self.authority.clone()).path_and_query(path_and_query).build()
    }
}

impl fmt::Display for UpstreamUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "http://{}{}", self.authority, self.prefix)
    }
}

/// Forwards requests to one upstream base URL. Cheap to clone (one shared client and pool).
#[derive(Clone)]
pub struct ReverseProxy(Arc<Inner>);

struct Inner {
    client: Client<HttpConnector, Body>,
    base: UpstreamUrl,
    options: ProxyOptions,
}

impl ReverseProxy {
    pub fn new(base: UpstreamUrl, options: ProxyOptions) -> Result<Self, UpstreamError> {
        if options.timeout.is_zero() {
            return Err(UpstreamError::ZeroTimeout);
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(options.timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new()).pool_idle_timeout(POOL_IDLE).build(connector);
        Ok(Self(Arc::new(Inner { client, base, options })))
    }

    pub fn base(&self) -> &UpstreamUrl {
        &self.0.base
    }

    /// A router sending every request, whatever its path and method, to [`Self::forward`].
    pub fn router(&self) -> Router {
        Router::new().fallback(forward_request).with_state(self.clone())
    }

    /// Sends `request` upstream and returns its streaming response, or a 502/504 problem.
    pub async fn forward(&self, request: Request) -> Response {
        // The id the gateway gave the request, for a fault's body as for its header.
        let request_id = request.headers().get(REQUEST_ID).cloned();
        let fault = |fault| self.fault(fault, request_id.as_ref().and_then(|id| id.to_str().ok()));
        let path_and_query = request.uri().path_and_query().map_or("", PathAndQuery::as_str);
        let target = match self.0.base.join(path_and_query) {
            Ok(target) => target,
            Err(_) => return fault(Fault::Unreachable),
        };
        let request = self.upstream_request(request, target);
        match tokio::time::timeout(self.0.options.timeout, self.0.client.request(request)).await {
            Ok(Ok(response)) => downstream_response(response.map(Body::new)),
            Ok(Err(error)) => {
                tracing::warn!(upstream = %self.0.base, error = ?error, "upstream request failed");
                fault(Fault::of(&error))
            }
            Err(_elapsed) => {
                tracing::warn!(upstream = %self.0.base, timeout = ?self.0.options.timeout, "upstream timed out");
                fault(Fault::TimedOut)
            }
        }
    }

    fn upstream_request(&self, request: Request, target: Uri) -> Request {
        let origin = self.origin(&request);
        let (mut parts, body) = request.into_parts();
        parts.uri = target;
        // The pool speaks HTTP/1.1 whatever the caller spoke; the client sets Host from the URI.
        parts.version = Version::HTTP_11;
        parts.headers.remove(header::HOST);
        forwarding::remove_hop_by_hop(&mut parts.headers);
        forwarding::remove_api_key(&mut parts.headers);
        forwarding::add_forwarded(&mut parts.headers, &origin);
        Request::from_parts(parts, body)
    }

    /// The caller's address, the host it asked for and the scheme it used.
    fn origin(&self, request: &Request) -> Origin {
        let host = request.headers().get(header::HOST).cloned();
        let authority = || request.uri().authority().and_then(|authority| authority.as_str().parse().ok());
        Origin {
            peer: request.extensions().get::<ConnectInfo<SocketAddr>>().map(|info| info.0.ip()),
            host: host.or_else(authority),
            proto: self.0.options.forwarded_proto.as_str(),
        }
    }

    fn fault(&self, fault: Fault, request_id: Option<&str>) -> Response {
        let type_base = self.0.options.problem_type_base.as_deref();
        let (status, code, title, detail) = match fault {
            Fault::Unreachable => (
                StatusCode::BAD_GATEWAY,
                "bad_gateway",
                "Bad gateway",
                "The upstream API could not be reached or sent an invalid response.",
            ),
            Fault::TimedOut => (
                StatusCode::GATEWAY_TIMEOUT,
                "gateway_timeout",
                "Gateway timeout",
                "The upstream API did not answer in time.",
            ),
        };
        problem(status, type_base, code, title, detail, request_id.unwrap_or(""))
    }
}

async fn forward_request(State(proxy): State<ReverseProxy>, request: Request) -> Response {
    proxy.forward(request).await
}

/// The upstream's response with its hop-by-hop headers and any attempt to set keystile's
/// session cookie removed; the body still streams.
fn downstream_response(mut response: Response) -> Response {
    forwarding::remove_hop_by_hop(response.headers_mut());
    crate::sessions::remove_session_set_cookie(response.headers_mut());
    response
}

/// How an upstream exchange failed.
enum Fault {
    Unreachable,
    TimedOut,
}

impl Fault {
    /// A connect timeout is a timeout (504); every other client error is a bad gateway (502).
    fn of(error: &hyper_util::client::legacy::Error) -> Self {
        if error.is_connect() && caused_by_timeout(error) { Self::TimedOut } else { Self::Unreachable }
    }
}

fn caused_by_timeout(error: &(dyn StdError + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(current) = cause {
        if current.downcast_ref::<io::Error>().is_some_and(|io| io.kind() == io::ErrorKind::TimedOut) {
            return true;
        }
        cause = current.source();
    }
    false
}
