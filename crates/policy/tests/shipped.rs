//! The shipped policy files parse, validate, and reproduce their seeds' numbers.

use chrono::Duration;
use limiter::{BucketSpec, Scope, Window};
use policy::{
    Access, BodyStyle, Caller, FixedWindow, HeaderStyle, Limit, Period, Policy, RetryAfter, SHIPPED,
};

fn shipped(name: &str) -> Policy {
    match Policy::shipped(name) {
        Ok(policy) => policy,
        Err(error) => panic!("{name} does not load:\n{error}"),
    }
}

fn fixed(limit: u64, window: FixedWindow) -> Limit {
    Limit::Fixed { limit, window }
}

fn per_second(rate: u64) -> Limit {
    Limit::Gcra { rate, per: Period::from_seconds(1), burst: u32::try_from(rate).unwrap() }
}

#[test]
fn every_shipped_file_parses_and_validates() {
    for (name, _) in SHIPPED {
        let policy = shipped(name);
        assert!(policy.violations().is_empty(), "{name}");
    }
    assert!(Policy::default_policy().is_ok());
    assert!(Policy::shipped("seed-003").is_err());
}

#[test]
fn every_shipped_file_survives_writing_back() {
    for (name, _) in SHIPPED {
        let policy = shipped(name);
        let text = policy.to_toml_string().unwrap();
        let again = Policy::from_toml_str(&text, "written.toml").unwrap();
        assert_eq!(again, policy, "{name}");
    }
}

#[test]
fn a_policy_file_is_read_from_disk_and_a_missing_one_is_named() {
    let path = std::env::temp_dir().join(format!("keystile-policy-{}.toml", std::process::id()));
    std::fs::write(&path, Policy::shipped_text("seed-002").unwrap()).unwrap();
    let read = Policy::from_path(&path);
    std::fs::remove_file(&path).unwrap();
    assert_eq!(read.unwrap(), shipped("seed-002"));

    let error = Policy::from_path("/nonexistent/keystile.toml").unwrap_err();
    assert!(error.to_string().starts_with("/nonexistent/keystile.toml: cannot read"));
}

fn assert_seed_001_plans(policy: &Policy) {
    let ids: Vec<&str> = policy.plans().iter().map(|p| p.id.as_str()).collect();
    assert_eq!(ids, ["starter", "pro", "business", "enterprise"]);
    assert_eq!(policy.default_plan().unwrap().id, "starter");
    assert_eq!(policy.accounts.billing_anchor_day, 1);

    let starter = policy.plan("starter").unwrap();
    assert_eq!(starter.name, "Starter");
    assert_eq!(starter.monthly_quota, Some(10_000));
    assert_eq!(starter.burst, Some(per_second(5)));
    let pro = policy.plan("pro").unwrap();
    assert_eq!(pro.monthly_quota, Some(100_000));
    assert_eq!(pro.burst, Some(per_second(20)));
    for fair_use in ["business", "enterprise"] {
        let plan = policy.plan(fair_use).unwrap();
        assert_eq!((plan.monthly_quota, plan.burst), (None, None), "{fair_use}");
        assert!(!plan.daily_cap, "{fair_use} is exempt from the daily cap");
    }
    assert!(starter.daily_cap && pro.daily_cap);
    assert_eq!(policy.plan("enterprise").unwrap().price_cents, None);
    // "Custom / Negotiated": a contract an admin assigns, not a plan a customer picks.
    let self_service: Vec<bool> = policy.plans().iter().map(|p| p.self_service).collect();
    assert_eq!(self_service, [true, true, true, false]);

    let cap = policy.daily_cap.as_ref().unwrap();
    assert_eq!(cap.limit, 10_000);
    assert_eq!(cap.header_prefix.as_deref(), Some("X-Prelaunch-Daily"));
    assert_eq!(cap.body, Some(BodyStyle::Seed001Json));
    assert_eq!(cap.reason.as_deref(), Some("prelaunch_daily_cap"));
    assert_eq!(cap.message.as_deref(), Some("Pre-launch rate limit exceeded"));
    let refusal = policy.refusal("daily_cap");
    assert_eq!(refusal.style, BodyStyle::Seed001Json);
    assert_eq!(refusal.code, "rate_limited");
    assert_eq!(refusal.message, "Pre-launch rate limit exceeded");
    assert_eq!(refusal.reason, Some("prelaunch_daily_cap"));
    // Filled from the refusing bucket when rendered: the golden tests compare the seed's words.
    let suggestion = "Pre-launch keys are capped at {limit} requests/{window}. Upgrade to a paid plan at https://igregulator.io/pricing for production use.";
    assert_eq!(refusal.suggestion, Some(suggestion));
}

