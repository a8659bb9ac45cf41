//! Section 4: the projector's fold alone and through the Lambda handler.

use dlg_core::commit::Commit;
use dlg_core::graph::Graph;
use dlg_projector::stream;
use dlg_store::EventStore;
use dlg_store::dynamodb::DynamoStore;
use dlg_tests::RequestLog;
use std::time::{Duration, Instant};

use crate::appends::dynamo_store;
use crate::dialogues::*;
use crate::harness::*;

pub(crate) async fn projector(mode: Mode) -> Section {
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
