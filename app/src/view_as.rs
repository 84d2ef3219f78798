//! Support view-as: an operator sees a customer's account exactly as its owner does, read-only.
//!
//! The one place that decides what may run during a view-as is [`READ_ONLY_FUNCTIONS`] and
//! [`is_read_only_request`]; the server's view-as guard refuses everything else with 403 before
//! any handler runs. Every server function must be listed either there or in
//! [`REFUSED_FUNCTIONS`]; a test fails when a new one is in neither.

use leptos::prelude::*;

use crate::AppError;

/// Server functions that only read, or end the view-as itself (exiting it, logging out).
pub const READ_ONLY_FUNCTIONS: &[&str] = &[
    "current_viewer",
    "list_keys",
    "list_plans",
    "load_overview",
    "load_usage",
    "load_billing",
    "list_audit",
    "load_team",
    "stop_view_as",
    "log_out",
];

/// Server functions refused during a view-as: everything that changes something, and the
/// operator's own functions (the operator acts as the customer until they exit).
pub const REFUSED_FUNCTIONS: &[&str] = &[
    "log_in",
    "sign_up",
    "change_password",
    "sign_out_everywhere_else",
    "rename_account",
    "invite_member",
    "revoke_invitation",
    "remove_member",
    "leave_account",
    "join_account",
    "create_key",
    "rotate_key",
    "rename_key",
    "restrict_key",
    "set_key_disabled",
    "revoke_key",
    "change_plan",
    "set_spend_cap",
    "search_accounts",
    "recent_traffic",
    "load_account",
    "admin_change_plan",
    "set_override",
    "reset_bucket",
    "set_account_disabled",
    "admin_set_key_disabled",
    "start_view_as",
    "list_catalogue",
    "edit_plan",
    "load_limits",
    "edit_bucket_limit",
    "edit_tier_fees",
    "edit_free_requests",
    "admin_overview",
];

/// Whether a request may run during a view-as: reads of pages and data, and the read-only
/// server functions. Any other method, and every other server function, is refused.
pub fn is_read_only_request(method: &str, path: &str) -> bool {
    if let Some(function) = path.strip_prefix("/api/") {
        return READ_ONLY_FUNCTIONS.contains(&function);
    }
    // Operator pages stay out of reach while acting as a customer.
    matches!(method, "GET" | "HEAD") && !crate::admin::is_console_path(path)
}

/// Starts viewing `account_id` as its owner sees it, for the stated reason (operators only).
#[server]
pub async fn start_view_as(account_id: String, reason: String) -> Result<(), AppError> {
    use crate::auth::ssr::{internal, require_operator, services, session, view_as};
    use services::sessions::{VIEW_AS_KEY, ViewAs};

    let operator = require_operator().await?;
    if view_as().await?.is_some() {
        return Err(AppError::Invalid("You are already viewing an account. Exit that view first.".into()));
    }
    let Some(reason) = services::audit::stated_reason(&reason) else {
        let rule = format!(
            "Give a reason of at most {} characters: it goes in the customer's audit log.",
            services::audit::MAX_REASON_CHARS
        );
        return Err(AppError::Invalid(rule));
    };
    let services = services()?;
    let account = services
        .accounts
        .account_for_operator(&operator, &account_id)
        .await
        .map_err(crate::admin::admin_error)?;
    if services.accounts.owner_of(&account.id).await.map_err(internal)?.is_none() {
        return Err(AppError::Invalid("This account has no owner to view as.".into()));
    }
    let minutes = use_context::<ViewAsSettings>().map_or(30, |settings| settings.minutes);
    let lasts = chrono::Duration::minutes(minutes);
    let now = services.clock.now();
    let session = session().await?;
    // A fresh session id for the privileged view, as at login.
    session.cycle_id().await.map_err(internal)?;
    let view = ViewAs::new(account.id.clone(), reason.to_owned(), now, lasts);
    session.insert(VIEW_AS_KEY, &view).await.map_err(internal)?;
    services::audit::record_now(
        &services.db,
        &account.id,
        &operator,
        "view_as.start",
        None,
        Some(reason),
        now,
    )
    .await
    .map_err(internal)?;
    leptos_axum::redirect("/");
    Ok(())
}

/// Ends the view-as and goes back to the account's operator page.
#[server]
pub async fn stop_view_as() -> Result<(), AppError> {
    crate::auth::ssr::real_user().await?.ok_or(AppError::Unauthenticated)?;
    let Some(account_id) = ssr::end_view(None).await? else {
        leptos_axum::redirect("/admin");
        return Ok(());
    };
    leptos_axum::redirect(&format!("/admin/accounts/{account_id}"));
    Ok(())
}

#[cfg(feature = "ssr")]
pub(crate) mod ssr {
    use crate::AppError;
    use crate::auth::ssr::{internal, real_user, services, session};
    use services::sessions::{VIEW_AS_KEY, ViewAs};

    /// Ends the session's view-as, if one is on, in the account's audit log (with `reason`)
    /// and with a fresh session id, back to the operator's own privileges as at the start.
    /// The account that was viewed.
    pub(crate) async fn end_view(reason: Option<&str>) -> Result<Option<String>, AppError> {
        let session = session().await?;
        let Some(view) = session.remove::<ViewAs>(VIEW_AS_KEY).await.map_err(internal)? else {
            return Ok(None);
        };
        session.cycle_id().await.map_err(internal)?;
        let operator = real_user().await?.ok_or(AppError::Unauthenticated)?;
        let services = services()?;
        let now = services.clock.now();
        services::audit::record_now(
            &services.db,
            &view.account_id,
            &operator,
            "view_as.end",
            None,
            reason,
            now,
        )
        .await
        .map_err(internal)?;
        Ok(Some(view.account_id))
    }
}

/// How long a view-as lasts, from the server's settings.
#[derive(Debug, Clone, Copy)]
pub struct ViewAsSettings {
    pub minutes: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_reads_pass_during_a_view_as() {
        assert!(is_read_only_request("GET", "/keys"));
        assert!(is_read_only_request("POST", "/api/load_overview"));
        assert!(!is_read_only_request("POST", "/api/create_key"));
        assert!(!is_read_only_request("POST", "/api/anything_new"));
        assert!(!is_read_only_request("POST", "/v1/keys"));
        assert!(!is_read_only_request("DELETE", "/v1/keys/key_1"));
        assert!(!is_read_only_request("GET", "/admin/accounts/acct_1"));
    }
}
