//! The read service: the queries that more than one front end answers (the CLI, `dlg mcp`),
//! computed once into typed views that each front end renders — as a table, JSON, Mermaid or an
//! MCP result — so that no front end parses reference types or directions, resolves entities or
//! labels tensions on its own: the dialogue list, tensions, subgraphs (neighbours, k hops, the
//! whole graph) and the export. A round's context is [`crate::context`]'s.

use serde::Serialize;
use serde_json::Value;

use dlg_core::graph::{EdgeItem, Graph, NodeItem, SealedCopy};
use dlg_core::ids::{DialogueId, EntityId, EntityKind, ExpertSlug};
use dlg_core::model::{RefType, Status, tension_is_open};
use dlg_core::query::{Direction, Subgraph};

use crate::keys::KeyRing;
use crate::ledger::LedgerError;
use crate::render;

/// A tension as readers see it: structure, its opened label, and what addressed it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TensionView {
    pub dialogue: DialogueId,
    pub id: EntityId,
    pub status: Status,
    pub round: u8,
    pub label: String,
    pub addressed_by: Vec<String>,
}

impl TensionView {
    /// The view of `node` in `dialogue`, labelled with `ring`.
    pub fn new(
        dialogue: &DialogueId,
        node: &NodeItem,
        ring: &KeyRing,
        addressed_by: Vec<String>,
    ) -> Self {
        Self {
            dialogue: dialogue.clone(),
            id: node.id,
            status: node.status,
            round: node.round,
            label: render::label(ring, node),
            addressed_by,
        }
    }
}

/// Which tensions of one dialogue to show.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TensionFilter {
    /// Only these statuses (empty: see `all`).
    pub statuses: Vec<Status>,
    /// With no statuses: every tension, not only the open (and reopened) ones.
    pub all: bool,
}

impl TensionFilter {
    /// Parses tension statuses as people and tools write them.
    pub fn parse(statuses: &[String], all: bool) -> Result<Self, LedgerError> {
        let mut wanted = Vec::new();
        for status in statuses {
            match Status::parse(status) {
                Some(s) if dlg_core::model::lifecycle(EntityKind::Tension).has(s) => wanted.push(s),
                _ => {
                    return Err(LedgerError::Usage(format!(
                        "`{status}` is not a tension status: use open, addressed, resolved or reopened"
                    )));
                }
            }
        }
        Ok(Self {
            statuses: wanted,
            all,
        })
    }

    /// Whether the filter is the default (open tensions only).
    pub fn only_open(&self) -> bool {
        self.statuses.is_empty() && !self.all
    }
}

/// The tensions of one dialogue's graph that pass `filter`, by id.
pub fn tensions(
    dialogue: &DialogueId,
    graph: &Graph,
    ring: &KeyRing,
    filter: &TensionFilter,
) -> Vec<TensionView> {
    graph
        .entities(Some(EntityKind::Tension), &filter.statuses)
        .into_iter()
        .filter(|node| !filter.only_open() || tension_is_open(node.status))
        .map(|node| TensionView::new(dialogue, node, ring, graph.addressed_by(node.id)))
        .collect()
}

/// Reference types as written (`resolve`, `refine`, ...); an unknown one is a usage error that
/// lists the valid ones.
pub fn parse_ref_types(texts: &[String]) -> Result<Vec<RefType>, LedgerError> {
    texts
        .iter()
        .map(|text| {
            RefType::parse(text).ok_or_else(|| {
                LedgerError::Usage(format!(
                    "`{text}` is not a reference type: use one of {}",
                    RefType::names().join(", ")
                ))
            })
        })
        .collect()
}

/// A direction as written: `out`, `in` or `both`.
pub fn parse_direction(text: &str) -> Result<Direction, LedgerError> {
    match text {
        "out" => Ok(Direction::Out),
        "in" => Ok(Direction::In),
        "both" => Ok(Direction::Both),
        other => Err(LedgerError::Usage(format!(
            "direction `{other}`: use out, in or both"
        ))),
    }
}

/// An entity of the dialogue's graph, from its global id as written.
pub fn entity(dialogue: &DialogueId, graph: &Graph, text: &str) -> Result<EntityId, LedgerError> {
    EntityId::parse(text)
        .ok()
        .filter(|id| graph.nodes.contains_key(id))
        .ok_or_else(|| LedgerError::UnknownEntity {
            dialogue: dialogue.clone(),
            entity: text.to_owned(),
        })
}

/// What part of the graph to show: around one entity (k hops), or all of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubgraphRequest {
    /// The entity to start from (a global id as written); `None` for the whole graph.
    pub entity: Option<String>,
    pub depth: usize,
    pub direction: Direction,
    /// Only edges of these types (empty: every type).
    pub ref_types: Vec<RefType>,
}

