//! Key-provider conformance: the same tests run against the local master key and against the
//! AWS KMS provider talking to a local KMS-compatible server (moto, started by the harness).
//! Every provider must wrap and unwrap, bind a wrapped key to its dialogue and version (another
//! dialogue, version or master key is refused), refuse altered or foreign wrapped keys, and let
//! a dialogue be shredded: content gone, structure and chain still verifying.

use dlg_core::ids::DialogueId;
use dlg_core::seal::{KeyProvider, MasterKey, SealError, SecretKey, WrappedKey};
use dlg_store::KeyStore;
use dlg_store::sqlite::SqliteStore;
use dlg_writer::keys::OsEntropy;
use dlg_writer::keys::kms::{KmsConfig, KmsKeys};
use dlg_writer::ledger::{Ledger, LedgerError};

use crate::suite::{add_expert, create, options, round_zero};

/// A provider under test, a second one of the same kind holding another master key, and a
/// factory for fresh instances (a ledger takes ownership of its provider).
#[allow(missing_debug_implementations, reason = "holds providers")]
pub struct Providers {
    pub name: &'static str,
    pub provider: Box<dyn KeyProvider>,
    pub stranger: Box<dyn KeyProvider>,
    pub same: Box<dyn KeyProvider>,
}

pub fn local() -> Providers {
    let master = MasterKey::new(SecretKey::generate(&mut OsEntropy));
    Providers {
        name: "local",
        provider: Box::new(master.clone()),
        stranger: Box::new(MasterKey::new(SecretKey::generate(&mut OsEntropy))),
        same: Box::new(master),
    }
}

pub async fn kms_provider(key_id: &str) -> KmsKeys {
    KmsKeys::connect(KmsConfig {
        key_id: key_id.to_owned(),
        region: "us-east-1".to_owned(),
        endpoint: Some(dlg_tests::shared_kms().to_owned()),
    })
    .await
}

pub async fn kms() -> Providers {
    let endpoint = dlg_tests::shared_kms();
    let key = dlg_tests::create_kms_key(endpoint).await;
    let other = dlg_tests::create_kms_key(endpoint).await;
    Providers {
        name: "kms",
        provider: Box::new(kms_provider(&key).await),
        stranger: Box::new(kms_provider(&other).await),
        same: Box::new(kms_provider(&key).await),
    }
}

fn dialogue(id: &str) -> DialogueId {
    DialogueId::parse(id).unwrap()
}

fn is_refusal(result: &Result<SecretKey, SealError>) -> bool {
    matches!(result, Err(SealError::Unwrap { .. }))
}

pub async fn wraps_and_unwraps(keys: Providers) {
    let d = dialogue("wrap-test");
    let (key, wrapped) = keys
        .provider
        .new_data_key(&d, 1, &mut OsEntropy)
        .await
        .unwrap();
    assert_eq!(wrapped.provider, keys.name);
    let opened = keys
        .provider
        .unwrap_data_key(&d, 1, &wrapped)
        .await
        .unwrap();
    assert!(
        opened == key,
        "{}: the unwrapped key is the generated one",
        keys.name
    );
    // Another instance over the same master key opens it too (a new process, the auditor).
    assert!(keys.same.unwrap_data_key(&d, 1, &wrapped).await.unwrap() == key);
    // Fresh keys differ, and the wrapped form does not hold the key in the clear.
    let (second, _) = keys
        .provider
        .new_data_key(&d, 2, &mut OsEntropy)
        .await
        .unwrap();
    assert!(second != key, "{}: two data keys are equal", keys.name);
    assert!(
        !wrapped.bytes.windows(32).any(|w| w == key.expose()),
        "{}: the wrapped key contains the data key",
        keys.name
    );
}

pub async fn refuses_another_context(keys: Providers) {
    let d = dialogue("context-test");
    let (_, wrapped) = keys
        .provider
        .new_data_key(&d, 1, &mut OsEntropy)
        .await
        .unwrap();
    let other_dialogue = keys
        .provider
        .unwrap_data_key(&dialogue("context-other"), 1, &wrapped)
        .await;
    assert!(
        is_refusal(&other_dialogue),
        "{}: {other_dialogue:?}",
        keys.name
    );
    let other_version = keys.provider.unwrap_data_key(&d, 2, &wrapped).await;
    assert!(
        is_refusal(&other_version),
        "{}: {other_version:?}",
        keys.name
    );
    // Another master key: AWS KMS answers IncorrectKeyException (a refusal), moto answers
    // AccessDeniedException (reported as a denial); either way nothing is unwrapped.
    let stranger = keys.stranger.unwrap_data_key(&d, 1, &wrapped).await;
    assert!(
        is_refusal(&stranger)
            || matches!(&stranger, Err(SealError::Provider(m)) if m.contains("denied")),
        "{}: {stranger:?}",
        keys.name
    );
}

