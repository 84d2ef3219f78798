//! Bad policy files are refused with the field and the line:column of each problem.

use policy::{Overrides, Policy, PolicyError};

const DEFAULT: &str = include_str!("../policies/default.toml");

/// The default policy with the first `from` replaced by `to`.
fn edit(from: &str, to: &str) -> String {
    assert!(DEFAULT.contains(from), "`{from}` is not in default.toml");
    DEFAULT.replacen(from, to, 1)
}

/// The line on which `text` first contains `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    let at = text.find(needle).unwrap_or_else(|| panic!("`{needle}` is not in the text"));
    text[..at].matches('\n').count() + 1
}

/// Every problem as (field, line, message).
fn problems(text: &str) -> Vec<(String, usize, String)> {
    let error = Policy::from_toml_str(text, "policy.toml").expect_err("the policy was accepted");
    assert!(matches!(error, PolicyError::Parse { .. } | PolicyError::Invalid { .. }));
    error
        .violations()
        .iter()
        .map(|v| {
            let line = v.location.map_or(0, |location| location.line);
            (v.field.to_string(), line, v.message.clone())
        })
        .collect()
}

/// Asserts the edit is refused with exactly one problem, naming `field` on the line where the
/// edited text first contains `at` (`to` when `at` is empty).
fn refused(from: &str, to: &str, field: &str, at: &str, says: &str) {
    let text = edit(from, to);
    let line = line_of(&text, if at.is_empty() { to } else { at });
    refused_once(&text, field, line, says);
}

/// Asserts `text` is refused with exactly one problem, naming `field` on `line`.
fn refused_once(text: &str, field: &str, line: usize, says: &str) {
    let found = problems(text);
    assert_eq!(found.len(), 1, "{found:?}");
    let (got_field, got_line, message) = &found[0];
    assert_eq!((got_field.as_str(), *got_line), (field, line), "{message}");
    assert!(message.contains(says), "`{message}` does not say `{says}`");
}

