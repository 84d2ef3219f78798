//! The gateway: what a program calling the protected API meets.
//!
//! Every request under `/v1/` (but the session-authenticated `/v1/keys` API) passes
//! [`enforce::enforce`]: the API key is verified through this node's [`key_cache::KeyCache`],
//! the policy names the buckets the request consumes, the limiter decides them all at once, and
//! the request is refused with the policy's 429 or forwarded upstream with rate-limit headers.
//! Key changes reach every node's cache through the [`changes::ChangeBroadcast`].
//!
//! Browsers on other sites may call it too: [`cors`] answers their preflights and lets the
//! allowed origins read every answer.
//!
//! Failures: an unreadable or refused key is one identical 401; a limiter store or database
//! fault is a 503 with `Retry-After`, never a 500 or a hang.

mod callers;
pub mod changes;
mod cors;
mod endpoints;
mod enforce;
mod idempotency;
mod key_cache;
mod key_uses;
mod problems;
mod responses;
mod spend;

use std::sync::Arc;
use std::time::Duration;

use axum::routing::get;
use axum::{Router, middleware};
use services::Services;
use usage::{UsageQueries, UsageRecorder};

pub use cors::{Cors, is_valid_origin};
pub use enforce::request_id;
pub use idempotency::request_fingerprint;
pub use key_cache::KeyCache;
pub use problems::{REQUEST_ID, WRONG_METHOD, problem};
pub(crate) use responses::{add_limit_headers, from_rendered};

/// The gateway's state, shared by every request.
#[derive(Clone)]
pub struct Gateway(Arc<GatewayInner>);

pub struct GatewayInner {
    services: Services,
    cache: Arc<KeyCache>,
    key_uses: key_uses::KeyUses,
    /// Every keyed request's counts, until the usage flusher writes them to the rollups.
    pub usage: UsageRecorder,
    usage_queries: UsageQueries,
    spend: spend::SpendCaps,
}

impl std::ops::Deref for Gateway {
    type Target = GatewayInner;

    fn deref(&self) -> &GatewayInner {
        &self.0
    }
}

impl Gateway {
    pub fn new(services: Services, cache: Arc<KeyCache>) -> Self {
        let usage_queries = UsageQueries::new(services.db.clone());
        Self(Arc::new(GatewayInner {
            services,
            cache,
            key_uses: key_uses::KeyUses::default(),
            usage: UsageRecorder::new(),
            spend: spend::SpendCaps::new(usage_queries.clone()),
            usage_queries,
        }))
    }

    /// The `/v1` API: the gateway's own endpoints, and `upstream` for every other path under
    /// `/v1/`, all behind the enforcement layer (which also applies `Idempotency-Key`s). Request
    /// bodies stream through up to `max_body` bytes. Outermost, [`cors::CorsLayer`] answers
    /// browsers' preflights and lets the pages `cors` allows read the answers.
    ///
    /// One router, so a request is matched once here and once by the upstream's own routes.
    pub fn router(&self, upstream: Router, max_body: usize, cors: Cors) -> Router {
        Router::new()
            .route("/v1/limits", get(endpoints::limits))
            .route("/v1/usage", get(endpoints::usage))
            .method_not_allowed_fallback(endpoints::wrong_method)
            .route_service("/v1/{*rest}", upstream)
            .with_state(self.clone())
            .layer(middleware::from_fn_with_state(self.clone(), enforce::enforce))
            .layer(crate::edge::BodyLimit(max_body))
            .layer(cors::CorsLayer::new(cors))
    }

    /// Writes batched last-used times every second until the process ends.
    pub fn spawn_flusher(&self) {
        let gateway = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_secs(1));
            loop {
                every.tick().await;
                gateway.key_uses.flush(&gateway.services.keys).await;
            }
        });
    }

    /// Writes whatever is still in memory (graceful shutdown).
    pub async fn flush(&self) {
        self.key_uses.flush(&self.services.keys).await;
    }
}
