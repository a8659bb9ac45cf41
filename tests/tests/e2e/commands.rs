//! Every command on its happy path, as people (text) and tools (`--json`) use them.

use std::os::unix::fs::PermissionsExt;

use dlg_tests::Sandbox;
use predicates::prelude::*;
use serde_json::json;

use crate::requests::*;

#[test]
fn create_from_flags_file_and_stdin_with_slug_suffixes() {
    let sandbox = Sandbox::new();
    sandbox
        .dlg()
        .args(["create", "--title", "PM repo sync", "--question", "How?"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "recorded commit 1 of pm-repo-sync",
        ));
    let file = sandbox.home.path().join("create.json");
    std::fs::write(&file, create().to_string()).unwrap();
    let second = run_json(&sandbox, &["create", file.to_str().unwrap()], None);
    assert_eq!(second["dialogue"], "pm-repo-sync-2");
    let third = run_json(&sandbox, &["create"], Some(&create()));
    assert_eq!(third["dialogue"], "pm-repo-sync-3");
    // The key file is created on first use, owner-only.
    let mode = std::fs::metadata(sandbox.key_file())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn register_rounds_answer_with_the_id_mapping() {
    let sandbox = Sandbox::new();
    run_json(&sandbox, &["create"], Some(&create()));
    let receipt = run_json(&sandbox, &["round", DIALOGUE], Some(&round_zero()));
    assert_eq!(receipt["commit"], 2);
    assert_eq!(receipt["id_mapping"]["MUFFIN-P0001"], "P0001");
    assert_eq!(receipt["id_mapping"]["CUPCAKE-P0001"], "P0002");
    assert_eq!(receipt["id_mapping"]["SCONE-T0001"], "T0002");
    let receipt = run_json(&sandbox, &["round", DIALOGUE], Some(&round_one()));
    assert_eq!(receipt["id_mapping"]["MUFFIN-P0101"], "P0101");
    // For people, the mapping is printed line by line.
    let file = sandbox.home.path().join("round2.json");
    std::fs::write(
        &file,
        json!({"round": 2, "perspectives": [{"id": "SCONE-P0201", "label": "late view"}]})
            .to_string(),
    )
    .unwrap();
    sandbox
        .dlg()
        .args(["round", DIALOGUE, file.to_str().unwrap()])
        .assert()
        .success()
        .stdout(predicate::str::contains("SCONE-P0201 → P0201"));
}

#[test]
fn experts_statuses_verdicts_and_dialogue_status() {
    let sandbox = recorded();
    run_json(
        &sandbox,
        &[
            "add-expert",
            DIALOGUE,
            "--slug",
            "eclair",
            "--role",
            "Security Engineer",
            "--creation-reason",
            "credentials came up",
        ],
        None,
    );
    run_json(
        &sandbox,
        &["add-expert", DIALOGUE],
        Some(
            &json!({"slug": "donut", "role": "Solo founder", "source": "pool", "tier": "Wildcard"}),
        ),
    );
    run_json(
        &sandbox,
        &[
            "status",
            DIALOGUE,
            "--id",
            "T0002",
            "--to",
            "addressed",
            "--by",
            "eclair",
            "--reason",
            "dry run",
        ],
        None,
    );
    run_json(
        &sandbox,
        &["status", DIALOGUE],
        Some(&json!({"updates": [{"id": "E0001", "status": "challenged", "by": "donut"}]})),
    );
    run_json(
        &sandbox,
        &["verdict", DIALOGUE],
        Some(
            &json!({"verdict_id": "final", "type": "final", "recommendation": "Adopt DocSchema",
                     "confidence": "strong", "vote": "4-1", "adopts": ["R0001"], "resolves": ["T0002"]}),
        ),
    );
    // The final verdict converged the dialogue.
    let list = run_json(&sandbox, &["list"], None);
    assert_eq!(list[0]["status"], "converged");
    assert_eq!(list[0]["rounds"], 2);
    assert_eq!(list[0]["open_tensions"], 0);
    let show = run_json(&sandbox, &["show", DIALOGUE], None);
    assert_eq!(show["experts"], 5);
    assert_eq!(show["verdicts"], 1);
    assert_eq!(show["entities"]["recommendations"]["adopted"], 1);
    sandbox
        .dlg()
        .args(["show", DIALOGUE])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("PM repo sync")
                .and(predicate::str::contains("Adopt DocSchema")),
        );
}

