//! A graph and its stored items, both ways: every item of a graph in sort-key order (what a
//! rebuild writes), and a graph assembled from the items a store returns.

use super::{Graph, GraphItem};
use crate::ids::DialogueId;

// For the intra-doc link only.
#[cfg(doc)]
use super::diff_items;

impl Graph {
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
}
