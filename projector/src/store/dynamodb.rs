//! The DynamoDB backend: the events, graph and keys tables of `infra/template.yaml`. One
//! conditional PutItem per commit; graph writes in transactions whose items only move forward;
//! SDK retries with backoff for throttling and 5xx; clear errors for a dead endpoint or a missing
//! table. The only module that knows DynamoDB attribute values.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, Put, PutRequest, TransactWriteItem, WriteRequest,
};
use dlg_core::graph::{ContributionItem, GraphItem, NodeItem};
use dlg_core::ids::{DialogueId, EntityKind, ExpertSlug};
use dlg_core::model::tension_is_open;
use dlg_core::seal::WrappedKey;

use super::{
    CommitRow, EventStore, GraphStore, KeyStore, Store, StoreError, StoreResult, commit_key,
    key_version_key, parse_partition_key, partition_key,
};

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// Where the tables are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynamoConfig {
    /// Endpoint URL (DynamoDB Local); `None` for AWS's regional endpoint.
    pub endpoint: Option<String>,
    pub region: String,
    pub events_table: String,
    pub graph_table: String,
    pub keys_table: String,
}

impl DynamoConfig {
    /// Table names `{prefix}-events`, `{prefix}-graph`, `{prefix}-keys` (the template's names for
    /// a stack called `prefix`).
    pub fn with_prefix(endpoint: Option<String>, region: &str, prefix: &str) -> Self {
        Self {
            endpoint,
            region: region.to_owned(),
            events_table: format!("{prefix}-events"),
            graph_table: format!("{prefix}-graph"),
            keys_table: format!("{prefix}-keys"),
        }
    }

    /// Where the tables are, for messages: the endpoint URL or the region.
    pub fn where_(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| format!("DynamoDB in {}", self.region))
    }
}

/// The DynamoDB store.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    client: Client,
    config: DynamoConfig,
}

/// The graph table's index of open tensions across dialogues, and its partition value.
const OPEN_TENSIONS_INDEX: &str = "open-tensions";
const OPEN_TENSION: &str = "OPEN_TENSION";
/// The graph table's index of contributions by expert.
const CONTRIBUTIONS_INDEX: &str = "contributions-by-expert";

/// The SDK configuration for `config` ([`crate::aws::sdk_config`] with its region and endpoint),
/// shared by the DynamoDB and DynamoDB Streams clients.
pub async fn sdk_config(config: &DynamoConfig) -> aws_config::SdkConfig {
    crate::aws::sdk_config(&config.region, config.endpoint.as_deref()).await
}

/// Whether a service error may pass on retry: throttling, a transaction in progress, or a
/// server-side (5xx) failure. Client errors (validation, access) are not.
fn is_transient<E: ProvideErrorMetadata>(error: &SdkError<E, HttpResponse>) -> bool {
    const TRANSIENT: &[&str] = &[
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "LimitExceededException",
        "TransactionInProgressException",
        "TransactionConflictException",
        "InternalServerError",
        "ServiceUnavailable",
    ];
    match error {
        SdkError::ServiceError(service) => {
            error.code().is_some_and(|code| TRANSIENT.contains(&code))
                || service.raw().status().is_server_error()
        }
        _ => true,
    }
}

/// Which sort keys of a partition to read.
#[derive(Debug)]
enum SortRange<'a> {
    All,
    From(String),
    Between(String, String),
    Prefix(&'a str),
}

/// The items a graph transaction may hold besides the checkpoint (DynamoDB allows 100).
const TRANSACTION_ITEMS: usize = 99;

impl DynamoStore {
    /// Builds the client once, from [`sdk_config`].
    pub async fn connect(config: DynamoConfig) -> Self {
        let sdk = sdk_config(&config).await;
        Self {
            client: Client::new(&sdk),
            config,
        }
    }

    /// A store over an existing client (one built with interceptors, or shared with other code).
    pub fn with_client(client: Client, config: DynamoConfig) -> Self {
        Self { client, config }
    }

