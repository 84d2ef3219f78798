//! Accounts and users.

use services::accounts::{CredentialsError, Role, SignUpError};

use crate::common::*;

on_both_backends! {
    async fn sign_up_creates_an_owner_on_the_default_plan(services: Services, clock: ManualClock) {
        let accounts = &services.accounts;
        let user = accounts.sign_up("Ada@Example.com", secret("correct horse"), "Analytical").await.unwrap();
        assert_eq!(user.role, Role::Owner);
        assert_eq!(user.email, "Ada@Example.com");
        let account = accounts.account(user.account_id.as_deref().unwrap()).await.unwrap().unwrap();
        assert_eq!(account.name, "Analytical");
        assert_eq!(account.plan_id, "starter");
        assert_eq!(account.billing_anchor_day, 1);
        assert_eq!(accounts.user(&user.id).await.unwrap(), Some(user));
    }

    async fn emails_are_unique_whatever_their_case(services: Services, clock: ManualClock) {
        let accounts = &services.accounts;
        accounts.sign_up("ada@example.com", secret("correct horse"), "").await.unwrap();
        let again = accounts.sign_up("ADA@example.COM", secret("another horse"), "").await;
        assert!(matches!(again, Err(SignUpError::EmailTaken)), "{again:?}");
    }

    async fn a_refused_sign_up_writes_nothing(services: Services, clock: ManualClock) {
        let accounts = &services.accounts;
        let short = accounts.sign_up("ada@example.com", secret("short"), "").await;
        assert!(matches!(short, Err(SignUpError::InvalidPassword)));
        let bad_email = accounts.sign_up("not-an-email", secret("correct horse"), "").await;
        assert!(matches!(bad_email, Err(SignUpError::InvalidEmail)));
        assert_eq!(accounts.user_by_email("ada@example.com").await.unwrap(), None);
    }

    async fn credentials_verify_with_any_email_case(services: Services, clock: ManualClock) {
        let accounts = &services.accounts;
        let user = accounts.sign_up("ada@example.com", secret("correct horse"), "").await.unwrap();
        let verified = accounts.verify_credentials(" ADA@example.com", secret("correct horse")).await.unwrap();
        assert_eq!(verified.id, user.id);
    }

    async fn unknown_email_and_wrong_password_are_the_same_error(services: Services, clock: ManualClock) {
        let accounts = &services.accounts;
        accounts.sign_up("ada@example.com", secret("correct horse"), "").await.unwrap();
        let wrong = accounts.verify_credentials("ada@example.com", secret("wrong horse")).await.unwrap_err();
        let unknown = accounts.verify_credentials("bob@example.com", secret("correct horse")).await.unwrap_err();
        assert!(matches!(wrong, CredentialsError::Invalid));
        assert!(matches!(unknown, CredentialsError::Invalid));
        assert_eq!(wrong.to_string(), unknown.to_string());
    }

    async fn operators_belong_to_no_account(services: Services, clock: ManualClock) {
        let accounts = &services.accounts;
        let admin = accounts.create_operator("ops@example.com", secret("operator pass"), Role::Admin).await.unwrap();
        assert_eq!(admin.account_id, None);
        assert!(admin.role.is_operator());
        let not_operator = accounts.create_operator("x@example.com", secret("operator pass"), Role::Owner).await;
        assert!(not_operator.is_err());
    }

    async fn inviting_one_address_many_times_at_once_leaves_one_invitation(services: Services, clock: ManualClock) {
        let accounts = &services.accounts;
        let owner = accounts.sign_up("ada@example.com", secret("correct horse"), "").await.unwrap();
        let invites = (0..8).map(|_| accounts.invite(&owner, "bob@example.com"));
        let codes: Vec<_> = futures_util::future::join_all(invites)
            .await
            .into_iter()
            .map(|invited| invited.expect("every invitation is stored").code)
            .collect();
        let (_, invitations) = accounts.team(owner.account_id.as_deref().unwrap()).await.unwrap();
        assert_eq!(invitations.len(), 1, "the last stored replaced the others");
        let mut joined = 0;
        for code in codes {
            if accounts.join("bob@example.com", code, secret("battery staple")).await.is_ok() {
                joined += 1;
            }
        }
        assert_eq!(joined, 1, "only the surviving invitation's code works");
    }
}
