//! The gateway layer: for every API request, who is calling, which buckets the policy charges,
//! one atomic decision, then either the refusal or the upstream's answer with rate-limit
//! headers. The caller's key never reaches the upstream.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Extensions, HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use chrono::{DateTime, Utc};
use limiter::{Charge, Scope};
use policy::{Caller, Policy, Route};
use services::ClientIp;
use services::ids::random_base62;
use usage::{Outcome, UsageEvent};

use super::Gateway;
use super::callers::{self, Presented, ResolvedKey};
use super::idempotency::{self, ClaimedKey, Prepared};
use super::{problems, responses};
use crate::upstream::{self, CallerIdentity};

/// Gives the request its id (on the request, for the upstream and the layers inside, and on
/// whatever answer comes back), then decides it.
pub async fn enforce(State(gateway): State<Gateway>, mut request: Request, next: Next) -> Response {
    let request_id = request_id();
    let id_value = HeaderValue::from_str(&request_id).ok();
    if let Some(value) = &id_value {
        request.headers_mut().insert(problems::REQUEST_ID, value.clone());
    }
    let mut response = gate(gateway, request, next, &request_id).await;
    if let Some(value) = id_value {
        response.headers_mut().insert(problems::REQUEST_ID, value);
    }
    response
}

async fn gate(gateway: Gateway, mut request: Request, next: Next, request_id: &str) -> Response {
    let policy = gateway.services.policy.get();
    let type_base = policy.rejection.problem_type_base.as_deref();

    let key = match verified_key(&gateway, request.headers(), type_base, request_id).await {
        Ok(key) => key,
        Err(refusal) => return refusal,
    };
    let path = request.uri().path().to_owned();
    let route = policy.route(request.method().as_str(), &path).map(|found| found.route);
    let plan = key.as_ref().and_then(|key| policy.plan_or_default(&key.plan_id));
    let caller = match (&key, plan) {
        (Some(key), Some(plan)) => Caller::Authenticated {
            plan,
            anchor_day: key.anchor_day,
            overrides: Some(&key.overrides),
            key_quota: key.restrictions.quota,
        },
        (Some(_), None) => return problems::unavailable(type_base, request_id),
        (None, _) => Caller::Anonymous,
    };
    let cost = route.map_or(1, |route| route.cost);
    let ip = client_ip(&request);
    let Some(charges) = charges_for(&policy, route, &caller, key.as_deref(), ip, cost) else {
        return problems::key_required(type_base, request_id);
    };

    let now = gateway.services.clock.now();
    let method = request.method().clone();
    let asked = Asked { method: method.as_str(), path: &path, request_id };
    let meter = Meter { gateway: &gateway, key: key.as_deref(), route, at: now, from: ip, asked };
    if let Some(refused) =
        key.as_deref().and_then(|key| outside_restrictions(key, request.method().as_str(), ip))
    {
        meter.restricted();
        return problems::key_restricted(&refused, type_base, request_id);
    }
    let identity = match (key.as_deref(), plan) {
        (Some(key), Some(plan)) => {
            Some(CallerIdentity { account_id: &key.account_id, key_id: &key.key_id, plan_id: &plan.id })
        }
        _ => None,
    };
    prepare_upstream_request(&mut request, key.clone(), identity, route);
    let render = policy.responder(route).for_caller(&caller);
    let (request, claim) = match idempotency::prepare(&gateway, request, type_base).await {
        Prepared::Run { request, claim } => (request, claim),
        Prepared::Replay(mut response) => {
            // A repeat of a request that went through: charged nothing, its headers show the
            // buckets as they stand.
            meter.admitted(0);
            if let Ok(states) = gateway.services.limiter.peek(&charges).await {
                responses::add_limit_headers(&render, &states, now.into(), &mut response);
            }
            return response;
        }
        Prepared::Refused(response) => {
            meter.admitted(0);
            return response;
        }
    };
    if charges.is_empty() {
        // Exempt (a stream, the limits endpoint): no bucket is charged or reported.
        meter.admitted(0);
        return run(&gateway, claim, request, next).await;
    }
    if let Some(refusal) = spend_cap_refusal(&gateway, &policy, key.as_deref(), request_id, now).await {
        meter.limited(usage::SPEND_CAP);
        release(&gateway, claim).await;
        return refusal;
    }
    let decision = match gateway.services.limiter.decide(&charges).await {
        Ok(decision) => decision,
        Err(error) => {
            tracing::error!(%error, request_id, "limiter store failed; refusing");
            release(&gateway, claim).await;
            return problems::unavailable(type_base, request_id);
        }
    };
    if !decision.is_allowed() {
        meter.limited(policy::described_bucket(&decision.buckets).map_or("", |bucket| bucket.name));
        release(&gateway, claim).await;
        return responses::refusal(&render, &decision, request_id);
    }
    meter.admitted(cost);
    let mut response = run(&gateway, claim, request, next).await;
    responses::add_limit_headers(&render, &decision.buckets, decision.now, &mut response);
    response
}

