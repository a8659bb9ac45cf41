//! `dlg mcp` driven by a real MCP client that is not ours: the official Python SDK, installed by
//! the test into a virtual environment. It lists the tools, creates a dialogue, registers two
//! rounds with local ids and references, gets a validation error for a bad reference and fixes
//! it, registers a verdict, and reads back open tensions; then `dlg audit` is clean.

use dlg_tests::Sandbox;
use serde_json::{Value, json};

use crate::requests::run_json;

#[test]
fn the_official_python_client_runs_a_dialogue_over_mcp() {
    let sandbox = Sandbox::new();
    let python = dlg_tests::mcp_python();
    let client = dlg_tests::repo_root().join("tests/mcp/client.py");
    let output = std::process::Command::new(python)
        .arg(&client)
        .arg(dlg_tests::dlg_bin())
        .arg(sandbox.home.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the MCP client failed:\n{}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        seen["tools"],
        json!([
            "add_expert",
            "create_dialogue",
            "export_dialogue",
            "list_dialogues",
            "query_graph",
            "register_round",
            "register_verdict",
            "round_context",
            "scoreboard",
            "set_dialogue_status",
            "update_statuses"
        ])
    );
    assert_eq!(
        seen["read_only"],
        json!([
            "export_dialogue",
            "list_dialogues",
            "query_graph",
            "round_context",
            "scoreboard"
        ])
    );
    assert_eq!(
        seen["context_options"],
        json!([
            "budget",
            "dialogue",
            "kinds",
            "responses",
            "round",
            "unsettled_only"
        ])
    );
    assert_eq!(seen["responses_enum"], json!(["none", "last", "all"]));
    assert_eq!(seen["depth_maximum"], 6);
    assert_eq!(seen["premature"], json!([["tensions_open", ["T0002"]]]));
    assert_eq!(seen["status_after_verdict"], json!(["converged"]));
    assert_eq!(seen["velocities"], json!([3, 2]));
    assert_eq!(seen["leader"], "cupcake");
    let missing = seen["missing_says"].as_str().unwrap();
    assert!(
        missing.contains("`list_dialogues`") && !missing.contains("dlg list"),
        "{missing}"
    );
    assert_eq!(seen["round0_mapping"]["CUPCAKE-T0002"], "T0002");
    assert_eq!(seen["rejected_codes"], json!(["invalid_ref_target"]));
    assert_eq!(
        seen["suggestion"],
        "use support or oppose for a perspective target"
    );
    assert_eq!(seen["round1_mapping"]["MUFFIN-P0101"], "P0101");
    assert_eq!(seen["open_tensions"], json!(["T0002"]));
    assert_eq!(
        seen["neighbours_of_T0001"],
        json!(["P0001", "P0101", "T0001"])
    );
    assert_eq!(seen["exported_tensions"], 2);

    let dialogue = seen["dialogue"].as_str().unwrap();
    let audit = run_json(&sandbox, &["audit", dialogue], None);
    assert_eq!(audit[0]["problems"], json!([]));
    assert_eq!(
        audit[0]["commits"], 4,
        "create, round 0, round 1, verdict: the rejected batch stored nothing"
    );
}
