//! Random dialogues, random deliveries: the stream handler's result equals, item for item, a
//! rebuild from the events table — on SQLite and on DynamoDB Local.
//!
//! Each case appends two or three random dialogues to a real store's events table, then plays a
//! stream the way the Lambda service would: every commit at least once, in a random order with
//! duplicates, cut into batches of random sizes. Before a batch, the next few graph writes may be
//! made to fail after storing half of their items (fewer than the handler's own retries, or
//! more), as a crash or an error between the transactions of a large write leaves them; a batch
//! answered with `batchItemFailures` is delivered again from the reported record, as the service
//! does.

use std::collections::BTreeMap;
use std::sync::Mutex;

use aws_lambda_events::event::dynamodb::{Event, EventRecord};
use dlg_core::graph::{ContributionItem, Graph, GraphItem, NodeItem};
use dlg_core::ids::{DialogueId, ExpertSlug};
use dlg_core::testing::random::{self, Step};
use dlg_projector::stream::{handle_with_report, record_of};
use dlg_store::dynamodb::DynamoStore;
use dlg_store::sqlite::SqliteStore;
use dlg_store::{CommitRow, EventStore, GraphStore, StoreError, StoreResult};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

/// A real store whose next `outage` graph writes fail half done (a write cut short by a crash, a
/// throttled or unreachable table), to see the handler report, and the redelivery repair, a
/// failed batch.
struct Flaky<S> {
    inner: S,
    outage: Mutex<u32>,
}

impl<S> Flaky<S> {
    fn fail_next_writes(&self, writes: u32) {
        *self.outage.lock().unwrap() = writes;
    }

    /// Whether the next write fails (and counts it).
    fn take_outage(&self) -> bool {
        let mut outage = self.outage.lock().unwrap();
        let failing = *outage > 0;
        *outage = outage.saturating_sub(1);
        failing
    }
}

impl<S: EventStore + Sync> EventStore for Flaky<S> {
    async fn dialogues(&self) -> StoreResult<Vec<DialogueId>> {
        self.inner.dialogues().await
    }

    async fn commit_range(
        &self,
        dialogue: &DialogueId,
        from: u64,
        through: u64,
    ) -> StoreResult<Vec<CommitRow>> {
        self.inner.commit_range(dialogue, from, through).await
    }

    async fn append(
        &self,
        dialogue: &DialogueId,
        row: &CommitRow,
        idempotency_key: Option<&str>,
    ) -> StoreResult<()> {
        self.inner.append(dialogue, row, idempotency_key).await
    }
}

impl<S: GraphStore + Sync> GraphStore for Flaky<S> {
    async fn graph_items(&self, dialogue: &DialogueId) -> StoreResult<Vec<GraphItem>> {
        self.inner.graph_items(dialogue).await
    }

    async fn graph_items_under(
        &self,
        dialogue: &DialogueId,
        prefix: &str,
    ) -> StoreResult<Vec<GraphItem>> {
        self.inner.graph_items_under(dialogue, prefix).await
    }

    async fn open_tensions(&self) -> StoreResult<Vec<(DialogueId, NodeItem)>> {
        self.inner.open_tensions().await
    }

    async fn contributions_of(
        &self,
        expert: &ExpertSlug,
    ) -> StoreResult<Vec<(DialogueId, ContributionItem)>> {
        self.inner.contributions_of(expert).await
    }

    async fn put_graph_items(
        &self,
        dialogue: &DialogueId,
        items: &[GraphItem],
        expected_checkpoint: u64,
    ) -> StoreResult<()> {
        if self.take_outage() {
            // The write is cut short: the first half of its items is stored, the checkpoint is
            // not — as when a crash or an error falls between the transactions of a large write.
            let stored: Vec<GraphItem> = items
                .iter()
                .filter(|i| !matches!(i, GraphItem::Checkpoint(_)))
                .take(items.len() / 2)
                .cloned()
                .collect();
            if !stored.is_empty() {
                self.inner
                    .put_graph_items(dialogue, &stored, expected_checkpoint)
                    .await?;
            }
            return Err(StoreError::Unavailable(
                "injected: the graph write was cut short".into(),
            ));
        }
        self.inner
            .put_graph_items(dialogue, items, expected_checkpoint)
            .await
    }

