//! Checks of a round's panel: who sits in it and how they came to (retained from the round
//! before, from the pool, created), recorded with the round so that registering it can say who
//! on the panel gave no response or score.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::RegisterRound;
use super::context::Ctx;
use crate::error::{ErrorCode, ValidationError};
use crate::event::PanelSeat;
use crate::ids::ExpertSlug;
use crate::model::{ExpertSource, SeatSource};

/// A round's panel as decided: the seats, and the reasons given for them.
pub(super) struct Panel {
    pub(super) seats: Vec<PanelSeat>,
    pub(super) reasons: BTreeMap<String, String>,
}

impl Panel {
    fn seats(&self, expert: &ExpertSlug) -> bool {
        self.seats.iter().any(|s| &s.expert == expert)
    }
}

impl Ctx<'_> {
    /// The panel of the round `input` registers: the seats it lists (each a known expert, once,
    /// with a source that holds), or by default every expert of the dialogue whose first round
    /// has come, and anyone the request has respond, score or move.
    pub(super) fn panel(&mut self, input: &RegisterRound) -> Panel {
        let round = input.round;
        let before = round
            .checked_sub(1)
            .filter(|r| self.graph.rounds.contains_key(r))
            .map(|r| self.graph.panel_of(r));
        let default_source = |ctx: &Self, expert: &ExpertSlug| {
            if before.as_ref().is_some_and(|b| b.contains(expert)) {
                SeatSource::Retained
            } else {
                match ctx.graph.experts.get(expert).map(|e| e.source) {
                    Some(ExpertSource::Created) => SeatSource::Created,
                    _ => SeatSource::Pool,
                }
            }
        };
        let mut panel = Panel {
            seats: Vec::new(),
            reasons: BTreeMap::new(),
        };
        if input.panel.is_empty() {
            let named: BTreeSet<&str> = input
                .experts
                .iter()
                .map(|e| e.expert.as_str())
                .chain(input.moves.iter().map(|m| m.expert.as_str()))
                .collect();
            for expert in self.graph.experts.values() {
                if expert.first_round.is_none_or(|first| first <= round)
                    || named.contains(expert.expert.as_str())
                {
                    panel.seats.push(PanelSeat {
                        expert: expert.expert.clone(),
                        source: default_source(self, &expert.expert),
                    });
                }
            }
            return panel;
        }
        for (i, seat) in input.panel.iter().enumerate() {
            let field = format!("panel[{i}]");
            let Some(expert) = self.known_expert(&format!("{field}.expert"), &seat.expert, false)
            else {
                continue;
            };
            if panel.seats(&expert) {
                self.error(
                    ErrorCode::Duplicate,
                    format!("{field}.expert"),
                    seat.expert.as_str(),
                    "expert seated twice in `panel`",
                );
                continue;
            }
            let source = match seat.source.as_deref() {
                None => Some(default_source(self, &expert)),
                Some(text) => self.parse_name(
                    &format!("{field}.source"),
                    text,
                    SeatSource::parse,
                    SeatSource::names(),
                ),
            };
            let Some(source) = source else { continue };
            if source == SeatSource::Retained
                && !before.as_ref().is_some_and(|b| b.contains(&expert))
            {
                self.push(
                    ValidationError::new(
                        ErrorCode::InvalidValue,
                        format!("{field}.source"),
                        "retained",
                        match round.checked_sub(1) {
                            Some(previous) => {
                                format!("`{expert}` did not sit in round {previous}, so cannot be retained")
                            }
                            None => "round 0 has no round before it to retain experts from".to_owned(),
                        },
                    )
                    .options(vec!["pool".to_owned(), "created".to_owned()])
                    .suggest("seat the expert from the `pool`, or as `created` for this dialogue"),
                );
                continue;
            }
            if let Some(reason) = seat.reason.as_deref().filter(|r| !r.trim().is_empty()) {
                panel.reasons.insert(expert.to_string(), reason.to_owned());
            }
            panel.seats.push(PanelSeat { expert, source });
        }
        // Responses, scores and moves come from the panel.
        let seated: Vec<String> = panel.seats.iter().map(|s| s.expert.to_string()).collect();
        let outside: Vec<(String, String)> = input
            .experts
            .iter()
            .enumerate()
            .map(|(i, e)| (format!("experts[{i}].expert"), e.expert.clone()))
            .chain(
                input
                    .moves
                    .iter()
                    .enumerate()
                    .map(|(i, m)| (format!("moves[{i}].expert"), m.expert.clone())),
            )
            .filter(|(_, slug)| {
                ExpertSlug::parse(slug)
                    .is_ok_and(|s| self.graph.experts.contains_key(&s) && !panel.seats(&s))
            })
            .collect();
        for (field, slug) in outside {
            self.push(
                ValidationError::new(
                    ErrorCode::InvalidValue,
                    field,
                    json!(slug),
                    format!("`{slug}` does not sit in round {round}'s panel"),
                )
                .options(seated.clone())
                .suggest(
                    "seat them in `panel`, or leave `panel` out to seat the dialogue's whole panel",
                ),
            );
        }
        panel
    }
}
