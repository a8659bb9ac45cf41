//! Given a ledger of several commits, when its stored form is tampered with, then chain
//! verification fails at the right commit number.

use dlg_core::chain::{self, ChainProblem, Digest, StoredCommit};
use dlg_core::graph::ApplyError;
use dlg_core::testing::MemoryLedger;
use serde_json::json;

use crate::common::*;

/// A ledger of five commits: creation, round 0, round 1, status updates, a verdict.
fn five_commits() -> MemoryLedger {
    let mut ledger = given_round_zero();
    accepted(
        &mut ledger,
        round_one(
            json!({"perspectives": [{"id": "MUFFIN-P0101", "label": "batch writeback",
            "references": [{"type": "address", "target": "T0001"}]}]}),
        ),
    );
    accepted(
        &mut ledger,
        json!({"command": "update_statuses", "updates": [{"id": "T0001", "status": "resolved", "via": "P0101"}]}),
    );
    accepted(
        &mut ledger,
        json!({"command": "register_verdict", "verdict_id": "final", "type": "final", "recommendation": "ship"}),
    );
    assert_eq!(ledger.commits.len(), 5);
    ledger
}

/// Rows as a store returns them: (storage number, bytes, recorded hash).
fn rows(ledger: &MemoryLedger) -> Vec<(u64, Vec<u8>, [u8; 32])> {
    ledger
        .commits
        .iter()
        .map(|c| (c.commit.header.commit, c.bytes.clone(), c.hash))
        .collect()
}

fn stored(rows: &[(u64, Vec<u8>, [u8; 32])], with_hashes: bool) -> Vec<StoredCommit<'_>> {
    rows.iter()
        .map(|(n, bytes, hash)| StoredCommit {
            number: *n,
            bytes,
            recorded_hash: with_hashes.then_some(*hash),
        })
        .collect()
}

#[test]
fn an_untouched_ledger_verifies_to_its_head() {
    let ledger = five_commits();
    let rows = rows(&ledger);
    let head = chain::verify(&ledger.graph.dialogue, stored(&rows, true)).unwrap();
    assert_eq!(head.commit, 5);
    assert_eq!(head.hash, ledger.graph.head_hash());
    assert_eq!(head.next_seq, ledger.graph.checkpoint.next_seq);
}

#[test]
fn a_modified_byte_anywhere_in_a_commit_is_found_at_that_commit() {
    let ledger = five_commits();
    let original = rows(&ledger);
    let length = original[2].1.len();
    for position in 0..length {
        let mut rows = original.clone();
        rows[2].1[position] ^= 0x01;
        let error = chain::verify(&ledger.graph.dialogue, stored(&rows, true)).unwrap_err();
        assert_eq!(error.commit, 3, "flip at byte {position}");
        assert!(matches!(error.problem, ChainProblem::BrokenLink { .. }));
    }
}

#[test]
fn a_modified_byte_without_recorded_hashes_is_caught_by_a_digest() {
    let ledger = five_commits();
    let digest = Digest {
        dialogue: ledger.graph.dialogue.clone(),
        commit: 5,
        hash: ledger.graph.head_hash(),
    };
    let mut rows = rows(&ledger);
    // A byte inside a sealed field's base64: still decodes, so only the chain can tell.
    let text = String::from_utf8(rows[2].1.clone()).unwrap();
    let position = text.find("\"ct\":\"").unwrap() + 8;
    rows[2].1[position] = if rows[2].1[position] == b'A' {
        b'B'
    } else {
        b'A'
    };
    let error = chain::verify_against(&digest, stored(&rows, false)).unwrap_err();
    assert!(
        matches!(error.problem, ChainProblem::DigestMismatch { .. }),
        "{error:?}"
    );
}

#[test]
fn a_deleted_commit_is_reported_missing() {
    let ledger = five_commits();
    let mut rows = rows(&ledger);
    rows.remove(2);
    let error = chain::verify(&ledger.graph.dialogue, stored(&rows, true)).unwrap_err();
    assert_eq!(
        (error.commit, error.problem),
        (3, ChainProblem::MissingCommit)
    );
}

