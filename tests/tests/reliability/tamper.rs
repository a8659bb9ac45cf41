//! The tamper campaign. Two dialogues with the same history shape (A and B) are stored; each
//! mutation edits A's stored commits directly in the backend, `audit` runs, and the stored rows
//! are put back. A mutation counts as detected only when the audit reports a problem at the
//! commit the mutation is about.
//!
//! Raw edits (the stored bytes or rows changed, the recorded hashes left alone) are audited
//! against a digest kept at the head, as an auditor would. Re-chained edits (the attacker also
//! recomputes every later hash, so the chain links again) are audited *without* a digest: the
//! signatures (format 2) must catch them, whether they touch sealed content or the clear
//! structure beside it. Signature edits (stripped, moved between commits) and forged commits
//! appended with a correct link (unsigned, or signed by the attacker's own key) complete it.

use std::collections::BTreeMap;

use dlg_core::chain;
use dlg_core::commit::Commit;
use dlg_core::ids::DialogueId;
use dlg_core::seal::{MasterKey, SecretKey};
use dlg_core::sign::{LocalSigner, Signer as _, commit_message};
use dlg_core::testing::MemoryLedger;
use dlg_core::testing::random::{Step, dialogue};
use dlg_projector::projection::Projector;
use dlg_store::dynamodb::{DynamoStore, commit_attributes};
use dlg_store::sqlite::SqliteStore;
use dlg_store::{CommitRow, Store};
use dlg_writer::audit::AuditOptions;
use dlg_writer::keys::OsEntropy;
use dlg_writer::ledger::Ledger;

use crate::Rng;

/// Direct access to a backend's stored commits, below the ledger (what an attacker with write
/// access to the storage can do).
trait Raw {
    async fn put(&self, dialogue: &DialogueId, row: &CommitRow);
    async fn delete(&self, dialogue: &DialogueId, number: u64);
}

struct RawSqlite(std::sync::Mutex<rusqlite::Connection>);

impl Raw for RawSqlite {
    async fn put(&self, dialogue: &DialogueId, row: &CommitRow) {
        self.0
            .lock()
            .unwrap()
            .execute(
                "INSERT OR REPLACE INTO events (pk, sk, commit_bytes, hash, idem, signature)
                 VALUES (?1, ?2, ?3, ?4, NULL, ?5)",
                rusqlite::params![
                    format!("D#{dialogue}"),
                    format!("C#{:010}", row.number),
                    row.bytes,
                    row.hash.to_vec(),
                    row.signature.map(|s| s.to_vec())
                ],
            )
            .unwrap();
    }

    async fn delete(&self, dialogue: &DialogueId, number: u64) {
        self.0
            .lock()
            .unwrap()
            .execute(
                "DELETE FROM events WHERE pk = ?1 AND sk = ?2",
                rusqlite::params![format!("D#{dialogue}"), format!("C#{number:010}")],
            )
            .unwrap();
    }
}

struct RawDynamo(DynamoStore);

impl Raw for RawDynamo {
    async fn put(&self, dialogue: &DialogueId, row: &CommitRow) {
        self.0
            .client()
            .put_item()
            .table_name(&self.0.config().events_table)
            .set_item(Some(commit_attributes(dialogue, row, None)))
            .send()
            .await
            .unwrap();
    }

    async fn delete(&self, dialogue: &DialogueId, number: u64) {
        use aws_sdk_dynamodb::types::AttributeValue;
        self.0
            .client()
            .delete_item()
            .table_name(&self.0.config().events_table)
            .key("pk", AttributeValue::S(format!("D#{dialogue}")))
            .key("sk", AttributeValue::S(format!("C#{number:010}")))
            .send()
            .await
            .unwrap();
    }
}