    /// The SDK client (for table administration and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &DynamoConfig {
        &self.config
    }

    pub(crate) fn error<E>(
        &self,
        action: &str,
        table: &str,
        error: SdkError<E, HttpResponse>,
    ) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let place = self.config.where_();
        match &error {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                StoreError::Unavailable(format!(
                    "cannot reach {place} to {action} ({}); is it running? (set --endpoint or DLG_DYNAMODB_ENDPOINT)",
                    crate::aws::root_cause(&error)
                ))
            }
            _ if error.code() == Some("ResourceNotFoundException") => {
                StoreError::Unavailable(format!(
                    "table `{table}` does not exist at {place}: create the tables with `dlg --store dynamodb init-tables` or deploy infra/template.yaml"
                ))
            }
            _ if error.code() == Some("AccessDeniedException") => StoreError::Refused(format!(
                "{place} denied the request to {action} on `{table}`: give this identity the stack's policy for its part (docs/deploy.md): {}",
                error.message().unwrap_or_default()
            )),
            _ if is_transient(&error) => StoreError::Unavailable(format!(
                "{place} could not {action} on `{table}` now (retry later): {}",
                DisplayErrorContext(&error)
            )),
            _ => StoreError::Refused(format!(
                "{place} refused to {action} on `{table}`: {}",
                DisplayErrorContext(&error)
            )),
        }
    }

    /// Every item of partition `pk` within `range`, following pages (1 MB each).
    async fn query_all(
        &self,
        table: &str,
        pk: &str,
        range: SortRange<'_>,
    ) -> StoreResult<Vec<Item>> {
        let mut query = self
            .client
            .query()
            .table_name(table)
            .consistent_read(true)
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()));
        query = match range {
            SortRange::All => query.key_condition_expression("pk = :pk"),
            SortRange::From(from) => query
                .key_condition_expression("pk = :pk AND sk >= :from")
                .expression_attribute_values(":from", AttributeValue::S(from)),
            SortRange::Between(from, to) => query
                .key_condition_expression("pk = :pk AND sk BETWEEN :from AND :to")
                .expression_attribute_values(":from", AttributeValue::S(from))
                .expression_attribute_values(":to", AttributeValue::S(to)),
            SortRange::Prefix(prefix) => query
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", AttributeValue::S(prefix.to_owned())),
        };
        self.pages(query, table).await
    }

    /// Every item of a global secondary index's partition, following pages.
    async fn query_index(
        &self,
        index: &str,
        key: &str,
        value: String,
        what: &str,
    ) -> StoreResult<Vec<Item>> {
        let table = &self.config.graph_table;
        let query = self
            .client
            .query()
            .table_name(table)
            .index_name(index)
            .key_condition_expression("#key = :value")
            .expression_attribute_names("#key", key)
            .expression_attribute_values(":value", AttributeValue::S(value));
        self.pages(query, &format!("{table} ({what})")).await
    }

    async fn pages(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        table: &str,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = query
                .clone()
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.error("query", table, e))?;
            items.extend(page.items().iter().cloned());
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }

    async fn head(&self, pk: &str) -> StoreResult<u64> {
        let page = self
            .client
            .query()
            .table_name(&self.config.events_table)
            .consistent_read(true)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
            .scan_index_forward(false)
            .limit(1)
            .send()
            .await
            .map_err(|e| self.error("read the head", &self.config.events_table, e))?;
        Ok(page
            .items()
            .first()
            .and_then(|item| string(item, "sk").ok())
            .and_then(|sk| super::parse_commit_key(&sk).ok())
            .unwrap_or(0))
    }

    /// Writes items with BatchWriteItem (25 at a time), retrying unprocessed items with backoff.
    async fn batch_write(&self, table: &str, mut requests: Vec<WriteRequest>) -> StoreResult<()> {
        while !requests.is_empty() {
            let rest = requests.split_off(requests.len().min(25));
            let mut pending = std::mem::replace(&mut requests, rest);
            for attempt in 0..8u32 {
                let answer = self
                    .client
                    .batch_write_item()
                    .request_items(table, pending)
                    .send()
                    .await
                    .map_err(|e| self.error("write a batch", table, e))?;
                pending = answer
                    .unprocessed_items()
                    .and_then(|u| u.get(table))
                    .cloned()
                    .unwrap_or_default();
                if pending.is_empty() {
                    break;
                }
                if attempt == 7 {
                    return Err(StoreError::Unavailable(format!(
                        "{} kept {} items of `{table}` unprocessed (throttled): retry later",
                        self.config.where_(),
                        pending.len()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(25 << attempt)).await;
            }
        }
        Ok(())
    }
}

/// The events-table item of a commit: keys, exact bytes, recorded hash, idempotency key.
pub fn commit_attributes(
    dialogue: &DialogueId,
    row: &CommitRow,
    idempotency_key: Option<&str>,
) -> Item {
    let mut item = Item::from([
        ("pk".to_owned(), AttributeValue::S(partition_key(dialogue))),
        ("sk".to_owned(), AttributeValue::S(commit_key(row.number))),
        (
            "commit".to_owned(),
            AttributeValue::B(Blob::new(row.bytes.clone())),
        ),
        (
            "hash".to_owned(),
            AttributeValue::B(Blob::new(row.hash.to_vec())),
        ),
    ]);
    if let Some(key) = idempotency_key {
        item.insert("idem".to_owned(), AttributeValue::S(key.to_owned()));
    }
    item
}

/// A commit item of the events table (as read, or as a stream record's new image): its dialogue
/// and row.
pub fn commit_item(item: &Item) -> StoreResult<(DialogueId, CommitRow)> {
    let dialogue = parse_partition_key(&string(item, "pk")?)?;
    let number = super::parse_commit_key(&string(item, "sk")?)?;
    let row = CommitRow::from_parts(
        &dialogue,
        number,
        bytes(item, "commit")?,
        bytes(item, "hash")?,
    )?;
    Ok((dialogue, row))
}

fn string(item: &Item, name: &str) -> StoreResult<String> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(StoreError::Corrupt(format!(
            "item without string attribute `{name}`"
        ))),
    }
}

