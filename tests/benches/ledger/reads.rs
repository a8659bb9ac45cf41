//! Section 5: reads of the graph table against PostgreSQL (entities and refs, a recursive CTE).

use aws_sdk_dynamodb::types::AttributeValue;
use dlg_core::graph::Graph;
use dlg_core::query::Direction;
use dlg_core::seal::{MasterKey, SecretKey};
use dlg_store::EventStore;
use dlg_store::dynamodb::DynamoStore;
use dlg_tests::RequestLog;
use dlg_writer::keys::OsEntropy;
use dlg_writer::ledger::{Ledger, Projection};

use crate::appends::dynamo_store;
use crate::dialogues::*;
use crate::harness::*;

/// The hybrid alternative: entities + refs tables in PostgreSQL, holding the same dialogue.
pub(crate) fn postgres_load(client: &mut postgres::Client, graph: &Graph) {
    client
        .batch_execute(
            "DROP TABLE IF EXISTS entities, refs;
             CREATE TABLE entities (dialogue text NOT NULL, id text NOT NULL, kind text NOT NULL,
               round int NOT NULL, status text NOT NULL, content bytea, PRIMARY KEY (dialogue, id));
             CREATE TABLE refs (dialogue text NOT NULL, source text NOT NULL, type text NOT NULL,
               target text NOT NULL, PRIMARY KEY (dialogue, source, type, target));
             CREATE INDEX refs_by_target ON refs (dialogue, target, type, source);
             CREATE INDEX open_tensions ON entities (dialogue) WHERE kind = 'tension' AND status IN ('open', 'reopened');",
        )
        .unwrap();
    let dialogue = graph.dialogue.to_string();
    let mut tx = client.transaction().unwrap();
    let node = tx
        .prepare("INSERT INTO entities VALUES ($1, $2, $3, $4, $5, $6)")
        .unwrap();
    for item in graph.nodes.values() {
        let content = serde_json::to_vec(&item.content).unwrap();
        tx.execute(
            &node,
            &[
                &dialogue,
                &item.id.to_string(),
                &item.kind.to_string(),
                &i32::from(item.round),
                &item.status.to_string(),
                &content,
            ],
        )
        .unwrap();
    }
    let edge = tx
        .prepare("INSERT INTO refs VALUES ($1, $2, $3, $4)")
        .unwrap();
    for edge_item in graph.edges.values() {
        tx.execute(
            &edge,
            &[
                &dialogue,
                &edge_item.source.to_string(),
                &edge_item.ref_type.to_string(),
                &edge_item.target.to_string(),
            ],
        )
        .unwrap();
    }
    tx.commit().unwrap();
    client
        .batch_execute("ANALYZE entities; ANALYZE refs;")
        .unwrap();
}

pub(crate) const PG_WHOLE_ENTITIES: &str =
    "SELECT id, kind, round, status, content FROM entities WHERE dialogue = $1";
pub(crate) const PG_WHOLE_REFS: &str = "SELECT source, type, target FROM refs WHERE dialogue = $1";
pub(crate) const PG_NEIGHBOURS: &str =
    "SELECT source, type, target FROM refs WHERE dialogue = $1 AND source = $2
     UNION ALL SELECT source, type, target FROM refs WHERE dialogue = $1 AND target = $2";
pub(crate) const PG_THREE_HOPS: &str = "WITH RECURSIVE hop(id, depth) AS (
       SELECT $2::text, 0
       UNION
       SELECT CASE WHEN r.source = h.id THEN r.target ELSE r.source END, h.depth + 1
       FROM hop h JOIN refs r ON r.dialogue = $1 AND (r.source = h.id OR r.target = h.id)
       WHERE h.depth < 3)
     SELECT e.id, e.kind, e.status, e.content FROM entities e
     WHERE e.dialogue = $1 AND e.id IN (SELECT id FROM hop)";
pub(crate) const PG_OPEN_TENSIONS: &str = "SELECT id FROM entities WHERE dialogue = $1 AND kind = 'tension' AND status IN ('open', 'reopened')";

