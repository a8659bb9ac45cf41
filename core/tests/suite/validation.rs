//! Given a dialogue, when a command is sent, then it is accepted with the right events and ids,
//! or rejected with every error, each with its code, field, value, options and suggestion.

use dlg_core::error::ErrorCode::{self, *};
use dlg_core::event::EventBody;
use dlg_core::ids::EntityId;
use dlg_core::model::{RefType, Status};
use serde_json::json;

use crate::common::*;

fn id(text: &str) -> EntityId {
    EntityId::parse(text).unwrap()
}

#[test]
fn bulk_registration_maps_local_ids_in_registration_order_and_stores_global_ids() {
    let mut ledger = given_round_zero();
    let receipt = accepted(
        &mut ledger,
        round_one(json!({
            "perspectives": [
                {"id": "MUFFIN-P0101", "label": "Writeback is a batch", "content": "One commit after all calls.",
                 "references": [{"type": "address", "target": "T0001"}]},
                {"id": "CUPCAKE-P0101", "label": "Agree, batch it", "content": "Builds on Muffin.",
                 "references": [{"type": "support", "target": "MUFFIN-P0101"}, {"type": "refine", "target": "P0002"}]}
            ],
            "tensions": [{"id": "SCONE-T0101", "label": "Lock refs", "description": "Push access to lock refs."}],
            "references": [{"source": "SCONE-T0101", "type": "depend", "target": "CUPCAKE-P0101"}],
            "moves": [{"expert": "cupcake", "move": "bridge", "targets": ["MUFFIN-P0101", "T0001"], "context": "joins both"}],
            "status_updates": [
                {"id": "T0001", "status": "resolved", "by": ["muffin", "cupcake"], "via": "MUFFIN-P0101", "reason": "batched"},
                {"id": "P0002", "status": "refined", "by": "cupcake", "via": "CUPCAKE-P0101"}
            ]
        })),
    );
    let mapping: Vec<(&str, &str)> = receipt
        .id_mapping
        .iter()
        .map(|(l, g)| (l.as_str(), g.as_str()))
        .collect();
    assert_eq!(
        mapping,
        [
            ("CUPCAKE-P0101", "P0102"),
            ("MUFFIN-P0101", "P0101"),
            ("SCONE-T0101", "T0101")
        ]
    );

    let graph = &ledger.graph;
    let stored_refs: Vec<(String, RefType, String)> = graph
        .edges
        .keys()
        .map(|(s, r, t)| (s.to_string(), *r, t.to_string()))
        .collect();
    assert_eq!(
        stored_refs,
        [
            ("P0101".to_owned(), RefType::Address, "T0001".to_owned()),
            ("P0102".to_owned(), RefType::Refine, "P0002".to_owned()),
            ("P0102".to_owned(), RefType::Support, "P0101".to_owned()),
            ("T0101".to_owned(), RefType::Depend, "P0102".to_owned()),
        ]
    );
    let t0001 = &graph.nodes[&id("T0001")];
    assert_eq!(t0001.status, Status::Resolved);
    assert_eq!(
        t0001.history[0].via.as_deref(),
        Some("P0101"),
        "via is stored as a global id"
    );
    assert_eq!(t0001.history[0].actors, ["muffin", "cupcake"]);
    assert_eq!(graph.nodes[&id("P0002")].status, Status::Refined);
    assert_eq!(
        graph.nodes[&id("P0102")].contributors[0].as_str(),
        "cupcake"
    );
    let the_move = graph.moves.values().next().unwrap();
    assert_eq!(the_move.targets, [id("P0101"), id("T0001")]);

    // Everything stored under global ids only: no local id appears in any clear structure
    // except the entity's own `local_id`.
    let last = &ledger.commits.last().unwrap().commit;
    for event in &last.events {
        if let EventBody::ReferenceAdded { source, target, .. } = &event.body {
            assert!(graph.nodes.contains_key(source) && graph.nodes.contains_key(target));
        }
    }
}

