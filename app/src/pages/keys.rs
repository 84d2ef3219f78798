//! The Keys page: every key of the account, create (the secret shown once, with a copy
//! button), rename, restrict (read only, allowed addresses), rotate with a grace period, revoke
//! after typing the key's name.
//!
//! Creating and rotating need JavaScript: the secret arrives in the call's response and lives
//! only in this page's memory, so a plain form post (which redirects) could never show it.
//! Renaming, restricting and revoking work without JavaScript. Staff viewing as the customer
//! see no forms.

use leptos::html::Details;
use leptos::prelude::*;
use leptos_meta::Title;

use super::secret_dialog::{OneTimeSecret, OneTimeSecretDialog};
use super::{DataTable, FormError, FormSaved, ReadOnlyNote, SubmitButton, short_time, viewing_as};
use crate::keys::{
    ACCESS_CHOICES, CreateKey, EXPIRY_CHOICES, GRACE_PERIODS, KeyView, KeyWithSecret, RenameKey, RestrictKey,
    RevokeKey, RotateKey, SetKeyDisabled, list_keys,
};
use crate::shell::CurrentViewer;

/// What each key's row can do.
#[derive(Clone, Copy)]
struct KeyActions {
    rename: ServerAction<RenameKey>,
    restrict: ServerAction<RestrictKey>,
    rotate: ServerAction<RotateKey>,
    switch: ServerAction<SetKeyDisabled>,
    revoke: ServerAction<RevokeKey>,
    /// The key whose row submitted last, so that its errors show in that row. Set by the
    /// row's buttons in the browser; without JavaScript (none set) errors show above the table.
    acting_on: RwSignal<Option<String>>,
}

impl KeyActions {
    /// The errors of the rows' actions, shown where `show` says (above the table, or in a row).
    fn errors(self, show: impl Fn() -> bool + Send + Sync + Clone + 'static) -> impl IntoView {
        let Self { rename, restrict, rotate, switch, revoke, .. } = self;
        let (rename_shown, restrict_shown, rotate_shown, switch_shown) =
            (show.clone(), show.clone(), show.clone(), show.clone());
        view! {
            <Show when=rename_shown><FormError result=rename.value() /></Show>
            <Show when=restrict_shown><FormError result=restrict.value() /></Show>
            <Show when=rotate_shown><FormError result=rotate.value() /></Show>
            <Show when=switch_shown><FormError result=switch.value() /></Show>
            <Show when=show><FormError result=revoke.value() /></Show>
        }
    }
}

#[component]
pub fn KeysPage() -> impl IntoView {
    let create = ServerAction::<CreateKey>::new();
    let actions = KeyActions {
        rename: ServerAction::<RenameKey>::new(),
        restrict: ServerAction::<RestrictKey>::new(),
        rotate: ServerAction::<RotateKey>::new(),
        switch: ServerAction::<SetKeyDisabled>::new(),
        revoke: ServerAction::<RevokeKey>::new(),
        acting_on: RwSignal::new(None),
    };
    let KeyActions { rename, restrict, rotate, switch, revoke, acting_on } = actions;
    let keys = Resource::new(
        move || {
            (
                create.version().get(),
                rename.version().get(),
                restrict.version().get(),
                rotate.version().get(),
                switch.version().get(),
                revoke.version().get(),
            )
        },
        |_| list_keys(),
    );
    // The newest secret, from whichever action produced it last.
    let secret = RwSignal::new(None::<OneTimeSecret>);
    Effect::new(move |_| {
        if let Some(Ok(created)) = create.value().get() {
            secret.set(Some(one_time(created)));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(rotated)) = rotate.value().get() {
            secret.set(Some(one_time(rotated)));
        }
    });
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let viewer = use_context::<CurrentViewer>();

    view! {
        <Title text="API keys" />
        <div class="page-header">
            <h1>"API keys"</h1>
        </div>
        <div class="stack">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    if viewing_as(viewer).await {
                        view! { <ReadOnlyNote /> }.into_any()
                    } else {
                        view! { <CreateKeyForm create hydrated /> }.into_any()
                    }
                })}
            </Transition>
            {actions.errors(move || acting_on.with(Option::is_none))}
            <FormSaved action=rename message="Key renamed." />
            <FormSaved action=restrict message="Restrictions saved: they apply from the key's next request." />
            <FormSaved action=switch message="Saved. The key's next request meets the change." />
            <Transition fallback=|| view! { <p class="muted">"Loading keys…"</p> }>
                {move || Suspend::new(async move {
                    let read_only = viewing_as(viewer).await;
                    match keys.await {
                        Ok(keys) if keys.is_empty() => view! { <NoKeys /> }.into_any(),
                        Ok(keys) => view! { <KeyTable keys actions hydrated read_only /> }.into_any(),
                        Err(error) => view! { <div class="alert alert-error" role="alert">{error.to_string()}</div> }.into_any(),
                    }
                })}
            </Transition>
        </div>
        <OneTimeSecretDialog
            shown=secret
            title="Copy your new secret"
            warning="This is the only time it is shown. Store it somewhere safe now; keystile keeps only a fingerprint of it."
            done_label="I have stored it"
        />
    }
}