pub(crate) fn reads(mode: Mode, runtime: &tokio::runtime::Runtime) -> Section {
    let mut section =
        Section::new("5. Reads: the graph table vs PostgreSQL (entities + refs, recursive CTE)");
    let sizes: &[usize] = if mode.quick {
        &[100]
    } else {
        &[100, 1_000, 10_000]
    };
    let mut client =
        postgres::Client::connect(dlg_tests::shared_postgres(), postgres::NoTls).unwrap();
    // The floor of each: one round trip that reads nothing.
    let floor = runtime.block_on(async {
        let tables = dynamo_store("bench-floor", None).await;
        let store = DynamoStore::clone(&tables);
        time_async(5, mode.samples(50), |_| {
            let get = store
                .client()
                .get_item()
                .table_name(&store.config().graph_table)
                .key("pk", AttributeValue::S("D#none".to_owned()))
                .key("sk", AttributeValue::S("M".to_owned()));
            async move {
                get.send().await.unwrap();
            }
        })
        .await
    });
    let pg_floor = time(5, mode.samples(50), || {
        std::hint::black_box(client.query("SELECT 1", &[]).unwrap());
    });
    section.timed(
        "one round trip that reads nothing (the floor)",
        floor.median,
        pg_floor.median,
        "a GetItem of a missing key on DynamoDB Local vs `SELECT 1`: what each store costs before any work",
    );
    for &entities in sizes {
        let memory = sized_dialogue(&format!("bench-reads-{entities}"), entities);
        let graph = &memory.graph;
        let d = graph.dialogue.clone();
        assert_eq!(graph.nodes.len(), entities);
        // The middle perspective of the middle round: a 3-hop walk along its chain.
        let focus = *graph
            .nodes
            .values()
            .filter(|n| n.kind == dlg_core::ids::EntityKind::Perspective)
            .nth(entities / 3)
            .map(|n| &n.id)
            .unwrap();
        let samples = mode.samples(if entities >= 10_000 { 5 } else { 15 });
        let log = RequestLog::default();
        let (whole, neighbours, hops, open, requests, bytes, answers) = runtime.block_on(async {
            let tables = dynamo_store(&format!("bench-reads-{entities}"), Some(&log)).await;
            let store = DynamoStore::clone(&tables);
            for commit in &memory.commits {
                store.append(&d, &row_of(commit), None).await.unwrap();
            }
            dlg_projector::projection::Projector::new(&store)
                .catch_up(&d)
                .await
                .unwrap();
            let bytes: usize = dlg_tests::graph_partition(&store, &d.to_string())
                .await
                .iter()
                .map(dlg_tests::item_size)
                .sum();
            let ledger = Ledger::new(
                store,
                Box::new(MasterKey::new(SecretKey::generate(&mut OsEntropy))),
                "bench key",
            )
            .with_signer(dlg_tests::signer())
            .with_projection(Projection::Stream);
            log.take();
            let whole = time_async(1, samples, |_| {
                let ledger = &ledger;
                let d = &d;
                async move {
                    std::hint::black_box(ledger.graph(d).await.unwrap());
                }
            })
            .await;
            let requests = log.take().len() / (samples + 1);
            let neighbours = time_async(2, samples, |_| {
                let ledger = &ledger;
                let d = &d;
                async move {
                    std::hint::black_box(
                        ledger
                            .neighbours(d, focus, Direction::Both, &[])
                            .await
                            .unwrap(),
                    );
                }
            })
            .await;
            let hops = time_async(1, samples, |_| {
                let ledger = &ledger;
                let d = &d;
                async move {
                    let graph = ledger.graph(d).await.unwrap();
                    std::hint::black_box(graph.k_hop(focus, 3, Direction::Both, &[]));
                }
            })
            .await;
            let open = time_async(2, samples, |_| {
                let ledger = &ledger;
                async move {
                    std::hint::black_box(ledger.open_tensions_everywhere().await.unwrap());
                }
            })
            .await;
            let answers = (
                ledger
                    .neighbours(&d, focus, Direction::Both, &[])
                    .await
                    .unwrap()
                    .len(),
                ledger
                    .graph(&d)
                    .await
                    .unwrap()
                    .k_hop(focus, 3, Direction::Both, &[])
                    .nodes
                    .len(),
                ledger.open_tensions_everywhere().await.unwrap().len(),
            );
            (whole, neighbours, hops, open, requests, bytes, answers)
        });

        postgres_load(&mut client, graph);
        let dialogue = d.to_string();
        let focus_text = focus.to_string();
        let pg_whole = time(1, samples, || {
            std::hint::black_box(client.query(PG_WHOLE_ENTITIES, &[&dialogue]).unwrap());
            std::hint::black_box(client.query(PG_WHOLE_REFS, &[&dialogue]).unwrap());
        });
        let pg_neighbours = time(2, samples, || {
            std::hint::black_box(
                client
                    .query(PG_NEIGHBOURS, &[&dialogue, &focus_text])
                    .unwrap(),
            );
        });
        let pg_hops = time(2, samples, || {
            std::hint::black_box(
                client
                    .query(PG_THREE_HOPS, &[&dialogue, &focus_text])
                    .unwrap(),
            );
        });
        let pg_open = time(2, samples, || {
            std::hint::black_box(client.query(PG_OPEN_TENSIONS, &[&dialogue]).unwrap());
        });
        // Both sides answer the same questions with the same answers.
        let pg_answers = (
            client
                .query(PG_NEIGHBOURS, &[&dialogue, &focus_text])
                .unwrap()
                .len(),
            client
                .query(PG_THREE_HOPS, &[&dialogue, &focus_text])
                .unwrap()
                .len(),
            client.query(PG_OPEN_TENSIONS, &[&dialogue]).unwrap().len(),
        );
        assert_eq!(
            answers, pg_answers,
            "the ledger and PostgreSQL answer alike"
        );
        let pg_bytes: i64 = client
            .query_one(
                "SELECT (SELECT coalesce(sum(pg_column_size(e.*)), 0) FROM entities e WHERE dialogue = $1)
                      + (SELECT coalesce(sum(pg_column_size(r.*)), 0) FROM refs r WHERE dialogue = $1)",
                &[&dialogue],
            )
            .unwrap()
            .get(0);
        section.row(
            &format!("{entities} entities: load the whole graph"),
            format!("{} ({requests} Query, {:.2} MB)", show(whole.median), bytes as f64 / 1e6),
            format!("{} (2 SELECTs, {:.2} MB)", show(pg_whole.median), pg_bytes as f64 / 1e6),
            ratio(whole.median, pg_whole.median),
            "one partition read in 1 MB pages and decoded into the graph; PostgreSQL returns two row sets",
        );
        section.timed(
            &format!(
                "{entities} entities: neighbours of one entity ({} edges)",
                answers.0
            ),
            neighbours.median,
            pg_neighbours.median,
            "one Query on the entity's edge prefix (a handful of items) vs two index scans; on DynamoDB Local that Query's time still grows with the size of the partition, as the three sizes show",
        );
        section.timed(
            &format!("{entities} entities: 3-hop subgraph ({} entities)", answers.1),
            hops.median,
            pg_hops.median,
            "the ledger loads the dialogue's whole graph and walks it in memory, so this grows with the dialogue (a walk by edge-prefix Queries would read only the frontier); PostgreSQL runs a recursive CTE over the refs index",
        );
        section.timed(
            &format!("{entities} entities: open tensions ({})", answers.2),
            open.median,
            pg_open.median,
            "one Query of the sparse open-tensions index vs a partial-index scan",
        );
    }
    section.note(
        "The ledger's figures are DynamoDB Local (Java, HTTP + JSON on loopback); PostgreSQL is a native server on the same loopback. Both hold the same dialogue, and the bench checks they give the same answers.".to_owned(),
    );
    section
}
