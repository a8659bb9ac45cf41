//! docs/format.md is complete enough for an implementation we did not write in Rust: the
//! verifier in `tests/cleanroom/verify.py` (Python, PyNaCl and BLAKE3, written from the page
//! alone) checks the test vectors, and a ledger `dlg` writes here — chain, signatures under the
//! pinned key, every sealed field opened with the master key, and the checkpoint `dlg checkpoint`
//! signed — and finds an attacker's re-chained edit at the commit it touched.

use std::process::Output;

use dlg_tests::Sandbox;
use rusqlite::{Connection, params};
use serde_json::Value;

use crate::requests::*;

fn verifier(args: &[&str]) -> (i32, Value) {
    let script = dlg_tests::repo_root().join("tests/cleanroom/verify.py");
    let Output {
        status,
        stdout,
        stderr,
    } = std::process::Command::new(dlg_tests::cleanroom_python())
        .arg(&script)
        .args(args)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&stdout).unwrap_or_else(|e| {
        panic!(
            "the verifier's output is not JSON ({e}):\n{}\n{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        )
    });
    (status.code().unwrap_or(-1), report)
}

#[test]
fn the_independent_verifier_accepts_the_test_vectors() {
    let vectors = dlg_tests::repo_root().join("core/tests/fixtures/format-2");
    let (code, report) = verifier(&["vectors", &vectors.to_string_lossy()]);
    assert_eq!((code, &report["ok"]), (0, &Value::Bool(true)), "{report}");
}

#[test]
fn the_independent_verifier_checks_a_ledger_dlg_wrote_and_finds_a_rechained_edit() {
    let sandbox = recorded();
    let home = sandbox.home.path();
    let checkpoint = home.join("checkpoint.txt").display().to_string();
    run_json(
        &sandbox,
        &["checkpoint", DIALOGUE, "--out", &checkpoint],
        None,
    );
    let signer = run_json(&sandbox, &["signer"], None);
    let key = signer["public_key"].as_str().unwrap().to_owned();
    // A copy with the WAL folded in: the verifier opens the file read-only.
    let copy = home.join("copy.db");
    copy_database(&sandbox, &copy);
    let db = copy.display().to_string();
    let master = home.join("master.key").display().to_string();

    let (code, report) = verifier(&[
        "sqlite",
        &db,
        "--dialogue",
        DIALOGUE,
        "--master-key",
        &master,
        "--trust",
        &key,
        "--checkpoint",
        &checkpoint,
    ]);
    assert_eq!(code, 0, "{report}");
    let audit = run_json(&sandbox, &["audit", DIALOGUE], None);
    assert_eq!(
        report["commits"], audit[0]["commits"],
        "{report} vs {audit}"
    );
    assert_eq!(report["events"], audit[0]["events"], "{report} vs {audit}");
    assert_eq!(
        report["sealed_fields_opened"], audit[0]["sealed_fields_opened"],
        "{report} vs {audit}"
    );
    assert_eq!(report["signers"], serde_json::json!([key]));
    assert_eq!(report["content_checked"], true);
    assert_eq!(report["checkpoint"]["ok"], true, "{report}");

    // Without the master key: history verifies, content is not checked.
    let (code, report) = verifier(&["sqlite", &db, "--dialogue", DIALOGUE, "--trust", &key]);
    assert_eq!(
        (code, &report["content_checked"]),
        (0, &Value::Bool(false)),
        "{report}"
    );

    // The attacker's edit: an actor of commit 2 rewritten and the chain re-hashed from genesis.
    let connection = Connection::open(&copy).unwrap();
    let rows: Vec<(String, Vec<u8>)> = connection
        .prepare("SELECT sk, commit_bytes FROM events WHERE pk = ?1 ORDER BY sk")
        .unwrap()
        .query_map(params![format!("D#{DIALOGUE}")], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let mut previous =
        dlg_core::chain::genesis(&dlg_core::ids::DialogueId::parse(DIALOGUE).unwrap());
    for (n, (sk, bytes)) in rows.into_iter().enumerate() {
        let bytes = if n == 1 {
            actor_rewritten(bytes)
        } else {
            bytes
        };
        previous = dlg_core::chain::link(&previous, &bytes);
        connection
            .execute(
                "UPDATE events SET commit_bytes = ?1, hash = ?2 WHERE pk = ?3 AND sk = ?4",
                params![bytes, previous.to_vec(), format!("D#{DIALOGUE}"), sk],
            )
            .unwrap();
    }
    drop(connection);
    let (code, report) = verifier(&["sqlite", &db, "--dialogue", DIALOGUE, "--trust", &key]);
    assert_eq!(code, 1, "{report}");
    assert_eq!(
        (&report["commit"], &report["kind"]),
        (&Value::from(2), &Value::from("bad_signature")),
        "{report}"
    );
}

fn copy_database(sandbox: &Sandbox, to: &std::path::Path) {
    let db = Connection::open(sandbox.database()).unwrap();
    db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
    drop(db);
    std::fs::copy(sandbox.database(), to).unwrap();
}
