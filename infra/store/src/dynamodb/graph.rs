//! The graph table on DynamoDB: the partition or a sort-key prefix by Query, the two indexes,
//! and forward-only conditional transactions whose last one moves the checkpoint.

use aws_sdk_dynamodb::types::{
    AttributeValue, DeleteRequest, Put, PutRequest, TransactWriteItem, WriteRequest,
};
use dlg_core::graph::{ContributionItem, GraphItem, NodeItem};
use dlg_core::ids::{DialogueId, ExpertSlug};

use super::DynamoProjection;
use super::items::{
    CONTRIBUTIONS_INDEX, Item, OPEN_TENSION, OPEN_TENSIONS_INDEX, graph_attributes,
    parse_graph_item, string,
};
use super::request::{SortRange, TRANSACTION_ITEMS, is_condition_failure};
use crate::{GraphStore, StoreError, StoreResult, parse_partition_key, partition_key};

impl GraphStore for DynamoProjection {
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
            dialogue: dialogue.clone(),
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
