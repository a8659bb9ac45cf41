//! The archive parsers are total: any text, however broken, parses without panicking, and every
//! marker block it finds comes from a line that starts with `[`.

use dlg_core::archive::{heading_subject, parse_response, parse_scoreboard, parse_tensions};
use proptest::prelude::*;

/// Text that looks like a response file: markers (well-formed and broken), prose, separators,
/// tables, unicode.
fn responseish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("[PERSPECTIVE P01: a label]\n".to_owned()),
        Just("[TENSION T1: x]\n".to_owned()),
        Just("[RESOLVED on T02 — done]\n".to_owned()),
        Just("[REFINEMENT: ]\n".to_owned()),
        Just("[CONCESSION T01\n".to_owned()),
        Just("[MUFFIN-X0101: bad type]\n".to_owned()),
        Just("[RE:SUPPORT]\n".to_owned()),
        Just("[MOVE:DEFEND P0003 ]]\n".to_owned()),
        Just("[ACKNOWLEDGED T9: é]\n".to_owned()),
        Just("---\n".to_owned()),
        Just("| ID | Tension | Status |\n|--|--|--|\n| T01 | x | **Resolved** |\n".to_owned()),
        Just("# Title — Subject (FINAL)\n".to_owned()),
        "[^\\n]{0,40}\n",
        any::<String>(),
    ];
    prop::collection::vec(piece, 0..30).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics_the_parsers(text in responseish()) {
        let response = parse_response(&text);
        let lines: Vec<&str> = text.lines().collect();
        for block in &response.blocks {
            prop_assert!(lines[block.line - 1].trim_start().starts_with('['));
        }
        for warning in &response.warnings {
            prop_assert!(warning.line >= 1 && warning.line <= lines.len());
        }
        let _ = parse_tensions(&text);
        let _ = parse_scoreboard(&text);
        let _ = heading_subject(&text);
    }

    #[test]
    fn arbitrary_bytes_as_text_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let text = String::from_utf8_lossy(&bytes);
        let _ = parse_response(&text);
        let _ = parse_tensions(&text);
        let _ = parse_scoreboard(&text);
    }
}