/// A node as readers see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NodeView {
    pub id: EntityId,
    pub kind: EntityKind,
    pub status: Status,
    pub round: u8,
    pub label: String,
    pub contributors: Vec<ExpertSlug>,
}

/// An edge as readers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EdgeView {
    pub source: EntityId,
    pub ref_type: RefType,
    pub target: EntityId,
    pub round: u8,
}

impl From<&EdgeItem> for EdgeView {
    fn from(edge: &EdgeItem) -> Self {
        Self {
            source: edge.source,
            ref_type: edge.ref_type,
            target: edge.target,
            round: edge.round,
        }
    }
}

/// A subgraph with labelled nodes, and the commit the graph is at.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubgraphView {
    pub dialogue: DialogueId,
    pub commit: u64,
    /// The entity the walk started from, when there was one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity: Option<EntityId>,
    pub nodes: Vec<NodeView>,
    pub edges: Vec<EdgeView>,
    /// The subgraph itself, for the renderers (text, Mermaid, DOT).
    #[serde(skip)]
    pub subgraph: Subgraph,
}

/// The part of `graph` that `request` asks for, labelled with `ring`.
pub fn subgraph(
    dialogue: &DialogueId,
    graph: &Graph,
    ring: &KeyRing,
    request: &SubgraphRequest,
) -> Result<SubgraphView, LedgerError> {
    let (entity, subgraph) = match &request.entity {
        Some(text) => {
            let id = entity(dialogue, graph, text)?;
            let walked = graph.k_hop(id, request.depth, request.direction, &request.ref_types);
            (Some(id), walked)
        }
        None => (
            None,
            Subgraph {
                nodes: graph.nodes.values().cloned().collect(),
                edges: graph
                    .edges
                    .values()
                    .filter(|e| {
                        request.ref_types.is_empty() || request.ref_types.contains(&e.ref_type)
                    })
                    .cloned()
                    .collect(),
            },
        ),
    };
    Ok(SubgraphView {
        dialogue: dialogue.clone(),
        commit: graph.checkpoint.commit,
        entity,
        nodes: subgraph
            .nodes
            .iter()
            .map(|n| NodeView {
                id: n.id,
                kind: n.kind,
                status: n.status,
                round: n.round,
                label: render::label(ring, n),
                contributors: n.contributors.clone(),
            })
            .collect(),
        edges: subgraph.edges.iter().map(EdgeView::from).collect(),
        subgraph,
    })
}

/// One dialogue in the list of them: where it stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DialogueRow {
    pub dialogue: DialogueId,
    /// The dialogue's status (empty before it was created: a dialogue with no meta item).
    pub status: String,
    pub rounds: usize,
    pub open_tensions: usize,
    pub commits: u64,
    pub title: String,
}

/// The row of `dialogue` in the list of dialogues.
pub fn dialogue_row(dialogue: &DialogueId, graph: &Graph, ring: &KeyRing) -> DialogueRow {
    let meta = graph.meta.as_ref();
    DialogueRow {
        dialogue: dialogue.clone(),
        status: meta.map(|m| m.status.to_string()).unwrap_or_default(),
        rounds: graph.total_rounds(),
        open_tensions: graph.open_tensions().len(),
        commits: graph.checkpoint.commit,
        title: render::text(ring, meta.and_then(|m| m.content.as_ref()), "title"),
    }
}

/// The dialogue as docs/dialogue.md's `dialogue.json`, its content opened with `ring`.
pub fn export(graph: &Graph, ring: &KeyRing) -> Value {
    let opener = |copy: &SealedCopy| ring.open(copy).ok();
    dlg_core::export::dialogue_json(graph, &opener)
}

/// One entity with its content, references both ways, lineage, moves, verdicts and status
/// history, opened with `ring`.
pub fn entity_view(
    dialogue: &DialogueId,
    graph: &Graph,
    ring: &KeyRing,
    text: &str,
) -> Result<Value, LedgerError> {
    let id = entity(dialogue, graph, text)?;
    let opener = |copy: &SealedCopy| ring.open(copy).ok();
    let mut view = dlg_core::export::entity_json(graph, id, &opener).ok_or_else(|| {
        LedgerError::UnknownEntity {
            dialogue: dialogue.clone(),
            entity: text.to_owned(),
        }
    })?;
    view["dialogue"] = serde_json::json!(dialogue);
    view["commit"] = serde_json::json!(graph.checkpoint.commit);
    Ok(view)
}
