//! Every command of the embedded store, run with `--store dynamodb` against DynamoDB Local:
//! projecting in-process (`--projector inline`), and with the stream runner (`dlg project`)
//! keeping the graph table current as the Lambda does in AWS.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use dlg_tests::Sandbox;
use predicates::prelude::*;
use serde_json::{Value, json};

use crate::requests::*;

struct Dynamo {
    sandbox: Sandbox,
    endpoint: String,
    prefix: String,
    _tables: dlg_tests::DropTables,
}

impl Dynamo {
    fn new() -> Self {
        let endpoint = dlg_tests::shared_dynamodb().to_owned();
        let prefix = dlg_tests::unique_prefix("cli");
        Self {
            sandbox: Sandbox::new(),
            _tables: dlg_tests::DropTables::with_prefix(&endpoint, &prefix),
            endpoint,
            prefix,
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

    /// `dlg` projecting in-process after each append and before each read.
    fn inline(&self) -> assert_cmd::Command {
        let mut command = self.dlg();
        command.env("DLG_PROJECTOR", "inline");
        command
    }

    /// Starts `dlg --store dynamodb project` (the local stream runner) in the background.
    fn stream_runner(&self) -> Runner {
        let child = std::process::Command::new(dlg_tests::dlg_bin())
            .args(["--store", "dynamodb", "project", "--interval-ms", "100"])
            .env("DLG_DYNAMODB_ENDPOINT", &self.endpoint)
            .env("DLG_TABLE_PREFIX", &self.prefix)
            .env("DLG_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the stream runner starts");
        Runner(child)
    }

    fn json(&self, args: &[&str], stdin: Option<&Value>) -> Value {
        json_of(self.inline(), args, stdin)
    }
}

/// The stream runner process, killed when the test ends.
struct Runner(Child);

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `read` until it succeeds and `done` holds of its JSON, for at most 30 s.
fn eventually(read: impl Fn() -> Option<Value>, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        if let Some(value) = read().filter(|v| done(v)) {
            return value;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the stream projector did not make the change visible within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn the_stream_runner_makes_appends_visible_to_reads_without_another_step() {
    let d = Dynamo::new();
    d.json(&["init-tables"], None);
    let _runner = d.stream_runner();
    // The writer (stream mode, the default on DynamoDB) never writes the graph table.
    json_of(d.dlg(), &["create"], Some(&create()));
    json_of(d.dlg(), &["round", DIALOGUE], Some(&round_zero()));
    let read = |args: &[&str]| {
        let output = d.dlg().args(args).arg("--json").output().ok()?;
        output
            .status
            .success()
            .then(|| serde_json::from_slice(&output.stdout).ok())
            .flatten()
    };
    let shown = eventually(|| read(&["show", DIALOGUE]), |v| v["rounds"] == 1);
    assert_eq!(shown["experts"], 3);
    // Round 1 lands; its entities appear in the graph while the runner runs.
    json_of(d.dlg(), &["round", DIALOGUE], Some(&round_one()));
    let graph = eventually(
        || {
            read(&[
                "graph",
                DIALOGUE,
                "P0101",
                "--depth",
                "1",
                "--direction",
                "out",
            ])
        },
        |v| v["edges"].as_array().is_some_and(|e| e.len() == 2),
    );
    assert_eq!(graph["nodes"].as_array().unwrap().len(), 3);
    // Open tensions across dialogues come from the graph table's index.
    let tensions = eventually(
        || read(&["tensions"]),
        |v| v.as_array().is_some_and(|t| !t.is_empty()),
    );
    assert_eq!(tensions[0]["dialogue"], DIALOGUE);
    // The projection equals a rebuild from the events table.
    let audit = json_of(d.dlg(), &["audit", DIALOGUE], None);
    assert_eq!(audit[0]["problems"], json!([]));
    assert_eq!(audit[0]["warnings"], json!([]));
}

#[test]
fn without_a_projector_reads_say_the_graph_is_not_projected_yet() {
    let d = Dynamo::new();
    d.json(&["init-tables"], None);
    json_of(d.dlg(), &["create"], Some(&create()));
    d.dlg().args(["show", DIALOGUE]).assert().code(1).stderr(
        predicate::str::contains("no projected graph yet").and(predicate::str::contains("project")),
    );
    // `dlg project --once` drains the stream; then the read works.
    let drained = json_of(d.dlg(), &["project", "--once"], None);
    assert_eq!(drained["applied"], 1);
    assert_eq!(json_of(d.dlg(), &["show", DIALOGUE], None)["experts"], 3);
}

#[test]
fn every_command_works_on_dynamodb() {
    let d = Dynamo::new();
    d.inline().arg("list").assert().code(1).stderr(
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
        Some(&json!({"verdict_id": "final", "type": "final", "recommendation": "ship", "adopts": ["R0001"],
                     "tensions_accepted": ["T0002"]})),
    );

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
    d.inline()
        .args(["graph", DIALOGUE, "--format", "dot"])
        .assert()
        .success()
        .stdout(predicate::str::contains("digraph"));
    assert_eq!(
        d.json(&["log", DIALOGUE], None).as_array().unwrap().len(),
        6
    );
    let digest = d.json(&["digest", DIALOGUE], None);
    assert_eq!(digest["commit"], 6);
    assert_eq!(d.json(&["audit", DIALOGUE], None)[0]["problems"], json!([]));
    assert_eq!(
        d.json(&["export", DIALOGUE], None)["recommendations"][0]["adopted_in_verdict"],
        "final"
    );
    assert_eq!(d.json(&["rebuild", DIALOGUE], None)[0]["commit"], 6);
    d.json(&["shred", DIALOGUE, "--yes"], None);
    let audit = d.json(&["audit", DIALOGUE], None);
    assert_eq!(
        (audit[0]["shredded"].as_bool(), audit[0]["problems"].clone()),
        (Some(true), json!([]))
    );
    // Validation errors look the same on every store.
    let rejected = d
        .inline()
        .args(["round", DIALOGUE])
        .write_stdin(json!({"round": 5}).to_string())
        .assert()
        .code(6);
    assert!(String::from_utf8_lossy(&rejected.get_output().stderr).contains("shredded"));
}
