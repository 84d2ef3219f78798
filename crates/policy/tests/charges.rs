//! Charges: the buckets a request consumes for its caller's plan, and admin overrides.

use chrono::Duration;
use limiter::{BucketSpec, Scope, Window};
use policy::{Caller, FixedWindow, KeyQuota, KeyRequired, Overrides, Policy};

fn default_policy() -> Policy {
    Policy::default_policy().unwrap()
}

fn charges(
    policy: &Policy,
    method: &str,
    path: &str,
    caller: &Caller<'_>,
) -> Result<Vec<BucketSpec>, KeyRequired> {
    let route = policy.route(method, path).map(|found| found.route);
    policy.charges(route, caller)
}

fn caller<'a>(
    policy: &'a Policy,
    plan: &str,
    anchor_day: u8,
    overrides: Option<&'a Overrides>,
) -> Caller<'a> {
    Caller::Authenticated { plan: policy.plan(plan).unwrap(), anchor_day, overrides, key_quota: None }
}

fn names(specs: &[BucketSpec]) -> Vec<&str> {
    specs.iter().map(|spec| spec.name.as_str()).collect()
}

fn per_second(burst: u32) -> Window {
    Window::Gcra { period: Duration::seconds(1), burst }
}

#[test]
fn a_starter_read_charges_quota_burst_daily_cap_and_reads() {
    let policy = default_policy();
    let starter = caller(&policy, "starter", 15, None);
    let specs = charges(&policy, "GET", "/v1/scans/s1", &starter).unwrap();
    assert_eq!(
        specs,
        [
            BucketSpec::new("monthly", 10_000, Window::Month { anchor_day: 15 }, Scope::Account),
            BucketSpec::new("burst", 5, per_second(5), Scope::Account),
            BucketSpec::new("daily_cap", 10_000, Window::Day, Scope::Key),
            BucketSpec::new("reads", 60, Window::Minute, Scope::Key),
        ]
    );
}

#[test]
fn a_pro_scan_charges_pro_numbers_and_the_scans_bucket() {
    let policy = default_policy();
    let pro = caller(&policy, "pro", 1, None);
    let specs = charges(&policy, "POST", "/v1/scans", &pro).unwrap();
    assert_eq!(
        specs[0],
        BucketSpec::new("monthly", 100_000, Window::Month { anchor_day: 1 }, Scope::Account)
    );
    assert_eq!(specs[1], BucketSpec::new("burst", 20, per_second(20), Scope::Account));
    assert_eq!(names(&specs), ["monthly", "burst", "daily_cap", "scans"]);
    assert_eq!(specs[3], BucketSpec::new("scans", 6, Window::Hour, Scope::Key));
}

#[test]
fn business_and_enterprise_skip_the_daily_cap_and_have_no_quota() {
    let policy = default_policy();
    for plan in ["business", "enterprise"] {
        let specs = charges(&policy, "POST", "/v1/exports", &caller(&policy, plan, 1, None)).unwrap();
        assert_eq!(specs, [BucketSpec::new("exports", 30, Window::Hour, Scope::Key)], "{plan}");
    }
}

#[test]
fn the_stream_and_the_status_endpoint_charge_nothing_but_still_need_a_key() {
    let policy = default_policy();
    let starter = caller(&policy, "starter", 1, None);
    for path in ["/v1/scans/s1/stream", "/v1/limits"] {
        assert_eq!(charges(&policy, "GET", path, &starter), Ok(vec![]), "{path}");
        assert_eq!(charges(&policy, "GET", path, &Caller::Anonymous), Err(KeyRequired), "{path}");
    }
}

#[test]
fn key_management_charges_only_key_mgmt_per_user() {
    let policy = default_policy();
    let starter = caller(&policy, "starter", 1, None);
    let specs = charges(&policy, "POST", "/v1/keys", &starter).unwrap();
    assert_eq!(specs, [BucketSpec::new("key_mgmt", 10, Window::Minute, Scope::User)]);
}

