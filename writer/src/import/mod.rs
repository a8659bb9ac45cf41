//! `dlg import`: brings dialogue archives written by agent tooling (folders of markdown and JSON)
//! into the ledger through the same commands as live registration, so validation and the chain
//! apply. Three steps, one module each: [`folder`] reads a dialogue folder's files (the only file
//! I/O), [`planner`] decides every command from what was read (pure: no I/O, never fails on
//! content), and [`run`] executes the plan with idempotency keys derived from the folder, so
//! importing the same folder again changes nothing.

use std::path::{Path, PathBuf};

use serde::Serialize;

use dlg_core::command::{CreateDialogue, RegisterRound, RegisterVerdict, UpdateStatuses};

use crate::ledger::LedgerError;

pub mod folder;
pub mod planner;
pub mod run;

pub use folder::{Archive, dialogue_folders, is_dialogue_folder};
pub use run::{ImportSummary, run, summarize_plan};

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

/// Reads one dialogue folder and plans its import.
pub fn plan(folder: &Path) -> Result<Plan, LedgerError> {
    Ok(planner::plan(folder::read(folder)?))
}
