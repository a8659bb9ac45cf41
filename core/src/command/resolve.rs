//! Resolving the ids a request names: a local id of this batch, a local id of an earlier round
//! (through the id mapping stored with its entity), a global id of the dialogue, or (for a
//! `via`) a verdict id, with the closest existing id suggested when none matches.

use super::context::Ctx;
use crate::error::{ErrorCode, ValidationError, closest};
use crate::ids::{EntityId, EntityIdError, EntityKind, LocalId};

impl Ctx<'_> {
    /// Resolves an id written in a request: a local id of this batch, a local id of an earlier
    /// round, or a global id of the dialogue. Records the error and returns `None` otherwise.
    pub(super) fn resolve(&mut self, field: &str, text: &str) -> Option<EntityId> {
        if let Some(id) = self.batch.get(text) {
            return Some(*id);
        }
        let kind_options = || {
            EntityKind::ALL
                .iter()
                .map(|k| k.letter().to_string())
                .collect()
        };
        if let Some(local) = LocalId::parse(text) {
            if EntityKind::from_letter(local.letter).is_none() {
                self.push(
                    ValidationError::new(
                        ErrorCode::InvalidEntityType,
                        field,
                        text,
                        format!("`{}` is not an entity type", local.letter),
                    )
                    .options(kind_options()),
                );
            } else if let Some(id) = self.earlier_local(field, text) {
                return id;
            } else {
                // Candidates of the same kind only: the closest id of another kind is most
                // often the entity making the reference.
                let same_kind = |id: &&str| {
                    LocalId::parse(id).is_some_and(|other| other.letter == local.letter)
                };
                let known: Vec<&str> = self
                    .batch
                    .keys()
                    .map(String::as_str)
                    .chain(
                        self.graph
                            .nodes
                            .values()
                            .filter_map(|n| n.local_id.as_deref()),
                    )
                    .filter(same_kind)
                    .collect();
                let near = closest(text, known);
                self.push(
                    ValidationError::new(
                        ErrorCode::TargetNotFound,
                        field,
                        text,
                        format!(
                            "local id `{text}` is registered neither in this batch nor in an earlier round"
                        ),
                    )
                    .suggest(match near.first() {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => "a local id names an entity of this batch or of an earlier round; otherwise use the global id (e.g. P0101)".to_owned(),
                    }),
                );
            }
            return None;
        }
        match EntityId::parse(text) {
            Ok(id) if self.graph.nodes.contains_key(&id) => Some(id),
            Ok(id) => {
                let same_kind: Vec<String> = self
                    .graph
                    .nodes
                    .keys()
                    .filter(|n| n.kind() == id.kind())
                    .map(ToString::to_string)
                    .collect();
                let near = closest(text, same_kind.iter().map(String::as_str));
                let mut error = ValidationError::new(
                    ErrorCode::TargetNotFound,
                    field,
                    text,
                    format!(
                        "`{text}` exists neither in dialogue `{}` nor in this batch",
                        self.graph.dialogue
                    ),
                );
                if let Some(best) = near.first() {
                    error = error.suggest(format!("did you mean `{best}`?"));
                }
                self.push(error);
                None
            }
            Err(EntityIdError::UnknownType(letter)) => {
                self.push(
                    ValidationError::new(
                        ErrorCode::InvalidEntityType,
                        field,
                        text,
                        format!("`{letter}` is not an entity type"),
                    )
                    .options(kind_options()),
                );
                None
            }
            Err(EntityIdError::Malformed) => {
                self.push(
                    ValidationError::new(
                        ErrorCode::InvalidId,
                        field,
                        text,
                        format!("`{text}` is neither a global id like P0101 nor a local id like MUFFIN-P0101"),
                    )
                    .suggest("ids are {type}{round:02}{seq:02}, optionally prefixed by EXPERT-"),
                );
                None
            }
        }
    }

    /// A local id written in an earlier round, resolved through the id mapping stored with its
    /// entity: `Some(Some(id))` when exactly one entity has it, `Some(None)` (error recorded)
    /// when several do, `None` when none does.
    fn earlier_local(&mut self, field: &str, text: &str) -> Option<Option<EntityId>> {
        let matches: Vec<EntityId> = self
            .graph
            .nodes
            .values()
            .filter(|node| node.local_id.as_deref() == Some(text))
            .map(|node| node.id)
            .collect();
        match matches.as_slice() {
            [] => None,
            [one] => Some(Some(*one)),
            several => {
                let options: Vec<String> = several.iter().map(ToString::to_string).collect();
                self.push(
                    ValidationError::new(
                        ErrorCode::TargetNotFound,
                        field,
                        text,
                        format!(
                            "local id `{text}` was given to {} entities of earlier rounds",
                            several.len()
                        ),
                    )
                    .options(options.clone())
                    .suggest(format!("use the global id: one of {}", options.join(", "))),
                );
                Some(None)
            }
        }
    }

    /// Resolves a `via`: a verdict id, or an entity id (local or global).
    pub(super) fn resolve_via(&mut self, field: &str, text: &str) -> Option<String> {
        if self.graph.verdicts.contains_key(text) {
            return Some(text.to_owned());
        }
        self.resolve(field, text).map(|id| id.to_string())
    }
}
