//! Typed settings, loaded once at start: defaults, then an optional TOML file, then environment
//! variables (`KEYSTILE_*`, and `DATABASE_URL`).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::Duration;
use serde::Deserialize;
use services::sessions::SessionTimeouts;

/// Every setting, with the environment variable that overrides it. `--help` prints this table.
pub const ENVIRONMENT_HELP: &str = "\
Settings (file keys, overridden by environment variables):
  listen                  KEYSTILE_LISTEN                 address to serve on [127.0.0.1:3000]
  database_url            DATABASE_URL                    sqlite://FILE (created if missing) or postgres://… [sqlite://keystile.db]
  public_url              KEYSTILE_PUBLIC_URL             the URL users reach; https makes cookies Secure and sends HSTS [http://127.0.0.1:3000]
  policy                  KEYSTILE_POLICY                 policy TOML file [the shipped default]
  site_root               KEYSTILE_SITE_ROOT              built browser assets [target/site]
  demo                    KEYSTILE_DEMO                   create the demo account and demo traffic [true]
  session_idle_minutes    KEYSTILE_SESSION_IDLE_MINUTES   sign out after this much inactivity [30]
  session_absolute_hours  KEYSTILE_SESSION_ABSOLUTE_HOURS sign out this long after login [12]
  view_as_minutes         KEYSTILE_VIEW_AS_MINUTES        a support view-as ends after this long [30]
  trusted_proxies         KEYSTILE_TRUSTED_PROXIES        comma-separated proxy IPs whose X-Forwarded-For is believed []
  cors_origins            KEYSTILE_CORS_ORIGINS           comma-separated origins (https://app.example.com) whose pages may call the API; * for any, empty for none [*]
  redis_url               KEYSTILE_REDIS_URL              redis://… for the multi-node limiter store [in-memory]
  redis_lease_units       KEYSTILE_REDIS_LEASE_UNITS      units of a roomy bucket a node may reserve and spend without asking Redis; 0: ask on every request [64]
  key_prefix              KEYSTILE_KEY_PREFIX             first part of every API key, 1-16 lowercase letters/digits [ks]
  upstream_url            KEYSTILE_UPSTREAM_URL           http://… of the API behind the gateway [the built-in sample API]
  upstream_timeout_seconds KEYSTILE_UPSTREAM_TIMEOUT_SECONDS wait this long for the upstream's response head [30]
The file is given with --config FILE or KEYSTILE_CONFIG.";

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub listen: SocketAddr,
    pub database_url: String,
    pub public_url: String,
    pub policy: Option<PathBuf>,
    pub site_root: PathBuf,
    pub demo: bool,
    pub session_idle_minutes: i64,
    pub session_absolute_hours: i64,
    pub view_as_minutes: i64,
    pub trusted_proxies: Vec<IpAddr>,
    /// Origins whose pages may call the API from a browser (`*`: any); see `gateway::Cors`.
    pub cors_origins: Vec<String>,
    pub redis_url: Option<String>,
    pub redis_lease_units: u64,
    pub key_prefix: String,
    pub upstream_url: Option<String>,
    pub upstream_timeout_seconds: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            database_url: "sqlite://keystile.db".into(),
            public_url: "http://127.0.0.1:3000".into(),
            policy: None,
            site_root: "target/site".into(),
            demo: true,
            session_idle_minutes: 30,
            session_absolute_hours: 12,
            view_as_minutes: 30,
            trusted_proxies: Vec::new(),
            cors_origins: vec!["*".into()],
            redis_url: None,
            redis_lease_units: limiter::redis_store::LeasePolicy::DEFAULT.units,
            key_prefix: "ks".into(),
            upstream_url: None,
            upstream_timeout_seconds: 30,
        }
    }
}

