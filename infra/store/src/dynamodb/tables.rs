//! The DynamoDB tables as `infra/template.yaml` defines them — the single definition — read
//! from the template and created from it (for DynamoDB Local), and compared with live tables.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TableDescription,
};
use serde_yaml_ng::Value;

use super::DynamoStore;
use crate::StoreError;

/// The template, compiled into the binary so `dlg` needs no checkout to create tables.
pub const TEMPLATE: &str = include_str!("../../../template.yaml");

/// The shape of one table: what must match between the template and a live table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TableShape {
    /// Attribute name → type (`S`, `N`, `B`).
    pub attributes: BTreeMap<String, String>,
    /// (attribute, `HASH` | `RANGE`) in order.
    pub key_schema: Vec<(String, String)>,
    /// Index name → (key schema, projection type).
    pub indexes: BTreeMap<String, (Vec<(String, String)>, String)>,
    /// The stream view type, if a stream is enabled.
    pub stream: Option<String>,
}

/// Which of the ledger's tables a template resource is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TableRole {
    Events,
    Graph,
    Keys,
}

impl TableRole {
    /// The logical id in the template.
    pub fn logical_id(self) -> &'static str {
        match self {
            TableRole::Events => "EventsTable",
            TableRole::Graph => "GraphTable",
            TableRole::Keys => "KeysTable",
        }
    }

    /// The configured table name for this role.
    pub fn table_name(self, store: &DynamoStore) -> String {
        let config = store.config();
        match self {
            TableRole::Events => config.events_table.clone(),
            TableRole::Graph => config.graph_table.clone(),
            TableRole::Keys => config.keys_table.clone(),
        }
    }

    /// Every role.
    pub const ALL: [TableRole; 3] = [TableRole::Events, TableRole::Graph, TableRole::Keys];
}

fn text(value: &Value, what: &str) -> Result<String, String> {
    value
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("{what} is not a string"))
}

fn key_schema(value: &Value) -> Result<Vec<(String, String)>, String> {
    value
        .as_sequence()
        .ok_or("KeySchema is not a list")?
        .iter()
        .map(|k| {
            Ok((
                text(&k["AttributeName"], "AttributeName")?,
                text(&k["KeyType"], "KeyType")?,
            ))
        })
        .collect()
}

/// Reads the shapes of the ledger's tables from a template.
pub fn template_shapes(template: &str) -> Result<BTreeMap<TableRole, TableShape>, String> {
    let document: Value =
        serde_yaml_ng::from_str(template).map_err(|e| format!("the template is not YAML: {e}"))?;
    let mut shapes = BTreeMap::new();
    for role in TableRole::ALL {
        let resource = &document["Resources"][role.logical_id()];
        if resource["Type"].as_str() != Some("AWS::DynamoDB::Table") {
            return Err(format!(
                "the template has no DynamoDB table `{}`",
                role.logical_id()
            ));
        }
        let properties = &resource["Properties"];
        let attributes = properties["AttributeDefinitions"]
            .as_sequence()
            .ok_or("AttributeDefinitions is not a list")?
            .iter()
            .map(|a| {
                Ok((
                    text(&a["AttributeName"], "AttributeName")?,
                    text(&a["AttributeType"], "AttributeType")?,
                ))
            })
            .collect::<Result<_, String>>()?;
        let mut indexes = BTreeMap::new();
        if let Some(list) = properties["GlobalSecondaryIndexes"].as_sequence() {
            for index in list {
                indexes.insert(
                    text(&index["IndexName"], "IndexName")?,
                    (
                        key_schema(&index["KeySchema"])?,
                        text(&index["Projection"]["ProjectionType"], "ProjectionType")?,
                    ),
                );
            }
        }
        let stream = properties["StreamSpecification"]["StreamViewType"]
            .as_str()
            .map(str::to_owned);
        shapes.insert(
            role,
            TableShape {
                attributes,
                key_schema: key_schema(&properties["KeySchema"])?,
                indexes,
                stream,
            },
        );
    }
    Ok(shapes)
}

