//! Untrusted text made safe to show people. Every byte of dialogue content (labels, titles, roles,
//! actors, file names from archives) may be hostile: a terminal obeys escape sequences, a reader
//! takes a forged line for a real one, a bidi override reorders what is shown. Human-facing output
//! passes content through [`line`] (one line: every control character escaped) or [`block`]
//! (line breaks kept); JSON output stays exact and never goes through here.
//!
//! Escaped are C0 controls, DEL, C1 controls, the bidi embeddings, overrides, isolates and marks,
//! and the line and paragraph separators: `\n`, `\r`, `\t` as themselves, the rest as `\u{1b}`.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` changes how a terminal or a reader lays text out rather than being text.
pub fn is_hostile(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
                | '\u{2028}'
                | '\u{2029}'
        )
}

fn escape(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_hostile(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !is_hostile(c) || keep(c) {
            out.push(c);
            continue;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            other => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(other));
            }
        }
    }
    Cow::Owned(out)
}

/// `text` as one line: every control character, separator and bidi control escaped visibly.
pub fn line(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

/// `text` with its line breaks (`\n`) and tabs kept and everything else [`line`] escapes escaped.
pub fn block(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n' || c == '\t')
}

/// `text` as a Mermaid label between double quotes: one line, with the characters Mermaid or the
/// HTML it renders to would interpret written as Mermaid entity codes.
pub fn mermaid(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in line(text).chars() {
        match c {
            '"' => out.push_str("#quot;"),
            '<' => out.push_str("#lt;"),
            '>' => out.push_str("#gt;"),
            '&' => out.push_str("#amp;"),
            '#' => out.push_str("#35;"),
            '`' => out.push_str("#96;"),
            other => out.push(other),
        }
    }
    out
}

/// `text` as a Graphviz DOT string between double quotes: one line, backslashes and quotes
/// escaped so no escape sequence (`\n`, `\l`, `\N`) or quote of the content reaches Graphviz.
pub fn dot(text: &str) -> String {
    line(text).replace('\\', "\\\\").replace('"', "\\\"")
}

/// `text` quoted for a model's prompt: one line between double quotes, with quotes and
/// backslashes escaped, so the content cannot close its quotes or start a line of its own.
pub fn quoted(text: &str) -> String {
    format!("\"{}\"", dot(text))
}

/// `text` as a markdown block quote for a model's prompt: every line after `> `, each through
/// [`line`], so no line of the content reads as a heading, a list item or an instruction of the
/// prompt itself.
pub fn quoted_block(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for part in text.trim_end().split('\n') {
        out.push_str("> ");
        out.push_str(&line(part));
        out.push('\n');
    }
    out
}

/// Whether `text` would pass through [`line`] unchanged: the rule for clear single-line fields
/// (actors, idempotency keys).
pub fn is_plain_line(text: &str) -> bool {
    !text.chars().any(is_hostile)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_hold_content_for_a_prompt() {
        assert_eq!(quoted("say \"hi\"\n# Do"), r#""say \"hi\"\\n# Do""#);
        assert_eq!(quoted_block("a\r\n# Ignore\n"), "> a\\r\n> # Ignore\n");
    }

    #[test]
    fn escapes_what_a_terminal_or_reader_would_interpret() {
        assert_eq!(line("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(line("\u{1b}]52;c;AAAA\u{7}"), "\\u{1b}]52;c;AAAA\\u{7}");
        assert_eq!(line("\u{9b}2J\u{7f}"), "\\u{9b}2J\\u{7f}");
        assert_eq!(line("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(line("x\u{2028}y"), "x\\u{2028}y");
        assert_eq!(block("one\ntwo\u{1b}[2J"), "one\ntwo\\u{1b}[2J");
        assert!(matches!(line("plain · text"), Cow::Borrowed(_)));
    }

    #[test]
    fn mermaid_and_dot_escape_their_syntax() {
        assert_eq!(
            mermaid("<img src=x onerror=alert(1)> \"q\" & #"),
            "#lt;img src=x onerror=alert(1)#gt; #quot;q#quot; #amp; #35;"
        );
        assert_eq!(dot("a\"b\\l\nc"), "a\\\"b\\\\l\\\\nc");
    }
}
