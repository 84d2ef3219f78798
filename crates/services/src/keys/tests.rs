//! Unit tests of the keys service's pure parts.
use super::*;

#[test]
fn names_are_trimmed_and_bounded() {
    assert_eq!(valid_name("  CI deploy ").unwrap(), "CI deploy");
    assert!(valid_name("   ").is_err());
    assert!(valid_name(&"x".repeat(65)).is_err());
    assert!(valid_name("tab\there").is_err());
}
