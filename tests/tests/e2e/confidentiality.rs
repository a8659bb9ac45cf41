//! A canary registered through every content field never appears in the SQLite files.

use dlg_tests::Sandbox;
use serde_json::json;

use crate::requests::*;

const CANARY: &str = "CANARY-7f3a9c2e-do-not-store-in-clear";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn content_never_reaches_the_files_in_clear() {
    let sandbox = Sandbox::new();
    let c = |field: &str| format!("{CANARY} {field}");
    run_json(
        &sandbox,
        &["create"],
        Some(
            &json!({"title": "Canary dialogue", "question": c("question"),
                     "experts": [{"slug": "muffin", "role": c("role"), "description": c("description"), "focus": c("focus")}]}),
        ),
    );
    let dialogue = "canary-dialogue";
    run_json(
        &sandbox,
        &["add-expert", dialogue],
        Some(
            &json!({"slug": "scone", "role": c("role2"), "creation_reason": c("creation reason")}),
        ),
    );
    run_json(
        &sandbox,
        &["round", dialogue],
        Some(&json!({
            "round": 0, "title": c("round title"), "summary": c("summary"),
            "experts": [{"expert": "muffin", "response": c("raw response")}],
            "perspectives": [{"id": "MUFFIN-P0001", "label": c("label"), "content": c("content")}],
            "recommendations": [{"id": "MUFFIN-R0001", "label": c("r label"), "content": c("r content"),
                                  "parameters": {"secret": c("parameters")}}],
            "tensions": [{"id": "SCONE-T0001", "label": c("t label"), "description": c("t description")}],
            "evidence": [{"id": "SCONE-E0001", "label": c("e label"), "content": c("e content")}],
            "claims": [{"id": "SCONE-C0001", "label": c("c label"), "content": c("c content")}],
            "moves": [{"expert": "muffin", "move": "defend", "targets": ["MUFFIN-P0001"], "context": c("move context")}],
            "status_updates": [{"id": "SCONE-T0001", "status": "addressed", "by": "muffin", "reason": c("reason")}]
        })),
    );
    run_json(
        &sandbox,
        &["verdict", dialogue],
        Some(
            &json!({"verdict_id": "final", "type": "final", "recommendation": c("verdict"),
                     "description": c("verdict description"), "conditions": [c("condition")]}),
        ),
    );
    run_json(
        &sandbox,
        &[
            "dialogue-status",
            dialogue,
            "abandoned",
            "--reason",
            &c("status reason"),
        ],
        None,
    );

    // Positive control: the content is really in the ledger.
    let export = run_json(&sandbox, &["export", dialogue], None);
    assert!(export.to_string().matches(CANARY).count() >= 20);

    let mut files = 0;
    for entry in std::fs::read_dir(sandbox.home.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !contains(&bytes, CANARY.as_bytes()),
            "{} holds the canary in clear",
            path.display()
        );
        files += 1;
    }
    assert!(files >= 2, "the database and the key file were checked");
}

#[test]
fn a_shredded_data_key_is_gone_from_the_files() {
    let sandbox = crate::requests::recorded();
    let wrapped: String = rusqlite::Connection::open(sandbox.database())
        .unwrap()
        .query_row("SELECT wrapped FROM keys", [], |row| row.get(0))
        .unwrap();
    let wrapped: serde_json::Value = serde_json::from_str(&wrapped).unwrap();
    let bytes = wrapped["bytes"].as_str().unwrap().to_owned();
    sandbox
        .dlg()
        .args(["shred", DIALOGUE, "--yes"])
        .assert()
        .success();
    for entry in std::fs::read_dir(sandbox.home.path()).unwrap() {
        let path = entry.unwrap().path();
        let content = std::fs::read(&path).unwrap();
        assert!(
            !contains(&content, bytes.as_bytes()),
            "{} still holds the wrapped data key",
            path.display()
        );
    }
}