fn assert_seed_001_public_routes(policy: &Policy) {
    for path in ["/v1/check", "/v1/jurisdictions", "/v1/operators/search"] {
        let found = policy.route("GET", path).unwrap();
        assert_eq!(found.route.access, Access::Public, "{path}");
        let specs = policy.charges(Some(found.route), &Caller::Anonymous).unwrap();
        let expected = BucketSpec::new(format!("public:GET {path}"), 10, Window::Hour, Scope::Ip);
        assert_eq!(specs, [expected], "{path}");
    }
    let search = policy.route("GET", "/v1/operators/search?limit=50").unwrap().route;
    assert_eq!(search.anonymous_row_cap, Some(3));
    assert_eq!(search.cap_rows(50), 3);
    assert_eq!(policy.route("GET", "/v1/check").unwrap().route.anonymous_row_cap, None);
    assert_eq!(policy.public.as_ref().unwrap().tier, "public");
}

#[test]
fn the_default_reproduces_seed_001_plans_daily_cap_and_public_limits() {
    let policy = shipped("default");
    assert_seed_001_plans(&policy);
    assert_seed_001_public_routes(&policy);
    let public = policy.route("GET", "/v1/check").unwrap().route;
    assert_eq!(policy.header_styles(Some(public)), [HeaderStyle::XRateLimit]);
    let refusal = policy.refusal("public:GET /v1/check");
    assert_eq!(refusal.style, BodyStyle::Seed001Json);
    assert_eq!(refusal.code, "rate_limited");
    assert_eq!(refusal.message, "Public rate limit reached ({limit}/{window}/IP).");
    assert_eq!(refusal.upgrade_url, Some("https://igregulator.io/pricing"));
}

#[test]
fn seed_001_alone_has_its_plans_public_limits_headers_and_body() {
    let policy = shipped("seed-001");
    assert_seed_001_plans(&policy);
    assert_seed_001_public_routes(&policy);
    assert_eq!(policy.headers.styles, [HeaderStyle::XRateLimit]);
    assert_eq!(policy.headers.policy_name, "default");
    assert_eq!(policy.rejection.body, BodyStyle::Seed001Json);
    assert_eq!(policy.rejection.code(BodyStyle::Seed001Json), "rate_limited");
    assert_eq!(policy.rejection.upgrade_url.as_deref(), Some("https://igregulator.io/pricing"));
    assert_eq!(policy.rejection.retry_after, RetryAfter::Reset);
    assert!(policy.pricing.is_none());
}

fn assert_seed_002_buckets_and_routes(policy: &Policy) {
    let bucket = |name: &str| policy.bucket(name).unwrap();
    assert_eq!(bucket("reads").limit, fixed(60, FixedWindow::Minute));
    assert_eq!(bucket("scans").limit, fixed(6, FixedWindow::Hour));
    assert_eq!(bucket("exports").limit, fixed(30, FixedWindow::Hour));
    assert_eq!(bucket("key_mgmt").limit, fixed(10, FixedWindow::Minute));
    for name in ["reads", "scans", "exports"] {
        assert_eq!(bucket(name).scope, Scope::Key, "{name}");
    }
    assert_eq!(bucket("key_mgmt").scope, Scope::User);
    assert!(policy.fails_closed("key_mgmt") && !policy.fails_closed("reads"));

    let buckets_of = |method: &str, path: &str| policy.route(method, path).unwrap().route.buckets.clone();
    for path in [
        "/v1/snapshots/snap_1",
        "/v1/snapshots/snap_1/pdf",
        "/v1/scans/scan_1",
        "/v1/exports/exp_1",
        "/v1/usage",
    ] {
        assert_eq!(buckets_of("GET", path), ["reads"], "{path}");
    }
    assert_eq!(buckets_of("POST", "/v1/scans"), ["scans"]);
    assert_eq!(buckets_of("POST", "/v1/exports"), ["exports"]);
    for method in ["GET", "POST", "DELETE"] {
        assert_eq!(buckets_of(method, "/v1/keys/key_1"), ["key_mgmt"], "{method}");
    }
    assert_eq!(buckets_of("POST", "/v1/keys"), ["key_mgmt"]);
    let stream = policy.route("GET", "/v1/scans/scan_1/stream").unwrap().route;
    assert!(stream.exempt && stream.buckets.is_empty());
    assert_eq!(policy.security.key_management.as_deref(), Some("key_mgmt"));
    assert_eq!(
        policy.key_management_spec(),
        Some(BucketSpec::new("key_mgmt", 10, Window::Minute, Scope::User))
    );
}

