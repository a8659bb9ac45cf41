//! The generic conformance tests: each takes a ledger over some backend and must pass on all.

use dlg_core::append::{AppendContext, prepare};
use dlg_core::chain::{self, Digest};
use dlg_core::command::{Command, CreateDialogue};
use dlg_core::commit::MAX_COMMIT_BYTES;
use dlg_core::graph::Graph;
use dlg_core::ids::DialogueId;
use dlg_core::seal::{MasterKey, SecretKey, WrappedKey};
use dlg_store::{CommitRow, Store, StoreError};
use dlg_writer::keys::OsEntropy;
use dlg_writer::ledger::{LedgerError, WriteOptions};
use serde_json::json;

use crate::{Harness, describe};

pub fn create() -> CreateDialogue {
    serde_json::from_value(json!({
        "title": "Conformance dialogue",
        "question": "Do both stores behave the same?",
        "experts": [{"slug": "muffin", "role": "Architect"}, {"slug": "cupcake", "role": "Domain expert"}]
    }))
    .unwrap()
}

pub fn round_zero() -> Command {
    serde_json::from_value(json!({
        "command": "register_round", "round": 0, "score": 10.0, "summary": "framing",
        "perspectives": [{"id": "MUFFIN-P0001", "label": "schema first", "content": "the body"}],
        "tensions": [{"id": "CUPCAKE-T0001", "label": "atomicity", "description": "writeback",
                      "references": [{"type": "oppose", "target": "MUFFIN-P0001"}]}]
    }))
    .unwrap()
}

pub fn add_expert(slug: &str) -> Command {
    serde_json::from_value(
        json!({"command": "add_expert", "slug": slug, "role": "Panelist", "source": "pool"}),
    )
    .unwrap()
}

pub fn options(key: Option<&str>) -> WriteOptions {
    WriteOptions {
        actor: "conformance".to_owned(),
        time: None,
        idempotency_key: key.map(str::to_owned),
    }
}

async fn created<S: Store>(harness: &Harness<S>) -> DialogueId {
    let receipt = harness
        .ledger
        .create_dialogue(&create(), &options(None))
        .await
        .unwrap();
    DialogueId::parse(&receipt.dialogue).unwrap()
}

pub async fn append_and_read_back<S: Store>(harness: Harness<S>) {
    let ledger = &harness.ledger;
    let dialogue = created(&harness).await;
    assert_eq!(dialogue.as_str(), "conformance-dialogue");
    let receipt = ledger
        .execute(&dialogue, &round_zero(), &options(None))
        .await
        .unwrap();
    assert_eq!(
        (receipt.commit, receipt.id_mapping["CUPCAKE-T0001"].as_str()),
        (2, "T0001")
    );
    assert_eq!(
        ledger.dialogues().await.unwrap(),
        std::slice::from_ref(&dialogue),
        "{}",
        describe(&harness)
    );

    let rows = ledger.store().commits(&dialogue, 1).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.number).collect::<Vec<_>>(), [1, 2]);
    let head = chain::verify(&dialogue, rows.iter().map(CommitRow::as_stored)).unwrap();
    assert_eq!(chain::to_hex(&head.hash), receipt.hash);
    assert_eq!(ledger.store().commits(&dialogue, 2).await.unwrap().len(), 1);

    let graph = ledger.graph(&dialogue).await.unwrap();
    assert_eq!(graph.checkpoint.commit, 2);
    assert_eq!(graph.open_tensions().len(), 1);
    let ring = ledger.key_ring(&dialogue).await.unwrap();
    let label = ring
        .open(
            graph
                .nodes
                .values()
                .next()
                .unwrap()
                .content
                .as_ref()
                .unwrap(),
        )
        .unwrap();
    assert_eq!(label["label"], "schema first");
    // A second dialogue with the same title takes the next slug.
    let second = ledger
        .create_dialogue(&create(), &options(None))
        .await
        .unwrap();
    assert_eq!(second.dialogue, "conformance-dialogue-2");
}

