//! The verification commands: `audit` (against a digest or signed checkpoints, with or without
//! the master key), `checkpoint` (signed statements of chain heads) and `signer` (the public key
//! auditors pin).

use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use dlg_core::chain::Digest;
use dlg_core::commit::Commit;
use dlg_core::ids::DialogueId;
use dlg_core::sign::{PublicKey, Trust};

use super::request::dialogue_id;
use crate::audit::{AuditOptions, AuditReport, Problem, ProblemKind};
use crate::checkpoint::{Checkpoint, CheckpointError, MAX_CHECKPOINT_BYTES, ORIGIN_PREFIX};
use crate::ledger::{Ledger, LedgerError};
use crate::report::{Failure, Output, exit};
use dlg_store::Store;

/// Largest checkpoint file or folder entry read.
const MAX_CHECKPOINT_FILE: u64 = 16 * MAX_CHECKPOINT_BYTES;

/// `dlg audit`: every dialogue (or one), against a digest or checkpoints if given.
pub(crate) async fn audit<S: Store>(
    ledger: &Ledger<S>,
    dialogue: Option<&str>,
    digest: Option<&str>,
    checkpoints: &[PathBuf],
) -> Result<Output, Failure> {
    let trust = ledger.trust();
    let digest: Option<Digest> = match digest {
        Some(text) => Some(
            text.parse()
                .map_err(|e: String| Failure::new(exit::USAGE, "usage", e))?,
        ),
        None => None,
    };
    let only = dialogue.map(dialogue_id).transpose()?;
    if let Some(digest) = &digest {
        held_for(only.as_ref(), &digest.dialogue, digest.commit, "the digest")?;
    }
    let mut reports = Vec::new();
    let mut others: Vec<String> = Vec::new();
    if !checkpoints.is_empty() {
        for (source, note) in read_checkpoints(checkpoints)? {
            let checkpoint = Checkpoint::parse_unverified(note.as_bytes(), &source)
                .map_err(LedgerError::from)?;
            held_for(
                None,
                &checkpoint.dialogue,
                checkpoint.commit,
                &format!("the checkpoint {source}"),
            )?;
            // Of several checkpoints (a folder of them), those of the dialogue asked for.
            if only.as_ref().is_some_and(|d| d != &checkpoint.dialogue) {
                others.push(checkpoint.dialogue.to_string());
                continue;
            }
            reports.push(audit_checkpoint(ledger, &trust, &source, &note, &checkpoint).await?);
        }
        if let Some(asked) = &only
            && reports.is_empty()
        {
            others.sort();
            others.dedup();
            return Err(Failure::new(
                exit::USAGE,
                "usage",
                format!(
                    "no checkpoint given is of dialogue `{asked}` (they are of {}): give a checkpoint of `{asked}`",
                    others.join(", ")
                ),
            ));
        }
    } else {
        let dialogues = match (only, &digest) {
            (Some(d), _) => vec![d],
            (None, Some(digest)) => vec![digest.dialogue.clone()],
            (None, None) => ledger.dialogues_and_marks().await?,
        };
        let options = AuditOptions {
            digest: digest.clone(),
            from_checkpoint: false,
            trust: trust.clone(),
        };
        for dialogue in &dialogues {
            reports.push(ledger.audit(dialogue, &options).await?);
        }
    }
    let against = if !checkpoints.is_empty() {
        " against the checkpoint"
    } else if digest.is_some() {
        " against the digest"
    } else {
        ""
    };
    Ok(audit_output(&reports, against))
}

/// Audits the dialogue a checkpoint names against it, once its signature verifies.
/// A digest or checkpoint audits the dialogue it was taken of, after its first commit: one of
/// another dialogue, or at commit 0, is a usage error that says so (not a finding).
fn held_for(
    only: Option<&DialogueId>,
    of: &DialogueId,
    commit: u64,
    what: &str,
) -> Result<(), Failure> {
    if let Some(asked) = only
        && asked != of
    {
        return Err(Failure::new(
            exit::USAGE,
            "usage",
            format!(
                "{what} is of dialogue `{of}`, not `{asked}`: audit `{of}` with it, or give the digest or checkpoint of `{asked}`"
            ),
        ));
    }
    if commit == 0 {
        return Err(Failure::new(
            exit::USAGE,
            "usage",
            format!(
                "{what} is at commit 0, before any commit: it vouches for nothing; take one with `dlg digest {of}` or `dlg checkpoint {of}` after a commit"
            ),
        ));
    }
    Ok(())
}