/// The shape of a live table, as DescribeTable reports it.
pub fn live_shape(description: &TableDescription) -> TableShape {
    let schema = |elements: &[KeySchemaElement]| {
        elements
            .iter()
            .map(|k| {
                (
                    k.attribute_name().to_owned(),
                    k.key_type().as_str().to_owned(),
                )
            })
            .collect()
    };
    TableShape {
        attributes: description
            .attribute_definitions()
            .iter()
            .map(|a| {
                (
                    a.attribute_name().to_owned(),
                    a.attribute_type().as_str().to_owned(),
                )
            })
            .collect(),
        key_schema: schema(description.key_schema()),
        indexes: description
            .global_secondary_indexes()
            .iter()
            .map(|i| {
                (
                    i.index_name().unwrap_or_default().to_owned(),
                    (
                        schema(i.key_schema()),
                        i.projection()
                            .and_then(|p| p.projection_type())
                            .map(|t| t.as_str().to_owned())
                            .unwrap_or_default(),
                    ),
                )
            })
            .collect(),
        stream: description
            .stream_specification()
            .filter(|s| s.stream_enabled())
            .and_then(|s| s.stream_view_type())
            .map(|t| t.as_str().to_owned()),
    }
}

fn key_elements(schema: &[(String, String)]) -> Result<Vec<KeySchemaElement>, StoreError> {
    schema
        .iter()
        .map(|(name, kind)| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(KeyType::from(kind.as_str()))
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))
        })
        .collect()
}

/// Creates every table the template defines that does not exist yet; returns the names created.
pub async fn create_tables(store: &DynamoStore) -> Result<Vec<String>, StoreError> {
    let shapes = template_shapes(TEMPLATE).map_err(StoreError::Corrupt)?;
    let mut created = Vec::new();
    for (role, shape) in shapes {
        let name = role.table_name(store);
        let mut request = store
            .client()
            .create_table()
            .table_name(&name)
            .billing_mode(BillingMode::PayPerRequest)
            .set_key_schema(Some(key_elements(&shape.key_schema)?));
        for (attribute, kind) in &shape.attributes {
            request = request.attribute_definitions(
                AttributeDefinition::builder()
                    .attribute_name(attribute)
                    .attribute_type(ScalarAttributeType::from(kind.as_str()))
                    .build()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            );
        }
        for (index, (schema, projection)) in &shape.indexes {
            request = request.global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index)
                    .set_key_schema(Some(key_elements(schema)?))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(projection.as_str()))
                            .build(),
                    )
                    .build()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            );
        }
        if let Some(view) = &shape.stream {
            request = request.stream_specification(
                StreamSpecification::builder()
                    .stream_enabled(true)
                    .stream_view_type(StreamViewType::from(view.as_str()))
                    .build()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            );
        }
        match request.send().await {
            Ok(_) => created.push(name),
            Err(error) if error.code() == Some("ResourceInUseException") => {}
            Err(error) => {
                return Err(StoreError::Unavailable(format!(
                    "cannot create table `{name}` at {}: {}",
                    store.config().endpoint.as_deref().unwrap_or("AWS"),
                    DisplayErrorContext(&error)
                )));
            }
        }
    }
    Ok(created)
}

/// Describes the live tables and returns their shapes, keyed by role.
pub async fn live_shapes(
    store: &DynamoStore,
) -> Result<BTreeMap<TableRole, TableShape>, StoreError> {
    let mut shapes = BTreeMap::new();
    for role in TableRole::ALL {
        let name = role.table_name(store);
        let answer = store
            .client()
            .describe_table()
            .table_name(&name)
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot describe table `{name}`: {}",
                    DisplayErrorContext(&e)
                ))
            })?;
        let description = answer.table().ok_or_else(|| {
            StoreError::Corrupt(format!("DescribeTable returned no table for `{name}`"))
        })?;
        shapes.insert(role, live_shape(description));
    }
    Ok(shapes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_template_defines_the_three_tables() {
        let shapes = template_shapes(TEMPLATE).unwrap();
        assert_eq!(
            shapes[&TableRole::Events].stream.as_deref(),
            Some("NEW_IMAGE")
        );
        assert_eq!(
            shapes[&TableRole::Graph].indexes.keys().collect::<Vec<_>>(),
            ["contributions-by-expert", "open-tensions"]
        );
        assert!(shapes[&TableRole::Keys].stream.is_none());
    }
}