#[test]
fn two_swapped_commits_are_found_at_the_first() {
    let ledger = five_commits();
    let original = rows(&ledger);
    for with_hashes in [true, false] {
        let mut rows = original.clone();
        // The contents of storage slots 2 and 3 trade places (keys stay where they are).
        let (a, b) = (rows[1].clone(), rows[2].clone());
        rows[1] = (2, b.1, b.2);
        rows[2] = (3, a.1, a.2);
        let error = chain::verify(&ledger.graph.dialogue, stored(&rows, with_hashes)).unwrap_err();
        assert_eq!(error.commit, 2, "with recorded hashes: {with_hashes}");
    }
}

#[test]
fn a_truncated_tail_is_found_against_a_digest() {
    let ledger = five_commits();
    let digest: Digest = format!(
        "{}@5:{}",
        ledger.graph.dialogue,
        chain::to_hex(&ledger.graph.head_hash())
    )
    .parse()
    .unwrap();
    let mut rows = rows(&ledger);
    assert!(chain::verify_against(&digest, stored(&rows, true)).is_ok());
    rows.truncate(3);
    // Without a digest the shorter chain is internally consistent...
    assert_eq!(
        chain::verify(&ledger.graph.dialogue, stored(&rows, true))
            .unwrap()
            .commit,
        3
    );
    // ...the digest shows that commits 4 and 5 are gone.
    let error = chain::verify_against(&digest, stored(&rows, true)).unwrap_err();
    assert_eq!(
        (error.commit, error.problem),
        (5, ChainProblem::Truncated { head: 3 })
    );
}

#[test]
fn a_digest_taken_earlier_still_verifies_after_more_commits() {
    let ledger = five_commits();
    let digest = Digest {
        dialogue: ledger.graph.dialogue.clone(),
        commit: 2,
        hash: ledger.commits[1].hash,
    };
    let rows = rows(&ledger);
    assert_eq!(
        chain::verify_against(&digest, stored(&rows, true))
            .unwrap()
            .commit,
        5
    );
    assert_eq!(digest.to_string().parse::<Digest>().unwrap(), digest);
}

#[test]
fn a_commit_replayed_from_another_dialogue_is_refused() {
    let ledger = five_commits();
    let mut rows = rows(&ledger);
    let foreign = rows[0].1.clone();
    let renamed = String::from_utf8(foreign)
        .unwrap()
        .replace("pm-repo-sync", "another");
    rows[0].1 = renamed.into_bytes();
    let error = chain::verify(&ledger.graph.dialogue, stored(&rows, false)).unwrap_err();
    assert_eq!(error.commit, 1);
    assert!(matches!(error.problem, ChainProblem::WrongDialogue { .. }));
}

/// Regression: the numbers in a commit's header are the attacker's choice; extreme ones are a
/// malformed commit, never an arithmetic overflow (found by reading the decoder while writing
/// its fuzz target).
#[test]
fn extreme_header_numbers_are_refused_not_overflowed() {
    let ledger = given_round_zero();
    let mut graph = dlg_core::graph::Graph::rebuild(
        ledger.graph.dialogue.clone(),
        ledger.bytes().into_iter().take(1),
    )
    .unwrap();
    let mut commit = ledger.commits[1].commit.clone();
    let events = commit.events.len() as u64;
    for first_seq in [u64::MAX, u64::MAX - events + 1] {
        commit.header.first_seq = first_seq;
        for (i, event) in commit.events.iter_mut().enumerate() {
            event.seq = first_seq.wrapping_add(i as u64);
        }
        let bytes = commit.encode();
        let _ = dlg_core::commit::Commit::decode(&bytes);
        assert!(
            matches!(graph.apply(&bytes), Err(ApplyError::Decode(_))),
            "first_seq {first_seq} is refused as malformed"
        );
    }
    commit.header.first_seq = 1;
    commit.header.commit = u64::MAX;
    assert!(matches!(
        graph.apply(&commit.encode()),
        Err(ApplyError::Decode(_) | ApplyError::Inconsistent { .. })
    ));
}
