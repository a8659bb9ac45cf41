//! Checks of the dialogue itself: creating it with its expert pool, changing its status, and
//! choosing the id a new dialogue gets from its title.

use std::collections::BTreeSet;

use serde_json::json;

use super::context::Ctx;
use super::{ChangeDialogueStatus, CreateDialogue};
use crate::error::{ErrorCode, Rejected, ValidationError};
use crate::event::{EventBody, NewEvent};
use crate::ids::DialogueId;
use crate::model::{DialogueStatus, ExpertSource};

impl Ctx<'_> {
    /// `create_dialogue`, under the id the store chose: the dialogue must not exist yet.
    pub(super) fn create_dialogue(&mut self, create: &CreateDialogue) {
        if self.graph.meta.is_some() || self.graph.checkpoint.commit > 0 {
            self.error(
                ErrorCode::DialogueExists,
                "title",
                create.title.as_str(),
                format!("dialogue `{}` already exists", self.graph.dialogue),
            );
            return;
        }
        self.non_empty("title", &create.title);
        self.non_empty("question", &create.question);
        self.events.push(NewEvent::with_content(
            EventBody::DialogueCreated {
                dialogue: self.graph.dialogue.clone(),
            },
            [
                ("title", json!(create.title)),
                ("question", json!(create.question)),
            ],
        ));
        let mut seen = BTreeSet::new();
        for (i, expert) in create.experts.iter().enumerate() {
            let prefix = format!("experts[{i}].");
            if let Some(event) = self.expert(expert, &prefix, ExpertSource::Pool, &seen) {
                seen.insert(expert.slug.clone());
                self.events.push(event);
            }
        }
    }

    pub(super) fn dialogue_status(&mut self, from: DialogueStatus, change: &ChangeDialogueStatus) {
        let Some(to) = self.parse_name(
            "status",
            &change.status,
            DialogueStatus::parse,
            DialogueStatus::names(),
        ) else {
            return;
        };
        if !from.allows(to) {
            let next: Vec<String> = DialogueStatus::ALL
                .iter()
                .filter(|s| from.allows(**s))
                .map(|s| s.as_str().to_owned())
                .collect();
            self.push(
                ValidationError::new(
                    ErrorCode::InvalidStatusTransition,
                    "status",
                    change.status.as_str(),
                    format!(
                        "dialogue `{}` cannot go from {from} to {to}",
                        self.graph.dialogue
                    ),
                )
                .options(next),
            );
            return;
        }
        self.events.push(NewEvent::with_content(
            EventBody::DialogueStatusChanged { from, to },
            [("reason", json!(change.reason))],
        ));
    }
}

/// The id a dialogue with this title gets, given the ids already taken; a rejection with
/// `dialogue_exists` when all 99 candidates are taken, `invalid_value` for a title without
/// letters or digits.
/// The id a creation asks for: its explicit `id` (a valid slug not taken), or one chosen from its
/// title by [`dialogue_id_for`].
pub fn dialogue_id_of(
    create: &super::CreateDialogue,
    mut is_taken: impl FnMut(&str) -> bool,
) -> Result<DialogueId, Rejected> {
    let Some(id) = &create.id else {
        return dialogue_id_for(&create.title, is_taken);
    };
    let id = DialogueId::parse(id).map_err(|e| {
        Rejected::one(
            ValidationError::new(ErrorCode::InvalidId, "id", id.as_str(), e.to_string())
                .suggest("give a slug such as `panel-2026-12`, or leave `id` out to derive one from the title"),
        )
    })?;
    if is_taken(id.as_str()) {
        return Err(Rejected::one(
            ValidationError::new(
                ErrorCode::DialogueExists,
                "id",
                id.as_str(),
                format!("a dialogue `{id}` already exists"),
            )
            .suggest("choose another id, or leave `id` out to derive one from the title"),
        ));
    }
    Ok(id)
}

pub fn dialogue_id_for(
    title: &str,
    is_taken: impl FnMut(&str) -> bool,
) -> Result<DialogueId, Rejected> {
    if crate::ids::slugify(title).is_none() {
        return Err(Rejected::one(ValidationError::new(
            ErrorCode::InvalidValue,
            "title",
            title,
            "the title needs at least one letter or digit to make a dialogue id",
        )));
    }
    crate::ids::choose_dialogue_id(title, is_taken).ok_or_else(|| {
        Rejected::one(
            ValidationError::new(
                ErrorCode::DialogueExists,
                "title",
                title,
                "every id for this title is taken (up to -99)",
            )
            .suggest("choose a more specific title"),
        )
    })
}
