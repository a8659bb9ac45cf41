//! Running an import plan against the ledger, and the summary of what it did.

use std::collections::BTreeMap;

use serde::Serialize;

use dlg_core::command::Command;
use dlg_core::ids::{DialogueId, EntityKind, slugify};
use dlg_core::model::tension_is_open;

use super::Plan;
use crate::ledger::{Ledger, LedgerError, WriteOptions};
use dlg_store::Store;

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
