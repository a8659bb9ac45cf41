//! Checks of status updates (`update_statuses`, and those inside a round or implied by a
//! verdict): who acts, via what, and whether the entity's lifecycle allows the transition.

use serde_json::json;

use super::context::Ctx;
use super::{StatusUpdateInput, UpdateStatuses};
use crate::error::{ErrorCode, ValidationError};
use crate::event::{EventBody, JUDGE, NewEvent};
use crate::ids::{EntityId, MAX_ROUND};
use crate::model::{Status, lifecycle};

impl Ctx<'_> {
    /// `update_statuses`: status changes outside a round registration.
    pub(super) fn update_statuses(&mut self, updates: &UpdateStatuses) {
        let round = updates.round.or(self.graph.latest_round()).unwrap_or(0);
        if round > MAX_ROUND {
            self.error(
                ErrorCode::InvalidRound,
                "round",
                round,
                format!("rounds are 0 to {MAX_ROUND}"),
            );
        }
        if updates.updates.is_empty() {
            self.error(
                ErrorCode::InvalidValue,
                "updates",
                json!([]),
                "no status updates given",
            );
        }
        self.status_updates(&updates.updates, "updates", round);
    }

    fn current_status(&self, id: EntityId) -> Option<Status> {
        self.statuses
            .get(&id)
            .copied()
            .or_else(|| self.graph.nodes.get(&id).map(|n| n.status))
            .or_else(|| {
                self.batch
                    .values()
                    .any(|b| *b == id)
                    .then(|| lifecycle(id.kind()).initial())
            })
    }

    fn actors(&mut self, field: &str, by: &[String]) -> Option<Vec<String>> {
        if by.is_empty() {
            return Some(vec![JUDGE.to_owned()]);
        }
        let mut ok = true;
        for (i, actor) in by.iter().enumerate() {
            if actor != JUDGE
                && self
                    .known_expert(&format!("{field}[{i}]"), actor, true)
                    .is_none()
            {
                ok = false;
            }
        }
        ok.then(|| by.to_vec())
    }

    pub(super) fn status_updates(
        &mut self,
        updates: &[StatusUpdateInput],
        prefix: &str,
        round: u8,
    ) {
        for (i, update) in updates.iter().enumerate() {
            let field = format!("{prefix}[{i}]");
            let id = self.resolve(&format!("{field}.id"), &update.id);
            let actors = self.actors(&format!("{field}.by"), &update.by);
            let via = match &update.via {
                Some(via) => self.resolve_via(&format!("{field}.via"), via).map(Some),
                None => Some(None),
            };
            let Some(id) = id else { continue };
            let Some(to) = self.transition(&format!("{field}.status"), id, &update.status) else {
                continue;
            };
            let (Some(actors), Some(via)) = (actors, via) else {
                continue;
            };
            self.push_status_change(id, to, round, actors, via, update.reason.clone());
        }
    }

    /// Checks `id` may move to `status_text`; returns the new status.
    pub(super) fn transition(
        &mut self,
        field: &str,
        id: EntityId,
        status_text: &str,
    ) -> Option<Status> {
        let life = lifecycle(id.kind());
        let from = self.current_status(id)?;
        match Status::parse(status_text) {
            Some(to) if life.allows(from, to) => Some(to),
            to => {
                let next: Vec<String> = life
                    .next(from)
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect();
                let message = match to {
                    Some(to) if life.has(to) => format!("{id} cannot go from {from} to {to}"),
                    _ => format!("`{status_text}` is not a status of a {}", id.kind()),
                };
                let suggestion = if next.is_empty() {
                    format!("{id} is {from}, a final status: record a new entity instead")
                } else {
                    format!("from {from}, {id} can become {}", next.join(" or "))
                };
                self.push(
                    ValidationError::new(
                        ErrorCode::InvalidStatusTransition,
                        field,
                        status_text,
                        message,
                    )
                    .options(next)
                    .suggest(suggestion),
                );
                None
            }
        }
    }

    pub(super) fn push_status_change(
        &mut self,
        id: EntityId,
        to: Status,
        round: u8,
        actors: Vec<String>,
        via: Option<String>,
        reason: Option<String>,
    ) {
        let Some(from) = self.current_status(id) else {
            return;
        };
        self.statuses.insert(id, to);
        self.events.push(NewEvent::with_content(
            EventBody::StatusChanged {
                entity: id,
                from,
                to,
                round,
                actors,
                via,
            },
            [("reason", json!(reason))],
        ));
    }
}