fn bytes(item: &Item, name: &str) -> StoreResult<Vec<u8>> {
    match item.get(name) {
        Some(AttributeValue::B(b)) => Ok(b.as_ref().to_vec()),
        _ => Err(StoreError::Corrupt(format!(
            "item without binary attribute `{name}`"
        ))),
    }
}

/// The attributes of one graph item: keys, JSON payload, origin commit, and index keys.
fn graph_attributes(dialogue: &DialogueId, item: &GraphItem) -> StoreResult<Item> {
    let json =
        serde_json::to_string(item).map_err(|e| StoreError::Corrupt(format!("graph item: {e}")))?;
    let mut attributes = Item::from([
        ("pk".to_owned(), AttributeValue::S(partition_key(dialogue))),
        ("sk".to_owned(), AttributeValue::S(item.sort_key())),
        ("item".to_owned(), AttributeValue::S(json)),
        (
            "commit".to_owned(),
            AttributeValue::N(item.origin_commit().to_string()),
        ),
    ]);
    match item {
        GraphItem::Node(node)
            if node.kind == EntityKind::Tension && tension_is_open(node.status) =>
        {
            attributes.insert(
                "open_pk".to_owned(),
                AttributeValue::S(OPEN_TENSION.to_owned()),
            );
            attributes.insert(
                "open_sk".to_owned(),
                AttributeValue::S(format!("{dialogue}#{}", node.id)),
            );
        }
        GraphItem::Contribution(c) => {
            attributes.insert(
                "expert_pk".to_owned(),
                AttributeValue::S(format!("X#{}", c.expert)),
            );
            attributes.insert(
                "expert_sk".to_owned(),
                AttributeValue::S(format!("{dialogue}#{}", c.id)),
            );
        }
        _ => {}
    }
    Ok(attributes)
}

fn parse_graph_item(item: &Item) -> StoreResult<GraphItem> {
    let json = string(item, "item")?;
    serde_json::from_str(&json).map_err(|e| {
        StoreError::Corrupt(format!(
            "graph item `{}` cannot be read: {e}",
            string(item, "sk").unwrap_or_default()
        ))
    })
}

fn is_condition_failure<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    matches!(
        error.code(),
        Some("ConditionalCheckFailedException") | Some("TransactionCanceledException")
    )
}

impl EventStore for DynamoStore {
    async fn dialogues(&self) -> StoreResult<Vec<DialogueId>> {
        // Every dialogue has commit 1; a filtered scan of the events table finds them. (At scale a
        // listing would come from a dialogue index; the template can add one without a format change.)
        let table = &self.config.events_table;
        let mut ids = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(table)
                .consistent_read(true)
                .filter_expression("sk = :first")
                .expression_attribute_values(":first", AttributeValue::S(commit_key(1)))
                .projection_expression("pk")
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| self.error("list dialogues", table, e))?;
            for item in page.items() {
                ids.push(parse_partition_key(&string(item, "pk")?)?);
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        ids.sort();
        Ok(ids)
    }

