//! Format 2 against an attacker with write access to the store (the SQLite file, or the DynamoDB
//! tables written item by item) and none of the writer's secrets: a forged commit, a rewritten
//! and re-chained history, a truncated store, a deleted dialogue. Each is reported by `dlg audit`
//! at the right commit with the right kind, with and without the master key, and the writer
//! refuses to append onto it. Checkpoints written by `dlg checkpoint` verify with the
//! `signed_note` crate's verifier. Every attack runs on both stores.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use dlg_core::chain;
use dlg_core::commit::Commit;
use dlg_store::dynamodb::DynamoConfig;
use dlg_tests::Sandbox;
use rusqlite::{Connection, params};
use serde_json::{Value, json};

use crate::requests::*;

const PK: &str = "D#pm-repo-sync";

/// Where the ledger is, as the attacker reaches it.
enum Backend {
    Sqlite,
    Dynamo {
        config: DynamoConfig,
        prefix: String,
        client: aws_sdk_dynamodb::Client,
        runtime: std::sync::Arc<tokio::runtime::Runtime>,
        _tables: std::sync::Arc<dlg_tests::DropTables>,
    },
}

/// A writer's (or an auditor's) data directory over one store.
struct Target {
    sandbox: Sandbox,
    backend: Backend,
}

impl Target {
    /// The sample dialogue recorded by `dlg` (three commits) on SQLite or DynamoDB Local.
    fn recorded(dynamodb: bool) -> Self {
        let backend = if dynamodb {
            let endpoint = dlg_tests::shared_dynamodb().to_owned();
            let prefix = dlg_tests::unique_prefix("forgery");
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let config = DynamoConfig::with_prefix(Some(endpoint.clone()), "us-east-1", &prefix);
            let client = runtime.block_on(async {
                aws_sdk_dynamodb::Client::new(
                    &dlg_store::aws::sdk_config("us-east-1", Some(&endpoint)).await,
                )
            });
            Backend::Dynamo {
                _tables: std::sync::Arc::new(dlg_tests::DropTables::with_prefix(
                    &endpoint, &prefix,
                )),
                config,
                prefix,
                client,
                runtime: std::sync::Arc::new(runtime),
            }
        } else {
            Backend::Sqlite
        };
        let target = Self {
            sandbox: Sandbox::new(),
            backend,
        };
        if dynamodb {
            target.json(&["init-tables"], None);
        }
        target.json(&["create", "-"], Some(&create()));
        target.json(&["round", DIALOGUE], Some(&round_zero()));
        target.json(&["round", DIALOGUE], Some(&round_one()));
        target
    }

    /// `dlg` on this data directory and store.
    fn dlg(&self) -> assert_cmd::Command {
        let mut command = self.sandbox.dlg();
        if let Backend::Dynamo { prefix, .. } = &self.backend {
            command
                .env("DLG_STORE", "dynamodb")
                .env("DLG_DYNAMODB_ENDPOINT", dlg_tests::shared_dynamodb())
                .env("DLG_TABLE_PREFIX", prefix)
                .env("DLG_PROJECTOR", "inline");
        }
        command
    }

    fn json(&self, args: &[&str], stdin: Option<&Value>) -> Value {
        json_of(self.dlg(), args, stdin)
    }

    fn path(&self, name: &str) -> String {
        self.sandbox.home.path().join(name).display().to_string()
    }

    /// Another machine's data directory over the same ledger (for SQLite, a copy of the file
    /// with the WAL folded in) and nothing else: no master key, no signing key, no marks.
    fn auditor(&self) -> Self {
        let auditor = Sandbox::new();
        let backend = match &self.backend {
            Backend::Sqlite => {
                let db = self.sqlite();
                db.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
                drop(db);
                std::fs::copy(self.sandbox.database(), auditor.database()).unwrap();
                Backend::Sqlite
            }
            Backend::Dynamo {
                config,
                prefix,
                client,
                runtime,
                _tables,
            } => Backend::Dynamo {
                config: config.clone(),
                prefix: prefix.clone(),
                client: client.clone(),
                runtime: runtime.clone(),
                _tables: _tables.clone(),
            },
        };
        Self {
            sandbox: auditor,
            backend,
        }
    }

