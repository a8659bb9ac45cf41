//! Every command of the embedded store, run with `--store dynamodb` against DynamoDB Local.

use dlg_tests::Sandbox;
use predicates::prelude::*;
use serde_json::{Value, json};

use crate::requests::*;

struct Dynamo {
    sandbox: Sandbox,
    endpoint: String,
    prefix: String,
}

impl Dynamo {
    fn new() -> Self {
        Self {
            sandbox: Sandbox::new(),
            endpoint: dlg_tests::shared_dynamodb().to_owned(),
            prefix: dlg_tests::unique_prefix("cli"),
        }
    }

    fn dlg(&self) -> assert_cmd::Command {
        let mut command = self.sandbox.dlg();
        command
            .env("DLG_STORE", "dynamodb")
            .env("DLG_DYNAMODB_ENDPOINT", &self.endpoint)
            .env("DLG_TABLE_PREFIX", &self.prefix);
        command
    }

    fn json(&self, args: &[&str], stdin: Option<&Value>) -> Value {
        json_of(self.dlg(), args, stdin)
    }
}

#[test]
fn every_command_works_on_dynamodb() {
    let d = Dynamo::new();
    d.dlg().arg("list").assert().code(1).stderr(
        predicate::str::contains("does not exist").and(predicate::str::contains("init-tables")),
    );
    let created = d.json(&["init-tables"], None);
    assert_eq!(created["created"].as_array().unwrap().len(), 3);

    d.json(&["create"], Some(&create()));
    let receipt = d.json(&["round", DIALOGUE], Some(&round_zero()));
    assert_eq!(receipt["id_mapping"]["CUPCAKE-P0001"], "P0002");
    d.json(&["round", DIALOGUE], Some(&round_one()));
    d.json(
        &[
            "add-expert",
            DIALOGUE,
            "--slug",
            "eclair",
            "--role",
            "Security",
            "--creation-reason",
            "needed",
        ],
        None,
    );
    d.json(
        &[
            "status",
            DIALOGUE,
            "--id",
            "T0002",
            "--to",
            "addressed",
            "--by",
            "eclair",
        ],
        None,
    );
    d.json(
        &["verdict", DIALOGUE],
        Some(&json!({"verdict_id": "final", "type": "final", "recommendation": "ship", "adopts": ["R0001"]})),
    );
    d.json(&["dialogue-status", DIALOGUE, "converging"], None);

    let list = d.json(&["list"], None);
    assert_eq!(
        (
            list[0]["dialogue"].as_str(),
            list[0]["open_tensions"].as_u64()
        ),
        (Some(DIALOGUE), Some(1))
    );
    assert_eq!(d.json(&["show", DIALOGUE], None)["experts"], 4);
    assert_eq!(d.json(&["tensions"], None)[0]["id"], "T0002");
    let graph = d.json(
        &[
            "graph",
            DIALOGUE,
            "P0101",
            "--depth",
            "1",
            "--direction",
            "out",
        ],
        None,
    );
    assert_eq!(graph["edges"].as_array().unwrap().len(), 2);
    d.dlg()
        .args(["graph", DIALOGUE, "--format", "dot"])
        .assert()
        .success()
        .stdout(predicate::str::contains("digraph"));
    assert_eq!(
        d.json(&["log", DIALOGUE], None).as_array().unwrap().len(),
        7
    );
    let digest = d.json(&["digest", DIALOGUE], None);
    assert_eq!(digest["commit"], 7);
    assert_eq!(d.json(&["audit", DIALOGUE], None)[0]["problems"], json!([]));
    assert_eq!(
        d.json(&["export", DIALOGUE], None)["recommendations"][0]["adopted_in_verdict"],
        "final"
    );
    assert_eq!(d.json(&["rebuild", DIALOGUE], None)[0]["commit"], 7);
    d.json(&["shred", DIALOGUE, "--yes"], None);
    let audit = d.json(&["audit", DIALOGUE], None);
    assert_eq!(
        (audit[0]["shredded"].as_bool(), audit[0]["problems"].clone()),
        (Some(true), json!([]))
    );
    // Validation errors look the same on every store.
    let rejected = d
        .dlg()
        .args(["round", DIALOGUE])
        .write_stdin(json!({"round": 5}).to_string())
        .assert()
        .code(6);
    assert!(String::from_utf8_lossy(&rejected.get_output().stderr).contains("shredded"));
}
