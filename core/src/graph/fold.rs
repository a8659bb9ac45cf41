//! The fold: applying one stored commit to a graph under the checkpoint rule (apply the next,
//! skip the applied, report a gap), event by event, and rebuilding a graph from all commits.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    Checkpoint, ContributionItem, EdgeItem, ExpertItem, Graph, GraphItem, MetaItem, MoveItem,
    NodeItem, Origin, RoundItem, SealedCopy, StatusChange, VerdictItem,
};
use crate::chain::{self, Hash};
use crate::commit::{Commit, CommitError, StoredEvent};
use crate::event::EventBody;
use crate::ids::{DialogueId, EntityId, ExpertSlug};
use crate::model::{DialogueStatus, RefType, RoundStatus, lifecycle};

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

impl Graph {
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
                        dimensions: BTreeMap::new(),
                        profile: content,
                        responses: BTreeMap::new(),
                        origin: origin.clone(),
                    },
                );
                touched.insert(Touched::Expert(expert.clone()));
            }
            EventBody::RoundOpened { round, panel } => {
                if self
                    .rounds
                    .get(round)
                    .is_some_and(|r| r.status == RoundStatus::Completed)
                {
                    return Err(format!("round {round} is already completed"));
                }
                if let Some(seat) = panel.iter().find(|s| !self.experts.contains_key(&s.expert)) {
                    return Err(format!(
                        "round {round} seats `{}`, who is not on the panel",
                        seat.expert
                    ));
                }
                self.rounds.insert(
                    *round,
                    RoundItem {
                        round: *round,
                        status: RoundStatus::InProgress,
                        score: None,
                        title: content,
                        summary: None,
                        panel: panel.clone(),
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
                dimensions,
            } => {
                let item = self.expert_mut(expert)?;
                item.scores.insert(*round, *score);
                if let Some(dimensions) = dimensions {
                    item.dimensions.insert(*round, *dimensions);
                }
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
                tensions_accepted,
                forced,
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
                        tensions_accepted: tensions_accepted.clone(),
                        forced: *forced,
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
}
