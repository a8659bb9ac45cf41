//! The importer's parsers of archive markdown (responses with their markers, tensions tables,
//! scoreboards, headings): any text yields a result, never a panic.
#![no_main]

use dlg_core::archive;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let response = archive::parse_response(&text);
    for block in &response.blocks {
        let _ = archive::heading_subject(&block.body);
    }
    let _ = archive::parse_tensions(&text);
    let _ = archive::parse_scoreboard(&text);
    let _ = archive::round_number(&text);
    let _ = archive::heading_subject(&text);
});
