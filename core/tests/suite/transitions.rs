//! Every status transition of every kind, allowed and refused: given an entity driven into each
//! reachable status, when each status of its kind (and one of another kind) is requested, then
//! the lifecycle table decides acceptance.

use std::collections::{BTreeMap, VecDeque};

use dlg_core::error::ErrorCode;
use dlg_core::ids::{EntityId, EntityKind};
use dlg_core::model::{DialogueStatus, Status, lifecycle};
use serde_json::json;

use crate::common::*;

/// The entity of each kind registered in round 0 by `round_zero`.
fn subject(kind: EntityKind) -> &'static str {
    match kind {
        EntityKind::Perspective => "P0001",
        EntityKind::Recommendation => "R0001",
        EntityKind::Tension => "T0001",
        EntityKind::Evidence => "E0001",
        EntityKind::Claim => "C0001",
    }
}

/// A shortest path of allowed transitions from the initial status to every reachable status.
fn paths(kind: EntityKind) -> BTreeMap<Status, Vec<Status>> {
    let life = lifecycle(kind);
    let mut paths = BTreeMap::from([(life.initial(), Vec::new())]);
    let mut queue = VecDeque::from([life.initial()]);
    while let Some(from) = queue.pop_front() {
        for to in life.next(from) {
            if !paths.contains_key(&to) {
                let mut path = paths[&from].clone();
                path.push(to);
                paths.insert(to, path);
                queue.push_back(to);
            }
        }
    }
    paths
}

fn update(id: &str, status: &str) -> serde_json::Value {
    json!({"command": "update_statuses", "updates": [{"id": id, "status": status, "by": "judge"}]})
}

#[test]
fn every_allowed_and_every_refused_transition() {
    let mut checked = 0;
    for kind in EntityKind::ALL {
        let life = lifecycle(kind);
        let reachable = paths(kind);
        assert_eq!(
            reachable.len(),
            life.statuses.len(),
            "{kind}: every status is reachable"
        );
        let foreign = if kind == EntityKind::Tension {
            Status::Refined
        } else {
            Status::Reopened
        };
        for (from, path) in &reachable {
            for to in life.statuses.iter().chain([&foreign]) {
                // Given an entity in `from`.
                let mut ledger = given_round_zero();
                for step in path {
                    accepted(&mut ledger, update(subject(kind), step.as_str()));
                }
                let id = EntityId::parse(subject(kind)).unwrap();
                assert_eq!(ledger.graph.nodes[&id].status, *from);
                // When `to` is requested.
                let request = update(subject(kind), to.as_str());
                if life.allows(*from, *to) {
                    accepted(&mut ledger, request);
                    assert_eq!(ledger.graph.nodes[&id].status, *to);
                    assert_eq!(ledger.graph.nodes[&id].history.last().unwrap().from, *from);
                } else {
                    let rejection = rejected(&mut ledger, request);
                    assert_codes(&rejection, &[ErrorCode::InvalidStatusTransition]);
                    let expected: Vec<String> =
                        life.next(*from).iter().map(|s| s.to_string()).collect();
                    assert_eq!(
                        rejection.errors[0].valid_options, expected,
                        "{kind} {from} -> {to}"
                    );
                }
                checked += 1;
            }
        }
    }
    // 4×5 + 4×5 + 4×5 + 4×5 + 5×6 pairs.
    assert_eq!(checked, 110);
}

#[test]
fn the_tension_lifecycle_reads_as_documented() {
    let life = lifecycle(EntityKind::Tension);
    use Status::*;
    assert!(life.allows(Open, Addressed) && life.allows(Addressed, Resolved));
    assert!(
        life.allows(Resolved, Reopened)
            && life.allows(Reopened, Addressed)
            && life.allows(Reopened, Resolved)
    );
    assert!(
        !life.allows(Resolved, Open)
            && !life.allows(Addressed, Open)
            && !life.allows(Open, Reopened)
    );
}

#[test]
fn several_updates_of_one_entity_in_one_request_chain_in_order() {
    let mut ledger = given_round_zero();
    accepted(
        &mut ledger,
        json!({"command": "update_statuses", "updates": [
            {"id": "T0001", "status": "addressed", "by": "muffin"},
            {"id": "T0001", "status": "resolved", "by": "cupcake"},
            {"id": "T0001", "status": "reopened", "by": "scone", "reason": "new evidence"}
        ]}),
    );
    let history: Vec<_> = ledger.graph.nodes[&EntityId::parse("T0001").unwrap()]
        .history
        .iter()
        .map(|c| (c.from, c.to))
        .collect();
    use Status::*;
    assert_eq!(
        history,
        [
            (Open, Addressed),
            (Addressed, Resolved),
            (Resolved, Reopened)
        ]
    );
}

#[test]
fn every_dialogue_transition() {
    for from in DialogueStatus::ALL {
        for to in DialogueStatus::ALL {
            let mut ledger = given_panel();
            let path: &[&str] = match from {
                DialogueStatus::Open => &[],
                DialogueStatus::Converging => &["converging"],
                DialogueStatus::Converged => &["converged"],
                DialogueStatus::Abandoned => &["abandoned"],
            };
            for step in path {
                accepted(
                    &mut ledger,
                    json!({"command": "change_dialogue_status", "status": step}),
                );
            }
            let request = json!({"command": "change_dialogue_status", "status": to.as_str()});
            if from.allows(*to) {
                accepted(&mut ledger, request);
                assert_eq!(ledger.graph.meta.as_ref().unwrap().status, *to);
            } else {
                let rejection = rejected(&mut ledger, request);
                assert_codes(&rejection, &[ErrorCode::InvalidStatusTransition]);
            }
        }
    }
}