#[test]
fn a_keys_own_quota_is_charged_wherever_the_monthly_quota_is() {
    let policy = default_policy();
    let quota = KeyQuota::new(1_000, FixedWindow::Month).unwrap();
    let starter = Caller::Authenticated {
        plan: policy.plan("starter").unwrap(),
        anchor_day: 15,
        overrides: None,
        key_quota: Some(quota),
    };
    let read = charges(&policy, "GET", "/v1/scans/s1", &starter).unwrap();
    assert_eq!(names(&read), ["monthly", "burst", "daily_cap", "key_quota", "reads"]);
    assert_eq!(read[3], BucketSpec::new("key_quota", 1_000, Window::Month { anchor_day: 15 }, Scope::Key));
    let unmatched = charges(&policy, "GET", "/v1/jurisdictions/uk/operators", &starter).unwrap();
    assert_eq!(names(&unmatched), ["monthly", "burst", "daily_cap", "key_quota"]);
    assert_eq!(charges(&policy, "GET", "/v1/scans/s1/stream", &starter), Ok(vec![]));
    let key_management = charges(&policy, "POST", "/v1/keys", &starter).unwrap();
    assert_eq!(names(&key_management), ["key_mgmt"], "key management is not metered");
}

#[test]
fn an_unmatched_path_is_metered_with_the_plan_buckets_only() {
    let policy = default_policy();
    let starter = caller(&policy, "starter", 1, None);
    let specs = charges(&policy, "GET", "/v1/jurisdictions/uk/operators", &starter).unwrap();
    assert_eq!(names(&specs), ["monthly", "burst", "daily_cap"]);
    assert_eq!(
        charges(&policy, "GET", "/v1/jurisdictions/uk/operators", &Caller::Anonymous),
        Err(KeyRequired)
    );
}

#[test]
fn anonymous_callers_are_charged_per_ip_on_public_routes_only() {
    let policy = default_policy();
    let specs = charges(&policy, "GET", "/v1/check", &Caller::Anonymous).unwrap();
    assert_eq!(specs, [BucketSpec::new("public:GET /v1/check", 10, Window::Hour, Scope::Ip)]);
    assert_eq!(charges(&policy, "GET", "/v1/usage", &Caller::Anonymous), Err(KeyRequired));
    assert_eq!(charges(&policy, "POST", "/v1/check", &Caller::Anonymous), Err(KeyRequired));
}

#[test]
fn authenticated_callers_skip_the_per_ip_limit_on_public_routes() {
    let policy = default_policy();
    let pro = caller(&policy, "pro", 1, None);
    let specs = charges(&policy, "GET", "/v1/operators/search", &pro).unwrap();
    assert_eq!(names(&specs), ["monthly", "burst", "daily_cap"]);
    assert!(specs.iter().all(|spec| spec.scope != Scope::Ip));
}

#[test]
fn public_routes_can_share_one_per_ip_counter() {
    let text = include_str!("../policies/default.toml").replacen(
        "per_route = true\ntier",
        "per_route = false\ntier",
        1,
    );
    let policy = Policy::from_toml_str(&text, "shared.toml").unwrap();
    for path in ["/v1/check", "/v1/jurisdictions"] {
        let specs = charges(&policy, "GET", path, &Caller::Anonymous).unwrap();
        assert_eq!(names(&specs), ["public"], "{path}");
    }
    assert!(policy.is_public_bucket("public") && !policy.is_public_bucket("publicity"));
}

#[test]
fn overrides_replace_limits_by_bucket_name() {
    let policy = default_policy();
    let overrides = Overrides::new()
        .with("monthly", 50_000)
        .with("burst", 50)
        .with("reads", 600)
        .with("daily_cap", 20_000);
    let starter = caller(&policy, "starter", 3, Some(&overrides));
    let specs = charges(&policy, "GET", "/v1/usage", &starter).unwrap();
    assert_eq!(
        specs,
        [
            BucketSpec::new("monthly", 50_000, Window::Month { anchor_day: 3 }, Scope::Account),
            BucketSpec::new("burst", 50, per_second(50), Scope::Account),
            BucketSpec::new("daily_cap", 20_000, Window::Day, Scope::Key),
            BucketSpec::new("reads", 600, Window::Minute, Scope::Key),
        ]
    );
}

