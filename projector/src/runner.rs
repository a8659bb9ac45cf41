//! The local stream runner: what the Lambda service does for the projector in AWS, done against
//! DynamoDB Local. It polls the events table's stream (DynamoDB Streams API), shapes each shard's
//! new records as the Lambda's DynamoDB event, calls the same [`crate::stream::handle`], and
//! honours its partial batch response: after a failure, the shard is read again from the first
//! failed record's sequence number.
//!
//! Shards are read parents first, each from its oldest record (TRIM_HORIZON), as the event source
//! mapping of the template does. Position is kept in memory: a restarted runner delivers the
//! whole retained stream again, which the checkpoint rule turns into skips.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::{Event, EventRecord, StreamRecord, StreamViewType};
use aws_lambda_events::event::streams::DynamoDbEventResponse;
use aws_sdk_dynamodbstreams::types::{Record, ShardIteratorType};

use crate::stream::{BatchReport, handle_with_report};
use dlg_store::StoreError;
use dlg_store::dynamodb::{DynamoProjection, sdk_config};

/// Records asked for per GetRecords call (the event source mapping's batch size).
pub const BATCH_SIZE: i32 = 100;

/// A shard's reading position.
#[derive(Debug, Clone)]
enum Position {
    /// Waiting for its parent shard to be read to its end.
    AfterParent(String),
    /// Read next with this iterator.
    At(String),
    /// Closed and read to its end.
    Done,
}

#[derive(Debug, Clone)]
struct Shard {
    position: Position,
    /// The last sequence number delivered successfully (to re-acquire an expired iterator).
    last: Option<String>,
}

/// One shard's new records, shaped as the Lambda event.
#[derive(Debug, Clone)]
pub struct ShardBatch {
    pub shard: String,
    pub event: Event,
    next_iterator: Option<String>,
}

/// What one poll did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PollReport {
    /// Batches handed to the handler.
    pub batches: usize,
    /// Records in them.
    pub records: usize,
    /// Commits applied.
    pub applied: u64,
    /// Batches answered with a failure (to be delivered again).
    pub failed_batches: usize,
}

/// The runner over one events table's stream.
#[derive(Debug)]
pub struct StreamRunner {
    store: DynamoProjection,
    streams: aws_sdk_dynamodbstreams::Client,
    stream_arn: String,
    region: String,
    shards: BTreeMap<String, Shard>,
}

impl StreamRunner {
    /// Finds the events table's stream.
    pub async fn connect(store: DynamoProjection) -> Result<Self, StoreError> {
        let streams = aws_sdk_dynamodbstreams::Client::new(&sdk_config(store.config()).await);
        Self::with_client(store, streams).await
    }

    /// [`StreamRunner::connect`] with a DynamoDB Streams client built elsewhere (with an
    /// interceptor, say).
    pub async fn with_client(
        store: DynamoProjection,
        streams: aws_sdk_dynamodbstreams::Client,
    ) -> Result<Self, StoreError> {
        let config = store.config().clone();
        let table = store
            .client()
            .describe_table()
            .table_name(&config.events_table)
            .send()
            .await
            .map_err(|e| store.error("describe", &config.events_table, e))?;
        let stream_arn = table
            .table()
            .and_then(|t| t.latest_stream_arn())
            .map(str::to_owned)
            .ok_or_else(|| {
                StoreError::Unavailable(format!(
                    "table `{}` at {} has no stream: create the tables from infra/template.yaml (`dlg --store dynamodb init-tables`), which enables NEW_IMAGE streams",
                    config.events_table,
                    config.where_()
                ))
            })?;
        Ok(Self {
            store,
            streams,
            stream_arn,
            region: config.region,
            shards: BTreeMap::new(),
        })
    }

    /// The stream's ARN.
    pub fn stream_arn(&self) -> &str {
        &self.stream_arn
    }

    /// Reads every readable shard once and projects what it finds; a failed batch is read again
    /// on the next poll.
    pub async fn poll(&mut self) -> Result<PollReport, StoreError> {
        let mut report = PollReport::default();
        for batch in self.read().await? {
            let (response, batch_report): (DynamoDbEventResponse, BatchReport) =
                handle_with_report(&self.store, &batch.event).await;
            report.batches += 1;
            report.records += batch_report.records;
            report.applied += batch_report.applied;
            if !response.batch_item_failures.is_empty() {
                report.failed_batches += 1;
            }
            self.settle(&batch, &response).await?;
        }
        Ok(report)
    }