#[test]
fn a_batch_with_three_different_errors_reports_all_three_and_stores_nothing() {
    let mut ledger = given_round_zero();
    let rejection = rejected(
        &mut ledger,
        round_one(json!({
            "perspectives": [
                {"id": "MUFFIN-P0101", "label": "x", "references": [
                    {"type": "supports", "target": "P0001"},
                    {"type": "resolve", "target": "P0002"}
                ]}
            ],
            "status_updates": [{"id": "P0001", "status": "adopted"}]
        })),
    );
    assert_codes(
        &rejection,
        &[InvalidRefType, InvalidRefTarget, InvalidStatusTransition],
    );
    let ref_type = &rejection.errors[0];
    assert_eq!(ref_type.field, "perspectives[0].references[0].type");
    assert_eq!(ref_type.value, json!("supports"));
    assert!(ref_type.valid_options.contains(&"support".to_owned()));
    assert_eq!(
        ref_type.suggestion.as_deref(),
        Some("did you mean `support`?")
    );
    let target = &rejection.errors[1];
    assert_eq!(
        target.suggestion.as_deref(),
        Some("use support or oppose for a perspective target")
    );
    let transition = &rejection.errors[2];
    assert_eq!(transition.field, "status_updates[0].status");
    assert_eq!(transition.valid_options, ["refined", "conceded", "merged"]);
}

