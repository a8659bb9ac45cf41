//! Properties of the projection fold over random valid command sequences: folding all commits
//! at once equals applying them one by one (and upserting each step's changed items); applying
//! an already-applied commit changes nothing; any delivery order with duplicates, healed by
//! reading gaps from the log, converges to the rebuild.

use std::collections::BTreeMap;

use dlg_core::graph::{ApplyOutcome, Graph, GraphItem};
use dlg_core::testing::MemoryLedger;
use dlg_core::testing::random::{self, Step};
use proptest::prelude::*;

fn step() -> impl Strategy<Value = Step> {
    any::<u64>().prop_map(Step::from_pick)
}

fn ledger_from(steps: &[Step]) -> MemoryLedger {
    random::dialogue("pm-repo-sync", steps)
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
