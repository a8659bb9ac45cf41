//! The projection: a dialogue's graph (meta, experts, rounds, entity nodes, typed edges in both
//! directions, moves, verdicts, checkpoint) and the fold that advances it by one stored commit.
//!
//! The same fold runs in the Lambda, in-process over SQLite, in `dlg audit`'s rebuild, and as the
//! state commands are validated against. It needs no key: sealed content is copied, never opened.
//!
//! The module is laid out by job: `items.rs` holds the stored item types, `fold.rs` the fold
//! ([`Graph::apply`], [`Graph::rebuild`]), `assemble.rs` the conversion between a graph and its
//! items, and `diff.rs` the comparison of stored items with a rebuild. This file holds the
//! [`Graph`] itself.

mod assemble;
mod diff;
mod fold;
mod items;

use std::collections::{BTreeMap, BTreeSet};

use crate::chain::{self, Hash};
use crate::ids::{DialogueId, EntityId, ExpertSlug};
use crate::model::{RefType, RoundStatus};

pub use diff::{Drift, diff_items};
pub use fold::{ApplyError, ApplyOutcome};
pub use items::{
    Checkpoint, ContributionItem, EdgeItem, ExpertItem, GraphItem, MetaItem, MoveItem, NodeItem,
    Origin, RoundItem, SealedCopy, StatusChange, VerdictItem,
};

/// A dialogue's graph: the projection state and, assembled from stored items, the read model.
#[derive(Debug, Clone, PartialEq)]
pub struct Graph {
    pub dialogue: DialogueId,
    pub meta: Option<MetaItem>,
    pub experts: BTreeMap<ExpertSlug, ExpertItem>,
    pub rounds: BTreeMap<u8, RoundItem>,
    pub nodes: BTreeMap<EntityId, NodeItem>,
    /// Contributions keyed by (expert, entity).
    pub contributions: BTreeMap<(ExpertSlug, EntityId), ContributionItem>,
    /// Out-edges keyed by (source, ref type, target).
    pub edges: BTreeMap<(EntityId, RefType, EntityId), EdgeItem>,
    /// In-edge index: (target, ref type, source).
    pub incoming: BTreeSet<(EntityId, RefType, EntityId)>,
    pub moves: BTreeMap<(u8, ExpertSlug, u16), MoveItem>,
    pub verdicts: BTreeMap<String, VerdictItem>,
    pub checkpoint: Checkpoint,
}

impl Graph {
    /// The empty graph of a dialogue, before its first commit.
    pub fn new(dialogue: DialogueId) -> Self {
        let genesis = chain::to_hex(&chain::genesis(&dialogue));
        Self {
            dialogue,
            meta: None,
            experts: BTreeMap::new(),
            rounds: BTreeMap::new(),
            nodes: BTreeMap::new(),
            contributions: BTreeMap::new(),
            edges: BTreeMap::new(),
            incoming: BTreeSet::new(),
            moves: BTreeMap::new(),
            verdicts: BTreeMap::new(),
            checkpoint: Checkpoint {
                commit: 0,
                hash: genesis,
                next_seq: 1,
                time: None,
            },
        }
    }

    /// The checkpoint's hash as bytes.
    pub fn head_hash(&self) -> Hash {
        chain::from_hex(&self.checkpoint.hash).unwrap_or_else(|| chain::genesis(&self.dialogue))
    }

    /// The latest round registered, if any.
    pub fn latest_round(&self) -> Option<u8> {
        self.rounds.keys().next_back().copied()
    }

    /// Number of completed rounds.
    pub fn total_rounds(&self) -> usize {
        self.rounds
            .values()
            .filter(|r| r.status == RoundStatus::Completed)
            .count()
    }

    /// Sum of the completed rounds' scores (the dialogue's total alignment): `0` with none,
    /// never `-0`, and finite (scores are bounded: [`crate::model::MAX_SCORE`]).
    pub fn total_alignment(&self) -> f64 {
        total(self.rounds.values().filter_map(|r| r.score))
    }
}

/// A sum of scores as people and JSON should see it: `0` rather than `-0` (an empty `f64` sum
/// is `-0.0`), and `0` rather than a non-finite value, which bounded scores never reach.
pub fn total(scores: impl IntoIterator<Item = f64>) -> f64 {
    let sum: f64 = scores.into_iter().sum::<f64>() + 0.0;
    if sum.is_finite() { sum } else { 0.0 }
}
