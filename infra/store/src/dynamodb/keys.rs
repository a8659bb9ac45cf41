//! The keys table on DynamoDB: wrapped data keys by dialogue and version. Only the writer's
//! [`DynamoStore`] reaches it; a projector's handle has no keys table at all.

use aws_sdk_dynamodb::types::AttributeValue;
use dlg_core::ids::DialogueId;
use dlg_core::seal::WrappedKey;

use super::DynamoStore;
use super::items::string;
use super::request::{SortRange, is_condition_failure};
use crate::{KeyStore, StoreError, StoreResult, key_version_key, partition_key};

impl KeyStore for DynamoStore {
    async fn wrapped_keys(&self, dialogue: &DialogueId) -> StoreResult<Vec<(u32, WrappedKey)>> {
        let items = self
            .tables
            .query_all(
                &self.config.keys_table,
                &partition_key(dialogue),
                SortRange::All,
            )
            .await?;
        items
            .iter()
            .map(|item| {
                crate::parse_wrapped_key(dialogue, &string(item, "sk")?, &string(item, "wrapped")?)
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
            .tables
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
                dialogue: dialogue.clone(),
                version,
            }),
            Err(error) => Err(self.tables.error("store a wrapped key", table, error)),
        }
    }

    async fn delete_wrapped_keys(&self, dialogue: &DialogueId) -> StoreResult<usize> {
        let table = &self.config.keys_table;
        let items = self
            .tables
            .query_all(table, &partition_key(dialogue), SortRange::All)
            .await?;
        for item in &items {
            self.tables
                .client
                .delete_item()
                .table_name(table)
                .key("pk", AttributeValue::S(partition_key(dialogue)))
                .key("sk", AttributeValue::S(string(item, "sk")?))
                .send()
                .await
                .map_err(|e| self.tables.error("delete a wrapped key", table, e))?;
        }
        Ok(items.len())
    }
}
