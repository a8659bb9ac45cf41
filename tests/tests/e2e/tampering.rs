//! Audit against edits made directly in the SQLite file: each is reported with its commit.

use dlg_core::chain;
use dlg_tests::Sandbox;
use rusqlite::{Connection, params};
use serde_json::Value;

use crate::requests::*;

const PK: &str = "D#pm-repo-sync";

fn sk(commit: u64) -> String {
    format!("C#{commit:010}")
}

fn read_commit(db: &Connection, commit: u64) -> Vec<u8> {
    db.query_row(
        "SELECT commit_bytes FROM events WHERE pk = ?1 AND sk = ?2",
        params![PK, sk(commit)],
        |row| row.get(0),
    )
    .unwrap()
}

fn write_commit(db: &Connection, commit: u64, bytes: &[u8]) {
    db.execute(
        "UPDATE events SET commit_bytes = ?3 WHERE pk = ?1 AND sk = ?2",
        params![PK, sk(commit), bytes],
    )
    .unwrap();
}

/// Audits, expecting failure; returns the problems as (commit, kind).
fn problems(sandbox: &Sandbox) -> Vec<(u64, String)> {
    let assert = sandbox
        .dlg()
        .args(["--json", "audit", DIALOGUE])
        .assert()
        .code(5);
    let reports: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    problems_of(&reports[0])
}

/// The byte ranges of every `"sealed":{...}` object in a commit.
fn sealed_ranges(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let text = std::str::from_utf8(bytes).unwrap();
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(start) = text[from..].find("\"sealed\":{") {
        let start = from + start + "\"sealed\":".len();
        let end = start + text[start..].find('}').unwrap() + 1;
        ranges.push(start..end);
        from = end;
    }
    ranges
}

/// Swaps the sealed content of the first two sealed events of a commit, byte for byte.
fn swap_first_two_sealed(bytes: &[u8]) -> Vec<u8> {
    let ranges = sealed_ranges(bytes);
    let (a, b) = (ranges[0].clone(), ranges[1].clone());
    let mut out = Vec::new();
    out.extend_from_slice(&bytes[..a.start]);
    out.extend_from_slice(&bytes[b.clone()]);
    out.extend_from_slice(&bytes[a.end..b.start]);
    out.extend_from_slice(&bytes[a]);
    out.extend_from_slice(&bytes[b.end..]);
    out
}

/// Recomputes every recorded hash from the (edited) bytes: what an attacker who knows the chain
/// format would do to hide an edit.
fn rechain(db: &Connection) {
    let dialogue = dlg_core::ids::DialogueId::parse(DIALOGUE).unwrap();
    let mut previous = chain::genesis(&dialogue);
    let rows: Vec<(String, Vec<u8>)> = db
        .prepare("SELECT sk, commit_bytes FROM events WHERE pk = ?1 ORDER BY sk")
        .unwrap()
        .query_map(params![PK], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    for (sk, bytes) in rows {
        previous = chain::link(&previous, &bytes);
        db.execute(
            "UPDATE events SET hash = ?3 WHERE pk = ?1 AND sk = ?2",
            params![PK, sk, previous.as_slice()],
        )
        .unwrap();
    }
}

#[test]
fn a_clean_ledger_audits_clean() {
    let sandbox = recorded();
    sandbox.dlg().args(["audit", DIALOGUE]).assert().success();
}

#[test]
fn a_flipped_byte_is_reported_at_its_commit() {
    let sandbox = recorded();
    let db = Connection::open(sandbox.database()).unwrap();
    let mut bytes = read_commit(&db, 2);
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    write_commit(&db, 2, &bytes);
    let found = problems(&sandbox);
    // The chain breaks at commit 2; where the byte lands in sealed content, the seal says so too.
    assert_eq!(
        found.first(),
        Some(&(2, "broken_link".to_owned())),
        "{found:?}"
    );
    assert!(
        found.iter().all(|(commit, kind)| *commit == 2
            && ["broken_link", "bad_ciphertext"].contains(&kind.as_str())),
        "{found:?}"
    );
    // Nothing is appended onto a broken chain.
    sandbox
        .dlg()
        .args(["status", DIALOGUE, "--id", "T0002", "--to", "addressed"])
        .assert()
        .code(5);
}

#[test]
fn a_deleted_commit_row_is_reported_missing() {
    let sandbox = recorded();
    let db = Connection::open(sandbox.database()).unwrap();
    db.execute(
        "DELETE FROM events WHERE pk = ?1 AND sk = ?2",
        params![PK, sk(2)],
    )
    .unwrap();
    let found = problems(&sandbox);
    assert_eq!(found, [(2, "missing_commit".to_owned())]);
}

#[test]
fn swapped_sealed_fields_are_reported_at_their_commit() {
    let sandbox = recorded();
    let db = Connection::open(sandbox.database()).unwrap();
    write_commit(&db, 2, &swap_first_two_sealed(&read_commit(&db, 2)));
    let found = problems(&sandbox);
    assert!(found.contains(&(2, "broken_link".to_owned())), "{found:?}");
    assert!(
        found.contains(&(2, "bad_ciphertext".to_owned())),
        "{found:?}"
    );

    // Even with every hash recomputed to hide the edit, the sealed fields no longer open at
    // their addresses (and the graph remembers the original hashes).
    rechain(&db);
    let found = problems(&sandbox);
    assert_eq!(found[0].0, 2, "{found:?}");
    assert!(
        found.contains(&(2, "bad_ciphertext".to_owned())),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|(_, kind)| kind == "broken_link"),
        "{found:?}"
    );
}