/// Replaces the stored rows `before` with `after`, touching only what differs.
async fn write_rows<R: Raw>(
    raw: &R,
    dialogue: &DialogueId,
    before: &[CommitRow],
    after: &[CommitRow],
) {
    let old: BTreeMap<u64, &CommitRow> = before.iter().map(|r| (r.number, r)).collect();
    let new: BTreeMap<u64, &CommitRow> = after.iter().map(|r| (r.number, r)).collect();
    for (number, row) in &new {
        if old.get(number).is_none_or(|o| o != row) {
            raw.put(dialogue, row).await;
        }
    }
    for number in old.keys().filter(|n| !new.contains_key(n)) {
        raw.delete(dialogue, *number).await;
    }
}

fn rows_of(memory: &MemoryLedger) -> Vec<CommitRow> {
    memory.commits.iter().map(CommitRow::of).collect()
}

/// The byte ranges of every `"sealed":{...}` object in a commit.
fn sealed_ranges(bytes: &[u8]) -> Vec<std::ops::Range<usize>> {
    let text = String::from_utf8_lossy(bytes);
    let mut ranges = Vec::new();
    let mut from = 0;
    while let Some(start) = text[from..].find("\"sealed\":{") {
        let start = from + start + "\"sealed\":".len();
        let Some(length) = text[start..].find('}') else {
            break;
        };
        let end = start + length + 1;
        ranges.push(start..end);
        from = end;
    }
    ranges
}

/// Recomputes every recorded hash from commit `from` on, as an attacker who rewrites history
/// would, so that the chain verifies again.
fn rechain(dialogue: &DialogueId, rows: &mut [CommitRow], from: u64) {
    let mut previous = chain::genesis(dialogue);
    for row in rows.iter_mut() {
        if row.number >= from {
            row.hash = chain::link(&previous, &row.bytes);
        }
        previous = row.hash;
    }
}

fn splice(bytes: &[u8], range: std::ops::Range<usize>, with: &[u8]) -> Vec<u8> {
    let mut out = bytes[..range.start].to_vec();
    out.extend_from_slice(with);
    out.extend_from_slice(&bytes[range.end..]);
    out
}

/// A mutation of A's rows: its name, the rows after it, the commit the audit must name, and
/// whether it was re-chained.
struct Mutation {
    name: &'static str,
    rows: Vec<CommitRow>,
    expected: u64,
    rechained: bool,
}

