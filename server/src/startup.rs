//! Building the application from settings, and serving it until told to stop.
//!
//! [`Application::build`] binds the listener (port 0 picks a free port, as tests do), connects
//! and migrates the database, and assembles the router. [`Application::run_until`] serves until
//! the shutdown future completes, then finishes in-flight requests.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use app::{App, html_document};
use axum::extract::FromRef;
use axum::routing::get;
use axum::{Router, middleware};
use leptos::config::LeptosOptions;
use leptos::prelude::provide_context;
use leptos_axum::{LeptosRoutes, generate_route_list};
use limiter::redis_store::{LeasePolicy, RedisConfig, RedisStore};
use limiter::{Clock, FailoverStore, LimiterStore, MemoryStore};
use services::changes::ChangeFeed;
use services::keys::KeyFormat;
use services::{CurrentPolicy, Database, Services, ServicesConfig};
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, SessionManagerLayer};
use usage::{DEFAULT_FLUSH_INTERVAL, FlushHandle};

use crate::edge::{BodyLimit, Edge};
use crate::gateway::changes::{CatalogueSource, ChangeBroadcast};
use crate::gateway::{Cors, Gateway, KeyCache};
use crate::sessions::{
    SESSION_COOKIE, SessionGuard, SqlSessionStore, end_expired_sessions, session_cookie_only_on_change,
};
use crate::settings::{Settings, redact_url};
use crate::upstream::{ForwardedProto, ProxyOptions, Upstream, UpstreamConfig};
use crate::web;
use crate::{form_success, key_api, page_roles, restore, usage_export, view_as};

/// How long a node trusts a verified key without asking the database again; changes announced
/// through the change feed drop entries sooner.
const KEY_CACHE_SECONDS: i64 = 30;

/// Dashboard requests are forms and small JSON; anything bigger is refused with 413.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// API request bodies (uploads to the upstream); anything bigger is refused with 413.
const MAX_API_BODY_BYTES: usize = 10 * 1024 * 1024;

#[derive(Clone, FromRef)]
struct AppState {
    leptos_options: LeptosOptions,
    services: Services,
}

pub struct Application {
    listener: TcpListener,
    router: Router,
    services: Services,
    gateway: Gateway,
    usage_flush: FlushHandle,
    /// The Redis store, if used: it gives back its quota leases at shutdown.
    redis: Option<RedisStore>,
}

