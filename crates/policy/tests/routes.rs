//! Route matching: the most specific route wins; wildcards, parameters, methods, edge cases.

use policy::{Access, Method, PathPattern, PatternError, Policy};

fn default_policy() -> Policy {
    Policy::default_policy().unwrap()
}

/// seed-002 with more routes appended.
fn seed_002_with(routes: &str) -> Policy {
    let text = format!("{}\n{routes}", include_str!("../policies/seed-002.toml"));
    Policy::from_toml_str(&text, "test.toml").unwrap()
}

fn buckets(policy: &Policy, method: &str, path: &str) -> Option<Vec<String>> {
    policy.route(method, path).map(|found| found.route.buckets.clone())
}

#[test]
fn the_stream_route_beats_the_scan_id_route() {
    let policy = default_policy();
    let stream = policy.route("GET", "/v1/scans/scan_1/stream").unwrap();
    assert!(stream.route.exempt);
    assert_eq!(stream.route.path.as_str(), "/v1/scans/:id/stream");
    assert_eq!(stream.param("id"), Some("scan_1"));
    let scan = policy.route("GET", "/v1/scans/scan_1").unwrap();
    assert_eq!(scan.route.path.as_str(), "/v1/scans/:id");
    assert_eq!(scan.route.buckets, ["reads"]);
}

#[test]
fn a_trailing_wildcard_matches_the_rest_of_the_path_including_nothing() {
    let policy = default_policy();
    for path in ["/v1/snapshots", "/v1/snapshots/", "/v1/snapshots/a", "/v1/snapshots/a/b/c"] {
        assert_eq!(buckets(&policy, "GET", path), Some(vec!["reads".to_owned()]), "{path}");
    }
    assert_eq!(buckets(&policy, "GET", "/v1/snapshotsx"), None);
}

#[test]
fn a_parameter_takes_exactly_one_segment() {
    let policy = default_policy();
    assert!(policy.route("GET", "/v1/exports/").is_none());
    assert!(policy.route("GET", "/v1/exports/a/b").is_none());
    assert_eq!(buckets(&policy, "GET", "/v1/exports/exp_9"), Some(vec!["reads".to_owned()]));
}

#[test]
fn the_query_string_and_trailing_slash_do_not_matter() {
    let policy = default_policy();
    let reads = Some(vec!["reads".to_owned()]);
    assert_eq!(buckets(&policy, "GET", "/v1/usage?group_by=key"), reads);
    assert_eq!(buckets(&policy, "GET", "/v1/usage/"), reads);
    assert_eq!(buckets(&policy, "GET", "/v1/usage/?group_by=key"), reads);
}

#[test]
fn literal_segments_match_in_any_case_and_parameters_keep_theirs() {
    let policy = default_policy();
    assert_eq!(buckets(&policy, "POST", "/V1/Scans"), Some(vec!["scans".to_owned()]));
    let scan = policy.route("GET", "/v1/SCANS/Scan_1/Stream").unwrap();
    assert!(scan.route.exempt);
    assert_eq!(scan.param("id"), Some("Scan_1"));
}

#[test]
fn the_method_must_match() {
    let policy = default_policy();
    assert!(policy.route("POST", "/v1/usage").is_none());
    assert!(policy.route("GET", "/v1/scans").is_none());
    assert!(policy.route("DELETE", "/v1/exports").is_none());
    assert!(policy.route("GET", "/v2/anything").is_none());
    assert_eq!(buckets(&policy, "post", "/v1/scans"), Some(vec!["scans".to_owned()]));
}

#[test]
fn any_method_routes_match_every_method() {
    let policy = default_policy();
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        let found = policy.route(method, "/v1/keys/key_1/rotate").unwrap();
        assert_eq!(found.route.method, Method::Any);
        assert_eq!(found.route.buckets, ["key_mgmt"], "{method}");
    }
}

#[test]
fn head_falls_back_to_the_get_route_unless_it_has_its_own() {
    let policy = default_policy();
    assert_eq!(buckets(&policy, "HEAD", "/v1/usage"), Some(vec!["reads".to_owned()]));
    let policy = seed_002_with("[[routes]]\nmethod = \"HEAD\"\npath = \"/v1/usage\"\nexempt = true\n");
    assert!(policy.route("HEAD", "/v1/usage").unwrap().route.exempt);
    assert!(!policy.route("GET", "/v1/usage").unwrap().route.exempt);
}

#[test]
fn a_literal_beats_a_parameter_and_an_exact_method_beats_any() {
    let policy = seed_002_with(
        "[[routes]]\nmethod = \"GET\"\npath = \"/v1/scans/active\"\nbuckets = [\"scans\"]\n\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/v1/keys/*\"\nbuckets = [\"reads\"]\n",
    );
    assert_eq!(buckets(&policy, "GET", "/v1/scans/active"), Some(vec!["scans".to_owned()]));
    assert_eq!(buckets(&policy, "GET", "/v1/scans/other"), Some(vec!["reads".to_owned()]));
    assert_eq!(buckets(&policy, "GET", "/v1/keys/k"), Some(vec!["reads".to_owned()]));
    assert_eq!(buckets(&policy, "DELETE", "/v1/keys/k"), Some(vec!["key_mgmt".to_owned()]));
}

#[test]
fn an_exact_path_beats_a_wildcard_ending_at_it_and_a_parameter_beats_a_wildcard() {
    let policy = seed_002_with(
        "[[routes]]\nmethod = \"*\"\npath = \"/v1/keys\"\nbuckets = [\"reads\"]\n\n\
         [[routes]]\nmethod = \"GET\"\npath = \"/v1/snapshots/:id\"\nbuckets = [\"exports\"]\n",
    );
    assert_eq!(buckets(&policy, "POST", "/v1/keys"), Some(vec!["reads".to_owned()]));
    assert_eq!(buckets(&policy, "POST", "/v1/keys/k"), Some(vec!["key_mgmt".to_owned()]));
    assert_eq!(buckets(&policy, "GET", "/v1/snapshots/s"), Some(vec!["exports".to_owned()]));
    assert_eq!(buckets(&policy, "GET", "/v1/snapshots/s/pdf"), Some(vec!["reads".to_owned()]));
    assert_eq!(buckets(&policy, "GET", "/v1/snapshots"), Some(vec!["reads".to_owned()]));
}

#[test]
fn public_routes_say_so_and_cap_anonymous_rows() {
    let policy = default_policy();
    let search = policy.route("GET", "/v1/operators/search").unwrap().route;
    assert_eq!(search.access, Access::Public);
    assert_eq!((search.cap_rows(2), search.cap_rows(3), search.cap_rows(100)), (2, 3, 3));
    let usage = policy.route("GET", "/v1/usage").unwrap().route;
    assert_eq!(usage.access, Access::Authenticated);
    assert_eq!(usage.cap_rows(100), 100);
}

#[test]
fn path_patterns_are_parsed_and_refused() {
    let pattern: PathPattern = "/v1/scans/:id/stream".parse().unwrap();
    assert_eq!(pattern.to_string(), "/v1/scans/:id/stream");
    assert!(matches!("v1/x".parse::<PathPattern>(), Err(PatternError::NotAbsolute(_))));
    assert!(matches!("/v1/*/x".parse::<PathPattern>(), Err(PatternError::WildcardNotLast(_))));
    assert!(matches!("/v1/:/x".parse::<PathPattern>(), Err(PatternError::UnnamedParam(_))));
}