#[test]
fn tensions_by_dialogue_status_and_across_dialogues() {
    let sandbox = recorded();
    run_json(&sandbox, &["create"], Some(&create()));
    run_json(&sandbox, &["round", "pm-repo-sync-2"], Some(&round_zero()));
    let open = run_json(&sandbox, &["tensions", DIALOGUE], None);
    let ids: Vec<&str> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["T0002"]);
    let resolved = run_json(
        &sandbox,
        &["tensions", DIALOGUE, "--status", "resolved"],
        None,
    );
    assert_eq!(resolved[0]["id"], "T0001");
    assert_eq!(resolved[0]["addressed_by"], json!(["P0101"]));
    let everywhere = run_json(&sandbox, &["tensions"], None);
    assert_eq!(
        everywhere.as_array().unwrap().len(),
        3,
        "one open in the first, two in the second"
    );
    sandbox
        .dlg()
        .args(["tensions", DIALOGUE, "--all"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("Writeback granularity")
                .and(predicate::str::contains("First-sync safety")),
        );
}

#[test]
fn graph_in_every_format_and_as_of_a_commit() {
    let sandbox = recorded();
    let graph = run_json(
        &sandbox,
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
    let nodes: Vec<&str> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(nodes, ["P0001", "P0101", "T0001"]);
    assert_eq!(graph["edges"].as_array().unwrap().len(), 2);
    let only_refine = run_json(
        &sandbox,
        &["graph", DIALOGUE, "P0101", "--ref-type", "refine"],
        None,
    );
    assert_eq!(only_refine["edges"].as_array().unwrap().len(), 1);
    sandbox
        .dlg()
        .args(["graph", DIALOGUE, "--format", "mermaid"])
        .assert()
        .success()
        .stdout(
            predicate::str::starts_with("flowchart LR")
                .and(predicate::str::contains("P0101 -->|resolve| T0001")),
        );
    sandbox
        .dlg()
        .args(["graph", DIALOGUE, "--format", "dot"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "\"P0101\" -> \"T0001\" [label=\"resolve\"]",
        ));
    sandbox
        .dlg()
        .args(["graph", DIALOGUE, "T0001"])
        .assert()
        .success()
        .stdout(predicate::str::contains("P0101 --resolve--> T0001"));
    let before = run_json(&sandbox, &["graph", DIALOGUE, "--as-of", "2"], None);
    assert_eq!(before["commit"], 2);
    assert!(
        before["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["id"] != "P0101")
    );
}

#[test]
fn log_digest_audit_export_rebuild() {
    let sandbox = recorded();
    let log = run_json(&sandbox, &["log", DIALOGUE], None);
    assert_eq!(log.as_array().unwrap().len(), 3);
    assert_eq!(log[0]["events"][0]["content"]["title"], "PM repo sync");
    sandbox
        .dlg()
        .args(["log", DIALOGUE])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("PerspectiveAdded")
                .and(predicate::str::contains("Batch writeback")),
        );

    let digest = sandbox.dlg().args(["digest", DIALOGUE]).output().unwrap();
    let digest = String::from_utf8(digest.stdout).unwrap().trim().to_owned();
    assert!(digest.starts_with("pm-repo-sync@3:"), "{digest}");
    run_json(
        &sandbox,
        &["status", DIALOGUE, "--id", "T0002", "--to", "addressed"],
        None,
    );
    sandbox
        .dlg()
        .args(["audit", DIALOGUE, "--digest", &digest])
        .assert()
        .success()
        .stdout(predicate::str::contains("ok").and(predicate::str::contains("against the digest")));
    let audit = run_json(&sandbox, &["audit"], None);
    assert_eq!(audit[0]["problems"], json!([]));

    let export = run_json(&sandbox, &["export", DIALOGUE], None);
    assert_eq!(export["id"], DIALOGUE);
    assert_eq!(export["title"], "PM repo sync");
    assert_eq!(export["perspectives"].as_array().unwrap().len(), 3);
    assert_eq!(export["tensions"][0]["status"], "resolved");
    assert_eq!(export["perspectives"][2]["builds_on"], json!(["P0001"]));
    assert_eq!(export["experts"][1]["slug"], "muffin");
    let out = sandbox.home.path().join("dialogue.json");
    sandbox
        .dlg()
        .args(["export", DIALOGUE, "--out", out.to_str().unwrap()])
        .assert()
        .success();
    let written: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out).unwrap()).unwrap();
    assert_eq!(written, export);

    let rebuilt = run_json(&sandbox, &["rebuild"], None);
    assert_eq!(rebuilt[0]["commit"], 4);
}