impl Application {
    pub async fn build(settings: &Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let db = Database::connect(&settings.database_url)
            .await
            .with_context(|| format!("opening the database at {}", redact_url(&settings.database_url)))?;
        // Read before it is loaded: an edit in between is then seen as a change and loaded too.
        let loaded_text = settings.policy.as_ref().and_then(|path| std::fs::read_to_string(path).ok());
        let mut policy = load_policy(settings)?;
        services::catalogue::Catalogue::apply_saved(&db, &mut policy)
            .await
            .context("reading the plan catalogue")?;
        let key_cache = Arc::new(KeyCache::new(chrono::Duration::seconds(KEY_CACHE_SECONDS)));
        let policy = CurrentPolicy::new(policy);
        let (limiter, redis) = limiter_store(settings, &policy, clock.clone()).await?;
        if let Some(path) = &settings.policy {
            crate::policy_file::watch(path.clone(), loaded_text, db.clone(), policy.clone());
        }
        let changes: Arc<dyn ChangeFeed> = match &settings.redis_url {
            Some(url) => {
                let catalogue = CatalogueSource { db: db.clone(), policy: policy.clone() };
                Arc::new(ChangeBroadcast::through_redis(key_cache.clone(), catalogue, url)?)
            }
            None => Arc::new(ChangeBroadcast::local(key_cache.clone())),
        };
        let services = Services::new(ServicesConfig {
            db: db.clone(),
            clock: clock.clone(),
            limiter,
            policy,
            key_format: KeyFormat::new(&settings.key_prefix).context("key_prefix")?,
            changes,
        });
        if settings.redis_url.is_none() {
            // Redis keeps its counters over a restart; the in-memory store starts empty.
            let restored =
                restore::restore_long_windows(&services).await.context("restoring the limiter's counters")?;
            tracing::info!(counters = restored, "monthly and daily counters restored from the usage rollups");
        }
        let upstream = Upstream::from_config(&UpstreamConfig {
            url: settings.upstream_url.clone(),
            proxy: ProxyOptions {
                timeout: std::time::Duration::from_secs(settings.upstream_timeout_seconds),
                forwarded_proto: ForwardedProto::of_public_url(&settings.public_url),
                problem_type_base: services.policy.get().rejection.problem_type_base.clone(),
            },
        })
        .context("upstream_url")?;
        tracing::info!("upstream: {}", upstream.describe());
        let gateway = Gateway::new(services.clone(), key_cache);
        gateway.spawn_flusher();
        let usage_flush = gateway.usage.spawn_flusher(db.clone(), clock.clone(), DEFAULT_FLUSH_INTERVAL);
        let listener = TcpListener::bind(settings.listen).await.with_context(|| {
            format!(
                "cannot listen on {}: is another program on it? KEYSTILE_LISTEN sets another address",
                settings.listen
            )
        })?;
        let router =
            router(settings, services.clone(), &gateway, upstream.router(), clock, listener.local_addr()?);
        let sessions = SqlSessionStore::new(db);
        match sessions.name_unnamed_users().await {
            Ok(0) => {}
            Ok(named) => tracing::info!(named, "named the users of sessions from before migration 0008"),
            Err(error) => tracing::warn!(%error, "could not name the users of older sessions"),
        }
        spawn_housekeeping(sessions, services.idempotency.clone());
        Ok(Self { listener, router, services, gateway, usage_flush, redis })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        // Paths are normalised before routing (a layer on the router would run after it).
        let normalized = tower::ServiceExt::map_request(self.router, crate::paths::normalize);
        crate::serve::serve(self.listener, normalized, crate::serve::Deadlines::PRODUCTION, shutdown).await;
        self.gateway.flush().await;
        if let Some(redis) = &self.redis
            && let Err(error) = redis.return_all_leases().await
        {
            tracing::warn!(%error, "could not give back this node's quota leases; they count as used until their windows end");
        }
        match self.usage_flush.shutdown().await {
            Ok(report) => tracing::info!(rows = report.rows, "usage flushed"),
            Err(error) => tracing::error!(%error, "the last usage flush failed; its counts are lost"),
        }
        self.services.db.close().await;
        Ok(())
    }
}

fn router(
    settings: &Settings,
    services: Services,
    gateway: &Gateway,
    upstream: Router,
    clock: Arc<dyn Clock>,
    addr: SocketAddr,
) -> Router {
    let leptos_options = LeptosOptions::builder()
        .output_name("keystile")
        .site_root(settings.site_root.to_string_lossy().into_owned())
        .site_addr(addr)
        .build();
    let state = AppState { leptos_options: leptos_options.clone(), services: services.clone() };
    let cookies = app::auth::ssr::CookieSettings { secure: settings.over_https() };
    let view_as = app::view_as::ViewAsSettings { minutes: settings.view_as_minutes };
    let view_as_services = services.clone();
    let role_services = services.clone();
    let cross_site_services = services.clone();
    let overlong_services = services.clone();
    let context = move || {
        provide_context(services.clone());
        provide_context(cookies);
        provide_context(view_as);
    };

    let sessions = SessionManagerLayer::new(SqlSessionStore::new(state.services.db.clone()))
        .with_name(SESSION_COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(settings.over_https())
        // As long as a session can last: the server ends idle ones, and activity sends no new
        // cookie (`sessions::session_cookie_only_on_change`).
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(settings.session_absolute_hours)));
    let guard = SessionGuard { clock, timeouts: settings.session_timeouts() };
    let edge =
        Edge { trusted_proxies: Arc::new(settings.trusted_proxies.clone()), https: settings.over_https() };

    // The dashboard: pages, server functions and the session-authenticated /v1/keys API, behind
    // sessions, their timeouts, the sign-in redirect and cross-site refusal.
    let dashboard = key_api::routes()
        .route("/usage/export.csv", get(usage_export::export_usage))
        // leptos_routes_with_context also mounts every server function under /api/.
        .leptos_routes_with_context(&state, page_routes(), context.clone(), {
            let options = leptos_options.clone();
            move || html_document(options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, html_document))
        .with_state(state)
        // Outermost last: each request passes these from the bottom up.
        .layer(middleware::from_fn_with_state(overlong_services, web::refuse_overlong_paths))
        .layer(middleware::from_fn(web::server_fn_error_status))
        .layer(middleware::from_fn(form_success::mark_success))
        .layer(middleware::from_fn_with_state(role_services, page_roles::pages_by_role))
        .layer(middleware::from_fn(web::require_sign_in_for_pages))
        .layer(middleware::from_fn_with_state(view_as_services, view_as::guard))
        .layer(middleware::from_fn_with_state(guard, end_expired_sessions))
        .layer(sessions)
        .layer(middleware::from_fn(session_cookie_only_on_change))
        .layer(middleware::from_fn_with_state(cross_site_services, web::refuse_cross_site))
        .layer(middleware::from_fn(web::refuse_nul))
        .layer(BodyLimit(MAX_BODY_BYTES))
        .layer(middleware::from_fn(web::no_store))
        .layer(CompressionLayer::new());

    // The API: everything else under /v1/ passes the gateway, which authenticates by key and
    // needs none of the dashboard's session machinery. (axum prefers the specific /v1/keys
    // routes to the gateway's /v1/ wildcard.) Responses pass as the upstream sent them (no
    // recompression).
    let cors = Cors::from_origins(&settings.cors_origins);
    let api = gateway.router(upstream, MAX_API_BODY_BYTES, cors).route("/healthz", get(|| async { "ok" }));

    api.merge(dashboard).layer(edge)
}

