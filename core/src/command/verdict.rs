//! Checks of `register_verdict`: the verdict's id, type, confidence, author and supporters, and
//! the recommendations it adopts and tensions it resolves, recorded as status changes via it.

use serde_json::{Value, json};

use super::RegisterVerdict;
use super::context::Ctx;
use crate::error::{ErrorCode, ValidationError};
use crate::event::{EventBody, JUDGE, NewEvent};
use crate::ids::{EntityKind, ExpertSlug, MAX_ROUND};
use crate::model::{Confidence, Status, VerdictType};

impl Ctx<'_> {
    pub(super) fn verdict(&mut self, input: &RegisterVerdict) {
        let id = input.verdict_id.as_str();
        let valid_id = !id.is_empty()
            && id.len() <= 40
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_id {
            self.push(
                ValidationError::new(
                    ErrorCode::InvalidId,
                    "verdict_id",
                    id,
                    format!("`{id}` is not a verdict id"),
                )
                .suggest("use 1 to 40 letters, digits, - or _, e.g. final, minority, V01"),
            );
        } else if self.graph.verdicts.contains_key(id) {
            self.push(
                ValidationError::new(
                    ErrorCode::Duplicate,
                    "verdict_id",
                    id,
                    format!("verdict `{id}` was already issued"),
                )
                .suggest("verdicts are immutable: issue a new one under another id (e.g. V02)"),
            );
        }
        let verdict_type = self.parse_name(
            "type",
            &input.verdict_type,
            VerdictType::parse,
            VerdictType::names(),
        );
        let confidence = match input.confidence.as_deref() {
            None => Some(None),
            Some(text) => self
                .parse_name("confidence", text, Confidence::parse, Confidence::names())
                .map(Some),
        };
        let round = input.round.or(self.graph.latest_round()).unwrap_or(0);
        if round > MAX_ROUND {
            self.error(
                ErrorCode::InvalidRound,
                "round",
                round,
                format!("rounds are 0 to {MAX_ROUND}"),
            );
        }
        let author = match &input.author_expert {
            None => Some(None),
            Some(slug) => self.known_expert("author_expert", slug, false).map(Some),
        };
        let supporting: Option<Vec<ExpertSlug>> = input
            .supporting_experts
            .iter()
            .enumerate()
            .map(|(i, s)| self.known_expert(&format!("supporting_experts[{i}]"), s, false))
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        self.non_empty("recommendation", &input.recommendation);
        if let (Some(verdict_type), Some(confidence), Some(author), Some(supporting)) =
            (verdict_type, confidence, author, supporting)
        {
            self.events.push(NewEvent::with_content(
                EventBody::VerdictIssued {
                    verdict: id.to_owned(),
                    verdict_type,
                    round,
                    author_expert: author,
                    vote: input.vote.clone(),
                    confidence,
                    supporting_experts: supporting,
                },
                [
                    ("recommendation", json!(input.recommendation)),
                    ("description", json!(input.description)),
                    (
                        "conditions",
                        if input.conditions.is_empty() {
                            Value::Null
                        } else {
                            json!(input.conditions)
                        },
                    ),
                ],
            ));
        }
        let actor = input
            .author_expert
            .clone()
            .filter(|a| self.graph.experts.keys().any(|k| k.as_str() == a))
            .unwrap_or_else(|| JUDGE.to_owned());
        for (list, field, kind, to) in [
            (
                &input.adopts,
                "adopts",
                EntityKind::Recommendation,
                Status::Adopted,
            ),
            (
                &input.resolves,
                "resolves",
                EntityKind::Tension,
                Status::Resolved,
            ),
        ] {
            for (i, text) in list.iter().enumerate() {
                let field = format!("{field}[{i}]");
                let Some(target) = self.resolve(&field, text) else {
                    continue;
                };
                if target.kind() != kind {
                    self.push(ValidationError::new(
                        ErrorCode::TypeIdMismatch,
                        &field,
                        text.as_str(),
                        format!(
                            "{target} is a {}, but only {} can be listed here",
                            target.kind(),
                            kind.plural()
                        ),
                    ));
                    continue;
                }
                if self.transition(&field, target, to.as_str()).is_some() {
                    self.push_status_change(
                        target,
                        to,
                        round,
                        vec![actor.clone()],
                        Some(id.to_owned()),
                        None,
                    );
                }
            }
        }
    }
}
