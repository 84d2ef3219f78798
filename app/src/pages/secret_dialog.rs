//! A secret shown once, in a modal dialog with a copy button: a new key's secret, an
//! invitation's code. Closing the dialog forgets it.

use leptos::html::Dialog;
use leptos::prelude::*;

/// What the dialog shows: the secret, and a line saying what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OneTimeSecret {
    pub secret: String,
    pub about: String,
}

#[component]
pub(crate) fn OneTimeSecretDialog(
    shown: RwSignal<Option<OneTimeSecret>>,
    title: &'static str,
    /// Said above the secret: that it is shown only now, and what to do with it.
    warning: &'static str,
    done_label: &'static str,
) -> impl IntoView {
    let dialog = NodeRef::<Dialog>::new();
    let copied = RwSignal::new(false);
    Effect::new(move |_| {
        if shown.with(Option::is_some) {
            copied.set(false);
            if let Some(dialog) = dialog.get() {
                let _ = dialog.show_modal();
            }
        }
    });
    let close = move |_| {
        shown.set(None);
        if let Some(dialog) = dialog.get() {
            dialog.close();
        }
    };
    let copy = move |_| {
        if let (Some(secret), Some(window)) = (shown.get_untracked(), web_sys::window()) {
            let _ = window.navigator().clipboard().write_text(&secret.secret);
            copied.set(true);
        }
    };
    view! {
        <dialog class="dialog" node_ref=dialog aria-labelledby="secret-heading" on:close=move |_| shown.set(None)>
            <div class="dialog-header"><h2 id="secret-heading">{title}</h2></div>
            <div class="dialog-body stack">
                <p class="warning-text">{warning}</p>
                <div class="secret-row">
                    <code class="secret" data-testid="new-secret">{move || shown.get().map(|s| s.secret).unwrap_or_default()}</code>
                    <button type="button" class="btn" on:click=copy>{move || if copied.get() { "Copied" } else { "Copy" }}</button>
                </div>
                <p class="muted">{move || shown.get().map(|s| s.about).unwrap_or_default()}</p>
            </div>
            <div class="dialog-actions">
                <button type="button" class="btn btn-primary" on:click=close>{done_label}</button>
            </div>
        </dialog>
    }
}
