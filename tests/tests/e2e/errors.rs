//! Bad input of every kind: a clear error that says what is wrong and how to fix it, the right
//! exit code, machine-readable JSON for validation errors, and nothing stored.

use std::os::unix::fs::PermissionsExt;

use dlg_tests::Sandbox;
use predicates::prelude::*;
use serde_json::{Value, json};

use crate::requests::*;

fn commits(sandbox: &Sandbox) -> u64 {
    let digest = run_json(sandbox, &["digest", DIALOGUE], None);
    digest["commit"].as_u64().unwrap()
}

/// Sends a round registration that must be rejected; returns the JSON errors from stderr.
fn rejected_round(sandbox: &Sandbox, request: &Value) -> Value {
    let before = commits(sandbox);
    let assert = sandbox
        .dlg()
        .args(["round", DIALOGUE])
        .write_stdin(request.to_string())
        .assert()
        .code(3);
    let errors: Value = serde_json::from_slice(&assert.get_output().stderr).unwrap_or_else(|e| {
        panic!(
            "stderr is not JSON ({e}): {}",
            String::from_utf8_lossy(&assert.get_output().stderr)
        )
    });
    assert_eq!(
        commits(sandbox),
        before,
        "a rejected request stores nothing"
    );
    errors
}

#[test]
fn one_case_per_validation_code() {
    let sandbox = recorded();
    let cases = [
        (
            "invalid_entity_type",
            json!({"round": 2, "perspectives": [{"id": "MUFFIN-X0201", "label": "x"}]}),
        ),
        (
            "invalid_ref_type",
            json!({"round": 2, "references": [{"source": "P0001", "type": "endorse", "target": "P0002"}]}),
        ),
        (
            "type_id_mismatch",
            json!({"round": 2, "tensions": [{"id": "MUFFIN-P0201", "label": "x"}]}),
        ),
        (
            "target_not_found",
            json!({"round": 2, "references": [{"source": "P0001", "type": "support", "target": "P0042"}]}),
        ),
        (
            "invalid_ref_target",
            json!({"round": 2, "references": [{"source": "P0001", "type": "address", "target": "E0001"}]}),
        ),
        (
            "refine_type_mismatch",
            json!({"round": 2, "references": [{"source": "C0001", "type": "refine", "target": "P0001"}]}),
        ),
        (
            "invalid_status_transition",
            json!({"round": 2, "status_updates": [{"id": "T0001", "status": "open"}]}),
        ),
    ];
    for (code, request) in cases {
        let errors = rejected_round(&sandbox, &request);
        assert_eq!(errors["errors"][0]["code"], code, "{errors:#}");
        assert!(errors["errors"][0]["field"].is_string());
        assert!(
            errors["errors"][0]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
    }
}

#[test]
fn every_error_of_a_batch_at_once() {
    let sandbox = recorded();
    let errors = rejected_round(
        &sandbox,
        &json!({"round": 2,
                "perspectives": [{"id": "MUFFIN-P0201", "label": "x", "contributors": ["mufin"],
                                  "references": [{"type": "resolve", "target": "P0001"}]}],
                "status_updates": [{"id": "T0009", "status": "resolved"}]}),
    );
    let codes: Vec<&str> = errors["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        ["target_not_found", "invalid_ref_target", "unknown_expert"]
    );
    assert_eq!(errors["errors"][2]["suggestion"], "did you mean `muffin`?");
}

#[test]
fn malformed_json_is_a_validation_error_with_a_position() {
    let sandbox = recorded();
    let assert = sandbox
        .dlg()
        .args(["round", DIALOGUE])
        .write_stdin("{\"round\": 2,")
        .assert()
        .code(3);
    let errors: Value = serde_json::from_slice(&assert.get_output().stderr).unwrap();
    assert_eq!(errors["errors"][0]["code"], "malformed_request");
    assert!(
        errors["errors"][0]["field"]
            .as_str()
            .unwrap()
            .starts_with("line 1")
    );
    // Unknown fields are refused too, so typos never pass silently.
    let assert = sandbox
        .dlg()
        .args(["round", DIALOGUE])
        .write_stdin(json!({"round": 2, "perspectivs": []}).to_string())
        .assert()
        .code(3);
    let errors: Value = serde_json::from_slice(&assert.get_output().stderr).unwrap();
    assert!(
        errors["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("perspectivs")
    );
    let file = sandbox.home.path().join("missing.json");
    sandbox
        .dlg()
        .args(["round", DIALOGUE, file.to_str().unwrap()])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("cannot read request file"));
}

#[test]
fn an_unknown_dialogue_or_entity_is_not_found() {
    let sandbox = recorded();
    for args in [
        vec!["show", "no-such-dialogue"],
        vec!["log", "no-such-dialogue"],
        vec!["audit", "no-such-dialogue"],
        vec!["export", "no-such-dialogue"],
        vec!["graph", DIALOGUE, "P0999"],
        vec!["show", "Not A Slug"],
    ] {
        sandbox
            .dlg()
            .args(&args)
            .assert()
            .code(4)
            .stderr(predicate::str::is_empty().not());
    }
    let assert = sandbox
        .dlg()
        .args(["--json", "round", "no-such-dialogue"])
        .write_stdin(round_zero().to_string())
        .assert()
        .code(4);
    let error: Value = serde_json::from_slice(&assert.get_output().stderr).unwrap();
    assert_eq!(error["error"]["kind"], "not_found");
}

#[test]
fn an_oversize_batch_is_refused_with_the_size_and_the_fix() {
    let sandbox = recorded();
    let big = "x".repeat(20_000);
    let perspectives: Vec<Value> = (1..=30)
        .map(|i| json!({"id": format!("MUFFIN-P02{i:02}"), "label": "big", "content": big}))
        .collect();
    let before = commits(&sandbox);
    sandbox
        .dlg()
        .args(["round", DIALOGUE])
        .write_stdin(json!({"round": 2, "perspectives": perspectives}).to_string())
        .assert()
        .code(3)
        .stderr(
            predicate::str::contains("over the limit of 400000 bytes")
                .and(predicate::str::contains("split the batch")),
        );
    assert_eq!(commits(&sandbox), before);
}

#[test]
fn a_missing_key_file_is_refused_and_never_silently_replaced() {
    let sandbox = recorded();
    std::fs::remove_file(sandbox.key_file()).unwrap();
    let key_path = sandbox.key_file().display().to_string();
    for args in [vec!["show", DIALOGUE], vec!["list"]] {
        sandbox.dlg().args(&args).assert().code(6).stderr(
            predicate::str::contains(key_path.as_str()).and(predicate::str::contains("restore")),
        );
    }
    assert!(
        !sandbox.key_file().exists(),
        "no new key was created over existing data"
    );
}

#[test]
fn a_wrong_key_is_refused_naming_the_file() {
    let sandbox = recorded();
    std::fs::write(sandbox.key_file(), [9u8; 32]).unwrap();
    let key_path = sandbox.key_file().display().to_string();
    let assert = sandbox
        .dlg()
        .args(["--json", "show", DIALOGUE])
        .assert()
        .code(6)
        .stderr(predicate::str::contains(key_path.as_str()));
    let error: Value = serde_json::from_slice(&assert.get_output().stderr).unwrap();
    assert_eq!(error["error"]["kind"], "wrong_key");
    sandbox
        .dlg()
        .args(["round", DIALOGUE])
        .write_stdin(json!({"round": 2}).to_string())
        .assert()
        .code(6);
    sandbox.dlg().args(["audit", DIALOGUE]).assert().code(6);
}

#[test]
fn a_damaged_or_loose_key_file_is_refused_with_the_fix() {
    let sandbox = recorded();
    let key = sandbox.key_file();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    sandbox
        .dlg()
        .args(["list"])
        .assert()
        .code(6)
        .stderr(predicate::str::contains("chmod 600"));
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    std::fs::write(&key, b"short").unwrap();
    sandbox
        .dlg()
        .args(["list"])
        .assert()
        .code(6)
        .stderr(predicate::str::contains("is 5 bytes, not 32"));
}

#[test]
fn usage_errors_exit_2() {
    let sandbox = recorded();
    sandbox
        .dlg()
        .args(["graph", DIALOGUE, "--format", "svg"])
        .assert()
        .code(2);
    sandbox
        .dlg()
        .args(["tensions", DIALOGUE, "--status", "closed"])
        .assert()
        .code(2);
    sandbox
        .dlg()
        .args(["audit", DIALOGUE, "--digest", "nonsense"])
        .assert()
        .code(2);
    sandbox
        .dlg()
        .args(["create", "--title", "only a title"])
        .assert()
        .code(2);
}
