//! How every failure is reported, in one place for every front end: the exit code a script
//! branches on, the JSON error body a tool reads (`{"error": {"kind", "message"}}`, or the
//! validation errors themselves), and the MCP tool error built from the same body, so the CLI and
//! `dlg mcp` can never disagree about what an error is called.

use serde::Serialize;
use serde_json::{Value, json};

use dlg_core::error::Rejected;

use crate::ledger::LedgerError;

/// Exit codes: what a script can branch on.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Something failed that is not one of the cases below (store unavailable, I/O).
    pub const FAILURE: u8 = 1;
    /// The command line itself is wrong (clap's usage errors).
    pub const USAGE: u8 = 2;
    /// The request was rejected by validation; the errors are JSON on stderr.
    pub const REJECTED: u8 = 3;
    /// The dialogue (or entity) does not exist.
    pub const NOT_FOUND: u8 = 4;
    /// The audit found problems.
    pub const AUDIT_FAILED: u8 = 5;
    /// A key problem: missing or loose key file, wrong key, shredded dialogue.
    pub const KEY: u8 = 6;
    /// An idempotency key reused for another request, or contention that did not resolve.
    pub const CONFLICT: u8 = 7;
}

/// A failure with its exit code and, for tools, a JSON body.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
    pub json: Value,
}

impl Failure {
    pub fn new(code: u8, kind: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            code,
            json: json!({"error": {"kind": kind, "message": message}}),
            message,
        }
    }

    /// The failure of a rejected command: exit 3 and the validation errors as the JSON body.
    pub fn rejected(rejected: &Rejected) -> Self {
        Self {
            code: exit::REJECTED,
            message: rejected.to_string(),
            json: serde_json::to_value(rejected).unwrap_or_default(),
        }
    }
}

impl From<dlg_store::StoreError> for Failure {
    fn from(error: dlg_store::StoreError) -> Self {
        Failure::from(LedgerError::from(error))
    }
}

impl From<LedgerError> for Failure {
    fn from(error: LedgerError) -> Self {
        use dlg_store::StoreError;
        let message = error.to_string();
        let (code, kind) = match &error {
            LedgerError::Rejected(rejected) => return Failure::rejected(rejected),
            LedgerError::NotFound(_)
            | LedgerError::InvalidDialogueId(_)
            | LedgerError::UnknownEntity { .. } => (exit::NOT_FOUND, "not_found"),
            LedgerError::Usage(_) => (exit::USAGE, "usage"),
            LedgerError::Request(_) => (exit::REJECTED, "invalid_input"),
            LedgerError::TooLarge { .. } | LedgerError::Store(StoreError::TooLarge { .. }) => {
                (exit::REJECTED, "too_large")
            }
            LedgerError::IdempotencyMismatch { .. } => (exit::CONFLICT, "idempotency_mismatch"),
            LedgerError::Contention { .. } => (exit::CONFLICT, "contention"),
            LedgerError::Shredded(_) => (exit::KEY, "shredded"),
            LedgerError::WrongKey { .. } => (exit::KEY, "wrong_key"),
            LedgerError::KeyFile(_) => (exit::KEY, "key_file"),
            LedgerError::KeyService(_) => (exit::KEY, "key_service"),
            LedgerError::KeyMaterial { .. } => (exit::KEY, "key_material"),
            LedgerError::DataDirectory(_) => (exit::FAILURE, "io"),
            LedgerError::Tampered { .. } => (exit::AUDIT_FAILED, "tampered"),
            LedgerError::Corrupt { .. } | LedgerError::Store(StoreError::Corrupt(_)) => {
                (exit::AUDIT_FAILED, "corrupt")
            }
            LedgerError::Projection(_) | LedgerError::Unfoldable { .. } => {
                (exit::FAILURE, "projection")
            }
            LedgerError::NotProjected(_) => (exit::FAILURE, "not_projected"),
            LedgerError::GraphAhead { .. } => (exit::AUDIT_FAILED, "graph_ahead"),
            LedgerError::Session(_) => (exit::FAILURE, "mcp_session"),
            LedgerError::Store(_) => (exit::FAILURE, "store"),
            LedgerError::NoSigner | LedgerError::Signing(_) => (exit::KEY, "signing_key"),
            LedgerError::NoContentKey => (exit::KEY, "key_file"),
            LedgerError::RolledBack { .. } => (exit::AUDIT_FAILED, "rolled_back"),
            LedgerError::Forked { .. } => (exit::AUDIT_FAILED, "forked"),
            LedgerError::Deleted { .. } => (exit::AUDIT_FAILED, "deleted"),
            LedgerError::Heads(_) => (exit::FAILURE, "io"),
            LedgerError::Checkpoint(_) => (exit::USAGE, "usage"),
        };
        Failure::new(code, kind, message)
    }
}

/// What a command prints on success: text for people, JSON for tools.
#[derive(Debug)]
pub struct Output {
    pub text: String,
    pub json: Value,
    /// Exit code (non-zero for an audit with problems).
    pub code: u8,
    /// The text is exact data (JSON a command prints as its text form) and is printed as is;
    /// any other text is neutralised once more on its way to the terminal.
    pub verbatim: bool,
}

impl Output {
    pub fn new(text: impl Into<String>, json: impl Serialize) -> Self {
        Self {
            text: text.into(),
            json: serde_json::to_value(json).unwrap_or(Value::Null),
            code: exit::OK,
            verbatim: false,
        }
    }

    /// Marks the text as exact data, printed as is.
    pub fn verbatim(mut self) -> Self {
        self.verbatim = true;
        self
    }
}

impl Failure {
    /// The MCP tool result for this failure: the same JSON body, marked as an error.
    /// CLI commands a message names are named as the MCP tools that do the same.
    pub fn to_mcp(&self) -> rmcp::model::CallToolResult {
        let mut json = self.json.clone();
        for_mcp(&mut json);
        rmcp::model::CallToolResult::structured_error(json)
    }
}

/// CLI commands in error texts, and the MCP tools that do the same.
const MCP_NAMES: [(&str, &str); 9] = [
    ("`dlg list`", "`list_dialogues`"),
    ("`dlg export`", "`export_dialogue`"),
    ("`dlg round`", "`register_round`"),
    ("`dlg verdict`", "`register_verdict`"),
    ("`dlg status`", "`update_statuses`"),
    ("`dlg dialogue-status`", "`set_dialogue_status`"),
    ("`dlg entity`", "`get_entity`"),
    ("`dlg context`", "`round_context`"),
    ("`dlg draft-round`", "`draft_round`"),
];

fn for_mcp(value: &mut Value) {
    match value {
        Value::String(text) => {
            for (cli, tool) in MCP_NAMES {
                if text.contains(cli) {
                    *text = text.replace(cli, tool);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(for_mcp),
        Value::Object(map) => map.values_mut().for_each(for_mcp),
        _ => {}
    }
}