/// One case per code: the request, the code expected, the field it names.
#[test]
fn every_validation_code_is_reported_with_its_field() {
    let cases: Vec<(&str, serde_json::Value, ErrorCode, &str)> = vec![
        (
            "a type letter that is not P R T E C",
            round_one(json!({"perspectives": [{"id": "MUFFIN-X0101", "label": "x"}]})),
            InvalidEntityType,
            "perspectives[0].id",
        ),
        (
            "a reference to an id with an unknown type letter",
            round_one(json!({"perspectives": [{"id": "MUFFIN-P0101", "label": "x",
                "references": [{"type": "support", "target": "Q0001"}]}]})),
            InvalidEntityType,
            "perspectives[0].references[0].target",
        ),
        (
            "a ref_type outside the table",
            round_one(
                json!({"references": [{"source": "P0001", "type": "contradicts", "target": "P0002"}]}),
            ),
            InvalidRefType,
            "references[0].type",
        ),
        (
            "a tension id listed among perspectives",
            round_one(json!({"perspectives": [{"id": "MUFFIN-T0101", "label": "x"}]})),
            TypeIdMismatch,
            "perspectives[0].id",
        ),
        (
            "a global id that does not exist",
            round_one(
                json!({"references": [{"source": "P0001", "type": "support", "target": "P0099"}]}),
            ),
            TargetNotFound,
            "references[0].target",
        ),
        (
            "a local id that is not in the batch",
            round_one(json!({"perspectives": [{"id": "MUFFIN-P0101", "label": "x",
                "references": [{"type": "support", "target": "SCONE-P0101"}]}]})),
            TargetNotFound,
            "perspectives[0].references[0].target",
        ),
        (
            "address aimed at a recommendation",
            round_one(
                json!({"references": [{"source": "P0001", "type": "address", "target": "R0001"}]}),
            ),
            InvalidRefTarget,
            "references[0].target",
        ),
        (
            "a perspective refining evidence",
            round_one(
                json!({"references": [{"source": "P0001", "type": "refine", "target": "E0001"}]}),
            ),
            RefineTypeMismatch,
            "references[0].target",
        ),
        (
            "a tension that cannot be refined",
            round_one(json!({"status_updates": [{"id": "T0001", "status": "refined"}]})),
            InvalidStatusTransition,
            "status_updates[0].status",
        ),
        (
            "a contributor who is not on the panel",
            round_one(
                json!({"perspectives": [{"id": "MUFFIN-P0101", "label": "x", "contributors": ["mufin"]}]}),
            ),
            UnknownExpert,
            "perspectives[0].contributors[0]",
        ),
        (
            "the same local id twice",
            round_one(
                json!({"perspectives": [{"id": "MUFFIN-P0101", "label": "x"}, {"id": "MUFFIN-P0101", "label": "y"}]}),
            ),
            Duplicate,
            "perspectives[1].id",
        ),
        (
            "a reference that already exists",
            round_one(json!({"references": [
                {"source": "P0001", "type": "support", "target": "P0002"},
                {"source": "P0001", "type": "support", "target": "P0002"}]})),
            Duplicate,
            "references[1]",
        ),
        (
            "a local id naming another round",
            round_one(json!({"perspectives": [{"id": "MUFFIN-P0201", "label": "x"}]})),
            InvalidRound,
            "perspectives[0].id",
        ),
        (
            "a round registered twice",
            json!({"command": "register_round", "round": 0}),
            InvalidRound,
            "round",
        ),
        (
            "a round beyond 99",
            json!({"command": "register_round", "round": 100}),
            InvalidRound,
            "round",
        ),
        (
            "an id that is neither local nor global",
            round_one(
                json!({"references": [{"source": "P0001", "type": "support", "target": "perspective-1"}]}),
            ),
            InvalidId,
            "references[0].target",
        ),
        (
            "an empty label",
            round_one(json!({"perspectives": [{"id": "MUFFIN-P0101", "label": " "}]})),
            InvalidValue,
            "perspectives[0].label",
        ),
        (
            "an unknown move",
            round_one(
                json!({"moves": [{"expert": "muffin", "move": "attack", "targets": ["P0001"]}]}),
            ),
            InvalidValue,
            "moves[0].move",
        ),
        (
            "a defend move without targets",
            round_one(json!({"moves": [{"expert": "muffin", "move": "defend"}]})),
            InvalidValue,
            "moves[0].targets",
        ),
        (
            "a mid-dialogue expert without a reason",
            json!({"command": "add_expert", "slug": "eclair", "role": "Security"}),
            InvalidValue,
            "creation_reason",
        ),
        (
            "an expert already on the panel",
            json!({"command": "add_expert", "slug": "muffin", "role": "again", "source": "pool"}),
            Duplicate,
            "slug",
        ),
        (
            "a verdict type outside the set",
            json!({"command": "register_verdict", "verdict_id": "final", "type": "binding", "recommendation": "x"}),
            InvalidValue,
            "type",
        ),
        (
            "a verdict adopting a tension",
            json!({"command": "register_verdict", "verdict_id": "V01", "type": "interim", "recommendation": "x",
                   "adopts": ["T0001"]}),
            TypeIdMismatch,
            "adopts[0]",
        ),
        (
            "a dialogue going back to open",
            json!({"command": "change_dialogue_status", "status": "open"}),
            InvalidStatusTransition,
            "status",
        ),
    ];
    for (what, request, code, field) in cases {
        let mut ledger = given_round_zero();
        let rejection = rejected(&mut ledger, request);
        assert_eq!(rejection.codes(), [code], "{what}: {:#?}", rejection.errors);
        assert_eq!(rejection.errors[0].field, field, "{what}");
        assert!(!rejection.errors[0].message.is_empty(), "{what}");
    }
}

#[test]
fn too_many_entities_of_one_kind_in_a_round() {
    let mut ledger = given_round_zero();
    let perspectives: Vec<_> = (1..=100)
        .map(|i| json!({"id": format!("MUFFIN-P01{:02}", i % 100), "label": "x"}))
        .collect();
    let rejection = rejected(
        &mut ledger,
        round_one(json!({ "perspectives": perspectives })),
    );
    assert_codes(&rejection, &[TooManyEntities]);
}

#[test]
fn nothing_is_recorded_in_a_closed_dialogue() {
    let mut ledger = given_round_zero();
    accepted(
        &mut ledger,
        json!({"command": "change_dialogue_status", "status": "converged"}),
    );
    let rejection = rejected(&mut ledger, round_one(json!({})));
    assert_codes(&rejection, &[DialogueClosed]);
    let rejection = rejected(
        &mut ledger,
        json!({"command": "change_dialogue_status", "status": "abandoned"}),
    );
    assert_codes(&rejection, &[InvalidStatusTransition]);
}

