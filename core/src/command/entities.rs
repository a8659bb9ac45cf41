//! Checks of one entity registered in a round: its local id (type, round, expert), its label,
//! contributors and parameters, and the event that adds it under its global id.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::EntityInput;
use super::context::Ctx;
use crate::error::{ErrorCode, ValidationError};
use crate::event::{EntityAdded, EventBody, JUDGE, NewEvent};
use crate::ids::{EntityId, EntityKind, ExpertSlug, LocalId};

impl Ctx<'_> {
    pub(super) fn entity(
        &mut self,
        kind: EntityKind,
        id: EntityId,
        input: &EntityInput,
        field: &str,
        round: u8,
    ) {
        let id_field = format!("{field}.id");
        let mut contributors_default = None;
        match LocalId::parse(&input.id) {
            None => {
                self.push(
                    ValidationError::new(
                        ErrorCode::InvalidId,
                        &id_field,
                        input.id.as_str(),
                        format!("`{}` is not a local id", input.id),
                    )
                    .suggest(format!(
                        "write local ids as EXPERT-{}{round:02}NN, e.g. MUFFIN-{}{round:02}01",
                        kind.letter(),
                        kind.letter()
                    )),
                );
            }
            Some(local) => {
                match EntityKind::from_letter(local.letter) {
                    None => self.push(
                        ValidationError::new(
                            ErrorCode::InvalidEntityType,
                            &id_field,
                            input.id.as_str(),
                            format!("`{}` is not an entity type", local.letter),
                        )
                        .options(
                            EntityKind::ALL
                                .iter()
                                .map(|k| k.letter().to_string())
                                .collect(),
                        )
                        .suggest(format!(
                            "an entry of `{}` has type {}",
                            kind.plural(),
                            kind.letter()
                        )),
                    ),
                    Some(declared) if declared != kind => self.push(
                        ValidationError::new(
                            ErrorCode::TypeIdMismatch,
                            &id_field,
                            input.id.as_str(),
                            format!(
                                "`{}` is a {} id but is listed under `{}`",
                                input.id,
                                declared.name(),
                                kind.plural()
                            ),
                        )
                        .suggest(format!(
                            "move it to `{}`, or give it a {} id",
                            declared.plural(),
                            kind.letter()
                        )),
                    ),
                    Some(_) => {}
                }
                if local.round != round {
                    self.push(
                        ValidationError::new(
                            ErrorCode::InvalidRound,
                            &id_field,
                            input.id.as_str(),
                            format!(
                                "`{}` names round {} but this is round {round}",
                                input.id, local.round
                            ),
                        )
                        .suggest(format!(
                            "use {}-{}{round:02}{:02}",
                            local.expert, local.letter, local.seq
                        )),
                    );
                }
                contributors_default = local.expert_slug();
            }
        }
        if self.batch.insert(input.id.clone(), id).is_some() {
            self.error(
                ErrorCode::Duplicate,
                &id_field,
                input.id.as_str(),
                format!("local id `{}` appears twice in this round", input.id),
            );
        }
        self.non_empty(&format!("{field}.label"), &input.label);
        // The prefix names the author: a panel expert, who is among the contributors (and the
        // contributor when none are given), or `JUDGE`, whose entities name their contributors.
        let judge_authored = contributors_default
            .as_ref()
            .is_some_and(|slug| slug.as_str() == JUDGE);
        let contributors: Vec<Option<ExpertSlug>> = if input.contributors.is_empty() {
            match contributors_default {
                Some(_) if judge_authored => {
                    self.error(
                        ErrorCode::InvalidValue,
                        format!("{field}.contributors"),
                        Value::Array(Vec::new()),
                        format!(
                            "`{}` is written by the Judge, so it must name its contributors",
                            input.id
                        ),
                    );
                    vec![None]
                }
                Some(slug) => vec![self.known_expert(&id_field, slug.as_str(), false)],
                None => vec![None],
            }
        } else {
            let listed: Vec<Option<ExpertSlug>> = input
                .contributors
                .iter()
                .enumerate()
                .map(|(i, c)| self.known_expert(&format!("{field}.contributors[{i}]"), c, false))
                .collect();
            let mut seen = BTreeSet::new();
            for (i, slug) in listed.iter().enumerate() {
                if let Some(slug) = slug
                    && !seen.insert(slug.clone())
                {
                    self.error(
                        ErrorCode::Duplicate,
                        format!("{field}.contributors[{i}]"),
                        slug.as_str(),
                        format!("`{slug}` is listed twice as a contributor"),
                    );
                }
            }
            // (Once every contributor named is on the panel: an unknown one is the first fix.)
            if let Some(author) = contributors_default.as_ref().filter(|_| !judge_authored)
                && listed.iter().all(Option::is_some)
                && self
                    .known_expert(&id_field, author.as_str(), false)
                    .is_some()
                && !listed.iter().flatten().any(|c| c == author)
            {
                self.push(
                    ValidationError::new(
                        ErrorCode::InvalidValue,
                        format!("{field}.contributors"),
                        json!(input.contributors),
                        format!(
                            "`{}` is written by `{author}`, who is not among its contributors",
                            input.id
                        ),
                    )
                    .suggest(format!(
                        "add `{author}` to contributors, or write the id under a contributor's name"
                    )),
                );
            }
            listed
        };
        if input.parameters.is_some() && kind != EntityKind::Recommendation {
            self.error(
                ErrorCode::InvalidValue,
                format!("{field}.parameters"),
                input.parameters.clone().unwrap_or_default(),
                "only recommendations carry parameters",
            );
        }
        if let Some(parameters) = &input.parameters
            && !parameters.is_object()
        {
            self.error(
                ErrorCode::InvalidValue,
                format!("{field}.parameters"),
                parameters.clone(),
                "parameters must be a JSON object",
            );
        }
        let contributors: Option<Vec<ExpertSlug>> = contributors.into_iter().collect();
        let (text_name, text) = if kind == EntityKind::Tension {
            (
                "description",
                input.description.as_ref().or(input.content.as_ref()),
            )
        } else {
            (
                "content",
                input.content.as_ref().or(input.description.as_ref()),
            )
        };
        if let Some(contributors) = contributors {
            self.events.push(NewEvent::with_content(
                EventBody::entity_added(
                    kind,
                    EntityAdded {
                        id,
                        local_id: Some(input.id.clone()),
                        contributors,
                    },
                ),
                [
                    ("label", json!(input.label)),
                    (text_name, json!(text)),
                    (
                        "parameters",
                        input.parameters.clone().unwrap_or(Value::Null),
                    ),
                ],
            ));
        }
    }
}