#[test]
fn the_default_reproduces_seed_002_buckets_and_route_mapping() {
    let policy = shipped("default");
    assert_seed_002_buckets_and_routes(&policy);
    assert_eq!(policy.headers.styles, [HeaderStyle::Draft7]);
    assert_eq!(policy.rejection.body, BodyStyle::ProblemJson);
    let refusal = policy.refusal("reads");
    assert_eq!(refusal.style, BodyStyle::ProblemJson);
    assert_eq!(refusal.code, "rate_limit_exceeded");
    assert_eq!(refusal.message, "Rate limit exceeded");
    assert_eq!(refusal.problem_type, "https://api.regsn.app/problems/rate_limited");
    assert_eq!((refusal.reason, refusal.suggestion), (None, None));
    assert_eq!(policy.rejection.retry_after, RetryAfter::Reset);
}

#[test]
fn seed_002_alone_has_its_buckets_headers_and_problem_body() {
    let policy = shipped("seed-002");
    assert_seed_002_buckets_and_routes(&policy);
    assert_eq!(policy.headers.styles, [HeaderStyle::Draft7]);
    assert_eq!(policy.rejection.body, BodyStyle::ProblemJson);
    assert_eq!(policy.rejection.problem_type(), "https://api.regsn.app/problems/rate_limited");
    assert_eq!(policy.rejection.title(), "Rate limit exceeded");
    assert_eq!(policy.rejection.code(BodyStyle::ProblemJson), "rate_limit_exceeded");
    assert_eq!(policy.rejection.retry_after, RetryAfter::Window);
    assert!(policy.spend_cap.account_may_set && policy.spend_cap.default_cents.is_none());
    assert!(policy.daily_cap.is_none() && policy.public.is_none());
}

fn assert_seed_000_tiers(policy: &Policy) {
    let pricing = policy.pricing.as_ref().unwrap();
    assert_eq!(pricing.free_requests_per_minute, 10);
    assert_eq!(pricing.currency, "USD");
    let table: Vec<_> = pricing
        .tiers
        .iter()
        .map(|t| (t.min_rpm, t.max_rpm, t.monthly_cents, t.extra_request_cents))
        .collect();
    assert_eq!(
        table,
        [
            (0, Some(10), Some(0), Some(0)),
            (11, Some(30), Some(10_000), Some(10)),
            (31, Some(60), Some(25_000), Some(10)),
            (61, Some(100), Some(50_000), Some(15)),
            (101, Some(150), Some(100_000), Some(20)),
            (151, None, None, None),
        ]
    );
    let enterprise = pricing.tiers.last().unwrap();
    assert!(enterprise.is_custom());
    assert_eq!(enterprise.requires_plan.as_deref(), Some("enterprise"));
}

#[test]
fn the_default_reproduces_seed_000_pricing() {
    assert_seed_000_tiers(&shipped("default"));
}

#[test]
fn seed_000_alone_limits_each_customer_to_20_a_minute() {
    let policy = shipped("seed-000");
    assert_seed_000_tiers(&policy);
    let customer = policy.default_plan().unwrap();
    let caller = Caller::Authenticated { plan: customer, anchor_day: 1, overrides: None, key_quota: None };
    let expected = BucketSpec::new("per_customer", 20, Window::Minute, Scope::Account);
    assert_eq!(policy.charges(None, &caller).unwrap(), [expected]);
    assert!(policy.charges(None, &Caller::Anonymous).is_err());
}

#[test]
fn login_throttling_is_shipped_and_fails_closed() {
    let policy = shipped("default");
    let login = policy.security.login.specs();
    let fifteen_minutes = Window::Gcra { period: Duration::minutes(15), burst: 5 };
    assert_eq!(login.account_ip, BucketSpec::new("login_account_ip", 5, fifteen_minutes, Scope::Account));
    assert_eq!(login.ip, BucketSpec::new("login_ip", 30, Window::Hour, Scope::Ip));
    assert_eq!(login.account, BucketSpec::new("login_account", 20, Window::Hour, Scope::Account));
    for name in ["login_account_ip", "login_ip", "login_account"] {
        assert!(policy.fails_closed(name), "{name}");
    }
    assert!(!policy.fails_closed("monthly") && !policy.fails_closed("public:GET /v1/check"));
}
