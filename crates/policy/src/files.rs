//! Files: reading a policy from TOML text, a path or the shipped files, and writing it back.
//!
//! Loading is parse, then validate. A parse error (TOML syntax, a misspelt or missing key, a
//! wrong type, an unknown style) carries toml's span; validation errors carry a field path.
//! Both are turned into `file:line:column: field: message` through [`SourceMap`].

use std::path::Path;

use crate::Policy;
use crate::errors::{PolicyError, Violation};
use crate::locations::SourceMap;
use crate::validation::FieldPath;

/// The policy files built into the binary: the default and one per seed.
pub const SHIPPED: [(&str, &str); 4] = [
    ("default", include_str!("../policies/default.toml")),
    ("seed-000", include_str!("../policies/seed-000.toml")),
    ("seed-001", include_str!("../policies/seed-001.toml")),
    ("seed-002", include_str!("../policies/seed-002.toml")),
];

impl Policy {
    /// Parses and validates a policy; `file` names it in error messages.
    pub fn from_toml_str(text: &str, file: &str) -> Result<Policy, PolicyError> {
        let map = SourceMap::new(text);
        let policy: Policy = toml::from_str(text).map_err(|error| {
            let span = error.span();
            PolicyError::Parse {
                file: file.to_owned(),
                violation: Violation {
                    field: span.as_ref().map_or_else(FieldPath::root, |span| map.field_at(span)),
                    // toml's messages may span lines ("invalid table header\nexpected ..."); one line each.
                    message: error.message().trim_end().replace('\n', "; "),
                    location: span.map(|span| map.location(span.start)),
                },
            }
        })?;
        let mut violations = policy.violations();
        if violations.is_empty() {
            return Ok(policy);
        }
        for violation in &mut violations {
            violation.location = map.locate(&violation.field);
        }
        Err(PolicyError::Invalid { file: file.to_owned(), violations })
    }

    /// Reads, parses and validates the policy file at `path`.
    pub fn from_path(path: impl AsRef<Path>) -> Result<Policy, PolicyError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| PolicyError::Read { path: name.clone(), source })?;
        Policy::from_toml_str(&text, &name)
    }

    /// The text of the shipped policy `name` (`default`, `seed-000`, `seed-001`, `seed-002`).
    pub fn shipped_text(name: &str) -> Option<&'static str> {
        SHIPPED.iter().find(|(shipped, _)| *shipped == name).map(|(_, text)| *text)
    }

    /// The shipped policy `name`, parsed and validated.
    pub fn shipped(name: &str) -> Result<Policy, PolicyError> {
        let text = Policy::shipped_text(name).ok_or_else(|| PolicyError::UnknownShipped(name.to_owned()))?;
        Policy::from_toml_str(text, &format!("{name}.toml"))
    }

    /// The shipped default policy: the three seeds combined. Its tests make it always valid.
    pub fn default_policy() -> Result<Policy, PolicyError> {
        Policy::shipped("default")
    }

    /// The policy as TOML, e.g. to write back a catalogue an admin changed. The file's comments
    /// are not kept.
    pub fn to_toml_string(&self) -> Result<String, PolicyError> {
        Ok(toml::to_string(self)?)
    }
}