pub async fn conflict_on_a_stale_head<S: Store>(harness: Harness<S>) {
    let ledger = &harness.ledger;
    let dialogue = created(&harness).await;
    let stale = ledger.fold(&dialogue).await.unwrap().graph;
    ledger
        .execute(&dialogue, &add_expert("scone"), &options(None))
        .await
        .unwrap();
    // A writer that decided against the old head builds commit 2 as well.
    let ring = ledger.key_ring(&dialogue).await.unwrap();
    let (version, key) = ring.current().unwrap();
    let context = AppendContext {
        actor: "late writer",
        time: "2026-03-12T20:26:00Z",
        idempotency_key: None,
        key,
        key_version: version,
        signer: dlg_core::sign::Signer::public_key(&dlg_core::testing::test_signer()),
    };
    let late = prepare(&stale, &add_expert("eclair"), &context, &mut OsEntropy)
        .unwrap()
        .sign_with(&dlg_core::testing::test_signer());
    let row = CommitRow::of(&late);
    match ledger.store().append(&dialogue, &row, None).await {
        Err(StoreError::Conflict {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (2, 2)),
        other => panic!("{}: expected a conflict, got {other:?}", describe(&harness)),
    }
    assert_eq!(ledger.store().commits(&dialogue, 1).await.unwrap().len(), 2);
}

pub async fn idempotent_retry<S: Store>(harness: Harness<S>) {
    let ledger = &harness.ledger;
    let dialogue = created(&harness).await;
    let first = ledger
        .execute(&dialogue, &round_zero(), &options(Some("round-0")))
        .await
        .unwrap();
    let again = ledger
        .execute(&dialogue, &round_zero(), &options(Some("round-0")))
        .await
        .unwrap();
    assert!(again.replayed && !first.replayed);
    assert_eq!(
        (again.commit, &again.hash, &again.id_mapping),
        (first.commit, &first.hash, &first.id_mapping)
    );
    match ledger
        .execute(&dialogue, &add_expert("scone"), &options(Some("round-0")))
        .await
    {
        Err(LedgerError::IdempotencyMismatch { commit, .. }) => assert_eq!(commit, 2),
        other => panic!("{}: expected a mismatch, got {other:?}", describe(&harness)),
    }
    assert_eq!(ledger.store().commits(&dialogue, 1).await.unwrap().len(), 2);
    // A retried creation finds its dialogue instead of creating another.
    let created = ledger
        .create_dialogue(&create(), &options(Some("create")))
        .await
        .unwrap();
    let retried = ledger
        .create_dialogue(&create(), &options(Some("create")))
        .await
        .unwrap();
    assert_eq!(created.dialogue, retried.dialogue);
    assert_eq!(ledger.dialogues().await.unwrap().len(), 2);
}

pub async fn size_limit<S: Store>(harness: Harness<S>) {
    let ledger = &harness.ledger;
    let dialogue = created(&harness).await;
    let big = "x".repeat(30_000);
    let perspectives: Vec<_> = (1..=20)
        .map(|i| json!({"id": format!("MUFFIN-P00{i:02}"), "label": "big", "content": big}))
        .collect();
    let oversize: Command = serde_json::from_value(
        json!({"command": "register_round", "round": 0, "perspectives": perspectives}),
    )
    .unwrap();
    match ledger.execute(&dialogue, &oversize, &options(None)).await {
        Err(error @ LedgerError::TooLarge { size, limit }) => {
            assert!(size > limit, "{size} <= {limit}");
            assert!(error.to_string().contains("split the batch"), "{error}")
        }
        other => panic!(
            "{}: expected the size error, got {other:?}",
            describe(&harness)
        ),
    }
    // The store refuses oversize bytes by itself too, before writing anything.
    let row = CommitRow {
        number: 2,
        bytes: vec![b' '; MAX_COMMIT_BYTES + 1],
        hash: [0; 32],
        signature: None,
    };
    match ledger.store().append(&dialogue, &row, None).await {
        Err(StoreError::TooLarge { size, limit }) => {
            assert_eq!((size, limit), (MAX_COMMIT_BYTES + 1, MAX_COMMIT_BYTES))
        }
        other => panic!("{}: expected TooLarge, got {other:?}", describe(&harness)),
    }
    assert_eq!(ledger.store().commits(&dialogue, 1).await.unwrap().len(), 1);
}

pub async fn wrapped_keys_and_shredding<S: Store>(harness: Harness<S>) {
    let ledger = &harness.ledger;
    let dialogue = created(&harness).await;
    ledger
        .execute(&dialogue, &round_zero(), &options(None))
        .await
        .unwrap();
    let store = ledger.store();
    let keys = store.wrapped_keys(&dialogue).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].0, 1);
    let other = WrappedKey {
        provider: "local".to_owned(),
        bytes: vec![1; 72],
    };
    assert!(matches!(
        store.put_wrapped_key(&dialogue, 1, &other).await,
        Err(StoreError::KeyExists { version: 1, .. })
    ));
    // The stored wrapped key opens only under this ledger's master key.
    let stranger = MasterKey::new(SecretKey::generate(&mut OsEntropy));
    assert!(stranger.unwrap_key(&dialogue, 1, &keys[0].1).is_err());
    assert_eq!(ledger.shred(&dialogue).await.unwrap(), 1);
    assert!(store.wrapped_keys(&dialogue).await.unwrap().is_empty());
    let report = ledger.audit(&dialogue, &Default::default()).await.unwrap();
    assert!(
        report.shredded && report.is_clean(),
        "{}: {report:?}",
        describe(&harness)
    );
    assert!(matches!(
        ledger
            .execute(&dialogue, &add_expert("scone"), &options(None))
            .await,
        Err(LedgerError::Shredded(_))
    ));
}