fn mutate(rng: &mut Rng, d: &DialogueId, a: &[CommitRow], b: &[CommitRow]) -> Mutation {
    let head = a.len();
    let raw = |name, rows, expected| Mutation {
        name,
        rows,
        expected,
        rechained: false,
    };
    loop {
        let mut rows = a.to_vec();
        match rng.next_u64() % 14 {
            0 => {
                let n = rng.within(1, head);
                let at = rng.within(0, rows[n - 1].bytes.len() - 1);
                rows[n - 1].bytes[at] ^= 1 << rng.within(0, 7);
                return raw("byte flip", rows, n as u64);
            }
            1 => {
                let n = rng.within(1, head);
                rows.remove(n - 1);
                // The last commit gone is a truncation, named at the digest's commit (the head).
                return raw("deleted commit", rows, n as u64);
            }
            2 => {
                let n = rng.within(1, head);
                let mut copy = rows[n - 1].clone();
                copy.number = head as u64 + 1;
                rows.push(copy);
                return raw("duplicated commit (appended)", rows, head as u64 + 1);
            }
            3 => {
                let n = rng.within(1, head - 1);
                let mut copy = rows[n - 1].clone();
                copy.number = n as u64 + 1;
                rows[n] = copy;
                return raw("duplicated commit (over the next)", rows, n as u64 + 1);
            }
            4 => {
                let i = rng.within(1, head - 1);
                let j = rng.within(i + 1, head);
                let (bi, hi) = (rows[i - 1].bytes.clone(), rows[i - 1].hash);
                rows[i - 1].bytes = rows[j - 1].bytes.clone();
                rows[i - 1].hash = rows[j - 1].hash;
                rows[j - 1].bytes = bi;
                rows[j - 1].hash = hi;
                return raw("reordered commits", rows, i as u64);
            }
            5 => {
                let keep = rng.within(1, head - 1);
                rows.truncate(keep);
                return raw("truncated tail", rows, head as u64);
            }
            6 => {
                let n = rng.within(1, head.min(b.len()));
                rows[n - 1].bytes = b[n - 1].bytes.clone();
                rows[n - 1].hash = b[n - 1].hash;
                return raw("commit replayed from another dialogue", rows, n as u64);
            }
            10 => {
                let n = rng.within(1, head);
                rows[n - 1].signature = None;
                return raw("signature stripped", rows, n as u64);
            }
            11 => {
                let i = rng.within(1, head);
                let j = (i + rng.within(0, head - 2)) % head + 1;
                rows[i - 1].signature = rows[j - 1].signature;
                return raw("signature moved from another commit", rows, i as u64);
            }
            12 => {
                // A keyless forgery: the last commit's events again as commit head+1, numbered
                // and linked correctly; unsigned, or signed by the forger naming their own key.
                let mut commit = Commit::decode(&rows[head - 1].bytes).unwrap();
                let next_seq = commit.next_seq();
                commit.header.commit = head as u64 + 1;
                commit.header.first_seq = next_seq;
                for (k, event) in commit.events.iter_mut().enumerate() {
                    event.seq = next_seq + k as u64;
                }
                let own_key = rng.next_u64().is_multiple_of(2);
                let forger = LocalSigner::from_seed(&[0x66; 32], "forger");
                if own_key {
                    commit.header.signer = Some(forger.public_key());
                }
                let bytes = commit.encode();
                let hash = chain::link(&rows[head - 1].hash, &bytes);
                let signature = own_key.then(|| forger.sign_now(&commit_message(&hash)));
                rows.push(CommitRow {
                    number: head as u64 + 1,
                    bytes,
                    hash,
                    signature,
                });
                let name = if own_key {
                    "forged commit appended (signed by the forger's key)"
                } else {
                    "forged commit appended (linked, unsigned)"
                };
                return raw(name, rows, head as u64 + 1);
            }
            13 => {
                // Clear structure rewritten, then re-chained from genesis.
                let n = rng.within(1, head);
                let bytes = rows[n - 1].bytes.clone();
                let sealed = sealed_ranges(&bytes);
                let text = String::from_utf8(bytes.clone()).unwrap();
                let (name, edited) = match rng.next_u64() % 3 {
                    0 => {
                        let start = text.find("\"actor\":\"").unwrap() + 9;
                        let end = start + text[start..].find('"').unwrap();
                        (
                            "clear actor rewritten",
                            splice(&bytes, start..end, b"mallory"),
                        )
                    }
                    1 => {
                        // A digit of the clear structure (a number, a score, an id, a time).
                        let digits: Vec<usize> = (0..bytes.len())
                            .filter(|&i| bytes[i].is_ascii_digit())
                            .filter(|&i| !sealed.iter().any(|r| r.contains(&i)))
                            .collect();
                        let at = digits[rng.within(0, digits.len() - 1)];
                        let digit = b'0' + ((bytes[at] - b'0' + rng.within(1, 9) as u8) % 10);
                        (
                            "clear digit rewritten",
                            splice(&bytes, at..at + 1, &[digit]),
                        )
                    }
                    _ => {
                        let Some(range) = sealed.first().cloned() else {
                            continue;
                        };
                        let member = range.start - ",\"sealed\":".len()..range.end;
                        ("sealed member stripped", splice(&bytes, member, b""))
                    }
                };
                if edited == bytes {
                    continue;
                }
                rows[n - 1].bytes = edited;
                rechain(d, &mut rows, n as u64);
                return Mutation {
                    name,
                    rows,
                    expected: n as u64,
                    rechained: true,
                };
            }
            pick => {
                // Sealed content, re-chained: the signature and the associated data can tell.
                let sealed: Vec<(usize, std::ops::Range<usize>)> = rows
                    .iter()
                    .enumerate()
                    .flat_map(|(i, r)| sealed_ranges(&r.bytes).into_iter().map(move |s| (i, s)))
                    .collect();
                if sealed.len() < 2 {
                    continue;
                }
                let (name, first) = match pick {
                    7 => {
                        // Two sealed fields swapped: within a commit (between events) or across
                        // commits (between entities).
                        let x = rng.within(0, sealed.len() - 1);
                        let y = (x + rng.within(1, sealed.len() - 1)) % sealed.len();
                        let ((ci, ri), (cj, rj)) = (sealed[x].clone(), sealed[y].clone());
                        let (fi, fj) = (
                            rows[ci].bytes[ri.clone()].to_vec(),
                            rows[cj].bytes[rj.clone()].to_vec(),
                        );
                        if ci == cj {
                            let (lo, hi, flo, fhi) = if ri.start < rj.start {
                                (ri, rj, fi, fj)
                            } else {
                                (rj, ri, fj, fi)
                            };
                            let swapped = splice(&rows[ci].bytes, hi, &flo);
                            rows[ci].bytes = splice(&swapped, lo, &fhi);
                            ("sealed fields swapped between events", ci)
                        } else {
                            rows[ci].bytes = splice(&rows[ci].bytes, ri, &fj);
                            rows[cj].bytes = splice(&rows[cj].bytes, rj, &fi);
                            ("sealed fields swapped between entities", ci.min(cj))
                        }
                    }
                    8 => {
                        // A sealed field of the other dialogue, at the same place.
                        let (ci, ri) = sealed[rng.within(0, sealed.len() - 1)].clone();
                        let theirs = sealed_ranges(&b[ci].bytes);
                        let Some(rj) = theirs.get(
                            sealed_ranges(&rows[ci].bytes)
                                .iter()
                                .position(|r| *r == ri)
                                .unwrap_or(0),
                        ) else {
                            continue;
                        };
                        let field = b[ci].bytes[rj.clone()].to_vec();
                        rows[ci].bytes = splice(&rows[ci].bytes, ri, &field);
                        ("sealed field from another dialogue", ci)
                    }
                    _ => {
                        let (ci, ri) = sealed[rng.within(0, sealed.len() - 1)].clone();
                        let at = rng.within(ri.start, ri.end - 1);
                        rows[ci].bytes[at] ^= 1 << rng.within(0, 7);
                        ("sealed byte flipped", ci)
                    }
                };
                if rows == a {
                    continue;
                }
                let first = first as u64 + 1;
                rechain(d, &mut rows, first);
                return Mutation {
                    name,
                    rows,
                    expected: first,
                    rechained: true,
                };
            }
        }
    }
}

