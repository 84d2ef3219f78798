//! The signed-in user's own account: who they are logged in as, the account's name (owners
//! rename it), their password and their other sessions. Plain forms that work without
//! JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{ErrorAlert, FormError, FormSaved, SubmitButton, sentence_case};
use crate::account::{ChangePassword, RenameAccount, SignOutEverywhereElse};
use crate::auth::Viewer;
use crate::shell::CurrentViewer;
use crate::team::LeaveAccount;

#[component]
pub fn AccountPage() -> impl IntoView {
    let viewer = use_context::<CurrentViewer>().map(|CurrentViewer(viewer)| viewer);
    view! {
        <Title text="Account" />
        <div class="page-header"><h1>"Account"</h1></div>
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let Some(viewer) = viewer else { return ().into_any() };
                match viewer.await {
                    Ok(Some(viewer)) => view! { <AccountBody viewer /> }.into_any(),
                    Ok(None) => ().into_any(),
                    Err(error) => view! { <ErrorAlert error /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn AccountBody(viewer: Viewer) -> impl IntoView {
    let read_only = viewer.view_as.is_some();
    let is_owner = viewer.role == "owner";
    let is_member = viewer.role == "member";
    view! {
        <div class="stack">
            <p>"Logged in as " <strong>{viewer.email}</strong> {format!(" ({})", sentence_case(&viewer.role))}</p>
            {viewer.account_name.map(|name| view! { <AccountName name is_owner read_only /> })}
            {if read_only {
                view! { <p class="muted">"A read-only view of the customer's account: their password is theirs to change."</p> }.into_any()
            } else {
                let leave = is_member.then(|| view! { <LeaveAccountForm /> });
                view! { <PasswordForm /> <SignOutEverywhereElseForm /> {leave} }.into_any()
            }}
        </div>
    }
}

#[component]
fn PasswordForm() -> impl IntoView {
    let change = ServerAction::<ChangePassword>::new();
    // Emptied after every attempt, so no password stays in the fields: as without JavaScript,
    // where the page reloads.
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if change.version().get() > 0
            && let Some(form) = form.get()
        {
            form.reset();
        }
    });
    view! {
        <section class="card stack" aria-labelledby="password-heading">
            <h2 id="password-heading">"Change password"</h2>
            <p class="muted">"Every other browser logged in as you will be logged out; this one stays logged in."</p>
            <FormError result=change.value() />
            <FormSaved action=change message="Your password was changed. Every other browser logged in as you has been logged out." />
            <ActionForm action=change node_ref=form attr:class="form">
                <div class="field">
                    <label for="current-password">"Current password"</label>
                    <input id="current-password" name="current_password" type="password" autocomplete="current-password" required />
                </div>
                <div class="field">
                    <label for="new-password">"New password"</label>
                    <input id="new-password" name="new_password" type="password" autocomplete="new-password"
                        minlength="8" maxlength="128" required aria-describedby="new-password-hint" />
                    <p class="field-hint" id="new-password-hint">"At least 8 characters."</p>
                </div>
                <div class="field">
                    <label for="confirm-password">"New password, again"</label>
                    <input id="confirm-password" name="confirm_password" type="password" autocomplete="new-password"
                        minlength="8" maxlength="128" required />
                </div>
                <div class="form-actions">
                    <SubmitButton pending=change.pending() class="btn btn-primary">
                        "Change password"
                    </SubmitButton>
                </div>
            </ActionForm>
        </section>
    }
}

#[component]
fn SignOutEverywhereElseForm() -> impl IntoView {
    let sign_out = ServerAction::<SignOutEverywhereElse>::new();
    view! {
        <section class="card stack" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Other browsers"</h2>
            <p class="muted">"Logged in on a computer you no longer use? Log out every browser but this one."</p>
            <FormError result=sign_out.value() />
            <FormSaved action=sign_out message="Every other browser logged in as you has been logged out." />
            <ActionForm action=sign_out>
                <SubmitButton pending=sign_out.pending()>
                    "Log out everywhere else"
                </SubmitButton>
            </ActionForm>
        </section>
    }
}

/// A member leaving the account, after confirming.
#[component]
fn LeaveAccountForm() -> impl IntoView {
    let leave = ServerAction::<LeaveAccount>::new();
    view! {
        <section class="card stack" aria-labelledby="leave-heading">
            <h2 id="leave-heading">"Leave this account"</h2>
            <p class="muted">"You will be logged out and can no longer log in here. The keys you created stay with the account."</p>
            <FormError result=leave.value() />
            <details>
                <summary class="btn btn-danger">"Leave…"</summary>
                <ActionForm action=leave attr:class="form">
                    <button type="submit" class="btn btn-danger">"Leave the account and log out"</button>
                </ActionForm>
            </details>
        </section>
    }
}

#[component]
fn AccountName(name: String, is_owner: bool, read_only: bool) -> impl IntoView {
    let rename = ServerAction::<RenameAccount>::new();
    view! {
        <section class="card stack" aria-labelledby="account-name-heading">
            <h2 id="account-name-heading">"Account name"</h2>
            {if is_owner && !read_only {
                view! {
                    <FormError result=rename.value() />
                    <FormSaved action=rename message="Saved." />
                    <ActionForm action=rename attr:class="form row">
                        <label class="sr-only" for="account-name">"Account name"</label>
                        <input id="account-name" name="name" value=name required maxlength="100" autocomplete="organization" />
                        <button type="submit" class="btn">"Save name"</button>
                    </ActionForm>
                }.into_any()
            } else {
                let note = (!is_owner).then(|| view! { <p class="muted">"Only the account's owner can rename it."</p> });
                view! { <p>{name}</p> {note} }.into_any()
            }}
        </section>
    }
}