#[test]
fn a_local_id_of_an_earlier_round_resolves_through_the_stored_mapping() {
    let mut ledger = given_round_zero();
    let receipt = accepted(
        &mut ledger,
        round_one(
            json!({"perspectives": [{"id": "MUFFIN-P0101", "label": "Evidence holds",
            "references": [{"type": "support", "target": "SCONE-E0001"}]}],
            "status_updates": [{"id": "CUPCAKE-T0001", "status": "addressed", "by": "muffin",
                "via": "MUFFIN-P0101"}]}),
        ),
    );
    assert_eq!(receipt.id_mapping["MUFFIN-P0101"], "P0101");
    let graph = &ledger.graph;
    assert!(
        graph
            .neighbours(id("P0101"), dlg_core::query::Direction::Out, &[])
            .iter()
            .any(|n| n.other == id("E0001") && n.edge.ref_type == RefType::Support),
        "the round-0 local id names E0001"
    );
    assert_eq!(graph.nodes[&id("T0002")].status, Status::Addressed);
}

#[test]
fn an_unknown_local_id_suggests_one_of_the_same_kind() {
    let mut ledger = given_round_zero();
    let rejection = rejected(
        &mut ledger,
        round_one(
            json!({"recommendations": [{"id": "MUFFIN-R0101", "label": "x",
            "references": [{"type": "support", "target": "SCONE-E0002"}]}]}),
        ),
    );
    assert_codes(&rejection, &[TargetNotFound]);
    assert_eq!(
        rejection.errors[0].suggestion.as_deref(),
        Some("did you mean `SCONE-E0001`?"),
        "the suggestion is an evidence id, not the recommendation making the reference"
    );
}

#[test]
fn an_unknown_expert_gets_a_did_you_mean() {
    let mut ledger = given_round_zero();
    let rejection = rejected(
        &mut ledger,
        round_one(json!({"experts": [{"expert": "mufin", "score": 3.0}]})),
    );
    assert_codes(&rejection, &[UnknownExpert]);
    assert_eq!(
        rejection.errors[0].suggestion.as_deref(),
        Some("did you mean `muffin`?")
    );
    assert_eq!(
        rejection.errors[0].valid_options,
        ["cupcake", "muffin", "scone"]
    );
}

#[test]
fn an_expert_created_mid_dialogue_joins_and_can_contribute() {
    let mut ledger = given_round_zero();
    accepted(
        &mut ledger,
        json!({"command": "add_expert", "slug": "eclair", "role": "Security Engineer", "tier": "Wildcard",
               "relevance": 0.68, "creation_reason": "credentials came up in round 0"}),
    );
    accepted(
        &mut ledger,
        round_one(json!({"perspectives": [{"id": "ECLAIR-P0101", "label": "Keyring, not .env"}]})),
    );
    assert_eq!(
        ledger.graph.nodes[&id("P0101")].contributors[0].as_str(),
        "eclair"
    );
}

#[test]
fn a_verdict_adopts_and_resolves_through_status_changes() {
    let mut ledger = given_round_zero();
    accepted(
        &mut ledger,
        json!({"command": "register_verdict", "verdict_id": "final", "type": "final",
               "recommendation": "Adopt DocSchema", "conditions": ["two-pass sync"], "vote": "3-0",
               "confidence": "unanimous", "adopts": ["R0001"], "resolves": ["T0001", "T0002"]}),
    );
    let context = ledger.graph.verdict_context("final").unwrap();
    assert_eq!(context.adopted, [id("R0001")]);
    assert_eq!(context.resolved, [id("T0001"), id("T0002")]);
    assert_eq!(ledger.graph.adopted_in_verdict(id("R0001")), Some("final"));
    // The final verdict converged the dialogue: it takes nothing more.
    assert_eq!(
        ledger.graph.meta.as_ref().unwrap().status,
        dlg_core::model::DialogueStatus::Converged
    );
    let again = rejected(
        &mut ledger,
        json!({"command": "register_verdict", "verdict_id": "V02", "type": "interim", "recommendation": "again"}),
    );
    assert_codes(&again, &[DialogueClosed]);
}

