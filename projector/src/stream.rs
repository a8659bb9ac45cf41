//! The DynamoDB Streams contract: a batch of events-table records in, a partial batch response
//! out. The Lambda (`bootstrap`) and the local stream runner call the same [`handle`].
//!
//! Records are grouped by dialogue and each dialogue's commits are projected with one write (see
//! [`crate::projection`]). A failure is answered with the sequence number of the first failed
//! record in `batchItemFailures`, so the service redelivers from there; everything after it is
//! redelivered too, which the checkpoint rule turns into skips. Transient failures are retried
//! inside the invocation first; the others (a corrupt, missing or unchained commit) are reported
//! at once and logged as not retryable, for the on-failure destination and an operator.

use std::time::Duration;

use aws_lambda_events::event::dynamodb::{Event, EventRecord, StreamRecord, StreamViewType};
use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use dlg_core::ids::DialogueId;

use crate::projection::{ProjectError, Projector};
use dlg_store::dynamodb::{Item, commit_attributes};
use dlg_store::{CommitRow, EventStore, GraphStore};

/// Attempts for a dialogue whose projection failed with a retryable error, within one invocation.
const ATTEMPTS: u32 = 3;

pub use dlg_store::stream::{Record, decode};

/// A commit as the stream delivers it to the Lambda: an INSERT whose new image is the commit's
/// events-table item (for replays, tests and benchmarks).
pub fn record_of(dialogue: &DialogueId, row: &CommitRow, sequence_number: &str) -> EventRecord {
    let item = commit_attributes(dialogue, row, None);
    let mut change = StreamRecord::default();
    change.keys = Item::from([
        ("pk".to_owned(), item["pk"].clone()),
        ("sk".to_owned(), item["sk"].clone()),
    ])
    .into();
    change.size_bytes = row.bytes.len() as i64;
    change.new_image = item.into();
    change.sequence_number = Some(sequence_number.to_owned());
    change.stream_view_type = Some(StreamViewType::NewImage);
    let mut record = EventRecord::default();
    record.event_name = "INSERT".to_owned();
    record.event_source = Some("aws:dynamodb".to_owned());
    record.event_version = Some("1.1".to_owned());
    record.event_id = format!("{dialogue}-{}", row.number);
    record.change = change;
    record
}

fn sequence_number(record: &EventRecord) -> Option<&str> {
    record.change.sequence_number.as_deref()
}

/// Totals of one batch, for the batch's log line and for tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchReport {
    pub records: usize,
    pub dialogues: usize,
    pub applied: u64,
    pub healed: u64,
    pub skipped: u64,
    pub ignored: usize,
    pub failed_dialogues: usize,
    /// The sequence number reported in `batchItemFailures`, if any.
    pub first_failure: Option<String>,
}

/// Projects a batch and answers which records to deliver again.
pub async fn handle<S: EventStore + GraphStore + Sync>(
    store: &S,
    event: &Event,
) -> DynamoDbEventResponse {
    handle_with_report(store, event).await.0
}

/// [`handle`], with the totals it logs.
pub async fn handle_with_report<S: EventStore + GraphStore + Sync>(
    store: &S,
    event: &Event,
) -> (DynamoDbEventResponse, BatchReport) {
    let mut report = BatchReport {
        records: event.records.len(),
        ..BatchReport::default()
    };
    // The index of the first failed record, in stream order.
    let mut first_failed: Option<usize> = None;
    let mut fail = |index: usize| {
        first_failed = Some(first_failed.map_or(index, |f| f.min(index)));
    };
    // Each dialogue's commits with their record indexes, dialogues in order of first record.
    let mut groups: Vec<(DialogueId, Vec<(usize, CommitRow)>)> = Vec::new();
    for (index, record) in event.records.iter().enumerate() {
        match decode(record) {
            Ok(Record::Commit(dialogue, row)) => {
                match groups.iter_mut().find(|(d, _)| *d == dialogue) {
                    Some((_, rows)) => rows.push((index, row)),
                    None => groups.push((dialogue, vec![(index, row)])),
                }
            }
            Ok(Record::Ignored(why)) => {
                report.ignored += 1;
                tracing::warn!(
                    sequence_number = sequence_number(record),
                    event_name = %record.event_name,
                    "record ignored: {why}"
                );
            }
            Err(error) => {
                tracing::error!(
                    sequence_number = sequence_number(record),
                    kind = "undecodable_record",
                    retryable = false,
                    %error,
                    "record cannot be decoded"
                );
                fail(index);
            }
        }
    }
    report.dialogues = groups.len();
    let mut projector = Projector::new(store);
    for (dialogue, indexed) in &groups {
        let rows: Vec<CommitRow> = indexed.iter().map(|(_, row)| row.clone()).collect();
        match deliver_with_retries(&mut projector, dialogue, &rows).await {
            Ok(progress) => {
                report.applied += progress.applied;
                report.healed += progress.healed;
                report.skipped += progress.skipped;
                tracing::debug!(
                    %dialogue,
                    applied = progress.applied,
                    healed = progress.healed,
                    skipped = progress.skipped,
                    items = progress.items_written,
                    checkpoint = progress.checkpoint,
                    "projected"
                );
            }
            Err(error) => {
                report.failed_dialogues += 1;
                // The first record not projected: the one carrying the bad commit (or the first
                // after it, when the bad one was read from the events table), else the first.
                let index = error
                    .commit()
                    .and_then(|bad| {
                        indexed
                            .iter()
                            .filter(|(_, row)| row.number >= bad)
                            .map(|(index, _)| *index)
                            .min()
                    })
                    .or_else(|| indexed.iter().map(|(index, _)| *index).min())
                    .unwrap_or_default();
                tracing::error!(
                    %dialogue,
                    sequence_number = sequence_number(&event.records[index]),
                    kind = error.kind(),
                    retryable = error.retryable(),
                    %error,
                    "projection failed"
                );
                fail(index);
            }
        }
    }
    let failures = match first_failed {
        None => Vec::new(),
        Some(index) => {
            let identifier = sequence_number(&event.records[index]).map(str::to_owned);
            report.first_failure = identifier.clone();
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = identifier;
            vec![failure]
        }
    };
    tracing::info!(
        records = report.records,
        dialogues = report.dialogues,
        applied = report.applied,
        healed = report.healed,
        skipped = report.skipped,
        ignored = report.ignored,
        failed_dialogues = report.failed_dialogues,
        first_failure = report.first_failure.as_deref(),
        "batch projected"
    );
    let mut response = DynamoDbEventResponse::default();
    response.batch_item_failures = failures;
    (response, report)
}

async fn deliver_with_retries<S: EventStore + GraphStore + Sync>(
    projector: &mut Projector<'_, S>,
    dialogue: &DialogueId,
    rows: &[CommitRow],
) -> Result<crate::projection::Progress, ProjectError> {
    let mut attempt = 0;
    loop {
        match projector.deliver(dialogue, rows).await {
            Err(error) if error.retryable() && attempt + 1 < ATTEMPTS => {
                tracing::warn!(%dialogue, kind = error.kind(), %error, attempt, "retrying");
                tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                attempt += 1;
            }
            outcome => return outcome,
        }
    }
}
