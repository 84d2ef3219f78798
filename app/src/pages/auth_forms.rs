//! Log in, sign up and join a team: plain forms that work before hydration and without
//! JavaScript.

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

use super::{FormError, SubmitButton};
use crate::auth::{LogIn, SignUp};
use crate::team::JoinAccount;

#[component]
pub fn LoginPage() -> impl IntoView {
    let log_in = ServerAction::<LogIn>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".to_owned());
    view! {
        <Title text="Log in" />
        <main class="auth-page" id="main">
            <div class="auth-card card stack">
                <h1>"Log in to keystile"</h1>
                <FormError result=log_in.value() />
                <ActionForm action=log_in attr:class="form">
                    <input type="hidden" name="next" value=next />
                    <div class="field">
                        <label for="email">"Email"</label>
                        <input id="email" name="email" type="email" autocomplete="username" required autofocus />
                    </div>
                    <div class="field">
                        <label for="password">"Password"</label>
                        <input id="password" name="password" type="password" autocomplete="current-password" required />
                    </div>
                    <div class="form-actions">
                        <SubmitButton pending=log_in.pending() class="btn btn-primary">
                            "Log in"
                        </SubmitButton>
                    </div>
                </ActionForm>
                <p class="auth-switch">"No account yet? " <a href="/signup">"Sign up"</a></p>
                <p class="auth-switch">"Invited to a team? " <a href="/join">"Join with your code"</a></p>
                <p class="auth-switch">"Forgot your password? Ask whoever runs this service to set a new one for you."</p>
            </div>
        </main>
    }
}

#[component]
pub fn SignUpPage() -> impl IntoView {
    let sign_up = ServerAction::<SignUp>::new();
    view! {
        <Title text="Sign up" />
        <main class="auth-page" id="main">
            <div class="auth-card card stack">
                <h1>"Create your keystile account"</h1>
                <FormError result=sign_up.value() />
                <ActionForm action=sign_up attr:class="form">
                    <div class="field">
                        <label for="email">"Email"</label>
                        <input id="email" name="email" type="email" autocomplete="email" required autofocus />
                    </div>
                    <div class="field">
                        <label for="password">"Password"</label>
                        <input id="password" name="password" type="password" autocomplete="new-password"
                            minlength="8" maxlength="128" required aria-describedby="password-hint" />
                        <p class="field-hint" id="password-hint">"At least 8 characters."</p>
                    </div>
                    <div class="field">
                        <label for="account_name">"Company or project name " <span class="muted">"(optional)"</span></label>
                        <input id="account_name" name="account_name" type="text" autocomplete="organization" maxlength="100" />
                    </div>
                    <div class="form-actions">
                        <SubmitButton pending=sign_up.pending() class="btn btn-primary">
                            "Create account"
                        </SubmitButton>
                    </div>
                </ActionForm>
                <p class="auth-switch">"Already have an account? " <a href="/login">"Log in"</a></p>
                <p class="auth-switch">"Invited to a team? " <a href="/join">"Join with your code"</a></p>
            </div>
        </main>
    }
}

/// Joining an account one was invited to: the invited email, the code the owner passed on, and
/// a password of one's own.
#[component]
pub fn JoinPage() -> impl IntoView {
    let join = ServerAction::<JoinAccount>::new();
    view! {
        <Title text="Join a team" />
        <main class="auth-page" id="main">
            <div class="auth-card card stack">
                <h1>"Join your team on keystile"</h1>
                <p class="muted">"The account's owner invited your email and gave you a code that starts with invite_."</p>
                <FormError result=join.value() />
                <ActionForm action=join attr:class="form">
                    <div class="field">
                        <label for="email">"Your email"</label>
                        <input id="email" name="email" type="email" autocomplete="email" required autofocus />
                    </div>
                    <div class="field">
                        <label for="code">"Invitation code"</label>
                        <input id="code" name="code" type="text" autocomplete="off" spellcheck="false" required
                            maxlength="100" placeholder="invite_…" />
                    </div>
                    <div class="field">
                        <label for="password">"Choose a password"</label>
                        <input id="password" name="password" type="password" autocomplete="new-password"
                            minlength="8" maxlength="128" required aria-describedby="password-hint" />
                        <p class="field-hint" id="password-hint">"At least 8 characters."</p>
                    </div>
                    <div class="form-actions">
                        <SubmitButton pending=join.pending() class="btn btn-primary">
                            "Join the team"
                        </SubmitButton>
                    </div>
                </ActionForm>
                <p class="auth-switch">"Already joined? " <a href="/login">"Log in"</a></p>
            </div>
        </main>
    }
}