/// The dashboard's page routes, generated once per process. Generating them renders the app with
/// resource loading switched off process-wide (leptos_server's `SuppressResourceLoad` is a global
/// flag), so doing it again while another application in the process serves pages (as tests do)
/// would leave those pages waiting forever for their data.
fn page_routes() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The policy file named in the settings, or the shipped default. A bad file stops start-up with
/// every problem listed as `file:line:column: field: message`.
pub fn load_policy(settings: &Settings) -> anyhow::Result<policy::Policy> {
    let loaded = match &settings.policy {
        Some(path) => policy::Policy::from_path(path),
        None => policy::Policy::default_policy(),
    };
    loaded.map_err(|error| anyhow::anyhow!("the policy is not valid:\n{error}"))
}

/// The limiter store: Redis when configured (many nodes share it), behind a failover that keeps
/// traffic flowing on a local bound while Redis is down and refuses security buckets (logins,
/// key management, any bucket the policy in force marks `fail_closed`) instead; else in memory.
/// With Redis, also the Redis store itself, to give back its leases at shutdown.
async fn limiter_store(
    settings: &Settings,
    policy: &CurrentPolicy,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<(Arc<dyn LimiterStore>, Option<RedisStore>)> {
    let Some(url) = &settings.redis_url else {
        return Ok((Arc::new(MemoryStore::with_clock(clock)), None));
    };
    let leases = LeasePolicy { units: settings.redis_lease_units, ..LeasePolicy::DEFAULT };
    let redis = RedisStore::connect_lazy(RedisConfig::new(url.clone()).with_leases(leases))
        .await
        .with_context(|| format!("connecting to Redis at {}", redact_url(url)))?;
    let policy = policy.clone();
    let fails_closed = move |bucket: &str| policy.get().fails_closed(bucket);
    let store = Arc::new(FailoverStore::new(Arc::new(redis.clone()), clock, fails_closed));
    Ok((store, Some(redis)))
}

/// At start and every ten minutes, deletes what has run out: session records (their cookies
/// already stopped working) and idempotency records past their 24 hours.
fn spawn_housekeeping(sessions: SqlSessionStore, idempotency: services::idempotency::Idempotency) {
    use tower_sessions::ExpiredDeletion;
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
        loop {
            every.tick().await;
            if let Err(error) = sessions.delete_expired().await {
                tracing::warn!(%error, "could not delete expired sessions");
            }
            if let Err(error) = idempotency.purge_expired().await {
                tracing::warn!(%error, "could not delete expired idempotency records");
            }
        }
    });
}
