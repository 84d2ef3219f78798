//! The Keys page: every key of the account, create (the secret shown once, with a copy
//! button and a command to try it), rename, restrict (read only, allowed addresses), rotate with a grace period, revoke
//! after typing the key's name.
//!
//! Creating and rotating need JavaScript: the secret arrives in the call's response and lives
//! only in this page's memory, so a plain form post (which redirects) could never show it.
//! Renaming, restricting and revoking work without JavaScript. Staff viewing as the customer
//! see no forms.

use leptos::prelude::*;
use leptos_meta::Title;

use super::secret_dialog::{OneTimeSecret, OneTimeSecretDialog};
use super::{
    Changes, DataTable, ErrorAlert, FormError, FormSaved, ReadOnlyNote, SubmitButton, on_each_submission,
    viewing_as,
};
use crate::keys::{
    CreateKey, KeyView, KeyWithSecret, RenameKey, RestrictKey, RevokeKey, RotateKey, SetKeyDisabled,
    list_keys,
};
use crate::shell::CurrentViewer;

mod row;

use row::{ExpiryOptions, KeyRow, RestrictionFields};
pub(crate) use row::{restriction_summary, status_badge};

/// What each key's row can do.
#[derive(Clone, Copy)]
struct KeyActions {
    rename: ServerAction<RenameKey>,
    restrict: ServerAction<RestrictKey>,
    rotate: ServerAction<RotateKey>,
    switch: ServerAction<SetKeyDisabled>,
    revoke: ServerAction<RevokeKey>,
    /// The key whose row submitted last, so that its errors show in that row. Set in the
    /// browser ([`KeyActions::follow_submissions`]); without JavaScript (none set) errors show
    /// above the table.
    acting_on: RwSignal<Option<String>>,
}

impl KeyActions {
    /// Marks the row whose form was sent last, by the key id the form sent: so its errors show
    /// in that row however the form was sent (a click, Enter in a field), and wherever a reload
    /// of the list has put the row since. (A row's own handlers would not do: the list's reload
    /// reuses the rows' elements for whichever keys it now lists.)
    ///
    /// Each submission also clears what the earlier ones said ("Key renamed.", an error), so the
    /// page speaks of the latest change only.
    fn follow_submissions(self) {
        let Self { rename, restrict, rotate, switch, revoke, acting_on } = self;
        let mark = move |key_id: String| {
            rename.value().set(None);
            restrict.value().set(None);
            rotate.value().set(None);
            switch.value().set(None);
            revoke.value().set(None);
            acting_on.set(Some(key_id));
        };
        on_each_submission(rename, move |sent| mark(sent.key_id.clone()));
        on_each_submission(restrict, move |sent| mark(sent.key_id.clone()));
        on_each_submission(rotate, move |sent| mark(sent.key_id.clone()));
        on_each_submission(switch, move |sent| mark(sent.key_id.clone()));
        on_each_submission(revoke, move |sent| mark(sent.key_id.clone()));
    }

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
    actions.follow_submissions();
    let KeyActions { rename, restrict, rotate, switch, revoke, acting_on } = actions;
    let changes = Changes::new()
        .follow(create)
        .follow(rename)
        .follow(restrict)
        .follow(rotate)
        .follow(switch)
        .follow(revoke);
    let keys = Resource::new(move || changes.get(), |_| list_keys());
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
            <FormSaved action=revoke message="Key revoked: requests with it now get 401, on every node." />
            <Transition fallback=|| view! { <p class="muted">"Loading keys…"</p> }>
                {move || Suspend::new(async move {
                    let read_only = viewing_as(viewer).await;
                    match keys.await {
                        Ok(keys) if keys.is_empty() => view! { <NoKeys /> }.into_any(),
                        Ok(keys) => view! { <KeyTable keys actions hydrated read_only /> }.into_any(),
                        Err(error) => view! { <ErrorAlert error /> }.into_any(),
                    }
                })}
            </Transition>
            <p class="muted">
                "Manage keys from your own scripts, and read a key's limits and usage: the API is described in "
                <a href="/openapi.json">"OpenAPI 3.1"</a>"."
            </p>
        </div>
        <OneTimeSecretDialog
            shown=secret
            title="Copy your new secret"
            warning="This is the only time it is shown. Store it somewhere safe now; keystile keeps only a fingerprint of it."
            done_label="I have stored it"
        >
            <TryTheKey />
        </OneTimeSecretDialog>
    }
}

/// How to call the API with a new key: `GET /v1/limits` lists the key's limits and costs
/// nothing. The gateway answers at the dashboard's own address; the secret stays out of the
/// command, read from a variable.
#[component]
fn TryTheKey() -> impl IntoView {
    let origin = RwSignal::new(String::new());
    Effect::new(move |_| origin.set(window().location().origin().unwrap_or_default()));
    view! {
        <p class="muted">"Try it with the secret in API_KEY: this call lists the key's limits and costs nothing."</p>
        <pre class="snippet"><code data-testid="try-the-key">{move || try_command(&origin.get())}</code></pre>
    }
}

fn try_command(origin: &str) -> String {
    format!("curl -H \"Authorization: Bearer $API_KEY\" {origin}/v1/limits")
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
                <RestrictionFields id="new-key" read_only=false allowed_ips=String::new() quota=None />
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

fn one_time(key: KeyWithSecret) -> OneTimeSecret {
    OneTimeSecret { about: format!("Key: {}", key.key.name), secret: key.secret }
}
