//! A secret shown once, in a modal dialog with a copy button: a new key's secret, an
//! invitation's code. Only the dialog's done button closes it (Escape does not, so a stray key
//! cannot lose the secret); closing forgets it.

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
    /// Shown below the secret: how to use it.
    #[prop(optional)]
    children: Option<Children>,
) -> impl IntoView {
    let dialog = NodeRef::<Dialog>::new();
    // Whether the last copy reached the clipboard; none yet for this secret.
    let copied = RwSignal::new(None::<bool>);
    Effect::new(move |_| {
        if shown.with(Option::is_some) {
            copied.set(None);
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
        let (Some(secret), Some(window)) = (shown.get_untracked(), web_sys::window()) else { return };
        // Browsers offer the clipboard to secure pages only (HTTPS, localhost).
        if !window.is_secure_context() {
            copied.set(Some(false));
            return;
        }
        let written =
            wasm_bindgen_futures::JsFuture::from(window.navigator().clipboard().write_text(&secret.secret));
        leptos::task::spawn_local(async move { copied.set(Some(written.await.is_ok())) });
    };
    view! {
        <dialog class="dialog" node_ref=dialog aria-labelledby="secret-heading"
            on:cancel=|event: leptos::ev::Event| event.prevent_default() on:close=move |_| shown.set(None)>
            <div class="dialog-header"><h2 id="secret-heading">{title}</h2></div>
            <div class="dialog-body stack">
                <p class="warning-text">{warning}</p>
                <div class="secret-row">
                    <code class="secret" data-testid="new-secret">{move || shown.get().map(|s| s.secret).unwrap_or_default()}</code>
                    <button type="button" class="btn" on:click=copy>"Copy"</button>
                </div>
                <p class="muted" role="status">{move || match copied.get() {
                    Some(true) => "Copied",
                    Some(false) => "Copy failed: select the text and copy it",
                    None => "",
                }}</p>
                <p class="muted">{move || shown.get().map(|s| s.about).unwrap_or_default()}</p>
                {children.map(|children| children())}
            </div>
            <div class="dialog-actions">
                <button type="button" class="btn btn-primary" on:click=close>{done_label}</button>
            </div>
        </dialog>
    }
}