    /// Polls every `interval` until `stop` resolves. Errors (DynamoDB Local restarting) are
    /// logged and the next poll tries again.
    pub async fn run(&mut self, interval: Duration, stop: impl std::future::Future<Output = ()>) {
        tokio::pin!(stop);
        loop {
            match self.poll().await {
                Ok(report) if report.batches > 0 => tracing::debug!(
                    batches = report.batches,
                    records = report.records,
                    applied = report.applied,
                    failed_batches = report.failed_batches,
                    "polled"
                ),
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "stream poll failed; trying again"),
            }
            tokio::select! {
                () = &mut stop => return,
                () = tokio::time::sleep(interval) => {}
            }
        }
    }

    /// Reads the next records of every readable shard, without projecting them.
    pub async fn read(&mut self) -> Result<Vec<ShardBatch>, StoreError> {
        self.discover().await?;
        let mut batches = Vec::new();
        let ids: Vec<String> = self.shards.keys().cloned().collect();
        for id in ids {
            let Some(Position::At(iterator)) = self.shards.get(&id).map(|s| s.position.clone())
            else {
                continue;
            };
            let page = match self
                .streams
                .get_records()
                .shard_iterator(iterator)
                .limit(BATCH_SIZE)
                .send()
                .await
            {
                Ok(page) => page,
                Err(error) => {
                    let code = aws_sdk_dynamodbstreams::error::ProvideErrorMetadata::code(&error);
                    // An iterator expires after 15 minutes; DynamoDB Local also calls an
                    // iterator taken on a still empty shard trimmed once records arrive. Either
                    // way a fresh one after the last delivered record carries on.
                    if matches!(
                        code,
                        Some("ExpiredIteratorException" | "TrimmedDataAccessException")
                    ) {
                        self.reposition(&id).await?;
                        continue;
                    }
                    return Err(self.store.error("read the stream", &self.stream_arn, error));
                }
            };
            let next_iterator = page.next_shard_iterator().map(str::to_owned);
            if page.records().is_empty() {
                self.advance(&id, next_iterator, None);
                continue;
            }
            let mut event = Event::default();
            event.records = page
                .records()
                .iter()
                .map(|r| lambda_record(r, &self.stream_arn, &self.region))
                .collect();
            batches.push(ShardBatch {
                shard: id,
                event,
                next_iterator,
            });
        }
        Ok(batches)
    }

    /// Moves a shard past a handled batch, or back to its first failed record.
    pub async fn settle(
        &mut self,
        batch: &ShardBatch,
        response: &DynamoDbEventResponse,
    ) -> Result<(), StoreError> {
        match response.batch_item_failures.first() {
            None => {
                let last = batch
                    .event
                    .records
                    .last()
                    .and_then(|r| r.change.sequence_number.clone());
                self.advance(&batch.shard, batch.next_iterator.clone(), last);
                Ok(())
            }
            Some(failure) => {
                let iterator = match &failure.item_identifier {
                    Some(sequence) => {
                        self.iterator(
                            &batch.shard,
                            ShardIteratorType::AtSequenceNumber,
                            Some(sequence),
                        )
                        .await?
                    }
                    // No identifier: the whole batch failed.
                    None => None,
                };
                if let Some(iterator) = iterator
                    && let Some(shard) = self.shards.get_mut(&batch.shard)
                {
                    shard.position = Position::At(iterator);
                } else {
                    self.reposition(&batch.shard).await?;
                }
                Ok(())
            }
        }
    }

    fn advance(&mut self, id: &str, next: Option<String>, last: Option<String>) {
        if let Some(shard) = self.shards.get_mut(id) {
            if last.is_some() {
                shard.last = last;
            }
            shard.position = match next {
                Some(iterator) => Position::At(iterator),
                None => Position::Done,
            };
        }
        // A finished parent lets its children start.
        if matches!(
            self.shards.get(id).map(|s| &s.position),
            Some(Position::Done)
        ) {
            for shard in self.shards.values_mut() {
                if matches!(&shard.position, Position::AfterParent(parent) if parent == id) {
                    shard.position = Position::At(String::new());
                }
            }
        }
    }

    /// A fresh iterator after the last delivered record (or from the start).
    async fn reposition(&mut self, id: &str) -> Result<(), StoreError> {
        let last = self.shards.get(id).and_then(|s| s.last.clone());
        let iterator = match &last {
            Some(sequence) => {
                self.iterator(id, ShardIteratorType::AfterSequenceNumber, Some(sequence))
                    .await?
            }
            None => {
                self.iterator(id, ShardIteratorType::TrimHorizon, None)
                    .await?
            }
        };
        if let Some(shard) = self.shards.get_mut(id) {
            shard.position = iterator.map_or(Position::Done, Position::At);
        }
        Ok(())
    }

    async fn iterator(
        &self,
        shard: &str,
        kind: ShardIteratorType,
        sequence: Option<&str>,
    ) -> Result<Option<String>, StoreError> {
        let answer = self
            .streams
            .get_shard_iterator()
            .stream_arn(&self.stream_arn)
            .shard_id(shard)
            .shard_iterator_type(kind)
            .set_sequence_number(sequence.map(str::to_owned))
            .send()
            .await
            .map_err(|e| self.store.error("open a shard", &self.stream_arn, e))?;
        Ok(answer.shard_iterator().map(str::to_owned))
    }

    /// Learns the stream's shards; new ones start at their oldest record once their parent
    /// (if this runner knows it) is read to its end.
    async fn discover(&mut self) -> Result<(), StoreError> {
        let mut start: Option<String> = None;
        let mut found = Vec::new();
        loop {
            let answer = self
                .streams
                .describe_stream()
                .stream_arn(&self.stream_arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await
                .map_err(|e| self.store.error("describe the stream", &self.stream_arn, e))?;
            let Some(description) = answer.stream_description() else {
                break;
            };
            for shard in description.shards() {
                if let Some(id) = shard.shard_id() {
                    found.push((id.to_owned(), shard.parent_shard_id().map(str::to_owned)));
                }
            }
            match description.last_evaluated_shard_id() {
                Some(last) => start = Some(last.to_owned()),
                None => break,
            }
        }
        for (id, parent) in found {
            if self.shards.contains_key(&id) {
                continue;
            }
            let waits = parent.filter(|p| {
                self.shards
                    .get(p)
                    .is_some_and(|s| !matches!(s.position, Position::Done))
            });
            let position = match waits {
                Some(parent) => Position::AfterParent(parent),
                None => Position::At(String::new()),
            };
            self.shards.insert(
                id,
                Shard {
                    position,
                    last: None,
                },
            );
        }
        // Shards marked to start get their first iterator.
        let starting: Vec<String> = self
            .shards
            .iter()
            .filter(|(_, s)| matches!(&s.position, Position::At(i) if i.is_empty()))
            .map(|(id, _)| id.clone())
            .collect();
        for id in starting {
            self.reposition(&id).await?;
        }
        Ok(())
    }
}

