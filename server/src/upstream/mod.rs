//! The upstream: where the gateway sends the requests it admits.
//!
//! With an upstream URL configured, a [`ReverseProxy`] forwards each request to the operator's
//! API over a pooled HTTP/1.1 client, streaming both bodies (server-sent events flow event by
//! event), dropping hop-by-hop headers and adding `X-Forwarded-For`/`-Proto`/`-Host`. Without
//! one, the built-in [`SampleApi`] answers the seed routes (`/v1/check`, `/v1/snapshots`,
//! `/v1/scans`, …) so the demo and the tests call something real.
//!
//! Both are mounted the same way, as the router that answers every path under `/v1/` the
//! gateway does not answer itself:
//!
//! ```ignore
//! let upstream = Upstream::from_config(&UpstreamConfig { url: settings.upstream_url.clone(), ..Default::default() })?;
//! let api = gateway.router(upstream.router(), MAX_API_BODY_BYTES);
//! ```
//!
//! Failures: a bad upstream URL is an [`UpstreamError`] at start. At run time an upstream fault is
//! an RFC 9457 problem+json answer in the gateway's shape ([`crate::gateway::problem`]), never a
//! panic or a 500: 502 when the upstream cannot be reached or answers nonsense, 504 when it does
//! not answer (connect and response head) within [`ProxyOptions::timeout`]. A body already
//! streaming is never cut by that timeout.

mod forwarding;
mod proxy;
mod sample;

use std::time::Duration;

use axum::Router;

pub use forwarding::{CallerIdentity, cap_limit_parameter, remove_api_key, remove_hop_by_hop, set_caller};
pub use proxy::{ReverseProxy, UpstreamUrl};
pub use sample::SampleApi;

/// How long the upstream has to accept the connection and send its response head.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the upstream is and how to reach it.
#[derive(Debug, Clone, Default)]
pub struct UpstreamConfig {
    /// The operator's API base URL, `http://host:port[/prefix]`; `None` serves the sample API.
    pub url: Option<String>,
    pub proxy: ProxyOptions,
}

/// How the reverse proxy behaves.
#[derive(Debug, Clone)]
pub struct ProxyOptions {
    /// Limit for connecting and receiving the response head; streaming bodies are not cut.
    pub timeout: Duration,
    /// The scheme callers use to reach keystile, sent upstream as `X-Forwarded-Proto`.
    pub forwarded_proto: ForwardedProto,
    /// Prefix of the problem `type` URI of 502/504 answers (the policy's problem type base);
    /// `None` writes `about:blank`.
    pub problem_type_base: Option<String>,
}

impl Default for ProxyOptions {
    fn default() -> Self {
        Self { timeout: DEFAULT_TIMEOUT, forwarded_proto: ForwardedProto::Http, problem_type_base: None }
    }
}

/// The scheme a caller used to reach keystile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForwardedProto {
    Http,
    Https,
}

impl ForwardedProto {
    /// `Https` when keystile's public URL is `https://…` (TLS ends in front of keystile).
    pub fn of_public_url(public_url: &str) -> Self {
        if public_url.starts_with("https://") { Self::Https } else { Self::Http }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }
}

/// Why an upstream configuration is refused. The messages never repeat the URL, which might
/// carry a password.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum UpstreamError {
    #[error("the upstream URL is not a valid URL")]
    Unparsable,
    #[error("the upstream URL must start with http:// (https upstreams are not supported)")]
    UnsupportedScheme,
    #[error("the upstream URL must name a host")]
    NoHost,
    #[error("the upstream URL must not carry a user name or password")]
    Credentials,
    #[error("the upstream URL must not have a query or fragment")]
    QueryOrFragment,
    #[error("the upstream timeout must be longer than zero")]
    ZeroTimeout,
}

/// The upstream the gateway forwards to.
#[derive(Clone)]
pub enum Upstream {
    Proxy(ReverseProxy),
    Sample(SampleApi),
}

impl Upstream {
    /// The reverse proxy when a URL is configured (a blank one counts as none), else the
    /// sample API.
    pub fn from_config(config: &UpstreamConfig) -> Result<Self, UpstreamError> {
        match config.url.as_deref().map(str::trim).filter(|url| !url.is_empty()) {
            Some(url) => Ok(Self::Proxy(ReverseProxy::new(url.parse()?, config.proxy.clone())?)),
            None => Ok(Self::Sample(SampleApi::new())),
        }
    }

    /// A router answering every path: mount it as the gateway's fallback.
    pub fn router(&self) -> Router {
        match self {
            Self::Proxy(proxy) => proxy.router(),
            Self::Sample(sample) => sample.router(),
        }
    }

    /// For the start-up log line: where admitted requests go.
    pub fn describe(&self) -> String {
        match self {
            Self::Proxy(proxy) => format!("reverse proxy to {}", proxy.base()),
            Self::Sample(_) => "the built-in sample API".to_owned(),
        }
    }
}

/// [`Upstream::from_config`] then [`Upstream::router`].
pub fn upstream_router(config: &UpstreamConfig) -> Result<Router, UpstreamError> {
    Ok(Upstream::from_config(config)?.router())
}
