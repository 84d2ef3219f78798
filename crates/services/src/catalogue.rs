//! The policy as admins edit it in the dashboard: the plan catalogue, each bucket's limit and
//! the pricing tiers' fees. An edit is validated as a whole policy, saved in SQL (one row per
//! thing edited, laid over the policy file at start and whenever the file is reloaded), audited,
//! and put in force for the next request on every node.

use std::sync::Arc;

use limiter::Clock;
use policy::{Limit, Period, Plan, Policy};
use serde::{Deserialize, Serialize};

use crate::accounts::User;
use crate::accounts::admin::{AdminError, require_admin};
use crate::audit;
use crate::changes::{Change, ChangeFeed};
use crate::{CurrentPolicy, Database};

/// Plan names and descriptions are shown on every customer's Plan page.
pub const MAX_PLAN_NAME: usize = 40;
pub const MAX_PLAN_DESCRIPTION: usize = 300;

/// What an admin can change about a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanEdit {
    pub name: String,
    pub description: String,
    pub price_cents: Option<u64>,
    pub monthly_quota: Option<u64>,
    /// Requests a second, smoothly, with as many at once; `None`: no burst limit.
    pub burst_per_second: Option<u64>,
    pub daily_cap: bool,
    /// Customers may choose the plan themselves; otherwise only an admin assigns it.
    pub self_service: bool,
}

/// A pricing tier's fees: both set, or neither (custom pricing, negotiated per account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierFees {
    pub monthly_cents: Option<u64>,
    pub extra_request_cents: Option<u64>,
}

/// One thing an admin changed, as saved in `policy_edits`.
#[derive(Debug, Clone, PartialEq)]
enum Edit {
    /// The whole plan catalogue.
    Plans(Vec<Plan>),
    BucketLimit {
        bucket: String,
        limit: Limit,
    },
    TierFees {
        tier: String,
        fees: TierFees,
    },
    FreeRequestsPerMinute(u64),
}

impl Edit {
    /// Its row's id.
    fn id(&self) -> String {
        match self {
            Edit::Plans(_) => "plans".to_owned(),
            Edit::BucketLimit { bucket, .. } => format!("bucket:{bucket}"),
            Edit::TierFees { tier, .. } => format!("tier:{tier}"),
            Edit::FreeRequestsPerMinute(_) => "free_requests_per_minute".to_owned(),
        }
    }

    fn body(&self) -> Result<String, serde_json::Error> {
        match self {
            Edit::Plans(plans) => serde_json::to_string(plans),
            Edit::BucketLimit { limit, .. } => serde_json::to_string(limit),
            Edit::TierFees { fees, .. } => serde_json::to_string(fees),
            Edit::FreeRequestsPerMinute(free) => serde_json::to_string(free),
        }
    }

    fn parse(id: &str, body: &str) -> Result<Edit, String> {
        let edit = match id.split_once(':') {
            None if id == "plans" => Edit::Plans(serde_json::from_str(body).map_err(|e| e.to_string())?),
            None if id == "free_requests_per_minute" => {
                Edit::FreeRequestsPerMinute(serde_json::from_str(body).map_err(|e| e.to_string())?)
            }
            Some(("bucket", bucket)) => Edit::BucketLimit {
                bucket: bucket.to_owned(),
                limit: serde_json::from_str(body).map_err(|e| e.to_string())?,
            },
            Some(("tier", tier)) => Edit::TierFees {
                tier: tier.to_owned(),
                fees: serde_json::from_str(body).map_err(|e| e.to_string())?,
            },
            _ => return Err(format!("unknown kind of edit `{id}`")),
        };
        Ok(edit)
    }

    /// Lays the edit over `policy`; an error if what it names is not in the policy.
    fn apply(&self, policy: &mut Policy) -> Result<(), String> {
        match self {
            Edit::Plans(plans) => policy.plans = plans.clone(),
            Edit::BucketLimit { bucket, limit } => {
                let found = policy.buckets.get_mut(bucket).ok_or_else(|| format!("no bucket `{bucket}`"))?;
                found.limit = *limit;
            }
            Edit::TierFees { tier, fees } => {
                let found = policy
                    .pricing
                    .as_mut()
                    .and_then(|pricing| pricing.tiers.iter_mut().find(|t| t.name == *tier))
                    .ok_or_else(|| format!("no pricing tier `{tier}`"))?;
                found.monthly_cents = fees.monthly_cents;
                found.extra_request_cents = fees.extra_request_cents;
            }
            Edit::FreeRequestsPerMinute(free) => {
                policy.pricing.as_mut().ok_or("the policy has no [pricing]")?.free_requests_per_minute =
                    *free;
            }
        }
        Ok(())
    }
}

/// What the audit log records of an edit.
struct Audited<'a> {
    action: &'a str,
    target: &'a str,
    before: String,
    after: String,
    /// Whether the edit changes anything: a form saved as it was is neither saved nor audited.
    changed: bool,
}