pub async fn refuses_altered_and_foreign_keys(keys: Providers) {
    let d = dialogue("altered-test");
    let (_, wrapped) = keys
        .provider
        .new_data_key(&d, 1, &mut OsEntropy)
        .await
        .unwrap();
    for at in [0, wrapped.bytes.len() / 2, wrapped.bytes.len() - 1] {
        let mut altered = wrapped.clone();
        altered.bytes[at] ^= 0x01;
        let result = keys.provider.unwrap_data_key(&d, 1, &altered).await;
        assert!(
            result.is_err(),
            "{}: a flipped byte at {at} unwrapped",
            keys.name
        );
    }
    let truncated = WrappedKey {
        provider: wrapped.provider.clone(),
        bytes: wrapped.bytes[..wrapped.bytes.len() / 2].to_vec(),
    };
    assert!(
        keys.provider
            .unwrap_data_key(&d, 1, &truncated)
            .await
            .is_err()
    );
    let foreign = WrappedKey {
        provider: if keys.name == "kms" { "local" } else { "kms" }.to_owned(),
        bytes: wrapped.bytes.clone(),
    };
    let error = keys
        .provider
        .unwrap_data_key(&d, 1, &foreign)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains(&format!("`{}` provider", foreign.provider)),
        "{}: a key of another provider is named as such: {error}",
        keys.name
    );
}

pub async fn shreds_a_dialogue(keys: Providers) {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("ledger.db")).unwrap();
    let ledger = Ledger::new(store, keys.provider, keys.name).with_signer(dlg_tests::signer());
    let receipt = ledger
        .create_dialogue(&create(), &options(None))
        .await
        .unwrap();
    let d = dialogue(&receipt.dialogue);
    ledger
        .execute(&d, &round_zero(), &options(None))
        .await
        .unwrap();
    let wrapped = ledger.store().wrapped_keys(&d).await.unwrap();
    assert_eq!(wrapped.len(), 1);
    assert_eq!(wrapped[0].1.provider, keys.name);
    let report = ledger.audit(&d, &Default::default()).await.unwrap();
    assert!(
        report.is_clean() && !report.shredded,
        "{}: {report:?}",
        keys.name
    );
    assert_eq!(
        report.sealed_fields_opened, 6,
        "{}: content opens",
        keys.name
    );
    // The same store opened with another master key is refused (moto: as a denial).
    let stranger = Ledger::new(
        SqliteStore::open(&dir.path().join("ledger.db")).unwrap(),
        keys.stranger,
        "the other key",
    )
    .with_signer(dlg_tests::signer());
    let refused = stranger.key_ring(&d).await;
    assert!(
        matches!(&refused, Err(LedgerError::WrongKey { .. }))
            || matches!(&refused, Err(LedgerError::KeyService(m)) if m.contains("denied")),
        "{}: {refused:?}",
        keys.name
    );
    assert_eq!(ledger.shred(&d).await.unwrap(), 1);
    let report = ledger.audit(&d, &Default::default()).await.unwrap();
    assert!(
        report.shredded && report.is_clean(),
        "{}: {report:?}",
        keys.name
    );
    assert_eq!(report.sealed_fields_opened, 0);
    assert!(matches!(
        ledger
            .execute(&d, &add_expert("scone"), &options(None))
            .await,
        Err(LedgerError::Shredded(_))
    ));
    // The wrapped key, put back after shredding, still opens: shredding is the deletion itself.
    let restored = Ledger::new(
        SqliteStore::open(&dir.path().join("ledger.db")).unwrap(),
        keys.same,
        keys.name,
    )
    .with_signer(dlg_tests::signer());
    restored
        .store()
        .put_wrapped_key(&d, 1, &wrapped[0].1)
        .await
        .unwrap();
    assert_eq!(
        restored
            .audit(&d, &Default::default())
            .await
            .unwrap()
            .sealed_fields_opened,
        6
    );
}

/// Runs each listed key-provider test against both providers.
macro_rules! key_conformance {
    ($($test:ident),* $(,)?) => {
        mod with_local_key {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::keys::$test(crate::keys::local()).await;
                }
            )*
        }
        mod with_kms {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    crate::keys::$test(crate::keys::kms().await).await;
                }
            )*
        }
    };
}

key_conformance!(
    wraps_and_unwraps,
    refuses_another_context,
    refuses_altered_and_foreign_keys,
    shreds_a_dialogue,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kms_names_a_missing_key_and_a_dead_endpoint() {
    let d = dialogue("kms-errors");
    let missing =
        kms_provider("arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000")
            .await;
    let error = missing
        .new_data_key(&d, 1, &mut OsEntropy)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("does not exist") && error.contains("DLG_KMS_KEY"),
        "{error}"
    );
    let dead = KmsKeys::connect(KmsConfig {
        key_id: "alias/dlg".to_owned(),
        region: "us-east-1".to_owned(),
        endpoint: Some(format!("http://127.0.0.1:{}", dlg_tests::free_port())),
    })
    .await;
    let error = dead
        .new_data_key(&d, 1, &mut OsEntropy)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        error.starts_with("cannot reach") && error.contains("DLG_KMS_ENDPOINT"),
        "{error}"
    );
    // Through the ledger: nothing is written when the key service fails.
    let dir = tempfile::tempdir().unwrap();
    let ledger = Ledger::new(
        SqliteStore::open(&dir.path().join("ledger.db")).unwrap(),
        Box::new(dead),
        "dead kms",
    )
    .with_signer(dlg_tests::signer());
    assert!(matches!(
        ledger.create_dialogue(&create(), &options(None)).await,
        Err(LedgerError::KeyService(_))
    ));
    assert!(ledger.dialogues().await.unwrap().is_empty());
}
