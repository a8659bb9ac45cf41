//! The read commands: list, show, tensions, graph, log, export, and import's report.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::Path;

use serde_json::{Value, json};

use dlg_core::ids::DialogueId;
use dlg_core::query::{ADDRESSING, AsOf, Direction, addressed_by, graph_as_of};
use dlg_core::text;

use super::args::*;
use super::request::*;
use crate::keys::KeyRing;
use crate::ledger::{Ledger, LedgerError};
use crate::read;
use crate::render;
use crate::report::{Failure, Output, exit};
use dlg_store::Store;

pub(super) async fn list<S: Store>(ledger: &Ledger<S>) -> Result<Output, Failure> {
    let mut rows = Vec::new();
    let mut table = render::table(&[
        "dialogue",
        "status",
        "rounds",
        "open tensions",
        "commits",
        "title",
    ]);
    let mut unopened_error = None;
    let mut unopened_count = 0;
    for dialogue in ledger.dialogues().await? {
        let graph = ledger.graph(&dialogue).await?;
        // One dialogue whose key does not open is shown as such; the others are still listed.
        let (ring, unopened) = match ledger.key_ring(&dialogue).await {
            Ok(ring) => (ring, false),
            Err(error @ (LedgerError::WrongKey { .. } | LedgerError::KeyMaterial { .. })) => {
                unopened_error.get_or_insert(error);
                (KeyRing::default(), true)
            }
            Err(error) => return Err(error.into()),
        };
        let mut row = read::dialogue_row(&dialogue, &graph, &ring);
        if unopened {
            unopened_count += 1;
            row.title = format!("[its data key does not open: run `dlg audit {dialogue}`]");
        }
        table.add_row(vec![
            row.dialogue.to_string(),
            row.status.clone(),
            row.rounds.to_string(),
            row.open_tensions.to_string(),
            row.commits.to_string(),
            row.title.clone(),
        ]);
        rows.push(row);
    }
    // No key opens: the master key is the wrong one, which is a key error, not a listing.
    if let Some(error) = unopened_error.filter(|_| unopened_count == rows.len()) {
        return Err(error.into());
    }
    let text = if rows.is_empty() {
        "no dialogues yet: create one with `dlg create` or try `dlg demo`".to_owned()
    } else {
        table.to_string()
    };
    Ok(Output::new(text, rows))
}

