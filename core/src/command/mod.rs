//! Commands agent tooling sends, and `decide`: validate a command against the dialogue's folded
//! state and turn it into events — or reject it with every error at once and no events.
//!
//! The module is laid out by job. `request.rs` holds the input types of every command;
//! `context.rs` the validation context a command is checked in, and the helpers every check
//! shares. Each command's checks have their own file: `dialogue.rs` (creating a dialogue,
//! changing its status, choosing its id), `experts.rs` (the panel), `round.rs` (registering a
//! round), `entities.rs` (one entity of a round), `references.rs` (typed references),
//! `resolve.rs` (the entity ids a request names), `status.rs` (status updates and transitions)
//! and `verdict.rs` (verdicts).

mod context;
mod dialogue;
mod entities;
mod experts;
mod panel;
mod references;
mod request;
mod resolve;
mod round;
mod status;
mod verdict;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, Rejected, ValidationError};
use crate::event::NewEvent;
use crate::graph::Graph;

use context::Ctx;
pub use dialogue::{dialogue_id_for, dialogue_id_of};
pub use request::{
    ChangeDialogueStatus, CreateDialogue, EntityInput, EntityReferenceInput, ExpertInput,
    ExpertRoundInput, MoveInput, PanelSeatInput, ReferenceInput, RegisterRound, RegisterVerdict,
    StatusUpdateInput, UpdateStatuses, parse_json,
};

/// Every command, tagged by name (`{"command": "register_round", ...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    CreateDialogue(CreateDialogue),
    AddExpert(ExpertInput),
    RegisterRound(RegisterRound),
    UpdateStatuses(UpdateStatuses),
    RegisterVerdict(RegisterVerdict),
    ChangeDialogueStatus(ChangeDialogueStatus),
}

impl Command {
    /// Canonical bytes of the command, for the idempotency fingerprint.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Serializing to a Value first sorts every object's keys (serde_json's default map).
        serde_json::to_value(self)
            .and_then(|v| serde_json::to_vec(&v))
            .unwrap_or_default()
    }
}

/// What an accepted command decided: the events, and for round registrations the mapping from
/// local to global ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub events: Vec<NewEvent>,
    pub id_mapping: BTreeMap<String, String>,
}

/// Validates `command` against the dialogue's state and decides its events. Creating a
/// dialogue goes through [`decide_create`], which needs the id the store chose.
pub fn decide(graph: &Graph, command: &Command) -> Result<Decision, Rejected> {
    if let Command::CreateDialogue(create) = command {
        return decide_create(graph, create);
    }
    let Some(meta) = &graph.meta else {
        return Err(Rejected::one(
            ValidationError::new(
                ErrorCode::DialogueNotFound,
                "dialogue",
                graph.dialogue.as_str(),
                format!("there is no dialogue `{}`", graph.dialogue),
            )
            .suggest("list dialogues with `dlg list`, or create it first"),
        ));
    };
    if meta.status.is_final() && !matches!(command, Command::ChangeDialogueStatus(_)) {
        return Err(Rejected::one(ValidationError::new(
            ErrorCode::DialogueClosed,
            "dialogue",
            graph.dialogue.as_str(),
            format!(
                "dialogue `{}` is {}: nothing more can be recorded in it",
                graph.dialogue, meta.status
            ),
        )));
    }
    let mut ctx = Ctx::new(graph);
    match command {
        Command::CreateDialogue(_) => unreachable!("handled above"),
        Command::AddExpert(expert) => ctx.add_expert(expert),
        Command::RegisterRound(round) => ctx.register_round(round),
        Command::UpdateStatuses(updates) => ctx.update_statuses(updates),
        Command::RegisterVerdict(verdict) => ctx.verdict(verdict),
        Command::ChangeDialogueStatus(change) => ctx.dialogue_status(meta.status, change),
    }
    ctx.finish()
}

/// Validates a new dialogue under the id the store chose and decides its creation events.
/// `graph` is the (empty) graph of that id.
pub fn decide_create(graph: &Graph, create: &CreateDialogue) -> Result<Decision, Rejected> {
    let mut ctx = Ctx::new(graph);
    ctx.create_dialogue(create);
    ctx.finish()
}