/// A stream record as the Lambda service hands it to the function.
pub fn lambda_record(record: &Record, stream_arn: &str, region: &str) -> EventRecord {
    let mut shaped = EventRecord::default();
    shaped.aws_region = record.aws_region().unwrap_or(region).to_owned();
    shaped.event_id = record.event_id().unwrap_or_default().to_owned();
    shaped.event_name = record
        .event_name()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_default();
    shaped.event_source = record.event_source().map(str::to_owned);
    shaped.event_version = record.event_version().map(str::to_owned);
    shaped.event_source_arn = Some(stream_arn.to_owned());
    let mut change = StreamRecord::default();
    if let Some(data) = record.dynamodb() {
        if let Some(time) = data.approximate_creation_date_time() {
            change.approximate_creation_date_time =
                chrono::DateTime::from_timestamp(time.secs(), time.subsec_nanos())
                    .unwrap_or_default();
        }
        if let Some(keys) = data.keys() {
            change.keys = keys.clone().into();
        }
        if let Some(image) = data.new_image() {
            change.new_image = image.clone().into();
        }
        if let Some(image) = data.old_image() {
            change.old_image = image.clone().into();
        }
        change.sequence_number = data.sequence_number().map(str::to_owned);
        change.size_bytes = data.size_bytes().unwrap_or_default();
        change.stream_view_type = data.stream_view_type().map(|v| match v.as_str() {
            "KEYS_ONLY" => StreamViewType::KeysOnly,
            "OLD_IMAGE" => StreamViewType::OldImage,
            "NEW_AND_OLD_IMAGES" => StreamViewType::NewAndOldImages,
            _ => StreamViewType::NewImage,
        });
    }
    shaped.change = change;
    shaped
}
