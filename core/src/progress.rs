//! How far a dialogue has come and whether it can stop: per round, the velocity (new
//! perspectives plus tensions still open at the round's end), the converge moves against the
//! round's panel and the score; per expert, a leaderboard; and what blocks convergence now.
//! All of it is computed from the fold ([`Graph`]), so it needs no key and no extra storage.
//!
//! [`Graph::at_start_of`] is the graph as the panel saw it before a round: only what earlier
//! rounds recorded, with each entity's status as of then.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::graph::{Graph, NodeItem, total};
use crate::ids::{EntityId, EntityKind, ExpertSlug};
use crate::model::{MoveKind, ScoreDimensions, Status, tension_is_open};

/// One round's progress.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RoundProgress {
    pub round: u8,
    pub status: String,
    pub score: Option<f64>,
    /// Perspectives first recorded in this round.
    pub new_perspectives: usize,
    /// Tensions open (open, addressed or reopened) at the end of this round.
    pub open_tensions: usize,
    /// `new_perspectives + open_tensions`: how much the dialogue is still moving. A dialogue
    /// converges as this falls towards 0.
    pub velocity: usize,
    /// The experts who took part in the round (a response, a score, a move or a contribution).
    pub panel: Vec<ExpertSlug>,
    /// The panel members who signalled `converge` in this round.
    pub converged: Vec<ExpertSlug>,
    /// `converged / panel` (0 with no panel).
    pub converge_share: f64,
}

/// One expert's standing over the dialogue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Standing {
    pub expert: ExpertSlug,
    /// The sum of the expert's round scores.
    pub total: f64,
    /// Score per round (round numbers as strings, as JSON keys).
    pub scores: BTreeMap<String, f64>,
    /// Entities the expert contributed to.
    pub contributions: usize,
    /// Moves the expert made.
    pub moves: usize,
    /// The dimensions of the expert's scores, summed over the rounds scored by dimension
    /// (left out when none was).
    #[serde(skip_serializing_if = "ScoreDimensions::is_empty")]
    pub dimensions: ScoreDimensions,
    /// Rounds the expert sat in.
    pub rounds_seated: usize,
}

/// What stands between the dialogue and convergence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "blocker", rename_all = "snake_case")]
pub enum Blocker {
    /// A tension still open.
    OpenTension { id: EntityId, status: Status },
    /// A member of the latest round's panel who did not signal `converge` in it.
    NotConverged { expert: ExpertSlug, round: u8 },
    /// No round has been played yet.
    NoRounds,
}

/// The dialogue's progress: rounds, leaderboard, tension counts and convergence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Progress {
    pub rounds: Vec<RoundProgress>,
    /// Experts by total score, highest first (then by slug).
    pub leaderboard: Vec<Standing>,
    /// Tensions per current status.
    pub tensions: BTreeMap<String, usize>,
    /// The sum of the completed rounds' scores.
    pub total_alignment: f64,
    /// Whether the velocity fell from the round before the latest to the latest.
    pub velocity_falling: Option<bool>,
    /// True when nothing blocks convergence.
    pub can_converge: bool,
    pub blockers: Vec<Blocker>,
}

/// What a panel member did not give in a round, from whether they responded and were scored;
/// `None` when they gave both.
pub fn seat_gap(responded: bool, scored: bool) -> Option<&'static str> {
    match (responded, scored) {
        (true, true) => None,
        (false, true) => Some("no response"),
        (true, false) => Some("no score"),
        (false, false) => Some("no response and no score"),
    }
}

impl Graph {
    /// The dialogue's progress, from the fold.
    pub fn progress(&self) -> Progress {
        let rounds: Vec<RoundProgress> = self
            .rounds
            .values()
            .map(|r| self.round_progress(r.round, r.status.as_str(), r.score))
            .collect();
        let mut leaderboard: Vec<Standing> = self
            .experts
            .values()
            .map(|e| Standing {
                expert: e.expert.clone(),
                total: total(e.scores.values().copied()),
                scores: e.scores.iter().map(|(r, s)| (r.to_string(), *s)).collect(),
                contributions: self
                    .contributions
                    .keys()
                    .filter(|(x, _)| *x == e.expert)
                    .count(),
                moves: self.moves.values().filter(|m| m.expert == e.expert).count(),
                dimensions: e
                    .dimensions
                    .values()
                    .fold(ScoreDimensions::default(), |sum, d| sum.plus(d)),
                rounds_seated: self
                    .rounds
                    .keys()
                    .filter(|r| self.panel_of(**r).contains(&e.expert))
                    .count(),
            })
            .collect();
        leaderboard.sort_by(|a, b| b.total.total_cmp(&a.total).then(a.expert.cmp(&b.expert)));
        let mut tensions = BTreeMap::new();
        for node in self
            .nodes
            .values()
            .filter(|n| n.kind == EntityKind::Tension)
        {
            *tensions.entry(node.status.as_str().to_owned()).or_insert(0) += 1;
        }
        let mut blockers: Vec<Blocker> = self
            .open_tensions()
            .iter()
            .map(|t| Blocker::OpenTension {
                id: t.id,
                status: t.status,
            })
            .collect();
        match rounds.last() {
            None => blockers.push(Blocker::NoRounds),
            Some(latest) => blockers.extend(
                latest
                    .panel
                    .iter()
                    .filter(|e| !latest.converged.contains(e))
                    .map(|e| Blocker::NotConverged {
                        expert: e.clone(),
                        round: latest.round,
                    }),
            ),
        }
        let velocity_falling = match rounds.as_slice() {
            [.., before, latest] => Some(latest.velocity < before.velocity),
            _ => None,
        };
        Progress {
            rounds,
            leaderboard,
            tensions,
            total_alignment: self.total_alignment(),
            velocity_falling,
            can_converge: blockers.is_empty(),
            blockers,
        }
    }