/// Tallies: mutation name → (tried, detected at the right commit, problem kinds seen).
type Tally = BTreeMap<&'static str, (u64, u64, BTreeMap<String, u64>)>;

async fn campaign<S: Store, R: Raw>(
    ledger: &Ledger<S>,
    raw: &R,
    mutations: u64,
    seed: u64,
) -> Tally {
    // Two dialogues with the same history shape, stored with their key and projected graph.
    let steps: Vec<Step> = (0..8u64)
        .map(|i| Step::from_pick(i.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ seed))
        .collect();
    let memory_a = dialogue("tamper-a", &steps);
    let memory_b = dialogue("tamper-b", &steps);
    for memory in [&memory_a, &memory_b] {
        let d = &memory.graph.dialogue;
        let wrapped = campaign_master().wrap_key(d, 1, &memory.key, &mut OsEntropy);
        ledger
            .store()
            .put_wrapped_key(d, 1, &wrapped)
            .await
            .unwrap();
        for row in rows_of(memory) {
            ledger.store().append(d, &row, None).await.unwrap();
        }
        Projector::new(ledger.store()).catch_up(d).await.unwrap();
    }
    let d = memory_a.graph.dialogue.clone();
    let a = rows_of(&memory_a);
    let b = rows_of(&memory_b);
    assert!(
        a.len() >= 6,
        "a history long enough to mutate: {} commits",
        a.len()
    );
    let digest = ledger.digest(&d).await.unwrap();
    let against_digest = AuditOptions {
        digest: Some(digest.clone()),
        from_checkpoint: false,
        trust: ledger.trust(),
    };
    let alone = AuditOptions {
        trust: ledger.trust(),
        ..AuditOptions::default()
    };
    let clean = ledger.audit(&d, &against_digest).await.unwrap();
    assert!(
        clean.is_clean() && clean.sealed_fields_opened > 10,
        "{clean:?}"
    );

    let mut rng = Rng(seed);
    let mut tally = Tally::new();
    for _ in 0..mutations {
        let mutation = mutate(&mut rng, &d, &a, &b);
        write_rows(raw, &d, &a, &mutation.rows).await;
        let report = ledger
            .audit(
                &d,
                if mutation.rechained {
                    &alone
                } else {
                    &against_digest
                },
            )
            .await
            .unwrap();
        write_rows(raw, &d, &mutation.rows, &a).await;
        let entry = tally.entry(mutation.name).or_default();
        entry.0 += 1;
        if report
            .problems
            .iter()
            .any(|p| p.commit == mutation.expected)
        {
            entry.1 += 1;
        }
        for problem in report
            .problems
            .iter()
            .filter(|p| p.commit == mutation.expected)
        {
            *entry.2.entry(problem.kind.to_string()).or_default() += 1;
        }
        assert!(
            report
                .problems
                .iter()
                .any(|p| p.commit == mutation.expected),
            "{} (expected at commit {}) was not named: {report:?}",
            mutation.name,
            mutation.expected
        );
    }
    // Everything put back: clean again.
    assert!(ledger.audit(&d, &against_digest).await.unwrap().is_clean());
    tally
}

