//! Queries over an assembled [`Graph`]: neighbours by direction and reference type, k-hop
//! subgraphs, refinement lineage, open tensions, what addressed a tension, verdict context,
//! contributions of an expert, summaries, and the state as of a commit or a time.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::{Deserialize, Serialize};

use crate::commit::Commit;
use crate::graph::{
    ApplyError, ApplyOutcome, EdgeItem, Graph, GraphItem, MoveItem, NodeItem, VerdictItem,
};
use crate::ids::{DialogueId, EntityId, EntityKind, ExpertSlug};
use crate::model::{RefType, Status, tension_is_open};

/// Which edges of an entity to follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// What the entity references (its out-edges).
    Out,
    /// What references the entity (its in-edges).
    In,
    /// Both.
    Both,
}

/// An edge seen from one entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Neighbour {
    /// `out` when the entity is the source, `in` when it is the target.
    pub direction: Direction,
    /// The entity at the other end.
    pub other: EntityId,
    /// The edge.
    pub edge: EdgeItem,
}

/// A set of nodes and the edges among them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subgraph {
    pub nodes: Vec<NodeItem>,
    pub edges: Vec<EdgeItem>,
}

/// The reference types by which an entity addresses a tension.
pub const ADDRESSING: [RefType; 3] = [RefType::Address, RefType::Resolve, RefType::Reopen];

/// What addressed `tension`: the sources of its incoming [`ADDRESSING`] edges (`incoming`, as
/// read), then the `via` of its status changes.
pub fn addressed_by(tension: &NodeItem, incoming: &[Neighbour]) -> Vec<String> {
    let mut found: Vec<String> = incoming
        .iter()
        .filter(|n| n.direction == Direction::In && ADDRESSING.contains(&n.edge.ref_type))
        .map(|n| n.other.to_string())
        .collect();
    for change in &tension.history {
        if let Some(via) = &change.via
            && !found.contains(via)
        {
            found.push(via.clone());
        }
    }
    found
}

/// The sort-key prefix under which `id`'s edges in `direction` are stored (`E#{id}#O#`,
/// `E#{id}#I#`, or `E#{id}#` for both), so a store answers "neighbours of X" with one range read.
pub fn edge_key_prefix(id: EntityId, direction: Direction) -> String {
    match direction {
        Direction::Out => format!("E#{id}#O#"),
        Direction::In => format!("E#{id}#I#"),
        Direction::Both => format!("E#{id}#"),
    }
}

/// The neighbours of `id` from edge items read by [`edge_key_prefix`], in the order
/// [`Graph::neighbours`] gives them (out-edges first), restricted to `ref_types` when non-empty.
pub fn neighbours_from_items(
    id: EntityId,
    items: impl IntoIterator<Item = GraphItem>,
    ref_types: &[RefType],
) -> Vec<Neighbour> {
    let mut found: Vec<Neighbour> = items
        .into_iter()
        .filter_map(|item| match item {
            GraphItem::OutEdge(edge) if edge.source == id => Some(Neighbour {
                direction: Direction::Out,
                other: edge.target,
                edge,
            }),
            GraphItem::InEdge(edge) if edge.target == id => Some(Neighbour {
                direction: Direction::In,
                other: edge.source,
                edge,
            }),
            _ => None,
        })
        .filter(|n| ref_types.is_empty() || ref_types.contains(&n.edge.ref_type))
        .collect();
    found.sort_by_key(|n| (n.direction == Direction::In, n.edge.ref_type, n.other));
    found
}

impl Graph {
    /// The edges of `id` in `direction`, restricted to `ref_types` when it is non-empty.
    pub fn neighbours(
        &self,
        id: EntityId,
        direction: Direction,
        ref_types: &[RefType],
    ) -> Vec<Neighbour> {
        let wanted = |r: RefType| ref_types.is_empty() || ref_types.contains(&r);
        let mut found = Vec::new();
        if matches!(direction, Direction::Out | Direction::Both) {
            found.extend(
                self.edges
                    .range(
                        (id, RefType::Resolve, EntityId::MIN)
                            ..=(id, RefType::Depend, EntityId::MAX),
                    )
                    .filter(|(_, e)| wanted(e.ref_type))
                    .map(|(_, e)| Neighbour {
                        direction: Direction::Out,
                        other: e.target,
                        edge: e.clone(),
                    }),
            );
        }
        if matches!(direction, Direction::In | Direction::Both) {
            found.extend(
                self.incoming
                    .range(
                        (id, RefType::Resolve, EntityId::MIN)
                            ..=(id, RefType::Depend, EntityId::MAX),
                    )
                    .filter(|(_, r, _)| wanted(*r))
                    .filter_map(|(target, r, source)| self.edges.get(&(*source, *r, *target)))
                    .map(|e| Neighbour {
                        direction: Direction::In,
                        other: e.source,
                        edge: e.clone(),
                    }),
            );
        }
        found
    }