pub(super) async fn show<S: Store>(
    ledger: &Ledger<S>,
    dialogue: &DialogueId,
) -> Result<Output, Failure> {
    let graph = ledger.graph(dialogue).await?;
    let ring = ledger.key_ring(dialogue).await?;
    let meta = graph.meta.as_ref();
    let content = meta.and_then(|m| m.content.as_ref());
    let summary = graph.summary();
    let mut text = format!(
        "{}\n{}\nstatus {} · {} round(s) · alignment {} · {} commit(s)\n\n",
        text::line(&render::text(&ring, content, "title")),
        text::line(&render::text(&ring, content, "question")),
        summary.status.clone().unwrap_or_default(),
        summary.rounds,
        summary.total_alignment,
        summary.commits
    );
    let mut experts = render::table(&["expert", "role", "tier", "source", "relevance", "scores"]);
    for e in graph.experts.values() {
        let scores: Vec<String> = e.scores.iter().map(|(r, s)| format!("R{r}: {s}")).collect();
        experts.add_row(vec![
            e.expert.to_string(),
            render::text(&ring, e.profile.as_ref(), "role"),
            e.tier.to_string(),
            e.source.to_string(),
            e.relevance.map(|r| r.to_string()).unwrap_or_default(),
            scores.join(", "),
        ]);
    }
    let mut rounds = render::table(&["round", "title", "status", "score"]);
    for r in graph.rounds.values() {
        rounds.add_row(vec![
            r.round.to_string(),
            render::text(&ring, r.title.as_ref(), "title"),
            r.status.to_string(),
            r.score.map(|s| s.to_string()).unwrap_or_default(),
        ]);
    }
    let mut entities = render::table(&["kind", "count", "by status"]);
    for (kind, statuses) in &summary.entities {
        let total: usize = statuses.values().sum();
        let by: Vec<String> = statuses.iter().map(|(s, n)| format!("{s} {n}")).collect();
        entities.add_row(vec![kind.clone(), total.to_string(), by.join(", ")]);
    }
    text.push_str(&format!("{experts}\n\n{rounds}\n\n{entities}"));
    let progress = graph.progress();
    if !progress.rounds.is_empty() {
        let mut velocity = render::table(&[
            "round",
            "new perspectives",
            "open tensions",
            "velocity",
            "converged",
        ]);
        for r in &progress.rounds {
            velocity.add_row(vec![
                r.round.to_string(),
                r.new_perspectives.to_string(),
                r.open_tensions.to_string(),
                r.velocity.to_string(),
                format!("{}/{}", r.converged.len(), r.panel.len()),
            ]);
        }
        text.push_str(&format!(
            "\n\n{velocity}\nvelocity falling: {} · can converge: {}",
            match progress.velocity_falling {
                Some(true) => "yes",
                Some(false) => "no",
                None => "not yet known",
            },
            if progress.can_converge {
                "yes".to_owned()
            } else {
                format!("no ({} blocker(s))", progress.blockers.len())
            }
        ));
    }
    let verdicts: Vec<Value> = graph
        .verdicts
        .values()
        .map(|v| {
            json!({"verdict": v.verdict, "type": v.verdict_type, "round": v.round,
                   "confidence": v.confidence, "tensions_accepted": v.tensions_accepted,
                   "forced": v.forced,
                   "recommendation": render::text(&ring, v.content.as_ref(), "recommendation")})
        })
        .collect();
    if !graph.verdicts.is_empty() {
        let mut table = render::table(&[
            "verdict",
            "type",
            "round",
            "confidence",
            "accepted open",
            "recommendation",
        ]);
        for v in graph.verdicts.values() {
            let mut accepted: Vec<String> = v
                .tensions_accepted
                .iter()
                .map(ToString::to_string)
                .collect();
            if v.forced {
                accepted.push("forced".to_owned());
            }
            table.add_row(vec![
                v.verdict.clone(),
                v.verdict_type.to_string(),
                v.round.to_string(),
                v.confidence.map(|c| c.to_string()).unwrap_or_default(),
                accepted.join(", "),
                render::text(&ring, v.content.as_ref(), "recommendation"),
            ]);
        }
        text.push_str(&format!("\n\n{table}"));
    }
    let mut json = serde_json::to_value(&summary).unwrap_or_default();
    json["title"] = json!(render::text(&ring, content, "title"));
    json["question"] = json!(render::text(&ring, content, "question"));
    json["panel"] = graph
        .experts
        .values()
        .map(|e| {
            json!({"expert": e.expert, "role": render::text(&ring, e.profile.as_ref(), "role"),
                   "tier": e.tier, "source": e.source, "relevance": e.relevance,
                   "scores": e.scores.iter().map(|(r, s)| (r.to_string(), *s)).collect::<BTreeMap<_, _>>(),
                   "total": dlg_core::graph::total(e.scores.values().copied())})
        })
        .collect();
    json["rounds_data"] = graph
        .rounds
        .values()
        .map(|r| {
            json!({"round": r.round, "title": render::text(&ring, r.title.as_ref(), "title"),
                   "status": r.status, "score": r.score})
        })
        .collect();
    json["verdicts_data"] = Value::Array(verdicts);
    json["progress"] = serde_json::to_value(&progress).unwrap_or_default();
    Ok(Output::new(text, &json))
}

/// `dlg context`: where the dialogue stands before a round, within a budget.
pub(super) async fn context<S: Store>(
    ledger: &Ledger<S>,
    dialogue: &DialogueId,
    options: &crate::context::ContextOptions,
) -> Result<Output, Failure> {
    let graph = ledger.graph(dialogue).await?;
    let ring = ledger.key_ring(dialogue).await?;
    let view = crate::context::context(dialogue, &graph, &ring, options);
    Ok(Output::new(view.markdown(), &view))
}