    async fn replace_graph(&self, dialogue: &DialogueId, items: &[GraphItem]) -> StoreResult<()> {
        self.inner.replace_graph(dialogue, items).await
    }
}

/// One generated case: the dialogues' steps and how the stream delivers their commits.
#[derive(Debug, Clone)]
struct Case {
    dialogues: Vec<Vec<u64>>,
    /// Random keys that order the deliveries (each commit once, plus duplicates).
    order: Vec<u32>,
    duplicates: Vec<u16>,
    /// Batch sizes, cycled.
    batches: Vec<u8>,
    /// Per batch (cycled): how many graph writes fail at its first delivery (0: none).
    outages: Vec<u8>,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(prop::collection::vec(any::<u64>(), 1..8), 2..4),
        prop::collection::vec(any::<u32>(), 64),
        prop::collection::vec(any::<u16>(), 0..12),
        prop::collection::vec(1u8..8, 1..6),
        prop::collection::vec(prop_oneof![3 => Just(0u8), 1 => 1u8..6], 1..8),
    )
        .prop_map(|(dialogues, order, duplicates, batches, outages)| Case {
            dialogues,
            order,
            duplicates,
            batches,
            outages,
        })
}

/// Plays `case` against `store`; returns an error naming what differs from the rebuild.
async fn play<S: EventStore + GraphStore + Sync>(
    store: &Flaky<S>,
    case: &Case,
    namespace: &str,
) -> Result<(), String> {
    // The events table: each dialogue's commits, appended in order (as writers do).
    let mut log: Vec<(DialogueId, CommitRow)> = Vec::new();
    let mut dialogues = Vec::new();
    for (n, picks) in case.dialogues.iter().enumerate() {
        let steps: Vec<Step> = picks.iter().copied().map(Step::from_pick).collect();
        let ledger = random::dialogue(&format!("{namespace}-d{n}"), &steps);
        let dialogue = ledger.graph.dialogue.clone();
        for commit in &ledger.commits {
            let row = CommitRow::of(commit);
            store
                .append(&dialogue, &row, None)
                .await
                .map_err(|e| e.to_string())?;
            log.push((dialogue.clone(), row));
        }
        dialogues.push((dialogue, ledger.graph));
    }
    // The stream: every commit once and some twice, in a random order.
    let mut deliveries: Vec<usize> = (0..log.len()).collect();
    deliveries.extend(case.duplicates.iter().map(|d| usize::from(*d) % log.len()));
    let mut keyed: Vec<(u32, usize)> = deliveries
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            (
                case.order[i % case.order.len()] ^ (i as u32).wrapping_mul(2_654_435_761),
                d,
            )
        })
        .collect();
    keyed.sort();
    let records: Vec<EventRecord> = keyed
        .iter()
        .enumerate()
        .map(|(position, (_, index))| {
            let (dialogue, row) = &log[*index];
            record_of(dialogue, row, &format!("{:021}", position + 1))
        })
        .collect();
    // Batches, each delivered until the handler accepts all of it.
    let mut start = 0;
    let mut batch_number = 0;
    while start < records.len() {
        let size = usize::from(case.batches[batch_number % case.batches.len()]);
        let end = (start + size).min(records.len());
        let mut from = start;
        let mut deliveries = 0;
        while from < end {
            // An outage hits a batch's first delivery; the service's redelivery finds it over.
            let outage = if deliveries == 0 {
                case.outages[batch_number % case.outages.len()]
            } else {
                0
            };
            store.fail_next_writes(u32::from(outage));
            let mut event = Event::default();
            event.records = records[from..end].to_vec();
            let (response, report) = handle_with_report(store, &event).await;
            store.fail_next_writes(0);
            match response.batch_item_failures.first() {
                None => from = end,
                Some(failure) => {
                    let sequence = failure
                        .item_identifier
                        .clone()
                        .ok_or("a failure without a sequence number")?;
                    let failed = records[from..end]
                        .iter()
                        .position(|r| {
                            r.change.sequence_number.as_deref() == Some(sequence.as_str())
                        })
                        .ok_or_else(|| {
                            format!("the reported record {sequence} is not in the batch")
                        })?;
                    from += failed;
                }
            }
            deliveries += 1;
            if from < end && deliveries > 3 {
                // Say why: project the refused record's commits directly.
                let record = &records[from];
                let Ok(dlg_projector::stream::Record::Commit(dialogue, row)) =
                    dlg_projector::stream::decode(record)
                else {
                    return Err(format!("batch {batch_number}: an undecodable record"));
                };
                let why = dlg_projector::projection::Projector::new(store)
                    .deliver(&dialogue, &[row])
                    .await;
                return Err(format!(
                    "batch {batch_number} was still refused after the outage: {report:?}; projecting its first record alone: {why:?}"
                ));
            }
        }
        start = end;
        batch_number += 1;
    }
    // Every dialogue's graph table equals the rebuild from its events, item for item.
    for (dialogue, expected) in &dialogues {
        let rows = store
            .commits(dialogue, 1)
            .await
            .map_err(|e| e.to_string())?;
        let rebuilt = Graph::rebuild(dialogue.clone(), rows.iter().map(|r| r.bytes.as_slice()))
            .map_err(|e| e.to_string())?;
        if &rebuilt != expected {
            return Err(format!(
                "the events table of {dialogue} does not hold what was appended"
            ));
        }
        let stored: BTreeMap<String, GraphItem> = store
            .graph_items(dialogue)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .map(|i| (i.sort_key(), i))
            .collect();
        let wanted: BTreeMap<String, GraphItem> = rebuilt
            .items()
            .into_iter()
            .map(|i| (i.sort_key(), i))
            .collect();
        if stored != wanted {
            let differing: Vec<&String> = wanted
                .keys()
                .chain(stored.keys())
                .filter(|k| stored.get(*k) != wanted.get(*k))
                .collect();
            return Err(format!(
                "graph of {dialogue} differs from the rebuild at {differing:?}"
            ));
        }
    }
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn run_cases<S: EventStore + GraphStore + Sync>(
    runtime: &tokio::runtime::Runtime,
    store: Flaky<S>,
    cases: u32,
    backend: &str,
) {
    // The handler's log (failures, retries) shows beside a failing case.
    let _ = tracing_subscriber::fmt()
        .with_test_writer()
        .with_env_filter("warn")
        .try_init();
    let counter = std::sync::atomic::AtomicU32::new(0);
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let outcome = runner.run(&case(), |case| {
        // Each case (and each shrinking step) gets dialogues of its own.
        let n = counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let namespace = format!("{backend}-case{n}");
        runtime
            .block_on(play(&store, &case, &namespace))
            .map_err(TestCaseError::fail)
    });
    if let Err(error) = outcome {
        panic!("{backend}: {error}");
    }
}

#[test]
fn random_deliveries_converge_to_the_rebuild_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ledger.db")).unwrap();
    let store = Flaky {
        inner: store,
        outage: Mutex::new(0),
    };
    run_cases(&runtime(), store, 48, "sqlite");
}

#[test]
fn random_deliveries_converge_to_the_rebuild_on_dynamodb_local() {
    let endpoint = dlg_tests::shared_dynamodb().to_owned();
    // The client lives on the runtime that runs the cases.
    let runtime = runtime();
    let tables = runtime.block_on(dlg_tests::fresh_tables(&endpoint, "delivery"));
    let store = Flaky {
        inner: DynamoStore::clone(&tables),
        outage: Mutex::new(0),
    };
    run_cases(&runtime, store, 16, "dynamodb");
}