async fn audit_checkpoint<S: Store>(
    ledger: &Ledger<S>,
    trust: &Trust,
    source: &str,
    note: &str,
    checkpoint: &Checkpoint,
) -> Result<AuditReport, Failure> {
    // Pinned keys, or (unpinned) the keys that signed the dialogue's commits.
    let keys = match trust {
        Trust::Pinned(keys) => keys.clone(),
        Trust::Unpinned => ledger.signers_of(&checkpoint.dialogue).await?,
    };
    match Checkpoint::parse_verified(note.as_bytes(), source, &keys) {
        Ok(_) => {}
        Err(error @ CheckpointError::Unverified { .. }) => {
            return Ok(AuditReport {
                dialogue: checkpoint.dialogue.to_string(),
                commits: 0,
                events: 0,
                head: String::new(),
                sealed_fields_opened: 0,
                shredded: false,
                content_checked: false,
                signers: Vec::new(),
                pinned: matches!(trust, Trust::Pinned(_)),
                unsigned_commits: 0,
                verified_at: None,
                problems: vec![Problem {
                    commit: checkpoint.commit,
                    kind: ProblemKind::BadCheckpoint,
                    detail: error.to_string(),
                }],
                warnings: Vec::new(),
            });
        }
        Err(error) => return Err(LedgerError::from(error).into()),
    }
    let options = AuditOptions {
        digest: Some(checkpoint.digest()),
        from_checkpoint: true,
        trust: trust.clone(),
    };
    Ok(ledger.audit(&checkpoint.dialogue, &options).await?)
}

/// The audit reports as text and JSON; the exit code says whether all are clean.
pub(crate) fn audit_output(reports: &[AuditReport], against: &str) -> Output {
    let mut text = String::new();
    for report in reports {
        if report.is_clean() {
            let content = if report.shredded {
                "content shredded (keys deleted)".to_owned()
            } else if !report.content_checked {
                "content not checked (no master key)".to_owned()
            } else {
                format!("{} sealed fields open", report.sealed_fields_opened)
            };
            let signed = match (report.signers.len(), report.pinned) {
                (0, _) => "no signed commits".to_owned(),
                (_, true) => "signatures by pinned keys".to_owned(),
                (_, false) => "signatures verified (keys not pinned)".to_owned(),
            };
            text.push_str(&format!(
                "{}: ok — {} commits, {} events, chain verified{against}, {signed}, {content}, graph matches the rebuild\n",
                report.dialogue, report.commits, report.events,
            ));
        } else {
            text.push_str(&format!(
                "{}: {} problem(s)\n",
                report.dialogue,
                report.problems.len()
            ));
            for problem in &report.problems {
                text.push_str(&format!(
                    "  commit {}: {} — {}\n",
                    problem.commit, problem.kind, problem.detail
                ));
            }
        }
        for warning in &report.warnings {
            text.push_str(&format!("  warning: {warning}\n"));
        }
    }
    let clean = reports.iter().all(AuditReport::is_clean);
    let mut output = Output::new(text.trim_end().to_owned(), reports);
    if !clean {
        output.code = exit::AUDIT_FAILED;
    }
    output
}

/// The notes in checkpoint files and folders, each with where it came from.
fn read_checkpoints(paths: &[PathBuf]) -> Result<Vec<(String, String)>, Failure> {
    let mut notes = Vec::new();
    for path in paths {
        let files = if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| unreadable(path, &e.to_string()))?
                .filter_map(Result::ok)
                .map(|entry| entry.path())
                .filter(|p| p.extension().is_some_and(|e| e == "checkpoint"))
                .collect();
            files.sort();
            files
        } else {
            vec![path.clone()]
        };
        for file in files {
            let text = read_small(&file)?;
            for (i, note) in split_notes(&text).into_iter().enumerate() {
                notes.push((format!("{} (note {})", file.display(), i + 1), note));
            }
        }
    }
    Ok(notes)
}

fn unreadable(path: &Path, reason: &str) -> Failure {
    Failure::new(
        exit::USAGE,
        "usage",
        format!("cannot read the checkpoint {}: {reason}", path.display()),
    )
}