#[derive(Clone)]
pub struct Catalogue {
    db: Database,
    clock: Arc<dyn Clock>,
    policy: CurrentPolicy,
    changes: Arc<dyn ChangeFeed>,
}

impl Catalogue {
    pub fn new(
        db: Database,
        clock: Arc<dyn Clock>,
        policy: CurrentPolicy,
        changes: Arc<dyn ChangeFeed>,
    ) -> Self {
        Self { db, clock, policy, changes }
    }

    /// Puts the saved edits in force on this node: another node announced an edit.
    pub async fn reload(db: &Database, policy: &CurrentPolicy) -> Result<(), sqlx::Error> {
        let edits = saved_edits(db).await?;
        let applied = policy.update(|current| {
            for edit in &edits {
                lay_over(current, edit);
            }
        });
        if let Err(error) = applied {
            tracing::error!(%error, "the saved policy edits do not validate; keeping the current policy");
        }
        Ok(())
    }

    /// Lays every saved edit over `policy` (the policy file's, at start or on a reload). An edit
    /// that no longer fits the policy (the file dropped its bucket, say) is skipped, with the
    /// reason logged, and the file's value stays.
    pub async fn apply_saved(db: &Database, policy: &mut Policy) -> Result<(), sqlx::Error> {
        for edit in saved_edits(db).await? {
            lay_over(policy, &edit);
        }
        Ok(())
    }

    /// Changes one plan (admins). The next request of every account on it uses the new limits.
    pub async fn edit_plan(&self, actor: &User, plan_id: &str, edit: PlanEdit) -> Result<(), AdminError> {
        require_admin(actor)?;
        let name = crate::text::display_text(&edit.name, 1, MAX_PLAN_NAME).ok_or_else(|| {
            AdminError::Invalid(format!(
                "Give the plan a name of 1 to {MAX_PLAN_NAME} characters, without tabs, line breaks or other control characters."
            ))
        })?;
        let description =
            crate::text::display_text(&edit.description, 0, MAX_PLAN_DESCRIPTION).ok_or_else(|| {
                AdminError::Invalid(format!(
                    "Keep the description to {MAX_PLAN_DESCRIPTION} characters, without tabs, line breaks or other control characters."
                ))
            })?;
        if edit.monthly_quota == Some(0) {
            return Err(AdminError::Invalid(
                "A monthly quota is at least 1 request; leave it empty for none.".into(),
            ));
        }
        if edit.burst_per_second == Some(0) {
            return Err(AdminError::Invalid(
                "Bursts allow at least 1 request a second; leave it empty for no burst limit.".into(),
            ));
        }
        let mut plans = self.policy.get().plans.clone();
        if plans.iter().any(|other| other.id != plan_id && other.name.eq_ignore_ascii_case(name)) {
            return Err(AdminError::Invalid(format!("Another plan is already called “{name}”.")));
        }
        let plan = plans
            .iter_mut()
            .find(|plan| plan.id == plan_id)
            .ok_or_else(|| AdminError::Invalid(format!("There is no plan {plan_id:?}.")))?;
        let (before, unchanged) = (summary(plan), plan.clone());
        plan.name = name.to_owned();
        plan.description = description.to_owned();
        plan.price_cents = edit.price_cents;
        plan.monthly_quota = edit.monthly_quota;
        plan.burst = edit.burst_per_second.map(|rate| Limit::Gcra {
            rate,
            per: Period::from_seconds(1),
            burst: u32::try_from(rate).unwrap_or(u32::MAX),
        });
        plan.daily_cap = edit.daily_cap;
        plan.self_service = edit.self_service;
        let (after, changed) = (summary(plan), *plan != unchanged);
        let audited = Audited { action: "catalogue.edit", target: plan_id, before, after, changed };
        self.save(actor, Edit::Plans(plans), audited).await
    }

    /// Changes one bucket's limit (admins), e.g. `reads` from 60 to 120 a minute. Counters are
    /// kept; the next request is decided against the new limit.
    pub async fn edit_bucket(&self, actor: &User, bucket: &str, limit: Limit) -> Result<(), AdminError> {
        require_admin(actor)?;
        let current = self.policy.get();
        let found = current
            .bucket(bucket)
            .ok_or_else(|| AdminError::Invalid(format!("There is no bucket named {bucket}.")))?;
        if limit.count() == 0 {
            return Err(AdminError::Invalid(format!("The {bucket} limit is at least 1 request.")));
        }
        let audited = Audited {
            action: "bucket.edit",
            target: bucket,
            before: found.limit.describe(),
            after: limit.describe(),
            changed: found.limit != limit,
        };
        self.save(actor, Edit::BucketLimit { bucket: bucket.to_owned(), limit }, audited).await
    }