    fn round_progress(&self, round: u8, status: &str, score: Option<f64>) -> RoundProgress {
        let new_perspectives = self
            .nodes
            .values()
            .filter(|n| n.kind == EntityKind::Perspective && n.round == round)
            .count();
        let open_tensions = self
            .nodes
            .values()
            .filter(|n| n.kind == EntityKind::Tension && n.round <= round)
            .filter(|n| tension_is_open(status_after(n, round)))
            .count();
        let panel = self.panel_of(round);
        let converged: BTreeSet<ExpertSlug> = self
            .moves
            .values()
            .filter(|m| m.round == round && m.kind == MoveKind::Converge)
            .map(|m| m.expert.clone())
            .collect();
        let share = if panel.is_empty() {
            0.0
        } else {
            converged.intersection(&panel).count() as f64 / panel.len() as f64
        };
        RoundProgress {
            round,
            status: status.to_owned(),
            score,
            new_perspectives,
            open_tensions,
            velocity: new_perspectives + open_tensions,
            panel: panel.into_iter().collect(),
            converged: converged.into_iter().collect(),
            converge_share: share,
        }
    }

    /// Panel members of `round` without a response or a score in it, each with what is missing.
    pub fn panel_gaps(&self, round: u8) -> Vec<(ExpertSlug, &'static str)> {
        self.panel_of(round)
            .into_iter()
            .filter_map(|slug| {
                let expert = self.experts.get(&slug)?;
                let missing = seat_gap(
                    expert.responses.contains_key(&round),
                    expert.scores.contains_key(&round),
                )?;
                Some((slug, missing))
            })
            .collect()
    }

    /// Who sat in `round`: the panel recorded with it, or, for rounds recorded before panels
    /// were, everyone who responded, was scored, moved or contributed in it.
    pub fn panel_of(&self, round: u8) -> BTreeSet<ExpertSlug> {
        if let Some(recorded) = self.rounds.get(&round).filter(|r| !r.panel.is_empty()) {
            return recorded.panel.iter().map(|s| s.expert.clone()).collect();
        }
        let mut panel: BTreeSet<ExpertSlug> = BTreeSet::new();
        for e in self.experts.values() {
            if e.scores.contains_key(&round) || e.responses.contains_key(&round) {
                panel.insert(e.expert.clone());
            }
        }
        panel.extend(
            self.moves
                .keys()
                .filter(|(r, _, _)| *r == round)
                .map(|(_, e, _)| e.clone()),
        );
        panel.extend(
            self.contributions
                .values()
                .filter(|c| c.round == round)
                .map(|c| c.expert.clone()),
        );
        panel
    }

    /// The graph as the panel saw it before `round` was played: rounds, entities, references,
    /// moves, verdicts, scores and responses of earlier rounds only, each entity with its status
    /// and history as of then.
    pub fn at_start_of(&self, round: u8) -> Graph {
        let mut graph = self.clone();
        graph.rounds.retain(|r, _| *r < round);
        graph.nodes.retain(|_, n| n.round < round);
        for node in graph.nodes.values_mut() {
            // Kept nodes are of rounds before `round`, so `round >= 1` here.
            let status = status_after(node, round - 1);
            node.history.retain(|c| c.round < round);
            node.status = status;
        }
        let known = |id: &EntityId, nodes: &BTreeMap<EntityId, NodeItem>| nodes.contains_key(id);
        let nodes = graph.nodes.clone();
        graph
            .edges
            .retain(|(s, _, t), e| e.round < round && known(s, &nodes) && known(t, &nodes));
        let edges = graph.edges.clone();
        graph
            .incoming
            .retain(|(t, r, s)| edges.contains_key(&(*s, *r, *t)));
        graph.contributions.retain(|_, c| c.round < round);
        graph.moves.retain(|(r, _, _), _| *r < round);
        graph.verdicts.retain(|_, v| v.round < round);
        for expert in graph.experts.values_mut() {
            expert.scores.retain(|r, _| *r < round);
            expert.responses.retain(|r, _| *r < round);
        }
        graph
    }
}

