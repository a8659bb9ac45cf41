//! Properties of the projection fold over random valid command sequences: folding all commits
//! at once equals applying them one by one (and upserting each step's changed items); applying
//! an already-applied commit changes nothing; any delivery order with duplicates, healed by
//! reading gaps from the log, converges to the rebuild.

use std::collections::BTreeMap;

use dlg_core::graph::{ApplyOutcome, Graph, GraphItem};
use dlg_core::ids::EntityKind;
use dlg_core::model::lifecycle;
use dlg_core::testing::MemoryLedger;
use proptest::prelude::*;
use serde_json::json;

use crate::common::*;

/// An abstract step; the interpreter turns it into a command valid for the current state.
#[derive(Debug, Clone)]
enum Step {
    Round {
        perspectives: u8,
        tensions: u8,
        recommendations: u8,
        reference_picks: Vec<u16>,
    },
    Status {
        entity_pick: u16,
        next_pick: u8,
    },
    AddExpert,
    Verdict {
        adopt_pick: u16,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => (0u8..4, 0u8..3, 0u8..2, prop::collection::vec(any::<u16>(), 0..4)).prop_map(
            |(perspectives, tensions, recommendations, reference_picks)| Step::Round {
                perspectives, tensions, recommendations, reference_picks
            }
        ),
        3 => (any::<u16>(), any::<u8>()).prop_map(|(entity_pick, next_pick)| Step::Status { entity_pick, next_pick }),
        1 => Just(Step::AddExpert),
        1 => any::<u16>().prop_map(|adopt_pick| Step::Verdict { adopt_pick }),
    ]
}

const EXPERTS: [&str; 3] = ["muffin", "cupcake", "scone"];

fn run(ledger: &mut MemoryLedger, step: &Step, counter: &mut usize) {
    *counter += 1;
    let graph = &ledger.graph;
    let request = match step {
        Step::Round {
            perspectives,
            tensions,
            recommendations,
            reference_picks,
        } => {
            let round = graph.latest_round().map_or(0, |r| r + 1);
            if round > 99 {
                return;
            }
            let entity = |kind: char, i: u8| {
                let expert = EXPERTS[usize::from(i) % EXPERTS.len()];
                json!({"id": format!("{}-{kind}{round:02}{:02}", expert.to_uppercase(), i + 1),
                       "label": format!("{kind} {i} of round {round}"), "content": "body"})
            };
            let existing: Vec<String> = graph.nodes.keys().map(|id| id.to_string()).collect();
            let tensions_existing: Vec<String> = graph
                .nodes
                .keys()
                .filter(|id| id.kind() == EntityKind::Tension)
                .map(|id| id.to_string())
                .collect();
            let mut references = Vec::new();
            if *perspectives > 0 {
                for (i, pick) in reference_picks.iter().enumerate() {
                    let source = format!("MUFFIN-P{round:02}01");
                    let (ref_type, pool) = if i % 2 == 0 {
                        ("support", &existing)
                    } else {
                        ("address", &tensions_existing)
                    };
                    if pool.is_empty() {
                        continue;
                    }
                    let target = &pool[usize::from(*pick) % pool.len()];
                    let triple = (source.clone(), ref_type, target.clone());
                    if !references.contains(&triple) {
                        references.push(triple);
                    }
                }
            }
            json!({
                "command": "register_round", "round": round, "title": format!("Round {round}"),
                "score": f64::from(*counter as u32) / 4.0, "summary": "synthesis",
                "experts": [{"expert": "muffin", "score": 1.5, "response": "raw"}],
                "perspectives": (0..*perspectives).map(|i| entity('P', i)).collect::<Vec<_>>(),
                "tensions": (0..*tensions).map(|i| entity('T', i)).collect::<Vec<_>>(),
                "recommendations": (0..*recommendations).map(|i| entity('R', i)).collect::<Vec<_>>(),
                "references": references.iter().map(|(s, r, t)| json!({"source": s, "type": r, "target": t})).collect::<Vec<_>>(),
                "moves": [{"expert": "cupcake", "move": "converge"}],
            })
        }
        Step::Status {
            entity_pick,
            next_pick,
        } => {
            if graph.nodes.is_empty() {
                return;
            }
            let node = graph
                .nodes
                .values()
                .nth(usize::from(*entity_pick) % graph.nodes.len())
                .unwrap();
            let next = lifecycle(node.kind).next(node.status);
            if next.is_empty() {
                return;
            }
            let to = next[usize::from(*next_pick) % next.len()];
            json!({"command": "update_statuses", "updates": [{"id": node.id.to_string(), "status": to.as_str(), "by": "scone", "reason": "moved"}]})
        }
        Step::AddExpert => {
            json!({"command": "add_expert", "slug": format!("guest-{counter}"), "role": "Guest",
                                  "creation_reason": "needed a view"})
        }
        Step::Verdict { adopt_pick } => {
            let adoptable: Vec<String> = graph
                .nodes
                .values()
                .filter(|n| {
                    n.kind == EntityKind::Recommendation
                        && lifecycle(n.kind).allows(n.status, dlg_core::model::Status::Adopted)
                })
                .map(|n| n.id.to_string())
                .collect();
            let adopts: Vec<&String> = adoptable
                .get(usize::from(*adopt_pick) % adoptable.len().max(1))
                .into_iter()
                .collect();
            json!({"command": "register_verdict", "verdict_id": format!("V{counter:02}"), "type": "interim",
                   "recommendation": "so far", "adopts": adopts})
        }
    };
    ledger
        .run(&command(request))
        .unwrap_or_else(|e| panic!("generated command must be valid: {e:#?}"));
}

