//! The ledger's benchmark suite, side by side with the limits and the alternatives.
//!
//! `cargo bench -p dlg-tests --bench ledger` runs every section on this machine and writes
//! `BENCHMARKS.md`; `cargo bench -p dlg-tests --bench ledger -- --quick` runs each section with
//! few samples and prints the table only (CI runs it to keep the suite from rotting).
//!
//! Timings on shared machines are noisy, so every figure is printed next to a baseline measured
//! in the same run, as the ratio of medians (after warm-up runs). Nothing here asserts a time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark fails loudly on purpose"
)]

use std::fmt::Write as _;
use std::future::Future;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use dlg_core::append::{AppendContext, prepare};
use dlg_core::command::{Command, CreateDialogue};
use dlg_core::commit::{Commit, EncodedCommit};
use dlg_core::graph::Graph;
use dlg_core::ids::DialogueId;
use dlg_core::query::Direction;
use dlg_core::seal::{MasterKey, SecretKey};
use dlg_core::testing::MemoryLedger;
use dlg_core::testing::random::given_panel;
use dlg_projector::stream;
use dlg_store::CommitRow;
use dlg_store::dynamodb::DynamoStore;
use dlg_store::sqlite::SqliteStore;
use dlg_store::{EventStore, KeyStore as _, Store};
use dlg_tests::RequestLog;
use dlg_writer::keys::OsEntropy;
use dlg_writer::ledger::{Ledger, Projection, WriteOptions};
use serde_json::json;

/// How long to run: `--quick` takes a few samples of each, the full run enough for a p99.
#[derive(Debug, Clone, Copy)]
struct Mode {
    quick: bool,
}

impl Mode {
    fn samples(self, full: usize) -> usize {
        if self.quick { full.min(5) } else { full }
    }

    fn warmup(self, full: usize) -> usize {
        if self.quick { 1 } else { full }
    }
}

/// Median and 99th percentile of a set of timings.
#[derive(Debug, Clone, Copy)]
struct Stats {
    median: Duration,
    p99: Duration,
}

fn stats(mut timings: Vec<Duration>) -> Stats {
    assert!(!timings.is_empty(), "no samples");
    timings.sort();
    let at =
        |q: f64| timings[((timings.len() as f64 * q).ceil() as usize).clamp(1, timings.len()) - 1];
    Stats {
        median: timings[timings.len() / 2],
        p99: at(0.99),
    }
}

fn time<F: FnMut()>(warmup: usize, samples: usize, mut run: F) -> Stats {
    for _ in 0..warmup {
        run();
    }
    stats(
        (0..samples)
            .map(|_| {
                let start = Instant::now();
                run();
                start.elapsed()
            })
            .collect(),
    )
}

async fn time_async<F, Fut>(warmup: usize, samples: usize, mut run: F) -> Stats
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    for i in 0..warmup {
        run(i).await;
    }
    let mut timings = Vec::with_capacity(samples);
    for i in warmup..warmup + samples {
        let start = Instant::now();
        run(i).await;
        timings.push(start.elapsed());
    }
    stats(timings)
}

fn show(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1_000.0 {
        format!("{micros:.1} µs")
    } else if micros < 1_000_000.0 {
        format!("{:.2} ms", micros / 1_000.0)
    } else {
        format!("{:.2} s", micros / 1e6)
    }
}

fn ratio(ours: Duration, baseline: Duration) -> String {
    format!(
        "{:.2}×",
        ours.as_secs_f64() / baseline.as_secs_f64().max(1e-12)
    )
}

/// One section of the report: a table and a sentence per row on where the time goes.
#[derive(Debug, Default)]
struct Section {
    title: String,
    rows: Vec<[String; 5]>,
    notes: Vec<String>,
}

impl Section {
    fn new(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            ..Self::default()
        }
    }

    fn row(&mut self, what: &str, ours: String, baseline: String, ratio: String, note: &str) {
        self.rows
            .push([what.to_owned(), ours, baseline, ratio, note.to_owned()]);
    }

    /// A row of two timings and their ratio.
    fn timed(&mut self, what: &str, ours: Duration, baseline: Duration, note: &str) {
        self.row(
            what,
            show(ours),
            show(baseline),
            ratio(ours, baseline),
            note,
        );
    }

    fn note(&mut self, note: String) {
        self.notes.push(note);
    }

    fn markdown(&self) -> String {
        let mut out = format!("## {}\n\n", self.title);
        out.push_str(
            "| measured | dlg | baseline | ratio | where the time goes |\n|---|---|---|---|---|\n",
        );
        for [what, ours, baseline, ratio, note] in &self.rows {
            let _ = writeln!(out, "| {what} | {ours} | {baseline} | {ratio} | {note} |");
        }
        for note in &self.notes {
            let _ = writeln!(out, "\n{note}");
        }
        out.push('\n');
        out
    }
}

