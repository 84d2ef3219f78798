//! The plan catalogue editor (admins; support reads it): each plan's name, price, quota, burst,
//! daily cap and whether customers can choose it. A saved change is in force at the next request and outlives restarts.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{Changes, ErrorAlert, FormError, FormSaved, SubmitButton};
use crate::admin::{CataloguePlan, EditPlan, list_catalogue};

#[component]
pub fn CataloguePage() -> impl IntoView {
    let edit = ServerAction::<EditPlan>::new();
    let changes = Changes::new().follow(edit);
    let plans = Resource::new(move || changes.get(), |_| list_catalogue());
    view! {
        <Title text="Plan catalogue" />
        <div class="page-header"><h1>"Plan catalogue"</h1></div>
        <p class="muted">"Changes apply to every account on the plan at its next request. Leave a number empty for none."</p>
        <FormError result=edit.value() />
        <FormSaved action=edit message="Saved. The next request uses it." />
        <Transition fallback=|| view! { <p class="muted">"Loading the catalogue…"</p> }>
            {move || Suspend::new(async move {
                match plans.await {
                    Ok(plans) => view! { <div class="grid">{plans.into_iter().map(|plan| view! { <PlanEditor plan edit /> }).collect_view()}</div> }.into_any(),
                    Err(error) => view! { <ErrorAlert error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn PlanEditor(plan: CataloguePlan, edit: ServerAction<EditPlan>) -> impl IntoView {
    let id = plan.id.clone();
    let field = move |name: &str| format!("{id}-{name}");
    let number = |value: Option<u64>| value.map(|v| v.to_string()).unwrap_or_default();
    let label = format!("Plan {}", plan.name);
    let heading = plan.name.clone();
    let plan_attr = plan.id.clone();
    view! {
        <section class="card stack" aria-label=label data-plan=plan_attr>
            <h2>{heading}</h2>
            <ActionForm action=edit attr:class="form">
                <input type="hidden" name="plan_id" value=plan.id.clone() />
                <div class="field"><label for=field("name")>"Name"</label><input id=field("name") name="name" value=plan.name.clone() required disabled=!plan.can_change /></div>
                <div class="field"><label for=field("description")>"Description"</label><input id=field("description") name="description" value=plan.description.clone() disabled=!plan.can_change /></div>
                <div class="field"><label for=field("price")>"Price (cents a month)"</label><input id=field("price") name="price_cents" inputmode="numeric" aria-describedby=field("price-hint") value=number(plan.price_cents) disabled=!plan.can_change /><p class="field-hint" id=field("price-hint")>"In cents, e.g. 4900 for $49.00. Shown on the Plan page; a policy with pricing tiers (the default) bills by its tiers instead, and its plans show “Billed by usage”."</p></div>
                <div class="field"><label for=field("quota")>"Monthly quota"</label><input id=field("quota") name="monthly_quota" inputmode="numeric" value=number(plan.monthly_quota) disabled=!plan.can_change /></div>
                <div class="field"><label for=field("burst")>"Burst (requests a second)"</label><input id=field("burst") name="burst_per_second" inputmode="numeric" value=number(plan.burst_per_second) disabled=!plan.can_change /></div>
                <div class="field"><label><input type="checkbox" name="daily_cap" checked=plan.daily_cap disabled=!plan.can_change />" Daily safety cap"</label></div>
                <div class="field"><label><input type="checkbox" name="self_service" checked=plan.self_service disabled=!plan.can_change aria-describedby=field("self-service-hint") />" Customers can choose it on their Plan page"</label><p class="field-hint" id=field("self-service-hint")>"Off: only an admin moves an account to it (a plan arranged by contract)."</p></div>
                {plan.can_change.then(|| view! {
                    <SubmitButton pending=edit.pending() class="btn btn-primary">"Save plan"</SubmitButton>
                })}
            </ActionForm>
        </section>
    }
}
