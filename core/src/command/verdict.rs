//! Checks of `register_verdict`: the verdict's id, type, confidence, author and supporters, and
//! the recommendations it adopts and tensions it resolves, recorded as status changes via it.

use serde_json::{Value, json};

use super::RegisterVerdict;
use super::context::Ctx;
use crate::error::{ErrorCode, ValidationError};
use crate::event::{EventBody, JUDGE, NewEvent};
use std::collections::BTreeSet;

use crate::ids::{EntityId, EntityKind, ExpertSlug, MAX_ROUND};
use crate::model::{Confidence, DialogueStatus, Status, VerdictType};

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
        let at = self.events.len();
        let resolved = self.settled_by_verdict(input, id, round);
        let is_final = verdict_type == Some(VerdictType::Final);
        let (accepted, forced) = self.accepted_tensions(input, is_final, &resolved);
        if let (Some(verdict_type), Some(confidence), Some(author), Some(supporting)) =
            (verdict_type, confidence, author, supporting)
        {
            self.events.insert(
                at,
                NewEvent::with_content(
                    EventBody::VerdictIssued {
                        verdict: id.to_owned(),
                        verdict_type,
                        round,
                        author_expert: author,
                        vote: input.vote.clone(),
                        confidence,
                        supporting_experts: supporting,
                        tensions_accepted: accepted,
                        forced,
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
                ),
            );
            if is_final {
                self.converge_on(id);
            }
        }
    }

    /// Records the status changes a verdict makes (recommendations it adopts, tensions it
    /// resolves), and answers the tensions it resolves.
    fn settled_by_verdict(
        &mut self,
        input: &RegisterVerdict,
        id: &str,
        round: u8,
    ) -> BTreeSet<EntityId> {
        let mut resolved = BTreeSet::new();
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
                    if to == Status::Resolved {
                        resolved.insert(target);
                    }
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
        resolved
    }

    /// The open tensions a final verdict leaves open on purpose (`tensions_accepted`), checked,
    /// and whether it is forced: a final verdict over open tensions it neither resolves nor
    /// accepts is refused unless `force` is set, and then recorded as forced.
    fn accepted_tensions(
        &mut self,
        input: &RegisterVerdict,
        is_final: bool,
        resolved: &BTreeSet<EntityId>,
    ) -> (Vec<EntityId>, bool) {
        let open: BTreeSet<EntityId> = self.graph.open_tensions().iter().map(|t| t.id).collect();
        let mut accepted = Vec::new();
        for (i, text) in input.tensions_accepted.iter().enumerate() {
            let field = format!("tensions_accepted[{i}]");
            let Some(target) = self.resolve(&field, text) else {
                continue;
            };
            if !is_final {
                self.error(
                    ErrorCode::InvalidValue,
                    &field,
                    text.as_str(),
                    "only a final verdict accepts open tensions",
                );
            } else if resolved.contains(&target) {
                self.error(
                    ErrorCode::InvalidValue,
                    &field,
                    text.as_str(),
                    format!("{target} is resolved by this verdict: list it in `resolves` or in `tensions_accepted`, not both"),
                );
            } else if !open.contains(&target) {
                self.push(
                    ValidationError::new(
                        ErrorCode::InvalidValue,
                        &field,
                        text.as_str(),
                        format!("{target} is not an open tension"),
                    )
                    .options(open.iter().map(ToString::to_string).collect()),
                );
            } else if accepted.contains(&target) {
                self.error(
                    ErrorCode::Duplicate,
                    &field,
                    text.as_str(),
                    format!("{target} is listed twice"),
                );
            } else {
                accepted.push(target);
            }
        }
        let left: Vec<String> = open
            .iter()
            .filter(|t| !resolved.contains(t) && !accepted.contains(t))
            .map(ToString::to_string)
            .collect();
        let forced = is_final && input.force && !left.is_empty();
        if is_final && !input.force && !left.is_empty() {
            self.push(
                ValidationError::new(
                    ErrorCode::TensionsOpen,
                    "type",
                    input.verdict_type.as_str(),
                    format!(
                        "a final verdict with {} tension(s) open: {}",
                        left.len(),
                        left.join(", ")
                    ),
                )
                .options(left)
                .suggest(
                    "resolve them in this verdict (`resolves`), list those left open on purpose in `tensions_accepted`, or set `force: true` (recorded with the verdict)",
                ),
            );
        }
        (accepted, forced)
    }

    /// A final verdict converges the dialogue.
    fn converge_on(&mut self, verdict: &str) {
        let Some(from) = self.graph.meta.as_ref().map(|m| m.status) else {
            return;
        };
        if from.allows(DialogueStatus::Converged) {
            self.events.push(NewEvent::with_content(
                EventBody::DialogueStatusChanged {
                    from,
                    to: DialogueStatus::Converged,
                },
                [("reason", json!(format!("final verdict `{verdict}`")))],
            ));
        }
    }
}