#[component]
fn CreateKeyForm(create: ServerAction<CreateKey>, hydrated: RwSignal<bool>) -> impl IntoView {
    let form = NodeRef::<leptos::html::Form>::new();
    super::reset_after_success(form, create.value());
    view! {
        <section class="card stack" aria-labelledby="create-heading">
            <h2 id="create-heading">"Create a key"</h2>
            <FormError result=create.value() />
            <ActionForm action=create node_ref=form attr:class="form">
                <div class="row">
                    <div class="field">
                        <label for="key-name">"Name"</label>
                        <input id="key-name" name="name" type="text" maxlength="64" required placeholder="e.g. Production server" />
                    </div>
                    <div class="field">
                        <label for="key-expiry">"Expires"</label>
                        <select id="key-expiry" name="expires_in_days">
                            <option value="">"Never"</option>
                            <ExpiryOptions />
                        </select>
                    </div>
                </div>
                <RestrictionFields id="new-key" read_only=false allowed_ips=String::new() />
                <div class="form-actions">
                    <SubmitButton pending=create.pending() class="btn btn-primary" needs_javascript=true>
                        "Create key"
                    </SubmitButton>
                </div>
                <Show when=move || !hydrated.get()>
                    <p class="field-hint">"Creating a key needs JavaScript, so that its secret is shown only to you, once."</p>
                </Show>
            </ActionForm>
        </section>
    }
}

/// The access choice and the address list, as the create and restrict forms both ask them.
#[component]
fn RestrictionFields(#[prop(into)] id: String, read_only: bool, allowed_ips: String) -> impl IntoView {
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
    (!parts.is_empty()).then(|| view! { <div class="muted restrictions">{parts.join(" · ")}</div> })
}

#[component]
fn NoKeys() -> impl IntoView {
    view! {
        <div class="empty-state">
            <h2>"No API keys yet"</h2>
            <p>"Create a key above, then send it with each request as " <code>"Authorization: Bearer <key>"</code> "."</p>
        </div>
    }
}

#[component]
fn KeyTable(
    keys: Vec<KeyView>,
    actions: KeyActions,
    hydrated: RwSignal<bool>,
    read_only: bool,
) -> impl IntoView {
    view! {
        <DataTable label="API keys of this account">
            <thead>
                <tr>
                    <th scope="col">"Name"</th>
                    <th scope="col">"Key"</th>
                    <th scope="col">"Created"</th>
                    <th scope="col">"Last used"</th>
                    <th scope="col">"Expires"</th>
                    <th scope="col">"Status"</th>
                    {(!read_only).then(|| view! { <th scope="col">"Actions"</th> })}
                </tr>
            </thead>
            <tbody>
                {keys.into_iter().map(|key| view! { <KeyRow key actions hydrated read_only /> }).collect_view()}
            </tbody>
        </DataTable>
    }
}

/// The choices of [`EXPIRY_CHOICES`], for a form's expiry select.
#[component]
fn ExpiryOptions() -> impl IntoView {
    EXPIRY_CHOICES.iter().map(|(days, label)| view! { <option value=*days>{*label}</option> }).collect_view()
}