/// A realistic round: 16 perspectives, 8 tensions and 6 recommendations with argument-length
/// content, and 10 references between them — about 40 events and 20 KB stored.
fn round(number: u8) -> Command {
    let argument =
        "The argument, with its premises, the evidence cited and the trade-off it accepts. ";
    let experts = ["MUFFIN", "CUPCAKE", "SCONE"];
    let perspectives: Vec<_> = (1..=16u8)
        .map(|i| {
            json!({"id": format!("{}-P{number:02}{i:02}", experts[usize::from(i) % 3]),
                   "label": format!("perspective {i} of round {number}"),
                   "content": argument.repeat(6)})
        })
        .collect();
    let tensions: Vec<_> = (1..=8u8)
        .map(|i| {
            json!({"id": format!("{}-T{number:02}{i:02}", experts[usize::from(i) % 3]),
                   "label": format!("tension {i}"), "description": argument.repeat(3)})
        })
        .collect();
    let recommendations: Vec<_> = (1..=6u8)
        .map(|i| {
            json!({"id": format!("{}-R{number:02}{i:02}", experts[usize::from(i) % 3]),
                   "label": format!("recommendation {i}"), "content": argument.repeat(2),
                   "parameters": {"rollout": "staged", "weight": i}})
        })
        .collect();
    let references: Vec<_> = (2..=11u8)
        .map(|i| {
            json!({"source": format!("{}-P{number:02}{i:02}", experts[usize::from(i) % 3]),
                   "type": "support", "target": format!("{}-P{number:02}01", experts[1])})
        })
        .collect();
    serde_json::from_value(json!({
        "command": "register_round", "round": number, "title": format!("Round {number}"),
        "score": 50.0, "summary": "synthesis of the round",
        "perspectives": perspectives, "tensions": tensions,
        "recommendations": recommendations, "references": references,
    }))
    .unwrap()
}

fn create() -> CreateDialogue {
    serde_json::from_value(json!({
        "title": "Benchmark dialogue",
        "question": "How fast is the ledger next to its limits?",
        "experts": [{"slug": "muffin", "role": "Architect"}, {"slug": "cupcake", "role": "Domain"},
                    {"slug": "scone", "role": "Data"}]
    }))
    .unwrap()
}

/// A dialogue of `rounds` realistic rounds, in memory.
fn dialogue(id: &str, rounds: u8) -> MemoryLedger {
    let mut ledger = given_panel(id, 7);
    for number in 0..rounds {
        ledger.run(&round(number)).unwrap();
    }
    ledger
}

fn row_of(commit: &EncodedCommit) -> CommitRow {
    CommitRow {
        number: commit.commit.header.commit,
        bytes: commit.bytes.clone(),
        hash: commit.hash,
    }
}

/// XChaCha20-Poly1305 over every sealed field's plaintext length and blake3 over the commit:
/// the work no implementation of the format can skip.
fn primitives(commit: &Commit, bytes: &[u8], key: &[u8; 32]) {
    let cipher = XChaCha20Poly1305::new(key.into());
    let nonce = XNonce::from([7u8; 24]);
    for event in &commit.events {
        if let Some(sealed) = &event.sealed {
            let plain = vec![0u8; sealed.ciphertext.len() - 16];
            let out = cipher
                .encrypt(
                    &nonce,
                    Payload {
                        msg: &plain,
                        aad: b"dialogue:d/event:1/entity:x/y",
                    },
                )
                .unwrap();
            std::hint::black_box(out);
        }
    }
    std::hint::black_box(blake3::hash(bytes));
}

/// The same, opening instead of sealing (what an audit must do at least).
fn primitives_open(ciphertexts: &[(Vec<u8>, Vec<u8>)], bytes: &[&[u8]], key: &[u8; 32]) {
    let cipher = XChaCha20Poly1305::new(key.into());
    let nonce = XNonce::from([7u8; 24]);
    for (aad, ciphertext) in ciphertexts {
        let _ = std::hint::black_box(cipher.decrypt(
            &nonce,
            Payload {
                msg: ciphertext,
                aad,
            },
        ));
    }
    let mut hash = [0u8; 32];
    for b in bytes {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&hash);
        hasher.update(b);
        hash = *hasher.finalize().as_bytes();
    }
    std::hint::black_box(hash);
}

fn sealing(mode: Mode) -> Section {
    let mut section = Section::new("1. Sealing and chaining a round vs the primitives");
    let ledger = given_panel("bench-seal", 3);
    let command = round(0);
    let mut entropy = OsEntropy;
    let context = AppendContext {
        actor: "bench",
        time: "2026-11-24T10:00:00Z",
        idempotency_key: Some("bench-key"),
        key: &ledger.key,
        key_version: 1,
    };
    let sample = prepare(&ledger.graph, &command, &context, &mut entropy).unwrap();
    let (events, size) = (sample.commit.events.len(), sample.bytes.len());
    let ours = time(mode.warmup(20), mode.samples(200), || {
        std::hint::black_box(prepare(&ledger.graph, &command, &context, &mut entropy).unwrap());
    });
    let key = *ledger.key.expose();
    let limit = time(mode.warmup(20), mode.samples(200), || {
        primitives(&sample.commit, &sample.bytes, &key);
    });
    section.timed(
        &format!("decide + seal + encode + chain one round ({events} events, {size} bytes)"),
        ours.median,
        limit.median,
        "baseline: XChaCha20-Poly1305 over each sealed field and blake3 over the commit bytes; dlg adds validation of the round, canonical JSON encoding of 40 events and their addresses",
    );
    section
}

