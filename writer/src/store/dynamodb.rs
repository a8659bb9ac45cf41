//! The DynamoDB backend: the events, graph and keys tables of `infra/template.yaml`. One
//! conditional PutItem per commit; graph writes in transactions whose items only move forward;
//! SDK retries with backoff for throttling and 5xx; clear errors for a dead endpoint or a missing
//! table. The only module that knows DynamoDB attribute values.

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::{Credentials, Region};
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, Put, PutRequest, TransactWriteItem, WriteRequest,
};
use dlg_core::graph::GraphItem;
use dlg_core::ids::{DialogueId, EntityKind};
use dlg_core::model::tension_is_open;
use dlg_core::seal::WrappedKey;

use super::{
    CommitRow, EventStore, GraphStore, KeyStore, Store, StoreError, StoreResult, commit_key,
    key_version_key, partition_key,
};

type Item = HashMap<String, AttributeValue>;

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

    fn where_(&self) -> String {
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

/// The items a graph transaction may hold besides the checkpoint (DynamoDB allows 100).
const TRANSACTION_ITEMS: usize = 99;

impl DynamoStore {
    /// Builds the client once: region, endpoint, retries with backoff (throttling, 5xx), and
    /// timeouts so a dead endpoint fails in seconds. Against an endpoint URL without AWS
    /// credentials in the environment, static local credentials are used.
    pub async fn connect(config: DynamoConfig) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(Region::new(config.region.clone()))
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(4))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_attempt_timeout(Duration::from_secs(10))
                    .operation_timeout(Duration::from_secs(30))
                    .build(),
            );
        if let Some(endpoint) = &config.endpoint {
            loader = loader.endpoint_url(endpoint);
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
                loader = loader.credentials_provider(Credentials::new(
                    "local",
                    "local",
                    None,
                    None,
                    "dlg-local",
                ));
            }
        }
        let sdk = loader.load().await;
        Self {
            client: Client::new(&sdk),
            config,
        }
    }

    /// The SDK client (for table administration and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &DynamoConfig {
        &self.config
    }

    fn error<E, R>(&self, action: &str, table: &str, error: SdkError<E, R>) -> StoreError
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug + Send + Sync + 'static,
    {
        let place = self.config.where_();
        match &error {
            SdkError::DispatchFailure(_) | SdkError::TimeoutError(_) => {
                StoreError::Unavailable(format!(
                    "cannot reach {place} to {action} ({}); is it running? (set --endpoint or DLG_DYNAMODB_ENDPOINT)",
                    root_cause(&error)
                ))
            }
            _ if error.code() == Some("ResourceNotFoundException") => {
                StoreError::Unavailable(format!(
                    "table `{table}` does not exist at {place}: create the tables with `dlg --store dynamodb init-tables` or deploy infra/template.yaml"
                ))
            }
            _ => StoreError::Unavailable(format!(
                "{place} refused to {action} on `{table}`: {}",
                DisplayErrorContext(&error)
            )),
        }
    }

    async fn query_all(
        &self,
        table: &str,
        pk: &str,
        from_sk: Option<&str>,
    ) -> StoreResult<Vec<Item>> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let mut query = self
                .client
                .query()
                .table_name(table)
                .consistent_read(true)
                .expression_attribute_values(":pk", AttributeValue::S(pk.to_owned()))
                .set_exclusive_start_key(start.take());
            query = match from_sk {
                Some(from) => query
                    .key_condition_expression("pk = :pk AND sk >= :from")
                    .expression_attribute_values(":from", AttributeValue::S(from.to_owned())),
                None => query.key_condition_expression("pk = :pk"),
            };
            let page = query
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

/// The innermost cause of an error, which names what actually failed (connection refused, ...).
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
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
                AttributeValue::S("OPEN_TENSION".to_owned()),
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
                let pk = string(item, "pk")?;
                let id = pk
                    .strip_prefix("D#")
                    .and_then(|id| DialogueId::parse(id).ok())
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("events partition `{pk}` is not a dialogue"))
                    })?;
                ids.push(id);
            }
            match page.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        ids.sort();
        Ok(ids)
    }

    async fn commits(&self, dialogue: &DialogueId, from: u64) -> StoreResult<Vec<CommitRow>> {
        let items = self
            .query_all(
                &self.config.events_table,
                &partition_key(dialogue),
                Some(&commit_key(from)),
            )
            .await?;
        items
            .iter()
            .map(|item| {
                let sk = string(item, "sk")?;
                let number = super::parse_commit_key(&sk)?;
                let hash = bytes(item, "hash")?.try_into().map_err(|_| {
                    StoreError::Corrupt(format!(
                        "commit {number} of {dialogue} has a hash that is not 32 bytes"
                    ))
                })?;
                Ok(CommitRow {
                    number,
                    bytes: bytes(item, "commit")?,
                    hash,
                })
            })
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
        let mut item = Item::from([
            ("pk".to_owned(), AttributeValue::S(pk.clone())),
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
            .query_all(&self.config.keys_table, &partition_key(dialogue), None)
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
            .query_all(table, &partition_key(dialogue), None)
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
            .query_all(&self.config.graph_table, &partition_key(dialogue), None)
            .await?;
        items.iter().map(parse_graph_item).collect()
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
            .query_all(table, &partition_key(dialogue), None)
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