/// An entity's status after the status changes recorded up to and including `round` (its
/// status at creation when none was).
fn status_after(node: &NodeItem, round: u8) -> Status {
    node.history
        .iter()
        .rev()
        .find(|c| c.round <= round)
        .map(|c| c.to)
        .unwrap_or_else(|| node.history.first().map_or(node.status, |c| c.from))
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::command::Command;
    use crate::testing::random::given_panel;

    fn round(request: Value) -> Command {
        Command::RegisterRound(serde_json::from_value(request).unwrap())
    }

    /// Round 0 opens two tensions; round 1 resolves one, two of three experts converge.
    fn two_rounds() -> Graph {
        let mut ledger = given_panel("progress", 7);
        ledger
            .run(&round(json!({"round": 0, "score": 3.0,
                "experts": [{"expert": "muffin", "score": 2.0}, {"expert": "scone", "score": 1.0}],
                "perspectives": [{"id": "MUFFIN-P0001", "label": "Schema first"}],
                "tensions": [{"id": "SCONE-T0001", "label": "Writeback"},
                             {"id": "SCONE-T0002", "label": "Conflicts"}]})))
            .unwrap();
        ledger
            .run(&round(json!({"round": 1, "score": 4.0,
                "experts": [{"expert": "muffin", "score": 1.0}, {"expert": "cupcake", "score": 3.0},
                            {"expert": "scone", "score": 0.5}],
                "perspectives": [{"id": "MUFFIN-P0101", "label": "Batch writeback",
                                  "references": [{"type": "resolve", "target": "T0001"}]}],
                "status_updates": [{"id": "T0001", "status": "resolved", "by": "muffin"}],
                "moves": [{"expert": "muffin", "move": "converge"},
                          {"expert": "cupcake", "move": "converge"}]})))
            .unwrap();
        ledger.graph
    }

    #[test]
    fn velocity_convergence_and_blockers_follow_the_rounds() {
        let progress = two_rounds().progress();
        let velocities: Vec<(usize, usize, usize)> = progress
            .rounds
            .iter()
            .map(|r| (r.new_perspectives, r.open_tensions, r.velocity))
            .collect();
        assert_eq!(velocities, [(1, 2, 3), (1, 1, 2)]);
        assert_eq!(progress.velocity_falling, Some(true));
        let latest = &progress.rounds[1];
        assert_eq!(latest.panel.len(), 3);
        assert_eq!(latest.converged.len(), 2);
        assert!((latest.converge_share - 2.0 / 3.0).abs() < 1e-9);
        assert!(!progress.can_converge);
        let t2 = EntityId::parse("T0002").unwrap();
        assert_eq!(
            progress.blockers,
            [
                Blocker::OpenTension {
                    id: t2,
                    status: Status::Open
                },
                Blocker::NotConverged {
                    expert: ExpertSlug::parse("scone").unwrap(),
                    round: 1
                }
            ]
        );
        let leaders: Vec<(&str, f64)> = progress
            .leaderboard
            .iter()
            .map(|s| (s.expert.as_str(), s.total))
            .collect();
        assert_eq!(leaders, [("cupcake", 3.0), ("muffin", 3.0), ("scone", 1.5)]);
        assert_eq!(progress.tensions.get("resolved"), Some(&1));
        assert_eq!(progress.tensions.get("open"), Some(&1));
    }

    #[test]
    fn the_start_of_a_round_shows_only_what_came_before_with_statuses_as_of_then() {
        let graph = two_rounds();
        let before = graph.at_start_of(1);
        let t1 = EntityId::parse("T0001").unwrap();
        assert_eq!(graph.nodes[&t1].status, Status::Resolved);
        assert_eq!(before.nodes[&t1].status, Status::Open);
        assert!(before.nodes[&t1].history.is_empty());
        assert!(
            !before
                .nodes
                .contains_key(&EntityId::parse("P0101").unwrap())
        );
        assert!(before.edges.is_empty() && before.incoming.is_empty());
        assert!(before.moves.is_empty());
        assert_eq!(before.rounds.len(), 1);
        assert!(
            before
                .experts
                .values()
                .all(|e| e.scores.keys().all(|r| *r < 1))
        );
        assert_eq!(before.progress().rounds, graph.progress().rounds[..1]);
        assert!(graph.at_start_of(0).nodes.is_empty());
    }
}
