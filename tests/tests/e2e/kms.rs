//! `dlg` with an AWS KMS master key (`DLG_KMS_KEY`), against moto's KMS-compatible server: no
//! key file is created, content round-trips, another key is refused with a key error, a dead
//! key service stores nothing, and shredding leaves a verifiable structure.

use dlg_tests::Sandbox;
use predicates::prelude::*;
use serde_json::Value;

use crate::requests::*;

struct Kms {
    sandbox: Sandbox,
    endpoint: String,
    key: String,
    /// `Some(prefix)`: DynamoDB Local tables with this prefix; `None`: SQLite.
    dynamodb: Option<String>,
    _tables: Option<dlg_tests::DropTables>,
}

impl Kms {
    fn new(dynamodb: bool) -> Self {
        let endpoint = dlg_tests::shared_kms().to_owned();
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let key = runtime.block_on(dlg_tests::create_kms_key(&endpoint));
        let prefix = dynamodb.then(|| dlg_tests::unique_prefix("kms"));
        Self {
            sandbox: Sandbox::new(),
            endpoint,
            key,
            _tables: prefix
                .as_deref()
                .map(|p| dlg_tests::DropTables::with_prefix(dlg_tests::shared_dynamodb(), p)),
            dynamodb: prefix,
        }
    }

    fn dlg_with_key(&self, key: &str) -> assert_cmd::Command {
        let mut command = self.sandbox.dlg();
        command
            .env("DLG_KMS_KEY", key)
            .env("DLG_KMS_ENDPOINT", &self.endpoint);
        if let Some(prefix) = &self.dynamodb {
            command
                .env("DLG_STORE", "dynamodb")
                .env("DLG_DYNAMODB_ENDPOINT", dlg_tests::shared_dynamodb())
                .env("DLG_TABLE_PREFIX", prefix)
                .env("DLG_PROJECTOR", "inline");
        }
        command
    }

    fn dlg(&self) -> assert_cmd::Command {
        self.dlg_with_key(&self.key)
    }

    fn json(&self, args: &[&str], stdin: Option<&Value>) -> Value {
        json_of(self.dlg(), args, stdin)
    }
}

fn records_reads_refuses_and_shreds(kms: Kms) {
    if kms.dynamodb.is_some() {
        kms.json(&["init-tables"], None);
    }
    kms.json(&["create", "-"], Some(&create()));
    kms.json(&["round", DIALOGUE], Some(&round_zero()));
    assert!(
        !kms.sandbox.key_file().exists(),
        "with a KMS key no local key file is created"
    );
    let export = kms.json(&["export", DIALOGUE], None);
    assert_eq!(export["title"], create()["title"], "content opens");
    let audit = kms.json(&["audit", DIALOGUE], None);
    assert_eq!(audit[0]["problems"], serde_json::json!([]));

    // Another KMS key cannot open the dialogue: a key error (exit 6), not content.
    let endpoint = kms.endpoint.clone();
    let other = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(dlg_tests::create_kms_key(&endpoint));
    let refused = kms
        .dlg_with_key(&other)
        .args(["--json", "export", DIALOGUE])
        .assert()
        .code(6);
    let error: Value = serde_json::from_slice(&refused.get_output().stderr).unwrap();
    assert!(
        ["wrong_key", "key_service"].contains(&error["error"]["kind"].as_str().unwrap_or_default()),
        "{error}"
    );

    // A dead key service: a clear key error, and nothing appended.
    let dead = kms
        .dlg()
        .env(
            "DLG_KMS_ENDPOINT",
            format!("http://127.0.0.1:{}", dlg_tests::free_port()),
        )
        .args(["round", DIALOGUE])
        .write_stdin(round_one().to_string())
        .assert()
        .code(6);
    assert!(
        String::from_utf8_lossy(&dead.get_output().stderr).contains("cannot reach"),
        "{:?}",
        dead.get_output()
    );
    let log = kms.json(&["log", DIALOGUE], None);
    assert_eq!(log.as_array().map(Vec::len), Some(2), "{log}");

    kms.dlg()
        .args(["shred", DIALOGUE, "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 data key(s) deleted"));
    let audit = kms.json(&["audit", DIALOGUE], None);
    assert_eq!(audit[0]["shredded"], true);
    assert_eq!(audit[0]["problems"], serde_json::json!([]));
}

#[test]
fn kms_key_on_sqlite() {
    records_reads_refuses_and_shreds(Kms::new(false));
}

#[test]
fn kms_key_on_dynamodb() {
    records_reads_refuses_and_shreds(Kms::new(true));
}