#[test]
fn a_verdict_id_is_issued_once() {
    let mut ledger = given_round_zero();
    let interim = json!({"command": "register_verdict", "verdict_id": "V01", "type": "interim", "recommendation": "so far"});
    accepted(&mut ledger, interim.clone());
    assert_codes(&rejected(&mut ledger, interim), &[Duplicate]);
}

/// A final verdict over open tensions is refused, naming them, unless it resolves them, accepts
/// them as left open (`tensions_accepted`) or is forced; what it accepted or forced is recorded.
#[test]
fn a_final_verdict_settles_or_accepts_every_open_tension() {
    let final_verdict = |extra: serde_json::Value| {
        let mut request = json!({"command": "register_verdict", "verdict_id": "final",
                                 "type": "final", "recommendation": "ship"});
        request
            .as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        request
    };
    let mut ledger = given_round_zero();
    let refused = rejected(&mut ledger, final_verdict(json!({"resolves": ["T0001"]})));
    assert_codes(&refused, &[TensionsOpen]);
    assert_eq!(refused.errors[0].valid_options, ["T0002"]);
    assert!(refused.errors[0].message.contains("T0002"), "{refused:?}");

    let wrong = rejected(
        &mut ledger,
        final_verdict(json!({"resolves": ["T0001"], "tensions_accepted": ["T0001", "P0001"]})),
    );
    assert_codes(&wrong, &[InvalidValue, InvalidValue, TensionsOpen]);
    let interim = rejected(
        &mut ledger,
        json!({"command": "register_verdict", "verdict_id": "V01", "type": "interim",
               "recommendation": "x", "tensions_accepted": ["T0002"]}),
    );
    assert_codes(&interim, &[InvalidValue]);

    let mut accepting = given_round_zero();
    accepted(
        &mut accepting,
        final_verdict(json!({"resolves": ["T0001"], "tensions_accepted": ["T0002"]})),
    );
    let verdict = &accepting.graph.verdicts["final"];
    assert_eq!(verdict.tensions_accepted, [id("T0002")]);
    assert!(!verdict.forced);
    assert_eq!(
        accepting.graph.meta.as_ref().unwrap().status,
        dlg_core::model::DialogueStatus::Converged
    );
    let after = rejected(&mut accepting, round_one(json!({})));
    assert_codes(&after, &[DialogueClosed]);

    let mut forcing = given_round_zero();
    accepted(&mut forcing, final_verdict(json!({"force": true})));
    assert!(forcing.graph.verdicts["final"].forced);
}

#[test]
fn rounds_are_registered_in_order() {
    let mut ledger = given_round_zero();
    let skipped = rejected(
        &mut ledger,
        json!({"command": "register_round", "round": 3}),
    );
    assert_codes(&skipped, &[InvalidRound]);
    assert!(
        skipped.errors[0].message.contains("skip rounds 1 to 2"),
        "{skipped:?}"
    );
    assert_eq!(
        skipped.errors[0].suggestion.as_deref(),
        Some("register round 1 next")
    );
}

#[test]
fn creating_a_dialogue_twice_is_refused() {
    let ledger = given_panel();
    let create = serde_json::from_value(json!({"title": "x", "question": "y"})).unwrap();
    let rejection = dlg_core::command::decide_create(&ledger.graph, &create).unwrap_err();
    assert_codes(&rejection, &[DialogueExists]);
}

#[test]
fn dialogue_ids_take_suffixes_when_taken() {
    let taken = ["pm-repo-sync", "pm-repo-sync-2"];
    let id = dlg_core::command::dialogue_id_for("PM repo sync", |s| taken.contains(&s)).unwrap();
    assert_eq!(id.as_str(), "pm-repo-sync-3");
    let none_left = dlg_core::command::dialogue_id_for("PM repo sync", |_| true).unwrap_err();
    assert_codes(&none_left, &[DialogueExists]);
    let no_letters = dlg_core::command::dialogue_id_for("!!!", |_| false).unwrap_err();
    assert_codes(&no_letters, &[InvalidValue]);
}

