//! What the quota gauges and `GET /v1/limits` show: every bucket that applies to an account (or
//! one of its keys), read from the limiter store the gateway enforces against, never a copy.
//! Reading charges nothing.

use chrono::{DateTime, SecondsFormat, Utc};
use limiter::{Charge, Scope};
use policy::{Caller, Policy};
use serde::Serialize;

use crate::Services;

/// Whose buckets to read.
pub struct Subject<'a> {
    pub account_id: &'a str,
    pub plan_id: &'a str,
    pub anchor_day: u8,
    pub overrides: &'a policy::Overrides,
    /// A key of the account: its own buckets too. None: the account-wide buckets only.
    pub key_id: Option<&'a str>,
    /// That key's own quota, if its owner set one.
    pub key_quota: Option<policy::KeyQuota>,
    /// The signed-in user, whose `key_mgmt` bucket is shown too.
    pub user_id: Option<&'a str>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gauge {
    pub name: String,
    pub scope: &'static str,
    pub window: String,
    pub limit: u64,
    pub used: u64,
    pub remaining: u64,
    pub reset_at: String,
    pub reset_seconds: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("could not read the limiter store: {0}")]
pub struct GaugeError(String);

/// The buckets of every route for `subject`, each once, as they stand now.
pub async fn read(services: &Services, subject: &Subject<'_>) -> Result<Vec<Gauge>, GaugeError> {
    let policy = services.policy.get();
    let charges = charges(&policy, subject);
    let states = services.limiter.peek(&charges).await.map_err(|e| GaugeError(e.to_string()))?;
    let now = std::time::SystemTime::from(services.clock.now());
    Ok(states
        .iter()
        .map(|state| Gauge {
            name: state.name.to_owned(),
            scope: state.scope.as_str(),
            window: policy::window_label(&state.window),
            limit: state.limit,
            used: state.used,
            remaining: state.remaining,
            reset_at: time(state.reset_at()),
            reset_seconds: state.reset_after(now).as_secs(),
        })
        .collect())
}

/// One charge (of cost 1) for each bucket that applies to `subject`, each once.
pub fn charges(policy: &Policy, subject: &Subject<'_>) -> Vec<Charge> {
    let mut charges: Vec<Charge> = Vec::new();
    if let Some(plan) = policy.plan_or_default(subject.plan_id) {
        let caller = Caller::Authenticated {
            plan,
            anchor_day: subject.anchor_day,
            overrides: Some(subject.overrides),
            key_quota: subject.key_quota.filter(|_| subject.key_id.is_some()),
        };
        let routes = policy.routes.iter().map(Some).chain([None]);
        for spec in routes.flat_map(|route| policy.charges(route, &caller).unwrap_or_default()) {
            let who = match spec.scope {
                Scope::Account => Some(subject.account_id),
                Scope::Key => subject.key_id,
                Scope::User => subject.user_id,
                Scope::Ip => None,
            };
            if let Some(who) = who
                && !charges.iter().any(|charge| charge.spec.name == spec.name)
            {
                charges.push(Charge { spec, subject: who.to_owned(), cost: 1 });
            }
        }
    }
    if let (Some(user_id), Some(spec)) = (subject.user_id, policy.key_management_spec())
        && !charges.iter().any(|charge| charge.spec.name == spec.name)
    {
        charges.push(Charge { spec, subject: user_id.to_owned(), cost: 1 });
    }
    charges
}

fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Clears the counter of the bucket `name` for `subject` (admins): the same bucket the gauges
/// show, found the same way. Audited. `false` when the subject has no such bucket.
pub async fn reset(
    services: &Services,
    actor: &crate::accounts::User,
    subject: &Subject<'_>,
    name: &str,
) -> Result<bool, crate::accounts::admin::AdminError> {
    use crate::accounts::admin::{AdminError, require_admin};
    require_admin(actor)?;
    let policy = services.policy.get();
    let Some(charge) = charges(&policy, subject).into_iter().find(|charge| charge.spec.name == name) else {
        return Ok(false);
    };
    let before = services
        .limiter
        .peek(std::slice::from_ref(&charge))
        .await
        .map_err(|e| AdminError::Invalid(e.to_string()))?;
    services
        .limiter
        .reset(&charge.spec, &charge.subject)
        .await
        .map_err(|e| AdminError::Invalid(e.to_string()))?;
    // A key's own counter names the key, so the log says whose counter was cleared.
    let target = match charge.spec.scope {
        Scope::Key => format!("{name} of key {}", charge.subject),
        _ => name.to_owned(),
    };
    let change = crate::audit::Change {
        account_id: Some(subject.account_id),
        actor,
        action: "bucket.reset",
        target: Some(&target),
        before: before.first().map(|state| format!("{} used", state.used)),
        after: Some("0 used".to_owned()),
        reason: None,
        at: services.clock.now(),
    };
    let mut conn = services.db.pool().acquire().await?;
    crate::audit::record(&mut conn, change).await?;
    Ok(true)
}
