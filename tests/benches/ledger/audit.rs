//! Section 6: an audit (verify, decrypt, rebuild) against the bare primitives.

use dlg_core::seal::{MasterKey, SecretKey};
use dlg_store::sqlite::SqliteStore;
use dlg_store::{EventStore, KeyStore as _};
use dlg_writer::keys::OsEntropy;
use dlg_writer::ledger::Ledger;
use std::time::Duration;

use crate::dialogues::*;
use crate::harness::*;
use crate::sealing::{primitives_open, primitives_verify};

pub(crate) async fn audit(mode: Mode) -> Section {
    let mut section = Section::new("6. Audit: verify + decrypt + rebuild vs the primitives");
    let rounds = if mode.quick { 3 } else { 30 };
    let memory = dialogue("bench-audit", rounds);
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ledger.db")).unwrap();
    let master = MasterKey::new(SecretKey::generate(&mut OsEntropy));
    let dialogue_id = memory.graph.dialogue.clone();
    // The in-memory ledger generated its data key: wrap that one under this master key.
    let wrapped = master.wrap_key(&dialogue_id, 1, &memory.key, &mut OsEntropy);
    store
        .put_wrapped_key(&dialogue_id, 1, &wrapped)
        .await
        .unwrap();
    for commit in &memory.commits {
        store
            .append(&dialogue_id, &row_of(commit), None)
            .await
            .unwrap();
    }
    let ledger = Ledger::new(store, Box::new(master), "bench key").with_signer(dlg_tests::signer());
    ledger.rebuild(&dialogue_id).await.unwrap();
    let total: usize = memory.commits.iter().map(|c| c.bytes.len()).sum();
    let events: usize = memory.commits.iter().map(|c| c.commit.events.len()).sum();
    let report = ledger
        .audit(&dialogue_id, &Default::default())
        .await
        .unwrap();
    assert!(report.is_clean(), "{report:?}");
    let ours = time_async(mode.warmup(2), mode.samples(10), |_| {
        let ledger = &ledger;
        let dialogue_id = &dialogue_id;
        async move {
            std::hint::black_box(
                ledger
                    .audit(dialogue_id, &Default::default())
                    .await
                    .unwrap(),
            );
        }
    })
    .await;
    let ciphertexts: Vec<(Vec<u8>, Vec<u8>)> = memory
        .commits
        .iter()
        .flat_map(|c| c.commit.events.iter().filter_map(|e| e.sealed.as_ref()))
        .map(|s| {
            (
                b"dialogue:d/event:1/entity:x/y".to_vec(),
                s.ciphertext.clone(),
            )
        })
        .collect();
    let bytes = memory.bytes();
    let key = *memory.key.expose();
    let signed: Vec<([u8; 32], [u8; 64])> = memory
        .commits
        .iter()
        .map(|c| (c.hash, c.signature.expect("the in-memory ledger signs")))
        .collect();
    let verifying =
        ed25519_dalek::VerifyingKey::from_bytes(dlg_tests::signer().public_key().as_bytes())
            .unwrap();
    let limit = time(mode.warmup(2), mode.samples(10), || {
        primitives_open(&ciphertexts, &bytes, &key);
        primitives_verify(&verifying, &signed);
    });
    let rate = |d: Duration| {
        format!(
            "{:.1} MB/s, {:.0} events/s",
            total as f64 / 1e6 / d.as_secs_f64(),
            events as f64 / d.as_secs_f64()
        )
    };
    section.row(
        &format!("audit {events} events, {:.2} MB", total as f64 / 1e6),
        rate(ours.median),
        rate(limit.median),
        ratio(ours.median, limit.median),
        "baseline: blake3 chain over the stored bytes, one strict Ed25519 verification per commit and one XChaCha20-Poly1305 open per sealed field; the audit also reads the store, decodes JSON, parses each opened field, rebuilds the graph and diffs it with the stored one",
    );

    // Without the master key: what an auditor who holds no content key verifies.
    let keyless =
        Ledger::without_content_keys(SqliteStore::open(&dir.path().join("ledger.db")).unwrap());
    let report = keyless
        .audit(&dialogue_id, &Default::default())
        .await
        .unwrap();
    assert!(report.is_clean() && !report.content_checked, "{report:?}");
    let ours = time_async(mode.warmup(2), mode.samples(10), |_| {
        let keyless = &keyless;
        let dialogue_id = &dialogue_id;
        async move {
            std::hint::black_box(
                keyless
                    .audit(dialogue_id, &Default::default())
                    .await
                    .unwrap(),
            );
        }
    })
    .await;
    let limit = time(mode.warmup(2), mode.samples(10), || {
        primitives_open(&[], &bytes, &key);
        primitives_verify(&verifying, &signed);
    });
    section.row(
        &format!("audit without the master key, {events} events, {:.2} MB", total as f64 / 1e6),
        rate(ours.median),
        rate(limit.median),
        ratio(ours.median, limit.median),
        "baseline: blake3 chain over the stored bytes and one strict Ed25519 verification per commit; the audit also reads the store, decodes JSON, rebuilds the graph from the clear structure and diffs it with the stored one (content reported as not checked)",
    );
    section
}