    async fn commit_range(
        &self,
        dialogue: &DialogueId,
        from: u64,
        through: u64,
    ) -> StoreResult<Vec<CommitRow>> {
        let range = if through >= 9_999_999_999 {
            SortRange::From(commit_key(from))
        } else {
            SortRange::Between(commit_key(from), commit_key(through))
        };
        let items = self
            .query_all(&self.config.events_table, &partition_key(dialogue), range)
            .await?;
        items
            .iter()
            .map(|item| commit_item(item).map(|(_, row)| row))
            .collect()
    }

    async fn append(
        &self,
        dialogue: &DialogueId,
        row: &CommitRow,
        idempotency_key: Option<&str>,
    ) -> StoreResult<()> {
        super::check_size(row)?;
        let pk = partition_key(dialogue);
        let item = commit_attributes(dialogue, row, idempotency_key);
        let table = &self.config.events_table;
        match self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_condition_failure(&error) => Err(StoreError::Conflict {
                dialogue: dialogue.to_string(),
                expected: row.number,
                actual: self.head(&pk).await?,
            }),
            Err(error) => Err(self.error("append a commit", table, error)),
        }
    }
}

impl KeyStore for DynamoStore {
    async fn wrapped_keys(&self, dialogue: &DialogueId) -> StoreResult<Vec<(u32, WrappedKey)>> {
        let items = self
            .query_all(
                &self.config.keys_table,
                &partition_key(dialogue),
                SortRange::All,
            )
            .await?;
        items
            .iter()
            .map(|item| {
                super::parse_wrapped_key(dialogue, &string(item, "sk")?, &string(item, "wrapped")?)
            })
            .collect()
    }

    async fn put_wrapped_key(
        &self,
        dialogue: &DialogueId,
        version: u32,
        wrapped: &WrappedKey,
    ) -> StoreResult<()> {
        let json =
            serde_json::to_string(wrapped).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let table = &self.config.keys_table;
        match self
            .client
            .put_item()
            .table_name(table)
            .item("pk", AttributeValue::S(partition_key(dialogue)))
            .item("sk", AttributeValue::S(key_version_key(version)))
            .item("wrapped", AttributeValue::S(json))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(error) if is_condition_failure(&error) => Err(StoreError::KeyExists {
                dialogue: dialogue.to_string(),
                version,
            }),
            Err(error) => Err(self.error("store a wrapped key", table, error)),
        }
    }

    async fn delete_wrapped_keys(&self, dialogue: &DialogueId) -> StoreResult<usize> {
        let table = &self.config.keys_table;
        let items = self
            .query_all(table, &partition_key(dialogue), SortRange::All)
            .await?;
        for item in &items {
            self.client
                .delete_item()
                .table_name(table)
                .key("pk", AttributeValue::S(partition_key(dialogue)))
                .key("sk", AttributeValue::S(string(item, "sk")?))
                .send()
                .await
                .map_err(|e| self.error("delete a wrapped key", table, e))?;
        }
        Ok(items.len())
    }
}

impl GraphStore for DynamoStore {
    async fn graph_items(&self, dialogue: &DialogueId) -> StoreResult<Vec<GraphItem>> {
        let items = self
            .query_all(
                &self.config.graph_table,
                &partition_key(dialogue),
                SortRange::All,
            )
            .await?;
        items.iter().map(parse_graph_item).collect()
    }

    async fn graph_items_under(
        &self,
        dialogue: &DialogueId,
        prefix: &str,
    ) -> StoreResult<Vec<GraphItem>> {
        let items = self
            .query_all(
                &self.config.graph_table,
                &partition_key(dialogue),
                SortRange::Prefix(prefix),
            )
            .await?;
        items.iter().map(parse_graph_item).collect()
    }

    async fn open_tensions(&self) -> StoreResult<Vec<(DialogueId, NodeItem)>> {
        let items = self
            .query_index(
                OPEN_TENSIONS_INDEX,
                "open_pk",
                OPEN_TENSION.to_owned(),
                "open tensions",
            )
            .await?;
        let mut found = Vec::new();
        for item in &items {
            if let GraphItem::Node(node) = parse_graph_item(item)? {
                found.push((parse_partition_key(&string(item, "pk")?)?, node));
            }
        }
        found.sort_by(|a, b| (&a.0, a.1.id).cmp(&(&b.0, b.1.id)));
        Ok(found)
    }

