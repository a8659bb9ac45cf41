//! The projection: a dialogue's graph (meta, experts, rounds, entity nodes, typed edges in both
//! directions, moves, verdicts, checkpoint) and the fold that advances it by one stored commit.
//!
//! The same fold runs in the Lambda, in-process over SQLite, in `dlg audit`'s rebuild, and as the
//! state commands are validated against. It needs no key: sealed content is copied, never opened.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::chain::{self, Hash};
use crate::commit::{Commit, CommitError, StoredEvent};
use crate::event::EventBody;
use crate::ids::{DialogueId, EntityId, EntityKind, ExpertSlug};
use crate::model::{
    Confidence, DialogueStatus, ExpertSource, MoveKind, RefType, RoundStatus, Status, Tier,
    VerdictType, lifecycle,
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
    pub title: Option<SealedCopy>,
    pub summary: Option<SealedCopy>,
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

/// What applying one stored commit did.
#[derive(Debug, Clone, PartialEq)]
pub enum ApplyOutcome {
    /// The commit was the next one; these items changed (the checkpoint always among them).
    Applied(Vec<GraphItem>),
    /// The commit was applied before (number ≤ checkpoint): nothing changed.
    AlreadyApplied,
    /// Commits are missing between the checkpoint and this one: read `from..to` (exclusive of
    /// `to`) from the events table, apply them, then this one.
    Gap { from: u64, to: u64 },
}

/// Why a commit cannot be applied. Never retryable: the commit itself is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    /// The bytes do not decode.
    #[error("commit cannot be decoded: {0}")]
    Decode(#[from] CommitError),
    /// The commit belongs to another dialogue.
    #[error("commit {commit} belongs to dialogue {found}, not {expected}")]
    WrongDialogue {
        commit: u64,
        expected: String,
        found: String,
    },
    /// An event contradicts the state (an unknown entity, a status that is not the recorded one).
    #[error("commit {commit}, event {seq}: {reason}")]
    Inconsistent {
        commit: u64,
        seq: u64,
        reason: String,
    },
}

/// Keys of items touched while applying one commit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Touched {
    Meta,
    Expert(ExpertSlug),
    Round(u8),
    Node(EntityId),
    Contribution(ExpertSlug, EntityId),
    Edge(EntityId, RefType, EntityId),
    Move(u8, ExpertSlug, u16),
    Verdict(String),
}

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

    /// Folds a sequence of stored commits from the empty graph, healing nothing: the commits
    /// must be complete and in order (as read from the events table).
    pub fn rebuild<'a>(
        dialogue: DialogueId,
        commits: impl IntoIterator<Item = &'a [u8]>,
    ) -> Result<Self, ApplyError> {
        let mut graph = Graph::new(dialogue);
        for bytes in commits {
            match graph.apply(bytes)? {
                ApplyOutcome::Applied(_) | ApplyOutcome::AlreadyApplied => {}
                ApplyOutcome::Gap { from, .. } => {
                    return Err(ApplyError::Inconsistent {
                        commit: from,
                        seq: 0,
                        reason: format!("commit {from} is missing"),
                    });
                }
            }
        }
        Ok(graph)
    }

    /// The checkpoint's hash as bytes.
    pub fn head_hash(&self) -> Hash {
        chain::from_hex(&self.checkpoint.hash).unwrap_or_else(|| chain::genesis(&self.dialogue))
    }

    /// Applies one stored commit under the checkpoint rule: apply commit n only when the
    /// checkpoint is n-1; skip n ≤ checkpoint; report a gap otherwise. The chain hash is computed
    /// from the checkpoint's hash and the exact bytes.
    ///
    /// On an error the graph may be partly changed: discard it and rebuild (the error means the
    /// events table holds a commit no writer of this format produces).
    pub fn apply(&mut self, bytes: &[u8]) -> Result<ApplyOutcome, ApplyError> {
        let commit = Commit::decode(bytes)?;
        let number = commit.header.commit;
        if commit.header.dialogue != self.dialogue {
            return Err(ApplyError::WrongDialogue {
                commit: number,
                expected: self.dialogue.to_string(),
                found: commit.header.dialogue.to_string(),
            });
        }
        if number <= self.checkpoint.commit {
            return Ok(ApplyOutcome::AlreadyApplied);
        }
        if number > self.checkpoint.commit + 1 {
            return Ok(ApplyOutcome::Gap {
                from: self.checkpoint.commit + 1,
                to: number,
            });
        }
        let hash = chain::link(&self.head_hash(), bytes);
        self.apply_decoded(&commit, &hash)
            .map(ApplyOutcome::Applied)
    }

    fn apply_decoded(
        &mut self,
        commit: &Commit,
        hash: &Hash,
    ) -> Result<Vec<GraphItem>, ApplyError> {
        let header = &commit.header;
        if header.first_seq != self.checkpoint.next_seq {
            return Err(ApplyError::Inconsistent {
                commit: header.commit,
                seq: header.first_seq,
                reason: format!("events should continue at seq {}", self.checkpoint.next_seq),
            });
        }
        let origin = Origin {
            commit: header.commit,
            hash: chain::to_hex(hash),
        };
        let mut touched = BTreeSet::new();
        for event in &commit.events {
            let copy = event.sealed.as_ref().map(|sealed| SealedCopy {
                address: commit.address_of(event),
                key_version: header.key_version,
                sealed: sealed.clone(),
            });
            self.apply_event(commit, event, copy, &origin, &mut touched)
                .map_err(|reason| ApplyError::Inconsistent {
                    commit: header.commit,
                    seq: event.seq,
                    reason,
                })?;
        }
        self.checkpoint = Checkpoint {
            commit: header.commit,
            hash: origin.hash.clone(),
            next_seq: commit.next_seq(),
            time: Some(header.time.clone()),
        };
        let mut changed = Vec::with_capacity(touched.len() * 2 + 1);
        for key in touched {
            self.stamp_and_collect(key, &origin, &mut changed);
        }
        changed.push(GraphItem::Checkpoint(self.checkpoint.clone()));
        Ok(changed)
    }

    fn stamp_and_collect(&mut self, key: Touched, origin: &Origin, out: &mut Vec<GraphItem>) {
        match key {
            Touched::Meta => {
                if let Some(meta) = &mut self.meta {
                    meta.origin = origin.clone();
                    out.push(GraphItem::Meta(meta.clone()));
                }
            }
            Touched::Expert(slug) => {
                if let Some(item) = self.experts.get_mut(&slug) {
                    item.origin = origin.clone();
                    out.push(GraphItem::Expert(item.clone()));
                }
            }
            Touched::Round(round) => {
                if let Some(item) = self.rounds.get_mut(&round) {
                    item.origin = origin.clone();
                    out.push(GraphItem::Round(item.clone()));
                }
            }
            Touched::Node(id) => {
                if let Some(item) = self.nodes.get_mut(&id) {
                    item.origin = origin.clone();
                    out.push(GraphItem::Node(item.clone()));
                }
            }
            Touched::Contribution(expert, id) => {
                if let Some(item) = self.contributions.get_mut(&(expert, id)) {
                    item.origin = origin.clone();
                    out.push(GraphItem::Contribution(item.clone()));
                }
            }
            Touched::Edge(source, ref_type, target) => {
                if let Some(item) = self.edges.get_mut(&(source, ref_type, target)) {
                    item.origin = origin.clone();
                    out.push(GraphItem::OutEdge(item.clone()));
                    out.push(GraphItem::InEdge(item.clone()));
                }
            }
            Touched::Move(round, expert, index) => {
                if let Some(item) = self.moves.get_mut(&(round, expert, index)) {
                    item.origin = origin.clone();
                    out.push(GraphItem::Move(item.clone()));
                }
            }
            Touched::Verdict(id) => {
                if let Some(item) = self.verdicts.get_mut(&id) {
                    item.origin = origin.clone();
                    out.push(GraphItem::Verdict(item.clone()));
                }
            }
        }
    }

    fn apply_event(
        &mut self,
        commit: &Commit,
        event: &StoredEvent,
        content: Option<SealedCopy>,
        origin: &Origin,
        touched: &mut BTreeSet<Touched>,
    ) -> Result<(), String> {
        let time = &commit.header.time;
        if self.meta.is_none() && !matches!(event.body, EventBody::DialogueCreated { .. }) {
            return Err("the dialogue has not been created".to_owned());
        }
        match &event.body {
            EventBody::DialogueCreated { dialogue } => {
                if self.meta.is_some() || dialogue != &self.dialogue {
                    return Err("the dialogue is created twice or under another id".to_owned());
                }
                self.meta = Some(MetaItem {
                    dialogue: dialogue.clone(),
                    status: DialogueStatus::Open,
                    created_at: time.clone(),
                    content,
                    origin: origin.clone(),
                });
                touched.insert(Touched::Meta);
            }
            EventBody::ExpertJoined {
                expert,
                tier,
                source,
                relevance,
                color,
                first_round,
            } => {
                if self.experts.contains_key(expert) {
                    return Err(format!("expert {expert} joins twice"));
                }
                self.experts.insert(
                    expert.clone(),
                    ExpertItem {
                        expert: expert.clone(),
                        tier: *tier,
                        source: *source,
                        relevance: *relevance,
                        color: color.clone(),
                        first_round: *first_round,
                        joined_at: time.clone(),
                        scores: BTreeMap::new(),
                        profile: content,
                        responses: BTreeMap::new(),
                        origin: origin.clone(),
                    },
                );
                touched.insert(Touched::Expert(expert.clone()));
            }
            EventBody::RoundOpened { round } => {
                if self
                    .rounds
                    .get(round)
                    .is_some_and(|r| r.status == RoundStatus::Completed)
                {
                    return Err(format!("round {round} is already completed"));
                }
                self.rounds.insert(
                    *round,
                    RoundItem {
                        round: *round,
                        status: RoundStatus::InProgress,
                        score: None,
                        title: content,
                        summary: None,
                        origin: origin.clone(),
                    },
                );
                touched.insert(Touched::Round(*round));
            }
            EventBody::ResponseRecorded { round, expert } => {
                let item = self.expert_mut(expert)?;
                if let Some(copy) = content {
                    item.responses.insert(*round, copy);
                }
                item.first_round.get_or_insert(*round);
                touched.insert(Touched::Expert(expert.clone()));
            }
            EventBody::ExpertScored {
                round,
                expert,
                score,
            } => {
                let item = self.expert_mut(expert)?;
                item.scores.insert(*round, *score);
                item.first_round.get_or_insert(*round);
                touched.insert(Touched::Expert(expert.clone()));
            }
            EventBody::PerspectiveAdded(added)
            | EventBody::RecommendationProposed(added)
            | EventBody::TensionRaised(added)
            | EventBody::EvidenceCited(added)
            | EventBody::ClaimAsserted(added) => {
                let kind = added.id.kind();
                if self.nodes.contains_key(&added.id) {
                    return Err(format!("entity {} is added twice", added.id));
                }
                self.nodes.insert(
                    added.id,
                    NodeItem {
                        id: added.id,
                        kind,
                        round: added.id.round(),
                        status: lifecycle(kind).initial(),
                        contributors: added.contributors.clone(),
                        local_id: added.local_id.clone(),
                        created_at: time.clone(),
                        created_commit: commit.header.commit,
                        content,
                        history: Vec::new(),
                        origin: origin.clone(),
                    },
                );
                touched.insert(Touched::Node(added.id));
                for expert in &added.contributors {
                    self.contributions.insert(
                        (expert.clone(), added.id),
                        ContributionItem {
                            expert: expert.clone(),
                            id: added.id,
                            round: added.id.round(),
                            origin: origin.clone(),
                        },
                    );
                    touched.insert(Touched::Contribution(expert.clone(), added.id));
                }
            }
            EventBody::ReferenceAdded {
                source,
                ref_type,
                target,
                round,
            } => {
                for id in [source, target] {
                    if !self.nodes.contains_key(id) {
                        return Err(format!("reference to unknown entity {id}"));
                    }
                }
                let key = (*source, *ref_type, *target);
                if self.edges.contains_key(&key) {
                    return Err(format!(
                        "reference {source} {ref_type} {target} is added twice"
                    ));
                }
                self.edges.insert(
                    key,
                    EdgeItem {
                        source: *source,
                        ref_type: *ref_type,
                        target: *target,
                        round: *round,
                        seq: event.seq,
                        origin: origin.clone(),
                    },
                );
                self.incoming.insert((*target, *ref_type, *source));
                touched.insert(Touched::Edge(*source, *ref_type, *target));
            }
            EventBody::MoveRecorded {
                round,
                expert,
                index,
                kind,
                targets,
            } => {
                let key = (*round, expert.clone(), *index);
                if self.moves.contains_key(&key) {
                    return Err(format!(
                        "move {index} of {expert} in round {round} is recorded twice"
                    ));
                }
                self.moves.insert(
                    key,
                    MoveItem {
                        round: *round,
                        expert: expert.clone(),
                        index: *index,
                        kind: *kind,
                        targets: targets.clone(),
                        context: content,
                        origin: origin.clone(),
                    },
                );
                touched.insert(Touched::Move(*round, expert.clone(), *index));
            }
            EventBody::StatusChanged {
                entity,
                from,
                to,
                round,
                actors,
                via,
            } => {
                let node = self
                    .nodes
                    .get_mut(entity)
                    .ok_or_else(|| format!("status change of unknown entity {entity}"))?;
                if node.status != *from {
                    return Err(format!("{entity} is {}, not {from}", node.status));
                }
                node.status = *to;
                node.history.push(StatusChange {
                    from: *from,
                    to: *to,
                    round: *round,
                    actors: actors.clone(),
                    via: via.clone(),
                    commit: commit.header.commit,
                    seq: event.seq,
                    time: time.clone(),
                    reason: content,
                });
                touched.insert(Touched::Node(*entity));
            }
            EventBody::RoundCompleted { round, score } => {
                let item = self
                    .rounds
                    .get_mut(round)
                    .ok_or_else(|| format!("round {round} completes without being opened"))?;
                item.status = RoundStatus::Completed;
                item.score = *score;
                item.summary = content;
                touched.insert(Touched::Round(*round));
            }
            EventBody::VerdictIssued {
                verdict,
                verdict_type,
                round,
                author_expert,
                vote,
                confidence,
                supporting_experts,
            } => {
                if self.verdicts.contains_key(verdict) {
                    return Err(format!("verdict {verdict} is issued twice"));
                }
                self.verdicts.insert(
                    verdict.clone(),
                    VerdictItem {
                        verdict: verdict.clone(),
                        verdict_type: *verdict_type,
                        round: *round,
                        author_expert: author_expert.clone(),
                        vote: vote.clone(),
                        confidence: *confidence,
                        supporting_experts: supporting_experts.clone(),
                        issued_at: time.clone(),
                        content,
                        origin: origin.clone(),
                    },
                );
                touched.insert(Touched::Verdict(verdict.clone()));
            }
            EventBody::DialogueStatusChanged { from, to } => {
                let meta = self.meta.as_mut().ok_or("no dialogue")?;
                if meta.status != *from {
                    return Err(format!("dialogue is {}, not {from}", meta.status));
                }
                meta.status = *to;
                touched.insert(Touched::Meta);
            }
        }
        Ok(())
    }

    fn expert_mut(&mut self, expert: &ExpertSlug) -> Result<&mut ExpertItem, String> {
        self.experts
            .get_mut(expert)
            .ok_or_else(|| format!("unknown expert {expert}"))
    }

    /// Every item of the graph, in sort-key order: what a rebuild writes and what audit diffs.
    pub fn items(&self) -> Vec<GraphItem> {
        let mut items: Vec<GraphItem> = Vec::new();
        items.extend(self.meta.iter().cloned().map(GraphItem::Meta));
        items.extend(self.experts.values().cloned().map(GraphItem::Expert));
        items.extend(self.rounds.values().cloned().map(GraphItem::Round));
        items.extend(self.nodes.values().cloned().map(GraphItem::Node));
        items.extend(
            self.contributions
                .values()
                .cloned()
                .map(GraphItem::Contribution),
        );
        for edge in self.edges.values() {
            items.push(GraphItem::OutEdge(edge.clone()));
            items.push(GraphItem::InEdge(edge.clone()));
        }
        items.extend(self.moves.values().cloned().map(GraphItem::Move));
        items.extend(self.verdicts.values().cloned().map(GraphItem::Verdict));
        items.push(GraphItem::Checkpoint(self.checkpoint.clone()));
        items.sort_by_key(GraphItem::sort_key);
        items
    }

    /// Assembles a graph from stored items (one Query's pages). In-edges are checked against
    /// out-edges: an in-edge without its out-edge is reported as drift by [`diff_items`].
    pub fn from_items(dialogue: DialogueId, items: impl IntoIterator<Item = GraphItem>) -> Self {
        let mut graph = Graph::new(dialogue);
        for item in items {
            match item {
                GraphItem::Meta(m) => graph.meta = Some(m),
                GraphItem::Expert(e) => {
                    graph.experts.insert(e.expert.clone(), e);
                }
                GraphItem::Round(r) => {
                    graph.rounds.insert(r.round, r);
                }
                GraphItem::Node(n) => {
                    graph.nodes.insert(n.id, n);
                }
                GraphItem::Contribution(c) => {
                    graph.contributions.insert((c.expert.clone(), c.id), c);
                }
                GraphItem::OutEdge(e) => {
                    graph.incoming.insert((e.target, e.ref_type, e.source));
                    graph.edges.insert((e.source, e.ref_type, e.target), e);
                }
                GraphItem::InEdge(_) => {}
                GraphItem::Move(m) => {
                    graph.moves.insert((m.round, m.expert.clone(), m.index), m);
                }
                GraphItem::Verdict(v) => {
                    graph.verdicts.insert(v.verdict.clone(), v);
                }
                GraphItem::Checkpoint(c) => graph.checkpoint = c,
            }
        }
        graph
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

    /// Sum of the completed rounds' scores (the dialogue's total alignment).
    pub fn total_alignment(&self) -> f64 {
        self.rounds.values().filter_map(|r| r.score).sum()
    }
}

