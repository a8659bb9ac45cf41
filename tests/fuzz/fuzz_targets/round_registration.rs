//! Command scripts as agent tooling sends them (a JSON array of commands, the first usually
//! creating the dialogue): every command the validator accepts must seal into a commit that the
//! fold applies, and rejections are errors, never panics.
#![no_main]

use dlg_core::append::{AppendContext, prepare};
use dlg_core::command::Command;
use dlg_core::graph::{ApplyOutcome, Graph};
use dlg_core::ids::DialogueId;
use dlg_core::seal::SecretKey;
use dlg_core::testing::TestEntropy;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(commands) = serde_json::from_slice::<Vec<Command>>(data) else {
        return;
    };
    let Ok(dialogue) = DialogueId::parse("fuzz") else {
        unreachable!("`fuzz` is a valid dialogue id")
    };
    let mut graph = Graph::new(dialogue);
    let mut entropy = TestEntropy::new(1);
    let key = SecretKey::generate(&mut entropy);
    for (i, command) in commands.iter().enumerate() {
        let time = format!("2026-03-12T20:00:{:02}Z", i % 60);
        let context = AppendContext {
            actor: "fuzz",
            time: &time,
            idempotency_key: None,
            key: &key,
            key_version: 1,
            signer: dlg_core::sign::Signer::public_key(&dlg_core::testing::test_signer()),
        };
        let Ok(encoded) = prepare(&graph, command, &context, &mut entropy) else {
            continue;
        };
        match graph.apply(&encoded.bytes) {
            Ok(ApplyOutcome::Applied(_)) => {}
            other => panic!("an accepted command must fold: {other:?} for {command:?}"),
        }
    }
});