/// The caller's key, verified; `None` when it presents none; or the 401 (malformed, unknown,
/// revoked, expired: one body) or 503 (the key store failed) to answer instead.
async fn verified_key(
    gateway: &Gateway,
    headers: &HeaderMap,
    type_base: Option<&str>,
    request_id: &str,
) -> Result<Option<Arc<ResolvedKey>>, Response> {
    match callers::presented_key(headers) {
        Presented::Nothing => Ok(None),
        Presented::Malformed => Err(problems::invalid_key(type_base, request_id)),
        Presented::Several => Err(problems::several_keys(type_base, request_id)),
        Presented::Key(secret) => match callers::resolve(&gateway.services, &gateway.cache, secret).await {
            Ok(Ok(key)) => Ok(Some(key)),
            Ok(Err(_rejection)) => Err(problems::invalid_key(type_base, request_id)),
            Err(error) => {
                tracing::error!(%error, request_id, "key verification failed");
                Err(problems::unavailable(type_base, request_id))
            }
        },
    }
}

/// Why the request falls outside its key's restrictions, if it does. Checked before any bucket
/// is charged: a refused request costs nothing, and counts as refused under `restricted`.
fn outside_restrictions(key: &ResolvedKey, method: &str, ip: IpAddr) -> Option<String> {
    if !key.restrictions.allows_method(method) {
        return Some(format!(
            "This key is read-only: it may send GET, HEAD and OPTIONS requests, not {method}."
        ));
    }
    if !key.restrictions.allows_ip(ip) {
        return Some(format!(
            "This key does not accept requests from {ip}. Its owner can allow it in the dashboard."
        ));
    }
    None
}

fn client_ip(request: &Request) -> IpAddr {
    request.extensions().get::<ClientIp>().map_or(IpAddr::V4(Ipv4Addr::LOCALHOST), |c| c.0)
}

/// What the policy charges this caller on this route, `cost` units per bucket, each on its subject (the key, its
/// account or user, the client's address `ip`); `None` when the route needs a key the caller lacks.
fn charges_for(
    policy: &Policy,
    route: Option<&Route>,
    caller: &Caller<'_>,
    key: Option<&ResolvedKey>,
    ip: IpAddr,
    cost: u64,
) -> Option<Vec<Charge>> {
    let specs = policy.charges(route, caller).ok()?;
    Some(specs.into_iter().map(|spec| Charge { subject: subject(spec.scope, key, ip), spec, cost }).collect())
}

/// Runs an admitted request, under its idempotency key if it claimed one.
async fn run(gateway: &Gateway, claim: Option<ClaimedKey>, request: Request, next: Next) -> Response {
    match claim {
        Some(claim) => claim.run(gateway, request, next).await,
        None => next.run(request).await,
    }
}

/// Frees a refused request's idempotency key, so that its retry runs.
async fn release(gateway: &Gateway, claim: Option<ClaimedKey>) {
    if let Some(claim) = claim {
        claim.release(gateway).await;
    }
}

/// A request id unique in this process and across processes: a random prefix drawn once per
/// process, then a counter. Ids only correlate logs with answers; they need not be secret.
pub fn request_id() -> String {
    use std::sync::LazyLock;
    use std::sync::atomic::{AtomicU64, Ordering};
    static PREFIX: LazyLock<String> = LazyLock::new(|| random_base62(10));
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("req_{}{:x}", *PREFIX, NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Counts a keyed request: its usage (admitted or limited) and the key's last use. Anonymous
/// calls belong to no account and are not counted.
struct Meter<'a> {
    gateway: &'a Gateway,
    key: Option<&'a ResolvedKey>,
    route: Option<&'a Route>,
    at: DateTime<Utc>,
    /// The client's address, recorded with the key's last use.
    from: IpAddr,
    asked: Asked<'a>,
}

/// What a refused request asked for, for its account's list of latest refusals.
struct Asked<'a> {
    method: &'a str,
    path: &'a str,
    request_id: &'a str,
}

