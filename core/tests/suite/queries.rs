//! Graph queries over a small dialogue: neighbours, k-hop, lineage, open tensions, what
//! addressed a tension, contributions, summary, and the state as of a commit or time.

use dlg_core::ids::{EntityId, ExpertSlug};
use dlg_core::model::RefType;
use dlg_core::query::{AsOf, Direction, edge_key_prefix, graph_as_of, neighbours_from_items};
use dlg_core::testing::MemoryLedger;
use serde_json::json;

use crate::common::*;

fn id(text: &str) -> EntityId {
    EntityId::parse(text).unwrap()
}

/// Round 0, then round 1 where P0101 refines P0001 and addresses T0001, P0102 refines P0101,
/// and T0001 is resolved via P0101.
fn given_two_rounds() -> MemoryLedger {
    let mut ledger = given_round_zero();
    accepted(
        &mut ledger,
        round_one(json!({
            "perspectives": [
                {"id": "MUFFIN-P0101", "label": "refined schema", "references": [
                    {"type": "refine", "target": "P0001"}, {"type": "address", "target": "T0001"}]},
                {"id": "SCONE-P0101", "label": "refined again", "references": [
                    {"type": "refine", "target": "MUFFIN-P0101"}, {"type": "support", "target": "E0001"}]}
            ],
            "moves": [{"expert": "muffin", "move": "defend", "targets": ["P0001"]}],
            "status_updates": [{"id": "T0001", "status": "resolved", "by": "muffin", "via": "MUFFIN-P0101"}]
        })),
    );
    ledger
}

#[test]
fn neighbours_by_direction_and_type() {
    let ledger = given_two_rounds();
    let graph = &ledger.graph;
    let out: Vec<_> = graph
        .neighbours(id("P0101"), Direction::Out, &[])
        .iter()
        .map(|n| n.other)
        .collect();
    // Out-edges come in reference-type order (address before refine), then by target.
    assert_eq!(out, [id("T0001"), id("P0001")]);
    let incoming: Vec<_> = graph
        .neighbours(id("P0101"), Direction::In, &[])
        .iter()
        .map(|n| n.other)
        .collect();
    assert_eq!(incoming, [id("P0102")]);
    let only_refine: Vec<_> = graph
        .neighbours(id("P0101"), Direction::Both, &[RefType::Refine])
        .iter()
        .map(|n| (n.direction, n.other))
        .collect();
    assert_eq!(
        only_refine,
        [(Direction::Out, id("P0001")), (Direction::In, id("P0102"))]
    );
}

/// A store answers "neighbours of X" by reading the items under one sort-key prefix; that
/// read must give exactly what the in-memory graph gives, for every entity and direction.
#[test]
fn neighbours_from_one_prefix_read_equal_the_graph() {
    let ledger = given_two_rounds();
    let graph = &ledger.graph;
    let items = graph.items();
    for node in graph.nodes.values() {
        for direction in [Direction::Out, Direction::In, Direction::Both] {
            for refs in [&[][..], &[RefType::Refine][..]] {
                let prefix = edge_key_prefix(node.id, direction);
                let read = items
                    .iter()
                    .filter(|i| i.sort_key().starts_with(&prefix))
                    .cloned();
                assert_eq!(
                    neighbours_from_items(node.id, read, refs),
                    graph.neighbours(node.id, direction, refs),
                    "{} {direction:?} {refs:?}",
                    node.id
                );
            }
        }
    }
}

#[test]
fn k_hop_subgraphs() {
    let graph = given_two_rounds().graph;
    let one = graph.k_hop(id("P0102"), 1, Direction::Out, &[]);
    let nodes: Vec<_> = one.nodes.iter().map(|n| n.id).collect();
    assert_eq!(nodes, [id("P0101"), id("P0102"), id("E0001")]);
    let two = graph.k_hop(id("P0102"), 2, Direction::Out, &[]);
    assert_eq!(two.nodes.len(), 5);
    assert_eq!(two.edges.len(), 4);
    assert_eq!(
        graph
            .k_hop(id("P0102"), 0, Direction::Both, &[])
            .nodes
            .len(),
        1
    );
}

#[test]
fn refinement_lineage_runs_oldest_to_newest() {
    let graph = given_two_rounds().graph;
    assert_eq!(
        graph.lineage(id("P0101")),
        [id("P0001"), id("P0101"), id("P0102")]
    );
    assert_eq!(
        graph.lineage(id("P0001")),
        [id("P0001"), id("P0101"), id("P0102")]
    );
}

#[test]
fn open_tensions_and_what_addressed_them() {
    let graph = given_two_rounds().graph;
    let open: Vec<_> = graph.open_tensions().iter().map(|n| n.id).collect();
    assert_eq!(open, [id("T0002")]);
    assert_eq!(graph.addressed_by(id("T0001")), ["P0101"]);
}

#[test]
fn contributions_and_summary() {
    let graph = given_two_rounds().graph;
    let muffin = graph.contributions(&ExpertSlug::parse("muffin").unwrap());
    assert_eq!(
        muffin.entities,
        [id("P0001"), id("P0101"), id("R0001"), id("T0001")]
    );
    assert_eq!(muffin.moves.len(), 1);
    let summary = graph.summary();
    assert_eq!(
        (
            summary.rounds,
            summary.experts,
            summary.open_tensions,
            summary.references
        ),
        (2, 3, 1, 4)
    );
    assert_eq!(summary.entities["tensions"]["resolved"], 1);
}

#[test]
fn state_as_of_a_commit_or_a_time() {
    let ledger = given_two_rounds();
    let dialogue = ledger.graph.dialogue.clone();
    let at_two = graph_as_of(dialogue.clone(), ledger.bytes(), &AsOf::Commit(2)).unwrap();
    assert_eq!(at_two.checkpoint.commit, 2);
    assert_eq!(at_two.open_tensions().len(), 2);
    assert!(!at_two.nodes.contains_key(&id("P0101")));
    let time = ledger.commits[1].commit.header.time.clone();
    let by_time = graph_as_of(dialogue, ledger.bytes(), &AsOf::Time(time)).unwrap();
    assert_eq!(by_time, at_two);
}
