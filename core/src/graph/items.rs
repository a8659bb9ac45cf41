//! The items a dialogue's graph is stored as, one per row of its partition: the dialogue, each
//! expert, round, entity node, contribution, edge (out and in), move and verdict, and the
//! checkpoint. Their serde form is what every backend stores, so it must not change.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::event::PanelSeat;
use crate::ids::{DialogueId, EntityId, EntityKind, ExpertSlug};
use crate::model::{
    Confidence, DialogueStatus, ExpertSource, MoveKind, RefType, RoundStatus, ScoreDimensions,
    Status, Tier, VerdictType,
};
use crate::seal::Sealed;

/// Where an item was last derived from: a commit number and that commit's chain hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The commit number.
    pub commit: u64,
    /// The commit's chain hash (hex).
    pub hash: String,
}

/// Sealed content copied from an event, with what is needed to open it later.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedCopy {
    /// The canonical address the content is bound to.
    pub address: String,
    /// The data key version that sealed it.
    pub key_version: u32,
    /// Nonce and ciphertext.
    pub sealed: Sealed,
}

/// Maps keyed by round number, written with string keys (`{"0": ..}`) so that they survive
/// self-describing formats (JSON through serde's internally tagged enums, DynamoDB maps).
mod round_keyed {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<T: Serialize, S: Serializer>(
        map: &BTreeMap<u8, T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let keyed: BTreeMap<String, &T> = map.iter().map(|(k, v)| (format!("{k:02}"), v)).collect();
        keyed.serialize(serializer)
    }

    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<BTreeMap<u8, T>, D::Error> {
        let keyed = BTreeMap::<String, T>::deserialize(deserializer)?;
        keyed
            .into_iter()
            .map(|(k, v)| {
                k.parse::<u8>()
                    .map(|k| (k, v))
                    .map_err(|_| serde::de::Error::custom(format!("`{k}` is not a round number")))
            })
            .collect()
    }
}

/// The dialogue itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetaItem {
    pub dialogue: DialogueId,
    pub status: DialogueStatus,
    pub created_at: String,
    /// Title and question.
    pub content: Option<SealedCopy>,
    pub origin: Origin,
}

/// A panel member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExpertItem {
    pub expert: ExpertSlug,
    pub tier: Tier,
    pub source: ExpertSource,
    pub relevance: Option<f64>,
    pub color: Option<String>,
    pub first_round: Option<u8>,
    pub joined_at: String,
    /// Score per round.
    #[serde(with = "round_keyed")]
    pub scores: BTreeMap<u8, f64>,
    /// What each round's score is made of, for rounds scored by dimension.
    #[serde(
        with = "round_keyed",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub dimensions: BTreeMap<u8, ScoreDimensions>,
    /// Role, description, focus, creation reason.
    pub profile: Option<SealedCopy>,
    /// Raw response text per round.
    #[serde(with = "round_keyed")]
    pub responses: BTreeMap<u8, SealedCopy>,
    pub origin: Origin,
}

/// A round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundItem {
    pub round: u8,
    pub status: RoundStatus,
    pub score: Option<f64>,
    /// The round's content (title, and the reasons of the panel's seats).
    pub title: Option<SealedCopy>,
    pub summary: Option<SealedCopy>,
    /// Who sat in the round (empty for rounds recorded before panels were).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub panel: Vec<PanelSeat>,
    pub origin: Origin,
}

/// One recorded status change of an entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    pub from: Status,
    pub to: Status,
    pub round: u8,
    pub actors: Vec<String>,
    pub via: Option<String>,
    pub commit: u64,
    pub seq: u64,
    pub time: String,
    pub reason: Option<SealedCopy>,
}

/// An entity node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeItem {
    pub id: EntityId,
    pub kind: EntityKind,
    pub round: u8,
    pub status: Status,
    pub contributors: Vec<ExpertSlug>,
    pub local_id: Option<String>,
    pub created_at: String,
    pub created_commit: u64,
    /// Label and content (or description), and parameters for recommendations.
    pub content: Option<SealedCopy>,
    /// Status changes in order.
    pub history: Vec<StatusChange>,
    pub origin: Origin,
}