    /// Changes one pricing tier's fees (admins): the projected bills use them at once.
    pub async fn edit_tier(&self, actor: &User, tier: &str, fees: TierFees) -> Result<(), AdminError> {
        require_admin(actor)?;
        if fees.monthly_cents.is_some() != fees.extra_request_cents.is_some() {
            return Err(AdminError::Invalid(
                "Give both fees, or leave both empty for custom pricing.".to_owned(),
            ));
        }
        let current = self.policy.get();
        let found = current
            .pricing
            .as_ref()
            .and_then(|pricing| pricing.tiers.iter().find(|t| t.name == tier))
            .ok_or_else(|| AdminError::Invalid(format!("There is no pricing tier named {tier}.")))?;
        let before = fees_summary(TierFees {
            monthly_cents: found.monthly_cents,
            extra_request_cents: found.extra_request_cents,
        });
        let changed = (found.monthly_cents, found.extra_request_cents)
            != (fees.monthly_cents, fees.extra_request_cents);
        let audited =
            Audited { action: "pricing.edit", target: tier, before, after: fees_summary(fees), changed };
        self.save(actor, Edit::TierFees { tier: tier.to_owned(), fees }, audited).await
    }

    /// Changes how many requests in one minute are free before they count as extra (admins).
    pub async fn edit_free_requests(&self, actor: &User, free_per_minute: u64) -> Result<(), AdminError> {
        require_admin(actor)?;
        let current = self.policy.get();
        let pricing = current
            .pricing
            .as_ref()
            .ok_or_else(|| AdminError::Invalid("The policy has no pricing to edit.".to_owned()))?;
        let audited = Audited {
            action: "pricing.edit",
            target: "free_requests_per_minute",
            before: pricing.free_requests_per_minute.to_string(),
            after: free_per_minute.to_string(),
            changed: pricing.free_requests_per_minute != free_per_minute,
        };
        self.save(actor, Edit::FreeRequestsPerMinute(free_per_minute), audited).await
    }

    /// Checks `edit` against the policy in force, saves it with its audit entry, puts it in
    /// force here and tells the other nodes; an edit that changes nothing does none of that.
    async fn save(&self, actor: &User, edit: Edit, audited: Audited<'_>) -> Result<(), AdminError> {
        if !audited.changed {
            return Ok(());
        }
        let mut checked = (*self.policy.get()).clone();
        edit.apply(&mut checked).map_err(AdminError::Invalid)?;
        checked.validate().map_err(|error| AdminError::Invalid(error.to_string()))?;
        let body = edit.body().map_err(|error| AdminError::Invalid(error.to_string()))?;

        let now = self.clock.now();
        let mut tx = self.db.pool().begin().await?;
        sqlx::query(
            "INSERT INTO policy_edits (id, body, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(edit.id())
        .bind(body)
        .bind(now.timestamp_millis())
        .bind(&actor.id)
        .execute(&mut *tx)
        .await?;
        let change = audit::Change {
            account_id: None,
            actor,
            action: audited.action,
            target: Some(audited.target),
            before: Some(audited.before),
            after: Some(audited.after),
            reason: None,
            at: now,
        };
        audit::record(&mut tx, change).await?;
        tx.commit().await?;
        // Applied to the policy as it is now, so an edit saved meanwhile by another admin stays.
        self.policy
            .update(|policy| lay_over(policy, &edit))
            .map_err(|error| AdminError::Invalid(error.to_string()))?;
        self.changes.publish(Change::Catalogue);
        Ok(())
    }
}

/// Every saved edit, in a fixed order; unreadable rows are logged and left out.
async fn saved_edits(db: &Database) -> Result<Vec<Edit>, sqlx::Error> {
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT id, body FROM policy_edits ORDER BY id").fetch_all(db.pool()).await?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, body)| {
            Edit::parse(&id, &body)
                .inspect_err(
                    |error| tracing::error!(%id, %error, "a saved policy edit is unreadable; skipping it"),
                )
                .ok()
        })
        .collect())
}

/// Applies `edit` to `policy` if the result still validates; otherwise logs why and leaves
/// `policy` as it was.
fn lay_over(policy: &mut Policy, edit: &Edit) {
    let mut edited = policy.clone();
    let outcome = edit.apply(&mut edited).and_then(|()| edited.validate().map_err(|error| error.to_string()));
    match outcome {
        Ok(()) => *policy = edited,
        Err(error) => {
            tracing::error!(id = %edit.id(), %error, "a saved policy edit no longer fits the policy; using the file's value")
        }
    }
}

/// A plan in one line, for the audit log.
fn summary(plan: &Plan) -> String {
    let or_none = |value: Option<u64>| value.map_or_else(|| "none".to_owned(), |v| v.to_string());
    format!(
        "{}: price_cents={} monthly_quota={} burst/s={} daily_cap={} self_service={}",
        plan.name,
        or_none(plan.price_cents),
        or_none(plan.monthly_quota),
        or_none(plan.burst.as_ref().map(Limit::count)),
        plan.daily_cap,
        plan.self_service
    )
}

/// A tier's fees in one line, for the audit log.
fn fees_summary(fees: TierFees) -> String {
    match (fees.monthly_cents, fees.extra_request_cents) {
        (Some(monthly), Some(extra)) => format!("monthly_cents={monthly} extra_request_cents={extra}"),
        _ => "custom pricing".to_owned(),
    }
}
