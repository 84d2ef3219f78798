//! The plan catalogue: admins edit plans in the dashboard; the edit is validated as a whole
//! policy, saved in SQL (so it outlives restarts and replaces the policy file's plans at start),
//! audited, and put in force for the next request.

use std::sync::Arc;

use limiter::Clock;
use policy::{Limit, Period, Plan, Policy};

use crate::accounts::User;
use crate::accounts::admin::{AdminError, require_admin};
use crate::audit;
use crate::changes::{Change, ChangeFeed};
use crate::{CurrentPolicy, Database};

const ROW: &str = "current";

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

    /// Puts the saved catalogue in force on this node: another node announced an edit.
    pub async fn reload(db: &Database, policy: &CurrentPolicy) -> Result<(), sqlx::Error> {
        let mut reloaded = (*policy.get()).clone();
        Self::apply_saved(db, &mut reloaded).await?;
        if let Err(error) = policy.replace(reloaded) {
            tracing::error!(%error, "the saved plan catalogue does not validate; keeping the current one");
        }
        Ok(())
    }

    /// Replaces `policy`'s plans with the saved catalogue, if an admin ever edited it and it
    /// still fits the policy (a policy file changed since may no longer accept it: then the
    /// file's plans stay, and the reason is logged).
    pub async fn apply_saved(db: &Database, policy: &mut Policy) -> Result<(), sqlx::Error> {
        let saved: Option<(String,)> = sqlx::query_as("SELECT plans FROM plan_catalogue WHERE id = $1")
            .bind(ROW)
            .fetch_optional(db.pool())
            .await?;
        let Some((json,)) = saved else {
            return Ok(());
        };
        let mut edited = policy.clone();
        match serde_json::from_str::<Vec<Plan>>(&json) {
            Ok(plans) => edited.plans = plans,
            Err(error) => {
                tracing::error!(%error, "the saved plan catalogue is unreadable; using the policy file's plans");
                return Ok(());
            }
        }
        match edited.validate() {
            Ok(()) => *policy = edited,
            Err(error) => {
                tracing::error!(%error, "the saved plan catalogue no longer fits the policy; using the file's plans")
            }
        }
        Ok(())
    }

    /// Changes one plan (admins). The next request of every account on it uses the new limits.
    pub async fn edit_plan(&self, actor: &User, plan_id: &str, edit: PlanEdit) -> Result<(), AdminError> {
        require_admin(actor)?;
        let name = crate::text::display_text(&edit.name, 1, MAX_PLAN_NAME).ok_or_else(|| {
            AdminError::Invalid(format!(
                "Give the plan a name of 1 to {MAX_PLAN_NAME} characters, without line breaks."
            ))
        })?;
        let description =
            crate::text::display_text(&edit.description, 0, MAX_PLAN_DESCRIPTION).ok_or_else(|| {
                AdminError::Invalid(format!(
                    "Keep the description to {MAX_PLAN_DESCRIPTION} characters, without line breaks."
                ))
            })?;
        let current = self.policy.get();
        let mut policy = (*current).clone();
        let plan = policy.plans.iter_mut().find(|plan| plan.id == plan_id).ok_or(AdminError::NotFound)?;
        let before = summary(plan);
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
        let after = summary(plan);
        policy.validate().map_err(|error| AdminError::Invalid(error.to_string()))?;
        let plans =
            serde_json::to_string(&policy.plans).map_err(|error| AdminError::Invalid(error.to_string()))?;

        let now = self.clock.now();
        let mut tx = self.db.pool().begin().await?;
        sqlx::query(
            "INSERT INTO plan_catalogue (id, plans, updated_at, updated_by) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (id) DO UPDATE SET plans = excluded.plans, updated_at = excluded.updated_at, updated_by = excluded.updated_by",
        )
        .bind(ROW)
        .bind(plans)
        .bind(now.timestamp_millis())
        .bind(&actor.id)
        .execute(&mut *tx)
        .await?;
        let change = audit::Change {
            account_id: None,
            actor,
            action: "catalogue.edit",
            target: Some(plan_id),
            before: Some(before),
            after: Some(after),
            reason: None,
            at: now,
        };
        audit::record(&mut tx, change).await?;
        tx.commit().await?;
        self.policy.replace(policy).map_err(|error| AdminError::Invalid(error.to_string()))?;
        self.changes.publish(Change::Catalogue);
        Ok(())
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
