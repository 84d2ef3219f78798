//! The Team page: the account's owner and members, and the invitations waiting. The owner
//! invites (the code is shown once, with a copy button), and revokes invitations and removes
//! members after confirming.
//!
//! Inviting needs JavaScript, for the same reason as creating a key: the code arrives in the
//! call's response and lives only in this page's memory. Revoking and removing work without.

use leptos::prelude::*;
use leptos_meta::Title;

use super::secret_dialog::{OneTimeSecret, OneTimeSecretDialog};
use super::{Changes, DataTable, ErrorAlert, FormError, SubmitButton, sentence_case, short_time};
use crate::team::{
    InvitationView, InviteMember, MemberView, RemoveMember, RevokeInvitation, TeamView, load_team,
};

#[component]
pub fn TeamPage() -> impl IntoView {
    let invite = ServerAction::<InviteMember>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();
    let remove = ServerAction::<RemoveMember>::new();
    let changes = Changes::new().follow(invite).follow(revoke).follow(remove);
    let team = Resource::new(move || changes.get(), |_| load_team());
    let code = RwSignal::new(None::<OneTimeSecret>);
    Effect::new(move |_| {
        if let Some(Ok(invited)) = invite.value().get() {
            code.set(Some(OneTimeSecret {
                about: format!(
                    "For {}: they enter it with that email on this site's Join page (/join) before {}.",
                    invited.email,
                    short_time(&invited.expires_at)
                ),
                secret: invited.code,
            }));
        }
    });
    view! {
        <Title text="Team" />
        <div class="page-header"><h1>"Team"</h1></div>
        <div class="stack">
            <FormError result=revoke.value() />
            <FormError result=remove.value() />
            <Transition fallback=|| view! { <p class="muted">"Loading the team…"</p> }>
                {move || Suspend::new(async move {
                    match team.await {
                        Ok(team) => view! { <Team team invite revoke remove /> }.into_any(),
                        Err(error) => view! { <ErrorAlert error /> }.into_any(),
                    }
                })}
            </Transition>
        </div>
        <OneTimeSecretDialog
            shown=code
            title="Copy the invitation code"
            warning="This is the only time it is shown. Send it to the person you invited; keystile keeps only a fingerprint of it."
            done_label="I have sent it"
        />
    }
}

#[component]
fn Team(
    team: TeamView,
    invite: ServerAction<InviteMember>,
    revoke: ServerAction<RevokeInvitation>,
    remove: ServerAction<RemoveMember>,
) -> impl IntoView {
    let TeamView { members, invitations, can_manage } = team;
    view! {
        {if can_manage {
            view! { <InviteForm invite /> }.into_any()
        } else {
            view! { <p class="muted">"Only the account's owner can invite or remove members."</p> }.into_any()
        }}
        <section class="stack" aria-labelledby="members-heading">
            <h2 id="members-heading">"People"</h2>
            <DataTable label="People in this account">
                <thead><tr><th scope="col">"Email"</th><th scope="col">"Role"</th><th scope="col">"Joined"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                <tbody>
                    {members.into_iter().map(|member| view! { <MemberRow member can_manage remove /> }).collect_view()}
                </tbody>
            </DataTable>
        </section>
        <Invitations invitations can_manage revoke />
    }
}

#[component]
fn InviteForm(invite: ServerAction<InviteMember>) -> impl IntoView {
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    let form = NodeRef::<leptos::html::Form>::new();
    super::reset_after_success(form, invite.value());
    view! {
        <section class="card stack" aria-labelledby="invite-heading">
            <h2 id="invite-heading">"Invite a member"</h2>
            <p class="muted">"Members create and revoke keys and see usage and the audit log. The plan, spend cap, account name and team stay yours."</p>
            <p class="muted">"They join with a new login of their own: an email that already logs in to keystile cannot join. Inviting an email again replaces the code sent before."</p>
            <FormError result=invite.value() />
            <ActionForm action=invite node_ref=form attr:class="form row">
                <div class="field">
                    <label for="invite-email">"Their email"</label>
                    <input id="invite-email" name="email" type="email" required autocomplete="off" placeholder="name@example.com" />
                </div>
                <div class="form-actions">
                    <SubmitButton pending=invite.pending() class="btn btn-primary" needs_javascript=true>
                        "Invite"
                    </SubmitButton>
                </div>
            </ActionForm>
            <Show when=move || !hydrated.get()>
                <p class="field-hint">"Inviting needs JavaScript, so that the invitation's code is shown only to you, once."</p>
            </Show>
        </section>
    }
}

