//! Checks of `register_round`: the bulk registration of one round — its experts' responses and
//! scores, its entities and references, its moves and status updates — decided all-or-nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::RegisterRound;
use super::context::Ctx;
use crate::error::{ErrorCode, ValidationError};
use crate::event::{EventBody, NewEvent};
use crate::ids::{EntityId, EntityKind, ExpertSlug, MAX_ROUND, MAX_SEQ};
use crate::model::{MoveKind, RoundStatus};

impl Ctx<'_> {
    pub(super) fn register_round(&mut self, input: &RegisterRound) {
        let round = input.round;
        if round > MAX_ROUND {
            self.error(
                ErrorCode::InvalidRound,
                "round",
                round,
                format!("rounds are 0 to {MAX_ROUND}"),
            );
            return;
        }
        let next = self.graph.latest_round().map_or(0, |r| r.saturating_add(1));
        if round > next {
            self.push(
                ValidationError::new(
                    ErrorCode::InvalidRound,
                    "round",
                    round,
                    format!(
                        "round {round} would skip round{} {}: rounds are registered in order",
                        if round - next > 1 { "s" } else { "" },
                        if round - next > 1 {
                            format!("{next} to {}", round - 1)
                        } else {
                            next.to_string()
                        }
                    ),
                )
                .suggest(format!("register round {next} next")),
            );
        }
        if self
            .graph
            .rounds
            .get(&round)
            .is_some_and(|r| r.status == RoundStatus::Completed)
        {
            let next = self.graph.latest_round().map_or(0, |r| r.saturating_add(1));
            self.push(
                ValidationError::new(
                    ErrorCode::InvalidRound,
                    "round",
                    round,
                    format!("round {round} is already registered"),
                )
                .suggest(if next > MAX_ROUND {
                    format!(
                        "this dialogue has used all rounds 0 to {MAX_ROUND}: record the outcome with a verdict, or change statuses of earlier entities with update_statuses"
                    )
                } else {
                    format!(
                        "register round {next} next; change statuses of earlier entities with update_statuses"
                    )
                }),
            );
        }
        let panel = self.panel(input);
        let reasons = (!panel.reasons.is_empty()).then(|| json!(panel.reasons));
        self.events.push(NewEvent::with_content(
            EventBody::RoundOpened {
                round,
                panel: panel.seats,
            },
            [("title", json!(input.title)), ("reasons", json!(reasons))],
        ));

        // Experts' raw responses and scores.
        let mut scored = Vec::new();
        let mut seen_experts = BTreeSet::new();
        for (i, part) in input.experts.iter().enumerate() {
            let field = format!("experts[{i}].expert");
            let Some(expert) = self.known_expert(&field, &part.expert, false) else {
                continue;
            };
            if !seen_experts.insert(expert.clone()) {
                self.error(
                    ErrorCode::Duplicate,
                    field,
                    part.expert.as_str(),
                    "expert listed twice in `experts`",
                );
                continue;
            }
            if let Some(response) = &part.response {
                self.events.push(NewEvent::with_content(
                    EventBody::ResponseRecorded {
                        round,
                        expert: expert.clone(),
                    },
                    [("text", json!(response))],
                ));
            }
            let dimensions = part.dimensions.filter(|d| !d.is_empty());
            if let Some(dimensions) = &dimensions {
                for (name, value) in dimensions.given() {
                    self.score(&format!("experts[{i}].dimensions.{name}"), value);
                }
            }
            if let Some(score) = part.score.or(dimensions.map(|d| d.sum())) {
                self.score(&format!("experts[{i}].score"), score);
                scored.push((expert, score, dimensions));
            }
        }

        // Entities: assign global ids in registration order within the round.
        let mut pending_refs = Vec::new();
        for kind in EntityKind::ALL {
            let base = self
                .graph
                .nodes
                .keys()
                .filter(|id| id.kind() == kind && id.round() == round)
                .map(|id| id.seq())
                .max()
                .unwrap_or(0);
            let list = input.entities(kind);
            if usize::from(base) + list.len() > usize::from(MAX_SEQ) {
                self.error(
                    ErrorCode::TooManyEntities,
                    kind.plural(),
                    list.len(),
                    format!("at most {MAX_SEQ} {} per round", kind.plural()),
                );
                continue;
            }
            for (i, entity) in list.iter().enumerate() {
                let field = format!("{}[{i}]", kind.plural());
                let seq = base + u8::try_from(i + 1).unwrap_or(MAX_SEQ);
                let Some(id) = EntityId::new(kind, round, seq) else {
                    continue;
                };
                self.entity(kind, id, entity, &field, round);
                for (j, reference) in entity.references.iter().enumerate() {
                    pending_refs.push((
                        format!("{field}.references[{j}]"),
                        Some(id),
                        entity.id.clone(),
                        reference.ref_type.clone(),
                        reference.target.clone(),
                    ));
                }
            }
        }
        for (i, reference) in input.references.iter().enumerate() {
            pending_refs.push((
                format!("references[{i}]"),
                None,
                reference.source.clone(),
                reference.ref_type.clone(),
                reference.target.clone(),
            ));
        }
        for (field, source, source_text, ref_type, target) in pending_refs {
            let source = source.or_else(|| self.resolve(&format!("{field}.source"), &source_text));
            self.reference(&field, source, &ref_type, &target, round);
        }

        // Moves, in order per expert.
        let mut move_index: BTreeMap<ExpertSlug, u16> = BTreeMap::new();
        for (i, input_move) in input.moves.iter().enumerate() {
            let field = format!("moves[{i}]");
            let expert = self.known_expert(&format!("{field}.expert"), &input_move.expert, false);
            let kind = self.parse_name(
                &format!("{field}.move"),
                &input_move.kind,
                MoveKind::parse,
                MoveKind::names(),
            );
            let targets: Vec<Option<EntityId>> = input_move
                .targets
                .iter()
                .enumerate()
                .map(|(j, t)| self.resolve(&format!("{field}.targets[{j}]"), t))
                .collect();
            if let Some(kind) = kind
                && targets.is_empty()
                && !kind.targets_optional()
            {
                self.push(
                    ValidationError::new(
                        ErrorCode::InvalidValue,
                        format!("{field}.targets"),
                        json!([]),
                        format!("a `{kind}` move needs at least one target"),
                    )
                    .suggest("name the entity ids the move is about"),
                );
            }
            if let (Some(expert), Some(kind), Some(targets)) = (
                expert,
                kind,
                targets.into_iter().collect::<Option<Vec<_>>>(),
            ) {
                let index = move_index.entry(expert.clone()).or_insert(0);
                *index += 1;
                self.events.push(NewEvent::with_content(
                    EventBody::MoveRecorded {
                        round,
                        expert,
                        index: *index,
                        kind,
                        targets,
                    },
                    [("context", json!(input_move.context))],
                ));
            }
        }

        self.status_updates(&input.status_updates, "status_updates", round);

        if let Some(score) = input.score {
            self.score("score", score);
        }
        for (expert, score, dimensions) in scored {
            self.events.push(NewEvent::bare(EventBody::ExpertScored {
                round,
                expert,
                score,
                dimensions,
            }));
        }
        self.events.push(NewEvent::with_content(
            EventBody::RoundCompleted {
                round,
                score: input.score,
            },
            [("summary", json!(input.summary))],
        ));
    }
}

impl Ctx<'_> {
    /// Checks a score against the ledger's finite range.
    fn score(&mut self, field: &str, score: f64) {
        if !crate::model::valid_score(score) {
            self.error(
                ErrorCode::InvalidValue,
                field,
                json!(score),
                format!(
                    "a score is a finite number from -{max} to {max}",
                    max = crate::model::MAX_SCORE
                ),
            );
        }
    }
}