#[test]
fn a_digest_catches_a_rewritten_history() {
    let sandbox = recorded();
    let digest = run_json(&sandbox, &["digest", DIALOGUE], None);
    let digest = format!(
        "{}@{}:{}",
        digest["dialogue"].as_str().unwrap(),
        digest["commit"],
        digest["hash"].as_str().unwrap()
    );
    let db = Connection::open(sandbox.database()).unwrap();
    db.execute(
        "DELETE FROM events WHERE pk = ?1 AND sk = ?2",
        params![PK, sk(3)],
    )
    .unwrap();
    // Without the digest the shorter chain is consistent; with it, the missing tail shows.
    let assert = sandbox
        .dlg()
        .args(["--json", "audit", DIALOGUE, "--digest", &digest])
        .assert()
        .code(5);
    let reports: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(reports[0]["problems"][0]["commit"], 3);
    assert_eq!(reports[0]["problems"][0]["kind"], "truncated");
}

#[test]
fn an_edited_graph_item_is_reported_as_drift() {
    let sandbox = recorded();
    let db = Connection::open(sandbox.database()).unwrap();
    let item: String = db
        .query_row(
            "SELECT item FROM graph WHERE pk = ?1 AND sk = 'N#T0001'",
            params![PK],
            |row| row.get(0),
        )
        .unwrap();
    let edited = item.replace("\"status\":\"resolved\"", "\"status\":\"open\"");
    assert_ne!(item, edited);
    db.execute(
        "UPDATE graph SET item = ?2 WHERE pk = ?1 AND sk = 'N#T0001'",
        params![PK, edited],
    )
    .unwrap();
    let found = problems(&sandbox);
    assert_eq!(found, [(3, "projection_drift".to_owned())]);
    sandbox.dlg().args(["rebuild", DIALOGUE]).assert().success();
    sandbox.dlg().args(["audit", DIALOGUE]).assert().success();
}

/// A keys row planted for one dialogue (wrapped bytes of someone else's making) is a finding for
/// that dialogue: `dlg list` still lists every dialogue and `dlg audit` audits the others clean.
/// A digest of another dialogue, or at commit 0, is a usage error that says so. Deleting the last
/// commit makes reads refuse the graph that still holds it.
#[test]
fn a_planted_keys_row_is_isolated_and_reads_know_where_they_stand() {
    let sandbox = recorded();
    run_json(
        &sandbox,
        &[
            "create",
            "--title",
            "Second dialogue",
            "--question",
            "Untouched?",
        ],
        None,
    );
    let db = Connection::open(sandbox.database()).unwrap();
    // The other dialogue's wrapped key, planted in this one's row: it unwraps only for its own.
    db.execute(
        "UPDATE keys SET wrapped = (SELECT wrapped FROM keys WHERE pk = 'D#second-dialogue') WHERE pk = ?1",
        params![PK],
    )
    .unwrap();
    let list = run_json(&sandbox, &["list"], None);
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let assert = sandbox.dlg().args(["--json", "audit"]).assert().code(5);
    let reports: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    let by_dialogue: Vec<(String, Vec<(u64, String)>)> = reports
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["dialogue"].as_str().unwrap().to_owned(), problems_of(r)))
        .collect();
    assert!(
        by_dialogue.contains(&(DIALOGUE.to_owned(), vec![(0, "bad_key".to_owned())])),
        "{by_dialogue:?}"
    );
    assert!(
        by_dialogue.contains(&("second-dialogue".to_owned(), Vec::new())),
        "{by_dialogue:?}"
    );

    let digest = run_json(&sandbox, &["digest", "second-dialogue"], None);
    let digest = format!(
        "{}@{}:{}",
        digest["dialogue"].as_str().unwrap(),
        digest["commit"],
        digest["hash"].as_str().unwrap()
    );
    let output = sandbox
        .dlg()
        .args(["audit", DIALOGUE, "--digest", &digest])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&output.get_output().stderr).into_owned();
    assert!(
        stderr.contains("is of dialogue `second-dialogue`, not `pm-repo-sync`"),
        "{stderr}"
    );

    let db = Connection::open(sandbox.database()).unwrap();
    let head = db
        .query_row(
            "SELECT MAX(sk) FROM events WHERE pk = ?1",
            params!["D#second-dialogue"],
            |row| row.get::<_, String>(0),
        )
        .unwrap();
    db.execute(
        "DELETE FROM events WHERE pk = ?1 AND sk = ?2",
        params!["D#second-dialogue", head],
    )
    .unwrap();
    assert_eq!(
        error_kind(sandbox.dlg(), &["show", "second-dialogue"]),
        "graph_ahead"
    );
}
