//! Planning an import: from a dialogue folder's files ([`Archive`]) to every command that
//! importing it runs ([`Plan`]). Pure: no I/O, and never fails on content — what it cannot
//! understand is imported as raw content and reported as a warning.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use dlg_core::archive::{self, Block, Marker, TensionRow};
use dlg_core::command::{CreateDialogue, RegisterRound};
use dlg_core::graph::Graph;
use dlg_core::ids::{EntityKind, LocalId, MAX_SEQ, slugify};
use dlg_core::model::{RefType, tension_is_open};

use super::folder::Archive;
use super::{Plan, UNKNOWN_ROLE};

/// A tension as the plan tracks it: its global id and planned status.
#[derive(Debug, Clone)]
struct PlannedTension {
    global: String,
    /// Local id within its registration batch (usable in that batch).
    local: String,
    round: u8,
    status: &'static str,
}

fn words(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.len() > 2)
        .map(str::to_lowercase)
        .collect()
}

fn similarity(a: &str, b: &str) -> f64 {
    let (a, b) = (words(a), words(b));
    let shared = a.intersection(&b).count() as f64;
    let union = a.union(&b).count() as f64;
    if union == 0.0 { 0.0 } else { shared / union }
}

fn short(text: &str, limit: usize) -> String {
    let line = text
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if line.chars().count() <= limit {
        line.to_owned()
    } else {
        format!("{}…", line.chars().take(limit).collect::<String>())
    }
}

/// The ledger status a `tensions.md` status word maps to (ADR 0010).
fn tension_status(word: &str) -> Option<&'static str> {
    match word.trim().to_lowercase().as_str() {
        "resolved" | "closed" | "done" => Some("resolved"),
        "deferred" | "addressed" | "acknowledged" | "parked" => Some("addressed"),
        "reopened" => Some("reopened"),
        "open" => Some("open"),
        _ => None,
    }
}

