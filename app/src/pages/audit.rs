//! The audit log: the customer's own account (`/audit`) or, for operators, every account
//! (`/admin/audit`), filtered by actor, action and dates with a plain GET form.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::{DataTable, ErrorAlert, breakable_email, date_over_hour};
use crate::audit_log::{AUDIT_PAGE, AuditRow, list_audit};

#[component]
pub fn AuditPage() -> impl IntoView {
    view! { <AuditLog all_accounts=false /> }
}

#[component]
pub fn AdminAuditPage() -> impl IntoView {
    view! { <AuditLog all_accounts=true /> }
}

#[component]
fn AuditLog(all_accounts: bool) -> impl IntoView {
    let query = use_query_map();
    let field = move |name: &str| query.read().get(name).unwrap_or_default();
    let filters = move || (field("account"), field("actor"), field("action"), field("from"), field("to"));
    let entries = Resource::new(filters, move |(account, actor, action, from, to)| {
        list_audit(all_accounts, account, actor, action, from, to)
    });
    let action = if all_accounts { "/admin/audit" } else { "/audit" };
    // Operators reach one account's entries from its page, through the hidden `account` field.
    let filtered = move || all_accounts && !field("account").trim().is_empty();
    let intro = if all_accounts {
        "Every change to every account, newest first."
    } else {
        "Every change to your account, and every time support viewed it, newest first."
    };
    view! {
        <Title text="Audit log" />
        <div class="page-header"><h1>"Audit log"</h1></div>
        <Show when=move || !filtered()>
            <p class="muted">{intro}</p>
        </Show>
        <form method="get" action=action class="row audit-filter" aria-label="Filter the audit log">
            {all_accounts.then(|| view! { <input type="hidden" name="account" value=move || field("account") /> })}
            <span class="inline-field"><label for="audit-actor">"Actor"</label>
            <input id="audit-actor" name="actor" value=move || field("actor") placeholder="email" /></span>
            <span class="inline-field"><label for="audit-action">"Action"</label>
            <input id="audit-action" name="action" value=move || field("action") placeholder="e.g. key." /></span>
            <span class="inline-field"><label for="audit-from">"From"</label>
            <input id="audit-from" name="from" type="date" value=move || field("from") /></span>
            <span class="inline-field"><label for="audit-to">"To"</label>
            <input id="audit-to" name="to" type="date" value=move || field("to") /></span>
            <button type="submit" class="btn btn-small">"Filter"</button>
        </form>
        <Transition fallback=|| view! { <p class="muted">"Loading the log…"</p> }>
            {move || Suspend::new(async move {
                match entries.await {
                    Ok(rows) => {
                        let account = filtered().then(|| {
                            let id = field("account");
                            let name = rows.iter().find_map(|row| row.account_name.clone()).unwrap_or(id);
                            view! { <AccountFilter name /> }
                        });
                        let entries = if rows.is_empty() {
                            view! { <div class="empty-state"><h2>"Nothing recorded"</h2><p>"No entries match. Changes to keys, plans and limits appear here."</p></div> }.into_any()
                        } else {
                            let cut = rows.len() >= AUDIT_PAGE as usize;
                            view! {
                                <AuditTable rows all_accounts />
                                {cut.then(|| view! { <p class="muted">{format!("Showing the newest {AUDIT_PAGE} entries. Narrow the search to see older ones.")}</p> })}
                            }.into_any()
                        };
                        view! { {account} {entries} }.into_any()
                    }
                    Err(error) => view! { <ErrorAlert error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

/// Which account the log is narrowed to, and the way back to every account's entries (the
/// other filters kept).
#[component]
fn AccountFilter(name: String) -> impl IntoView {
    let query = use_query_map();
    let all_accounts = move || {
        let mut params = query.get();
        params.remove("account");
        format!("/admin/audit{}", params.to_query_string())
    };
    view! {
        <p class="muted">"Filtered to " <strong>{name}</strong> " · " <a href=all_accounts>"Show all accounts"</a></p>
    }
}

#[component]
fn AuditTable(rows: Vec<AuditRow>, all_accounts: bool) -> impl IntoView {
    view! {
        <DataTable label="Audit entries">
            <thead><tr>
                <th scope="col">"When"</th>
                {all_accounts.then(|| view! { <th scope="col">"Account"</th> })}
                <th scope="col">"Who"</th><th scope="col">"What"</th><th scope="col">"Target"</th>
                <th scope="col">"Change"</th><th scope="col">"Reason"</th>
            </tr></thead>
            <tbody>{rows.into_iter().map(|row| {
                let action = row.action.clone();
                // Operators see whose entry it is; a catalogue edit belongs to no account.
                let account = row.account_id.clone().map(|id| {
                    let name = row.account_name.clone().unwrap_or_else(|| id.clone());
                    view! { <a href=format!("/admin/accounts/{id}")>{name}</a> }
                });
                view! {
                <tr data-action=action>
                    <td class="when">{date_over_hour(&row.at)}</td>
                    {all_accounts.then(|| view! { <td>{account}</td> })}
                    <td>{breakable_email(row.actor)}</td>
                    <td>{action_label(&row.action)}<div class="muted mono">{row.action}</div></td>
                    <Target id=row.target label=row.target_label />
                    <Change before=row.before after=row.after />
                    <td class="reason">{row.reason.unwrap_or_default()}</td>
                </tr>
                }
            }).collect_view()}</tbody>
        </DataTable>
    }
}

/// The value before and after, one above the other: one column leaves the table room to fit
/// a desktop window with its reason in view.
#[component]
fn Change(before: Option<String>, after: Option<String>) -> impl IntoView {
    let line = |label: &'static str, value: Option<String>| {
        value.map(|value| view! { <div><span class="muted">{label}</span>{value}</div> })
    };
    view! { <td class="change">{line("Before: ", before)}{line("After: ", after)}</td> }
}

/// A target by its current name where it has one, its id kept as a tooltip; otherwise the id.
#[component]
fn Target(id: Option<String>, label: Option<String>) -> impl IntoView {
    match label {
        Some(label) => view! { <td title=id>{breakable_email(label)}</td> }.into_any(),
        None => view! { <td class="mono id">{id.unwrap_or_default()}</td> }.into_any(),
    }
}

/// What an audit action code means, in words; the code itself is shown beneath (the search
/// filters by it).
fn action_label(action: &str) -> &'static str {
    match action {
        "key.create" => "Key created",
        "key.rename" => "Key renamed",
        "key.restrict" => "Key restrictions changed",
        "key.rotate" => "Key rotated",
        "key.revoke" => "Key revoked",
        "key.disable" => "Key disabled",
        "key.enable" => "Key enabled",
        "plan.change" => "Plan changed",
        "spend_cap.change" => "Spend cap changed",
        "override.set" => "Limit override set",
        "bucket.reset" => "Counter reset",
        "catalogue.edit" => "Plan catalogue edited",
        "bucket.edit" => "Bucket limit changed",
        "pricing.edit" => "Pricing changed",
        "account.rename" => "Account renamed",
        "account.disable" => "Account disabled",
        "account.enable" => "Account enabled",
        "member.invite" => "Member invited",
        "member.join" => "Member joined",
        "member.remove" => "Member removed",
        "member.leave" => "Member left",
        "invitation.revoke" => "Invitation revoked",
        "user.password_change" => "Password changed",
        "user.sign_out_everywhere" => "Logged out everywhere else",
        "view_as.start" => "Support view started",
        "view_as.page" => "Support viewed a page",
        "view_as.end" => "Support view ended",
        _ => "Other change",
    }
}
