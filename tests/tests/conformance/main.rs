//! One conformance suite for every backend: the same test functions run against SQLite and
//! against DynamoDB Local (started by the harness unless `DLG_DYNAMODB_ENDPOINT` is set).
//!
//! - `suite`: the generic tests (append and read back, conflict on a stale head, idempotent retry,
//!   size limit, wrapped keys and shredding, digest and audit, graph checkpoint condition).
//! - `keys`: the key-provider tests, against the local master key and AWS KMS (a local
//!   KMS-compatible server started by the harness).
//! - `dynamodb`: DynamoDB-only tests: an 8-writer race, a dead endpoint mid-run, and the live
//!   tables against the template.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

mod dynamodb;
mod keys;
mod signing;
mod suite;

use std::any::Any;

use dlg_core::seal::{MasterKey, SecretKey};
use dlg_store::Store;
use dlg_store::dynamodb::DynamoStore;
use dlg_store::sqlite::SqliteStore;
use dlg_writer::keys::OsEntropy;
use dlg_writer::ledger::Ledger;

/// A ledger over one backend, with whatever must live as long as it (a temp dir).
#[allow(
    missing_debug_implementations,
    reason = "holds an opaque keep-alive guard"
)]
pub struct Harness<S> {
    pub ledger: Ledger<S>,
    pub backend: &'static str,
    _keep: Box<dyn Any + Send>,
}

fn master() -> Box<MasterKey> {
    Box::new(MasterKey::new(SecretKey::generate(&mut OsEntropy)))
}

/// A fresh SQLite store in a temp dir.
pub async fn sqlite() -> Harness<SqliteStore> {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ledger.db")).unwrap();
    Harness {
        ledger: Ledger::new(store, master(), "test master key").with_signer(dlg_tests::signer()),
        backend: "sqlite",
        _keep: Box::new(dir),
    }
}

/// A fresh set of tables in the shared DynamoDB Local.
pub async fn dynamodb() -> Harness<DynamoStore> {
    let endpoint = dlg_tests::shared_dynamodb().to_owned();
    let tables = dlg_tests::fresh_tables(&endpoint, "suite").await;
    Harness {
        ledger: Ledger::new(DynamoStore::clone(&tables), master(), "test master key")
            .with_signer(dlg_tests::signer()),
        backend: "dynamodb",
        _keep: Box::new(tables),
    }
}

/// Runs each listed generic test against every backend.
macro_rules! conformance {
    ($($test:ident),* $(,)?) => {
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::suite::$test(crate::sqlite().await).await;
                }
            )*
        }
        mod on_dynamodb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::suite::$test(crate::dynamodb().await).await;
                }
            )*
        }
    };
}

conformance!(
    append_and_read_back,
    conflict_on_a_stale_head,
    idempotent_retry,
    size_limit,
    wrapped_keys_and_shredding,
    digest_and_audit,
    graph_checkpoint_condition,
    projection_catches_up_and_rebuilds,
);

/// Used by the generic tests to name the backend in messages.
pub fn describe<S: Store>(harness: &Harness<S>) -> String {
    format!(
        "{} ({})",
        harness.backend,
        harness.ledger.store().describe()
    )
}
