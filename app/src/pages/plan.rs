//! The Plan page: every plan side by side, the current one marked, and a switch that asks for
//! confirmation first (plans arranged by contract say whom to ask instead). Works without
//! JavaScript (plain forms). Staff viewing as the customer see no switch.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{Changes, ErrorAlert, FormError, FormSaved, ReadOnlyNote, SubmitButton, signed_in};
use crate::plans::{ChangePlan, PlanView, list_plans};
use crate::shell::CurrentViewer;

#[component]
pub fn PlanPage() -> impl IntoView {
    let change = ServerAction::<ChangePlan>::new();
    let changes = Changes::new().follow(change);
    let plans = Resource::new(move || changes.get(), |_| list_plans());
    let viewer = use_context::<CurrentViewer>();
    view! {
        <Title text="Plan" />
        <div class="page-header"><h1>"Plan"</h1></div>
        <p class="muted">"A new plan's limits apply to your next request. Counters carry over. "<a href="/billing">"Billing"</a>" shows what this month costs."</p>
        <FormError result=change.value() />
        <FormSaved action=change message="Plan changed: its limits apply from your next request." />
        <Transition fallback=|| view! { <p class="muted">"Loading plans…"</p> }>
            {move || Suspend::new(async move {
                // Members see the plans; switching is the owner's (staff viewing as one see the
                // owner's page, read-only).
                let viewer = signed_in(viewer).await;
                let read_only = viewer.as_ref().is_some_and(|viewer| viewer.view_as.is_some());
                let is_owner = viewer.is_some_and(|viewer| viewer.role == "owner");
                let can_switch = is_owner && !read_only;
                let note = if read_only {
                    Some(view! { <ReadOnlyNote /> }.into_any())
                } else {
                    (!is_owner).then(|| view! { <p class="muted">"Only the account's owner can change its plan."</p> }.into_any())
                };
                match plans.await {
                    Ok(plans) => view! {
                        {note}
                        <div class="grid">
                            {plans.into_iter().map(|plan| view! { <PlanCard plan change can_switch /> }).collect_view()}
                        </div>
                    }.into_any(),
                    Err(error) => view! { <ErrorAlert error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PlanCard(plan: PlanView, change: ServerAction<ChangePlan>, can_switch: bool) -> impl IntoView {
    let PlanView {
        id,
        name,
        description,
        price,
        fixed_price,
        limits,
        current,
        self_service,
        contact_url,
        pace,
    } = plan;
    let heading = format!("plan-{id}");
    let labelled_by = heading.clone();
    let plan_attr = id.clone();
    let title = name.clone();
    let price_class = if fixed_price { "stat-value" } else { "plan-billing muted" };
    let switch = match (current, self_service) {
        (true, _) => None,
        (false, true) if can_switch => Some(view! { <ChoosePlan id name change /> }.into_any()),
        (false, true) => None,
        (false, false) => Some(view! { <ArrangedPlan contact_url /> }.into_any()),
    };
    view! {
        <section class="card stack" aria-labelledby=labelled_by data-plan=plan_attr>
            <h2 id=heading>{title} {current.then(|| view! { " " <span class="badge badge-plan">"Current plan"</span> })}</h2>
            <p class=price_class>{price}</p>
            <p class="muted">{description}</p>
            <ul>{limits.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}</ul>
            {pace.map(|pace| view! { <p class="muted" data-testid="pace">{pace}</p> })}
            {switch}
        </section>
    }
}

/// The switch to a plan customers may choose, behind a confirmation.
#[component]
fn ChoosePlan(id: String, name: String, change: ServerAction<ChangePlan>) -> impl IntoView {
    let confirm = format!("Switch to {name}");
    view! {
        <details>
            <summary class="btn">{format!("Choose {name}…")}</summary>
            <ActionForm action=change attr:class="form">
                <input type="hidden" name="plan_id" value=id />
                <p>{format!("Your limits change to {name}'s at your next request.")}</p>
                <SubmitButton pending=change.pending() class="btn btn-primary">{confirm}</SubmitButton>
            </ActionForm>
        </details>
    }
}

/// A plan arranged by contract: no switch, only where to ask for it.
#[component]
fn ArrangedPlan(contact_url: Option<String>) -> impl IntoView {
    match contact_url {
        Some(url) => view! {
            <p>"Arranged by contract. "<a href=url rel="noopener">"Contact us"</a>" to move your account to it."</p>
        }
        .into_any(),
        None => view! { <p>"Arranged by contract: contact us to move your account to it."</p> }.into_any(),
    }
}