    /// Every node within `depth` hops of `id` along edges in `direction` (of `ref_types`, or
    /// all), with the edges walked. Depth 0 is the entity alone.
    pub fn k_hop(
        &self,
        id: EntityId,
        depth: usize,
        direction: Direction,
        ref_types: &[RefType],
    ) -> Subgraph {
        let mut seen = BTreeSet::from([id]);
        let mut edges = BTreeMap::new();
        let mut queue = VecDeque::from([(id, 0usize)]);
        while let Some((current, distance)) = queue.pop_front() {
            if distance == depth {
                continue;
            }
            for neighbour in self.neighbours(current, direction, ref_types) {
                let e = &neighbour.edge;
                edges.insert((e.source, e.ref_type, e.target), e.clone());
                if seen.insert(neighbour.other) {
                    queue.push_back((neighbour.other, distance + 1));
                }
            }
        }
        Subgraph {
            nodes: seen
                .iter()
                .filter_map(|n| self.nodes.get(n).cloned())
                .collect(),
            edges: edges.into_values().collect(),
        }
    }

    /// The refinement lineage of `id`: what it refines, transitively (oldest first), then the
    /// entity, then what refines it, transitively (breadth first).
    pub fn lineage(&self, id: EntityId) -> Vec<EntityId> {
        let follow = |start: EntityId, direction: Direction| {
            let mut order = Vec::new();
            let mut seen = BTreeSet::from([start]);
            let mut queue = VecDeque::from([start]);
            while let Some(current) = queue.pop_front() {
                for n in self.neighbours(current, direction, &[RefType::Refine]) {
                    if seen.insert(n.other) {
                        order.push(n.other);
                        queue.push_back(n.other);
                    }
                }
            }
            order
        };
        let mut ancestors = follow(id, Direction::Out);
        ancestors.reverse();
        let mut lineage = ancestors;
        lineage.push(id);
        lineage.extend(follow(id, Direction::In));
        lineage
    }

    /// Tensions that are not settled (`open`, `addressed`, `reopened`), in id order.
    pub fn open_tensions(&self) -> Vec<&NodeItem> {
        self.nodes
            .values()
            .filter(|n| n.kind == EntityKind::Tension && tension_is_open(n.status))
            .collect()
    }

    /// Entities of `kind` (or all) whose status is in `statuses` (or any).
    pub fn entities(&self, kind: Option<EntityKind>, statuses: &[Status]) -> Vec<&NodeItem> {
        self.nodes
            .values()
            .filter(|n| kind.is_none_or(|k| n.kind == k))
            .filter(|n| statuses.is_empty() || statuses.contains(&n.status))
            .collect()
    }

    /// What acted on a tension: entities that address, resolve or reopen it, and the `via` of
    /// its status changes.
    pub fn addressed_by(&self, tension: EntityId) -> Vec<String> {
        let incoming = self.neighbours(tension, Direction::In, &ADDRESSING);
        match self.nodes.get(&tension) {
            Some(node) => addressed_by(node, &incoming),
            None => incoming.iter().map(|n| n.other.to_string()).collect(),
        }
    }

    /// A verdict with what it resolved and adopted, derived from the graph: tensions and
    /// recommendations whose status changed via the verdict.
    pub fn verdict_context(&self, verdict: &str) -> Option<VerdictContext> {
        let item = self.verdicts.get(verdict)?;
        let via_this = |kind: EntityKind, to: Status| -> Vec<EntityId> {
            self.nodes
                .values()
                .filter(|n| n.kind == kind)
                .filter(|n| {
                    n.history
                        .iter()
                        .any(|c| c.to == to && c.via.as_deref() == Some(verdict))
                })
                .map(|n| n.id)
                .collect()
        };
        Some(VerdictContext {
            verdict: item.clone(),
            resolved: via_this(EntityKind::Tension, Status::Resolved),
            adopted: via_this(EntityKind::Recommendation, Status::Adopted),
        })
    }

