//! The Plan page: every plan side by side, the current one marked, and a switch that asks for
//! confirmation first. Works without JavaScript (plain forms).

use leptos::prelude::*;
use leptos_meta::Title;

use super::FormError;
use crate::plans::{ChangePlan, PlanView, list_plans};

#[component]
pub fn PlanPage() -> impl IntoView {
    let change = ServerAction::<ChangePlan>::new();
    let plans = Resource::new(move || change.version().get(), |_| list_plans());
    view! {
        <Title text="Plan" />
        <div class="page-header"><h1>"Plan"</h1></div>
        <p class="muted">"A new plan's limits apply to your next request. Counters carry over. "<a href="/billing">"Billing"</a>" shows what this month costs."</p>
        <FormError result=change.value() />
        <Transition fallback=|| view! { <p class="muted">"Loading plans…"</p> }>
            {move || Suspend::new(async move {
                match plans.await {
                    Ok(plans) => view! {
                        <div class="grid">
                            {plans.into_iter().map(|plan| view! { <PlanCard plan change /> }).collect_view()}
                        </div>
                    }.into_any(),
                    Err(error) => view! { <div class="alert alert-error" role="alert">{error.to_string()}</div> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PlanCard(plan: PlanView, change: ServerAction<ChangePlan>) -> impl IntoView {
    let PlanView { id, name, description, price, limits, current } = plan;
    let heading = format!("plan-{id}");
    let labelled_by = heading.clone();
    let plan_attr = id.clone();
    let title = name.clone();
    let confirm = format!("Switch to {name}");
    view! {
        <section class="card stack" aria-labelledby=labelled_by data-plan=plan_attr>
            <h2 id=heading>{title} {current.then(|| view! { " " <span class="badge badge-plan">"Current plan"</span> })}</h2>
            <p class="stat-value">{price}</p>
            <p class="muted">{description}</p>
            <ul>{limits.into_iter().map(|line| view! { <li>{line}</li> }).collect_view()}</ul>
            {(!current).then(|| view! {
                <details>
                    <summary class="btn">{format!("Choose {name}…")}</summary>
                    <ActionForm action=change attr:class="form">
                        <input type="hidden" name="plan_id" value=id.clone() />
                        <p>{format!("Your limits change to {name}'s at your next request.")}</p>
                        <button type="submit" class="btn btn-primary">{confirm.clone()}</button>
                    </ActionForm>
                </details>
            })}
        </section>
    }
}