#[test]
fn an_unknown_bucket_in_a_route_is_named() {
    let (from, to) = (r#"buckets = ["scans"]"#, r#"buckets = ["scan"]"#);
    refused(from, to, "routes[7].buckets[0]", "", "unknown bucket `scan`");
}

#[test]
fn an_unknown_bucket_in_a_plan_is_named() {
    let plan = "daily_cap = false\n\n# \"Custom";
    let to = "daily_cap = false\nbuckets = [\"gold\"]\n\n# \"Custom";
    refused(plan, to, "plans[2].buckets[0]", "gold", "unknown bucket `gold`");
}

#[test]
fn a_duplicate_plan_id_is_named() {
    let (from, to) = (r#"id = "pro""#, r#"id = "starter""#);
    refused(from, to, "plans[1].id", "id = \"starter\"\nname = \"Pro\"", "duplicate plan id `starter`");
}

#[test]
fn a_zero_limit_is_named() {
    refused("limit = 60\n", "limit = 0\n", "buckets.reads.limit", "", "at least 1");
}

#[test]
fn a_misspelt_placeholder_in_a_429_message_is_named() {
    let (from, to) = ("({limit}/{window}/IP)", "({limt}/{window}/IP)");
    refused(from, to, "public.message", "", "the only placeholders are `{limit}` and `{window}`");
}

#[test]
fn a_zero_monthly_quota_is_named() {
    let (from, to) = ("monthly_quota = 100000", "monthly_quota = 0");
    refused(from, to, "plans[1].monthly_quota", "", "at least 1");
}

#[test]
fn a_negative_limit_is_refused_while_parsing() {
    refused("limit = 6\n", "limit = -6\n", "buckets.scans.limit", "", "-6");
}

#[test]
fn a_gcra_with_zero_rate_is_named() {
    let (from, to) = ("rate = 5, per", "rate = 0, per");
    refused(from, to, "plans[0].burst.rate", "", "rate must be at least 1");
}

#[test]
fn a_gcra_with_zero_period_is_named() {
    let (from, to) = (r#"per = "15 minutes""#, r#"per = "0 minutes""#);
    refused(from, to, "security.login.account_ip.per", "", "longer than zero");
}

#[test]
fn overlapping_tiers_are_named() {
    refused("min_rpm = 11", "min_rpm = 10", "pricing.tiers[1].min_rpm", "", "overlaps");
}

#[test]
fn a_gap_between_tiers_is_named() {
    refused("min_rpm = 31", "min_rpm = 32", "pricing.tiers[2].min_rpm", "", "gap");
}

#[test]
fn a_closed_last_tier_leaves_a_gap() {
    let from = "min_rpm = 151\n";
    let to = "min_rpm = 151\nmax_rpm = 1000\n";
    refused(from, to, "pricing.tiers[5].max_rpm", "max_rpm = 1000", "gap above");
}

#[test]
fn a_fee_past_what_a_bill_can_say_is_named() {
    let monthly = "monthly_cents = 1000000001";
    refused("monthly_cents = 10000", monthly, "pricing.tiers[1].monthly_cents", "", "$10,000,000 a month");
    let per_request = "extra_request_cents = 100001";
    refused(
        "extra_request_cents = 15",
        per_request,
        "pricing.tiers[3].extra_request_cents",
        "",
        "$1,000 a request",
    );
}

#[test]
fn a_tier_with_only_one_fee_is_named() {
    // The tier's own location is its [[pricing.tiers]] header, the line before its name.
    let text = edit("extra_request_cents = 15\n", "\n");
    let header = line_of(&text, "name = \"61-100 rpm\"") - 1;
    refused_once(&text, "pricing.tiers[3]", header, "both");
}

#[test]
fn an_unknown_header_style_is_refused_while_parsing() {
    let (from, to) = (r#"styles = ["draft7"]"#, r#"styles = ["draft8"]"#);
    refused(from, to, "headers.styles[0]", "", "unknown variant `draft8`");
}

#[test]
fn a_header_style_listed_twice_is_named() {
    let (from, to) = (r#"styles = ["draft7"]"#, r#"styles = ["draft7", "draft7"]"#);
    refused(from, to, "headers.styles[1]", "", "twice");
}

#[test]
fn a_default_plan_that_does_not_exist_is_named() {
    let (from, to) = (r#"default_plan = "starter""#, r#"default_plan = "free""#);
    refused(from, to, "accounts.default_plan", "", "`free`");
}

#[test]
fn an_anchor_day_outside_the_month_is_named() {
    for day in ["0", "32"] {
        let to = format!("billing_anchor_day = {day}");
        let field = "accounts.billing_anchor_day";
        refused("billing_anchor_day = 1", &to, field, "", "between 1 and 31");
    }
}

#[test]
fn a_misspelt_key_is_refused() {
    let (from, to) = ("monthly_quota = 10000", "montly_quota = 10000");
    refused(from, to, "plans[0].montly_quota", "", "unknown field `montly_quota`");
}

#[test]
fn a_missing_key_is_refused() {
    let text = edit("daily_cap = true\n", "");
    let header = line_of(&text, "id = \"starter\"") - 1;
    refused_once(&text, "plans[0]", header, "missing field `daily_cap`");
}

#[test]
fn a_bucket_mixing_both_forms_is_refused_at_its_table() {
    let text = edit("limit = 60\n", "limit = 60\nrate = 60\n");
    let header = line_of(&text, "[buckets.reads]");
    refused_once(&text, "buckets.reads", header, "not a mix");
}

#[test]
fn a_bucket_without_a_scope_is_refused() {
    let (from, to) = ("scope = \"key\"\ndescription = \"Reads", "description = \"Reads");
    refused(from, to, "buckets.reads", "[buckets.reads]", "missing field `scope`");
}

#[test]
fn a_path_pattern_that_is_not_absolute_is_refused() {
    let (from, to) = (r#"path = "/v1/usage""#, r#"path = "v1/usage""#);
    refused(from, to, "routes[6].path", "", "starts with `/`");
}

#[test]
fn a_wildcard_in_the_middle_is_refused() {
    let (from, to) = (r#"path = "/v1/snapshots/*""#, r#"path = "/v1/*/snapshots""#);
    refused(from, to, "routes[3].path", "", "last segment");
}

#[test]
fn a_repeated_route_is_named() {
    let (from, to) = (r#"path = "/v1/exports/:id""#, r#"path = "/v1/scans/:scan""#);
    refused(from, to, "routes[5].path", "", "repeats");
}

#[test]
fn an_exempt_route_with_buckets_is_named() {
    let from = "exempt = true\n\n# Seed 002: key_mgmt";
    let to = "exempt = true\nbuckets = [\"reads\"]\n\n# Seed 002: key_mgmt";
    let at = "buckets = [\"reads\"]\n\n# Seed 002: key_mgmt";
    refused(from, to, "routes[9].buckets", at, "exempt");
}

#[test]
fn a_public_bucket_counting_per_key_is_named() {
    let at = "bucket = \"public\"";
    refused("scope = \"ip\"", "scope = \"key\"", "public.bucket", at, "per IP");
}

#[test]
fn key_management_that_fails_open_is_named() {
    let at = "key_management = ";
    refused("fail_closed = true\n", "", "security.key_management", at, "fail_closed");
}

#[test]
fn a_reserved_bucket_name_is_named() {
    let to = "[buckets.monthly]\nlimit = 1\nwindow = \"day\"\nscope = \"key\"\n\n[buckets.public]";
    let says = "plan's own bucket";
    refused("[buckets.public]", to, "buckets.monthly", "[buckets.monthly]", says);
}

#[test]
fn a_plan_taking_a_missing_daily_cap_is_named() {
    let text = include_str!("../policies/seed-002.toml").replacen("daily_cap = false", "daily_cap = true", 1);
    let line = line_of(&text, "daily_cap = true");
    refused_once(&text, "plans[0].daily_cap", line, "no [daily_cap] section");
}

#[test]
fn every_problem_is_reported_at_once_in_file_line_column_form() {
    let text = edit("limit = 60\n", "limit = 0\n");
    let text = text.replacen(r#"default_plan = "starter""#, r#"default_plan = "free""#, 1);
    let error = Policy::from_toml_str(&text, "policy.toml").unwrap_err();
    let rendered = error.to_string();
    let lines: Vec<&str> = rendered.lines().collect();
    assert_eq!(lines.len(), 2, "{rendered}");
    let plan_line = DEFAULT.lines().position(|l| l.starts_with("default_plan")).unwrap() + 1;
    assert!(
        lines[0].starts_with(&format!("policy.toml:{plan_line}:16: accounts.default_plan: ")),
        "{rendered}"
    );
    assert!(lines[1].contains(": buckets.reads.limit: must be at least 1"), "{rendered}");
}

#[test]
fn a_toml_syntax_error_carries_its_line() {
    let text = edit("[headers]", "[headers");
    let line = line_of(&text, "[headers");
    let error = Policy::from_toml_str(&text, "policy.toml").unwrap_err();
    assert!(error.to_string().starts_with(&format!("policy.toml:{line}:")), "{error}");
}

#[test]
fn a_catalogue_edited_in_rust_is_validated_by_field() {
    let mut policy = Policy::default_policy().unwrap();
    let mut copy = policy.plans[1].clone();
    copy.monthly_quota = Some(0);
    policy.plans.push(copy);
    let error = policy.validate().unwrap_err();
    let fields: Vec<String> = error.violations().iter().map(|v| v.field.to_string()).collect();
    assert_eq!(fields, ["plans[4].id", "plans[4].name", "plans[4].monthly_quota"]);
    assert!(error.violations().iter().all(|v| v.location.is_none()));

    // Counts past what the limiter counts exactly, and absurd prices, are refused too.
    let mut policy = Policy::default_policy().unwrap();
    policy.plans[3].monthly_quota = Some(u64::MAX);
    policy.plans[3].price_cents = Some(u64::MAX);
    let error = policy.validate().unwrap_err();
    let fields: Vec<String> = error.violations().iter().map(|v| v.field.to_string()).collect();
    assert_eq!(fields, ["plans[3].monthly_quota", "plans[3].price_cents"]);
}

#[test]
fn overrides_naming_unknown_buckets_or_zero_are_refused() {
    let policy = Policy::default_policy().unwrap();
    let good = Overrides::new().with("monthly", 5_000_000).with("burst", 200).with("reads", 600);
    assert!(policy.check_overrides(&good).is_ok());
    let bad = Overrides::new().with("raeds", 600).with("scans", 0);
    let error = policy.check_overrides(&bad).unwrap_err();
    let fields: Vec<String> = error.violations().iter().map(|v| v.field.to_string()).collect();
    assert_eq!(fields, ["raeds", "scans"]);
    // No account owns a per-user or per-IP bucket: an override of one would show in the
    // account's gauges and change nothing the gateway enforces.
    for bucket in ["key_mgmt", "public"] {
        let error = policy.check_overrides(&Overrides::new().with(bucket, 1)).unwrap_err();
        assert!(error.to_string().contains("cannot be overridden for one account"), "{error}");
    }
}