fn read_small(path: &Path) -> Result<String, Failure> {
    let metadata = std::fs::metadata(path).map_err(|e| unreadable(path, &e.to_string()))?;
    if !metadata.is_file() {
        return Err(unreadable(path, "not a regular file"));
    }
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_CHECKPOINT_FILE + 1).read_to_string(&mut text))
        .map_err(|e| unreadable(path, &e.to_string()))?;
    if text.len() as u64 > MAX_CHECKPOINT_FILE {
        return Err(unreadable(
            path,
            &format!("larger than {MAX_CHECKPOINT_FILE} bytes"),
        ));
    }
    Ok(text)
}

/// Splits concatenated notes: a new note starts at an origin line after a blank line that
/// follows signature lines.
pub(crate) fn split_notes(text: &str) -> Vec<String> {
    let mut notes = Vec::new();
    let mut current = String::new();
    let mut signed = false;
    let mut previous_blank = false;
    for line in text.split_inclusive('\n') {
        let bare = line.trim_end_matches('\n');
        if signed && previous_blank && bare.starts_with(ORIGIN_PREFIX) {
            notes.push(std::mem::take(&mut current).trim_end().to_owned() + "\n");
            signed = false;
        }
        if bare.starts_with("\u{2014} ") {
            signed = true;
        }
        previous_blank = bare.is_empty();
        current.push_str(line);
    }
    if !current.trim().is_empty() {
        notes.push(current.trim_end().to_owned() + "\n");
    }
    notes
}

/// `dlg checkpoint`: signed checkpoints of one dialogue or all.
pub(crate) async fn checkpoint<S: Store>(
    ledger: &Ledger<S>,
    dialogue: Option<&str>,
    out: Option<&Path>,
) -> Result<Output, Failure> {
    let signer = ledger.signer().ok_or(LedgerError::NoSigner)?;
    let dialogues = match dialogue {
        Some(d) => vec![dialogue_id(d)?],
        None => ledger.dialogues().await?,
    };
    let mut notes: Vec<(DialogueId, Digest, String)> = Vec::new();
    for dialogue in dialogues {
        let digest = ledger.digest(&dialogue).await?;
        let note = Checkpoint::of(&digest)
            .sign(signer)
            .await
            .map_err(LedgerError::from)?;
        notes.push((dialogue, digest, note));
    }
    let json: Vec<_> = notes
        .iter()
        .map(|(d, digest, note)| json!({"dialogue": d, "commit": digest.commit, "hash": dlg_core::chain::to_hex(&digest.hash), "note": note}))
        .collect();
    let text = match out {
        None => notes
            .iter()
            .map(|(_, _, note)| note.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        Some(out) => {
            let single = dialogue.is_some() && !out.is_dir();
            if !single {
                std::fs::create_dir_all(out).map_err(|e| write_failed(out, &e))?;
            }
            for (dialogue, _, note) in &notes {
                let path = if single {
                    out.to_owned()
                } else {
                    out.join(format!("{dialogue}.checkpoint"))
                };
                std::fs::write(&path, note).map_err(|e| write_failed(&path, &e))?;
            }
            format!("wrote {} checkpoint(s) to {}", notes.len(), out.display())
        }
    };
    Ok(Output::new(text.trim_end().to_owned(), json))
}

fn write_failed(path: &Path, error: &std::io::Error) -> Failure {
    Failure::new(
        exit::USAGE,
        "usage",
        format!("cannot write {}: {error}", path.display()),
    )
}

/// `dlg signer`: the public key that signs, in both forms auditors take.
pub(crate) fn signer<S: Store>(ledger: &Ledger<S>) -> Result<Output, Failure> {
    let signer = ledger.signer().ok_or(LedgerError::NoSigner)?;
    let key: PublicKey = signer.public_key();
    Ok(Output::new(
        format!(
            "public key    {key}\nverifier key  {}\nsource        {}\npin it with   dlg audit --trust {key}",
            key.verifier_key(),
            signer.source()
        ),
        json!({"public_key": key.to_string(), "verifier_key": key.verifier_key(), "source": signer.source()}),
    ))
}

/// Decodes each commit's signer (for an unpinned checkpoint check).
pub(crate) fn signers_in(rows: &[dlg_store::CommitRow]) -> Vec<PublicKey> {
    let mut keys = Vec::new();
    for row in rows {
        if let Ok(commit) = Commit::decode(&row.bytes)
            && let Some(key) = commit.header.signer
            && !keys.contains(&key)
        {
            keys.push(key);
        }
    }
    keys
}