/// One difference between stored graph items and a rebuild.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "drift", rename_all = "snake_case")]
pub enum Drift {
    /// The rebuild has an item the store lacks.
    Missing { key: String, commit: u64 },
    /// The store has an item the rebuild lacks.
    Extra { key: String, commit: u64 },
    /// Both have the item but it differs.
    Changed { key: String, commit: u64 },
}

/// Compares stored items with rebuilt ones by sort key. Each drift names the commit the rebuilt
/// item came from (or, for an extra item, the commit the stored item claims).
pub fn diff_items(stored: &[GraphItem], rebuilt: &[GraphItem]) -> Vec<Drift> {
    let stored: BTreeMap<String, &GraphItem> = stored.iter().map(|i| (i.sort_key(), i)).collect();
    let rebuilt: BTreeMap<String, &GraphItem> = rebuilt.iter().map(|i| (i.sort_key(), i)).collect();
    let mut drifts = Vec::new();
    for (key, item) in &rebuilt {
        match stored.get(key) {
            None => drifts.push(Drift::Missing {
                key: key.clone(),
                commit: item.origin_commit(),
            }),
            Some(found) if found != item => drifts.push(Drift::Changed {
                key: key.clone(),
                commit: item.origin_commit(),
            }),
            Some(_) => {}
        }
    }
    for (key, item) in &stored {
        if !rebuilt.contains_key(key) {
            drifts.push(Drift::Extra {
                key: key.clone(),
                commit: item.origin_commit(),
            });
        }
    }
    drifts
}
