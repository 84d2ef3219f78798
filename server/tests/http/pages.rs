//! What the dashboard's pages render for whom: staff viewing an account as its customer get the
//! owner's pages without the forms the server would refuse.

use services::accounts::Role;

use crate::admin::{call, customer, operator};
use crate::helpers::*;

/// Markup only each page's form has: the create-key name field, the plan switch's action, the
/// spend cap's amount field.
const FORMS: [(&str, &str); 3] = [
    ("/keys", r#"id="key-name""#),
    ("/plan", r#"action="/api/change_plan""#),
    ("/billing", r#"name="amount""#),
];

const READ_ONLY: &str = "Read-only while you view this account as its customer.";

/// Support staff in the app's browser, viewing the account as its customer.
async fn view_as(app: &TestApp, account_id: &str) {
    operator(app, "support@keystile.example", Role::Support).await;
    let started = call(app, "start_view_as", &[("account_id", account_id), ("reason", "ticket 7")]).await;
    assert!(started.status().is_success() || started.status().is_redirection(), "{}", started.status());
}

async fn page(app: &TestApp, path: &str) -> String {
    app.get(path).await.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_viewing_as_the_customer_see_no_forms_where_the_owner_sees_them() {
    let app = spawn_app().await;
    let (owner, _, _) = customer(&app, "owner@acme.example").await;
    let account_id = owner.account_id.clone().unwrap();

    app.log_in("owner@acme.example", PASSWORD, "/").await;
    for (path, form) in FORMS {
        let html = page(&app, path).await;
        assert!(html.contains(form), "the owner's {path} lacks {form}");
        assert!(!html.contains(READ_ONLY), "the owner's {path} says it is read-only");
    }

    app.log_out().await;
    view_as(&app, &account_id).await;
    for (path, form) in FORMS {
        let html = page(&app, path).await;
        assert!(html.contains("Viewing Acme Corp as its owner sees it"), "{path} is not under view-as");
        assert!(!html.contains(form), "{path} under view-as shows {form}");
        assert!(html.contains(READ_ONLY), "{path} under view-as does not say it is read-only");
    }
    let keys = page(&app, "/keys").await;
    assert!(keys.contains("Production"), "the key list is still shown");
    assert!(!keys.contains("Revoke…") && !keys.contains("Rename…"), "a key row's actions are shown");
}
