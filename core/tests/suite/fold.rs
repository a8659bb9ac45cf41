//! Properties of the projection fold over random valid command sequences: the fold of all
//! commits holds what the commands asked for and the writer acknowledged (an oracle computed
//! from the commands and receipts, not from the fold); folding all commits at once equals
//! applying them one by one (and upserting each step's changed items); applying an
//! already-applied commit changes nothing; any delivery order with duplicates, healed by reading
//! gaps from the log, converges to the rebuild.

use std::collections::{BTreeMap, BTreeSet};

use dlg_core::command::Command;
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

/// What the fold must hold, computed from the commands and their receipts alone: the entities
/// the rounds registered (by the ids the receipts answered), the last status each update or
/// verdict asked for, the number of commits and events, and the head hash.
struct Expected {
    nodes: BTreeSet<String>,
    statuses: BTreeMap<String, String>,
    commits: u64,
    events: u64,
    head: String,
}

fn expected(ledger: &MemoryLedger) -> Expected {
    let mut nodes = BTreeSet::new();
    let mut statuses = BTreeMap::new();
    for (command, receipt) in &ledger.history {
        match command {
            Command::RegisterRound(_) => nodes.extend(receipt.id_mapping.values().cloned()),
            Command::UpdateStatuses(update) => {
                for change in &update.updates {
                    statuses.insert(change.id.clone(), change.status.clone());
                }
            }
            Command::RegisterVerdict(verdict) => {
                for adopted in &verdict.adopts {
                    statuses.insert(adopted.clone(), "adopted".to_owned());
                }
            }
            _ => {}
        }
    }
    let (first, last) = (
        &ledger.commits[0],
        ledger.commits.last().unwrap_or(&ledger.commits[0]),
    );
    let later: u64 = ledger.history.iter().map(|(_, r)| r.events as u64).sum();
    // The creation's events are not in the history: it is not a `Command`.
    Expected {
        nodes,
        statuses,
        commits: ledger.commits.len() as u64,
        events: later + first.commit.events.len() as u64,
        head: dlg_core::chain::to_hex(&last.hash),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, .. ProptestConfig::default() })]

    #[test]
    fn all_at_once_equals_one_by_one(steps in prop::collection::vec(step(), 1..12)) {
        let ledger = ledger_from(&steps);
        let rebuilt = Graph::rebuild(ledger.graph.dialogue.clone(), ledger.bytes()).unwrap();
        let want = expected(&ledger);
        let nodes: BTreeSet<String> = rebuilt.nodes.keys().map(|id| id.to_string()).collect();
        prop_assert_eq!(&nodes, &want.nodes);
        for (id, status) in &want.statuses {
            let node = rebuilt.nodes.values().find(|n| n.id.to_string() == *id);
            prop_assert_eq!(node.map(|n| n.status.as_str()), Some(status.as_str()), "status of {}", id);
        }
        prop_assert_eq!(rebuilt.checkpoint.commit, want.commits);
        prop_assert_eq!(rebuilt.checkpoint.next_seq - 1, want.events);
        prop_assert_eq!(dlg_core::chain::to_hex(&rebuilt.head_hash()), want.head);

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
