//! The `dialogue.json` export of docs/dialogue.md, produced from the graph alone. Sealed content is
//! opened through a caller-supplied function (core holds no keys); content that cannot be opened
//! (a shredded dialogue) is exported as `null`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::graph::{Graph, NodeItem, SealedCopy};
use crate::ids::{EntityId, EntityKind, ExpertSlug};
use crate::model::RefType;
use crate::query::Direction;

/// Opens sealed content, or `None` when it cannot be opened.
pub type Opener<'a> = &'a dyn Fn(&SealedCopy) -> Option<Map<String, Value>>;

fn field(opener: Opener<'_>, copy: Option<&SealedCopy>, name: &str) -> Value {
    copy.and_then(opener)
        .and_then(|mut map| map.remove(name))
        .unwrap_or(Value::Null)
}

/// The export of one dialogue.
pub fn dialogue_json(graph: &Graph, opener: Opener<'_>) -> Value {
    let meta = graph.meta.as_ref();
    let meta_content = meta.and_then(|m| m.content.as_ref());
    let experts: Vec<Value> = graph
        .experts
        .values()
        .map(|e| {
            let profile = e.profile.as_ref();
            let scores: Map<String, Value> = e
                .scores
                .iter()
                .map(|(r, s)| (r.to_string(), json!(s)))
                .collect();
            json!({
                "slug": e.expert,
                "role": field(opener, profile, "role"),
                "description": field(opener, profile, "description"),
                "focus": field(opener, profile, "focus"),
                "tier": e.tier,
                "source": e.source,
                "creation_reason": field(opener, profile, "creation_reason"),
                "relevance": e.relevance,
                "color": e.color,
                "first_round": e.first_round,
                "scores": scores,
                "total": crate::graph::total(e.scores.values().copied()),
            })
        })
        .collect();

    let mut export = json!({
        "id": graph.dialogue,
        "title": field(opener, meta_content, "title"),
        "question": field(opener, meta_content, "question"),
        "date": meta.map(|m| m.created_at.get(..10).unwrap_or(&m.created_at).to_owned()),
        "created_at": meta.map(|m| m.created_at.clone()),
        "status": meta.map(|m| m.status),
        "totalRounds": graph.total_rounds(),
        "totalAlignment": graph.total_alignment(),
        "experts": experts,
        "rounds_data": rounds_data(graph, opener),
        "verdicts": verdicts(graph, opener),
    });
    if let Some(object) = export.as_object_mut() {
        for kind in EntityKind::ALL {
            let entities: Vec<Value> = graph
                .entities(Some(kind), &[])
                .into_iter()
                .map(|node| entity(graph, node, opener))
                .collect();
            object.insert(kind.plural().to_owned(), Value::Array(entities));
        }
    }
    export
}

fn targets(graph: &Graph, id: EntityId, ref_types: &[RefType]) -> Vec<String> {
    graph
        .neighbours(id, Direction::Out, ref_types)
        .into_iter()
        .map(|n| n.other.to_string())
        .collect()
}

fn entity(graph: &Graph, node: &NodeItem, opener: Opener<'_>) -> Value {
    let content = node.content.as_ref();
    let text_name = if node.kind == EntityKind::Tension {
        "description"
    } else {
        "content"
    };
    let mut events = vec![json!({
        "type": "created",
        "round": node.round,
        "by": node.contributors,
        "at": node.created_at,
    })];
    for change in &node.history {
        events.push(json!({
            "type": change.to,
            "from": change.from,
            "round": change.round,
            "by": change.actors,
            "reference": change.via,
            "reason": field(opener, change.reason.as_ref(), "reason"),
            "at": change.time,
        }));
    }
    let related_perspectives: Vec<String> = graph
        .neighbours(node.id, Direction::Both, &[])
        .into_iter()
        .filter(|n| n.other.kind() == EntityKind::Perspective)
        .map(|n| n.other.to_string())
        .collect();
    let mut value = json!({
        "id": node.id,
        "local_id": node.local_id,
        "label": field(opener, content, "label"),
        text_name: field(opener, content, text_name),
        "status": node.status,
        "origin": {"round": node.round, "contributors": node.contributors},
        "events": events,
        "relatedPerspectives": related_perspectives,
        "addresses_tensions": targets(graph, node.id, &[RefType::Address, RefType::Resolve, RefType::Reopen]),
        "builds_on": targets(graph, node.id, &[RefType::Refine]),
        "supports": targets(graph, node.id, &[RefType::Support]),
        "opposes": targets(graph, node.id, &[RefType::Oppose]),
        "questions": targets(graph, node.id, &[RefType::Question]),
        "depends_on": targets(graph, node.id, &[RefType::Depend]),
    });
    if node.kind == EntityKind::Recommendation
        && let Some(object) = value.as_object_mut()
    {
        object.insert(
            "parameters".to_owned(),
            field(opener, content, "parameters"),
        );
        object.insert(
            "adopted_in_verdict".to_owned(),
            json!(graph.adopted_in_verdict(node.id)),
        );
    }
    value
}

