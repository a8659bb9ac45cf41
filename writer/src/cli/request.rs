//! Reading what a command is asked to do: JSON requests from a file or stdin (malformed input
//! is a validation error with its position), dialogue ids, write options, and receipts.

use std::io::{IsTerminal, Read};
use std::path::Path;

use dlg_core::error::{ErrorCode, Rejected, ValidationError};
use dlg_core::ids::DialogueId;

use super::args::Global;
use crate::ledger::{LedgerError, WriteOptions};
use crate::report::{Failure, Output, exit};

pub(super) fn malformed(source: &str, error: &serde_json::Error) -> Failure {
    let rejected = Rejected::one(
        ValidationError::new(
            ErrorCode::MalformedRequest,
            format!("line {} column {}", error.line(), error.column()),
            source,
            format!("the request in {source} is not valid: {error}"),
        )
        .suggest("send one JSON object as described in the README, section \"For agent tooling\""),
    );
    Failure::rejected(&rejected)
}

/// Reads a JSON request from a file, or stdin for `-`/none, and parses it as `T`. Bytes that
/// are not UTF-8 are a malformed request with their position; a leading UTF-8 byte-order mark
/// (which some editors and shells write) is ignored.
pub(super) fn read_request<T: serde::de::DeserializeOwned>(
    file: Option<&Path>,
) -> Result<T, Failure> {
    let (source, bytes) = match file {
        Some(path) if path != Path::new("-") => {
            let bytes = std::fs::read(path).map_err(|e| {
                Failure::new(
                    exit::FAILURE,
                    "io",
                    format!("cannot read request file {}: {e}", path.display()),
                )
            })?;
            (path.display().to_string(), bytes)
        }
        _ => {
            if std::io::stdin().is_terminal() {
                return Err(Failure::new(
                    exit::USAGE,
                    "usage",
                    "expected a JSON request on stdin (or a file argument); see `dlg help`",
                ));
            }
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).map_err(|e| {
                Failure::new(exit::FAILURE, "io", format!("cannot read stdin: {e}"))
            })?;
            ("stdin".to_owned(), bytes)
        }
    };
    let json = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    serde_json::from_slice(json).map_err(|e| malformed(&source, &e))
}

pub(super) fn dialogue_id(text: &str) -> Result<DialogueId, Failure> {
    DialogueId::parse(text).map_err(|e| Failure::from(LedgerError::InvalidDialogueId(e)))
}

pub(super) fn write_options(global: &Global) -> WriteOptions {
    WriteOptions {
        actor: global.actor.clone(),
        time: global.time.clone(),
        idempotency_key: global.idempotency_key.clone(),
    }
}

pub(super) fn receipt_output(receipt: &dlg_core::append::Receipt) -> Output {
    let mut text = format!(
        "{} commit {} of {} ({} event{}), hash {}",
        if receipt.replayed {
            "already recorded:"
        } else {
            "recorded"
        },
        receipt.commit,
        receipt.dialogue,
        receipt.events,
        if receipt.events == 1 { "" } else { "s" },
        &receipt.hash[..16]
    );
    for (local, global) in &receipt.id_mapping {
        text.push_str(&format!("\n  {local} → {global}"));
    }
    Output::new(text, receipt)
}
