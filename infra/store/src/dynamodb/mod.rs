//! The DynamoDB backend: the events, graph and keys tables of `infra/template.yaml`. One
//! conditional PutItem per commit; graph writes in transactions whose items only move forward;
//! SDK retries with backoff for throttling and 5xx; clear errors for a dead endpoint or a missing
//! table. The only module that knows DynamoDB attribute values.
//!
//! Two handles: [`DynamoProjection`] reaches the events and graph tables only (what a projector,
//! the Lambda and the stream runner are given: they cannot, by type, touch a wrapped key), and
//! [`DynamoStore`], the writer's, adds the keys table. The files below split the adapter by
//! table: `events.rs`, `graph.rs`, `keys.rs`, with the attribute codec in `items.rs`, the
//! requests every table shares in `request.rs`, and the table definitions in `tables.rs`.

mod events;
mod graph;
mod items;
mod keys;
mod request;
pub mod tables;

use aws_sdk_dynamodb::Client;
use dlg_core::graph::{ContributionItem, GraphItem, NodeItem};
use dlg_core::ids::{DialogueId, ExpertSlug};

use crate::{CommitRow, EventStore, GraphStore, Store, StoreResult};

pub use items::{Item, commit_attributes, commit_item};

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
        self.projection().where_()
    }
}

/// Where a projector's tables are: the events and graph tables, and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProjectionConfig {
    /// Endpoint URL (DynamoDB Local); `None` for AWS's regional endpoint.
    pub endpoint: Option<String>,
    pub region: String,
    pub events_table: String,
    pub graph_table: String,
}

impl ProjectionConfig {
    /// Where the tables are, for messages: the endpoint URL or the region.
    pub fn where_(&self) -> String {
        self.endpoint
            .clone()
            .unwrap_or_else(|| format!("DynamoDB in {}", self.region))
    }
}

impl DynamoConfig {
    /// The part of the configuration a projector is given: no keys table.
    pub fn projection(&self) -> ProjectionConfig {
        ProjectionConfig {
            endpoint: self.endpoint.clone(),
            region: self.region.clone(),
            events_table: self.events_table.clone(),
            graph_table: self.graph_table.clone(),
        }
    }
}

/// The SDK configuration for a region and endpoint ([`crate::aws::sdk_config`]), shared by the
/// DynamoDB and DynamoDB Streams clients.
pub async fn sdk_config(config: &ProjectionConfig) -> aws_config::SdkConfig {
    crate::aws::sdk_config(&config.region, config.endpoint.as_deref()).await
}

/// The events and graph tables: what a projector reads and writes. It has no keys table, so
/// code holding only this handle cannot read or delete a wrapped key.
#[derive(Debug, Clone)]
pub struct DynamoProjection {
    client: Client,
    config: ProjectionConfig,
}

impl DynamoProjection {
    /// Builds the client once, from [`sdk_config`].
    pub async fn connect(config: ProjectionConfig) -> Self {
        let sdk = sdk_config(&config).await;
        Self {
            client: Client::new(&sdk),
            config,
        }
    }

    /// A handle over an existing client (one built with interceptors, or shared with other code).
    pub fn with_client(client: Client, config: ProjectionConfig) -> Self {
        Self { client, config }
    }

    /// The SDK client (for table administration and tests).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &ProjectionConfig {
        &self.config
    }

    /// A short description for messages.
    pub fn describe(&self) -> String {
        format!(
            "dynamodb:{} ({}, {})",
            self.config.where_(),
            self.config.events_table,
            self.config.graph_table
        )
    }
}

/// The writer's DynamoDB store: the projection's tables plus the keys table.
#[derive(Debug, Clone)]
pub struct DynamoStore {
    tables: DynamoProjection,
    config: DynamoConfig,
}

impl DynamoStore {
    /// Builds the client once, from [`sdk_config`].
    pub async fn connect(config: DynamoConfig) -> Self {
        let tables = DynamoProjection::connect(config.projection()).await;
        Self { tables, config }
    }

    /// A store over an existing client (one built with interceptors, or shared with other code).
    pub fn with_client(client: Client, config: DynamoConfig) -> Self {
        let tables = DynamoProjection::with_client(client, config.projection());
        Self { tables, config }
    }

    /// The SDK client (for table administration and tests).
    pub fn client(&self) -> &Client {
        &self.tables.client
    }

    /// The configuration.
    pub fn config(&self) -> &DynamoConfig {
        &self.config
    }

    /// The events and graph tables alone, for a projector.
    pub fn projection(&self) -> &DynamoProjection {
        &self.tables
    }
}

// The writer's store reads and writes events and graph items exactly as the projection's
// handle does.
impl EventStore for DynamoStore {
    async fn dialogues(&self) -> StoreResult<Vec<DialogueId>> {
        self.tables.dialogues().await
    }

    async fn commit_range(
        &self,
        dialogue: &DialogueId,
        from: u64,
        through: u64,
    ) -> StoreResult<Vec<CommitRow>> {
        self.tables.commit_range(dialogue, from, through).await
    }

    async fn append(
        &self,
        dialogue: &DialogueId,
        row: &CommitRow,
        idempotency_key: Option<&str>,
    ) -> StoreResult<()> {
        self.tables.append(dialogue, row, idempotency_key).await
    }
}

impl GraphStore for DynamoStore {
    async fn graph_items(&self, dialogue: &DialogueId) -> StoreResult<Vec<GraphItem>> {
        self.tables.graph_items(dialogue).await
    }

    async fn graph_items_under(
        &self,
        dialogue: &DialogueId,
        prefix: &str,
    ) -> StoreResult<Vec<GraphItem>> {
        self.tables.graph_items_under(dialogue, prefix).await
    }

    async fn open_tensions(&self) -> StoreResult<Vec<(DialogueId, NodeItem)>> {
        self.tables.open_tensions().await
    }

    async fn contributions_of(
        &self,
        expert: &ExpertSlug,
    ) -> StoreResult<Vec<(DialogueId, ContributionItem)>> {
        self.tables.contributions_of(expert).await
    }

    async fn put_graph_items(
        &self,
        dialogue: &DialogueId,
        items: &[GraphItem],
        expected_checkpoint: u64,
    ) -> StoreResult<()> {
        self.tables
            .put_graph_items(dialogue, items, expected_checkpoint)
            .await
    }

    async fn replace_graph(&self, dialogue: &DialogueId, items: &[GraphItem]) -> StoreResult<()> {
        self.tables.replace_graph(dialogue, items).await
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