/// `dlg entity`: one entity with everything around it.
pub(super) async fn entity_output<S: Store>(
    ledger: &Ledger<S>,
    dialogue: &DialogueId,
    entity: &str,
) -> Result<Output, Failure> {
    let graph = ledger.graph(dialogue).await?;
    let ring = ledger.key_ring(dialogue).await?;
    let view = crate::read::entity_view(dialogue, &graph, &ring, entity)?;
    Ok(Output::new(entity_text(&view), &view))
}

/// The text form of an entity view: every piece of content on lines of its own, escaped.
fn entity_text(view: &Value) -> String {
    use dlg_core::text::line;
    let s = |v: &Value| match v {
        Value::String(text) => text.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    };
    let mut out = format!(
        "{} ({}, {}, round {}): {}\n",
        s(&view["id"]),
        s(&view["kind"]),
        s(&view["status"]),
        s(&view["origin"]["round"]),
        line(&s(&view["label"]))
    );
    let text = if view["description"].is_null() {
        &view["content"]
    } else {
        &view["description"]
    };
    if !text.is_null() {
        out.push('\n');
        for text_line in s(text).split('\n') {
            out.push_str(&format!("  {}\n", line(text_line)));
        }
    }
    let contributors: Vec<String> = view["origin"]["contributors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(s)
        .collect();
    out.push_str(&format!(
        "\ncontributors: {}\n",
        line(&contributors.join(", "))
    ));
    for (title, key) in [
        ("references out", "references_out"),
        ("references in", "references_in"),
    ] {
        for r in view[key].as_array().into_iter().flatten() {
            out.push_str(&format!(
                "{title}: {} {} (round {})\n",
                s(&r["type"]),
                s(&r["entity"]),
                s(&r["round"])
            ));
        }
    }
    let lineage: Vec<String> = view["lineage"]
        .as_array()
        .into_iter()
        .flatten()
        .map(s)
        .collect();
    if lineage.len() > 1 {
        out.push_str(&format!("lineage: {}\n", lineage.join(" → ")));
    }
    for m in view["moves"].as_array().into_iter().flatten() {
        out.push_str(&format!(
            "move: round {} {} {}\n",
            s(&m["round"]),
            line(&s(&m["expert"])),
            s(&m["move"])
        ));
    }
    for e in view["events"].as_array().into_iter().flatten() {
        let by: Vec<String> = e["by"].as_array().into_iter().flatten().map(s).collect();
        out.push_str(&format!(
            "history: round {} {} by {}{}{}\n",
            s(&e["round"]),
            s(&e["type"]),
            line(&by.join(", ")),
            if e["reference"].is_null() {
                String::new()
            } else {
                format!(" via {}", line(&s(&e["reference"])))
            },
            if e["reason"].is_null() {
                String::new()
            } else {
                format!(": {}", line(&s(&e["reason"])))
            }
        ));
    }
    out.trim_end().to_owned()
}

/// `dlg draft-round`: the registration drafted from response files. The text form is the
/// request itself, for `dlg round`; warnings and the errors it would get go to stderr.
pub(super) async fn draft_round<S: Store>(
    ledger: &Ledger<S>,
    dialogue: &DialogueId,
    request: crate::draft::DraftRequest,
    sources: &[String],
) -> Result<Output, Failure> {
    let graph = ledger.graph(dialogue).await?;
    let draft = crate::draft::draft(dialogue, &graph, request, sources)?;
    for warning in &draft.warnings {
        eprintln!("warning: {}", dlg_core::text::line(warning));
    }
    for error in &draft.errors {
        eprintln!(
            "would be refused: {} {}: {}",
            error.code,
            dlg_core::text::line(&error.field),
            dlg_core::text::line(&error.message)
        );
    }
    let text = serde_json::to_string_pretty(&draft.request).unwrap_or_default();
    Ok(Output::new(text, &draft).verbatim())
}

/// Reads `EXPERT=PATH` or `PATH` (the expert named by the file's stem) arguments: the
/// responses and the file names, for warnings.
pub(super) fn response_files(
    args: &[String],
    limit: u64,
) -> Result<(Vec<crate::draft::ResponseText>, Vec<String>), Failure> {
    use crate::files::{Links, read_regular};
    let mut responses = Vec::new();
    let mut sources = Vec::new();
    for arg in args {
        let (expert, path) = match arg.split_once('=') {
            Some((expert, path)) if !expert.contains('/') => {
                (expert.to_owned(), std::path::PathBuf::from(path))
            }
            _ => {
                let path = std::path::PathBuf::from(arg);
                let stem = path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (stem, path)
            }
        };
        let bytes = read_regular(&path, Links::Follow, limit)
            .map_err(|e| Failure::new(exit::FAILURE, "io", e.to_string()))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            Failure::new(
                exit::USAGE,
                "usage",
                format!(
                    "{} is not UTF-8 text (byte {}): give the response as a text file",
                    dlg_core::text::line(&path.display().to_string()),
                    e.utf8_error().valid_up_to()
                ),
            )
        })?;
        sources.push(path.display().to_string());
        responses.push(crate::draft::ResponseText {
            expert,
            text,
            score: None,
        });
    }
    Ok((responses, sources))
}

