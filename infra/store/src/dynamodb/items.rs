//! The attribute codec of the DynamoDB tables: commit items of the events table (as stored and
//! as a stream record's new image) and graph items with their index keys.

use std::collections::HashMap;

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use dlg_core::graph::GraphItem;
use dlg_core::ids::{DialogueId, EntityKind};
use dlg_core::model::tension_is_open;

use crate::{CommitRow, StoreError, StoreResult, commit_key, partition_key};

/// A DynamoDB item.
pub type Item = HashMap<String, AttributeValue>;

/// The graph table's index of open tensions across dialogues, and its partition value.
pub(super) const OPEN_TENSIONS_INDEX: &str = "open-tensions";
pub(super) const OPEN_TENSION: &str = "OPEN_TENSION";
/// The graph table's index of contributions by expert.
pub(super) const CONTRIBUTIONS_INDEX: &str = "contributions-by-expert";

/// The events-table item of a commit: keys, exact bytes, recorded hash, signature, idempotency
/// key.
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
    if let Some(signature) = &row.signature {
        item.insert(
            "sig".to_owned(),
            AttributeValue::B(Blob::new(signature.to_vec())),
        );
    }
    if let Some(key) = idempotency_key {
        item.insert("idem".to_owned(), AttributeValue::S(key.to_owned()));
    }
    item
}

/// A commit item of the events table (as read, or as a stream record's new image): its dialogue
/// and row.
pub fn commit_item(item: &Item) -> StoreResult<(DialogueId, CommitRow)> {
    CommitRow::from_item(
        &string(item, "pk")?,
        &string(item, "sk")?,
        bytes(item, "commit")?,
        bytes(item, "hash")?,
        match item.get("sig") {
            None => None,
            Some(_) => Some(bytes(item, "sig")?),
        },
    )
}

pub(super) fn string(item: &Item, name: &str) -> StoreResult<String> {
    match item.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.clone()),
        _ => Err(StoreError::Corrupt(format!(
            "item without string attribute `{name}`"
        ))),
    }
}

pub(super) fn bytes(item: &Item, name: &str) -> StoreResult<Vec<u8>> {
    match item.get(name) {
        Some(AttributeValue::B(b)) => Ok(b.as_ref().to_vec()),
        _ => Err(StoreError::Corrupt(format!(
            "item without binary attribute `{name}`"
        ))),
    }
}

/// The attributes of one graph item: keys, JSON payload, origin commit, and index keys.
pub(super) fn graph_attributes(dialogue: &DialogueId, item: &GraphItem) -> StoreResult<Item> {
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

pub(super) fn parse_graph_item(item: &Item) -> StoreResult<GraphItem> {
    let json = string(item, "item")?;
    serde_json::from_str(&json).map_err(|e| {
        StoreError::Corrupt(format!(
            "graph item `{}` cannot be read: {e}",
            string(item, "sk").unwrap_or_default()
        ))
    })
}
