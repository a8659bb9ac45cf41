//! `dlg import`: brings dialogue archives written by agent tooling (folders of markdown and JSON)
//! into the ledger through the same commands as live registration, so validation and the chain
//! apply. Planning reads the files and decides every command; importing runs them with
//! idempotency keys derived from the folder, so importing the same folder again changes nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::Serialize;
use serde_json::{Value, json};

use dlg_core::archive::{self, Block, Marker, TensionRow};
use dlg_core::command::{Command, CreateDialogue, RegisterRound, RegisterVerdict, UpdateStatuses};
use dlg_core::ids::{DialogueId, EntityKind, MAX_SEQ, slugify};
use dlg_core::model::{RefType, tension_is_open};

use crate::ledger::{Ledger, LedgerError, WriteOptions};
use dlg_store::Store;

/// Role recorded for experts whose role the archive does not state.
pub const UNKNOWN_ROLE: &str = "Panel member (role not recorded in the archive)";

/// Everything decided for one dialogue folder, before anything is written.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub folder: PathBuf,
    /// The folder's name: the stable part of the idempotency keys.
    pub name: String,
    pub create: CreateDialogue,
    pub rounds: Vec<RegisterRound>,
    pub final_statuses: Option<UpdateStatuses>,
    pub verdict: Option<RegisterVerdict>,
    /// `converged` when the archive says the panel converged.
    pub status: Option<String>,
    /// `file:line: message` for everything imported as raw content only.
    pub warnings: Vec<String>,
}

/// A tension as the plan tracks it: its global id and planned status.
#[derive(Debug, Clone)]
struct PlannedTension {
    global: String,
    /// Local id within its registration batch (usable in that batch).
    local: String,
    round: u8,
    status: &'static str,
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// Whether a folder looks like one dialogue (has `round-N/` folders or an expert pool).
pub fn is_dialogue_folder(path: &Path) -> bool {
    path.join("expert-pool.json").is_file() || round_dirs(path).next().is_some()
}

fn round_dirs(folder: &Path) -> impl Iterator<Item = (u8, PathBuf)> {
    let mut rounds: Vec<(u8, PathBuf)> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().is_dir())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let round = name.strip_prefix("round-")?.parse().ok()?;
            Some((round, e.path()))
        })
        .collect();
    rounds.sort();
    rounds.into_iter()
}

/// The dialogue folders under `path`: itself, or its subfolders that are dialogues.
pub fn dialogue_folders(path: &Path) -> Vec<PathBuf> {
    if is_dialogue_folder(path) {
        return vec![path.to_owned()];
    }
    let mut folders: Vec<PathBuf> = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir() && is_dialogue_folder(p))
        .collect();
    folders.sort();
    folders
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

