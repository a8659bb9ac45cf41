//! DynamoDB-only tests: an 8-writer race on one dialogue, a dead endpoint in the middle of a
//! run, and the live tables against the template.

use std::collections::BTreeSet;
use std::sync::Arc;

use dlg_core::append::{AppendContext, prepare};
use dlg_core::chain;
use dlg_core::commit::Commit;
use dlg_core::graph::{ApplyOutcome, Graph};
use dlg_core::ids::DialogueId;
use dlg_core::seal::{MasterKey, SecretKey};
use dlg_store::dynamodb::DynamoStore;
use dlg_store::dynamodb::tables;
use dlg_store::{CommitRow, EventStore, StoreError};
use dlg_tests::DynamoLocal;
use dlg_writer::keys::OsEntropy;
use dlg_writer::ledger::{Ledger, LedgerError, WriteOptions};

use crate::suite::{add_expert, create};

const WRITERS: usize = 8;
const COMMITS_EACH: usize = 50;

/// What one writer saw.
#[derive(Debug, Default)]
struct Tally {
    acknowledged: Vec<(u64, String)>,
    conflicts: usize,
    other_errors: Vec<String>,
}

/// Appends `COMMITS_EACH` commits through the store's conditional put, re-reading and
/// re-deciding after every lost race.
async fn writer(
    store: Arc<DynamoStore>,
    dialogue: DialogueId,
    key: Arc<dlg_core::seal::SecretKey>,
    id: usize,
) -> Tally {
    let mut tally = Tally::default();
    let mut graph = Graph::new(dialogue.clone());
    let mut entropy = OsEntropy;
    let mut n = 0;
    while n < COMMITS_EACH {
        // Catch up from our head: read only what is new.
        match store.commits(&dialogue, graph.checkpoint.commit + 1).await {
            Ok(rows) => {
                for row in rows {
                    assert!(matches!(
                        graph.apply(&row.bytes).unwrap(),
                        ApplyOutcome::Applied(_)
                    ));
                }
            }
            Err(e) => {
                tally.other_errors.push(e.to_string());
                return tally;
            }
        }
        let slug = format!("w{id}-{n}");
        let time = dlg_writer::ledger::now();
        let context = AppendContext {
            actor: "racer",
            time: &time,
            idempotency_key: None,
            key: &key,
            key_version: 1,
            signer: dlg_core::sign::Signer::public_key(&dlg_core::testing::test_signer()),
        };
        let encoded = prepare(&graph, &add_expert(&slug), &context, &mut entropy)
            .unwrap()
            .sign_with(&dlg_core::testing::test_signer());
        let row = CommitRow::of(&encoded);
        match store.append(&dialogue, &row, None).await {
            Ok(()) => {
                tally.acknowledged.push((row.number, slug));
                n += 1;
            }
            Err(StoreError::Conflict { .. }) => tally.conflicts += 1,
            Err(e) => {
                tally.other_errors.push(e.to_string());
                return tally;
            }
        }
    }
    tally
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_writers_race_on_one_dialogue() {
    let endpoint = dlg_tests::shared_dynamodb().to_owned();
    let tables = dlg_tests::fresh_tables(&endpoint, "race").await;
    let store = DynamoStore::clone(&tables);
    let master = MasterKey::new(SecretKey::generate(&mut OsEntropy));
    let ledger =
        Ledger::new(store.clone(), Box::new(master), "race key").with_signer(dlg_tests::signer());
    let receipt = ledger
        .create_dialogue(&create(), &WriteOptions::by("racer"))
        .await
        .unwrap();
    let dialogue = DialogueId::parse(&receipt.dialogue).unwrap();
    let key = Arc::new(
        ledger
            .key_ring(&dialogue)
            .await
            .unwrap()
            .current()
            .unwrap()
            .1
            .clone(),
    );

    let store = Arc::new(store);
    let tasks: Vec<_> = (0..WRITERS)
        .map(|id| tokio::spawn(writer(store.clone(), dialogue.clone(), key.clone(), id)))
        .collect();
    let mut acknowledged = Vec::new();
    let mut conflicts = 0;
    for task in tasks {
        let tally = task.await.unwrap();
        assert!(
            tally.other_errors.is_empty(),
            "a loser got something other than the typed conflict: {:?}",
            tally.other_errors
        );
        conflicts += tally.conflicts;
        acknowledged.extend(tally.acknowledged);
    }
    assert_eq!(acknowledged.len(), WRITERS * COMMITS_EACH);
    assert!(
        conflicts > 0,
        "{WRITERS} writers of {COMMITS_EACH} commits each never lost a race: the test proved nothing"
    );
    println!(
        "race: {} commits acknowledged, {conflicts} typed conflicts",
        acknowledged.len()
    );

    // Every acknowledged commit is present exactly once, numbers are contiguous, the chain verifies.
    let rows = store.commits(&dialogue, 1).await.unwrap();
    let numbers: Vec<u64> = rows.iter().map(|r| r.number).collect();
    assert_eq!(
        numbers,
        (1..=(1 + WRITERS * COMMITS_EACH) as u64).collect::<Vec<_>>()
    );
    chain::verify(&dialogue, rows.iter().map(CommitRow::as_stored)).unwrap();
    let graph = Graph::rebuild(dialogue.clone(), rows.iter().map(|r| r.bytes.as_slice())).unwrap();
    for (number, slug) in &acknowledged {
        let commit = Commit::decode(&rows[(*number - 1) as usize].bytes).unwrap();
        let body = serde_json::to_value(&commit.events[0].body).unwrap();
        assert_eq!(
            body["body"]["expert"],
            slug.as_str(),
            "commit {number} holds what was acknowledged"
        );
    }
    let slugs: BTreeSet<&str> = graph.experts.keys().map(|s| s.as_str()).collect();
    assert_eq!(
        slugs.len(),
        2 + WRITERS * COMMITS_EACH,
        "no expert lost or duplicated"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_mid_run_loses_nothing_and_retries_land_once() {
    let data = tempfile::tempdir().unwrap();
    let mut local = DynamoLocal::start(Some(data.path()));
    let tables = dlg_tests::fresh_tables(&local.endpoint, "dead").await;
    let store = DynamoStore::clone(&tables);
    let master = MasterKey::new(SecretKey::generate(&mut OsEntropy));
    let ledger = Arc::new(
        Ledger::new(store.clone(), Box::new(master), "dead-endpoint key")
            .with_signer(dlg_tests::signer()),
    );
    let receipt = ledger
        .create_dialogue(&create(), &WriteOptions::by("writer"))
        .await
        .unwrap();
    let dialogue = DialogueId::parse(&receipt.dialogue).unwrap();
    let options = |i: usize| WriteOptions {
        actor: "writer".to_owned(),
        time: None,
        idempotency_key: Some(format!("join-{i}")),
    };

    // Append in the background; stop DynamoDB Local once six appends have landed, while the
    // appender waits, so the next append meets a dead endpoint.
    let (stopped_tx, mut stopped_rx) = tokio::sync::watch::channel(false);
    let (landed_tx, landed_rx) = tokio::sync::oneshot::channel();
    let mut landed_tx = Some(landed_tx);
    let appender = {
        let ledger = ledger.clone();
        let dialogue = dialogue.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                if let Err(error) = ledger
                    .execute(&dialogue, &add_expert(&format!("x{i}")), &options(i))
                    .await
                {
                    return Some((i, error));
                }
                if i == 5 {
                    if let Some(landed) = landed_tx.take() {
                        let _ = landed.send(());
                    }
                    let _ = stopped_rx.changed().await;
                }
            }
            None
        })
    };
    landed_rx
        .await
        .expect("the appender reaches its sixth append");
    // Blocks this worker until the port is closed; the appender runs on the other one.
    local.stop();
    let _ = stopped_tx.send(true);
    let (failed_at, error) = appender
        .await
        .unwrap()
        .expect("appending against a stopped endpoint fails");
    println!("dead endpoint: append {failed_at} failed with: {error}");
    let message = error.to_string();
    assert!(
        matches!(error, LedgerError::Store(StoreError::Unavailable(_))),
        "{error:?}"
    );
    assert!(
        message.contains("cannot reach"),
        "the error says what is wrong: {message}"
    );

    // After a restart: nothing partial, and retrying from the failed request lands each once.
    local.restart();
    let rows = store.commits(&dialogue, 1).await.unwrap();
    chain::verify(&dialogue, rows.iter().map(CommitRow::as_stored)).unwrap();
    let before = rows.len();
    assert!(
        (1 + failed_at..=2 + failed_at).contains(&before),
        "{before} commits after failing at {failed_at}"
    );
    for i in failed_at..failed_at + 3 {
        ledger
            .execute(&dialogue, &add_expert(&format!("x{i}")), &options(i))
            .await
            .unwrap();
    }
    for i in 0..failed_at + 3 {
        let again = ledger
            .execute(&dialogue, &add_expert(&format!("x{i}")), &options(i))
            .await
            .unwrap();
        assert!(
            again.replayed,
            "request {i} landed once and answers its receipt"
        );
    }
    let rows = store.commits(&dialogue, 1).await.unwrap();
    assert_eq!(rows.len(), 1 + failed_at + 3);
    assert!(
        ledger
            .audit(&dialogue, &Default::default())
            .await
            .unwrap()
            .is_clean()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_tables_match_the_template() {
    let endpoint = dlg_tests::shared_dynamodb().to_owned();
    let tables = dlg_tests::fresh_tables(&endpoint, "shape").await;
    let store = DynamoStore::clone(&tables);
    let expected = tables::template_shapes(tables::TEMPLATE).unwrap();
    let live = tables::live_shapes(&store).await.unwrap();
    assert_eq!(live, expected);
    // Creating again is a no-op.
    assert!(tables::create_tables(&store).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_table_and_a_dead_endpoint_say_how_to_fix_them() {
    let endpoint = dlg_tests::shared_dynamodb().to_owned();
    let config = dlg_store::dynamodb::DynamoConfig::with_prefix(
        Some(endpoint),
        "us-east-1",
        "never-created",
    );
    let store = DynamoStore::connect(config).await;
    let error = store.dialogues().await.unwrap_err().to_string();
    assert!(
        error.contains("does not exist") && error.contains("init-tables"),
        "{error}"
    );

    let dead = dlg_store::dynamodb::DynamoConfig::with_prefix(
        Some("http://127.0.0.1:9".to_owned()),
        "us-east-1",
        "dlg",
    );
    let error = DynamoStore::connect(dead)
        .await
        .dialogues()
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("cannot reach http://127.0.0.1:9"), "{error}");
}

/// A request DynamoDB rejects (here an empty sort-key prefix) is `Refused`, which the projector
/// does not retry; an unreachable endpoint stays `Unavailable`, which it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_request_is_refused_not_retried() {
    use dlg_projector::projection::ProjectError;
    use dlg_store::GraphStore;
    let endpoint = dlg_tests::shared_dynamodb().to_owned();
    let tables = dlg_tests::fresh_tables(&endpoint, "refused").await;
    let store = DynamoStore::clone(&tables);
    let dialogue = DialogueId::parse("refused").unwrap();
    let error = store.graph_items_under(&dialogue, "").await.unwrap_err();
    assert!(matches!(error, StoreError::Refused(_)), "{error:?}");
    assert!(error.to_string().contains("ValidationException"), "{error}");
    let error = ProjectError::from(error);
    assert!(!error.retryable());
    assert_eq!(error.kind(), "refused");

    let dead = DynamoStore::connect(dlg_store::dynamodb::DynamoConfig::with_prefix(
        Some(format!("http://127.0.0.1:{}", dlg_tests::free_port())),
        "us-east-1",
        "dead",
    ))
    .await;
    let error = ProjectError::from(dead.graph_items_under(&dialogue, "M#").await.unwrap_err());
    assert!(error.retryable(), "{error:?}");
}
