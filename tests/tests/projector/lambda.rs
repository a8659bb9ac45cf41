//! The real `bootstrap` under a Lambda runtime: `cargo lambda watch` (from PyPI, installed by
//! `infra/scripts/cargo-lambda.sh`) runs it behind the Lambda runtime API; `cargo lambda invoke`
//! sends it DynamoDB Streams events made of real DynamoDB Local stream records (read by the
//! stream runner, not projected by it) and prints its answer.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_lambda_events::event::dynamodb::Event;
use dlg_core::graph::Graph;
use dlg_core::testing::MemoryLedger;
use dlg_core::testing::random::{self, Step};
use dlg_projector::runner::StreamRunner;
use dlg_store::dynamodb::DynamoStore;
use dlg_store::{CommitRow, EventStore, GraphStore};
use serde_json::Value;

/// `cargo lambda watch` serving `bootstrap`, stopped when dropped.
struct Watch {
    child: Child,
    port: u16,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn cargo_lambda(args: &[&str]) -> Command {
    let mut command = dlg_tests::cargo();
    let path = format!(
        "{}:{}",
        dlg_tests::cargo_lambda_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    command.env("PATH", path).arg("lambda").args(args);
    command
}

fn watch(store: &DynamoStore, logs: &Path) -> Watch {
    // Built first with the workspace's cargo, so the runtime starts it without compiling.
    let built = dlg_tests::cargo()
        .args([
            "build",
            "--quiet",
            "-p",
            "dlg-projector",
            "--bin",
            "bootstrap",
        ])
        .status()
        .unwrap();
    assert!(built.success(), "bootstrap builds");
    let port = dlg_tests::free_port();
    let config = store.config();
    let env = format!(
        "DLG_EVENTS_TABLE={},DLG_GRAPH_TABLE={},DLG_DYNAMODB_ENDPOINT={},AWS_REGION={}",
        config.events_table,
        config.graph_table,
        config.endpoint.as_deref().unwrap(),
        config.region
    );
    let log = std::fs::File::create(logs).unwrap();
    let child = cargo_lambda(&[
        "watch",
        "--ignore-changes",
        "-A",
        "127.0.0.1",
        "-P",
        &port.to_string(),
        "-p",
        "dlg-projector",
        "--bin",
        "bootstrap",
        "--env-var",
        &env,
    ])
    .stdout(log.try_clone().unwrap())
    .stderr(log)
    .stdin(Stdio::null())
    .spawn()
    .expect("cargo lambda watch starts");
    // Wait for the runtime API to listen.
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "cargo lambda watch did not listen on {port} within 120 s:\n{}",
            std::fs::read_to_string(logs).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Watch { child, port }
}

/// Invokes `bootstrap` with `event` through `cargo lambda invoke`; returns its answer.
fn invoke(watch: &Watch, event: &Event, dir: &Path, logs: &Path) -> Value {
    let file = dir.join("event.json");
    std::fs::write(&file, serde_json::to_vec(event).unwrap()).unwrap();
    let output = cargo_lambda(&[
        "invoke",
        "bootstrap",
        "--data-file",
        &file.to_string_lossy(),
        "-A",
        "127.0.0.1",
        "-P",
        &watch.port.to_string(),
    ])
    .output()
    .unwrap();
    assert!(
        output.status.success(),
        "cargo lambda invoke failed:\n{}\nfunction log:\n{}",
        String::from_utf8_lossy(&output.stderr),
        std::fs::read_to_string(logs).unwrap_or_default()
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "the function answered no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

async fn append(store: &DynamoStore, ledger: &MemoryLedger, from: u64) {
    for commit in &ledger.commits[from as usize..] {
        let row = CommitRow::of(commit);
        store
            .append(&ledger.graph.dialogue, &row, None)
            .await
            .unwrap();
    }
}

/// Reads the stream's new records as one Lambda event (all shards' batches together).
async fn next_event(runner: &mut StreamRunner) -> (Event, Vec<dlg_projector::runner::ShardBatch>) {
    let batches = runner.read().await.unwrap();
    let mut event = Event::default();
    for batch in &batches {
        event.records.extend(batch.event.records.iter().cloned());
    }
    (event, batches)
}

async fn assert_graph_is_the_rebuild(store: &DynamoStore, ledger: &MemoryLedger, upto: u64) {
    let dialogue = &ledger.graph.dialogue;
    let rows = store.commit_range(dialogue, 1, upto).await.unwrap();
    let rebuilt =
        Graph::rebuild(dialogue.clone(), rows.iter().map(|r| r.bytes.as_slice())).unwrap();
    let mut stored = store.graph_items(dialogue).await.unwrap();
    stored.sort_by_key(|i| i.sort_key());
    assert_eq!(
        stored,
        rebuilt.items(),
        "graph of {dialogue} equals the rebuild up to {upto}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_under_cargo_lambda_projects_real_stream_records() {
    let endpoint = dlg_tests::shared_dynamodb().to_owned();
    let tables = dlg_tests::fresh_tables(&endpoint, "lambda").await;
    let store = DynamoStore::clone(&tables);
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("function.log");
    let watch = watch(&store, &logs);
    let mut runner = StreamRunner::connect(store.projection().clone())
        .await
        .unwrap();

    // Given: two dialogues appended to the events table.
    let steps = |picks: &[u64]| {
        picks
            .iter()
            .copied()
            .map(Step::from_pick)
            .collect::<Vec<_>>()
    };
    let first = random::dialogue("lambda-first", &steps(&[0, 1, 2, 8, 3]));
    let second = random::dialogue("lambda-second", &steps(&[16, 9, 24]));
    append(&store, &first, 0).await;
    append(&store, &second, 0).await;

    // When: their stream records are handed to bootstrap as one event.
    let (event, batches) = next_event(&mut runner).await;
    let records = (first.commits.len() + second.commits.len()) as usize;
    assert_eq!(
        event.records.len(),
        records,
        "every commit is on the stream"
    );
    let answer = invoke(&watch, &event, dir.path(), &logs);

    // Then: no failures, and both graphs equal the rebuild.
    assert_eq!(
        answer["batchItemFailures"],
        serde_json::json!([]),
        "{answer}"
    );
    assert_graph_is_the_rebuild(&store, &first, u64::MAX).await;
    assert_graph_is_the_rebuild(&store, &second, u64::MAX).await;
    for batch in &batches {
        runner
            .settle(batch, &serde_json::from_value(answer.clone()).unwrap())
            .await
            .unwrap();
    }

    // Given: more commits of the first dialogue, one of whose records arrives altered.
    let longer = random::dialogue("lambda-first", &steps(&[0, 1, 2, 8, 3, 17, 25, 10]));
    let before = first.commits.len() as u64;
    append(&store, &longer, before).await;
    let (mut event, _) = next_event(&mut runner).await;
    assert_eq!(event.records.len(), longer.commits.len() - before as usize);
    let bad = 1;
    let image = &mut event.records[bad].change.new_image;
    let mut item: std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue> =
        image.clone().into();
    item.insert(
        "hash".to_owned(),
        aws_sdk_dynamodb::types::AttributeValue::B(vec![7u8; 32].into()),
    );
    *image = item.into();
    let bad_sequence = event.records[bad].change.sequence_number.clone().unwrap();

    // When: the batch is handed to bootstrap.
    let answer = invoke(&watch, &event, dir.path(), &logs);

    // Then: the altered record is the first failure, and the commit before it is projected.
    assert_eq!(
        answer["batchItemFailures"],
        serde_json::json!([{"itemIdentifier": bad_sequence}]),
        "{answer}"
    );
    assert_graph_is_the_rebuild(&store, &longer, before + bad as u64).await;
    let log = std::fs::read_to_string(&logs).unwrap();
    assert!(
        log.contains("broken_chain") && log.contains("\"retryable\":false"),
        "the function logs the failure as JSON, not retryable:\n{log}"
    );

    // When: the service delivers again from the failed record, unaltered (from the stream).
    let mut runner = StreamRunner::connect(store.projection().clone())
        .await
        .unwrap();
    let (event, _) = next_event(&mut runner).await;
    let answer = invoke(&watch, &event, dir.path(), &logs);
    assert_eq!(
        answer["batchItemFailures"],
        serde_json::json!([]),
        "{answer}"
    );
    assert_graph_is_the_rebuild(&store, &longer, u64::MAX).await;
}