/// Builds the plan for one dialogue folder from its files. Never fails on content: what it
/// cannot understand is kept as raw content and reported in `warnings`.
pub fn plan(archive: Archive) -> Plan {
    let Archive {
        folder,
        name,
        pool,
        tensions: tensions_md,
        scoreboard: scoreboard_md,
        verdict: verdict_md,
        summaries,
        rounds,
        warnings: unreadable,
    } = archive;
    let mut warnings = Vec::new();
    let pool: Value = match pool {
        Some(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
            warnings.push(format!(
                "expert-pool.json:{}: not JSON ({e}); ignored",
                e.line()
            ));
            Value::Null
        }),
        None => Value::Null,
    };
    warnings.extend(unreadable);
    let table: Vec<TensionRow> = tensions_md
        .as_deref()
        .map(archive::parse_tensions)
        .unwrap_or_default();
    let board = scoreboard_md
        .as_deref()
        .map(archive::parse_scoreboard)
        .unwrap_or_default();

    let title = [
        tensions_md.as_deref(),
        scoreboard_md.as_deref(),
        summaries.get(&0).map(String::as_str),
    ]
    .into_iter()
    .flatten()
    .find_map(archive::heading_subject)
    .or_else(|| pool["domain"].as_str().map(str::to_owned))
    .unwrap_or_else(|| name.clone());
    let question = pool["question"]
        .as_str()
        .map_or_else(|| title.clone(), str::to_owned);

    // Experts: every response file's name, with roles from panel.json where present.
    let mut experts: BTreeMap<String, Value> = BTreeMap::new();
    let mut responses: BTreeMap<u8, Vec<(String, String, String)>> = BTreeMap::new();
    for files in &rounds {
        let round = &files.round;
        if let Some(panel) = files
            .panel
            .as_deref()
            .and_then(|t| serde_json::from_str::<Value>(t).ok())
        {
            for member in panel.as_array().into_iter().flatten() {
                let Some(slug) = member["name"]
                    .as_str()
                    .or(member["slug"].as_str())
                    .and_then(slugify)
                else {
                    continue;
                };
                let entry = experts
                    .entry(slug.clone())
                    .or_insert_with(|| json!({"slug": slug}));
                for field in ["role", "tier", "relevance"] {
                    if !member[field].is_null() {
                        entry[field] = member[field].clone();
                    }
                }
                entry["first_round"]
                    .as_u64()
                    .is_none()
                    .then(|| entry["first_round"] = json!(round));
            }
        }
        for file in &files.responses {
            let slug = &file.slug;
            let entry = experts
                .entry(slug.clone())
                .or_insert_with(|| json!({"slug": slug}));
            entry["first_round"]
                .as_u64()
                .is_none()
                .then(|| entry["first_round"] = json!(round));
            responses.entry(*round).or_default().push((
                slug.clone(),
                file.relative.clone(),
                file.text.clone(),
            ));
        }
    }
    let create = CreateDialogue {
        title: title.clone(),
        question,
        experts: experts
            .into_values()
            .map(|mut e| {
                if e["role"].as_str().is_none_or(|r| r.trim().is_empty()) {
                    e["role"] = json!(UNKNOWN_ROLE);
                }
                if e["tier"]
                    .as_str()
                    .and_then(dlg_core::model::Tier::parse)
                    .is_none()
                {
                    e.as_object_mut().map(|o| o.remove("tier"));
                }
                if !e["relevance"]
                    .as_f64()
                    .is_some_and(|r| (0.0..=1.0).contains(&r))
                {
                    e.as_object_mut().map(|o| o.remove("relevance"));
                }
                e["source"] = json!("pool");
                serde_json::from_value(e)
                    .unwrap_or_else(|_| unreachable!("expert fields are checked above"))
            })
            .collect(),
        id: None,
    };
    let expert_slugs: BTreeSet<String> = create.experts.iter().map(|e| e.slug.clone()).collect();

    // Table tensions get global ids in the round they were raised, in table order.
    let mut tensions: BTreeMap<String, PlannedTension> = BTreeMap::new();
    let mut per_round: BTreeMap<u8, Vec<&TensionRow>> = BTreeMap::new();
    let first_round = rounds.first().map_or(0, |r| r.round);
    for row in &table {
        per_round
            .entry(row.raised.unwrap_or(first_round))
            .or_default()
            .push(row);
    }
    let mut known: BTreeSet<String> = BTreeSet::new();
    let mut planned_rounds = Vec::new();
    let last_round = rounds.last().map_or(0, |r| r.round);
    let all_rounds: BTreeSet<u8> = rounds
        .iter()
        .map(|r| r.round)
        .chain(per_round.keys().copied())
        .collect();
    for round in all_rounds {
        let files = responses.get(&round).cloned().unwrap_or_default();
        let mut batch = RoundBatch::new(round);
        batch.summary = summaries.get(&round).cloned();
        batch.score = board
            .rounds
            .iter()
            .find(|(r, _)| *r == round)
            .map(|(_, s)| *s);
        // The table's tensions raised in this round, in table order.
        let rows = per_round.get(&round).cloned().unwrap_or_default();
        for (k, row) in rows.iter().enumerate() {
            // The tracker is the Judge's: its tensions are written under `JUDGE` and name their contributors.
            let local = format!("JUDGE-T{round:02}{:02}", k + 1);
            let global = format!("T{round:02}{:02}", k + 1);
            tensions.insert(
                row.id.clone(),
                PlannedTension {
                    global,
                    local: local.clone(),
                    round,
                    status: "open",
                },
            );
            batch.table_tensions.push(TableTension {
                row: (*row).clone(),
                local,
                contributors: Vec::new(),
                text: Vec::new(),
            });
        }
        let scores = |slug: &str| {
            board
                .experts
                .iter()
                .find(|(n, r, _)| *r == round && slugify(n).as_deref() == Some(slug))
                .map(|(_, _, s)| *s)
        };
        batch.responses(&files, &scores, &mut tensions, &known, &mut warnings);
        // Statuses the table gives for this round.
        for row in &table {
            if row.resolved == Some(round)
                && tension_status(&row.status) == Some("resolved")
                && let Some(t) = tensions.get_mut(&row.id)
                && t.status != "resolved"
            {
                let id = if t.round == round {
                    t.local.clone()
                } else {
                    t.global.clone()
                };
                batch
                    .status_updates
                    .push(json!({"id": id, "status": "resolved", "by": "judge",
                    "reason": format!("tensions.md: {} in round {round}", row.status)}));
                t.status = "resolved";
            }
        }
        let (mut register, ids) = batch.finish(&expert_slugs);
        // The archive's round panel is whoever wrote in it.
        register.panel = register
            .experts
            .iter()
            .map(|e| dlg_core::command::PanelSeatInput {
                expert: e.expert.clone(),
                source: None,
                reason: None,
            })
            .collect();
        for tension in tensions.values_mut().filter(|t| t.round == round) {
            if let Some(global) = ids.get(&tension.local) {
                tension.global = global.clone();
            }
        }
        known.extend(ids.into_values());
        planned_rounds.push(register);
    }

    // Final statuses the table states that no round produced.
    let mut finals = Vec::new();
    for row in &table {
        let Some(target) = tension_status(&row.status) else {
            if !row.status.is_empty() {
                warnings.push(format!(
                    "tensions.md: status `{}` of {} is not a tension status; left as is",
                    row.status, row.id
                ));
            }
            continue;
        };
        let Some(t) = tensions.get_mut(&row.id) else {
            continue;
        };
        if t.status == target || target == "open" {
            continue;
        }
        let allowed = matches!(
            (t.status, target),
            ("open" | "addressed" | "reopened", "resolved")
                | ("open" | "reopened", "addressed")
                | ("resolved", "reopened")
        );
        if allowed {
            finals.push(json!({"id": t.global, "status": target, "by": "judge",
                "reason": format!("tensions.md final status: {}", row.status)}));
            t.status = target;
        }
    }
    let final_statuses = (!finals.is_empty()).then(|| {
        serde_json::from_value(json!({"round": last_round, "updates": finals}))
            .unwrap_or_else(|_| unreachable!("the updates are built above"))
    });
    let verdict = verdict_md.as_deref().map(|text| {
        let recommendation = archive::heading_subject(text).unwrap_or_else(|| short(text, 200));
        let open: Vec<&str> = tensions
            .values()
            .filter(|t| matches!(t.status, "open" | "addressed" | "reopened"))
            .map(|t| t.global.as_str())
            .collect();
        if !open.is_empty() {
            warnings.push(format!(
                "the final verdict is recorded as forced over {} open tension(s) ({}): the archive's verdict neither resolves nor accepts them",
                open.len(),
                open.join(", ")
            ));
        }
        // The archive's verdict is recorded as it is: forced where tensions are still open.
        serde_json::from_value(
            json!({"verdict_id": "final", "type": "final", "round": last_round,
            "recommendation": recommendation, "description": text, "force": true}),
        )
        .unwrap_or_else(|_| unreachable!("the verdict fields are strings"))
    });
    // A final verdict converges the dialogue by itself.
    let converged = board.converged_percent.is_some_and(|p| p >= 100.0) && verdict.is_none();
    Plan {
        folder,
        name,
        create,
        rounds: planned_rounds,
        final_statuses,
        verdict,
        status: converged.then(|| "converged".to_owned()),
        warnings,
    }
}