#[component]
fn MemberRow(member: MemberView, can_manage: bool, remove: ServerAction<RemoveMember>) -> impl IntoView {
    let removable = can_manage && member.role == "member";
    let you = member.is_viewer.then_some(" (you)");
    let confirm = format!("Remove {} from the team", member.email);
    view! {
        <tr>
            <th scope="row">{member.email.clone()}{you}</th>
            <td>{sentence_case(&member.role)}</td>
            <td class="when">{short_time(&member.joined_at)}</td>
            <td>
                {removable.then(|| view! {
                    <details>
                        <summary class="btn btn-small btn-danger">"Remove…"<span class="sr-only">{format!(" {}", member.email)}</span></summary>
                        <ActionForm action=remove attr:class="form">
                            <input type="hidden" name="user_id" value=member.id.clone() />
                            <p class="field-hint">"They are logged out everywhere at once and can no longer log in. Keys they created stay with the account."</p>
                            <SubmitButton pending=remove.pending() class="btn btn-small btn-danger">{confirm}</SubmitButton>
                        </ActionForm>
                    </details>
                })}
            </td>
        </tr>
    }
}

#[component]
fn Invitations(
    invitations: Vec<InvitationView>,
    can_manage: bool,
    revoke: ServerAction<RevokeInvitation>,
) -> impl IntoView {
    if invitations.is_empty() {
        let hint = if can_manage { "Invite someone above: they get a code to join with." } else { "" };
        return view! {
            <section class="stack" aria-labelledby="invitations-heading">
                <h2 id="invitations-heading">"Invitations"</h2>
                <p class="muted">"No invitations waiting. " {hint}</p>
            </section>
        }
        .into_any();
    }
    view! {
        <section class="stack" aria-labelledby="invitations-heading">
            <h2 id="invitations-heading">"Invitations"</h2>
            <DataTable label="Invitations waiting">
                <thead><tr><th scope="col">"Email"</th><th scope="col">"Invited by"</th><th scope="col">"Code works until"</th><th scope="col"><span class="sr-only">"Actions"</span></th></tr></thead>
                <tbody>
                    {invitations.into_iter().map(|invitation| {
                        let until = if invitation.expired {
                            view! { <span class="badge badge-expired">"Expired"</span> }.into_any()
                        } else {
                            short_time(&invitation.expires_at).into_any()
                        };
                        view! {
                            <tr>
                                <th scope="row">{invitation.email.clone()}</th>
                                <td>{invitation.invited_by.clone()}</td>
                                <td class="when">{until}</td>
                                <td>
                                    {can_manage.then(|| view! { <RevokeInvitationForm invitation=invitation.clone() revoke /> })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </DataTable>
        </section>
    }
    .into_any()
}

/// Revoking an invitation, after confirming: its code stops working.
#[component]
fn RevokeInvitationForm(invitation: InvitationView, revoke: ServerAction<RevokeInvitation>) -> impl IntoView {
    let InvitationView { id, email, .. } = invitation;
    view! {
        <details>
            <summary class="btn btn-small btn-danger">"Revoke…"<span class="sr-only">{format!(" the invitation of {email}")}</span></summary>
            <ActionForm action=revoke attr:class="form">
                <input type="hidden" name="invitation_id" value=id />
                <p class="field-hint">"The code you sent stops working at once. You can invite them again later."</p>
                <SubmitButton pending=revoke.pending() class="btn btn-small btn-danger">{format!("Revoke the invitation of {email}")}</SubmitButton>
            </ActionForm>
        </details>
    }
}