    fn sqlite(&self) -> Connection {
        Connection::open(self.sandbox.database()).unwrap()
    }

    /// Every commit of the dialogue as stored: (number, bytes, hash).
    fn rows(&self) -> Vec<(u64, Vec<u8>, Vec<u8>)> {
        match &self.backend {
            Backend::Sqlite => {
                let db = self.sqlite();
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
            Backend::Dynamo { .. } => self
                .items(Table::Events)
                .iter()
                .map(|item| {
                    let sk = string(item, "sk");
                    (
                        sk[2..].parse().unwrap(),
                        blob(item, "commit"),
                        blob(item, "hash"),
                    )
                })
                .collect(),
        }
    }

    /// Writes commit `number` with `bytes` and `hash` directly into the store: a new commit
    /// without a signature, or a rewritten one keeping the signature stored beside it.
    fn put(&self, number: u64, bytes: &[u8], hash: &[u8]) {
        let sk = format!("C#{number:010}");
        match &self.backend {
            Backend::Sqlite => {
                self.sqlite()
                    .execute(
                        "INSERT INTO events (pk, sk, commit_bytes, hash) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (pk, sk) DO UPDATE
                         SET commit_bytes = excluded.commit_bytes, hash = excluded.hash",
                        params![PK, sk, bytes, hash],
                    )
                    .unwrap();
            }
            Backend::Dynamo {
                config,
                client,
                runtime,
                ..
            } => {
                let mut item = self
                    .items(Table::Events)
                    .into_iter()
                    .find(|item| string(item, "sk") == sk)
                    .unwrap_or_else(|| {
                        HashMap::from([
                            ("pk".to_owned(), AttributeValue::S(PK.to_owned())),
                            ("sk".to_owned(), AttributeValue::S(sk.clone())),
                        ])
                    });
                item.insert("commit".to_owned(), AttributeValue::B(Blob::new(bytes)));
                item.insert("hash".to_owned(), AttributeValue::B(Blob::new(hash)));
                runtime
                    .block_on(
                        client
                            .put_item()
                            .table_name(&config.events_table)
                            .set_item(Some(item))
                            .send(),
                    )
                    .unwrap();
            }
        }
    }

    /// Deletes commits numbered `from` and later (all of them from 1), and the dialogue's graph.
    fn delete_from(&self, from: u64) {
        match &self.backend {
            Backend::Sqlite => {
                let db = self.sqlite();
                db.execute(
                    "DELETE FROM events WHERE pk = ?1 AND sk >= ?2",
                    params![PK, format!("C#{from:010}")],
                )
                .unwrap();
                db.execute("DELETE FROM graph WHERE pk = ?1", params![PK])
                    .unwrap();
            }
            Backend::Dynamo {
                config,
                client,
                runtime,
                ..
            } => {
                let doomed = self
                    .items(Table::Events)
                    .into_iter()
                    .filter(|item| string(item, "sk") >= format!("C#{from:010}"))
                    .map(|item| (config.events_table.clone(), item))
                    .chain(
                        self.items(Table::Graph)
                            .into_iter()
                            .map(|item| (config.graph_table.clone(), item)),
                    );
                for (table, item) in doomed {
                    runtime
                        .block_on(
                            client
                                .delete_item()
                                .table_name(table)
                                .key("pk", item["pk"].clone())
                                .key("sk", item["sk"].clone())
                                .send(),
                        )
                        .unwrap();
                }
            }
        }
    }

    /// The dialogue's items of one DynamoDB table, in sort-key order.
    fn items(&self, table: Table) -> Vec<HashMap<String, AttributeValue>> {
        let Backend::Dynamo {
            config,
            client,
            runtime,
            ..
        } = &self.backend
        else {
            unreachable!("DynamoDB items of a SQLite target")
        };
        let name = match table {
            Table::Events => &config.events_table,
            Table::Graph => &config.graph_table,
        };
        runtime
            .block_on(
                client
                    .query()
                    .table_name(name)
                    .key_condition_expression("pk = :pk")
                    .expression_attribute_values(":pk", AttributeValue::S(PK.to_owned()))
                    .consistent_read(true)
                    .send(),
            )
            .unwrap()
            .items
            .unwrap_or_default()
    }

    /// `dlg --json audit ARGS`, expecting `code`; the problems of the first report as (commit,
    /// kind).
    fn audit(&self, args: &[&str], code: i32) -> (Vec<(u64, String)>, Value) {
        let assert = self
            .dlg()
            .args(["--json", "audit"])
            .args(args)
            .assert()
            .code(code);
        let reports: Value = serde_json::from_slice(&assert.get_output().stdout).unwrap();
        (problems_of(&reports[0]), reports)
    }

    /// An append the writer must refuse, with the JSON error kind it names.
    fn refused_append(&self) -> String {
        error_kind(self.dlg(), &["dialogue-status", DIALOGUE, "converging"])
    }

    /// Moves the master key away: the writer's machine without its content key.
    fn lose_master_key(&self) {
        std::fs::rename(self.path("master.key"), self.path("master.key.away")).unwrap();
    }

    fn signer_key(&self) -> Value {
        self.json(&["signer"], None)
    }

    fn checkpoint(&self, name: &str) -> String {
        let path = self.path(name);
        self.json(&["checkpoint", DIALOGUE, "--out", &path], None);
        path
    }
}

#[derive(Clone, Copy)]
enum Table {
    Events,
    Graph,
}

fn string(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    item[name].as_s().unwrap().clone()
}

fn blob(item: &HashMap<String, AttributeValue>, name: &str) -> Vec<u8> {
    item[name].as_b().unwrap().as_ref().to_vec()
}

/// Runs one attack on both stores.
macro_rules! on_both_stores {
    ($($attack:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $attack() { super::$attack(super::Target::recorded(false)); })*
        }
        mod dynamodb {
            $(#[test] fn $attack() { super::$attack(super::Target::recorded(true)); })*
        }
    };
}

on_both_stores!(
    a_keyless_forged_commit_is_found_with_and_without_the_master_key,
    rewritten_clear_structure_rechained_fails_its_signature,
    a_truncated_store_is_refused_and_reported,
    a_deleted_dialogue_is_reported_missing,
    audit_without_keys_verifies_signatures_and_checkpoints,
);

/// The keyless forger: a `DialogueStatusChanged` to converged (no sealed content), numbered and
/// linked correctly, with no signature.
fn a_keyless_forged_commit_is_found_with_and_without_the_master_key(target: Target) {
    let rows = target.rows();
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
    target.put(head + 1, &bytes, &hash);
    let (problems, _) = target.audit(&[DIALOGUE], 5);
    assert_eq!(problems, vec![(head + 1, "missing_signature".to_owned())]);
    assert_eq!(target.refused_append(), "tampered");

    // Without the master key, the same finding.
    target.lose_master_key();
    let (problems, _) = target.audit(&[DIALOGUE], 5);
    assert_eq!(problems, vec![(head + 1, "missing_signature".to_owned())]);
}

/// Clear structure rewritten (an actor) and the whole chain re-hashed from genesis.
fn rewritten_clear_structure_rechained_fails_its_signature(target: Target) {
    let mut previous = chain::genesis(&dlg_core::ids::DialogueId::parse(DIALOGUE).unwrap());
    for (number, bytes, _) in target.rows() {
        let bytes = if number == 2 {
            actor_rewritten(bytes)
        } else {
            bytes
        };
        previous = chain::link(&previous, &bytes);
        target.put(number, &bytes, &previous);
    }
    // The signature fails at the rewritten commit; the writer's high-water mark also sees that
    // the head it wrote is not the head stored.
    let (problems, _) = target.audit(&[DIALOGUE], 5);
    assert_eq!(
        problems,
        vec![(2, "bad_signature".to_owned()), (3, "forked".to_owned())]
    );
    assert_eq!(target.refused_append(), "tampered");
    // An auditor without the master key or the mark, pinned to the writer's key: the same
    // signature failure.
    let key = target.signer_key()["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let (problems, _) = target.auditor().audit(&["--trust", &key, DIALOGUE], 5);
    assert_eq!(problems, vec![(2, "bad_signature".to_owned())]);
}

/// The last commit deleted (what putting back an older copy of the store amounts to): the
/// writer's high-water mark (outside the store) catches it; a signed checkpoint held by an
/// auditor too.
fn a_truncated_store_is_refused_and_reported(target: Target) {
    let checkpoint = target.checkpoint("auditor.checkpoint");
    // The checkpoint verifies with an implementation of C2SP signed notes we did not write.
    let signer = target.signer_key();
    let verifier =
        signed_note::StandardVerifier::new(signer["verifier_key"].as_str().unwrap()).unwrap();
    let note = signed_note::Note::from_bytes(&std::fs::read(&checkpoint).unwrap()).unwrap();
    let (verified, _) = note
        .verify(&signed_note::VerifierList::new(vec![Box::new(verifier)]))
        .unwrap();
    assert_eq!(verified.len(), 1);
    let text = String::from_utf8(note.text().to_vec()).unwrap();
    assert!(text.starts_with("dlg-ledger/pm-repo-sync\n3\n"), "{text}");

    target.delete_from(3);
    assert_eq!(target.refused_append(), "rolled_back");
    let (problems, _) = target.audit(&[DIALOGUE], 5);
    assert_eq!(problems, vec![(3, "rolled_back".to_owned())]);
    // The auditor's checkpoint, pinned to the writer's key, says the same with no master key and
    // no high-water mark (another machine).
    let key = signer["public_key"].as_str().unwrap();
    let (problems, _) = target
        .auditor()
        .audit(&["--trust", key, "--checkpoint", &checkpoint], 5);
    assert_eq!(problems, vec![(3, "rolled_back".to_owned())]);
}

/// A whole dialogue deleted from the store is reported by the audit of the writer that holds
/// its mark, and by an auditor that holds its checkpoint.
fn a_deleted_dialogue_is_reported_missing(target: Target) {
    let checkpoint = target.checkpoint("held.checkpoint");
    let key = target.signer_key()["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    target.delete_from(1);
    let (problems, _) = target.audit(&[], 5);
    assert_eq!(problems, vec![(3, "missing_dialogue".to_owned())]);
    let (problems, _) = target
        .auditor()
        .audit(&["--trust", &key, "--checkpoint", &checkpoint], 5);
    assert_eq!(problems, vec![(3, "missing_dialogue".to_owned())]);
}

/// With no master key at all, and after shredding: chain, signatures and checkpoints verify,
/// content is reported as not checked, exit 0; a key pinned that did not sign is refused.
fn audit_without_keys_verifies_signatures_and_checkpoints(target: Target) {
    let checkpoint = target.checkpoint("c.checkpoint");
    let key = target.signer_key()["public_key"]
        .as_str()
        .unwrap()
        .to_owned();
    let auditor = target.auditor();
    let (problems, reports) = auditor.audit(&["--trust", &key, "--checkpoint", &checkpoint], 0);
    assert!(problems.is_empty());
    assert_eq!(reports[0]["content_checked"], false);
    assert_eq!(reports[0]["pinned"], true);
    assert_eq!(reports[0]["signers"], json!([key]));
    assert!(!auditor.sandbox.home.path().join("master.key").exists());
    assert!(!auditor.sandbox.home.path().join("signing.key").exists());
    // Unpinned, the audit passes and names the key it verified against.
    let (_, reports) = auditor.audit(&[DIALOGUE], 0);
    assert_eq!(reports[0]["pinned"], false);
    // A pinned key that did not sign is refused at commit 1.
    let stranger = "11".repeat(32);
    let (problems, _) = auditor.audit(&["--trust", &stranger, DIALOGUE], 5);
    assert_eq!(problems, vec![(1, "untrusted_signer".to_owned())]);
    // After shredding, the same keyless audit still passes.
    target
        .dlg()
        .args(["shred", DIALOGUE, "--yes"])
        .assert()
        .success();
    let (problems, reports) = target.audit(&["--trust", &key, DIALOGUE], 0);
    assert!(problems.is_empty());
    assert_eq!(reports[0]["shredded"], true);
}