#[test]
fn the_rejection_reads_well_as_json() {
    let mut ledger = given_round_zero();
    let rejection = rejected(
        &mut ledger,
        round_one(
            json!({"references": [{"source": "P0001", "type": "resolve", "target": "P0002"}]}),
        ),
    );
    let text = serde_json::to_string_pretty(&rejection).unwrap();
    expect_test::expect![[r#"
        {
          "errors": [
            {
              "code": "invalid_ref_target",
              "field": "references[0].target",
              "value": "P0002",
              "message": "`resolve` points at tensions only, and P0002 is a perspective",
              "valid_options": [
                "support",
                "oppose",
                "question",
                "depend"
              ],
              "suggestion": "use support or oppose for a perspective target"
            }
          ]
        }"#]]
    .assert_eq(&text);
}

#[test]
fn a_round_records_its_panel_and_the_receipt_names_who_gave_nothing() {
    let mut ledger = given_round_zero();
    // Round 0 seated the whole panel; scone gave neither response nor score.
    let round_zero = &ledger.graph.rounds[&0];
    assert_eq!(round_zero.panel.len(), 3);
    let receipt = accepted(
        &mut ledger,
        round_one(json!({
            "panel": [{"expert": "muffin", "reason": "keeps the schema view"},
                      {"expert": "scone", "source": "retained"}],
            "experts": [{"expert": "muffin", "response": "[PERSPECTIVE P01: x]",
                         "dimensions": {"wisdom": 3.0, "truth": 2.5}}]
        })),
    );
    assert_eq!(
        receipt.notes,
        ["round 1: panel member `scone` has no response and no score"]
    );
    let seats: Vec<(String, &str)> = ledger.graph.rounds[&1]
        .panel
        .iter()
        .map(|s| (s.expert.to_string(), s.source.as_str()))
        .collect();
    assert_eq!(
        seats,
        [
            ("muffin".to_owned(), "retained"),
            ("scone".to_owned(), "retained")
        ]
    );
    let muffin = &ledger.graph.experts[&dlg_core::ids::ExpertSlug::parse("muffin").unwrap()];
    assert_eq!(
        muffin.scores[&1], 5.5,
        "the score defaults to the dimensions' sum"
    );
    assert_eq!(muffin.dimensions[&1].wisdom, Some(3.0));
    assert_eq!(muffin.dimensions[&1].consistency, None);
}

#[test]
fn a_panel_is_checked_seat_by_seat_and_responses_come_from_it() {
    let mut ledger = given_panel();
    let rejection = rejected(
        &mut ledger,
        json!({"command": "register_round", "round": 0,
            "panel": [{"expert": "muffin", "source": "retained"}, {"expert": "cupcake", "source": "guest"},
                      {"expert": "mufin"}, {"expert": "muffin"}],
            "experts": [{"expert": "scone", "score": 1.0,
                         "dimensions": {"wisdom": 1e300}}],
            "moves": [{"expert": "scone", "move": "converge"}]}),
    );
    // panel[3] seats muffin, whose seat in panel[0] was refused; errors are ordered by code.
    let fields: Vec<(ErrorCode, &str)> = rejection
        .errors
        .iter()
        .map(|e| (e.code, e.field.as_str()))
        .collect();
    assert_eq!(
        fields,
        [
            (UnknownExpert, "panel[2].expert"),
            (InvalidValue, "panel[0].source"),
            (InvalidValue, "panel[1].source"),
            (InvalidValue, "experts[0].expert"),
            (InvalidValue, "moves[0].expert"),
            (InvalidValue, "experts[0].dimensions.wisdom"),
        ]
    );
    assert_eq!(
        rejection.errors[2].valid_options,
        ["retained", "pool", "created"]
    );
    assert_eq!(rejection.errors[1].valid_options, ["pool", "created"]);
}
