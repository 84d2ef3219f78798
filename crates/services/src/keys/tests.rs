//! Unit tests of the keys service's pure parts.
use super::*;

#[test]
fn names_are_trimmed_and_bounded() {
    assert_eq!(valid_name("  CI deploy ").unwrap(), "CI deploy");
    assert!(valid_name("   ").is_err());
    assert!(valid_name(&"x".repeat(65)).is_err());
    assert!(valid_name("tab\there").is_err());
}

#[test]
fn an_audited_key_name_is_quoted_as_written() {
    let key = ApiKey {
        id: "key_1".into(),
        account_id: "acct_1".into(),
        name: "Cafe\u{301} \"prod\"".into(),
        start: "ks_abc".into(),
        created_at: DateTime::<Utc>::UNIX_EPOCH,
        expires_at: None,
        last_used_at: None,
        last_used_from: None,
        previous: None,
        revoked_at: None,
        disabled_at: None,
        staff_disable_reason: None,
        created_by: None,
        restrictions: Restrictions::default(),
    };
    assert_eq!(describe(&key), "name=\"Cafe\u{301} \"prod\"\" start=ks_abc");
}
