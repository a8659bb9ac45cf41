//! The events table on DynamoDB: one conditional PutItem per commit, commits by key range.

use aws_sdk_dynamodb::types::AttributeValue;
use dlg_core::ids::DialogueId;

use super::DynamoProjection;
use super::items::{Item, commit_attributes, commit_item, string};
use super::request::{SortRange, is_condition_failure};
use crate::{
    CommitRow, EventStore, StoreError, StoreResult, commit_key, parse_partition_key, partition_key,
};

impl EventStore for DynamoProjection {
    async fn dialogues(&self) -> StoreResult<Vec<DialogueId>> {
        // Every dialogue has commit 1; a filtered scan of the events table finds them. (At scale a
        // listing would come from a dialogue index; the template can add one without a format change.)
        let table = &self.config.events_table;
        let items: Vec<Item> = self
            .client
            .scan()
            .table_name(table)
            .consistent_read(true)
            .filter_expression("sk = :first")
            .expression_attribute_values(":first", AttributeValue::S(commit_key(1)))
            .projection_expression("pk")
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .map_err(|e| self.error("list dialogues", table, e))?;
        let mut ids = items
            .iter()
            .map(|item| parse_partition_key(&string(item, "pk")?))
            .collect::<StoreResult<Vec<_>>>()?;
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
        crate::check_size(row)?;
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
                dialogue: dialogue.clone(),
                expected: row.number,
                actual: self.head(&pk).await?,
            }),
            Err(error) => Err(self.error("append a commit", table, error)),
        }
    }
}