pub(crate) async fn tensions<S: Store>(
    ledger: &Ledger<S>,
    dialogue: Option<&str>,
    statuses: &[String],
    all: bool,
) -> Result<Output, Failure> {
    let filter = read::TensionFilter::parse(statuses, all)?;
    // The unsettled tensions of every dialogue come from the graph table's index of them.
    let everywhere = dialogue.is_none() && filter.only_open();
    let mut rows: Vec<read::TensionView> = Vec::new();
    if everywhere {
        let mut rings: BTreeMap<DialogueId, KeyRing> = BTreeMap::new();
        for (dialogue, node) in ledger.open_tensions_everywhere().await? {
            let incoming = ledger
                .neighbours(&dialogue, node.id, Direction::In, &ADDRESSING)
                .await?;
            if !rings.contains_key(&dialogue) {
                rings.insert(dialogue.clone(), ledger.key_ring(&dialogue).await?);
            }
            if let Some(ring) = rings.get(&dialogue) {
                let by = addressed_by(&node, &incoming);
                rows.push(read::TensionView::new(&dialogue, &node, ring, by));
            }
        }
    } else {
        let dialogues = match dialogue {
            Some(d) => vec![dialogue_id(d)?],
            None => ledger.dialogues().await?,
        };
        for dialogue in dialogues {
            let graph = ledger.graph(&dialogue).await?;
            let ring = ledger.key_ring(&dialogue).await?;
            rows.extend(read::tensions(&dialogue, &graph, &ring, &filter));
        }
    }
    let one = dialogue.is_some();
    let mut header = vec!["id", "status", "round", "label", "addressed by"];
    if !one {
        header.insert(0, "dialogue");
    }
    let mut table = render::table(&header);
    for tension in &rows {
        let mut row = vec![
            tension.id.to_string(),
            tension.status.to_string(),
            tension.round.to_string(),
            tension.label.clone(),
            tension.addressed_by.join(", "),
        ];
        if !one {
            row.insert(0, tension.dialogue.to_string());
        }
        table.add_row(row);
    }
    let text = if rows.is_empty() {
        "no tensions match".to_owned()
    } else {
        table.to_string()
    };
    Ok(Output::new(text, rows))
}

pub(crate) struct GraphRequest {
    pub entity: Option<String>,
    pub depth: usize,
    pub direction: DirectionArg,
    pub ref_types: Vec<String>,
    pub format: GraphFormat,
    pub as_of: Option<AsOf>,
}

