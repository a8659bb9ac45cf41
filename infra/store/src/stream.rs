//! The events table's DynamoDB Streams records as the Lambda receives them: an INSERT's new image
//! is a commit item; a REMOVE is reported, not projected. Decoded from the stream's own attribute
//! values (serde_dynamo's), so the decoder builds without the AWS SDK.

use aws_lambda_events::event::dynamodb::EventRecord;
use dlg_core::ids::DialogueId;
use serde_dynamo::AttributeValue;

use crate::{CommitRow, StoreError};

/// What a stream record holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// A commit of a dialogue (an INSERT of the events table).
    Commit(DialogueId, CommitRow),
    /// Nothing to project (a REMOVE: the events table is append-only, so `dlg audit` reports the
    /// missing commit).
    Ignored(&'static str),
}

/// Decodes one stream record of the events table.
pub fn decode(record: &EventRecord) -> Result<Record, StoreError> {
    if record.event_name == "REMOVE" {
        return Ok(Record::Ignored(
            "a commit was deleted from the events table",
        ));
    }
    let image = &record.change.new_image;
    if image.is_empty() {
        return Err(StoreError::Corrupt(format!(
            "stream record {} carries no new image: the events table's stream must be NEW_IMAGE (see infra/template.yaml)",
            record
                .change
                .sequence_number
                .as_deref()
                .unwrap_or("without a sequence number")
        )));
    }
    let string = |name: &str| match image.get(name) {
        Some(AttributeValue::S(s)) => Ok(s.as_str()),
        _ => Err(StoreError::Corrupt(format!(
            "item without string attribute `{name}`"
        ))),
    };
    let bytes = |name: &str| match image.get(name) {
        Some(AttributeValue::B(b)) => Ok(b.clone()),
        _ => Err(StoreError::Corrupt(format!(
            "item without binary attribute `{name}`"
        ))),
    };
    let (dialogue, row) = CommitRow::from_item(
        string("pk")?,
        string("sk")?,
        bytes("commit")?,
        bytes("hash")?,
        match image.get("sig") {
            None => None,
            Some(_) => Some(bytes("sig")?),
        },
    )?;
    Ok(Record::Commit(dialogue, row))
}
