//! Format 2 against an attacker with write access to the SQLite file and none of the writer's
//! secrets: a forged commit, a rewritten and re-chained history, a rolled-back or truncated
//! store, a deleted dialogue. Each is reported by `dlg audit` at the right commit with the right
//! kind, with and without the master key, and the writer refuses to append onto it. Checkpoints
//! written by `dlg checkpoint` verify with the `signed_note` crate's verifier.

use dlg_core::chain;
use dlg_core::commit::Commit;
use dlg_tests::Sandbox;
use rusqlite::{Connection, params};
use serde_json::{Value, json};

/// Another machine's data directory holding a copy of the ledger file (the WAL folded in first)
/// and nothing else: no master key, no signing key, no high-water marks.
fn copy_of(sandbox: &Sandbox) -> Sandbox {
    let db = Connection::open(sandbox.database()).unwrap();
    db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    drop(db);
    let auditor = Sandbox::new();
    std::fs::copy(sandbox.database(), auditor.database()).unwrap();
    auditor
}

use crate::requests::*;

const PK: &str = "D#pm-repo-sync";

fn db(sandbox: &Sandbox) -> Connection {
    Connection::open(sandbox.database()).unwrap()
}

/// Every commit row: (number, bytes, hash).
fn rows(db: &Connection) -> Vec<(u64, Vec<u8>, Vec<u8>)> {
    let mut statement = db
        .prepare("SELECT sk, commit_bytes, hash FROM events WHERE pk = ?1 ORDER BY sk")
        .unwrap();
    statement
        .query_map(params![PK], |row| {
            let sk: String = row.get(0)?;
            Ok((sk[2..].parse().unwrap(), row.get(1)?, row.get(2)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// `dlg --json audit ARGS`, expecting `code`; the problems of the first report as (commit, kind).
fn audit(sandbox: &Sandbox, args: &[&str], code: i32) -> (Vec<(u64, String)>, Value) {
    let assert = sandbox
        .dlg()
        .args(["--json", "audit"])
        .args(args)
        .assert()
        .code(code);
    let reports: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    let problems = reports[0]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["commit"].as_u64().unwrap(),
                p["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    (problems, reports)
}

/// An append the writer must refuse, with the JSON error kind it names.
fn refused_append(sandbox: &Sandbox) -> String {
    let assert = sandbox
        .dlg()
        .args(["--json", "dialogue-status", DIALOGUE, "converging"])
        .assert()
        .failure();
    let error: Value = serde_json::from_slice(&assert.get_output().stderr).unwrap();
    error["error"]["kind"].as_str().unwrap().to_owned()
}

/// The keyless forger: a `DialogueStatusChanged` to converged (no sealed content), numbered and
/// linked correctly, with no signature.
#[test]
fn a_keyless_forged_commit_is_found_with_and_without_the_master_key() {
    let sandbox = recorded();
    let db = db(&sandbox);
    let rows = rows(&db);
    let (head, last_bytes, last_hash) = rows.last().unwrap().clone();
    let last = Commit::decode(&last_bytes).unwrap();
    // Written in canonical member order, as the format requires.
    let bytes = format!(
        concat!(
            r#"{{"header":{{"format":2,"dialogue":"{d}","commit":{n},"first_seq":{seq},"#,
            r#""actor":"e2e-test","time":"2026-03-12T21:00:00Z","idempotency_key":null,"#,
            r#""request":null,"key_version":1,"signer":"{signer}"}},"#,
            r#""events":[{{"seq":{seq},"v":1,"type":"DialogueStatusChanged","#,
            r#""body":{{"from":"open","to":"converged"}}}}]}}"#
        ),
        d = DIALOGUE,
        n = head + 1,
        seq = last.next_seq(),
        signer = last.header.signer.unwrap()
    )
    .into_bytes();
    // The forgery is a well-formed, canonical commit: only its missing signature betrays it.
    assert_eq!(Commit::decode(&bytes).unwrap().encode(), bytes);
    let hash = chain::link(&last_hash.try_into().unwrap(), &bytes);
    db.execute(
        "INSERT INTO events (pk, sk, commit_bytes, hash) VALUES (?1, ?2, ?3, ?4)",
        params![PK, format!("C#{:010}", head + 1), bytes, hash.to_vec()],
    )
    .unwrap();
    let (problems, _) = audit(&sandbox, &[DIALOGUE], 5);
    assert_eq!(problems, vec![(head + 1, "missing_signature".to_owned())]);
    assert_eq!(refused_append(&sandbox), "tampered");

    // Without the master key, the same finding.
    std::fs::rename(
        sandbox.home.path().join("master.key"),
        sandbox.home.path().join("master.key.away"),
    )
    .unwrap();
    let (problems, _) = audit(&sandbox, &[DIALOGUE], 5);
    assert_eq!(problems, vec![(head + 1, "missing_signature".to_owned())]);
}

/// Clear structure rewritten (an actor) and the whole chain re-hashed from genesis.
#[test]
fn rewritten_clear_structure_rechained_fails_its_signature() {
    let sandbox = recorded();
    let db = db(&sandbox);
    let mut previous = chain::genesis(&dlg_core::ids::DialogueId::parse(DIALOGUE).unwrap());
    for (number, bytes, _) in rows(&db) {
        let bytes = if number == 2 {
            assert!(bytes.windows(18).any(|w| w == b"\"actor\":\"e2e-test\""));
            String::from_utf8(bytes)
                .unwrap()
                .replacen("\"actor\":\"e2e-test\"", "\"actor\":\"mallory\"", 1)
                .into_bytes()
        } else {
            bytes
        };
        previous = chain::link(&previous, &bytes);
        db.execute(
            "UPDATE events SET commit_bytes = ?3, hash = ?4 WHERE pk = ?1 AND sk = ?2",
            params![PK, format!("C#{number:010}"), bytes, previous.to_vec()],
        )
        .unwrap();
    }
    // The signature fails at the rewritten commit; the writer's high-water mark also sees that
    // the head it wrote is not the head stored.
    let (problems, _) = audit(&sandbox, &[DIALOGUE], 5);
    assert_eq!(
        problems,
        vec![(2, "bad_signature".to_owned()), (3, "forked".to_owned())]
    );
    assert_eq!(refused_append(&sandbox), "tampered");
}

/// An older copy of the ledger put back, and the last commit deleted: the writer's high-water
/// mark (outside the store) catches both; a signed checkpoint held by an auditor too.
#[test]
fn a_rolled_back_or_truncated_store_is_refused_and_reported() {
    let sandbox = recorded();
    let checkpoint = sandbox.home.path().join("auditor.checkpoint");
    let checkpoint_arg = checkpoint.to_str().unwrap().to_owned();
    run_json(
        &sandbox,
        &["checkpoint", DIALOGUE, "--out", &checkpoint_arg],
        None,
    );
    // The checkpoint verifies with an implementation of C2SP signed notes we did not write.
    let signer = run_json(&sandbox, &["signer"], None);
    let verifier =
        signed_note::StandardVerifier::new(signer["verifier_key"].as_str().unwrap()).unwrap();
    let note = signed_note::Note::from_bytes(&std::fs::read(&checkpoint).unwrap()).unwrap();
    let (verified, _) = note
        .verify(&signed_note::VerifierList::new(vec![Box::new(verifier)]))
        .unwrap();
    assert_eq!(verified.len(), 1);
    let text = String::from_utf8(note.text().to_vec()).unwrap();
    assert!(text.starts_with("dlg-ledger/pm-repo-sync\n3\n"), "{text}");

    // Truncation: the last commit deleted.
    let db = db(&sandbox);
    db.execute(
        "DELETE FROM events WHERE pk = ?1 AND sk = ?2",
        params![PK, "C#0000000003"],
    )
    .unwrap();
    db.execute("DELETE FROM graph", []).unwrap();
    assert_eq!(refused_append(&sandbox), "rolled_back");
    let (problems, _) = audit(&sandbox, &[DIALOGUE], 5);
    assert_eq!(problems, vec![(3, "rolled_back".to_owned())]);
    // The auditor's checkpoint, pinned to the writer's key, says the same with no master key and
    // no high-water mark (another machine).
    drop(db);
    let auditor = copy_of(&sandbox);
    let key = signer["public_key"].as_str().unwrap();
    let (problems, _) = audit(
        &auditor,
        &["--trust", key, "--checkpoint", &checkpoint_arg],
        5,
    );
    assert_eq!(problems, vec![(3, "rolled_back".to_owned())]);
}

/// A whole dialogue deleted from the store is reported by the audit of the writer that holds
/// its mark, and by an auditor that holds its checkpoint.
#[test]
fn a_deleted_dialogue_is_reported_missing() {
    let sandbox = recorded();
    let checkpoint = sandbox.home.path().join("held.checkpoint");
    let checkpoint_arg = checkpoint.to_str().unwrap().to_owned();
    run_json(
        &sandbox,
        &["checkpoint", DIALOGUE, "--out", &checkpoint_arg],
        None,
    );
    let key = run_json(&sandbox, &["signer"], None)["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let db = db(&sandbox);
    db.execute("DELETE FROM events", []).unwrap();
    db.execute("DELETE FROM graph", []).unwrap();
    let (problems, _) = audit(&sandbox, &[], 5);
    assert_eq!(problems, vec![(3, "missing_dialogue".to_owned())]);
    let (problems, _) = audit(
        &sandbox,
        &["--trust", &key, "--checkpoint", &checkpoint_arg],
        5,
    );
    assert_eq!(problems, vec![(3, "missing_dialogue".to_owned())]);
}

/// With no master key at all, and after shredding: chain, signatures and checkpoints verify,
/// content is reported as not checked, exit 0; a key pinned that did not sign is refused.
#[test]
fn audit_without_keys_verifies_signatures_and_checkpoints() {
    let sandbox = recorded();
    let checkpoint = sandbox.home.path().join("c.checkpoint");
    let checkpoint_arg = checkpoint.to_str().unwrap().to_owned();
    run_json(
        &sandbox,
        &["checkpoint", DIALOGUE, "--out", &checkpoint_arg],
        None,
    );
    let key = run_json(&sandbox, &["signer"], None)["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let auditor = copy_of(&sandbox);
    let (problems, reports) = audit(
        &auditor,
        &["--trust", &key, "--checkpoint", &checkpoint_arg],
        0,
    );
    assert!(problems.is_empty());
    assert_eq!(reports[0]["content_checked"], false);
    assert_eq!(reports[0]["pinned"], true);
    assert_eq!(reports[0]["signers"], json!([key]));
    assert!(!auditor.home.path().join("master.key").exists());
    assert!(!auditor.home.path().join("signing.key").exists());
    // Unpinned, the audit passes and names the key it verified against.
    let (_, reports) = audit(&auditor, &[DIALOGUE], 0);
    assert_eq!(reports[0]["pinned"], false);
    // A pinned key that did not sign is refused at commit 1.
    let stranger = "11".repeat(32);
    let (problems, _) = audit(&auditor, &["--trust", &stranger, DIALOGUE], 5);
    assert_eq!(problems, vec![(1, "untrusted_signer".to_owned())]);
    // After shredding, the same keyless audit still passes.
    sandbox
        .dlg()
        .args(["shred", DIALOGUE, "--yes"])
        .assert()
        .success();
    let (problems, reports) = audit(&sandbox, &["--trust", &key, DIALOGUE], 0);
    assert!(problems.is_empty());
    assert_eq!(reports[0]["shredded"], true);
}
