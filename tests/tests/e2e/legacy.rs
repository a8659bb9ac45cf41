//! A ledger written before format 2: the SQLite layout of then (no `signature` column) holding
//! the golden format 1 commits, its data key wrapped under a master key file. Today's `dlg` reads
//! and verifies it, says which commits are unsigned format 1, appends in format 2 after them (a
//! dialogue may hold a format 1 prefix, ADR 0019), and refuses a format 1 commit slipped in after
//! a signed one.

use std::path::PathBuf;

use dlg_core::chain;
use dlg_core::ids::DialogueId;
use dlg_core::seal::{MasterKey, SecretKey};
use dlg_core::testing::TestEntropy;
use dlg_tests::Sandbox;
use rusqlite::{Connection, params};
use serde_json::Value;

use crate::requests::*;

const PK: &str = "D#pm-repo-sync";

fn golden(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../core/tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The data directory of a writer from before format 2: `master.key` and a `ledger.db` in the
/// old layout, with the two golden format 1 commits and no graph (projected on first read).
fn format_one_ledger() -> Sandbox {
    let sandbox = Sandbox::new();
    let master = MasterKey::new(SecretKey::from_bytes([0x4d; 32]));
    let master_path = sandbox.home.path().join("master.key");
    std::fs::write(&master_path, master.secret().expose()).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&master_path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let db = Connection::open(sandbox.database()).unwrap();
    db.execute_batch(
        "CREATE TABLE events (pk TEXT NOT NULL, sk TEXT NOT NULL, commit_bytes BLOB NOT NULL,
                              hash BLOB NOT NULL, idem TEXT, PRIMARY KEY (pk, sk)) WITHOUT ROWID;
         CREATE TABLE keys (pk TEXT NOT NULL, sk TEXT NOT NULL, wrapped TEXT NOT NULL,
                            PRIMARY KEY (pk, sk)) WITHOUT ROWID;
         CREATE TABLE graph (pk TEXT NOT NULL, sk TEXT NOT NULL, item TEXT NOT NULL,
                             PRIMARY KEY (pk, sk)) WITHOUT ROWID;",
    )
    .unwrap();
    let dialogue = DialogueId::parse(DIALOGUE).unwrap();
    let mut previous = chain::genesis(&dialogue);
    for n in 1..=2u64 {
        let bytes = golden(&format!("commit-{n}.json"));
        previous = chain::link(&previous, &bytes);
        db.execute(
            "INSERT INTO events (pk, sk, commit_bytes, hash) VALUES (?1, ?2, ?3, ?4)",
            params![PK, format!("C#{n:010}"), bytes, previous.to_vec()],
        )
        .unwrap();
    }
    let data_key = chain::from_hex(String::from_utf8(golden("key.hex")).unwrap().trim()).unwrap();
    let wrapped = master.wrap_key(
        &dialogue,
        1,
        &SecretKey::from_bytes(data_key),
        &mut TestEntropy::new(3),
    );
    db.execute(
        "INSERT INTO keys (pk, sk, wrapped) VALUES (?1, ?2, ?3)",
        params![
            PK,
            format!("K#{:010}", 1),
            serde_json::to_string(&wrapped).unwrap()
        ],
    )
    .unwrap();
    sandbox
}

fn audit(sandbox: &Sandbox, code: i32) -> Value {
    let assert = sandbox
        .dlg()
        .args(["--json", "audit", DIALOGUE])
        .assert()
        .code(code);
    let reports: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    reports[0].clone()
}

#[test]
fn a_format_one_ledger_reads_verifies_and_continues_in_format_two() {
    let sandbox = format_one_ledger();

    // It reads and verifies as it did, and audit says the commits are unsigned format 1.
    let report = audit(&sandbox, 0);
    assert_eq!(report["commits"], 2, "{report}");
    assert_eq!(report["unsigned_commits"], 2, "{report}");
    assert_eq!(report["content_checked"], true, "{report}");
    assert!(report["signers"].as_array().unwrap().is_empty(), "{report}");
    let text = sandbox.dlg().args(["audit", DIALOGUE]).assert().success();
    let text = String::from_utf8_lossy(&text.get_output().stdout).into_owned();
    assert!(text.contains("commits 1–2 are unsigned format 1"), "{text}");
    // Its content opens: the export carries the sealed title and a perspective's text.
    let exported = run_json(&sandbox, &["export", DIALOGUE], None);
    assert_eq!(exported["title"], "PM repo sync architecture", "{exported}");
    assert_eq!(
        exported["perspectives"][0]["label"],
        "Schema is the boundary"
    );

    // A new round is written in format 2, signed by this machine's key, after the old prefix.
    run_json(&sandbox, &["round", DIALOGUE], Some(&round_one()));
    let signer = run_json(&sandbox, &["signer"], None);
    let db = Connection::open(sandbox.database()).unwrap();
    let (bytes, signature): (Vec<u8>, Option<Vec<u8>>) = db
        .query_row(
            "SELECT commit_bytes, signature FROM events WHERE pk = ?1 AND sk = ?2",
            params![PK, format!("C#{:010}", 3)],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .unwrap();
    let header: Value = serde_json::from_slice::<Value>(&bytes).unwrap()["header"].clone();
    assert_eq!(header["format"], 2);
    assert_eq!(header["signer"], signer["public_key"], "{signer}");
    assert_eq!(signature.map(|s| s.len()), Some(64));
    let report = audit(&sandbox, 0);
    assert_eq!(
        (
            report["commits"].clone(),
            report["unsigned_commits"].clone()
        ),
        (Value::from(3), Value::from(2)),
        "{report}"
    );
    assert_eq!(report["signers"], serde_json::json!([signer["public_key"]]));

    // The old commits cannot be used to slip unsigned history in after the signed one: a format 1
    // commit 4, numbered and linked correctly, is a downgrade.
    let (hash3,): (Vec<u8>,) = db
        .query_row(
            "SELECT hash FROM events WHERE pk = ?1 AND sk = ?2",
            params![PK, format!("C#{:010}", 3)],
            |row| Ok((row.get(0)?,)),
        )
        .unwrap();
    let next_seq = dlg_core::commit::Commit::decode(&bytes).unwrap().next_seq();
    let forged = format!(
        concat!(
            r#"{{"header":{{"format":1,"dialogue":"{d}","commit":4,"first_seq":{seq},"#,
            r#""actor":"mallory","time":"2026-03-12T21:00:00Z","idempotency_key":null,"#,
            r#""request":null,"key_version":1}},"#,
            r#""events":[{{"seq":{seq},"v":1,"type":"DialogueStatusChanged","#,
            r#""body":{{"from":"open","to":"converged"}}}}]}}"#
        ),
        d = DIALOGUE,
        seq = next_seq,
    )
    .into_bytes();
    let hash4 = chain::link(&hash3.try_into().unwrap(), &forged);
    db.execute(
        "INSERT INTO events (pk, sk, commit_bytes, hash) VALUES (?1, ?2, ?3, ?4)",
        params![PK, format!("C#{:010}", 4), forged, hash4.to_vec()],
    )
    .unwrap();
    let report = audit(&sandbox, 5);
    assert_eq!(
        problems_of(&report),
        vec![(4, "downgrade".to_owned())],
        "{report}"
    );
    assert_eq!(
        error_kind(sandbox.dlg(), &["dialogue-status", DIALOGUE, "converging"]),
        "tampered"
    );
}