pub async fn digest_and_audit<S: Store>(harness: Harness<S>) {
    let ledger = &harness.ledger;
    let dialogue = created(&harness).await;
    ledger
        .execute(&dialogue, &round_zero(), &options(None))
        .await
        .unwrap();
    let digest = ledger.digest(&dialogue).await.unwrap();
    assert_eq!(digest.commit, 2);
    ledger
        .execute(&dialogue, &add_expert("scone"), &options(None))
        .await
        .unwrap();
    let report = ledger.audit(&dialogue, &against(&digest)).await.unwrap();
    assert!(report.is_clean(), "{}: {report:?}", describe(&harness));
    assert_eq!((report.commits, report.sealed_fields_opened), (3, 7));
    let forged = Digest {
        hash: [7; 32],
        ..digest.clone()
    };
    let report = ledger.audit(&dialogue, &against(&forged)).await.unwrap();
    assert_eq!(report.problems[0].kind.as_str(), "digest_mismatch");
    let beyond = Digest {
        commit: 9,
        ..digest
    };
    let report = ledger.audit(&dialogue, &against(&beyond)).await.unwrap();
    assert_eq!(report.problems[0].kind.as_str(), "truncated");
}

pub async fn graph_checkpoint_condition<S: Store>(harness: Harness<S>) {
    let ledger = &harness.ledger;
    let dialogue = created(&harness).await;
    ledger
        .execute(&dialogue, &round_zero(), &options(None))
        .await
        .unwrap();
    let graph = ledger.graph(&dialogue).await.unwrap();
    // A projector that believes the checkpoint is still at 1 must not move it.
    let stale = graph.items();
    match ledger.store().put_graph_items(&dialogue, &stale, 1).await {
        Err(StoreError::Conflict { .. }) => {}
        other => panic!("{}: expected a conflict, got {other:?}", describe(&harness)),
    }
    let stored = Graph::from_items(
        dialogue.clone(),
        ledger.store().graph_items(&dialogue).await.unwrap(),
    );
    assert_eq!(stored, graph);
}

pub async fn projection_catches_up_and_rebuilds<S: Store>(harness: Harness<S>) {
    let ledger = &harness.ledger;
    let dialogue = created(&harness).await;
    ledger
        .execute(&dialogue, &round_zero(), &options(None))
        .await
        .unwrap();
    // Lose the projection entirely: a rebuild from the events restores it exactly.
    ledger.store().replace_graph(&dialogue, &[]).await.unwrap();
    assert!(
        ledger
            .store()
            .graph_items(&dialogue)
            .await
            .unwrap()
            .is_empty()
    );
    let rebuilt = ledger.rebuild(&dialogue).await.unwrap();
    let stored = Graph::from_items(
        dialogue.clone(),
        ledger.store().graph_items(&dialogue).await.unwrap(),
    );
    assert_eq!(stored, rebuilt);
    // And a projection that was never written catches up from the checkpoint on the next read.
    ledger.store().replace_graph(&dialogue, &[]).await.unwrap();
    let caught_up = ledger.graph(&dialogue).await.unwrap();
    assert_eq!(caught_up, rebuilt);
    assert!(
        ledger
            .audit(&dialogue, &Default::default())
            .await
            .unwrap()
            .is_clean()
    );
}

/// Audit options against a digest, trusting the harness's signer.
fn against(digest: &Digest) -> dlg_writer::audit::AuditOptions {
    dlg_writer::audit::AuditOptions {
        digest: Some(digest.clone()),
        ..Default::default()
    }
}
