//! Requests as agent tooling sends them, and a helper that records a small dialogue.

use dlg_tests::Sandbox;
use serde_json::{Value, json};

/// The dialogue id the standard creation request gets.
pub const DIALOGUE: &str = "pm-repo-sync";

pub fn create() -> Value {
    json!({
        "title": "PM repo sync",
        "question": "How should sync treat PM repos as the source of truth?",
        "experts": [
            {"slug": "muffin", "role": "DevTools Architect", "tier": "Core", "relevance": 0.95},
            {"slug": "cupcake", "role": "PM Domain Expert", "tier": "Core", "relevance": 0.92},
            {"slug": "scone", "role": "Data Modeling Specialist", "tier": "Adjacent", "relevance": 0.9}
        ]
    })
}

pub fn round_zero() -> Value {
    json!({
        "round": 0,
        "title": "Opening Arguments",
        "score": 65.0,
        "summary": "The panel framed the problem.",
        "experts": [{"expert": "muffin", "score": 9.0, "response": "raw response text"}],
        "perspectives": [
            {"id": "MUFFIN-P0001", "label": "Schema is the boundary", "content": "Introduce a DocSchema trait."},
            {"id": "CUPCAKE-P0001", "label": "Two-pass sync", "content": "depends_on needs deferred linking.",
             "references": [{"type": "support", "target": "MUFFIN-P0001"}]}
        ],
        "recommendations": [{"id": "MUFFIN-R0001", "label": "Adopt DocSchema", "parameters": {"mode": "trait"}}],
        "tensions": [
            {"id": "MUFFIN-T0001", "label": "Writeback granularity", "description": "Mutating the tree vs atomicity."},
            {"id": "SCONE-T0001", "label": "First-sync safety", "description": "Dry run first?"}
        ],
        "evidence": [{"id": "SCONE-E0001", "label": "Binding is RFC-specific"}],
        "claims": [{"id": "SCONE-C0001", "label": "PM docs are wider"}],
        "moves": [{"expert": "muffin", "move": "defend", "targets": ["MUFFIN-P0001"]}]
    })
}

pub fn round_one() -> Value {
    json!({
        "round": 1,
        "title": "Refinement",
        "score": 80.0,
        "perspectives": [
            {"id": "MUFFIN-P0101", "label": "Batch writeback", "content": "One commit after all API calls.",
             "references": [{"type": "resolve", "target": "T0001"}, {"type": "refine", "target": "P0001"}]}
        ],
        "status_updates": [
            {"id": "T0001", "status": "resolved", "by": ["muffin"], "via": "MUFFIN-P0101", "reason": "batched"}
        ]
    })
}

/// Runs `dlg ARGS` with `stdin`, asserting success; returns stdout parsed as JSON.
pub fn run_json(sandbox: &Sandbox, args: &[&str], stdin: Option<&Value>) -> Value {
    json_of(sandbox.dlg(), args, stdin)
}

/// Runs a prepared `dlg` command with `--json ARGS` and `stdin`, asserting success; returns
/// stdout parsed as JSON.
pub fn json_of(mut command: assert_cmd::Command, args: &[&str], stdin: Option<&Value>) -> Value {
    command.arg("--json").args(args);
    if let Some(input) = stdin {
        command.write_stdin(input.to_string());
    }
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "dlg {args:?} failed ({:?}):\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "dlg {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// A sandbox with the standard dialogue created and rounds 0 and 1 registered.
pub fn recorded() -> Sandbox {
    let sandbox = Sandbox::new();
    run_json(&sandbox, &["create", "-"], Some(&create()));
    run_json(&sandbox, &["round", DIALOGUE], Some(&round_zero()));
    run_json(&sandbox, &["round", DIALOGUE], Some(&round_one()));
    sandbox
}

/// The problems of one `dlg --json audit` report, as (commit, kind).
pub fn problems_of(report: &Value) -> Vec<(u64, String)> {
    report["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["commit"].as_u64().unwrap(),
                p["kind"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The kind of the JSON error a refused `dlg` run printed on stderr.
pub fn error_kind(command: assert_cmd::Command, args: &[&str]) -> String {
    let mut command = command;
    let assert = command.arg("--json").args(args).assert().failure();
    // The JSON body is the last line; a warning (a data directory others can read) may precede it.
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let error: Value = stderr
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .next_back()
        .unwrap_or_else(|| panic!("no JSON error on stderr: {stderr}"));
    error["error"]["kind"].as_str().unwrap().to_owned()
}

/// A commit's bytes with the actor the tests write (`e2e-test`) rewritten to `mallory`: the
/// attacker's edit of clear structure.
pub fn actor_rewritten(bytes: Vec<u8>) -> Vec<u8> {
    assert!(bytes.windows(18).any(|w| w == b"\"actor\":\"e2e-test\""));
    String::from_utf8(bytes)
        .unwrap()
        .replacen("\"actor\":\"e2e-test\"", "\"actor\":\"mallory\"", 1)
        .into_bytes()
}
