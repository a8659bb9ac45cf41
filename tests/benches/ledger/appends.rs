//! Sections 2 and 3: appends against raw writes of the same bytes, on SQLite and DynamoDB
//! Local, and against a peer design with one item per event.

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use dlg_core::commit::Commit;
use dlg_core::ids::DialogueId;
use dlg_core::seal::{MasterKey, SecretKey};
use dlg_store::dynamodb::DynamoStore;
use dlg_store::sqlite::SqliteStore;
use dlg_store::{EventStore, Store};
use dlg_tests::RequestLog;
use dlg_writer::keys::OsEntropy;
use dlg_writer::ledger::{Ledger, Projection, WriteOptions};
use serde_json::json;

use crate::dialogues::*;
use crate::harness::*;

/// Creates a dialogue and appends `warmup + samples` realistic rounds to it, timing the samples.
pub(crate) async fn append_rounds<S: Store>(
    ledger: &Ledger<S>,
    warmup: usize,
    samples: usize,
) -> (DialogueId, Stats) {
    let options = WriteOptions::by("bench");
    let receipt = ledger.create_dialogue(&create(), &options).await.unwrap();
    let dialogue = DialogueId::parse(&receipt.dialogue).unwrap();
    let stats = time_async(warmup, samples, |i| {
        let command = round(u8::try_from(i).unwrap());
        let dialogue = &dialogue;
        let options = &options;
        async move {
            ledger.execute(dialogue, &command, options).await.unwrap();
        }
    })
    .await;
    (dialogue, stats)
}

/// A bare SQLite table for commit bytes with the ledger's durability (WAL, synchronous = FULL).
pub(crate) fn raw_sqlite(path: &std::path::Path) -> rusqlite::Connection {
    let raw = rusqlite::Connection::open(path).unwrap();
    raw.pragma_update(None, "journal_mode", "WAL").unwrap();
    raw.pragma_update(None, "synchronous", "FULL").unwrap();
    raw.execute_batch("CREATE TABLE events (pk TEXT NOT NULL, sk TEXT NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (pk, sk))")
        .unwrap();
    raw
}

pub(crate) async fn sqlite_appends(mode: Mode, section: &mut Section) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ledger.db")).unwrap();
    let ledger = Ledger::new(
        store,
        Box::new(MasterKey::new(SecretKey::generate(&mut OsEntropy))),
        "bench key",
    )
    .with_signer(dlg_tests::signer());
    let samples = mode.samples(60);
    let (dialogue, ours) = append_rounds(&ledger, mode.warmup(5), samples).await;
    let size = ledger.store().commits(&dialogue, 2).await.unwrap()[0]
        .bytes
        .len();

    // A bare insert of the same bytes with the same durability (WAL, synchronous = FULL).
    let raw = raw_sqlite(&dir.path().join("raw.db"));
    let payload = vec![b'x'; size];
    let mut n = 0u64;
    let limit = time(mode.warmup(5), samples, || {
        n += 1;
        raw.execute(
            "INSERT INTO events (pk, sk, bytes) VALUES ('D#raw', ?1, ?2)",
            rusqlite::params![format!("C#{n:010}"), payload],
        )
        .unwrap();
    });
    section.timed(
        &format!("SQLite: append a round ({size} bytes), p50"),
        ours.median,
        limit.median,
        "baseline: one INSERT of the same bytes, WAL, synchronous=FULL; dlg also reads every earlier commit of the dialogue and folds it to validate the round (the dialogue grows to 65 rounds during the run), seals, appends, and projects the new commit into the graph table in-process",
    );
    section.timed(
        "SQLite: append a round, p99",
        ours.p99,
        limit.p99,
        "the tail is the fsync of the WAL in both",
    );
}

pub(crate) async fn dynamo_store(test: &str, log: Option<&RequestLog>) -> dlg_tests::TestTables {
    dlg_tests::fresh_tables_with(dlg_tests::shared_dynamodb(), test, log).await
}