/// One entity as `dialogue.json` exports it, with everything around it: its references both
/// ways (with the round each was made in), its refinement lineage, the moves that name it,
/// what addressed it (tensions), and the verdicts its status changed through. `None` when the
/// dialogue has no such entity.
pub fn entity_json(graph: &Graph, id: EntityId, opener: Opener<'_>) -> Option<Value> {
    let node = graph.nodes.get(&id)?;
    let mut value = entity(graph, node, opener);
    let references = |direction: Direction| -> Vec<Value> {
        graph
            .neighbours(id, direction, &[])
            .into_iter()
            .map(|n| json!({"type": n.edge.ref_type, "entity": n.other, "round": n.edge.round}))
            .collect()
    };
    let moves: Vec<Value> = graph
        .moves
        .values()
        .filter(|m| m.targets.contains(&id))
        .map(|m| {
            json!({"round": m.round, "expert": m.expert, "move": m.kind,
                "context": field(opener, m.context.as_ref(), "context")})
        })
        .collect();
    let verdicts: Vec<&str> = node
        .history
        .iter()
        .filter_map(|c| c.via.as_deref())
        .filter(|via| graph.verdicts.contains_key(*via))
        .collect();
    if let Some(object) = value.as_object_mut() {
        object.insert("kind".to_owned(), json!(node.kind));
        object.insert(
            "references_out".to_owned(),
            json!(references(Direction::Out)),
        );
        object.insert("references_in".to_owned(), json!(references(Direction::In)));
        object.insert("lineage".to_owned(), json!(graph.lineage(id)));
        object.insert("moves".to_owned(), json!(moves));
        object.insert("verdicts".to_owned(), json!(verdicts));
        if node.kind == EntityKind::Tension {
            object.insert("addressed_by".to_owned(), json!(graph.addressed_by(id)));
        }
    }
    Some(value)
}

fn rounds_data(graph: &Graph, opener: Opener<'_>) -> Vec<Value> {
    graph
        .rounds
        .values()
        .map(|round| {
            let mut per_expert: BTreeMap<String, Vec<Value>> = BTreeMap::new();
            for node in graph.nodes.values().filter(|n| n.round == round.round) {
                for contributor in &node.contributors {
                    per_expert
                        .entry(contributor.to_string())
                        .or_default()
                        .push(json!({
                            "type": node.kind,
                            "action": match node.kind {
                                EntityKind::Perspective => "added",
                                EntityKind::Recommendation => "proposed",
                                EntityKind::Tension => "raised",
                                EntityKind::Evidence => "cited",
                                EntityKind::Claim => "asserted",
                            },
                            "id": node.id,
                        }));
                }
            }
            for node in graph.nodes.values() {
                for change in node.history.iter().filter(|c| c.round == round.round) {
                    for actor in &change.actors {
                        per_expert.entry(actor.clone()).or_default().push(json!({
                            "type": node.kind,
                            "action": change.to,
                            "id": node.id,
                            "via": change.via,
                        }));
                    }
                }
            }
            for m in graph.moves.values().filter(|m| m.round == round.round) {
                per_expert
                    .entry(m.expert.to_string())
                    .or_default()
                    .push(json!({
                        "type": "move",
                        "action": m.kind,
                        "targets": m.targets,
                        "context": field(opener, m.context.as_ref(), "context"),
                    }));
            }
            let experts: Map<String, Value> = per_expert
                .into_iter()
                .map(|(expert, actions)| {
                    let score = expert_score(graph, &expert, round.round);
                    let mut entry = json!({"score": score, "actions": actions});
                    if let Some(dimensions) = ExpertSlug::parse(&expert)
                        .ok()
                        .and_then(|slug| graph.experts.get(&slug))
                        .and_then(|e| e.dimensions.get(&round.round))
                    {
                        entry["dimensions"] = json!(dimensions);
                    }
                    (expert, entry)
                })
                .collect();
            let reasons = field(opener, round.title.as_ref(), "reasons");
            let panel: Vec<Value> = round
                .panel
                .iter()
                .map(|seat| {
                    json!({"expert": seat.expert, "source": seat.source,
                        "reason": reasons.get(seat.expert.as_str())})
                })
                .collect();
            json!({
                "round": round.round,
                "title": field(opener, round.title.as_ref(), "title"),
                "status": round.status,
                "score": round.score,
                "summary": field(opener, round.summary.as_ref(), "summary"),
                "panel": panel,
                "experts": experts,
            })
        })
        .collect()
}

fn expert_score(graph: &Graph, expert: &str, round: u8) -> Option<f64> {
    graph
        .experts
        .values()
        .find(|e| e.expert.as_str() == expert)
        .and_then(|e| e.scores.get(&round).copied())
}

fn verdicts(graph: &Graph, opener: Opener<'_>) -> Vec<Value> {
    graph
        .verdicts
        .values()
        .map(|v| {
            let context = graph.verdict_context(&v.verdict);
            let content = v.content.as_ref();
            json!({
                "verdict_id": v.verdict,
                "type": v.verdict_type,
                "round": v.round,
                "author_expert": v.author_expert,
                "recommendation": field(opener, content, "recommendation"),
                "description": field(opener, content, "description"),
                "conditions": field(opener, content, "conditions"),
                "vote": v.vote,
                "confidence": v.confidence,
                "supporting_experts": v.supporting_experts,
                "issued_at": v.issued_at,
                "resolved": context.as_ref().map(|c| c.resolved.clone()),
                "adopted": context.as_ref().map(|c| c.adopted.clone()),
            })
        })
        .collect()
}