/// One expert's response to draft a round from.
#[derive(Debug, Clone, PartialEq)]
pub struct DraftResponse {
    /// The expert's slug as written (slugified before use).
    pub expert: String,
    /// Where the text came from, for warnings (`muffin.md`, `responses[0]`).
    pub source: String,
    pub text: String,
    pub score: Option<f64>,
}

/// Drafts the registration of `round` from responses written with the archives' markers
/// (`[PERSPECTIVE P01: ...]`, `[TENSION T01: ...]`, `[REFINEMENT ...]`, `[RESOLVED T0001]`,
/// `[MOVE:...]`), as the importer reads them, against `graph`, the dialogue as it stands:
/// markers naming an earlier tension by its global or local id address, resolve or
/// acknowledge it, and references and moves to earlier entities keep their global ids. The
/// draft is for the Judge to review and submit; what could not be mapped is in the warnings.
pub fn draft(
    graph: &Graph,
    round: u8,
    responses: &[DraftResponse],
) -> (RegisterRound, Vec<String>) {
    let mut warnings = Vec::new();
    let mut tensions: BTreeMap<String, PlannedTension> = BTreeMap::new();
    for node in graph
        .nodes
        .values()
        .filter(|n| n.kind == EntityKind::Tension)
    {
        let planned = PlannedTension {
            global: node.id.to_string(),
            local: node.id.to_string(),
            round: node.round,
            status: node.status.as_str(),
        };
        if let Some(local) = &node.local_id {
            tensions.insert(local.clone(), planned.clone());
        }
        tensions.insert(node.id.to_string(), planned);
    }
    let known: BTreeSet<String> = graph
        .nodes
        .values()
        .flat_map(|n| [Some(n.id.to_string()), n.local_id.clone()])
        .flatten()
        .collect();
    let panel: BTreeSet<String> = graph.experts.keys().map(ToString::to_string).collect();
    let mut files = Vec::new();
    let mut scores = BTreeMap::new();
    for response in responses {
        let slug = slugify(&response.expert).unwrap_or_else(|| response.expert.clone());
        if !panel.contains(&slug) {
            warnings.push(format!(
                "{}: expert `{}` is not on the panel: add them with add_expert before registering",
                response.source, response.expert
            ));
        }
        scores.insert(slug.clone(), response.score);
        files.push((slug, response.source.clone(), response.text.clone()));
    }
    let mut batch = RoundBatch::new(round);
    let scores = |slug: &str| scores.get(slug).copied().flatten();
    batch.responses(&files, &scores, &mut tensions, &known, &mut warnings);
    let (register, _) = batch.finish(&panel);
    (register, warnings)
}