#[test]
fn idempotent_retries_answer_the_original_receipt() {
    let sandbox = Sandbox::new();
    run_json(&sandbox, &["create"], Some(&create()));
    let first = run_json(
        &sandbox,
        &["--idempotency-key", "r0", "round", DIALOGUE],
        Some(&round_zero()),
    );
    let again = run_json(
        &sandbox,
        &["--idempotency-key", "r0", "round", DIALOGUE],
        Some(&round_zero()),
    );
    assert_eq!(again["commit"], first["commit"]);
    assert_eq!(again["hash"], first["hash"]);
    assert_eq!(again["id_mapping"], first["id_mapping"]);
    assert_eq!(again["replayed"], true);
    let other = sandbox
        .dlg()
        .args(["--json", "--idempotency-key", "r0", "round", DIALOGUE])
        .write_stdin(round_one().to_string())
        .assert()
        .code(7);
    let error: serde_json::Value = serde_json::from_slice(&other.get_output().stderr).unwrap();
    assert_eq!(error["error"]["kind"], "idempotency_mismatch");
    // A retried creation does not create a second dialogue.
    let created = run_json(
        &sandbox,
        &["--idempotency-key", "c1", "create"],
        Some(&create()),
    );
    let retried = run_json(
        &sandbox,
        &["--idempotency-key", "c1", "create"],
        Some(&create()),
    );
    assert_eq!(created["dialogue"], "pm-repo-sync-2");
    assert_eq!(retried["dialogue"], "pm-repo-sync-2");
    assert_eq!(
        run_json(&sandbox, &["list"], None)
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[test]
fn shred_keeps_structure_and_chain_verifiable() {
    let sandbox = recorded();
    sandbox.dlg().args(["shred", DIALOGUE]).assert().code(2);
    sandbox
        .dlg()
        .args(["shred", DIALOGUE, "--yes"])
        .assert()
        .success()
        .stdout(predicate::str::contains("1 data key(s) deleted"));
    let audit = sandbox.dlg().args(["audit", DIALOGUE]).assert().success();
    let text = String::from_utf8_lossy(&audit.get_output().stdout).to_string();
    assert!(text.contains("content shredded"), "{text}");
    let report = run_json(&sandbox, &["audit", DIALOGUE], None);
    assert_eq!(report[0]["shredded"], true);
    let export = run_json(&sandbox, &["export", DIALOGUE], None);
    assert_eq!(export["title"], serde_json::Value::Null);
    assert_eq!(
        export["tensions"][0]["status"], "resolved",
        "structure survives shredding"
    );
    let refused = sandbox
        .dlg()
        .args(["status", DIALOGUE, "--id", "T0002", "--to", "addressed"])
        .assert()
        .code(6);
    assert!(String::from_utf8_lossy(&refused.get_output().stderr).contains("shredded"));
}

#[test]
fn demo_records_and_audits_a_sample_dialogue() {
    let sandbox = Sandbox::new();
    sandbox.dlg().arg("demo").assert().success().stdout(
        predicate::str::contains("Tensions:")
            .and(predicate::str::contains("Graph around T0001"))
            .and(predicate::str::contains("graph matches the rebuild")),
    );
    let list = run_json(&sandbox, &["list"], None);
    assert_eq!(list[0]["status"], "converged");
}