/// A typed edge, stored twice: as an out-edge under its source and an in-edge under its target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeItem {
    pub source: EntityId,
    pub ref_type: RefType,
    pub target: EntityId,
    pub round: u8,
    pub seq: u64,
    pub origin: Origin,
}

/// An expert's credit for an entity: one item per contributor, so contributions can be found
/// across dialogues through an index keyed by expert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContributionItem {
    pub expert: ExpertSlug,
    pub id: EntityId,
    pub round: u8,
    pub origin: Origin,
}

/// A move by an expert in a round.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MoveItem {
    pub round: u8,
    pub expert: ExpertSlug,
    pub index: u16,
    pub kind: MoveKind,
    pub targets: Vec<EntityId>,
    pub context: Option<SealedCopy>,
    pub origin: Origin,
}

/// A verdict (immutable).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VerdictItem {
    pub verdict: String,
    pub verdict_type: VerdictType,
    pub round: u8,
    pub author_expert: Option<ExpertSlug>,
    pub vote: Option<String>,
    pub confidence: Option<Confidence>,
    pub supporting_experts: Vec<ExpertSlug>,
    /// The open tensions a final verdict accepted as left open.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tensions_accepted: Vec<EntityId>,
    /// Whether a final verdict was forced over open tensions.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
    pub issued_at: String,
    /// Recommendation, description, conditions.
    pub content: Option<SealedCopy>,
    pub origin: Origin,
}

/// The last applied commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Last applied commit number (0 before the first).
    pub commit: u64,
    /// Its chain hash (hex); the genesis value before the first commit.
    pub hash: String,
    /// The next event sequence number.
    pub next_seq: u64,
    /// The time recorded in the last applied commit.
    pub time: Option<String>,
}

/// One stored item of the graph. [`GraphItem::sort_key`] is its sort key within the dialogue's
/// partition (`D#{dialogue}`), the same on every backend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "item", rename_all = "snake_case")]
pub enum GraphItem {
    Meta(MetaItem),
    Expert(ExpertItem),
    Round(RoundItem),
    Node(NodeItem),
    Contribution(ContributionItem),
    OutEdge(EdgeItem),
    InEdge(EdgeItem),
    Move(MoveItem),
    Verdict(VerdictItem),
    Checkpoint(Checkpoint),
}

impl GraphItem {
    /// The item's sort key: `META`, `X#{expert}`, `R#{round:02}`, `N#{id}`, `C#{expert}#{id}`,
    /// `E#{source}#O#{ref}#{target}`, `E#{target}#I#{ref}#{source}`, `M#{round:02}#{expert}#{index:04}`,
    /// `V#{verdict}`, `CKPT`.
    pub fn sort_key(&self) -> String {
        match self {
            GraphItem::Meta(_) => "META".to_owned(),
            GraphItem::Expert(e) => format!("X#{}", e.expert),
            GraphItem::Round(r) => format!("R#{:02}", r.round),
            GraphItem::Node(n) => format!("N#{}", n.id),
            GraphItem::Contribution(c) => format!("C#{}#{}", c.expert, c.id),
            GraphItem::OutEdge(e) => format!("E#{}#O#{}#{}", e.source, e.ref_type, e.target),
            GraphItem::InEdge(e) => format!("E#{}#I#{}#{}", e.target, e.ref_type, e.source),
            GraphItem::Move(m) => format!("M#{:02}#{}#{:04}", m.round, m.expert, m.index),
            GraphItem::Verdict(v) => format!("V#{}", v.verdict),
            GraphItem::Checkpoint(_) => "CKPT".to_owned(),
        }
    }

    /// The commit this item was last derived from (the checkpoint's own commit for the checkpoint).
    pub fn origin_commit(&self) -> u64 {
        match self {
            GraphItem::Meta(i) => i.origin.commit,
            GraphItem::Expert(i) => i.origin.commit,
            GraphItem::Round(i) => i.origin.commit,
            GraphItem::Node(i) => i.origin.commit,
            GraphItem::Contribution(i) => i.origin.commit,
            GraphItem::OutEdge(i) | GraphItem::InEdge(i) => i.origin.commit,
            GraphItem::Move(i) => i.origin.commit,
            GraphItem::Verdict(i) => i.origin.commit,
            GraphItem::Checkpoint(c) => c.commit,
        }
    }
}