    /// The verdict a recommendation was adopted in, if any (`adopted_in_verdict`).
    pub fn adopted_in_verdict(&self, recommendation: EntityId) -> Option<&str> {
        let node = self.nodes.get(&recommendation)?;
        node.history
            .iter()
            .rev()
            .find(|c| c.to == Status::Adopted)
            .and_then(|c| c.via.as_deref())
            .filter(|via| self.verdicts.contains_key(*via))
    }

    /// What one expert contributed: entities credited to them and their moves.
    pub fn contributions(&self, expert: &ExpertSlug) -> Contributions {
        Contributions {
            expert: expert.clone(),
            entities: self
                .contributions
                .keys()
                .filter(|(e, _)| e == expert)
                .map(|(_, id)| *id)
                .collect(),
            moves: self
                .moves
                .values()
                .filter(|m| &m.expert == expert)
                .cloned()
                .collect(),
        }
    }

    /// Counts for a summary table.
    pub fn summary(&self) -> Summary {
        let mut by_kind: BTreeMap<EntityKind, BTreeMap<Status, usize>> = BTreeMap::new();
        for node in self.nodes.values() {
            *by_kind
                .entry(node.kind)
                .or_default()
                .entry(node.status)
                .or_default() += 1;
        }
        Summary {
            dialogue: self.dialogue.clone(),
            status: self.meta.as_ref().map(|m| m.status.as_str().to_owned()),
            rounds: self.total_rounds(),
            total_alignment: self.total_alignment(),
            experts: self.experts.len(),
            entities: by_kind
                .into_iter()
                .map(|(kind, statuses)| {
                    (
                        kind.plural().to_owned(),
                        statuses
                            .into_iter()
                            .map(|(s, n)| (s.as_str().to_owned(), n))
                            .collect(),
                    )
                })
                .collect(),
            open_tensions: self.open_tensions().len(),
            references: self.edges.len(),
            verdicts: self.verdicts.len(),
            commits: self.checkpoint.commit,
        }
    }
}

/// A verdict with what it resolved and adopted.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerdictContext {
    pub verdict: VerdictItem,
    pub resolved: Vec<EntityId>,
    pub adopted: Vec<EntityId>,
}

/// An expert's contributions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Contributions {
    pub expert: ExpertSlug,
    pub entities: Vec<EntityId>,
    pub moves: Vec<MoveItem>,
}

/// Counts describing a dialogue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub dialogue: DialogueId,
    pub status: Option<String>,
    pub rounds: usize,
    pub total_alignment: f64,
    pub experts: usize,
    /// Per kind (plural name), the count of entities per status.
    pub entities: BTreeMap<String, BTreeMap<String, usize>>,
    pub open_tensions: usize,
    pub references: usize,
    pub verdicts: usize,
    pub commits: u64,
}

/// A point in history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AsOf {
    /// After commit n.
    Commit(u64),
    /// After every commit whose recorded time is at or before this RFC 3339 UTC time.
    Time(String),
}

/// The dialogue's graph as it stood at `as_of`, folded from its stored commits in order.
pub fn graph_as_of<'a>(
    dialogue: DialogueId,
    commits: impl IntoIterator<Item = &'a [u8]>,
    as_of: &AsOf,
) -> Result<Graph, ApplyError> {
    let mut graph = Graph::new(dialogue);
    for bytes in commits {
        let commit = Commit::decode(bytes)?;
        let include = match as_of {
            AsOf::Commit(n) => commit.header.commit <= *n,
            AsOf::Time(t) => time_key(&commit.header.time) <= time_key(t),
        };
        if !include {
            break;
        }
        if let ApplyOutcome::Gap { from, .. } = graph.apply(bytes)? {
            return Err(ApplyError::Inconsistent {
                commit: from,
                seq: 0,
                reason: format!("commit {from} is missing"),
            });
        }
    }
    Ok(graph)
}

/// An RFC 3339 UTC time as a sortable key: the seconds part, then the fraction's digits padded.
fn time_key(time: &str) -> (&str, String) {
    let seconds = time.get(..19).unwrap_or(time);
    let fraction = time
        .get(19..)
        .unwrap_or("")
        .trim_start_matches('.')
        .trim_end_matches('Z');
    (seconds, format!("{fraction:0<9}"))
}
