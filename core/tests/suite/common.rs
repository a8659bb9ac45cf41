//! Shared given-steps for dlg-core's tests: a dialogue with a panel and a registered round 0.

use dlg_core::append::{PrepareError, Receipt};
use dlg_core::command::Command;
use dlg_core::error::{ErrorCode, Rejected};
use dlg_core::testing::MemoryLedger;
use serde_json::{Value, json};

/// Parses a command from JSON the way agent tooling sends it.
pub fn command(value: Value) -> Command {
    serde_json::from_value(value).expect("test command is well-formed")
}

/// Given: a dialogue with experts muffin, cupcake and scone and nothing else.
pub fn given_panel() -> MemoryLedger {
    dlg_core::testing::random::given_panel("pm-repo-sync", 7)
}

/// Round 0 with one entity of every kind: P0001, P0002, R0001, T0001, T0002, E0001, C0001.
pub fn round_zero() -> Value {
    json!({
        "command": "register_round",
        "round": 0,
        "title": "Opening Arguments",
        "score": 65.0,
        "summary": "The panel framed the problem.",
        "experts": [
            {"expert": "muffin", "score": 9.0, "response": "[PERSPECTIVE P01: Schema is the boundary]"},
            {"expert": "cupcake", "score": 10.0}
        ],
        "perspectives": [
            {"id": "MUFFIN-P0001", "label": "Schema is the boundary", "content": "Introduce a DocSchema trait."},
            {"id": "CUPCAKE-P0001", "label": "Two-pass sync", "content": "depends_on needs deferred linking."}
        ],
        "recommendations": [
            {"id": "MUFFIN-R0001", "label": "Adopt DocSchema", "content": "A trait per schema.", "parameters": {"mode": "trait"}}
        ],
        "tensions": [
            {"id": "MUFFIN-T0001", "label": "Writeback granularity", "description": "Mutating the tree vs atomicity."},
            {"id": "CUPCAKE-T0001", "label": "First-sync safety", "description": "Dry run first?"}
        ],
        "evidence": [
            {"id": "SCONE-E0001", "label": "JiraBinding is RFC-specific", "content": "blue_uuid, task_key, epic_id"}
        ],
        "claims": [
            {"id": "SCONE-C0001", "label": "PM docs are wider", "content": "id, epic, status, points..."}
        ]
    })
}

/// Given: the panel and round 0 registered.
pub fn given_round_zero() -> MemoryLedger {
    let mut ledger = given_panel();
    ledger
        .run(&command(round_zero()))
        .expect("round 0 registers");
    ledger
}

/// When the command runs, then it is rejected: returns the rejection.
pub fn rejected(ledger: &mut MemoryLedger, value: Value) -> Rejected {
    let before = ledger.commits.len();
    let outcome = ledger.run(&command(value));
    assert_eq!(
        ledger.commits.len(),
        before,
        "a rejected command stores nothing"
    );
    match outcome {
        Err(PrepareError::Rejected(rejected)) => rejected,
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// When the command runs, then it is accepted: returns the receipt.
pub fn accepted(ledger: &mut MemoryLedger, value: Value) -> Receipt {
    match ledger.run(&command(value)) {
        Ok(receipt) => receipt,
        Err(e) => panic!("expected acceptance, got {e:#?}"),
    }
}

/// Asserts a rejection has exactly these codes, in order.
pub fn assert_codes(rejected: &Rejected, codes: &[ErrorCode]) {
    assert_eq!(rejected.codes(), codes, "errors: {:#?}", rejected.errors);
}

/// A round-1 registration with the given extra fields.
pub fn round_one(extra: Value) -> Value {
    let mut base = json!({"command": "register_round", "round": 1});
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    base
}
