//! Checks of a typed reference between two entities: its type, its target, the kinds each
//! reference type allows, self-references and duplicates.

use super::context::Ctx;
use crate::error::{ErrorCode, ValidationError, closest};
use crate::event::{EventBody, NewEvent};
use crate::ids::{EntityId, EntityKind};
use crate::model::RefType;

impl Ctx<'_> {
    pub(super) fn reference(
        &mut self,
        field: &str,
        source: Option<EntityId>,
        ref_type_text: &str,
        target_text: &str,
        round: u8,
    ) {
        let ref_type = RefType::parse(ref_type_text);
        if ref_type.is_none() {
            let near = closest(ref_type_text, RefType::ALL.iter().map(|r| r.as_str()));
            let mut error = ValidationError::new(
                ErrorCode::InvalidRefType,
                format!("{field}.type"),
                ref_type_text,
                format!("`{ref_type_text}` is not a reference type"),
            )
            .options(RefType::names());
            if let Some(best) = near.first() {
                error = error.suggest(format!("did you mean `{best}`?"));
            }
            self.push(error);
        }
        let target = self.resolve(&format!("{field}.target"), target_text);
        let (Some(source), Some(ref_type), Some(target)) = (source, ref_type, target) else {
            return;
        };
        let target_field = format!("{field}.target");
        if ref_type.targets_tensions_only() && target.kind() != EntityKind::Tension {
            self.push(
                ValidationError::new(
                    ErrorCode::InvalidRefTarget,
                    &target_field,
                    target_text,
                    format!(
                        "`{ref_type}` points at tensions only, and {target} is a {}",
                        target.kind()
                    ),
                )
                .options(
                    RefType::ALL
                        .iter()
                        .filter(|r| !r.targets_tensions_only() && **r != RefType::Refine)
                        .map(|r| r.as_str().to_owned())
                        .collect(),
                )
                .suggest(format!(
                    "use support or oppose for a {} target",
                    target.kind()
                )),
            );
            return;
        }
        if ref_type == RefType::Refine && source.kind() != target.kind() {
            self.push(
                ValidationError::new(
                    ErrorCode::RefineTypeMismatch,
                    &target_field,
                    target_text,
                    format!("a {} cannot refine a {}", source.kind(), target.kind()),
                )
                .suggest(format!(
                    "refine links entities of one kind; use support or depend to relate a {} to a {}",
                    source.kind(),
                    target.kind()
                )),
            );
            return;
        }
        if source == target {
            self.error(
                ErrorCode::InvalidValue,
                &target_field,
                target_text,
                format!("{source} cannot reference itself"),
            );
            return;
        }
        let key = (source, ref_type, target);
        if self.graph.edges.contains_key(&key) || !self.references.insert(key) {
            self.error(
                ErrorCode::Duplicate,
                field,
                format!("{source} {ref_type} {target}"),
                format!("the reference {source} {ref_type} {target} already exists"),
            );
            return;
        }
        self.events.push(NewEvent::bare(EventBody::ReferenceAdded {
            source,
            ref_type,
            target,
            round,
        }));
    }
}
