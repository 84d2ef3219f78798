//! One key's row of the Keys page: its dates, status and the forms that change it (rename,
//! restrict, rotate, disable or enable, revoke), and the form parts the create form shares.

use leptos::html::Details;
use leptos::prelude::*;

use super::KeyActions;
use crate::keys::{
    ACCESS_CHOICES, EXPIRY_CHOICES, GRACE_PERIODS, KeyView, QUOTA_PERIODS, QuotaView, SetKeyDisabled,
};
use crate::pages::{SubmitButton, breakable_email, close_after_success, date_over_hour, short_time};
use numbers::thousands;

/// The access choice, the address list and the key's own quota, as the create and restrict
/// forms both ask them.
#[component]
pub(super) fn RestrictionFields(
    #[prop(into)] id: String,
    read_only: bool,
    allowed_ips: String,
    quota: Option<QuotaView>,
) -> impl IntoView {
    let (access_id, ips_id, hint_id) =
        (format!("{id}-access"), format!("{id}-ips"), format!("{id}-ips-hint"));
    view! {
        <div class="row">
            <div class="field">
                <label for=access_id.clone()>"Access"</label>
                <select id=access_id name="access">
                    {ACCESS_CHOICES.iter().map(|(value, label)| view! {
                        <option value=*value selected=(*value == "read") == read_only>{*label}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for=ips_id.clone()>"Allowed IP addresses"</label>
                <textarea id=ips_id name="allowed_ips" rows="2" spellcheck="false" aria-describedby=hint_id.clone()
                    placeholder="Any address">{allowed_ips}</textarea>
                <p class="field-hint" id=hint_id>"One address or range per line, like 203.0.113.0/24. Empty: any. Requests from elsewhere get 403."</p>
            </div>
            <QuotaFields id=format!("{id}-quota") quota />
        </div>
    }
}

/// "At most [1000] requests [a day]": a key's own quota, within the plan's.
#[component]
fn QuotaFields(id: String, quota: Option<QuotaView>) -> impl IntoView {
    let (per_id, hint_id) = (format!("{id}-per"), format!("{id}-hint"));
    let per = quota.as_ref().map_or("day".to_owned(), |quota| quota.per.clone());
    view! {
        <div class="field">
            <label for=id.clone()>"Its own quota"</label>
            <div class="row">
                <input id=id name="quota_limit" type="text" inputmode="numeric" size="9" autocomplete="off"
                    placeholder="None" aria-describedby=hint_id.clone()
                    value=quota.as_ref().map(|quota| quota.limit.to_string()) />
                <label class="sr-only" for=per_id.clone()>"requests per"</label>
                <select id=per_id name="quota_per">
                    {QUOTA_PERIODS.iter().map(|(value, label)| view! {
                        <option value=*value selected=*value == per>{format!("requests {label}")}</option>
                    }).collect_view()}
                </select>
            </div>
            <p class="field-hint" id=hint_id>"At most this many of the plan's requests for this key, so one job cannot spend them all. It counts from when you set it; past it, 429. Empty: the plan's limits alone."</p>
        </div>
    }
}

/// What a key is restricted to, under its name; nothing for an unrestricted key.
pub(crate) fn restriction_summary(key: &KeyView) -> Option<impl IntoView + use<>> {
    let mut parts = Vec::new();
    if key.read_only {
        parts.push("Read only".to_owned());
    }
    if !key.allowed_ips.is_empty() {
        parts.push(format!("From {}", key.allowed_ips.join(", ")));
    }
    if let Some(quota) = &key.quota {
        let used = quota.used.map_or(String::new(), |used| format!(" ({} used)", thousands(used)));
        parts.push(format!("At most {}{used}", quota.words));
    }
    (!parts.is_empty()).then(|| view! { <div class="muted restrictions">{parts.join(" · ")}</div> })
}

/// The choices of [`EXPIRY_CHOICES`], for a form's expiry select.
#[component]
pub(super) fn ExpiryOptions() -> impl IntoView {
    EXPIRY_CHOICES.iter().map(|(days, label)| view! { <option value=*days>{*label}</option> }).collect_view()
}

#[component]
pub(super) fn KeyRow(
    key: KeyView,
    actions: KeyActions,
    hydrated: RwSignal<bool>,
    read_only: bool,
) -> impl IntoView {
    let KeyActions { rename, restrict, rotate, switch, revoke, acting_on } = actions;
    let row_id = key.id.clone();
    let errors = actions.errors(move || acting_on.with(|on| on.as_deref() == Some(row_id.as_str())));
    // Revoked and expired keys are final (only their name, how charts show them, can change);
    // a disabled one can still be restricted, rotated (say, after a leak, before it is enabled
    // again) and revoked.
    let changeable = key.can_change();
    let disabled = key.status == "disabled";
    let status = status_badge(&key);
    let id = key.id.clone();
    let revoke_id = key.id.clone();
    let name = key.name.clone();
    let rename_id = key.id.clone();
    let restrict_id = key.id.clone();
    let switch_id = key.id.clone();
    let (renaming, restricting, rotating) =
        (NodeRef::<Details>::new(), NodeRef::<Details>::new(), NodeRef::<Details>::new());
    close_after_success(renaming, move || matches!(rename.value().get(), Some(Ok(_))));
    close_after_success(restricting, move || matches!(restrict.value().get(), Some(Ok(_))));
    let summary = restriction_summary(&key);
    let has_expiry = key.expires_at.is_some();
    close_after_success(rotating, move || matches!(rotate.value().get(), Some(Ok(_))));
    view! {
        <tr>
            // The key's charts and its latest refusals are one click away.
            <th scope="row"><a href=format!("/usage?key={}", key.id)>{key.name.clone()}</a>{summary}</th>
            <td class="mono">{format!("{}…", key.start)}</td>
            <td>
                <span class="when">{date_over_hour(&short_time(&key.created_at))}</span>
                {key.created_by.clone().map(|email| view! { <div class="muted">"by "{breakable_email(email)}</div> })}
            </td>
            <td>
                <span class="when">{date_over_hour(&key.last_used_at.as_deref().map_or("Never".to_owned(), short_time))}</span>
                {key.last_used_from.clone().map(|address| view! { <div class="muted mono">{format!("from {address}")}</div> })}
            </td>
            <td>
                <span class="when">{date_over_hour(&key.expires_at.as_deref().map_or("Never".to_owned(), short_time))}</span>
                {key.expires_soon.then(|| view! { <div><span class="badge badge-expiring">"Expires soon"</span></div> })}
            </td>
            <td>{status}</td>
            {(!read_only).then(|| view! { <td class="row-actions">
                {errors}
                <details node_ref=renaming>
                    <summary class="btn btn-small">"Rename…"<span class="sr-only">{format!(" {name}")}</span></summary>
                    <ActionForm action=rename attr:class="form">
                        <input type="hidden" name="key_id" value=rename_id.clone() />
                        <div class="field">
                            <label for=format!("rename-{}", rename_id)>"New name"</label>
                            <input id=format!("rename-{}", rename_id) name="name" type="text" maxlength="64" required value=key.name.clone() />
                            <p class="field-hint">"The secret and the key's limits stay as they are."</p>
                        </div>
                        <SubmitButton pending=rename.pending() class="btn btn-small">"Save name"</SubmitButton>
                    </ActionForm>
                </details>
                {changeable.then(|| view! {
                    <details node_ref=restricting>
                        <summary class="btn btn-small">"Restrict…"<span class="sr-only">{format!(" {name}")}</span></summary>
                        <ActionForm action=restrict attr:class="form">
                            <input type="hidden" name="key_id" value=restrict_id.clone() />
                            <RestrictionFields id=format!("restrict-{restrict_id}") read_only=key.read_only allowed_ips=key.allowed_ips.join("\n") quota=key.quota.clone() />
                            <SubmitButton pending=restrict.pending() class="btn btn-small">"Save restrictions"</SubmitButton>
                        </ActionForm>
                    </details>
                    <details node_ref=rotating>
                        <summary class="btn btn-small">"Rotate…"<span class="sr-only">{format!(" {name}")}</span></summary>
                        <ActionForm action=rotate attr:class="form">
                            <input type="hidden" name="key_id" value=id.clone() />
                            <div class="field">
                                <label for=format!("grace-{}", id)>"The old secret keeps working for"</label>
                                <select id=format!("grace-{}", id) name="grace">
                                    {GRACE_PERIODS.iter().map(|(value, label, _)| view! { <option value=*value selected=*value == "24h">{*label}</option> }).collect_view()}
                                </select>
                            </div>
                            <div class="field">
                                <label for=format!("renew-{}", id)>"The key expires"</label>
                                <select id=format!("renew-{}", id) name="expires_in_days">
                                    // The row's Expires column says what is kept.
                                    <option value="" selected>"Unchanged"</option>
                                    {has_expiry.then(|| view! { <option value="0">"Never"</option> })}
                                    <ExpiryOptions />
                                </select>
                            </div>
                            <SubmitButton pending=rotate.pending() class="btn btn-small" needs_javascript=true>"Rotate secret"</SubmitButton>
                            <Show when=move || !hydrated.get()>
                                <p class="field-hint">"Rotating needs JavaScript, so that the new secret is shown only to you, once."</p>
                            </Show>
                        </ActionForm>
                    </details>
                    // A key staff disabled is theirs to enable; its status says why.
                    {key.staff_disable_reason.is_none().then(|| view! {
                        <SwitchForm key_id=switch_id.clone() name=name.clone() disabled action=switch />
                    })}
                    <details>
                        <summary class="btn btn-small btn-danger">"Revoke…"<span class="sr-only">{format!(" {name}")}</span></summary>
                        <ActionForm action=revoke attr:class="form">
                            <input type="hidden" name="key_id" value=revoke_id.clone() />
                            <div class="field">
                                <label for=format!("confirm-{}", revoke_id)>{format!("Type {} to confirm", name)}</label>
                                <input id=format!("confirm-{}", revoke_id) name="confirm_name" type="text" required autocomplete="off" />
                                <p class="field-hint">"Requests with this key fail at once, everywhere. This cannot be undone."</p>
                            </div>
                            <SubmitButton pending=revoke.pending() class="btn btn-small btn-danger">"Revoke key"</SubmitButton>
                        </ActionForm>
                    </details>
                })}
            </td> })}
        </tr>
    }
}

/// A usable key's "Disable…" (requests with it get 401 until it is enabled, nothing else
/// changes), or a disabled key's "Enable key".
#[component]
fn SwitchForm(
    key_id: String,
    name: String,
    disabled: bool,
    action: ServerAction<SetKeyDisabled>,
) -> impl IntoView {
    if disabled {
        return view! {
            <ActionForm action attr:class="form">
                <input type="hidden" name="key_id" value=key_id />
                <input type="hidden" name="disabled" value="false" />
                <SubmitButton pending=action.pending() class="btn btn-small">
                    "Enable key"<span class="sr-only">{format!(" {name}")}</span>
                </SubmitButton>
            </ActionForm>
        }
        .into_any();
    }
    let disabling = NodeRef::<Details>::new();
    close_after_success(disabling, move || matches!(action.value().get(), Some(Ok(_))));
    view! {
        <details node_ref=disabling>
            <summary class="btn btn-small">"Disable…"<span class="sr-only">{format!(" {name}")}</span></summary>
            <ActionForm action attr:class="form">
                <input type="hidden" name="key_id" value=key_id />
                <input type="hidden" name="disabled" value="true" />
                <p class="field-hint">"Requests with this key get 401 until you enable it again. Its secrets, charts and limits stay."</p>
                <SubmitButton pending=action.pending() class="btn btn-small">"Disable key"</SubmitButton>
            </ActionForm>
        </details>
    }
    .into_any()
}

pub(crate) fn status_badge(key: &KeyView) -> AnyView {
    match key.status.as_str() {
        "rotating" => {
            let until = key.rotating_until.as_deref().map_or(String::new(), short_time);
            let old_use =
                match (key.old_secret_last_used_at.as_deref(), key.old_secret_last_used_from.as_deref()) {
                    (Some(at), Some(address)) => format!("{} from {address}", short_time(at)),
                    (Some(at), None) => short_time(at),
                    (None, _) => "never".to_owned(),
                };
            view! {
                <span class="badge badge-rotating">"Rotating"</span>
                <div class="muted">{format!("Old secret works until {until}; last used {old_use}")}</div>
            }
            .into_any()
        }
        "revoked" => view! { <span class="badge badge-revoked">"Revoked"</span> }.into_any(),
        "expired" => view! { <span class="badge badge-expired">"Expired"</span> }.into_any(),
        "disabled" => {
            let why = match &key.staff_disable_reason {
                Some(reason) => format!("Disabled by keystile staff: {reason}. Ask them to enable it."),
                // Said on the console too, where it tells staff the customer chose this.
                None => {
                    "Disabled by the account's team: requests with it get 401 until it is enabled.".to_owned()
                }
            };
            view! {
                <span class="badge badge-disabled">"Disabled"</span>
                <div class="muted">{why}</div>
            }
            .into_any()
        }
        _ => view! { <span class="badge badge-active">"Active"</span> }.into_any(),
    }
}