#[derive(Debug, Clone)]
struct TableTension {
    row: TensionRow,
    local: String,
    contributors: Vec<String>,
    text: Vec<String>,
}

/// One round's registration as it is assembled from the expert files.
#[derive(Debug)]
struct RoundBatch {
    round: u8,
    score: Option<f64>,
    summary: Option<String>,
    experts: Vec<Value>,
    entities: BTreeMap<EntityKind, Vec<Value>>,
    table_tensions: Vec<TableTension>,
    moves: Vec<Value>,
    status_updates: Vec<Value>,
    /// Local ids of this batch by kind (to check references).
    local_kinds: BTreeMap<String, EntityKind>,
}

impl RoundBatch {
    fn new(round: u8) -> Self {
        Self {
            round,
            score: None,
            summary: None,
            experts: Vec::new(),
            entities: BTreeMap::new(),
            table_tensions: Vec::new(),
            moves: Vec::new(),
            status_updates: Vec::new(),
            local_kinds: BTreeMap::new(),
        }
    }

    fn count(&self, kind: EntityKind) -> usize {
        self.entities.get(&kind).map_or(0, Vec::len)
            + if kind == EntityKind::Tension {
                self.table_tensions.len()
            } else {
                0
            }
    }

    fn add(
        &mut self,
        kind: EntityKind,
        written: Option<&str>,
        slug: &str,
        label: &str,
        content: String,
        references: Vec<Value>,
    ) -> Option<String> {
        if self.count(kind) >= usize::from(MAX_SEQ) {
            return None;
        }
        // The expert's own local id when it is a valid one of this round, else the next free one.
        let written = written.filter(|w| {
            LocalId::parse(w).is_some_and(|l| {
                l.letter == kind.letter()
                    && l.round == self.round
                    && l.expert.eq_ignore_ascii_case(slug)
            }) && !self.local_kinds.contains_key(*w)
        });
        let local = written.map(str::to_owned).unwrap_or_else(|| {
            let mut n = self.entities.get(&kind).map_or(0, Vec::len) + 1;
            loop {
                let local = format!(
                    "{}-{}{:02}{n:02}",
                    slug.to_uppercase(),
                    kind.letter(),
                    self.round
                );
                if !self.local_kinds.contains_key(&local) {
                    break local;
                }
                n += 1;
            }
        });
        let label = if label.trim().is_empty() {
            short(&content, 80)
        } else {
            label.to_owned()
        };
        let text_field = if kind == EntityKind::Tension {
            "description"
        } else {
            "content"
        };
        self.entities.entry(kind).or_default().push(json!({
            "id": local, "label": if label.is_empty() { "(no label)".to_owned() } else { label },
            text_field: content, "contributors": [slug], "references": references
        }));
        self.local_kinds.insert(local.clone(), kind);
        Some(local)
    }