/// Creates a dialogue and appends `warmup + samples` realistic rounds to it, timing the samples.
async fn append_rounds<S: Store>(
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
fn raw_sqlite(path: &std::path::Path) -> rusqlite::Connection {
    let raw = rusqlite::Connection::open(path).unwrap();
    raw.pragma_update(None, "journal_mode", "WAL").unwrap();
    raw.pragma_update(None, "synchronous", "FULL").unwrap();
    raw.execute_batch("CREATE TABLE events (pk TEXT NOT NULL, sk TEXT NOT NULL, bytes BLOB NOT NULL, PRIMARY KEY (pk, sk))")
        .unwrap();
    raw
}

async fn sqlite_appends(mode: Mode, section: &mut Section) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ledger.db")).unwrap();
    let ledger = Ledger::new(
        store,
        Box::new(MasterKey::new(SecretKey::generate(&mut OsEntropy))),
        "bench key",
    );
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

async fn dynamo_store(test: &str, log: Option<&RequestLog>) -> dlg_tests::TestTables {
    dlg_tests::fresh_tables_with(dlg_tests::shared_dynamodb(), test, log).await
}

async fn dynamodb_appends(mode: Mode, section: &mut Section, peer: &mut Section) {
    let tables = dynamo_store("bench-append", None).await;
    let store = DynamoStore::clone(&tables);
    let ledger = Ledger::new(
        store.clone(),
        Box::new(MasterKey::new(SecretKey::generate(&mut OsEntropy))),
        "bench key",
    )
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

async fn projector(mode: Mode) -> Section {
    let mut section = Section::new("4. Projector: the fold alone and through the handler");
    let rounds = if mode.quick { 3 } else { 30 };
    let memory = dialogue("bench-projector", rounds);
    let dialogue_id = memory.graph.dialogue.clone();
    let bytes: Vec<&[u8]> = memory.bytes();
    let events: usize = memory.commits.iter().map(|c| c.commit.events.len()).sum();
    let fold = time(mode.warmup(3), mode.samples(20), || {
        std::hint::black_box(Graph::rebuild(dialogue_id.clone(), bytes.iter().copied()).unwrap());
    });
    let decode = time(mode.warmup(3), mode.samples(20), || {
        for b in &bytes {
            std::hint::black_box(Commit::decode(b).unwrap());
        }
    });
    let per_second = |d: Duration| format!("{:.0} events/s", events as f64 / d.as_secs_f64());
    section.row(
        &format!("fold {events} events ({} commits)", memory.commits.len()),
        per_second(fold.median),
        per_second(decode.median),
        ratio(fold.median, decode.median),
        "baseline: decoding the commits' JSON alone; the fold adds entity, edge and status bookkeeping",
    );

    // End to end: the Lambda's handler over stream records of every commit, into DynamoDB Local.
    let log = RequestLog::default();
    let mut samples = Vec::new();
    let mut requests = Vec::new();
    for run in 0..mode.samples(5) {
        let tables = dynamo_store(&format!("bench-proj-{run}"), Some(&log)).await;
        let store = DynamoStore::clone(&tables);
        for commit in &memory.commits {
            store
                .append(&dialogue_id, &row_of(commit), None)
                .await
                .unwrap();
        }
        let records: Vec<_> = memory
            .commits
            .iter()
            .enumerate()
            .map(|(i, c)| stream::record_of(&dialogue_id, &row_of(c), &format!("{:021}", i + 1)))
            .collect();
        let mut event = aws_lambda_events::event::dynamodb::Event::default();
        event.records = records;
        log.take();
        let start = Instant::now();
        let response = stream::handle(&store, &event).await;
        samples.push(start.elapsed());
        assert!(response.batch_item_failures.is_empty(), "{response:?}");
        requests.push(log.take().len());
    }
    let handler = stats(samples);
    section.row(
        &format!("handler: {} records in one batch into the graph table", memory.commits.len()),
        per_second(handler.median),
        per_second(fold.median),
        ratio(handler.median, fold.median),
        "baseline: the fold alone; the rest is DynamoDB Local: a Query for the checkpoint and items, then conditional TransactWriteItems of ≤100 items",
    );
    let requests = requests[requests.len() / 2];
    section.note(format!(
        "DynamoDB requests per commit through the handler: {:.2} ({requests} requests for {} commits in one batch).",
        requests as f64 / memory.commits.len() as f64,
        memory.commits.len()
    ));
    section
}

async fn audit(mode: Mode) -> Section {
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
    let ledger = Ledger::new(store, Box::new(master), "bench key");
    ledger.rebuild(&dialogue_id).await.unwrap();
    let total: usize = memory.commits.iter().map(|c| c.bytes.len()).sum();
    let events: usize = memory.commits.iter().map(|c| c.commit.events.len()).sum();
    let report = ledger.audit(&dialogue_id, None).await.unwrap();
    assert!(report.is_clean(), "{report:?}");
    let ours = time_async(mode.warmup(2), mode.samples(10), |_| {
        let ledger = &ledger;
        let dialogue_id = &dialogue_id;
        async move {
            std::hint::black_box(ledger.audit(dialogue_id, None).await.unwrap());
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
    let limit = time(mode.warmup(2), mode.samples(10), || {
        primitives_open(&ciphertexts, &bytes, &key);
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
        "baseline: blake3 chain over the stored bytes and one XChaCha20-Poly1305 open per sealed field; the audit also reads the store, decodes JSON, parses each opened field, rebuilds the graph and diffs it with the stored one",
    );
    section
}

/// A dialogue of `entities` entities: rounds of up to 297 (a round holds at most 99 of a kind:
/// 99 perspectives, each supporting the one before it, 99 tensions, each opposing the
/// perspective of its number, and 99 claims), spread over the three experts.
fn sized_dialogue(id: &str, entities: usize) -> MemoryLedger {
    let mut ledger = given_panel(id, 5);
    let experts = ["MUFFIN", "CUPCAKE", "SCONE"];
    let local =
        |kind: char, number: u8, i: usize| format!("{}-{kind}{number:02}{i:02}", experts[i % 3]);
    let mut left = entities;
    let mut number = 0u8;
    while left > 0 {
        let mut take = || {
            let n = left.min(99);
            left -= n;
            n
        };
        let (p, t, c) = (take(), take(), take());
        let perspectives: Vec<_> = (1..=p)
            .map(|i| {
                json!({"id": local('P', number, i), "label": format!("perspective {i}"),
                            "content": "the argument in a sentence or two"})
            })
            .collect();
        let references: Vec<_> = (2..=p)
            .map(|i| json!({"source": local('P', number, i), "type": "support", "target": local('P', number, i - 1)}))
            .collect();
        let tensions: Vec<_> = (1..=t)
            .map(|i| json!({"id": local('T', number, i), "label": format!("tension {i}"),
                            "description": "what does not fit yet",
                            "references": [{"type": "oppose", "target": local('P', number, i.min(p))}]}))
            .collect();
        let claims: Vec<_> = (1..=c)
            .map(|i| json!({"id": local('C', number, i), "label": format!("claim {i}"), "content": "a claim"}))
            .collect();
        let command: Command = serde_json::from_value(json!({
            "command": "register_round", "round": number, "title": format!("Round {number}"),
            "score": 1.0, "perspectives": perspectives, "tensions": tensions, "claims": claims,
            "references": references,
        }))
        .unwrap();
        ledger.run(&command).unwrap();
        number += 1;
    }
    ledger
}

/// The hybrid alternative: entities + refs tables in PostgreSQL, holding the same dialogue.
fn postgres_load(client: &mut postgres::Client, graph: &Graph) {
    client
        .batch_execute(
            "DROP TABLE IF EXISTS entities, refs;
             CREATE TABLE entities (dialogue text NOT NULL, id text NOT NULL, kind text NOT NULL,
               round int NOT NULL, status text NOT NULL, content bytea, PRIMARY KEY (dialogue, id));
             CREATE TABLE refs (dialogue text NOT NULL, source text NOT NULL, type text NOT NULL,
               target text NOT NULL, PRIMARY KEY (dialogue, source, type, target));
             CREATE INDEX refs_by_target ON refs (dialogue, target, type, source);
             CREATE INDEX open_tensions ON entities (dialogue) WHERE kind = 'tension' AND status IN ('open', 'reopened');",
        )
        .unwrap();
    let dialogue = graph.dialogue.to_string();
    let mut tx = client.transaction().unwrap();
    let node = tx
        .prepare("INSERT INTO entities VALUES ($1, $2, $3, $4, $5, $6)")
        .unwrap();
    for item in graph.nodes.values() {
        let content = serde_json::to_vec(&item.content).unwrap();
        tx.execute(
            &node,
            &[
                &dialogue,
                &item.id.to_string(),
                &item.kind.to_string(),
                &i32::from(item.round),
                &item.status.to_string(),
                &content,
            ],
        )
        .unwrap();
    }
    let edge = tx
        .prepare("INSERT INTO refs VALUES ($1, $2, $3, $4)")
        .unwrap();
    for edge_item in graph.edges.values() {
        tx.execute(
            &edge,
            &[
                &dialogue,
                &edge_item.source.to_string(),
                &edge_item.ref_type.to_string(),
                &edge_item.target.to_string(),
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    client
        .batch_execute("ANALYZE entities; ANALYZE refs;")
        .unwrap();
}

const PG_WHOLE_ENTITIES: &str =
    "SELECT id, kind, round, status, content FROM entities WHERE dialogue = $1";
const PG_WHOLE_REFS: &str = "SELECT source, type, target FROM refs WHERE dialogue = $1";
const PG_NEIGHBOURS: &str =
    "SELECT source, type, target FROM refs WHERE dialogue = $1 AND source = $2
     UNION ALL SELECT source, type, target FROM refs WHERE dialogue = $1 AND target = $2";
const PG_THREE_HOPS: &str = "WITH RECURSIVE hop(id, depth) AS (
       SELECT $2::text, 0
       UNION
       SELECT CASE WHEN r.source = h.id THEN r.target ELSE r.source END, h.depth + 1
       FROM hop h JOIN refs r ON r.dialogue = $1 AND (r.source = h.id OR r.target = h.id)
       WHERE h.depth < 3)
     SELECT e.id, e.kind, e.status, e.content FROM entities e
     WHERE e.dialogue = $1 AND e.id IN (SELECT id FROM hop)";
const PG_OPEN_TENSIONS: &str = "SELECT id FROM entities WHERE dialogue = $1 AND kind = 'tension' AND status IN ('open', 'reopened')";

fn reads(mode: Mode, runtime: &tokio::runtime::Runtime) -> Section {
    let mut section =
        Section::new("5. Reads: the graph table vs PostgreSQL (entities + refs, recursive CTE)");
    let sizes: &[usize] = if mode.quick {
        &[100]
    } else {
        &[100, 1_000, 10_000]
    };
    let mut client =
        postgres::Client::connect(dlg_tests::shared_postgres(), postgres::NoTls).unwrap();
    // The floor of each: one round trip that reads nothing.
    let floor = runtime.block_on(async {
        let tables = dynamo_store("bench-floor", None).await;
        let store = DynamoStore::clone(&tables);
        time_async(5, mode.samples(50), |_| {
            let get = store
                .client()
                .get_item()
                .table_name(&store.config().graph_table)
                .key("pk", AttributeValue::S("D#none".to_owned()))
                .key("sk", AttributeValue::S("M".to_owned()));
            async move {
                get.send().await.unwrap();
            }
        })
        .await
    });
    let pg_floor = time(5, mode.samples(50), || {
        std::hint::black_box(client.query("SELECT 1", &[]).unwrap());
    });
    section.timed(
        "one round trip that reads nothing (the floor)",
        floor.median,
        pg_floor.median,
        "a GetItem of a missing key on DynamoDB Local vs `SELECT 1`: what each store costs before any work",
    );
    for &entities in sizes {
        let memory = sized_dialogue(&format!("bench-reads-{entities}"), entities);
        let graph = &memory.graph;
        let d = graph.dialogue.clone();
        assert_eq!(graph.nodes.len(), entities);
        // The middle perspective of the middle round: a 3-hop walk along its chain.
        let focus = *graph
            .nodes
            .values()
            .filter(|n| n.kind == dlg_core::ids::EntityKind::Perspective)
            .nth(entities / 3)
            .map(|n| &n.id)
            .unwrap();
        let samples = mode.samples(if entities >= 10_000 { 5 } else { 15 });
        let log = RequestLog::default();
        let (whole, neighbours, hops, open, requests, bytes, answers) = runtime.block_on(async {
            let tables = dynamo_store(&format!("bench-reads-{entities}"), Some(&log)).await;
            let store = DynamoStore::clone(&tables);
            for commit in &memory.commits {
                store.append(&d, &row_of(commit), None).await.unwrap();
            }
            dlg_projector::projection::Projector::new(&store)
                .catch_up(&d)
                .await
                .unwrap();
            let bytes: usize = dlg_tests::graph_partition(&store, &d.to_string())
                .await
                .iter()
                .map(dlg_tests::item_size)
                .sum();
            let ledger = Ledger::new(
                store,
                Box::new(MasterKey::new(SecretKey::generate(&mut OsEntropy))),
                "bench key",
            )
            .with_projection(Projection::Stream);
            log.take();
            let whole = time_async(1, samples, |_| {
                let ledger = &ledger;
                let d = &d;
                async move {
                    std::hint::black_box(ledger.graph(d).await.unwrap());
                }
            })
            .await;
            let requests = log.take().len() / (samples + 1);
            let neighbours = time_async(2, samples, |_| {
                let ledger = &ledger;
                let d = &d;
                async move {
                    std::hint::black_box(
                        ledger
                            .neighbours(d, focus, Direction::Both, &[])
                            .await
                            .unwrap(),
                    );
                }
            })
            .await;
            let hops = time_async(1, samples, |_| {
                let ledger = &ledger;
                let d = &d;
                async move {
                    let graph = ledger.graph(d).await.unwrap();
                    std::hint::black_box(graph.k_hop(focus, 3, Direction::Both, &[]));
                }
            })
            .await;
            let open = time_async(2, samples, |_| {
                let ledger = &ledger;
                async move {
                    std::hint::black_box(ledger.open_tensions_everywhere().await.unwrap());
                }
            })
            .await;
            let answers = (
                ledger
                    .neighbours(&d, focus, Direction::Both, &[])
                    .await
                    .unwrap()
                    .len(),
                ledger
                    .graph(&d)
                    .await
                    .unwrap()
                    .k_hop(focus, 3, Direction::Both, &[])
                    .nodes
                    .len(),
                ledger.open_tensions_everywhere().await.unwrap().len(),
            );
            (whole, neighbours, hops, open, requests, bytes, answers)
        });

        postgres_load(&mut client, graph);
        let dialogue = d.to_string();
        let focus_text = focus.to_string();
        let pg_whole = time(1, samples, || {
            std::hint::black_box(client.query(PG_WHOLE_ENTITIES, &[&dialogue]).unwrap());
            std::hint::black_box(client.query(PG_WHOLE_REFS, &[&dialogue]).unwrap());
        });
        let pg_neighbours = time(2, samples, || {
            std::hint::black_box(
                client
                    .query(PG_NEIGHBOURS, &[&dialogue, &focus_text])
                    .unwrap(),
            );
        });
        let pg_hops = time(2, samples, || {
            std::hint::black_box(
                client
                    .query(PG_THREE_HOPS, &[&dialogue, &focus_text])
                    .unwrap(),
            );
        });
        let pg_open = time(2, samples, || {
            std::hint::black_box(client.query(PG_OPEN_TENSIONS, &[&dialogue]).unwrap());
        });
        // Both sides answer the same questions with the same answers.
        let pg_answers = (
            client
                .query(PG_NEIGHBOURS, &[&dialogue, &focus_text])
                .unwrap()
                .len(),
            client
                .query(PG_THREE_HOPS, &[&dialogue, &focus_text])
                .unwrap()
                .len(),
            client.query(PG_OPEN_TENSIONS, &[&dialogue]).unwrap().len(),
        );
        assert_eq!(
            answers, pg_answers,
            "the ledger and PostgreSQL answer alike"
        );
        let pg_bytes: i64 = client
            .query_one(
                "SELECT (SELECT coalesce(sum(pg_column_size(e.*)), 0) FROM entities e WHERE dialogue = $1)
                      + (SELECT coalesce(sum(pg_column_size(r.*)), 0) FROM refs r WHERE dialogue = $1)",
                &[&dialogue],
            )
            .unwrap()
            .get(0);
        section.row(
            &format!("{entities} entities: load the whole graph"),
            format!("{} ({requests} Query, {:.2} MB)", show(whole.median), bytes as f64 / 1e6),
            format!("{} (2 SELECTs, {:.2} MB)", show(pg_whole.median), pg_bytes as f64 / 1e6),
            ratio(whole.median, pg_whole.median),
            "one partition read in 1 MB pages and decoded into the graph; PostgreSQL returns two row sets",
        );
        section.timed(
            &format!(
                "{entities} entities: neighbours of one entity ({} edges)",
                answers.0
            ),
            neighbours.median,
            pg_neighbours.median,
            "one Query on the entity's edge prefix (a handful of items) vs two index scans; on DynamoDB Local that Query's time still grows with the size of the partition, as the three sizes show",
        );
        section.timed(
            &format!("{entities} entities: 3-hop subgraph ({} entities)", answers.1),
            hops.median,
            pg_hops.median,
            "the ledger loads the dialogue's whole graph and walks it in memory, so this grows with the dialogue (a walk by edge-prefix Queries would read only the frontier); PostgreSQL runs a recursive CTE over the refs index",
        );
        section.timed(
            &format!("{entities} entities: open tensions ({})", answers.2),
            open.median,
            pg_open.median,
            "one Query of the sparse open-tensions index vs a partial-index scan",
        );
    }
    section.note(
        "The ledger's figures are DynamoDB Local (Java, HTTP + JSON on loopback); PostgreSQL is a native server on the same loopback. Both hold the same dialogue, and the bench checks they give the same answers.".to_owned(),
    );
    section
}

/// Copies a folder tree (the fixture archive) to `to`.
fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

async fn import(mode: Mode) -> Section {
    let mut section = Section::new("8. Import: the fixture archive, repeated");
    let Some(fixtures) = dlg_tests::fixtures("blue-dialogues", "the import benchmark") else {
        section.note(format!(
            "Skipped: {} is not set (the shared fixtures sit beside the repository).",
            dlg_tests::FIXTURES_VAR
        ));
        return section;
    };
    let Some(folder) = dlg_writer::import::dialogue_folders(&fixtures)
        .into_iter()
        .next()
    else {
        section.note(format!(
            "Skipped: no dialogue folder under {}.",
            fixtures.display()
        ));
        return section;
    };
    let copies = if mode.quick { 2 } else { 80 };
    let runs = if mode.quick { 1 } else { 3 };
    let (mut imports, mut inserts, mut parse_share) = (Vec::new(), Vec::new(), Vec::new());
    let (mut events, mut commits) = (0, 0);
    for _ in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        let folders: Vec<_> = (0..copies)
            .map(|i| {
                let to = dir.path().join(format!("copy-{i:03}"));
                copy_tree(&folder, &to);
                to
            })
            .collect();
        let store = SqliteStore::open(&dir.path().join("ledger.db")).unwrap();
        let ledger = Ledger::new(
            store,
            Box::new(MasterKey::new(SecretKey::generate(&mut OsEntropy))),
            "bench key",
        );
        let start = Instant::now();
        let mut parse = Duration::ZERO;
        for folder in &folders {
            let planned = Instant::now();
            let plan = dlg_writer::import::plan(folder).unwrap();
            parse += planned.elapsed();
            dlg_writer::import::run(&ledger, &plan, "bench")
                .await
                .unwrap();
        }
        let took = start.elapsed();
        imports.push(took);
        parse_share.push(parse.as_secs_f64() / took.as_secs_f64());
        let mut rows = Vec::new();
        for dialogue in ledger.dialogues().await.unwrap() {
            rows.extend(ledger.store().commits(&dialogue, 1).await.unwrap());
        }
        events = rows
            .iter()
            .map(|r| Commit::decode(&r.bytes).unwrap().events.len())
            .sum();
        commits = rows.len();
        // The same commits inserted raw, one durable insert each.
        let raw = raw_sqlite(&dir.path().join("raw.db"));
        let start = Instant::now();
        for (i, row) in rows.iter().enumerate() {
            raw.execute(
                "INSERT INTO events (pk, sk, bytes) VALUES ('D#raw', ?1, ?2)",
                rusqlite::params![format!("C#{i:010}"), row.bytes],
            )
            .unwrap();
        }
        inserts.push(start.elapsed());
    }
    let ours = stats(imports).median;
    let limit = stats(inserts).median;
    parse_share.sort_by(f64::total_cmp);
    let parse_share = parse_share[parse_share.len() / 2];
    let rate = |d: Duration| format!("{:.0} events/s", events as f64 / d.as_secs_f64());
    section.row(
        &format!("import {copies} copies of the archive: {events} events in {commits} commits (median of {runs} runs)"),
        rate(ours),
        rate(limit),
        ratio(ours, limit),
        &format!(
            "baseline: inserting the resulting commit bytes raw, one durable insert each; parsing the archive took {:.0}% of the import, the rest is validating, sealing and appending each step and projecting in-process",
            100.0 * parse_share
        ),
    );
    section
}

/// Serves one connection of a fake Lambda runtime API on `listener` and returns when the first
/// request (the runtime's poll for the next invocation) arrives.
fn first_poll(listener: &std::net::TcpListener) -> String {
    use std::io::Read as _;
    let (mut stream, _) = listener.accept().unwrap();
    let mut buffer = [0u8; 1024];
    let n = stream.read(&mut buffer).unwrap_or(0);
    String::from_utf8_lossy(&buffer[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

fn lambda(mode: Mode) -> Section {
    let mut section = Section::new("7. Lambda: package size and cold start");
    let root = dlg_tests::repo_root();
    let zip = root.join("infra/dist/projector.zip");
    // The full run packages the Lambda itself; quick mode uses a package only if one is there.
    if !(mode.quick || zip.exists()) {
        let status = std::process::Command::new("bash")
            .arg(root.join("infra/scripts/package-lambda.sh"))
            .status()
            .unwrap();
        assert!(status.success(), "infra/scripts/package-lambda.sh failed");
    }
    if !zip.exists() {
        section
            .note("Skipped in quick mode: run infra/scripts/package-lambda.sh first.".to_owned());
        return section;
    }
    // The binary exactly as deployed: unpacked from the zip.
    let unpacked = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&zip)
        .arg(unpacked.path())
        .status()
        .unwrap();
    assert!(status.success(), "cannot unpack {}", zip.display());
    let bootstrap = unpacked.path().join("bootstrap");
    std::fs::set_permissions(
        &bootstrap,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let zipped = std::fs::metadata(&zip).unwrap().len();
    let unzipped = std::fs::metadata(&bootstrap).unwrap().len();
    section.note(format!(
        "`infra/dist/projector.zip`: {zipped} bytes ({:.2} MB) zipped; `bootstrap` {unzipped} bytes unzipped.",
        zipped as f64 / 1e6
    ));
    let endpoint = dlg_tests::shared_dynamodb().to_owned();
    let samples = mode.samples(15);
    let mut polls = Vec::new();
    let mut request = String::new();
    for _ in 0..samples + 1 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let api = listener.local_addr().unwrap().to_string();
        let start = Instant::now();
        let mut child = std::process::Command::new(&bootstrap)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "dlg-projector")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/dlg-projector")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("DLG_EVENTS_TABLE", "bench-events")
            .env("DLG_GRAPH_TABLE", "bench-graph")
            .env("DLG_DYNAMODB_ENDPOINT", &endpoint)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        request = first_poll(&listener);
        polls.push(start.elapsed());
        let _ = child.kill();
        let _ = child.wait();
    }
    polls.remove(0);
    let cold = stats(polls);
    let spawn = time(1, samples, || {
        std::process::Command::new("true").status().unwrap();
    });
    section.timed(
        "process start → first poll of the runtime API",
        cold.median,
        spawn.median,
        "baseline: starting and reaping `true`; bootstrap also sets up logging, reads its configuration and builds the DynamoDB client (no network call) before lambda_runtime polls",
    );
    section.note(format!(
        "Process start → first poll: the release `bootstrap` unpacked from the zip, against a local stand-in for the runtime API that timestamps the first request (`{request}`)."
    ));
    if !mode.quick {
        cold_starts_under_watch(mode, &mut section);
    }
    section
}

/// One HTTP POST on loopback; returns the response's status line and body.
fn post(port: u16, path: &str, body: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// Cold and warm invocations of the release `bootstrap` under `cargo lambda watch`: each sample
/// starts the runtime emulator afresh, so its first invocation starts the function process.
fn cold_starts_under_watch(mode: Mode, section: &mut Section) {
    let built = dlg_tests::cargo()
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "dlg-projector",
            "--bin",
            "bootstrap",
        ])
        .status()
        .unwrap();
    assert!(built.success(), "bootstrap builds in release");
    let endpoint = dlg_tests::shared_dynamodb().to_owned();
    let path = format!(
        "{}:{}",
        dlg_tests::cargo_lambda_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let invocation = "/2015-03-31/functions/bootstrap/invocations";
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..mode.samples(5) {
        let port = dlg_tests::free_port();
        let mut watch = dlg_tests::cargo()
            .env("PATH", &path)
            .args(["lambda", "watch", "--release", "--ignore-changes", "-A", "127.0.0.1", "-P"])
            .arg(port.to_string())
            .args(["-p", "dlg-projector", "--bin", "bootstrap", "--env-var"])
            .arg(format!(
                "DLG_EVENTS_TABLE=bench-events,DLG_GRAPH_TABLE=bench-graph,DLG_DYNAMODB_ENDPOINT={endpoint},AWS_REGION=us-east-1"
            ))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "cargo lambda watch did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        for samples in [&mut cold, &mut warm] {
            let start = Instant::now();
            let answer = post(port, invocation, r#"{"Records": []}"#);
            samples.push(start.elapsed());
            assert!(answer.contains("batchItemFailures"), "{answer}");
        }
        let _ = watch.kill();
        let _ = watch.wait();
    }
    let (cold, warm) = (stats(cold), stats(warm));
    section.timed(
        "under `cargo lambda watch`: first invocation (cold) vs the next (warm)",
        cold.median,
        warm.median,
        "the cold invocation includes cargo-lambda's own first-invocation path (it checks the build with cargo before it starts the release `bootstrap` process) and the function's init; the row above isolates the binary's own start; both carry the emulator's HTTP hops",
    );
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let memory = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("MemTotal"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or_else(String::new, |kb| {
            format!(", {:.0} GiB", kb / 1024.0 / 1024.0)
        });
    format!("{cpu}, {cores} cores{memory}")
}

fn today() -> String {
    std::process::Command::new("date")
        .args(["-u", "+%Y-%m-%d %H:%M UTC"])
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let mode = Mode { quick };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut sections = vec![sealing(mode)];
    eprintln!("sealing done");
    let mut appends = Section::new("2. Append vs a raw write of the same bytes");
    let mut peer =
        Section::new("3. Append vs a peer design (one item per event, TransactWriteItems)");
    runtime.block_on(async {
        sqlite_appends(mode, &mut appends).await;
        eprintln!("sqlite appends done");
        dynamodb_appends(mode, &mut appends, &mut peer).await;
        eprintln!("dynamodb appends done");
    });
    sections.push(appends);
    sections.push(peer);
    sections.push(runtime.block_on(projector(mode)));
    eprintln!("projector done");
    sections.push(reads(mode, &runtime));
    eprintln!("reads done");
    sections.push(runtime.block_on(audit(mode)));
    eprintln!("audit done");
    sections.push(lambda(mode));
    eprintln!("lambda done");
    sections.push(runtime.block_on(import(mode)));
    eprintln!("import done");

    let command = if quick {
        "cargo bench -p dlg-tests --bench ledger -- --quick"
    } else {
        "cargo bench -p dlg-tests --bench ledger"
    };
    let mut report = format!(
        "# Benchmarks\n\nMachine: {}. Date: {}. Command: `{command}`{}.\n\nEvery figure is the median of several runs after warm-up, next to a baseline measured in the same run; the ratio is dlg / baseline (lower is better). DynamoDB figures are against Amazon's DynamoDB Local on the same machine, so they measure the request path, not AWS's network.\n\n",
        machine(),
        today(),
        if quick {
            " (quick mode: few samples)"
        } else {
            ""
        }
    );
    for section in &sections {
        report.push_str(&section.markdown());
    }
    println!("{report}");
    if !quick {
        let path = dlg_tests::repo_root().join("BENCHMARKS.md");
        std::fs::write(&path, &report).unwrap();
        eprintln!("wrote {}", path.display());
    }
}
