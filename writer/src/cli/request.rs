//! Reading what a command is asked to do: JSON requests from a file or stdin (malformed input
//! is a validation error with its position), dialogue ids, write options, and receipts.

use std::io::IsTerminal;
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

/// The largest request read from a file or stdin unless `--max-request-bytes` says otherwise:
/// ten times the largest commit every store accepts.
pub const DEFAULT_MAX_REQUEST: u64 = 4 * 1024 * 1024;

fn too_large(source: &str, size: &str, limit: u64) -> Failure {
    Failure::rejected(&Rejected::one(
        ValidationError::new(
            ErrorCode::MalformedRequest,
            "",
            source,
            format!("the request in {source} is {size}, over the limit of {limit} bytes; it was not read whole"),
        )
        .suggest("split the batch into smaller requests (a commit holds at most 400000 bytes), or raise --max-request-bytes"),
    ))
}

/// Reads a JSON request from a file, or stdin for `-`/none, and parses it as `T`. The file must
/// be a regular file (a FIFO or device is refused without blocking); neither is read past
/// `limit` bytes. Bytes that are not UTF-8 are a malformed request with their position, as is a
/// key repeated in an object; a leading UTF-8 byte-order mark (which some editors and shells
/// write) is ignored.
pub(super) fn read_request<T: serde::de::DeserializeOwned>(
    file: Option<&Path>,
    limit: u64,
) -> Result<T, Failure> {
    use crate::files::{FileError, Links, read_capped, read_regular};
    let read_failure = |error: FileError| match error {
        FileError::TooLarge { path, size, limit } => too_large(&path, &size, limit),
        FileError::Io { path, reason, .. } => Failure::new(
            exit::FAILURE,
            "io",
            format!("cannot read request file {path}: {reason}"),
        ),
        other => Failure::new(exit::FAILURE, "io", other.to_string()),
    };
    let (source, bytes) = match file {
        Some(path) if path != Path::new("-") => {
            let bytes = read_regular(path, Links::Follow, limit).map_err(read_failure)?;
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
            let bytes =
                read_capped(std::io::stdin().lock(), limit, "stdin").map_err(read_failure)?;
            ("stdin".to_owned(), bytes)
        }
    };
    let json = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    dlg_core::command::parse_json(json).map_err(|e| malformed(&source, &e))
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
    for note in &receipt.notes {
        text.push_str(&format!("\nnote: {note}"));
    }
    Output::new(text, receipt)
}
