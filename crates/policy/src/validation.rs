//! Validation: the checks a policy must pass before keystile starts or an edit is saved.
//!
//! Parsing already refuses what the types cannot hold (a misspelt key, a negative limit, an
//! unknown header style). Validation checks the rest: references between sections, zero
//! limits, duplicate ids, pricing tiers that overlap or leave gaps. Every problem is collected
//! (not just the first) as a [`Violation`] naming the field by its path in the file, such as
//! `plans[1].monthly_quota`; when the policy came from a file, the loader adds line:column.

use std::collections::BTreeSet;
use std::fmt;

use crate::Policy;
use crate::errors::Violation;

/// One step of a field path: a table key or an array index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathPart {
    Key(String),
    Index(usize),
}

/// Where a field lives in the file, written like `buckets.reads.limit` or `plans[1].id`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct FieldPath(Vec<PathPart>);

impl FieldPath {
    /// The whole file.
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    pub fn key(&self, key: &str) -> Self {
        let mut parts = self.0.clone();
        parts.push(PathPart::Key(key.to_owned()));
        FieldPath(parts)
    }

    pub fn index(&self, index: usize) -> Self {
        let mut parts = self.0.clone();
        parts.push(PathPart::Index(index));
        FieldPath(parts)
    }

    pub fn parts(&self) -> &[PathPart] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn from_parts(parts: Vec<PathPart>) -> Self {
        FieldPath(parts)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, part) in self.0.iter().enumerate() {
            match part {
                PathPart::Index(index) => write!(f, "[{index}]")?,
                PathPart::Key(key) => {
                    if n > 0 {
                        f.write_str(".")?;
                    }
                    let bare = !key.is_empty()
                        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
                    if bare {
                        f.write_str(key)?;
                    } else {
                        write!(f, "{key:?}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// The problems found so far.
#[derive(Debug, Default)]
pub(crate) struct Violations(Vec<Violation>);

impl Violations {
    pub(crate) fn push(&mut self, field: FieldPath, message: impl Into<String>) {
        self.0.push(Violation { field, message: message.into(), location: None });
    }

    pub(crate) fn into_vec(self) -> Vec<Violation> {
        self.0
    }

    /// `Ok` when nothing was found, else every problem as [`crate::PolicyError::Invalid`].
    pub(crate) fn into_result(self, file: &str) -> Result<(), crate::PolicyError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(crate::PolicyError::Invalid { file: file.to_owned(), violations: self.0 })
        }
    }
}

/// Reports each value of `ids` seen before, at `path(index)`.
pub(crate) fn check_unique<'a>(
    ids: impl IntoIterator<Item = &'a str>,
    what: &str,
    path: impl Fn(usize) -> FieldPath,
    out: &mut Violations,
) {
    let mut seen = BTreeSet::new();
    for (index, id) in ids.into_iter().enumerate() {
        if !seen.insert(id) {
            out.push(path(index), format!("duplicate {what} `{id}`"));
        }
    }
}

impl Policy {
    /// Every problem with this policy, in file order per section; empty when it is valid.
    /// Locations are not known here (see [`Policy::from_toml_str`] for errors with lines).
    pub fn violations(&self) -> Vec<Violation> {
        self.collect_violations().into_vec()
    }

    fn collect_violations(&self) -> Violations {
        let mut out = Violations::default();
        self.check_accounts(&mut out);
        self.check_buckets(&mut out);
        self.check_plans(&mut out);
        self.check_daily_cap(&mut out);
        self.check_public(&mut out);
        self.check_routes(&mut out);
        self.check_pricing(&mut out);
        self.check_responses(&mut out);
        self.check_security(&mut out);
        out
    }

    /// Checks a policy built or edited in Rust (an admin's catalogue change) before it is used
    /// or written back. The error lists every problem by field path.
    pub fn validate(&self) -> Result<(), crate::PolicyError> {
        self.collect_violations().into_result("policy")
    }

    /// Reports a reference to a bucket that the `[buckets]` table does not define.
    pub(crate) fn check_bucket_ref(&self, name: &str, path: FieldPath, out: &mut Violations) {
        if !self.buckets.contains_key(name) {
            out.push(path, format!("unknown bucket `{name}` (not in [buckets])"));
        }
    }

    fn check_accounts(&self, out: &mut Violations) {
        let path = FieldPath::root().key("accounts");
        if !(1..=31).contains(&self.accounts.billing_anchor_day) {
            out.push(
                path.key("billing_anchor_day"),
                format!(
                    "a billing anchor day must be between 1 and 31, not {}",
                    self.accounts.billing_anchor_day
                ),
            );
        }
        if self.plan(&self.accounts.default_plan).is_none() {
            out.push(
                path.key("default_plan"),
                format!("the default plan `{}` is not one of [[plans]]", self.accounts.default_plan),
            );
        }
    }

    fn check_buckets(&self, out: &mut Violations) {
        for (name, bucket) in &self.buckets {
            let path = FieldPath::root().key("buckets").key(name);
            if crate::charges::RESERVED_NAMES.contains(&name.as_str()) {
                out.push(
                    path.clone(),
                    format!("`{name}` is the name of a plan's own bucket; choose another"),
                );
            }
            bucket.limit.check(&path, out);
        }
    }
}