pub(crate) async fn dynamodb_appends(mode: Mode, section: &mut Section, peer: &mut Section) {
    let tables = dynamo_store("bench-append", None).await;
    let store = DynamoStore::clone(&tables);
    let ledger = Ledger::new(
        store.clone(),
        Box::new(MasterKey::new(SecretKey::generate(&mut OsEntropy))),
        "bench key",
    )
    .with_signer(dlg_tests::signer())
    .with_projection(Projection::Stream);
    let samples = mode.samples(60);
    let (dialogue, ours) = append_rounds(&ledger, mode.warmup(5), samples).await;
    let rows = store.commits(&dialogue, 2).await.unwrap();
    let size = rows[0].bytes.len();
    let client = store.client().clone();
    let table = store.config().events_table.clone();

    // A bare conditional PutItem of an item of the same size: one round trip, the limit.
    let payload = aws_sdk_dynamodb::primitives::Blob::new(vec![b'x'; size]);
    let limit = time_async(mode.warmup(5), samples, |i| {
        let put = client
            .put_item()
            .table_name(&table)
            .item("pk", AttributeValue::S("D#raw-put".to_owned()))
            .item("sk", AttributeValue::S(format!("C#{i:010}")))
            .item("bytes", AttributeValue::B(payload.clone()))
            .condition_expression("attribute_not_exists(sk)");
        async move {
            put.send().await.unwrap();
        }
    })
    .await;
    section.timed(
        &format!("DynamoDB Local: append a round ({size} bytes), p50"),
        ours.median,
        limit.median,
        "baseline: one conditional PutItem of the same size; dlg first reads every earlier commit (paged Queries, growing with the dialogue) and the wrapped key, folds and validates, then makes its one conditional PutItem",
    );
    section.timed(
        "DynamoDB Local: append a round, p99",
        ours.p99,
        limit.p99,
        "DynamoDB Local's own latency dominates the tail",
    );

    // The peer design (cqrs-es / dynamo-es): one item per event, all in one TransactWriteItems.
    let commit = Commit::decode(&rows[0].bytes).unwrap();
    let events: Vec<Vec<u8>> = commit
        .events
        .iter()
        .map(|e| {
            serde_json::to_vec(
                &json!({"seq": e.seq, "sealed": e.sealed.as_ref().map(|s| s.ciphertext.len())}),
            )
            .unwrap()
        })
        .collect();
    let per_event = size / events.len().max(1);
    let transact = time_async(mode.warmup(5), samples, |i| {
        let writes: Vec<TransactWriteItem> = (0..events.len())
            .map(|seq| {
                let put = Put::builder()
                    .table_name(&table)
                    .item("pk", AttributeValue::S(format!("D#peer-{i}")))
                    .item("sk", AttributeValue::S(format!("E#{seq:010}")))
                    .item(
                        "event_type",
                        AttributeValue::S("PerspectiveAdded".to_owned()),
                    )
                    .item("event_version", AttributeValue::S("1.0".to_owned()))
                    .item(
                        "payload",
                        AttributeValue::B(aws_sdk_dynamodb::primitives::Blob::new(vec![
                            b'x';
                            per_event
                        ])),
                    )
                    .condition_expression("attribute_not_exists(sk)")
                    .build()
                    .unwrap();
                TransactWriteItem::builder().put(put).build()
            })
            .collect();
        let request = client
            .transact_write_items()
            .set_transact_items(Some(writes));
        async move {
            request.send().await.unwrap();
        }
    })
    .await;
    peer.timed(
        &format!(
            "store one round: dlg's one item vs {} items in one TransactWriteItems, p50",
            events.len()
        ),
        limit.median,
        transact.median,
        "ratio below 1 means dlg is faster: one 20 KB PutItem against a transaction of one item per event (two-phase, each item a write)",
    );
    peer.timed(
        "dlg's whole append vs the peer's bare transaction, p50",
        ours.median,
        transact.median,
        "dlg's append includes its reads and validation; the peer's figure is the write alone",
    );
    peer.note(format!(
        "Write units per round: dlg {} (one item of {size} bytes, 1 WCU per KB); the peer design {} (a transactional write costs 2 WCU per KB per item).",
        size.div_ceil(1024),
        2 * events.len() * per_event.div_ceil(1024).max(1)
    ));
}
