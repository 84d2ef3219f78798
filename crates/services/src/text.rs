//! Short text that people type and others read (names, descriptions): trimmed, of a bounded
//! length, and free of control characters and bidirectional overrides. A newline or NUL in a
//! name breaks the pages, CSV exports and logs that show it; an override (U+202E) makes a name
//! read as something else.

/// `text` trimmed, when it has `min..=max` characters, none of them forbidden.
pub fn display_text(text: &str, min: usize, max: usize) -> Option<&str> {
    let text = text.trim();
    let length = text.chars().count();
    ((min..=max).contains(&length) && !text.chars().any(is_forbidden)).then_some(text)
}

/// Whether `text` has a character no name may hold (emails are checked with this too).
pub fn has_forbidden_character(text: &str) -> bool {
    text.chars().any(is_forbidden)
}

fn is_forbidden(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_bounded_and_printable() {
        assert_eq!(display_text("  Acme Corp ", 1, 100), Some("Acme Corp"));
        assert_eq!(display_text("Zoë & Søn", 1, 9), Some("Zoë & Søn"), "length counts characters");
        assert_eq!(display_text("   ", 1, 100), None);
        assert_eq!(display_text("", 0, 100), Some(""));
        assert_eq!(display_text(&"a".repeat(101), 1, 100), None);
        for bad in ["a\nb", "a\0b", "a\tb", "a\u{7f}b", "evil\u{202E}gnp.exe", "a\u{2066}b"] {
            assert_eq!(display_text(bad, 1, 100), None, "{bad:?}");
        }
    }
}