    async fn contributions_of(
        &self,
        expert: &ExpertSlug,
    ) -> StoreResult<Vec<(DialogueId, ContributionItem)>> {
        let items = self
            .query_index(
                CONTRIBUTIONS_INDEX,
                "expert_pk",
                format!("X#{expert}"),
                "contributions",
            )
            .await?;
        let mut found = Vec::new();
        for item in &items {
            if let GraphItem::Contribution(c) = parse_graph_item(item)? {
                found.push((parse_partition_key(&string(item, "pk")?)?, c));
            }
        }
        found.sort_by(|a, b| (&a.0, a.1.id).cmp(&(&b.0, b.1.id)));
        Ok(found)
    }

    async fn put_graph_items(
        &self,
        dialogue: &DialogueId,
        items: &[GraphItem],
        expected_checkpoint: u64,
    ) -> StoreResult<()> {
        let table = &self.config.graph_table;
        let conflict = || StoreError::Conflict {
            dialogue: dialogue.to_string(),
            expected: expected_checkpoint,
            actual: expected_checkpoint + 1,
        };
        let (checkpoints, others): (Vec<&GraphItem>, Vec<&GraphItem>) = items
            .iter()
            .partition(|i| matches!(i, GraphItem::Checkpoint(_)));
        // Items only move forward (their origin commit never decreases), so a slower projector
        // can never overwrite what a faster one wrote; the checkpoint moves only from the commit
        // this projector started at.
        let mut transactions: Vec<Vec<TransactWriteItem>> = Vec::new();
        for chunk in others.chunks(TRANSACTION_ITEMS) {
            let mut writes = Vec::with_capacity(chunk.len() + 1);
            for item in chunk {
                let put = Put::builder()
                    .table_name(table)
                    .set_item(Some(graph_attributes(dialogue, item)?))
                    .condition_expression("attribute_not_exists(pk) OR #commit <= :commit")
                    .expression_attribute_names("#commit", "commit")
                    .expression_attribute_values(
                        ":commit",
                        AttributeValue::N(item.origin_commit().to_string()),
                    )
                    .build()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                writes.push(TransactWriteItem::builder().put(put).build());
            }
            transactions.push(writes);
        }
        if transactions.is_empty() {
            transactions.push(Vec::new());
        }
        for checkpoint in checkpoints {
            let mut put = Put::builder()
                .table_name(table)
                .set_item(Some(graph_attributes(dialogue, checkpoint)?));
            put = if expected_checkpoint == 0 {
                put.condition_expression("attribute_not_exists(pk)")
            } else {
                put.condition_expression("#commit = :expected")
                    .expression_attribute_names("#commit", "commit")
                    .expression_attribute_values(
                        ":expected",
                        AttributeValue::N(expected_checkpoint.to_string()),
                    )
            };
            let put = put
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if let Some(last) = transactions.last_mut() {
                last.push(TransactWriteItem::builder().put(put).build());
            }
        }
        for writes in transactions.into_iter().filter(|w| !w.is_empty()) {
            match self
                .client
                .transact_write_items()
                .set_transact_items(Some(writes))
                .send()
                .await
            {
                Ok(_) => {}
                Err(error) if is_condition_failure(&error) => return Err(conflict()),
                Err(error) => return Err(self.error("write graph items", table, error)),
            }
        }
        Ok(())
    }

    async fn replace_graph(&self, dialogue: &DialogueId, items: &[GraphItem]) -> StoreResult<()> {
        let table = &self.config.graph_table;
        let existing = self
            .query_all(table, &partition_key(dialogue), SortRange::All)
            .await?;
        let mut deletes = Vec::new();
        for item in &existing {
            let key = Item::from([
                ("pk".to_owned(), AttributeValue::S(partition_key(dialogue))),
                ("sk".to_owned(), AttributeValue::S(string(item, "sk")?)),
            ]);
            let request = DeleteRequest::builder()
                .set_key(Some(key))
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            deletes.push(WriteRequest::builder().delete_request(request).build());
        }
        self.batch_write(table, deletes).await?;
        let mut puts = Vec::new();
        for item in items {
            let request = PutRequest::builder()
                .set_item(Some(graph_attributes(dialogue, item)?))
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            puts.push(WriteRequest::builder().put_request(request).build());
        }
        self.batch_write(table, puts).await
    }
}

impl Store for DynamoStore {
    fn describe(&self) -> String {
        format!(
            "dynamodb:{} ({}, {}, {})",
            self.config.where_(),
            self.config.events_table,
            self.config.graph_table,
            self.config.keys_table
        )
    }
}
