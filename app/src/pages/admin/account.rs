//! One account's page of the operator console: its users, keys (never secrets), gauges, usage
//! and refusals, and the admin's forms: plan, overrides, counter resets, disabling a key or the
//! account, and starting a support view-as.

use leptos::html::{Details, Form};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;
use numbers::thousands;

use crate::admin::{
    AdminAccount, AdminChangePlan, AdminSetKeyDisabled, ResetBucket, SetAccountDisabled, SetOverride,
    admin_overview, load_account,
};
use crate::keys::KeyView;
use crate::pages::keys::{restriction_summary, status_badge};
use crate::pages::overview::{Gauge, Month};
use crate::pages::usage::{ChartCard, Refusals};
use crate::pages::{
    Changes, DataTable, ErrorAlert, FormError, FormSaved, SubmitButton, close_after_success,
    on_each_submission, reset_after_success, sentence_case, short_time,
};
use crate::view_as::StartViewAs;

#[component]
pub fn AdminAccountPage() -> impl IntoView {
    let params = use_params_map();
    let account_id = move || params.read().get("id").unwrap_or_default();
    let change_plan = ServerAction::<AdminChangePlan>::new();
    let set_override = ServerAction::<SetOverride>::new();
    let reset = ServerAction::<ResetBucket>::new();
    let disable = ServerAction::<SetAccountDisabled>::new();
    let switch_key = ServerAction::<AdminSetKeyDisabled>::new();
    let view_as = ServerAction::<StartViewAs>::new();
    // A full page load into the view: the session id changed and every part of the page
    // (the banner, the navigation) must read it afresh.
    Effect::new(move |_| {
        if let Some(Ok(())) = view_as.value().get() {
            let _ = window().location().set_href("/");
        }
    });
    let changes = Changes::new()
        .follow(change_plan)
        .follow(set_override)
        .follow(reset)
        .follow(disable)
        .follow(switch_key);
    let account = Resource::new(move || (account_id(), changes.get()), |(id, _)| load_account(id));
    // The page speaks of the latest change only: each submission clears what earlier ones said.
    let clear = move || {
        change_plan.value().set(None);
        set_override.value().set(None);
        reset.value().set(None);
        disable.value().set(None);
        switch_key.value().set(None);
        view_as.value().set(None);
    };
    on_each_submission(change_plan, move |_| clear());
    on_each_submission(set_override, move |_| clear());
    on_each_submission(reset, move |_| clear());
    on_each_submission(disable, move |_| clear());
    on_each_submission(switch_key, move |_| clear());
    on_each_submission(view_as, move |_| clear());
    view! {
        <Title text="Account · Admin" />
        <p><a href="/admin">"← All accounts"</a></p>
        // Held at the top of the window, so a form's answer shows wherever the form is.
        <div class="form-answers">
        <FormError result=change_plan.value() />
        <FormSaved action=change_plan message="Plan changed." />
        <FormError result=set_override.value() />
        <FormSaved action=set_override message="Limit saved." />
        <FormError result=reset.value() />
        <FormSaved action=reset message="Counter reset." />
        <FormError result=disable.value() />
        <FormError result=switch_key.value() />
        <FormSaved action=switch_key message="Saved. The key's next request meets the change." />
        <FormError result=view_as.value() />
        </div>
        <Transition fallback=|| view! { <p class="muted">"Loading the account…"</p> }>
            {move || Suspend::new(async move {
                match account.await {
                    Ok(account) => view! { <AccountBody account change_plan set_override reset disable switch_key view_as /> }.into_any(),
                    Err(error) => view! { <ErrorAlert error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AccountBody(
    account: AdminAccount,
    change_plan: ServerAction<AdminChangePlan>,
    set_override: ServerAction<SetOverride>,
    reset: ServerAction<ResetBucket>,
    disable: ServerAction<SetAccountDisabled>,
    switch_key: ServerAction<AdminSetKeyDisabled>,
    view_as: ServerAction<StartViewAs>,
) -> impl IntoView {
    let live = RwSignal::new(account.overview.clone());
    let account_id = account.id.clone();
    crate::pages::refresh_every(live, std::time::Duration::from_secs(1), move || {
        admin_overview(account_id.clone())
    });
    let gauges: Vec<String> = account.overview.gauges.iter().map(|gauge| gauge.name.clone()).collect();
    let can_change = account.can_change;
    let id = account.id.clone();
    let plan_section = if can_change {
        view! { <PlanForm account_id=id.clone() current=account.plan_id.clone() plans=account.plans.clone() change_plan /> }.into_any()
    } else {
        let plan = account
            .plans
            .iter()
            .find(|(id, _)| *id == account.plan_id)
            .map_or(&account.plan_id, |(_, name)| name);
        view! { <p>{format!("Plan: {plan}")}</p> }.into_any()
    };
    let audit_link = format!("/admin/audit?account={id}");
    view! {
        <Title text=format!("{} · Admin", account.name) />
        <div class="page-header">
            <h1>{account.name.clone()}</h1>
            {account.disabled.then(|| view! { <span class="badge badge-revoked">"Disabled"</span> })}
        </div>
        <div class="stack">
            {account.disabled_note.clone().map(|note| view! { <div class="alert alert-warning">{note}</div> })}
            <section class="card stack" aria-labelledby="view-as-heading">
                <h2 id="view-as-heading">"View as the customer"</h2>
                <p class="muted">"See the dashboard exactly as the owner does, read-only. The start, each page and the end go in the account's audit log."</p>
                <ActionForm action=view_as attr:class="form row">
                    <input type="hidden" name="account_id" value=id.clone() />
                    <label for="view-as-reason">"Reason"</label>
                    <input id="view-as-reason" name="reason" required placeholder="e.g. ticket #1234: quota question" />
                    <SubmitButton pending=view_as.pending()>"View as customer"</SubmitButton>
                </ActionForm>
            </section>
            <Month live />
            <div class="gauge-grid">{gauges.into_iter().map(|name| view! { <Gauge live name /> }).collect_view()}</div>
            <section class="card stack" aria-labelledby="plan-heading">
                <h2 id="plan-heading">"Plan"</h2>
                {plan_section}
            </section>
            <Overrides account=account.clone() set_override reset />
            <section class="card" aria-labelledby="users-heading">
                <h2 id="users-heading">"Users"</h2>
                {if account.users.is_empty() {
                    view! { <p class="muted">"No users."</p> }.into_any()
                } else {
                    view! { <ul>{account.users.iter().map(|(email, role)| view! { <li>{format!("{email} ({})", sentence_case(role))}</li> }).collect_view()}</ul> }.into_any()
                }}
            </section>
            <section class="card stack" aria-labelledby="keys-heading">
                <h2 id="keys-heading">"Keys"</h2>
                {if account.keys.is_empty() {
                    view! { <p class="muted">"No keys yet."</p> }.into_any()
                } else {
                    let key_rows = account.keys.iter().map(|key| view! {
                        <tr>
                            <th scope="row">{key.name.clone()}{restriction_summary(key)}</th>
                            <td class="mono">{format!("{}…", key.start)}</td>
                            <td>{status_badge(key)}</td>
                            <td>{key.last_used_at.as_deref().map_or("Never".to_owned(), short_time)}</td>
                            {can_change.then(|| view! { <td><KeySwitch account_id=account.id.clone() key=key.clone() switch_key /></td> })}
                        </tr>
                    }).collect_view();
                    view! {
                        <DataTable label="The account's API keys">
                            <thead><tr>
                                <th scope="col">"Name"</th><th scope="col">"Key"</th><th scope="col">"Status"</th><th scope="col">"Last used"</th>
                                {can_change.then(|| view! { <th scope="col">"Actions"</th> })}
                            </tr></thead>
                            <tbody>{key_rows}</tbody>
                        </DataTable>
                    }.into_any()
                }}
                <p><a href=audit_link>"This account's audit log"</a></p>
            </section>
            // The account's traffic after what an operator acts on, so the limits, users and keys
            // are not below a screenful of charts and refusals.
            {account.usage.clone().map(|usage| {
                let charts = usage.charts.len();
                let usage = RwSignal::new(usage);
                view! {
                    <section class="stack" aria-label="The account's usage">
                        {(0..charts).map(|index| view! { <ChartCard live=usage index /> }).collect_view()}
                        <Refusals live=usage />
                    </section>
                }
            })}
            {can_change.then(|| view! { <Disable account=account.clone() disable /> })}
        </div>
    }
}

#[component]
fn PlanForm(
    account_id: String,
    current: String,
    plans: Vec<(String, String)>,
    change_plan: ServerAction<AdminChangePlan>,
) -> impl IntoView {
    view! {
        <ActionForm action=change_plan attr:class="form row">
            <input type="hidden" name="account_id" value=account_id />
            <label for="admin-plan">"Move to plan"</label>
            <select id="admin-plan" name="plan_id">
                {plans.into_iter().map(|(plan, name)| {
                    let selected = plan == current;
                    view! { <option value=plan selected=selected>{name}</option> }
                }).collect_view()}
            </select>
            <SubmitButton pending=change_plan.pending() class="btn btn-primary">"Change plan"</SubmitButton>
        </ActionForm>
    }
}

#[component]
fn Overrides(
    account: AdminAccount,
    set_override: ServerAction<SetOverride>,
    reset: ServerAction<ResetBucket>,
) -> impl IntoView {
    let reset_id = account.id.clone();
    let can_change = account.can_change;
    let limit_rows = account.limits.iter().cloned().map(|row| {
        let label = format!("Limit for {}", row.bucket);
        let row_id = account.id.clone();
        let value = row.override_limit;
        view! {
            <tr>
                <th scope="row">{row.bucket.clone()}</th>
                <td>{if row.per_key { "key" } else { "account" }}</td>
                <td>{row.plan_limit}</td>
                <td>{value.map_or_else(|| "—".to_owned(), thousands)}</td>
                {can_change.then(|| view! { <td>
                    <ActionForm action=set_override attr:class="row">
                        <input type="hidden" name="account_id" value=row_id />
                        <input type="hidden" name="bucket" value=row.bucket.clone() />
                        <input name="limit" aria-label=label inputmode="numeric" value=value.map(|v| v.to_string()).unwrap_or_default() placeholder="the plan's" />
                        <SubmitButton pending=set_override.pending() class="btn btn-small">
                            "Save"<span class="sr-only">{format!(" the limit for {}", row.bucket)}</span>
                        </SubmitButton>
                    </ActionForm>
                </td> })}
            </tr>
        }
    }).collect_view();
    view! {
        <section class="card stack" aria-labelledby="overrides-heading">
            <h2 id="overrides-heading">"Limits"</h2>
            <DataTable label="The account's limits">
                <thead><tr>
                    <th scope="col">"Bucket"</th><th scope="col">"Counted per"</th><th scope="col">"Plan's limit"</th><th scope="col">"Override"</th>
                    {can_change.then(|| view! { <th scope="col">"Set"</th> })}
                </tr></thead>
                <tbody>{limit_rows}</tbody>
            </DataTable>
            {account.can_change.then(|| view! {
                <details>
                    <summary class="btn btn-danger">"Reset a counter…"</summary>
                    <ActionForm action=reset attr:class="form row">
                        <input type="hidden" name="account_id" value=reset_id.clone() />
                        <label for="reset-bucket">"Reset the counter of"</label>
                        <select id="reset-bucket" name="bucket">
                            {account.limits.iter().map(|row| {
                                let label = if row.per_key { format!("{} (one key)", row.bucket) } else { row.bucket.clone() };
                                view! { <option value=row.bucket.clone()>{label}</option> }
                            }).collect_view()}
                        </select>
                        <label for="reset-key">"Key"</label>
                        <select id="reset-key" name="key_id">
                            <option value="">"— account-wide —"</option>
                            {account.keys.iter().filter(|key| key.status == "active" || key.status == "rotating").map(|key| view! { <option value=key.id.clone()>{key.name.clone()}</option> }).collect_view()}
                        </select>
                        <p class="field-hint" id="reset-hint">"The count starts again from zero at once, on every node: requests it refused until now are let through. This cannot be undone."</p>
                        <label><input type="checkbox" name="confirm" value="yes" required aria-describedby="reset-hint" />" Start it from zero now"</label>
                        <SubmitButton pending=reset.pending() class="btn btn-danger">"Reset counter"</SubmitButton>
                    </ActionForm>
                </details>
            })}
        </section>
    }
}

/// An admin's "Disable…" or "Enable…" for one of the account's keys, with the reason the audit
/// log keeps; nothing for a revoked or expired key.
#[component]
fn KeySwitch(
    account_id: String,
    key: KeyView,
    switch_key: ServerAction<AdminSetKeyDisabled>,
) -> impl IntoView {
    let disabling = key.status != "disabled";
    let changeable = key.can_change();
    let reason_id = format!("key-reason-{}", key.id);
    // The table's rows are reused when the account reloads: fold and empty this one's form, or
    // the next key in its place would open with this one's reason filled in.
    let (disclosure, form) = (NodeRef::<Details>::new(), NodeRef::<Form>::new());
    close_after_success(disclosure, move || matches!(switch_key.value().get(), Some(Ok(_))));
    reset_after_success(form, switch_key.value());
    changeable.then(|| {
        view! {
            <details node_ref=disclosure>
                <summary class="btn btn-small">
                    {if disabling { "Disable…" } else { "Enable…" }}<span class="sr-only">{format!(" {}", key.name)}</span>
                </summary>
                <ActionForm action=switch_key node_ref=form attr:class="form">
                    <input type="hidden" name="account_id" value=account_id />
                    <input type="hidden" name="key_id" value=key.id.clone() />
                    <input type="hidden" name="disabled" value=disabling.to_string() />
                    <div class="field">
                        <label for=reason_id.clone()>"Reason"</label>
                        <input id=reason_id name="reason" required />
                    </div>
                    <SubmitButton pending=switch_key.pending() class="btn btn-small">
                        {if disabling { "Disable key" } else { "Enable key" }}
                    </SubmitButton>
                </ActionForm>
            </details>
        }
    })
}

#[component]
fn Disable(account: AdminAccount, disable: ServerAction<SetAccountDisabled>) -> impl IntoView {
    let disabling = !account.disabled;
    let confirm_label = format!("Type {} to confirm", account.name);
    // Enabling harms nothing, so only disabling asks for the account's name.
    let confirm = if disabling {
        view! {
            <div class="field">
                <label for="disable-confirm">{confirm_label}</label>
                <input id="disable-confirm" name="confirm_name" required autocomplete="off" />
            </div>
        }
        .into_any()
    } else {
        view! { <input type="hidden" name="confirm_name" value="" /> }.into_any()
    };
    let form = NodeRef::<Form>::new();
    reset_after_success(form, disable.value());
    view! {
        <section class="card stack" aria-labelledby="disable-heading">
            <h2 id="disable-heading">{if disabling { "Disable the account" } else { "Enable the account" }}</h2>
            <p class="muted">{if disabling { "Its keys get 401 on every node within a second. Nothing is deleted." } else { "Its keys work again at the next request." }}</p>
            <FormSaved action=disable message=if disabling { "Account enabled." } else { "Account disabled." } />
            <ActionForm action=disable node_ref=form attr:class="form">
                <input type="hidden" name="account_id" value=account.id.clone() />
                <input type="hidden" name="disabled" value=disabling.to_string() />
                <div class="field">
                    <label for="disable-reason">"Reason"</label>
                    <input id="disable-reason" name="reason" required />
                </div>
                {confirm}
                <SubmitButton pending=disable.pending() class=if disabling { "btn btn-danger" } else { "btn" }>
                    {if disabling { "Disable account" } else { "Enable account" }}
                </SubmitButton>
            </ActionForm>
        </section>
    }
}