#[test]
fn overrides_give_an_enterprise_account_the_caps_its_contract_sets() {
    let policy = default_policy();
    let contract = Overrides::new().with("monthly", 5_000_000).with("burst", 200);
    let enterprise = caller(&policy, "enterprise", 10, Some(&contract));
    let specs = charges(&policy, "GET", "/v1/usage", &enterprise).unwrap();
    assert_eq!(
        specs,
        [
            BucketSpec::new("monthly", 5_000_000, Window::Month { anchor_day: 10 }, Scope::Account),
            BucketSpec::new("burst", 200, per_second(200), Scope::Account),
            BucketSpec::new("reads", 60, Window::Minute, Scope::Key),
        ]
    );
    let none = caller(&policy, "enterprise", 10, None);
    assert_eq!(names(&charges(&policy, "GET", "/v1/usage", &none).unwrap()), ["reads"]);
}

#[test]
fn overrides_of_buckets_a_request_does_not_use_change_nothing() {
    let policy = default_policy();
    let overrides = Overrides::new().with("scans", 60);
    let with = caller(&policy, "pro", 1, Some(&overrides));
    let without = caller(&policy, "pro", 1, None);
    assert_eq!(charges(&policy, "GET", "/v1/usage", &with), charges(&policy, "GET", "/v1/usage", &without));
}

#[test]
fn a_plan_bucket_is_charged_once_even_when_the_route_names_it_too() {
    let text = include_str!("../policies/seed-002.toml").replacen(
        "daily_cap = false",
        "daily_cap = false\nbuckets = [\"reads\"]",
        1,
    );
    let policy = Policy::from_toml_str(&text, "plan-bucket.toml").unwrap();
    let standard = caller(&policy, "standard", 1, None);
    assert_eq!(names(&charges(&policy, "GET", "/v1/usage", &standard).unwrap()), ["reads"]);
    assert_eq!(names(&charges(&policy, "POST", "/v1/scans", &standard).unwrap()), ["reads", "scans"]);
}

#[test]
fn a_route_cost_is_carried_on_the_route() {
    let text = include_str!("../policies/seed-002.toml").replacen(
        "buckets = [\"exports\"]",
        "buckets = [\"exports\"]\ncost = 4",
        1,
    );
    let policy = Policy::from_toml_str(&text, "cost.toml").unwrap();
    assert_eq!(policy.route("POST", "/v1/exports").unwrap().route.cost, 4);
    assert_eq!(policy.route("POST", "/v1/scans").unwrap().route.cost, 1);
}

#[test]
fn overrides_are_a_plain_map_when_stored() {
    let overrides = Overrides::new().with("reads", 600).with("monthly", 5_000_000);
    let text = toml::to_string(&overrides).unwrap();
    assert_eq!(text, "monthly = 5000000\nreads = 600\n");
    assert_eq!(toml::from_str::<Overrides>(&text).unwrap(), overrides);
}

#[test]
fn a_removed_plan_falls_back_to_the_default() {
    let policy = default_policy();
    assert_eq!(policy.plan_or_default("gold").unwrap().id, "starter");
    assert_eq!(policy.plan_or_default("pro").unwrap().id, "pro");
}

#[test]
fn an_admin_sees_every_account_and_key_bucket_with_the_plans_limit_in_words() {
    let policy = default_policy();
    let describe = |plan: &str| -> Vec<(String, Scope, String)> {
        let plan = policy.plan(plan).unwrap();
        let described = policy.account_buckets(plan).into_iter();
        described
            .map(|(name, scope, limit)| (name, scope, limit.map_or("none".into(), |l| l.describe())))
            .collect()
    };
    let row = |name: &str, scope, limit: &str| (name.to_owned(), scope, limit.to_owned());
    assert_eq!(
        describe("pro"),
        [
            row("monthly", Scope::Account, "100,000 per month"),
            row("burst", Scope::Account, "20 per second, burst 20"),
            row("daily_cap", Scope::Key, "10,000 per day"),
            row("exports", Scope::Key, "30 per hour"),
            row("reads", Scope::Key, "60 per minute"),
            row("scans", Scope::Key, "6 per hour"),
        ]
    );
    let business = describe("business");
    assert_eq!(
        business[..3],
        [
            row("monthly", Scope::Account, "none"),
            row("burst", Scope::Account, "none"),
            row("daily_cap", Scope::Key, "none"),
        ]
    );
}
