//! The dialogues the sections measure: scripted rounds, and dialogues of a given size.

use dlg_core::command::{Command, CreateDialogue};
use dlg_core::commit::EncodedCommit;
use dlg_core::testing::MemoryLedger;
use dlg_core::testing::random::given_panel;
use dlg_store::CommitRow;
use serde_json::json;

/// A realistic round: 16 perspectives, 8 tensions and 6 recommendations with argument-length
/// content, and 10 references between them — about 40 events and 20 KB stored.
pub(crate) fn round(number: u8) -> Command {
    let argument =
        "The argument, with its premises, the evidence cited and the trade-off it accepts. ";
    let experts = ["MUFFIN", "CUPCAKE", "SCONE"];
    let perspectives: Vec<_> = (1..=16u8)
        .map(|i| {
            json!({"id": format!("{}-P{number:02}{i:02}", experts[usize::from(i) % 3]),
                   "label": format!("perspective {i} of round {number}"),
                   "content": argument.repeat(6)})
        })
        .collect();
    let tensions: Vec<_> = (1..=8u8)
        .map(|i| {
            json!({"id": format!("{}-T{number:02}{i:02}", experts[usize::from(i) % 3]),
                   "label": format!("tension {i}"), "description": argument.repeat(3)})
        })
        .collect();
    let recommendations: Vec<_> = (1..=6u8)
        .map(|i| {
            json!({"id": format!("{}-R{number:02}{i:02}", experts[usize::from(i) % 3]),
                   "label": format!("recommendation {i}"), "content": argument.repeat(2),
                   "parameters": {"rollout": "staged", "weight": i}})
        })
        .collect();
    let references: Vec<_> = (2..=11u8)
        .map(|i| {
            json!({"source": format!("{}-P{number:02}{i:02}", experts[usize::from(i) % 3]),
                   "type": "support", "target": format!("{}-P{number:02}01", experts[1])})
        })
        .collect();
    serde_json::from_value(json!({
        "command": "register_round", "round": number, "title": format!("Round {number}"),
        "score": 50.0, "summary": "synthesis of the round",
        "perspectives": perspectives, "tensions": tensions,
        "recommendations": recommendations, "references": references,
    }))
    .unwrap()
}

pub(crate) fn create() -> CreateDialogue {
    serde_json::from_value(json!({
        "title": "Benchmark dialogue",
        "question": "How fast is the ledger next to its limits?",
        "experts": [{"slug": "muffin", "role": "Architect"}, {"slug": "cupcake", "role": "Domain"},
                    {"slug": "scone", "role": "Data"}]
    }))
    .unwrap()
}

/// A dialogue of `rounds` realistic rounds, in memory.
pub(crate) fn dialogue(id: &str, rounds: u8) -> MemoryLedger {
    let mut ledger = given_panel(id, 7);
    for number in 0..rounds {
        ledger.run(&round(number)).unwrap();
    }
    ledger
}

pub(crate) fn row_of(commit: &EncodedCommit) -> CommitRow {
    CommitRow::of(commit)
}

/// A dialogue of `entities` entities: rounds of up to 297 (a round holds at most 99 of a kind:
/// 99 perspectives, each supporting the one before it, 99 tensions, each opposing the
/// perspective of its number, and 99 claims), spread over the three experts.
pub(crate) fn sized_dialogue(id: &str, entities: usize) -> MemoryLedger {
    let mut ledger = given_panel(id, 5);
    let experts = ["MUFFIN", "CUPCAKE", "SCONE"];
    let local =
        |kind: char, number: u8, i: usize| format!("{}-{kind}{number:02}{i:02}", experts[i % 3]);
    let mut left = entities;
    let mut number = 0u8;
    while left > 0 {
        let mut take = || {
            let n = left.min(99);
            left -= n;
            n
        };
        let (p, t, c) = (take(), take(), take());
        let perspectives: Vec<_> = (1..=p)
            .map(|i| {
                json!({"id": local('P', number, i), "label": format!("perspective {i}"),
                            "content": "the argument in a sentence or two"})
            })
            .collect();
        let references: Vec<_> = (2..=p)
            .map(|i| json!({"source": local('P', number, i), "type": "support", "target": local('P', number, i - 1)}))
            .collect();
        let tensions: Vec<_> = (1..=t)
            .map(|i| json!({"id": local('T', number, i), "label": format!("tension {i}"),
                            "description": "what does not fit yet",
                            "references": [{"type": "oppose", "target": local('P', number, i.min(p))}]}))
            .collect();
        let claims: Vec<_> = (1..=c)
            .map(|i| json!({"id": local('C', number, i), "label": format!("claim {i}"), "content": "a claim"}))
            .collect();
        let command: Command = serde_json::from_value(json!({
            "command": "register_round", "round": number, "title": format!("Round {number}"),
            "score": 1.0, "perspectives": perspectives, "tensions": tensions, "claims": claims,
            "references": references,
        }))
        .unwrap();
        ledger.run(&command).unwrap();
        number += 1;
    }
    ledger
}