/// Builds the plan for one dialogue folder. Never fails on content: what it cannot understand
/// is kept as raw content and reported in `warnings`.
pub fn plan(folder: &Path) -> Result<Plan, LedgerError> {
    let name = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| LedgerError::Request(format!("{} is not a folder", folder.display())))?;
    let mut warnings = Vec::new();
    let pool: Value = match read(&folder.join("expert-pool.json")) {
        Some(text) => serde_json::from_str(&text).unwrap_or_else(|e| {
            warnings.push(format!(
                "expert-pool.json:{}: not JSON ({e}); ignored",
                e.line()
            ));
            Value::Null
        }),
        None => Value::Null,
    };
    let tensions_md = read(&folder.join("tensions.md"));
    let scoreboard_md = read(&folder.join("scoreboard.md"));
    let verdict_md = read(&folder.join("verdict.md"));
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
        read(&folder.join("round-0.summary.md")).as_deref(),
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
    let rounds: Vec<(u8, PathBuf)> = round_dirs(folder).collect();
    let mut experts: BTreeMap<String, Value> = BTreeMap::new();
    let mut responses: BTreeMap<u8, Vec<(String, String, String)>> = BTreeMap::new();
    for (round, dir) in &rounds {
        if let Some(panel) =
            read(&dir.join("panel.json")).and_then(|t| serde_json::from_str::<Value>(&t).ok())
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
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "md"))
            .filter(|p| !p.to_string_lossy().ends_with(".prompt.md"))
            .collect();
        files.sort();
        for file in files {
            let stem = file
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let Some(slug) = slugify(&stem) else {
                warnings.push(format!(
                    "{}: no expert name in the file name; skipped",
                    file.display()
                ));
                continue;
            };
            let text = match std::fs::read(&file) {
                Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                Err(e) => {
                    warnings.push(format!("{}: cannot read ({e}); skipped", file.display()));
                    continue;
                }
            };
            let entry = experts
                .entry(slug.clone())
                .or_insert_with(|| json!({"slug": slug}));
            entry["first_round"]
                .as_u64()
                .is_none()
                .then(|| entry["first_round"] = json!(round));
            let relative = format!(
                "round-{round}/{}",
                file.file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default()
            );
            responses
                .entry(*round)
                .or_default()
                .push((slug, relative, text));
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
    };
    let expert_slugs: BTreeSet<String> = create.experts.iter().map(|e| e.slug.clone()).collect();

    // Table tensions get global ids in the round they were raised, in table order.
    let mut tensions: BTreeMap<String, PlannedTension> = BTreeMap::new();
    let mut per_round: BTreeMap<u8, Vec<&TensionRow>> = BTreeMap::new();
    let first_round = rounds.first().map_or(0, |(r, _)| *r);
    for row in &table {
        per_round
            .entry(row.raised.unwrap_or(first_round))
            .or_default()
            .push(row);
    }
    let mut known: BTreeSet<String> = BTreeSet::new();
    let mut planned_rounds = Vec::new();
    let last_round = rounds.last().map_or(0, |(r, _)| *r);
    let all_rounds: BTreeSet<u8> = rounds
        .iter()
        .map(|(r, _)| *r)
        .chain(per_round.keys().copied())
        .collect();
    for round in all_rounds {
        let files = responses.get(&round).cloned().unwrap_or_default();
        let mut batch = RoundBatch::new(round);
        batch.summary = read(&folder.join(format!("round-{round}.summary.md")));
        batch.score = board
            .rounds
            .iter()
            .find(|(r, _)| *r == round)
            .map(|(_, s)| *s);
        // The table's tensions raised in this round, in table order.
        let rows = per_round.get(&round).cloned().unwrap_or_default();
        for (k, row) in rows.iter().enumerate() {
            let local = format!("TABLE-T{round:02}{:02}", k + 1);
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
        // Rounds where several experts use the same tension id number their tensions per file.
        let mut id_users: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
        let parsed: Vec<(String, String, String, archive::Response)> = files
            .iter()
            .map(|(slug, file, text)| {
                (
                    slug.clone(),
                    file.clone(),
                    text.clone(),
                    archive::parse_response(text),
                )
            })
            .collect();
        for (slug, _, _, response) in &parsed {
            for block in &response.blocks {
                if let Marker::Tension { local, .. } = &block.marker {
                    id_users
                        .entry(local.clone())
                        .or_default()
                        .insert(slug.as_str());
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
            let score = board
                .experts
                .iter()
                .find(|(n, r, _)| *r == round && slugify(n).as_deref() == Some(slug))
                .map(|(_, _, s)| *s);
            batch
                .experts
                .push(json!({"expert": slug, "score": score, "response": text}));
            batch.expert_file(
                slug,
                file,
                &response.blocks,
                &mut tensions,
                local_numbering,
                &known,
                &mut warnings,
            );
        }
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
        let (register, ids) = batch.finish(&expert_slugs);
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
        serde_json::from_value(
            json!({"verdict_id": "final", "type": "final", "round": last_round,
            "recommendation": recommendation, "description": text}),
        )
        .unwrap_or_else(|_| unreachable!("the verdict fields are strings"))
    });
    let converged = board.converged_percent.is_some_and(|p| p >= 100.0) || verdict.is_some();
    Ok(Plan {
        folder: folder.to_owned(),
        name,
        create,
        rounds: planned_rounds,
        final_statuses,
        verdict,
        status: converged.then(|| "converged".to_owned()),
        warnings,
    })
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
        slug: &str,
        label: &str,
        content: String,
        references: Vec<Value>,
    ) -> Option<String> {
        if self.count(kind) >= usize::from(MAX_SEQ) {
            return None;
        }
        let n = self.entities.get(&kind).map_or(0, Vec::len) + 1;
        let local = format!(
            "{}-{}{:02}{n:02}",
            slug.to_uppercase(),
            kind.letter(),
            self.round
        );
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

    /// The kind of an id usable in this batch: a local id of this batch or an earlier global id.
    fn kind_of(&self, id: &str, known: &BTreeSet<String>) -> Option<EntityKind> {
        self.local_kinds.get(id).copied().or_else(|| {
            known
                .contains(id)
                .then(|| id.chars().next().and_then(EntityKind::from_letter))
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
                Marker::Perspective { label, .. } => {
                    let local = self.add(EntityKind::Perspective, slug, label, content, Vec::new());
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
                            if let Some(local) = self.add(EntityKind::Perspective, slug, label, content, references) {
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
                            if let Some(local) = self.add(EntityKind::Tension, slug, label, content, Vec::new()) {
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
                Marker::Entity { letter, label, .. } => {
                    let kind = EntityKind::from_letter(*letter).unwrap_or(EntityKind::Perspective);
                    if let Some(local) = self.add(kind, slug, label, content, Vec::new()) {
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
                    if let Some(local) = self.add(EntityKind::Perspective, slug, text, content, references) {
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
                            self.add(EntityKind::Perspective, slug, &label, content, Vec::new());
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

/// What importing one folder did.
#[derive(Debug, Clone, Serialize)]
pub struct ImportSummary {
    pub folder: String,
    pub dialogue: String,
    pub rounds: usize,
    pub experts: usize,
    /// Entities per kind (plural name).
    pub entities: BTreeMap<String, usize>,
    pub tensions_open: usize,
    pub tensions_resolved: usize,
    pub warnings: Vec<String>,
    /// Commits appended by this import (0 when the folder was imported before).
    pub new_commits: usize,
    pub head: u64,
}

/// The summary a plan promises, without writing anything (`--dry-run`).
pub fn summarize_plan(plan: &Plan) -> ImportSummary {
    let mut entities: BTreeMap<String, usize> = BTreeMap::new();
    for round in &plan.rounds {
        for kind in EntityKind::ALL {
            let count = match kind {
                EntityKind::Perspective => round.perspectives.len(),
                EntityKind::Recommendation => round.recommendations.len(),
                EntityKind::Tension => round.tensions.len(),
                EntityKind::Evidence => round.evidence.len(),
                EntityKind::Claim => round.claims.len(),
            };
            *entities.entry(kind.plural().to_owned()).or_default() += count;
        }
    }
    ImportSummary {
        folder: plan.folder.display().to_string(),
        dialogue: slugify(&plan.create.title).unwrap_or_default(),
        rounds: plan.rounds.len(),
        experts: plan.create.experts.len(),
        tensions_open: 0,
        tensions_resolved: 0,
        entities,
        warnings: plan.warnings.clone(),
        new_commits: 0,
        head: 0,
    }
}

/// Runs a plan against the ledger with idempotency keys `import/{folder}/{step}`.
pub async fn run<S: Store>(
    ledger: &Ledger<S>,
    plan: &Plan,
    actor: &str,
) -> Result<ImportSummary, LedgerError> {
    let options = |step: &str| WriteOptions {
        actor: actor.to_owned(),
        time: None,
        idempotency_key: Some(format!("import/{}/{step}", plan.name)),
    };
    let mut new_commits = 0;
    let mut count = |replayed: bool| {
        if !replayed {
            new_commits += 1;
        }
    };
    let created = ledger
        .create_dialogue(&plan.create, &options("create"))
        .await?;
    count(created.replayed);
    let dialogue = DialogueId::parse(&created.dialogue).map_err(LedgerError::InvalidDialogueId)?;
    for round in &plan.rounds {
        let step = format!("round-{}", round.round);
        let receipt = ledger
            .execute(
                &dialogue,
                &Command::RegisterRound(round.clone()),
                &options(&step),
            )
            .await?;
        count(receipt.replayed);
    }
    if let Some(finals) = &plan.final_statuses {
        let receipt = ledger
            .execute(
                &dialogue,
                &Command::UpdateStatuses(finals.clone()),
                &options("final-statuses"),
            )
            .await?;
        count(receipt.replayed);
    }
    if let Some(verdict) = &plan.verdict {
        let receipt = ledger
            .execute(
                &dialogue,
                &Command::RegisterVerdict(verdict.clone()),
                &options("verdict"),
            )
            .await?;
        count(receipt.replayed);
    }
    if let Some(status) = &plan.status {
        let command = Command::ChangeDialogueStatus(dlg_core::command::ChangeDialogueStatus {
            status: status.clone(),
            reason: Some("imported archive: the panel converged".to_owned()),
        });
        let receipt = ledger
            .execute(&dialogue, &command, &options("status"))
            .await?;
        count(receipt.replayed);
    }
    // The summary folds the stored commits here, so it does not wait for the stream projector.
    let graph = ledger.fold(&dialogue).await?.graph;
    let summary = graph.summary();
    let tensions = |open: bool| {
        graph
            .entities(Some(EntityKind::Tension), &[])
            .iter()
            .filter(|n| tension_is_open(n.status) == open)
            .count()
    };
    Ok(ImportSummary {
        folder: plan.folder.display().to_string(),
        dialogue: dialogue.to_string(),
        rounds: summary.rounds,
        experts: summary.experts,
        entities: summary
            .entities
            .iter()
            .map(|(kind, statuses)| (kind.clone(), statuses.values().sum()))
            .collect(),
        tensions_open: tensions(true),
        tensions_resolved: tensions(false),
        warnings: plan.warnings.clone(),
        new_commits,
        head: graph.checkpoint.commit,
    })
}