    /// The kind of an id usable in this batch: a local id of this batch, or an earlier id
    /// (global, or local through the stored mapping).
    fn kind_of(&self, id: &str, known: &BTreeSet<String>) -> Option<EntityKind> {
        self.local_kinds.get(id).copied().or_else(|| {
            known
                .contains(id)
                .then(|| {
                    let letter = LocalId::parse(id).map_or(id.chars().next(), |l| Some(l.letter));
                    letter.and_then(EntityKind::from_letter)
                })
                .flatten()
        })
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "one call site, all of the round's planning state"
    )]
    fn expert_file(
        &mut self,
        slug: &str,
        file: &str,
        blocks: &[Block],
        tensions: &mut BTreeMap<String, PlannedTension>,
        local_numbering: bool,
        known: &BTreeSet<String>,
        warnings: &mut Vec<String>,
    ) {
        let round = self.round;
        let mut last_entity: Option<(String, EntityKind)> = None;
        let mut last_perspective: Option<String> = None;
        let tension_ref = |tensions: &BTreeMap<String, PlannedTension>, id: &str| {
            tensions.get(id).map(|t| {
                if t.round == round {
                    t.local.clone()
                } else {
                    t.global.clone()
                }
            })
        };
        for block in blocks {
            let content = format!("{}\n{}", block.original, block.body)
                .trim()
                .to_owned();
            let at = format!("{file}:{}", block.line);
            match &block.marker {
                Marker::Perspective { local: written, label } => {
                    let local = self.add(EntityKind::Perspective, Some(written), slug, label, content, Vec::new());
                    if let Some(local) = &local {
                        last_perspective = Some(local.clone());
                        last_entity = Some((local.clone(), EntityKind::Perspective));
                    }
                }
                Marker::Tension { local: id, label } => {
                    let row = tensions.get(id).cloned();
                    match row {
                        // A tension raised earlier: this block comments on it.
                        Some(t) if t.round < round && !local_numbering => {
                            let references = vec![json!({"type": "address", "target": t.global})];
                            if let Some(local) = self.add(EntityKind::Perspective, None, slug, label, content, references) {
                                last_entity = Some((local.clone(), EntityKind::Perspective));
                            }
                        }
                        // The table's tension raised in this round under the same id.
                        Some(t) if t.round == round && !local_numbering => {
                            self.contribute(&t.local, slug, &content);
                        }
                        _ if !self.table_tensions.is_empty() => {
                            // Numbered per expert: attach to the most similar table tension of
                            // this round, keeping the expert's words.
                            let best = self
                                .table_tensions
                                .iter()
                                .map(|t| (similarity(&format!("{label} {}", block.body), &t.row.label), t.local.clone()))
                                .max_by(|a, b| a.0.total_cmp(&b.0));
                            match best {
                                Some((_, local)) => self.contribute(&local, slug, &content),
                                None => warnings.push(format!("{at}: tension not matched; kept as raw content")),
                            }
                        }
                        _ => {
                            if let Some(local) = self.add(EntityKind::Tension, Some(id), slug, label, content, Vec::new()) {
                                tensions.insert(
                                    id.clone(),
                                    PlannedTension {
                                        global: String::new(),
                                        local: local.clone(),
                                        round,
                                        status: "open",
                                    },
                                );
                                last_entity = Some((local, EntityKind::Tension));
                            }
                        }
                    }
                }
                Marker::Entity { letter, local: written, label } => {
                    let kind = EntityKind::from_letter(*letter).unwrap_or(EntityKind::Perspective);
                    if let Some(local) = self.add(kind, Some(written), slug, label, content, Vec::new()) {
                        last_entity = Some((local, kind));
                    }
                }
                Marker::Refinement { target, text } => {
                    let references = match target.as_deref().and_then(|t| tension_ref(tensions, t)) {
                        Some(tension) => vec![json!({"type": "address", "target": tension})],
                        None => last_perspective
                            .iter()
                            .map(|p| json!({"type": "refine", "target": p}))
                            .collect(),
                    };
                    if let Some(local) = self.add(EntityKind::Perspective, None, slug, text, content, references) {
                        last_perspective = Some(local.clone());
                        last_entity = Some((local, EntityKind::Perspective));
                    }
                }
                Marker::Concession { text } => {
                    let target = archive_first_tension(text).and_then(|t| tension_ref(tensions, &t));
                    match target {
                        Some(tension) => self.moves.push(json!({"expert": slug, "move": "concede",
                            "targets": [tension], "context": content})),
                        None => {
                            let label = format!("Concession: {}", short(text, 70));
                            self.add(EntityKind::Perspective, None, slug, &label, content, Vec::new());
                        }
                    }
                }
                Marker::Resolved { target, text } => match tensions.get_mut(target) {
                    Some(t) if tension_is_open(dlg_core::model::Status::parse(t.status).unwrap_or(dlg_core::model::Status::Open)) => {
                        let id = if t.round == round { t.local.clone() } else { t.global.clone() };
                        t.status = "resolved";
                        let reason = if text.is_empty() { short(&block.body, 300) } else { text.clone() };
                        let mut update = json!({"id": id, "status": "resolved", "by": [slug], "reason": reason});
                        if let Some(via) = &last_perspective {
                            update["via"] = json!(via);
                        }
                        self.status_updates.push(update);
                    }
                    Some(_) => {}
                    None => warnings.push(format!("{at}: RESOLVED names {target}, which is not a known tension; kept as raw content")),
                },
                Marker::Acknowledged { target, text } => match tensions.get_mut(target) {
                    Some(t) if matches!(t.status, "open" | "reopened") => {
                        let id = if t.round == round { t.local.clone() } else { t.global.clone() };
                        t.status = "addressed";
                        let reason = if text.is_empty() { short(&block.body, 300) } else { text.clone() };
                        self.status_updates.push(json!({"id": id, "status": "addressed", "by": [slug], "reason": reason}));
                    }
                    Some(_) => {}
                    None => warnings.push(format!("{at}: ACKNOWLEDGED names {target}, which is not a known tension; kept as raw content")),
                },
                Marker::Reference { ref_type, target } => {
                    let valid = RefType::parse(ref_type).zip(self.kind_of(target, known)).zip(last_entity.clone());
                    match valid {
                        Some(((kind, target_kind), (source, source_kind)))
                            if (!kind.targets_tensions_only() || target_kind == EntityKind::Tension)
                                && (kind != RefType::Refine || source_kind == target_kind)
                                && &source != target =>
                        {
                            self.push_reference(&source, source_kind, json!({"type": kind.as_str(), "target": target}));
                        }
                        _ => warnings.push(format!("{at}: reference {} {target} cannot be recorded; kept as raw content", block.original)),
                    }
                }
                Marker::Move { kind, targets } => {
                    let known_targets: Vec<&String> = targets.iter().filter(|t| self.kind_of(t, known).is_some()).collect();
                    match dlg_core::model::MoveKind::parse(kind) {
                        Some(k) if !known_targets.is_empty() || k.targets_optional() => {
                            self.moves.push(json!({"expert": slug, "move": kind, "targets": known_targets, "context": block.body}));
                        }
                        _ => warnings.push(format!("{at}: move {} cannot be recorded; kept as raw content", block.original)),
                    }
                }
            }
        }
    }

    /// The round's responses (expert, file, text): each recorded with its score, and its
    /// markers planned. Where several experts use the same tension id in the round, their
    /// tensions are numbered per file.
    fn responses(
        &mut self,
        files: &[(String, String, String)],
        scores: &dyn Fn(&str) -> Option<f64>,
        tensions: &mut BTreeMap<String, PlannedTension>,
        known: &BTreeSet<String>,
        warnings: &mut Vec<String>,
    ) {
        let parsed: Vec<(&str, &str, &str, archive::Response)> = files
            .iter()
            .map(|(slug, file, text)| {
                (
                    slug.as_str(),
                    file.as_str(),
                    text.as_str(),
                    archive::parse_response(text),
                )
            })
            .collect();
        let mut id_users: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (slug, _, _, response) in &parsed {
            for block in &response.blocks {
                if let Marker::Tension { local, .. } = &block.marker {
                    id_users.entry(local.as_str()).or_default().insert(slug);
                }
            }
        }
        let local_numbering = id_users.values().any(|users| users.len() > 1);
        for (slug, file, text, response) in &parsed {
            for warning in &response.warnings {
                warnings.push(format!(
                    "{file}:{}: {}; kept as raw content",
                    warning.line, warning.message
                ));
            }
            self.experts
                .push(json!({"expert": slug, "score": scores(slug), "response": text}));
            self.expert_file(
                slug,
                file,
                &response.blocks,
                tensions,
                local_numbering,
                known,
                warnings,
            );
        }
    }

    fn contribute(&mut self, local: &str, slug: &str, content: &str) {
        if let Some(t) = self.table_tensions.iter_mut().find(|t| t.local == local) {
            if !t.contributors.iter().any(|c| c == slug) {
                t.contributors.push(slug.to_owned());
            }
            t.text.push(content.to_owned());
        }
    }

    fn push_reference(&mut self, source: &str, kind: EntityKind, reference: Value) {
        if let Some(entity) = self
            .entities
            .get_mut(&kind)
            .and_then(|list| list.iter_mut().find(|e| e["id"] == source))
            && let Some(references) = entity["references"].as_array_mut()
            && !references.contains(&reference)
        {
            references.push(reference);
        }
    }

    /// The registration, and the local → global ids it will create.
    fn finish(mut self, experts: &BTreeSet<String>) -> (RegisterRound, BTreeMap<String, String>) {
        let mut ids = BTreeMap::new();
        let mut tensions: Vec<Value> = Vec::new();
        let fallback = experts.iter().next().cloned().unwrap_or_default();
        for t in std::mem::take(&mut self.table_tensions) {
            let contributors = if t.contributors.is_empty() {
                // Nobody's words matched: credit the experts of the round (or the panel's first).
                let mut all: Vec<String> = self
                    .experts
                    .iter()
                    .filter_map(|e| e["expert"].as_str().map(str::to_owned))
                    .collect();
                if all.is_empty() {
                    all.push(fallback.clone());
                }
                all
            } else {
                t.contributors
            };
            let description = if t.text.is_empty() {
                t.row.label.clone()
            } else {
                t.text.join("\n\n")
            };
            tensions.push(
                json!({"id": t.local, "label": format!("{}: {}", t.row.id, t.row.label),
                "description": description, "contributors": contributors}),
            );
        }
        tensions.extend(
            self.entities
                .remove(&EntityKind::Tension)
                .unwrap_or_default(),
        );
        for (n, tension) in tensions.iter().enumerate() {
            if let Some(local) = tension["id"].as_str() {
                ids.insert(local.to_owned(), format!("T{:02}{:02}", self.round, n + 1));
            }
        }
        let mut request = json!({
            "round": self.round,
            "score": self.score,
            "summary": self.summary,
            "experts": self.experts,
            "tensions": tensions,
            "moves": self.moves,
            "status_updates": self.status_updates,
        });
        for kind in [
            EntityKind::Perspective,
            EntityKind::Recommendation,
            EntityKind::Evidence,
            EntityKind::Claim,
        ] {
            let list = self.entities.remove(&kind).unwrap_or_default();
            for (n, entity) in list.iter().enumerate() {
                if let Some(local) = entity["id"].as_str() {
                    ids.insert(
                        local.to_owned(),
                        format!("{}{:02}{:02}", kind.letter(), self.round, n + 1),
                    );
                }
            }
            request[kind.plural()] = Value::Array(list);
        }
        let register = serde_json::from_value(request)
            .unwrap_or_else(|e| unreachable!("the round request is built to shape: {e}"));
        (register, ids)
    }
}

fn archive_first_tension(text: &str) -> Option<String> {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .find(|w| w.len() >= 2 && w.starts_with('T') && w[1..].chars().all(|c| c.is_ascii_digit()))
        .map(str::to_owned)
}
