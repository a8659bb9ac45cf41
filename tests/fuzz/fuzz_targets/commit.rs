//! Stored commit bytes: decoding accepts only the canonical form, and folding any bytes onto a
//! dialogue's graph either applies them or says why not — never a panic.
#![no_main]

use std::sync::LazyLock;

use dlg_core::commit::Commit;
use dlg_core::graph::{ApplyOutcome, Graph};
use dlg_core::testing::random::given_panel;
use libfuzzer_sys::fuzz_target;

/// The panel dialogue after its first commit; the seeds' second commits chain onto it.
static BASE: LazyLock<Graph> = LazyLock::new(|| given_panel("fuzz", 7).graph);

fuzz_target!(|data: &[u8]| {
    if let Ok(commit) = Commit::decode(data) {
        assert_eq!(commit.encode(), data, "decode accepted non-canonical bytes");
        let _ = commit.next_seq();
        let _ = commit.id_mapping();
        for event in &commit.events {
            let _ = commit.address_of(event);
        }
    }
    let mut graph = BASE.clone();
    let before = graph.checkpoint.clone();
    match graph.apply(data) {
        Ok(ApplyOutcome::Applied(_)) => assert!(graph.checkpoint.commit == before.commit + 1),
        Ok(_) | Err(_) => {}
    }
});