impl Meter<'_> {
    /// Counts with its cost in quota units: what it charged the plan's quota, none on a route
    /// that is not metered. The rollups' cost is then exactly what the plan-wide buckets were
    /// charged, which a restart restores them from (`crate::restore`).
    fn admitted(&self, cost: u64) {
        self.key_used();
        let metered = self.route.is_none_or(|route| route.metered);
        self.count(Outcome::Allowed, if metered { cost } else { 0 }, None);
    }

    /// A refused request charged nothing, so it counts with no cost, under the bucket that
    /// refused it. It is still a use of the key: a client that gets only 429s is still calling,
    /// and a rotation's old secret must not look idle while its caller is being limited.
    fn limited(&self, refused_by: &str) {
        self.key_used();
        self.count(Outcome::Limited, 0, Some(refused_by));
        self.keep_refusal(429, refused_by);
    }

    /// A call from outside the key's allowed addresses or methods: counted, but not a use, so
    /// the key's "last used from" only ever names an address it is allowed from.
    fn restricted(&self) {
        self.count(Outcome::Limited, 0, Some(usage::RESTRICTED));
        self.keep_refusal(403, usage::RESTRICTED);
    }

    /// Adds the refusal to its account's latest refusals, which the Usage page lists.
    fn keep_refusal(&self, status: u16, bucket: &str) {
        let Some(key) = self.key else {
            return;
        };
        self.gateway.usage.refused(usage::Refusal {
            account_id: key.account_id.clone(),
            key_id: key.key_id.clone(),
            at: self.at,
            method: self.asked.method.to_owned(),
            path: usage::Refusal::short_path(self.asked.path),
            status,
            bucket: bucket.to_owned(),
            client_ip: self.from.to_string(),
            request_id: self.asked.request_id.to_owned(),
        });
    }

    fn key_used(&self) {
        if let Some(key) = self.key {
            self.gateway.key_uses.record(&key.key_id, key.via_previous, self.at, self.from);
        }
    }

    /// Counts under `bucket`, else under the route's category bucket.
    fn count(&self, outcome: Outcome, cost: u64, bucket: Option<&str>) {
        let Some(key) = self.key else {
            return;
        };
        let category = self.route.and_then(|route| route.buckets.first()).map_or("", String::as_str);
        let bucket = bucket.unwrap_or(category);
        self.gateway.usage.record(&UsageEvent {
            account_id: &key.account_id,
            key_id: Some(&key.key_id),
            bucket,
            outcome,
            cost,
            at: self.at,
        });
    }
}

/// The 429 for an account whose spend cap is reached. When the fees cannot be read (the
/// database is down) the request goes on: the cap guards a budget, and refusing every call
/// for a database fault would be the bigger harm.
async fn spend_cap_refusal(
    gateway: &Gateway,
    policy: &Policy,
    key: Option<&ResolvedKey>,
    request_id: &str,
    now: DateTime<Utc>,
) -> Option<Response> {
    let key = key?;
    match gateway.spend.reached(key, policy.pricing.as_ref(), now).await {
        Ok(reached) => reached
            .map(|reached| responses::from_rendered(policy.render_spend_cap_refusal(&reached, request_id))),
        Err(error) => {
            tracing::warn!(%error, request_id, "could not read the account's spend; admitting");
            None
        }
    }
}

/// Whose counter a bucket of this scope uses for this request.
fn subject(scope: Scope, key: Option<&ResolvedKey>, ip: IpAddr) -> String {
    match (scope, key) {
        (Scope::Ip, _) | (_, None) => ip.to_string(),
        (Scope::Account, Some(key)) => key.account_id.clone(),
        // API calls have no user; a user-scoped bucket on an API route counts per key.
        (Scope::Key | Scope::User, Some(key)) => key.key_id.clone(),
    }
}

/// Removes the caller's credentials, key and dashboard session (the upstream must never see
/// them), tells the upstream who the caller is (`X-Keystile-*`), hands the verified key to the
/// gateway's own endpoints, and caps an anonymous caller's `limit` to the route's row cap.
///
/// The request keeps only the extensions the API side uses: the dashboard's routing (its
/// `/v1/{*rest}` path parameter) and session stay behind, so the upstream's own routes see
/// only their own parameters.
fn prepare_upstream_request(
    request: &mut Request,
    key: Option<Arc<ResolvedKey>>,
    identity: Option<CallerIdentity<'_>>,
    route: Option<&Route>,
) {
    let mut extensions = Extensions::new();
    if let Some(connection) = request.extensions_mut().remove::<ConnectInfo<SocketAddr>>() {
        extensions.insert(connection);
    }
    if let Some(client) = request.extensions_mut().remove::<ClientIp>() {
        extensions.insert(client);
    }
    *request.extensions_mut() = extensions;
    request.headers_mut().remove(header::AUTHORIZATION);
    request.headers_mut().remove("x-api-key");
    crate::sessions::remove_session_cookie(request.headers_mut());
    upstream::set_caller(request.headers_mut(), identity);
    match key {
        Some(key) => {
            request.extensions_mut().insert(key);
        }
        None => {
            if let Some(cap) = route.and_then(|route| route.anonymous_row_cap) {
                upstream::cap_limit_parameter(request, cap);
            }
        }
    }
}
