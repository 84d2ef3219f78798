//! Locations: from a field path to a line and column in the policy file, and back.
//!
//! The policy types are plain data (an admin builds them in Rust too), so they carry no spans.
//! Instead the loader parses the same text once more with `toml_edit`, whose document keeps
//! the byte span of every key and value, and walks it along a violation's field path. A path
//! that leads past what the file wrote (a default left out) stops at the nearest table that
//! is there. Going the other way, a parse error's span gives the field it happened in.

use std::ops::Range;

use toml_edit::{ImDocument, Item};

use crate::errors::Location;
use crate::validation::{FieldPath, PathPart};

/// The policy text and its spans.
pub(crate) struct SourceMap<'t> {
    text: &'t str,
    document: Option<ImDocument<&'t str>>,
}

impl<'t> SourceMap<'t> {
    pub(crate) fn new(text: &'t str) -> Self {
        SourceMap { text, document: ImDocument::parse(text).ok() }
    }

    /// The line and column of a byte offset.
    pub(crate) fn location(&self, offset: usize) -> Location {
        let before = self.text.get(..offset).unwrap_or(self.text);
        let line_start = before.rfind('\n').map_or(0, |n| n + 1);
        Location { line: before.matches('\n').count() + 1, column: before[line_start..].chars().count() + 1 }
    }

    /// Where the field at `path` is written, or the nearest enclosing table that is.
    pub(crate) fn locate(&self, path: &FieldPath) -> Option<Location> {
        let document = self.document.as_ref()?;
        let mut item = document.as_item();
        let mut best = None;
        for part in path.parts() {
            let (key_span, next) = match part {
                PathPart::Key(key) => match item.as_table_like().and_then(|t| t.get_key_value(key)) {
                    Some((key, next)) => (key.span(), next),
                    None => break,
                },
                PathPart::Index(index) => match item.get(*index) {
                    Some(next) => (None, next),
                    None => break,
                },
            };
            best = next.span().or(key_span).or(best);
            item = next;
        }
        best.map(|span| self.location(span.start))
    }

    /// The deepest field whose key or value contains `span` (where a parse error happened).
    pub(crate) fn field_at(&self, span: &Range<usize>) -> FieldPath {
        let mut parts = Vec::new();
        if let Some(document) = &self.document {
            descend(document.as_item(), span, &mut parts);
        }
        FieldPath::from_parts(parts)
    }
}

fn contains(outer: Option<Range<usize>>, inner: &Range<usize>) -> bool {
    outer.is_some_and(|outer| outer.start <= inner.start && inner.end <= outer.end)
}

/// Pushes onto `parts` the path of the deepest item under `item` that contains `span`;
/// returns whether one did.
fn descend(item: &Item, span: &Range<usize>, parts: &mut Vec<PathPart>) -> bool {
    if let Some(table) = item.as_table_like() {
        for (key, child) in table.iter() {
            let key_span = table.get_key_value(key).and_then(|(k, _)| k.span());
            parts.push(PathPart::Key(key.to_owned()));
            if descend(child, span, parts) || contains(key_span, span) {
                return true;
            }
            parts.pop();
        }
    } else {
        let mut index = 0;
        while let Some(child) = item.get(index) {
            parts.push(PathPart::Index(index));
            if descend(child, span, parts) {
                return true;
            }
            parts.pop();
            index += 1;
        }
    }
    contains(item.span(), span)
}