pub(crate) async fn graph<S: Store>(
    ledger: &Ledger<S>,
    dialogue: &DialogueId,
    request: GraphRequest,
) -> Result<Output, Failure> {
    let graph = match &request.as_of {
        None => ledger.graph(dialogue).await?,
        Some(as_of) => {
            let commits = ledger.commits(dialogue).await?;
            graph_as_of(
                dialogue.clone(),
                commits.iter().map(|(_, row)| row.bytes.as_slice()),
                as_of,
            )
            .map_err(|e| Failure::new(exit::FAILURE, "projection", e.to_string()))?
        }
    };
    let ring = ledger.key_ring(dialogue).await?;
    let direction = match request.direction {
        DirectionArg::Out => Direction::Out,
        DirectionArg::In => Direction::In,
        DirectionArg::Both => Direction::Both,
    };
    let view = read::subgraph(
        dialogue,
        &graph,
        &ring,
        &read::SubgraphRequest {
            entity: request.entity.clone(),
            depth: request.depth,
            direction,
            ref_types: read::parse_ref_types(&request.ref_types)?,
        },
    )?;
    let subgraph = &view.subgraph;
    let as_json = json!({"dialogue": dialogue, "commit": view.commit, "nodes": view.nodes, "edges": view.edges});
    let text = match request.format {
        GraphFormat::Text => render::graph_text(&ring, subgraph),
        GraphFormat::Mermaid => render::graph_mermaid(&ring, subgraph),
        GraphFormat::Dot => render::graph_dot(&ring, &graph, subgraph),
        GraphFormat::Json => {
            let pretty = serde_json::to_string_pretty(&as_json).unwrap_or_default();
            return Ok(Output::new(pretty, as_json).verbatim());
        }
    };
    Ok(Output::new(text, as_json))
}

pub(super) async fn log<S: Store>(
    ledger: &Ledger<S>,
    dialogue: &DialogueId,
) -> Result<Output, Failure> {
    let commits = ledger.commits(dialogue).await?;
    let ring = ledger.key_ring(dialogue).await?;
    let mut text = String::new();
    let mut entries = Vec::new();
    for (commit, row) in &commits {
        let header = &commit.header;
        text.push_str(&format!(
            "commit {} · {} · {} · hash {}{}\n",
            header.commit,
            text::line(&header.time),
            text::line(&header.actor),
            &dlg_core::chain::to_hex(&row.hash)[..16],
            header
                .idempotency_key
                .as_ref()
                .map(|k| format!(" · key {}", text::line(k)))
                .unwrap_or_default()
        ));
        let mut events = Vec::new();
        for event in &commit.events {
            let content = match ring.get(header.key_version) {
                _ if event.sealed.is_none() => Value::Null,
                None => Value::String("[shredded]".to_owned()),
                Some(key) => match commit.open_event(event, key) {
                    Ok(Some(map)) => Value::Object(map),
                    Ok(None) => Value::Null,
                    Err(e) => Value::String(format!("[does not open: {e}]")),
                },
            };
            let body = serde_json::to_value(&event.body).unwrap_or_default();
            text.push_str(&format!(
                "  {:>4} {:<22} {}{}\n",
                event.seq,
                event.body.type_name(),
                text::line(&body.get("body").map(Value::to_string).unwrap_or_default()),
                if content.is_null() {
                    String::new()
                } else {
                    format!(" {}", text::line(&content.to_string()))
                }
            ));
            events.push(json!({"seq": event.seq, "type": event.body.type_name(),
                               "body": body.get("body"), "content": content}));
        }
        entries.push(json!({"commit": header.commit, "time": header.time, "actor": header.actor,
                            "idempotency_key": header.idempotency_key, "key_version": header.key_version,
                            "hash": dlg_core::chain::to_hex(&row.hash), "events": events}));
    }
    Ok(Output::new(text, entries))
}

