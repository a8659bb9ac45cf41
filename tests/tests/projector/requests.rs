//! Graph reads on DynamoDB, counted request by request (an SDK interceptor sees every request
//! the client sends): the whole graph of a 1,000-entity dialogue takes as many Queries as it has
//! megabytes (DynamoDB returns at most 1 MB a page), the neighbours of one entity take one.

use dlg_core::command::Command;
use dlg_core::ids::{EntityId, ExpertSlug};
use dlg_core::query::Direction;
use dlg_core::seal::{MasterKey, SecretKey};
use dlg_core::testing::random::given_panel;
use dlg_projector::projection::Projector;
use dlg_store::dynamodb::DynamoStore;
use dlg_store::{CommitRow, EventStore, GraphStore};
use dlg_tests::{RequestLog, graph_partition, item_size};
use dlg_writer::keys::OsEntropy;
use dlg_writer::ledger::{Ledger, Projection};
use serde_json::json;

/// A dialogue with 1,000 entities: twenty rounds of 50 perspectives (ids allow 99 of a kind
/// per round) with long content; in each round 49 perspectives support the first.
fn thousand_entities() -> dlg_core::testing::MemoryLedger {
    let mut ledger = given_panel("thousand-entities", 11);
    for round in 0..20u8 {
        let perspectives: Vec<_> = (0..50u8)
            .map(|i| {
                let expert = if i < 25 { "MUFFIN" } else { "CUPCAKE" };
                json!({"id": format!("{expert}-P{round:02}{:02}", i % 25 + 1),
                       "label": format!("perspective {i} of round {round}"),
                       "content": "the argument, at length. ".repeat(40)})
            })
            .collect();
        let references: Vec<_> = (1..50u8)
            .map(|i| {
                let expert = if i < 25 { "MUFFIN" } else { "CUPCAKE" };
                json!({"source": format!("{expert}-P{round:02}{:02}", i % 25 + 1), "type": "support",
                       "target": format!("MUFFIN-P{round:02}01")})
            })
            .collect();
        let command: Command = serde_json::from_value(json!({
            "command": "register_round", "round": round, "title": format!("Round {round}"),
            "score": 1.0, "summary": "synthesis",
            "experts": [{"expert": "muffin", "score": 1.0, "response": "raw"}],
            "perspectives": perspectives, "references": references,
        }))
        .unwrap();
        ledger.run(&command).unwrap();
    }
    ledger
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graph_reads_take_one_query_per_megabyte_and_neighbours_one() {
    let endpoint = dlg_tests::shared_dynamodb().to_owned();
    let log = RequestLog::default();
    let tables = dlg_tests::fresh_tables_with(&endpoint, "requests", Some(&log)).await;
    let store: &DynamoStore = &tables;

    // Given: a 1,000-entity dialogue in the events table, projected into the graph table.
    let memory = thousand_entities();
    let dialogue = memory.graph.dialogue.clone();
    assert_eq!(memory.graph.nodes.len(), 1000);
    for commit in &memory.commits {
        let row = CommitRow::of(commit);
        store.append(&dialogue, &row, None).await.unwrap();
    }
    Projector::new(store).catch_up(&dialogue).await.unwrap();
    let ledger = Ledger::new(
        store.clone(),
        Box::new(MasterKey::new(SecretKey::generate(&mut OsEntropy))),
        "test key",
    )
    .with_signer(dlg_tests::signer())
    .with_projection(Projection::Stream);

    // The graph table's partition, measured the way DynamoDB pages it.
    let items = graph_partition(store, &dialogue.to_string()).await;
    let bytes: usize = items.iter().map(item_size).sum();
    let megabytes = bytes as f64 / (1024.0 * 1024.0);
    assert!(
        (megabytes - megabytes.round()).abs() > 0.05,
        "the dialogue's size ({megabytes:.2} MB) must not sit on a page boundary for this test to decide"
    );

    // When: the whole graph is loaded. Then: ceil(bytes / 1 MB) Queries of the graph table, one
    // of the events table (where the graph stands against the head), and nothing else.
    log.take();
    let graph = ledger.graph(&dialogue).await.unwrap();
    assert_eq!(graph.nodes.len(), 1000);
    let requests = log.take();
    let expected = bytes.div_ceil(1024 * 1024) + 1;
    eprintln!(
        "whole graph: {} items, {bytes} bytes ({megabytes:.2} MB), {} requests",
        items.len(),
        requests.len()
    );
    assert_eq!(
        requests,
        vec!["Query".to_owned(); expected],
        "loading {} items ({megabytes:.2} MB) should take {expected} Queries",
        items.len()
    );

    // When: the neighbours of one entity are asked for. Then: one Query.
    let hub = EntityId::parse("P0001").unwrap();
    let neighbours = ledger
        .neighbours(&dialogue, hub, Direction::Both, &[])
        .await
        .unwrap();
    assert_eq!(log.take(), ["Query"]);
    assert_eq!(neighbours, graph.neighbours(hub, Direction::Both, &[]));
    assert_eq!(neighbours.len(), 49, "49 perspectives support the hub");

    // And the cross-dialogue indexes answer with one Query each.
    let contributions = ledger
        .store()
        .contributions_of(&ExpertSlug::parse("cupcake").unwrap())
        .await
        .unwrap();
    assert_eq!(log.take(), ["Query"]);
    assert_eq!(
        contributions.iter().filter(|(d, _)| *d == dialogue).count(),
        500
    );
    ledger.store().open_tensions().await.unwrap();
    assert_eq!(log.take(), ["Query"]);
}
