//! Errors: why a policy was refused, each problem with its field and, from a file, its line.

use std::fmt;

use crate::validation::FieldPath;

/// A 1-based line and column (in characters) in the policy file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Location {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// One problem: the field, what is wrong, and where in the file (when read from one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Empty for a problem with the file as a whole (a TOML syntax error).
    pub field: FieldPath,
    pub message: String,
    pub location: Option<Location>,
}

impl Violation {
    /// Renders the problem as `file:line:column: field: message`.
    pub fn render(&self, file: &str) -> String {
        let mut text = file.to_owned();
        if let Some(location) = self.location {
            text.push_str(&format!(":{location}"));
        }
        text.push_str(": ");
        if !self.field.is_root() {
            text.push_str(&format!("{}: ", self.field));
        }
        text.push_str(&self.message);
        text
    }
}

/// Why a policy could not be loaded, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{path}: cannot read the policy file: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    /// The text is not TOML, or does not have the policy's shape (a misspelt or missing key, a
    /// wrong type, an unknown style name).
    #[error("{}", violation.render(file))]
    Parse { file: String, violation: Violation },
    /// The policy parsed but is inconsistent; every problem found is listed.
    #[error("{}", render_all(file, violations))]
    Invalid { file: String, violations: Vec<Violation> },
    #[error("no shipped policy is named `{0}` (there are: default, seed-000, seed-001, seed-002)")]
    UnknownShipped(String),
    #[error("cannot write the policy as TOML: {0}")]
    Write(#[from] toml::ser::Error),
}

impl PolicyError {
    /// The individual problems, for showing them next to the fields of an admin form.
    pub fn violations(&self) -> &[Violation] {
        match self {
            PolicyError::Parse { violation, .. } => std::slice::from_ref(violation),
            PolicyError::Invalid { violations, .. } => violations,
            _ => &[],
        }
    }
}

fn render_all(file: &str, violations: &[Violation]) -> String {
    let lines: Vec<String> = violations.iter().map(|v| v.render(file)).collect();
    lines.join("\n")
}
