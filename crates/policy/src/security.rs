//! Security: the limits that protect accounts rather than capacity, all failing closed (when
//! the limiter store is down they refuse instead of falling back to a local bound).
//!
//! - Login throttling: login attempts counted per (account, IP) pair, per IP, and per account
//!   (a browser that logged in to the account before counts only in the first; see
//!   `services::logins`).
//!   "Account" is the login name tried (normalised by the caller), so an unknown name is
//!   throttled exactly like a real one and reveals nothing.
//! - Key management: the `[buckets]` entry (scope `user`, `fail_closed = true`) the dashboard's
//!   key create / rotate / revoke and the `/v1/keys/*` routes charge.

use limiter::{BucketSpec, Scope};
use serde::{Deserialize, Serialize};

use crate::Policy;
use crate::limits::Limit;
use crate::validation::{FieldPath, Violations};

/// The limiter name of failed logins per (account, IP) pair.
pub const LOGIN_ACCOUNT_IP: &str = "login_account_ip";
/// The limiter name of failed logins per IP.
pub const LOGIN_IP: &str = "login_ip";
/// The limiter name of failed logins per account.
pub const LOGIN_ACCOUNT: &str = "login_account";

/// The `[security]` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Security {
    /// The bucket charged for each key action (dashboard or `/v1/keys/*`); none when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_management: Option<String>,
    pub login: LoginThrottle,
}

/// The `[security.login]` section: three limits on failed logins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginThrottle {
    pub account_ip: Limit,
    pub ip: Limit,
    pub account: Limit,
}

/// The login buckets as the limiter takes them.
///
/// The pair bucket counts per [`Scope::Account`]; its subject is `"{account}@{ip}"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginSpecs {
    pub account_ip: BucketSpec,
    pub ip: BucketSpec,
    pub account: BucketSpec,
}

impl LoginThrottle {
    /// The three buckets to charge for a failed login (and to check before trying one).
    pub fn specs(&self) -> LoginSpecs {
        // None of them may be monthly (validation), so the anchor day is never read.
        LoginSpecs {
            account_ip: self.account_ip.spec(LOGIN_ACCOUNT_IP, Scope::Account, 1),
            ip: self.ip.spec(LOGIN_IP, Scope::Ip, 1),
            account: self.account.spec(LOGIN_ACCOUNT, Scope::Account, 1),
        }
    }
}

impl Policy {
    /// The key-management bucket the dashboard charges per key action.
    pub fn key_management_spec(&self) -> Option<BucketSpec> {
        let name = self.security.key_management.as_deref()?;
        self.bucket_spec(name, self.accounts.billing_anchor_day)
    }

    pub(crate) fn check_security(&self, out: &mut Violations) {
        let path = FieldPath::root().key("security");
        let login = &self.security.login;
        for (key, limit) in
            [("account_ip", &login.account_ip), ("ip", &login.ip), ("account", &login.account)]
        {
            let path = path.key("login").key(key);
            limit.check(&path, out);
            if limit.is_monthly() {
                out.push(path.key("window"), "a login limit cannot be monthly");
            }
        }
        let Some(name) = &self.security.key_management else {
            return;
        };
        let path = path.key("key_management");
        self.check_bucket_ref(name, path.clone(), out);
        if let Some(bucket) = self.buckets.get(name) {
            if bucket.scope != Scope::User {
                out.push(
                    path.clone(),
                    format!("the key-management bucket `{name}` must count per user (scope = \"user\")"),
                );
            }
            if !bucket.fail_closed {
                out.push(
                    path,
                    format!(
                        "the key-management bucket `{name}` is security-critical: set fail_closed = true"
                    ),
                );
            }
        }
    }
}