fn print(backend: &str, tally: &Tally) {
    let (tried, detected) = tally.values().fold((0, 0), |(t, d), e| (t + e.0, d + e.1));
    println!(
        "tamper campaign on {backend}: {tried} mutations, {detected} detected at the right commit"
    );
    for (name, (t, d, kinds)) in tally {
        println!("  {name}: {d}/{t} — {kinds:?}");
    }
}

/// The campaign's master key: the ledgers are opened with it, and the in-memory dialogues' data
/// keys are wrapped under it.
fn campaign_master() -> &'static MasterKey {
    static MASTER: std::sync::OnceLock<MasterKey> = std::sync::OnceLock::new();
    MASTER.get_or_init(|| MasterKey::new(SecretKey::generate(&mut OsEntropy)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_is_detected_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ledger.db");
    let store = SqliteStore::open(&path).unwrap();
    let ledger = Ledger::new(store, Box::new(campaign_master().clone()), "campaign key")
        .with_signer(dlg_tests::signer());
    let raw = RawSqlite(std::sync::Mutex::new(
        rusqlite::Connection::open(&path).unwrap(),
    ));
    let tally = campaign(&ledger, &raw, 8_000, 0x5EED_0001).await;
    print("SQLite", &tally);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_mutation_is_detected_on_dynamodb_local() {
    let endpoint = dlg_tests::shared_dynamodb().to_owned();
    let tables = dlg_tests::fresh_tables(&endpoint, "tamper").await;
    let store = DynamoStore::clone(&tables);
    let ledger = Ledger::new(
        store.clone(),
        Box::new(campaign_master().clone()),
        "campaign key",
    )
    .with_signer(dlg_tests::signer());
    let raw = RawDynamo(store);
    let tally = campaign(&ledger, &raw, 2_000, 0x5EED_0002).await;
    print("DynamoDB Local", &tally);
}
