//! The validation context one command is checked in, and the helpers every check shares:
//! recording errors, non-empty text, and names parsed with a suggestion of the closest one.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use super::Decision;
use crate::error::{ErrorCode, Rejected, ValidationError, closest};
use crate::event::NewEvent;
use crate::graph::Graph;
use crate::ids::EntityId;
use crate::model::{RefType, Status};

/// Validation state for one command: the graph, the errors so far, the events decided so far.
pub(super) struct Ctx<'g> {
    pub(super) graph: &'g Graph,
    pub(super) errors: Vec<ValidationError>,
    pub(super) events: Vec<NewEvent>,
    /// Local id → global id of this batch's entities.
    pub(super) batch: BTreeMap<String, EntityId>,
    /// Status of entities as changed by this command so far.
    pub(super) statuses: BTreeMap<EntityId, Status>,
    /// References added by this command so far.
    pub(super) references: BTreeSet<(EntityId, RefType, EntityId)>,
}

impl<'g> Ctx<'g> {
    pub(super) fn new(graph: &'g Graph) -> Self {
        Self {
            graph,
            errors: Vec::new(),
            events: Vec::new(),
            batch: BTreeMap::new(),
            statuses: BTreeMap::new(),
            references: BTreeSet::new(),
        }
    }

    pub(super) fn finish(self) -> Result<Decision, Rejected> {
        if self.errors.is_empty() {
            Ok(Decision {
                events: self.events,
                id_mapping: self
                    .batch
                    .iter()
                    .map(|(l, g)| (l.clone(), g.to_string()))
                    .collect(),
            })
        } else {
            Err(Rejected::new(self.errors))
        }
    }

    pub(super) fn push(&mut self, error: ValidationError) {
        self.errors.push(error);
    }

    pub(super) fn error(
        &mut self,
        code: ErrorCode,
        field: impl Into<String>,
        value: impl Into<Value>,
        message: impl Into<String>,
    ) {
        self.push(ValidationError::new(code, field, value, message));
    }

    pub(super) fn non_empty(&mut self, field: &str, text: &str) {
        if text.trim().is_empty() {
            self.error(
                ErrorCode::InvalidValue,
                field,
                text,
                format!("`{field}` must not be empty"),
            );
        }
    }

    pub(super) fn parse_name<T>(
        &mut self,
        field: &str,
        text: &str,
        parse: fn(&str) -> Option<T>,
        names: Vec<String>,
    ) -> Option<T> {
        let parsed = parse(text);
        if parsed.is_none() {
            let near = closest(text, names.iter().map(String::as_str));
            let mut error = ValidationError::new(
                ErrorCode::InvalidValue,
                field,
                text,
                format!("`{text}` is not one of {}", names.join(", ")),
            )
            .options(names);
            if let Some(best) = near.first() {
                error = error.suggest(format!("did you mean `{best}`?"));
            }
            self.push(error);
        }
        parsed
    }
}
