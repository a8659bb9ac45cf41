//! `dlg mcp` driven by a real MCP client that is not ours: the official Python SDK, installed by
//! the test into a virtual environment, acting as a Judge. Using only MCP tools it runs a whole
//! dialogue of five experts and four rounds: the context before each round, each round drafted
//! from marker text and registered (one bad reference refused and fixed, one retry replayed),
//! convergence falling, a premature final verdict refused and an accepted one, the dialogue
//! converged, the scoreboard, entities and the export read back; then `dlg audit` is clean.

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
            "draft_round",
            "export_dialogue",
            "get_entity",
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
            "draft_round",
            "export_dialogue",
            "get_entity",
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

    // Before each round, the context shows the state as of its start, falling velocity, and who
    // sat in the round before.
    let contexts = seen["contexts"].as_array().unwrap();
    let unsettled: Vec<&Value> = contexts.iter().map(|c| &c["open"]).collect();
    assert_eq!(
        unsettled,
        [
            &json!([]),
            &json!(["T0001", "T0002"]),
            &json!(["T0101", "T0102"]),
            &json!(["T0102"])
        ]
    );
    assert_eq!(contexts[3]["velocities"], json!([5, 4, 2]));
    assert_eq!(contexts[2]["velocity_falling"], true);
    assert_eq!(contexts[3]["velocity_falling"], true);
    assert_eq!(contexts[1]["previous_panel"].as_array().unwrap().len(), 5);

    // Drafted from marker text: status changes from RESOLVED and ACKNOWLEDGED, converge moves,
    // a reference to an earlier round's local id, nothing left unmapped.
    let drafts = seen["drafts"].as_array().unwrap();
    assert!(
        drafts.iter().all(|d| d["warnings"] == json!([])),
        "{drafts:?}"
    );
    assert_eq!(
        drafts[1]["status_updates"],
        json!([["T0001", "resolved"], ["T0002", "resolved"]])
    );
    assert_eq!(
        drafts[2]["status_updates"],
        json!([["T0101", "resolved"], ["T0102", "addressed"]])
    );
    assert_eq!(
        drafts
            .iter()
            .map(|d| d["moves"].clone())
            .collect::<Vec<_>>(),
        [json!(0), json!(0), json!(3), json!(4)]
    );
    assert_eq!(seen["supported_by"], json!([["P0102", "support"]]));
    let receipts = seen["receipts"].as_array().unwrap();
    assert_eq!(receipts[0]["mapping"]["CUPCAKE-T0001"], "T0001");
    assert_eq!(receipts[1]["mapping"]["MUFFIN-P0101"], "P0101");
    assert_eq!(
        receipts[3]["notes"],
        json!(["round 3: panel member `donut` has no response and no score"])
    );
    assert_eq!(
        seen["rejected"],
        json!([[
            "invalid_ref_target",
            "perspectives[0].references[0].target",
            "use support or oppose for a perspective target"
        ]])
    );

    // Convergence: falling velocity, a rising converge share, a refused premature final verdict.
    assert_eq!(seen["velocities"], json!([5, 4, 2, 1]));
    assert_eq!(seen["converged_share"], json!([0.0, 0.0, 0.6, 0.8]));
    assert_eq!(seen["velocity_falling"], true);
    assert_eq!(
        seen["blockers_before_verdict"],
        json!([
            {"blocker": "open_tension", "id": "T0102", "status": "addressed"},
            {"blocker": "not_converged", "expert": "donut", "round": 3}
        ])
    );
    assert_eq!(seen["premature"], json!([["tensions_open", ["T0102"]]]));
    assert_eq!(seen["status_after_verdict"], json!(["converged"]));
    assert_eq!(seen["late_round"], json!(["dialogue_closed"]));
    assert_eq!(seen["exported_status"], "converged");

    // The scoreboard, with scone's last score made of its dimensions (1 + 1 + 0.5 + 0.5).
    assert_eq!(
        seen["leaderboard"],
        json!([
            ["scone", 24.0],
            ["muffin", 21.0],
            ["eclair", 17.0],
            ["cupcake", 13.0],
            ["donut", 10.0]
        ])
    );
    assert_eq!(
        seen["scone_dimensions"],
        json!([{"wisdom": 1.0, "consistency": 1.0, "truth": 0.5, "relationships": 0.5}])
    );
    assert_eq!(
        seen["entity"],
        json!({
            "status": "resolved",
            "label": "Schema drift",
            "addressed_by": ["P0101"],
            "events": [["created", 0, null], ["resolved", 1, "P0101"]]
        })
    );
    assert_eq!(seen["after"]["status"], "converged");
    assert_eq!(
        seen["after"]["panel"][4],
        json!(["donut", "retained", "kept to hear a dissent"])
    );
    assert_eq!(
        seen["after"]["gaps"],
        json!(["`donut` has no response and no score"])
    );

    let missing = seen["missing_says"].as_str().unwrap();
    assert!(
        missing.contains("`list_dialogues`") && !missing.contains("dlg list"),
        "{missing}"
    );
    assert_eq!(seen["open_tensions"], json!(["T0102"]));
    assert_eq!(seen["exported"], json!({"perspectives": 6, "tensions": 4}));

    let dialogue = seen["dialogue"].as_str().unwrap();
    let audit = run_json(&sandbox, &["audit", dialogue], None);
    assert_eq!(audit[0]["problems"], json!([]));
    assert_eq!(
        audit[0]["commits"], 6,
        "create, four rounds, the verdict: rejected requests stored nothing"
    );
}
