//! The requests every DynamoDB table handle shares: turning SDK errors into store errors that
//! say what to fix, paged queries, the head of a dialogue, and batch writes with backoff.

use std::time::Duration;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, WriteRequest};

use super::DynamoProjection;
use super::items::{Item, string};
use crate::{StoreError, StoreResult};

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
pub(super) enum SortRange<'a> {
    All,
    From(String),
    Between(String, String),
    Prefix(&'a str),
}

/// The items a graph transaction may hold besides the checkpoint (DynamoDB allows 100).
pub(super) const TRANSACTION_ITEMS: usize = 99;

pub(super) fn is_condition_failure<E: ProvideErrorMetadata, R>(error: &SdkError<E, R>) -> bool {
    matches!(
        error.code(),
        Some("ConditionalCheckFailedException") | Some("TransactionCanceledException")
    )
}

impl DynamoProjection {
    /// The store error for a failed SDK request (of DynamoDB or DynamoDB Streams): a dead
    /// endpoint or missing table says how to fix it; throttling and 5xx are `Unavailable`
    /// (retry), anything else the service rejected is `Refused`.
    pub fn error<E>(
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

    /// Every item of partition `pk` within `range`, across pages.
    pub(super) async fn query_all(
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

    /// Every item of a global secondary index's partition, across pages.
    pub(super) async fn query_index(
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

    /// Every item the query answers, across its pages (1 MB each), by the SDK's paginator.
    pub(super) async fn pages(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
        table: &str,
    ) -> StoreResult<Vec<Item>> {
        query
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.error("query", table, e))
    }

    pub(super) async fn head(&self, pk: &str) -> StoreResult<u64> {
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
            .and_then(|sk| crate::parse_commit_key(&sk).ok())
            .unwrap_or(0))
    }

    /// Writes items with BatchWriteItem (25 at a time), retrying unprocessed items with backoff.
    pub(super) async fn batch_write(
        &self,
        table: &str,
        mut requests: Vec<WriteRequest>,
    ) -> StoreResult<()> {
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