fn ledger_from(steps: &[Step]) -> MemoryLedger {
    let mut ledger = given_panel();
    let mut counter = 0;
    for step in steps {
        run(&mut ledger, step, &mut counter);
    }
    ledger
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn all_at_once_equals_one_by_one(steps in prop::collection::vec(step(), 1..12)) {
        let ledger = ledger_from(&steps);
        let rebuilt = Graph::rebuild(ledger.graph.dialogue.clone(), ledger.bytes()).unwrap();
        prop_assert_eq!(&rebuilt, &ledger.graph);

        // A store that only upserts each step's changed items holds exactly the rebuild's items.
        let mut store: BTreeMap<String, GraphItem> = BTreeMap::new();
        let mut graph = Graph::new(ledger.graph.dialogue.clone());
        for bytes in ledger.bytes() {
            match graph.apply(bytes).unwrap() {
                ApplyOutcome::Applied(changed) => {
                    for item in changed {
                        store.insert(item.sort_key(), item);
                    }
                }
                other => prop_assert!(false, "in-order apply gave {:?}", other),
            }
        }
        let expected: BTreeMap<String, GraphItem> = rebuilt.items().into_iter().map(|i| (i.sort_key(), i)).collect();
        prop_assert_eq!(store, expected);
        // And the items, stored as JSON and read back, assemble into the same graph.
        let stored: Vec<GraphItem> = rebuilt
            .items()
            .iter()
            .map(|item| serde_json::from_str(&serde_json::to_string(item).unwrap()).unwrap())
            .collect();
        prop_assert_eq!(Graph::from_items(rebuilt.dialogue.clone(), stored), rebuilt);
    }

    #[test]
    fn reapplying_an_applied_commit_changes_nothing(
        steps in prop::collection::vec(step(), 1..10),
        pick in any::<usize>(),
    ) {
        let ledger = ledger_from(&steps);
        let mut graph = ledger.graph.clone();
        let bytes = ledger.bytes();
        let outcome = graph.apply(bytes[pick % bytes.len()]).unwrap();
        prop_assert_eq!(outcome, ApplyOutcome::AlreadyApplied);
        prop_assert_eq!(graph, ledger.graph);
    }

    #[test]
    fn any_delivery_order_with_duplicates_converges_to_the_rebuild(
        steps in prop::collection::vec(step(), 1..10),
        order in prop::collection::vec(any::<usize>(), 1..30),
    ) {
        let ledger = ledger_from(&steps);
        let log = ledger.bytes();
        let mut graph = Graph::new(ledger.graph.dialogue.clone());
        // Deliver commits in an arbitrary order with repeats, then every commit once more (the
        // stream eventually delivers each record); heal each gap by reading the log.
        let deliveries = order.iter().map(|i| i % log.len()).chain(0..log.len());
        for index in deliveries {
            if let ApplyOutcome::Gap { from, to } = graph.apply(log[index]).unwrap() {
                for missing in from..to {
                    let healed = graph.apply(log[(missing - 1) as usize]).unwrap();
                    prop_assert!(matches!(healed, ApplyOutcome::Applied(_)));
                }
                prop_assert!(matches!(graph.apply(log[index]).unwrap(), ApplyOutcome::Applied(_)));
            }
        }
        prop_assert_eq!(graph, ledger.graph);
    }
}