impl Settings {
    /// Defaults, then `file` if given, then the environment.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut settings = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the settings file {}", path.display()))?;
                toml::from_str(&text).with_context(|| format!("in the settings file {}", path.display()))?
            }
            None => Settings::default(),
        };
        settings.apply_environment(|name| std::env::var(name).ok())?;
        settings.validate()?;
        Ok(settings)
    }

    fn apply_environment(&mut self, var: impl Fn(&str) -> Option<String>) -> anyhow::Result<()> {
        fn parsed<T: std::str::FromStr>(name: &str, value: String) -> anyhow::Result<T>
        where
            T::Err: std::fmt::Display,
        {
            value.trim().parse().map_err(|e| anyhow::anyhow!("{name}={value:?} is not valid: {e}"))
        }
        if let Some(v) = var("KEYSTILE_LISTEN") {
            self.listen = parsed("KEYSTILE_LISTEN", v)?;
        }
        if let Some(v) = var("DATABASE_URL") {
            self.database_url = v;
        }
        if let Some(v) = var("KEYSTILE_PUBLIC_URL") {
            self.public_url = v;
        }
        if let Some(v) = var("KEYSTILE_POLICY") {
            self.policy = Some(v.into());
        }
        if let Some(v) = var("KEYSTILE_SITE_ROOT") {
            self.site_root = v.into();
        }
        if let Some(v) = var("KEYSTILE_DEMO") {
            self.demo = parsed("KEYSTILE_DEMO", v)?;
        }
        if let Some(v) = var("KEYSTILE_SESSION_IDLE_MINUTES") {
            self.session_idle_minutes = parsed("KEYSTILE_SESSION_IDLE_MINUTES", v)?;
        }
        if let Some(v) = var("KEYSTILE_SESSION_ABSOLUTE_HOURS") {
            self.session_absolute_hours = parsed("KEYSTILE_SESSION_ABSOLUTE_HOURS", v)?;
        }
        if let Some(v) = var("KEYSTILE_VIEW_AS_MINUTES") {
            self.view_as_minutes = parsed("KEYSTILE_VIEW_AS_MINUTES", v)?;
        }
        if let Some(v) = var("KEYSTILE_REDIS_URL") {
            self.redis_url = Some(v).filter(|url| !url.trim().is_empty());
        }
        if let Some(v) = var("KEYSTILE_REDIS_LEASE_UNITS") {
            self.redis_lease_units = parsed("KEYSTILE_REDIS_LEASE_UNITS", v)?;
        }
        if let Some(v) = var("KEYSTILE_UPSTREAM_URL") {
            self.upstream_url = Some(v).filter(|url| !url.trim().is_empty());
        }
        if let Some(v) = var("KEYSTILE_UPSTREAM_TIMEOUT_SECONDS") {
            self.upstream_timeout_seconds = parsed("KEYSTILE_UPSTREAM_TIMEOUT_SECONDS", v)?;
        }
        if let Some(v) = var("KEYSTILE_KEY_PREFIX") {
            self.key_prefix = v;
        }
        if let Some(v) = var("KEYSTILE_TRUSTED_PROXIES") {
            self.trusted_proxies = v
                .split(',')
                .filter(|s| !s.trim().is_empty())
                .map(|ip| parsed("KEYSTILE_TRUSTED_PROXIES", ip.to_owned()))
                .collect::<anyhow::Result<_>>()?;
        }
        if let Some(v) = var("KEYSTILE_CORS_ORIGINS") {
            self.cors_origins =
                v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect();
        }
        Ok(())
    }

    fn validate(&self) -> anyhow::Result<()> {
        services::Backend::from_url(&self.database_url)
            .with_context(|| format!("database_url {:?}", redact_url(&self.database_url)))?;
        anyhow::ensure!(self.session_idle_minutes > 0, "session_idle_minutes must be positive");
        anyhow::ensure!(self.session_absolute_hours > 0, "session_absolute_hours must be positive");
        anyhow::ensure!(self.view_as_minutes > 0, "view_as_minutes must be positive");
        anyhow::ensure!(
            self.public_url.starts_with("http://") || self.public_url.starts_with("https://"),
            "public_url must start with http:// or https://"
        );
        if let Some(origin) = self.cors_origins.iter().find(|origin| !crate::gateway::is_valid_origin(origin))
        {
            anyhow::bail!(
                "cors_origins: {origin:?} is not an origin; write it as a browser sends it, e.g. https://app.example.com (no path), or * for any"
            );
        }
        Ok(())
    }

    pub fn session_timeouts(&self) -> SessionTimeouts {
        SessionTimeouts {
            idle: Duration::minutes(self.session_idle_minutes),
            absolute: Duration::hours(self.session_absolute_hours),
        }
    }

    /// Whether users reach keystile over https: cookies are then Secure, and pages ask browsers
    /// to keep to https (HSTS).
    pub fn over_https(&self) -> bool {
        self.public_url.starts_with("https://")
    }
}

/// The URL without its password, fit for logs and error messages.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn environment_overrides_the_defaults() {
        let mut settings = Settings::default();
        let env = |name: &str| match name {
            "KEYSTILE_LISTEN" => Some("0.0.0.0:8080".to_owned()),
            "DATABASE_URL" => Some("postgres://postgres@127.0.0.1/keystile".to_owned()),
            "KEYSTILE_TRUSTED_PROXIES" => Some("10.0.0.1, ::1".to_owned()),
            "KEYSTILE_DEMO" => Some("false".to_owned()),
            "KEYSTILE_REDIS_LEASE_UNITS" => Some("0".to_owned()),
            "KEYSTILE_CORS_ORIGINS" => Some("https://app.example.com, http://127.0.0.1:5173".to_owned()),
            _ => None,
        };
        settings.apply_environment(env).unwrap();
        assert_eq!(settings.listen.port(), 8080);
        assert!(settings.database_url.starts_with("postgres://"));
        assert_eq!(settings.trusted_proxies.len(), 2);
        assert!(!settings.demo);
        assert_eq!(settings.redis_lease_units, 0);
        assert_eq!(settings.cors_origins, ["https://app.example.com", "http://127.0.0.1:5173"]);
        settings.validate().unwrap();
    }

    #[test]
    fn a_cors_origin_with_a_path_is_refused_by_name() {
        let settings =
            Settings { cors_origins: vec!["https://app.example.com/page".into()], ..Settings::default() };
        let error = settings.validate().unwrap_err().to_string();
        assert!(error.contains("cors_origins") && error.contains("app.example.com/page"), "{error}");
    }

    #[test]
    fn a_malformed_environment_value_is_refused_by_name() {
        let mut settings = Settings::default();
        let error = settings
            .apply_environment(|name| (name == "KEYSTILE_LISTEN").then(|| "nowhere".to_owned()))
            .unwrap_err();
        assert!(error.to_string().contains("KEYSTILE_LISTEN"), "{error}");
    }

    #[test]
    fn passwords_are_kept_out_of_logged_urls() {
        assert_eq!(redact_url("postgres://app:hunter2@db:5432/k"), "postgres://app:***@db:5432/k");
        assert_eq!(redact_url("sqlite://keystile.db"), "sqlite://keystile.db");
    }
}