#[component]
fn KeyRow(key: KeyView, actions: KeyActions, hydrated: RwSignal<bool>, read_only: bool) -> impl IntoView {
    let KeyActions { rename, restrict, rotate, switch, revoke, acting_on } = actions;
    // Copy, so each of the row's buttons can take it.
    let this_row = StoredValue::new(key.id.clone());
    let act = move |_: leptos::ev::MouseEvent| acting_on.set(Some(this_row.get_value()));
    let row_id = key.id.clone();
    let errors = actions.errors(move || acting_on.with(|on| on.as_deref() == Some(row_id.as_str())));
    let usable = matches!(key.status.as_str(), "active" | "rotating");
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
            <th scope="row">{key.name.clone()}{summary}</th>
            <td class="mono">{format!("{}…", key.start)}</td>
            <td>
                <span class="when">{short_time(&key.created_at)}</span>
                {key.created_by.clone().map(|email| view! { <div class="muted">{format!("by {email}")}</div> })}
            </td>
            <td>
                <span class="when">{key.last_used_at.as_deref().map_or("Never".to_owned(), short_time)}</span>
                {key.last_used_from.clone().map(|address| view! { <div class="muted mono">{format!("from {address}")}</div> })}
            </td>
            <td>
                <span class="when">{key.expires_at.as_deref().map_or("Never".to_owned(), short_time)}</span>
                {key.expires_soon.then(|| view! { <div><span class="badge badge-expiring">"Expires soon"</span></div> })}
            </td>
            <td>{status}</td>
            {(!read_only).then(|| view! { <td>
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
                        <SubmitButton pending=rename.pending() class="btn btn-small" on:click=act>"Save name"</SubmitButton>
                    </ActionForm>
                </details>
                <details node_ref=restricting>
                    <summary class="btn btn-small">"Restrict…"<span class="sr-only">{format!(" {name}")}</span></summary>
                    <ActionForm action=restrict attr:class="form">
                        <input type="hidden" name="key_id" value=restrict_id.clone() />
                        <RestrictionFields id=format!("restrict-{restrict_id}") read_only=key.read_only allowed_ips=key.allowed_ips.join("\n") />
                        <SubmitButton pending=restrict.pending() class="btn btn-small" on:click=act>"Save restrictions"</SubmitButton>
                    </ActionForm>
                </details>
                {usable.then(|| view! {
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
                            <SubmitButton pending=rotate.pending() class="btn btn-small" needs_javascript=true on:click=act>"Rotate secret"</SubmitButton>
                            <Show when=move || !hydrated.get()>
                                <p class="field-hint">"Rotating needs JavaScript, so that the new secret is shown only to you, once."</p>
                            </Show>
                        </ActionForm>
                    </details>
                })}
                {(usable || disabled).then(|| view! {
                    <SwitchForm key_id=switch_id.clone() name=name.clone() disabled action=switch acting_on />
                    <details>
                        <summary class="btn btn-small btn-danger">"Revoke…"<span class="sr-only">{format!(" {name}")}</span></summary>
                        <ActionForm action=revoke attr:class="form">
                            <input type="hidden" name="key_id" value=revoke_id.clone() />
                            <div class="field">
                                <label for=format!("confirm-{}", revoke_id)>{format!("Type {} to confirm", name)}</label>
                                <input id=format!("confirm-{}", revoke_id) name="confirm_name" type="text" required autocomplete="off" />
                                <p class="field-hint">"Requests with this key fail at once, everywhere. This cannot be undone."</p>
                            </div>
                            <SubmitButton pending=revoke.pending() class="btn btn-small btn-danger" on:click=act>"Revoke key"</SubmitButton>
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
    acting_on: RwSignal<Option<String>>,
) -> impl IntoView {
    let this_row = StoredValue::new(key_id.clone());
    let act = move |_: leptos::ev::MouseEvent| acting_on.set(Some(this_row.get_value()));
    if disabled {
        return view! {
            <ActionForm action attr:class="form">
                <input type="hidden" name="key_id" value=key_id />
                <input type="hidden" name="disabled" value="false" />
                <SubmitButton pending=action.pending() class="btn btn-small" on:click=act>
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
                <SubmitButton pending=action.pending() class="btn btn-small" on:click=act>"Disable key"</SubmitButton>
            </ActionForm>
        </details>
    }
    .into_any()
}

/// Folds a row's disclosure once its action succeeded: the page keeps the row's elements when
/// the list reloads, so it would otherwise stay open over the row's new state.
fn close_after_success(details: NodeRef<Details>, succeeded: impl Fn() -> bool + Send + Sync + 'static) {
    Effect::new(move |_| {
        if succeeded()
            && let Some(details) = details.get()
        {
            details.set_open(false);
        }
    });
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
        "disabled" => view! {
            <span class="badge badge-disabled">"Disabled"</span>
            <div class="muted">"Requests with it get 401 until it is enabled."</div>
        }
        .into_any(),
        _ => view! { <span class="badge badge-active">"Active"</span> }.into_any(),
    }
}

fn one_time(key: KeyWithSecret) -> OneTimeSecret {
    OneTimeSecret { about: format!("Key: {}", key.key.name), secret: key.secret }
}
