//! API keys: secrets shown once, stored as digests, rotated with grace, revoked, expired,
//! isolated per account, throttled per user, audited.

use chrono::Duration;
use secrecy::ExposeSecret;
use services::accounts::User;
use services::keys::{KeyError, KeyStatus, KeyUse, NewExpiry, QuotaSince, Rejection, Restrictions};
use sqlx::Row;

use crate::common::*;

async fn customer(services: &Services, email: &str) -> User {
    services.accounts.sign_up(email, secret("correct horse"), "").await.unwrap()
}

on_both_backends! {
    async fn restrictions_are_stored_verified_and_changed(services: Services, clock: ManualClock) {
        let ada = customer(&services, "ada@example.com").await;
        let quota = policy::KeyQuota::parse("1000", "month").unwrap();
        let reading = Restrictions::parse(true, "203.0.113.0/24").unwrap().with_quota(quota);
        let created = services.keys.create(&ada, "Reports", None, reading.clone()).await.unwrap();
        let secret = created.secret.expose_secret().to_owned();
        assert_eq!(services.keys.verify(&secret).await.unwrap().unwrap().restrictions, reading);
        let listed = services.keys.list(ada.account_id.as_deref().unwrap()).await.unwrap();
        assert_eq!(listed[0].restrictions, reading);

        // A rotation keeps them, for the new secret and the old one in its grace period.
        let rotated = services.keys.rotate(&ada, &created.key.id, Duration::hours(1), NewExpiry::Keep).await.unwrap();
        for secret in [&secret, &rotated.secret.expose_secret().to_owned()] {
            assert_eq!(services.keys.verify(secret).await.unwrap().unwrap().restrictions, reading);
        }

        let lifted = services.keys.restrict(&ada, &created.key.id, Restrictions::default()).await.unwrap();
        assert_eq!(lifted.restrictions, Restrictions::default());
        assert_eq!(services.keys.verify(&secret).await.unwrap().unwrap().restrictions, Restrictions::default());
        assert!(services.keys.quotas().await.unwrap().is_empty());

        let capped = Restrictions::default().with_quota(quota);
        services.keys.restrict(&ada, &created.key.id, capped.clone()).await.unwrap();
        assert_eq!(services.keys.verify(&secret).await.unwrap().unwrap().restrictions, capped);
        // Set on a key that exists, it counts from now (a restart refills it from then on).
        let quotas = services.keys.quotas().await.unwrap();
        let since = QuotaSince { quota: quota.unwrap(), since: Some(clock.now()) };
        assert_eq!(quotas.into_iter().collect::<Vec<_>>(), [(created.key.id.clone(), since)]);

        // A quota without its period (a hand edit) is unreadable too.
        sqlx::query("UPDATE api_keys SET quota_period = NULL").execute(services.db.pool()).await.unwrap();
        assert_eq!(services.keys.verify(&secret).await.unwrap(), Err(Rejection::Revoked));

        // Someone edits the row by hand into something unreadable: the key is refused, not
        // let in from anywhere.
        sqlx::query("UPDATE api_keys SET allowed_ips = 'the office'").execute(services.db.pool()).await.unwrap();
        assert_eq!(services.keys.verify(&secret).await.unwrap(), Err(Rejection::Revoked));
    }

    async fn a_new_key_verifies_and_only_its_digest_is_stored(services: Services, clock: ManualClock) {
        let ada = customer(&services, "ada@example.com").await;
        let created = services.keys.create(&ada, "CI deploy", None, Default::default()).await.unwrap();
        let plaintext = created.secret.expose_secret().to_owned();

        let verified = services.keys.verify(&plaintext).await.unwrap().unwrap();
        assert_eq!(verified.key_id, created.key.id);
        assert_eq!(Some(verified.account_id), ada.account_id);
        assert!(!verified.via_previous);

        let row = sqlx::query("SELECT * FROM api_keys").fetch_one(services.db.pool()).await.unwrap();
        for column in ["secret_hash", "start", "name"] {
            let value: String = row.get(column);
            assert!(!value.contains(&plaintext[3..]), "{column} holds the secret");
        }
        assert_eq!(row.get::<String, _>("secret_hash"), services::keys::digest(&plaintext));
    }

    async fn the_key_list_shows_the_visible_start_and_status(services: Services, clock: ManualClock) {
        let ada = customer(&services, "ada@example.com").await;
        let created = services.keys.create(&ada, "CI deploy", None, Default::default()).await.unwrap();
        let keys = services.keys.list(ada.account_id.as_deref().unwrap()).await.unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].name, "CI deploy");
        assert!(created.secret.expose_secret().starts_with(&keys[0].start));
        assert_eq!(keys[0].status(clock.now()), KeyStatus::Active);
    }

    async fn a_rotated_key_keeps_its_old_secret_until_the_grace_period_ends(services: Services, clock: ManualClock) {
        let ada = customer(&services, "ada@example.com").await;
        let old = services.keys.create(&ada, "CI", None, Default::default()).await.unwrap();
        let new = services.keys.rotate(&ada, &old.key.id, Duration::hours(1), NewExpiry::Keep).await.unwrap();
        assert_eq!(new.key.id, old.key.id, "same key id: charts and limits continue");
        assert_ne!(new.secret.expose_secret(), old.secret.expose_secret());

        let via_old = services.keys.verify(old.secret.expose_secret()).await.unwrap().unwrap();
        assert!(via_old.via_previous);
        assert_eq!(via_old.valid_until, Some(clock.now() + Duration::hours(1)));
        assert!(services.keys.verify(new.secret.expose_secret()).await.unwrap().is_ok());
        let listed = services.keys.list(&old.key.account_id).await.unwrap();
        assert_eq!(listed[0].status(clock.now()), KeyStatus::Rotating { until: clock.now() + Duration::hours(1) });

        clock.advance(Duration::minutes(61));
        assert_eq!(services.keys.verify(old.secret.expose_secret()).await.unwrap(), Err(Rejection::Unknown));
        assert!(services.keys.verify(new.secret.expose_secret()).await.unwrap().is_ok());
    }

    async fn rotating_with_no_grace_stops_the_old_secret_at_once(services: Services, clock: ManualClock) {
        let ada = customer(&services, "ada@example.com").await;
        let old = services.keys.create(&ada, "CI", None, Default::default()).await.unwrap();
        services.keys.rotate(&ada, &old.key.id, Duration::zero(), NewExpiry::Keep).await.unwrap();
        assert_eq!(services.keys.verify(old.secret.expose_secret()).await.unwrap(), Err(Rejection::Unknown));
    }

    async fn a_revoked_key_is_refused_and_cannot_be_rotated(services: Services, clock: ManualClock) {
        let ada = customer(&services, "ada@example.com").await;
        let created = services.keys.create(&ada, "CI", None, Default::default()).await.unwrap();
        let revoked = services.keys.revoke(&ada, &created.key.id).await.unwrap();
        assert_eq!(revoked.status(clock.now()), KeyStatus::Revoked);
        assert_eq!(services.keys.verify(created.secret.expose_secret()).await.unwrap(), Err(Rejection::Revoked));
        let rotate = services.keys.rotate(&ada, &created.key.id, Duration::hours(1), NewExpiry::Keep).await;
        assert!(matches!(rotate, Err(KeyError::NotActive)), "{rotate:?}");
    }

    async fn rotating_keeps_renews_or_removes_the_expiry(services: Services, clock: ManualClock) {
        let ada = customer(&services, "ada@example.com").await;
        let millis = |at: Option<chrono::DateTime<chrono::Utc>>| at.map(|at| at.timestamp_millis());
        let stored = || async {
            let listed = services.keys.list(ada.account_id.as_deref().unwrap()).await.unwrap();
            millis(listed[0].expires_at)
        };
        let soon = clock.now() + Duration::days(2);
        let created = services.keys.create(&ada, "CI", Some(soon), Default::default()).await.unwrap();
        let kept = services.keys.rotate(&ada, &created.key.id, Duration::zero(), NewExpiry::Keep).await.unwrap();
        assert_eq!(millis(kept.key.expires_at), millis(Some(soon)));
        assert_eq!(stored().await, millis(Some(soon)));

        // Renewed for 90 days: past the old expiry, the new secret still works.
        let later = clock.now() + Duration::days(90);
        let renewal = NewExpiry::Replace(Some(later));
        let renewed = services.keys.rotate(&ada, &created.key.id, Duration::hours(1), renewal).await.unwrap();
        assert_eq!(stored().await, millis(Some(later)));
        clock.advance(Duration::days(3));
        let verified = services.keys.verify(renewed.secret.expose_secret()).await.unwrap().unwrap();
        assert_eq!(verified.key_id, created.key.id);

        let never = services.keys.rotate(&ada, &created.key.id, Duration::zero(), NewExpiry::Replace(None)).await.unwrap();
        assert_eq!((never.key.expires_at, stored().await), (None, None));

        // An expiry in the past or beyond ten years is refused before anything changes.
        for refused in [clock.now() - Duration::seconds(1), clock.now() + Duration::days(3651)] {
            let rotate = services.keys.rotate(&ada, &created.key.id, Duration::zero(), NewExpiry::Replace(Some(refused))).await;
            assert!(matches!(rotate, Err(KeyError::InvalidExpiry)), "{rotate:?}");
        }
        assert!(services.keys.verify(never.secret.expose_secret()).await.unwrap().is_ok(), "still the last secret");
        assert_eq!(stored().await, None);
    }

    async fn a_disabled_key_is_refused_until_enabled_and_a_revoked_one_stays_revoked(services: Services, clock: ManualClock) {
        let ada = customer(&services, "ada@example.com").await;
        let created = services.keys.create(&ada, "CI", None, Default::default()).await.unwrap();
        let secret = created.secret.expose_secret().to_owned();

        let disabled = services.keys.set_disabled(&ada, &created.key.id, true).await.unwrap();
        assert_eq!(disabled.status(clock.now()), KeyStatus::Disabled);
        assert_eq!(services.keys.verify(&secret).await.unwrap(), Err(Rejection::Disabled));
        let listed = services.keys.list(ada.account_id.as_deref().unwrap()).await.unwrap();
        assert_eq!(listed[0].status(clock.now()), KeyStatus::Disabled, "stored, not only returned");
        // Disabling twice changes nothing and is not audited twice.
        services.keys.set_disabled(&ada, &created.key.id, true).await.unwrap();

        let enabled = services.keys.set_disabled(&ada, &created.key.id, false).await.unwrap();
        assert_eq!(enabled.status(clock.now()), KeyStatus::Active);
        assert_eq!(services.keys.verify(&secret).await.unwrap().unwrap().key_id, created.key.id);

        let log = services::audit::for_account(&services.db, ada.account_id.as_deref().unwrap(), 10).await.unwrap();
        let actions: Vec<&str> = log.iter().map(|entry| entry.action.as_str()).collect();
        assert_eq!(actions.iter().filter(|action| **action == "key.disable").count(), 1, "{actions:?}");
        assert_eq!(actions.iter().filter(|action| **action == "key.enable").count(), 1, "{actions:?}");

        // Revoking is for good: a revoked key cannot be enabled, nor disabled.
        services.keys.revoke(&ada, &created.key.id).await.unwrap();
        for disabled in [false, true] {
            let change = services.keys.set_disabled(&ada, &created.key.id, disabled).await;
            assert!(matches!(change, Err(KeyError::NotActive)), "{change:?}");
        }
        assert_eq!(services.keys.verify(&secret).await.unwrap(), Err(Rejection::Revoked));
    }

    async fn a_key_past_its_expiry_is_refused(services: Services, clock: ManualClock) {
        let ada = customer(&services, "ada@example.com").await;
        let created = services.keys.create(&ada, "temp", Some(clock.now() + Duration::hours(1)), Default::default()).await.unwrap();
        assert!(services.keys.verify(created.secret.expose_secret()).await.unwrap().is_ok());
        clock.advance(Duration::hours(2));
        assert_eq!(services.keys.verify(created.secret.expose_secret()).await.unwrap(), Err(Rejection::Expired));
        let past = services.keys.create(&ada, "past", Some(clock.now() - Duration::seconds(1)), Default::default()).await;
        assert!(matches!(past, Err(KeyError::InvalidExpiry)));
    }

    async fn malformed_secrets_are_refused_before_any_lookup(services: Services, clock: ManualClock) {
        for junk in ["", "hello", "ks_abc_def", "Bearer ks_0000000000000000000000_000000"] {
            assert_eq!(services.keys.verify(junk).await.unwrap(), Err(Rejection::Malformed), "{junk:?}");
        }
    }

    async fn another_accounts_key_cannot_be_touched(services: Services, clock: ManualClock) {
        let ada = customer(&services, "ada@example.com").await;
        let mallory = customer(&services, "mallory@example.com").await;
        let created = services.keys.create(&ada, "CI", None, Default::default()).await.unwrap();
        let rotate = services.keys.rotate(&mallory, &created.key.id, Duration::zero(), NewExpiry::Keep).await;
        assert!(matches!(rotate, Err(KeyError::NotFound)), "{rotate:?}");
        let revoke = services.keys.revoke(&mallory, &created.key.id).await;
        assert!(matches!(revoke, Err(KeyError::NotFound)), "{revoke:?}");
        assert!(services.keys.verify(created.secret.expose_secret()).await.unwrap().is_ok(), "unchanged");
        assert!(services.keys.list(mallory.account_id.as_deref().unwrap()).await.unwrap().is_empty());
    }

    async fn key_changes_are_limited_to_ten_a_minute_per_user(services: Services, clock: ManualClock) {
        let ada = customer(&services, "ada@example.com").await;
        for n in 0..10 {
            services.keys.create(&ada, &format!("key {n}"), None, Default::default()).await.unwrap();
        }
        let eleventh = services.keys.create(&ada, "one too many", None, Default::default()).await;
        assert!(matches!(eleventh, Err(KeyError::Throttled { .. })), "{eleventh:?}");
        assert_eq!(services.keys.list(ada.account_id.as_deref().unwrap()).await.unwrap().len(), 10);
        clock.advance(Duration::seconds(61));
        services.keys.create(&ada, "next minute", None, Default::default()).await.unwrap();
    }

    async fn every_key_change_is_audited_without_the_secret(services: Services, clock: ManualClock) {
        let ada = customer(&services, "ada@example.com").await;
        let created = services.keys.create(&ada, "CI", None, Default::default()).await.unwrap();
        clock.advance(Duration::seconds(1));
        let rotated = services.keys.rotate(&ada, &created.key.id, Duration::hours(24), NewExpiry::Keep).await.unwrap();
        clock.advance(Duration::seconds(1));
        services.keys.revoke(&ada, &created.key.id).await.unwrap();
        let log = services::audit::for_account(&services.db, &created.key.account_id, 10).await.unwrap();
        let actions: Vec<_> = log.iter().map(|entry| entry.action.as_str()).collect();
        assert_eq!(actions, ["key.revoke", "key.rotate", "key.create"]);
        for entry in &log {
            assert_eq!(entry.actor_email, "ada@example.com");
            assert_eq!(entry.target.as_deref(), Some(created.key.id.as_str()));
            let text = format!("{:?}{:?}", entry.before, entry.after);
            assert!(!text.contains(&created.secret.expose_secret()[3..]));
            assert!(!text.contains(&rotated.secret.expose_secret()[3..]));
        }
    }

    async fn last_use_only_moves_forward_with_its_address(services: Services, clock: ManualClock) {
        let ada = customer(&services, "ada@example.com").await;
        let created = services.keys.create(&ada, "CI", None, Default::default()).await.unwrap();
        let later = clock.now() + Duration::minutes(5);
        let use_at = |at, from: &str, via_previous| KeyUse {
            key_id: created.key.id.clone(),
            via_previous,
            at,
            from: from.parse().unwrap(),
        };
        services.keys.record_use(&[use_at(later, "198.51.100.7", false), use_at(clock.now(), "203.0.113.9", false)])
            .await
            .unwrap();
        let keys = services.keys.list(&created.key.account_id).await.unwrap();
        assert_eq!((keys[0].last_used_at, keys[0].last_used_from.as_deref()), (Some(later), Some("198.51.100.7")));

        // After a rotation the old secret's uses are told apart, with where they come from.
        services.keys.rotate(&ada, &created.key.id, Duration::hours(1), NewExpiry::Keep).await.unwrap();
        let old_use = use_at(later + Duration::minutes(1), "::ffff:192.0.2.4", true);
        services.keys.record_use(&[old_use]).await.unwrap();
        let keys = services.keys.list(&created.key.account_id).await.unwrap();
        let previous = keys[0].previous.clone().unwrap();
        assert_eq!(previous.last_used_from.as_deref(), Some("192.0.2.4"), "an IPv4 client is shown as one");
        assert_eq!(keys[0].last_used_from.as_deref(), Some("198.51.100.7"));
    }
}
