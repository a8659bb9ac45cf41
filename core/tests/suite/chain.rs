//! Given a ledger of several commits, when its stored form is tampered with, then chain
//! verification fails at the right commit number.

use dlg_core::chain::{self, ChainProblem, Digest, StoredCommit};
use dlg_core::commit::{Commit, UNSIGNED_FORMAT};
use dlg_core::graph::ApplyError;
use dlg_core::ids::DialogueId;
use dlg_core::sign::{LocalSigner, Signature, Signer as _, Trust, commit_message};
use dlg_core::testing::{MemoryLedger, test_signer};
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
        json!({"command": "register_verdict", "verdict_id": "V01", "type": "interim", "recommendation": "ship"}),
    );
    assert_eq!(ledger.commits.len(), 5);
    ledger
}

/// A row as a store returns it: storage number, bytes, recorded hash, signature.
type Row = (u64, Vec<u8>, [u8; 32], Option<Signature>);

fn rows(ledger: &MemoryLedger) -> Vec<Row> {
    ledger
        .commits
        .iter()
        .map(|c| (c.commit.header.commit, c.bytes.clone(), c.hash, c.signature))
        .collect()
}

fn stored(rows: &[Row], with_hashes: bool) -> Vec<StoredCommit<'_>> {
    rows.iter()
        .map(|(n, bytes, hash, signature)| StoredCommit {
            number: *n,
            bytes,
            recorded_hash: with_hashes.then_some(*hash),
            signature: signature.as_ref(),
        })
        .collect()
}

/// Recomputes every recorded hash from genesis, as an attacker who rewrote bytes would.
fn rechain(dialogue: &DialogueId, rows: &mut [Row]) {
    let mut previous = chain::genesis(dialogue);
    for row in rows {
        previous = chain::link(&previous, &row.1);
        row.2 = previous;
    }
}

fn pinned() -> Trust {
    Trust::Pinned(vec![test_signer().public_key()])
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
fn a_modified_byte_without_recorded_hashes_fails_its_signature() {
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
    // The signature covers the hash of the bytes: no recorded hash or digest is needed.
    let error = chain::verify_against(&digest, stored(&rows, false), &Trust::Unpinned).unwrap_err();
    assert_eq!(error.commit, 3);
    assert!(
        matches!(error.problem, ChainProblem::BadSignature { .. }),
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
        rows[1] = (2, b.1, b.2, b.3);
        rows[2] = (3, a.1, a.2, a.3);
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
    assert!(chain::verify_against(&digest, stored(&rows, true), &pinned()).is_ok());
    rows.truncate(3);
    // Without a digest the shorter chain is internally consistent...
    assert_eq!(
        chain::verify(&ledger.graph.dialogue, stored(&rows, true))
            .unwrap()
            .commit,
        3
    );
    // ...the digest shows that commits 4 and 5 are gone.
    let error = chain::verify_against(&digest, stored(&rows, true), &pinned()).unwrap_err();
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
        chain::verify_against(&digest, stored(&rows, true), &pinned())
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

/// The keyless forger: a commit with no sealed content (a tension resolved), correctly linked,
/// but without the writer's signature, or signed by the forger's own key.
#[test]
fn a_forged_commit_is_found_without_any_key() {
    let mut ledger = five_commits();
    let dialogue = ledger.graph.dialogue.clone();
    let honest = rows(&ledger);
    // The forgery is built through the real path, then its signature replaced.
    accepted(
        &mut ledger,
        json!({"command": "change_dialogue_status", "status": "converged"}),
    );
    let forged = ledger.commits.last().unwrap().clone();
    let mut rows = honest.clone();
    rows.push((6, forged.bytes.clone(), forged.hash, None));
    let error = chain::verify(&dialogue, stored(&rows, true)).unwrap_err();
    assert_eq!(error.commit, 6);
    assert!(
        matches!(error.problem, ChainProblem::MissingSignature { .. }),
        "{error:?}"
    );

    // A signature by another key over the same hash does not verify under the named signer.
    let forger = LocalSigner::from_seed(&[0x66; 32], "forger");
    rows[5].3 = Some(forger.sign_now(&commit_message(&forged.hash)));
    let error = chain::verify(&dialogue, stored(&rows, true)).unwrap_err();
    assert!(
        matches!(error.problem, ChainProblem::BadSignature { .. }),
        "{error:?}"
    );

    // Naming the forger's key in the header and signing with it verifies only unpinned, and the
    // head names both keys; pinned to the writer's key it is refused at that commit.
    let mut commit = Commit::decode(&forged.bytes).unwrap();
    commit.header.signer = Some(forger.public_key());
    let bytes = commit.encode();
    let hash = chain::link(&honest[4].2, &bytes);
    rows[5] = (
        6,
        bytes,
        hash,
        Some(forger.sign_now(&commit_message(&hash))),
    );
    let head = chain::verify(&dialogue, stored(&rows, true)).unwrap();
    assert_eq!(
        head.signers,
        vec![test_signer().public_key(), forger.public_key()]
    );
    let error = chain::verify_trusted(&dialogue, stored(&rows, true), &pinned()).unwrap_err();
    assert_eq!(error.commit, 6);
    assert!(
        matches!(error.problem, ChainProblem::UntrustedSigner { .. }),
        "{error:?}"
    );
}

/// Rewriting clear structure (an actor, a body) and re-chaining every hash from genesis leaves
/// the old signatures behind: the first rewritten commit fails.
#[test]
fn rewritten_structure_rechained_from_genesis_fails_its_signature() {
    let ledger = five_commits();
    let dialogue = ledger.graph.dialogue.clone();
    for (index, from, to) in [
        (1usize, "test-judge", "mallory"),
        (3, "\"resolved\"", "\"addressed\""),
    ] {
        let mut rows = rows(&ledger);
        let text = String::from_utf8(rows[index].1.clone()).unwrap();
        assert!(text.contains(from), "commit {} holds {from}", index + 1);
        rows[index].1 = text.replacen(from, to, 1).into_bytes();
        rechain(&dialogue, &mut rows);
        let error = chain::verify(&dialogue, stored(&rows, true)).unwrap_err();
        assert_eq!(error.commit, index as u64 + 1, "{from} -> {to}");
        assert!(
            matches!(error.problem, ChainProblem::BadSignature { .. }),
            "{error:?}"
        );
    }
}

/// Rewriting a signed commit as unsigned format 1 (signer removed, signature dropped) after
/// signed ones is a downgrade; a format 1 commit with a signature beside it is malformed.
#[test]
fn a_downgrade_to_format_one_is_refused() {
    let ledger = five_commits();
    let dialogue = ledger.graph.dialogue.clone();
    let mut rows = rows(&ledger);
    let mut commit = Commit::decode(&rows[4].1).unwrap();
    commit.header.format = UNSIGNED_FORMAT;
    commit.header.signer = None;
    rows[4].1 = commit.encode();
    rows[4].3 = None;
    rechain(&dialogue, &mut rows);
    let error = chain::verify(&dialogue, stored(&rows, true)).unwrap_err();
    assert_eq!((error.commit, error.problem), (5, ChainProblem::Downgrade));
    rows[4].3 = Some([0; 64]);
    let error = chain::verify(&dialogue, stored(&rows, true)).unwrap_err();
    assert_eq!(
        (error.commit, error.problem),
        (5, ChainProblem::UnexpectedSignature)
    );
}