pub(super) async fn export<S: Store>(
    ledger: &Ledger<S>,
    dialogue: &DialogueId,
    out: Option<&Path>,
) -> Result<Output, Failure> {
    let graph = ledger.graph(dialogue).await?;
    let ring = ledger.key_ring(dialogue).await?;
    let export = read::export(&graph, &ring);
    let pretty = serde_json::to_string_pretty(&export).unwrap_or_default();
    match out {
        Some(path) => {
            std::fs::write(path, &pretty).map_err(|e| {
                Failure::new(
                    exit::FAILURE,
                    "io",
                    format!("cannot write {}: {e}", path.display()),
                )
            })?;
            Ok(Output::new(
                format!("wrote {}", path.display()),
                json!({"written": path}),
            ))
        }
        None => Ok(Output::new(pretty, export).verbatim()),
    }
}

pub(super) async fn import<S: Store>(
    ledger: &Ledger<S>,
    global: &Global,
    path: &Path,
    dry_run: bool,
) -> Result<Output, Failure> {
    use crate::import;
    if !path.is_dir() {
        return Err(Failure::new(
            exit::NOT_FOUND,
            "not_found",
            format!(
                "{} is not a folder: give a dialogue folder or a folder of them",
                path.display()
            ),
        ));
    }
    let folders = import::dialogue_folders(path);
    if folders.is_empty() {
        return Err(Failure::new(
            exit::NOT_FOUND,
            "not_found",
            format!(
                "{} holds no dialogue folder (one with round-N/ folders or expert-pool.json)",
                path.display()
            ),
        ));
    }
    let progress = if folders.len() > 1 && !global.json && std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(folders.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut summaries = Vec::new();
    let mut failures = Vec::new();
    let mut plans = Vec::new();
    for folder in &folders {
        progress.set_message(
            folder
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let outcome = match import::plan(folder) {
            Ok(plan) if dry_run => {
                summaries.push(import::summarize_plan(&plan));
                plans.push(plan);
                Ok(())
            }
            Ok(plan) => import::run(ledger, &plan, &global.actor)
                .await
                .map(|s| summaries.push(s)),
            Err(e) => Err(e),
        };
        if let Err(error) = outcome {
            failures.push(json!({"folder": folder, "error": Failure::from(error).json}));
        }
        progress.inc(1);
    }
    progress.finish_and_clear();

    let mut table = render::table(&[
        "dialogue",
        "rounds",
        "experts",
        "P",
        "R",
        "T",
        "E",
        "C",
        "tensions open/resolved",
        "warnings",
        "new commits",
    ]);
    for s in &summaries {
        let n = |kind: &str| s.entities.get(kind).copied().unwrap_or(0).to_string();
        table.add_row(vec![
            s.dialogue.clone(),
            s.rounds.to_string(),
            s.experts.to_string(),
            n("perspectives"),
            n("recommendations"),
            n("tensions"),
            n("evidence"),
            n("claims"),
            if dry_run {
                "-".to_owned()
            } else {
                format!("{}/{}", s.tensions_open, s.tensions_resolved)
            },
            s.warnings.len().to_string(),
            if dry_run {
                "-".to_owned()
            } else {
                s.new_commits.to_string()
            },
        ]);
    }
    let mut text = if dry_run {
        format!("dry run: nothing was written\n{table}")
    } else {
        table.to_string()
    };
    for s in &summaries {
        for warning in &s.warnings {
            text.push_str(&format!(
                "\nwarning: {}: {}",
                text::line(&s.folder),
                text::line(warning)
            ));
        }
    }
    for failure in &failures {
        text.push_str(&format!(
            "\nerror: {}: {}",
            text::line(&failure["folder"].to_string()),
            text::line(&failure["error"].to_string())
        ));
    }
    let body = if dry_run {
        json!({"dry_run": true, "plans": plans, "summaries": summaries, "failures": failures})
    } else {
        json!({"summaries": summaries, "failures": failures})
    };
    let mut output = Output::new(text, body);
    if !failures.is_empty() {
        output.code = exit::FAILURE;
    }
    Ok(output)
}
