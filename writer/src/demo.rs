//! `dlg demo`: records a realistic sample dialogue (three rounds, a final verdict that accepts
//! the one tension left open and so converges the dialogue) written by the team,
//! then shows its open tensions, the graph around a tension and a clean audit.

use serde::Deserialize;
use serde_json::json;

use dlg_core::command::{Command, CreateDialogue, RegisterRound, RegisterVerdict};
use dlg_core::ids::DialogueId;

use crate::cli::{self, DirectionArg, Failure, GraphFormat, Output};
use crate::ledger::{Ledger, WriteOptions};
use dlg_store::Store;

/// The sample dialogue, as agent tooling would send it.
const SAMPLE: &str = include_str!("demo/dialogue.json");

#[derive(Deserialize)]
struct Sample {
    create: CreateDialogue,
    rounds: Vec<RegisterRound>,
    verdict: RegisterVerdict,
}

/// Records the sample and shows what a reader sees.
pub async fn run<S: Store>(ledger: &Ledger<S>) -> Result<Output, Failure> {
    let sample: Sample = serde_json::from_str(SAMPLE).map_err(|e| {
        Failure::from(crate::ledger::LedgerError::Request(format!(
            "demo data: {e}"
        )))
    })?;
    let options = WriteOptions::by("dlg-demo");
    let created = ledger.create_dialogue(&sample.create, &options).await?;
    let dialogue = DialogueId::parse(&created.dialogue)
        .map_err(|e| Failure::from(crate::ledger::LedgerError::Request(e.to_string())))?;
    let mut receipts = vec![created];
    for round in sample.rounds {
        receipts.push(
            ledger
                .execute(&dialogue, &Command::RegisterRound(round), &options)
                .await?,
        );
    }
    receipts.push(
        ledger
            .execute(
                &dialogue,
                &Command::RegisterVerdict(sample.verdict),
                &options,
            )
            .await?,
    );
    let head = receipts.last().map_or(0, |r| r.commit);
    ledger
        .wait_for_projection(&dialogue, head, std::time::Duration::from_secs(30))
        .await?;

    let tensions = cli::tensions(ledger, Some(dialogue.as_str()), &[], true).await?;
    let request = cli::GraphRequest {
        entity: Some("T0001".to_owned()),
        depth: 2,
        direction: DirectionArg::Both,
        ref_types: Vec::new(),
        format: GraphFormat::Text,
        as_of: None,
    };
    let graph = cli::graph(ledger, &dialogue, request).await?;
    let audit = cli::audit(ledger, Some(dialogue.as_str()), None, &[]).await?;
    let text = format!(
        "Recorded dialogue `{dialogue}` in {} commits.\n\nTensions:\n{}\n\nGraph around T0001 (2 hops):\n{}\nAudit:\n{}\n\nTry: dlg show {dialogue} · dlg graph {dialogue} --format mermaid · dlg log {dialogue} · dlg export {dialogue}",
        receipts.len(),
        tensions.text,
        graph.text,
        audit.text
    );
    let mut output = Output::new(
        text,
        json!({"dialogue": dialogue, "receipts": receipts, "tensions": tensions.json, "graph": graph.json, "audit": audit.json}),
    );
    output.code = audit.code;
    Ok(output)
}
