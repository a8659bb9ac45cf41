//! `dlg audit`: replay a dialogue and prove it unaltered. Verifies the chain and every commit's
//! signature (against pinned keys, or naming the keys it found), a digest or signed checkpoint
//! if given and the writer's own high-water mark if it keeps one; opens every sealed field with
//! its associated data when a master key is at hand (without one, content is reported as not
//! checked); rebuilds the graph in memory and diffs it against the stored graph. Read-only: it
//! never repairs what it finds.

use serde::Serialize;

use dlg_core::chain::{self, Digest};
use dlg_core::commit::Commit;
use dlg_core::graph::{Drift, Graph, diff_items};
use dlg_core::ids::DialogueId;
use dlg_core::sign::Trust;

use crate::ledger::{Ledger, LedgerError};
use dlg_store::{CommitRow, Store};

/// What kind of problem an audit found; serialized as the snake_case name tools match on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProblemKind {
    /// A commit number is absent: the commit was deleted.
    MissingCommit,
    /// The recomputed hash differs from the recorded one: the bytes (or the chain) changed.
    BrokenLink,
    /// The stored bytes are not a commit.
    Malformed,
    /// The commit belongs to another dialogue.
    WrongDialogue,
    /// The commit's own number differs from where it is stored.
    OutOfPlace,
    /// Event sequence numbers do not continue from the previous commit.
    SequenceBreak,
    /// The hash at the digest's commit differs from the digest.
    DigestMismatch,
    /// The ledger ends before the digest's commit.
    Truncated,
    /// A sealed field does not open under its key and address.
    BadCiphertext,
    /// The stored graph differs from a rebuild from the events.
    ProjectionDrift,
    /// A format 2 commit has no signature.
    MissingSignature,
    /// A commit's signature does not verify under the key its header names.
    BadSignature,
    /// A commit is signed by a key that is not pinned (`--trust`).
    UntrustedSigner,
    /// An unsigned format 1 commit follows signed ones.
    Downgrade,
    /// A format 1 commit carries a signature.
    UnexpectedSignature,
    /// The store ends before a checkpoint's (or the writer's high-water mark's) commit.
    RolledBack,
    /// The store's commit at a checkpoint (or high-water mark) is not the one checkpointed.
    Forked,
    /// A checkpointed dialogue is not in the store at all.
    MissingDialogue,
    /// A checkpoint's signature does not verify under a trusted key.
    BadCheckpoint,
    /// A wrapped data key of the dialogue does not open under the master key: the keys row was
    /// altered or planted, or the ledger was written under another master key.
    BadKey,
}

impl ProblemKind {
    /// The kind of a chain verification problem.
    pub fn of(problem: &chain::ChainProblem) -> Self {
        use chain::ChainProblem as P;
        match problem {
            P::MissingCommit => Self::MissingCommit,
            P::Malformed { .. } => Self::Malformed,
            P::WrongDialogue { .. } => Self::WrongDialogue,
            P::OutOfPlace { .. } => Self::OutOfPlace,
            P::SequenceBreak { .. } => Self::SequenceBreak,
            P::BrokenLink { .. } => Self::BrokenLink,
            P::DigestMismatch { .. } => Self::DigestMismatch,
            P::Truncated { .. } => Self::Truncated,
            P::MissingSignature { .. } => Self::MissingSignature,
            P::BadSignature { .. } => Self::BadSignature,
            P::UntrustedSigner { .. } => Self::UntrustedSigner,
            P::Downgrade => Self::Downgrade,
            P::UnexpectedSignature => Self::UnexpectedSignature,
        }
    }

    /// The name tools see in JSON (`broken_link`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MissingCommit => "missing_commit",
            Self::BrokenLink => "broken_link",
            Self::Malformed => "malformed",
            Self::WrongDialogue => "wrong_dialogue",
            Self::OutOfPlace => "out_of_place",
            Self::SequenceBreak => "sequence_break",
            Self::DigestMismatch => "digest_mismatch",
            Self::Truncated => "truncated",
            Self::BadCiphertext => "bad_ciphertext",
            Self::ProjectionDrift => "projection_drift",
            Self::MissingSignature => "missing_signature",
            Self::BadSignature => "bad_signature",
            Self::UntrustedSigner => "untrusted_signer",
            Self::Downgrade => "downgrade",
            Self::UnexpectedSignature => "unexpected_signature",
            Self::RolledBack => "rolled_back",
            Self::Forked => "forked",
            Self::MissingDialogue => "missing_dialogue",
            Self::BadCheckpoint => "bad_checkpoint",
            Self::BadKey => "bad_key",
        }
    }
}

impl std::fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One problem found, with the commit it is at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub commit: u64,
    pub kind: ProblemKind,
    pub detail: String,
}

/// The outcome of auditing one dialogue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditReport {
    pub dialogue: String,
    pub commits: u64,
    pub events: u64,
    /// Hash of the last verified commit.
    pub head: String,
    /// Sealed fields opened successfully.
    pub sealed_fields_opened: u64,
    /// True when the dialogue's keys were deleted: content is reported, not opened.
    pub shredded: bool,
    /// Whether sealed content was opened (false without a master key, or after shredding).
    pub content_checked: bool,
    /// The keys that signed the verified commits (hex), in order of first appearance.
    pub signers: Vec<String>,
    /// Whether the signers were checked against pinned keys (`--trust`).
    pub pinned: bool,
    /// Commits in the unsigned format 1 (a prefix written before format 2).
    pub unsigned_commits: u64,
    /// The commit a digest or checkpoint was verified at, if one was given.
    pub verified_at: Option<u64>,
    pub problems: Vec<Problem>,
    /// Things worth knowing that are not tampering (a projection that is behind).
    pub warnings: Vec<String>,
}

impl AuditReport {
    /// Whether nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// What an audit checks against besides the store itself.
#[derive(Debug, Clone, Default)]
pub struct AuditOptions {
    /// A digest the auditor kept (`dlg digest`), or the statement of a verified checkpoint.
    pub digest: Option<Digest>,
    /// Whether `digest` comes from a signed checkpoint: a store behind it is reported as
    /// `rolled_back`, one that differs at it as `forked`.
    pub from_checkpoint: bool,
    /// The signing keys accepted.
    pub trust: Trust,
}

impl<S: Store> Ledger<S> {
    /// The keys named by the dialogue's commits, in order of first appearance.
    pub async fn signers_of(
        &self,
        dialogue: &DialogueId,
    ) -> Result<Vec<dlg_core::sign::PublicKey>, LedgerError> {
        let rows = self.store().commits(dialogue, 1).await?;
        Ok(crate::cli::signers_in(&rows))
    }

    /// Whether the master key opens another dialogue's data key: then a key of `dialogue` that
    /// does not open is that dialogue's problem (a keys row altered or planted), not a wrong
    /// master key, which is a key error for every dialogue.
    async fn another_key_opens(&self, dialogue: &DialogueId) -> bool {
        let Ok(dialogues) = self.dialogues().await else {
            return false;
        };
        for other in dialogues.iter().filter(|d| *d != dialogue) {
            if self
                .key_ring(other)
                .await
                .is_ok_and(|ring| !ring.is_empty())
            {
                return true;
            }
        }
        false
    }

    /// Audits one dialogue, optionally against a digest or checkpoint kept earlier.
    pub async fn audit(
        &self,
        dialogue: &DialogueId,
        options: &AuditOptions,
    ) -> Result<AuditReport, LedgerError> {
        // The mark before the store, as the writer reads them (see `Ledger::fold`).
        let mark = match self.heads() {
            Some(heads) => heads.get(dialogue)?,
            None => None,
        };
        let rows = self.store().commits(dialogue, 1).await?;
        let mut problems = Vec::new();
        let mut warnings = Vec::new();
        if rows.is_empty() {
            let held = options
                .digest
                .as_ref()
                .filter(|d| &d.dialogue == dialogue)
                .or(mark.as_ref());
            let Some(held) = held else {
                return Err(LedgerError::NotFound(dialogue.clone()));
            };
            problems.push(Problem {
                commit: held.commit,
                kind: ProblemKind::MissingDialogue,
                detail: format!(
                    "the dialogue is not in the store, but {} holds it up to commit {}: it was deleted",
                    if options.digest.is_some() { "the checkpoint" } else { "this writer's high-water mark" },
                    held.commit
                ),
            });
            return Ok(AuditReport {
                dialogue: dialogue.to_string(),
                commits: 0,
                events: 0,
                head: String::new(),
                sealed_fields_opened: 0,
                shredded: false,
                content_checked: false,
                signers: Vec::new(),
                pinned: matches!(options.trust, Trust::Pinned(_)),
                unsigned_commits: 0,
                verified_at: None,
                problems,
                warnings,
            });
        }

        // 1. The chain and its signatures, over the bytes as stored.
        let stored = rows.iter().map(CommitRow::as_stored);
        let verified = match &options.digest {
            Some(digest) => chain::verify_against(digest, stored, &options.trust),
            None => chain::verify_trusted(dialogue, stored, &options.trust),
        };
        let verified_upto = match &verified {
            Ok(head) => head.commit,
            Err(error) => {
                let mut kind = ProblemKind::of(&error.problem);
                if options.from_checkpoint {
                    kind = match kind {
                        ProblemKind::Truncated => ProblemKind::RolledBack,
                        ProblemKind::DigestMismatch => ProblemKind::Forked,
                        other => other,
                    };
                }
                problems.push(Problem {
                    commit: error.commit,
                    kind,
                    detail: error.problem.to_string(),
                });
                error.commit.saturating_sub(1)
            }
        };
        // The writer's own high-water mark, when this data directory keeps one.
        if let Some(mark) = &mark {
            match rows.iter().find(|r| r.number == mark.commit) {
                None => problems.push(Problem {
                    commit: mark.commit,
                    kind: ProblemKind::RolledBack,
                    detail: format!(
                        "this writer wrote commit {} (hash {}), but the store ends at commit {}: it was rolled back or truncated",
                        mark.commit,
                        chain::to_hex(&mark.hash),
                        rows.last().map_or(0, |r| r.number)
                    ),
                }),
                Some(row) if row.hash != mark.hash => problems.push(Problem {
                    commit: mark.commit,
                    kind: ProblemKind::Forked,
                    detail: format!(
                        "the commit stored here is not the one this writer wrote (hash {}): history was rewritten",
                        chain::to_hex(&mark.hash)
                    ),
                }),
                Some(_) => {}
            }
        }
        let (signers, unsigned_commits) = match &verified {
            Ok(head) => (
                head.signers.iter().map(ToString::to_string).collect(),
                head.unsigned,
            ),
            Err(_) => (Vec::new(), 0),
        };
        let pinned = matches!(options.trust, Trust::Pinned(_));
        if verified.is_ok() && !pinned && !signers.is_empty() {
            warnings.push(format!(
                "signatures verified against {}, which no --trust pinned: pin the writer's key (`dlg signer`) to prove who signed",
                signers.join(", ")
            ));
        }
        if unsigned_commits > 0 {
            warnings.push(format!(
                "commits 1–{unsigned_commits} are unsigned format 1 (written before signatures): their chain verifies, but only the signatures after them vouch for who wrote them"
            ));
        }

        // 2. Every sealed field opens under its address (when a master key is at hand).
        // Whether the keys were shredded is known without a master key.
        let shredded = self.store().wrapped_keys(dialogue).await?.is_empty();
        let ring = if shredded {
            None
        } else if self.has_content_keys() {
            // A keys row that does not open is a finding for this dialogue; the audit goes on
            // (chain, signatures, projection) and so do the audits of other dialogues.
            match self.key_ring(dialogue).await {
                Ok(ring) => Some(ring),
                Err(error @ (LedgerError::WrongKey { .. } | LedgerError::KeyMaterial { .. }))
                    if self.another_key_opens(dialogue).await =>
                {
                    problems.push(Problem {
                        commit: 0,
                        kind: ProblemKind::BadKey,
                        detail: format!("{error}; content not checked"),
                    });
                    None
                }
                Err(error) => return Err(error),
            }
        } else {
            warnings.push(
                "content not checked: no master key (chain, signatures and projection were verified)"
                    .to_owned(),
            );
            None
        };
        let bad_key = problems.iter().any(|p| p.kind == ProblemKind::BadKey);
        let ring = ring.unwrap_or_default();
        let mut opened = 0;
        let mut events = 0;
        for row in &rows {
            let Ok(commit) = Commit::decode(&row.bytes) else {
                if !problems.iter().any(|p| p.commit == row.number) {
                    problems.push(Problem {
                        commit: row.number,
                        kind: ProblemKind::Malformed,
                        detail: "the stored bytes do not decode as a commit".to_owned(),
                    });
                }
                continue;
            };
            events += commit.events.len() as u64;
            if shredded || !self.has_content_keys() || bad_key {
                continue;
            }
            let Some(key) = ring.get(commit.header.key_version) else {
                problems.push(Problem {
                    commit: row.number,
                    kind: ProblemKind::BadCiphertext,
                    detail: format!("no data key of version {}", commit.header.key_version),
                });
                continue;
            };
            for event in &commit.events {
                match commit.open_event(event, key) {
                    Ok(Some(_)) => opened += 1,
                    Ok(None) => {}
                    Err(error) => problems.push(Problem {
                        commit: row.number,
                        kind: ProblemKind::BadCiphertext,
                        detail: format!("event {}: {error}", event.seq),
                    }),
                }
            }
        }

        // 3. The stored graph equals a rebuild from the verified commits.
        let stored_items = self.store().graph_items(dialogue).await?;
        let stored_graph = Graph::from_items(dialogue.clone(), stored_items.clone());
        let checkpoint = stored_graph.checkpoint.commit;
        if verified.is_err() {
            // A projection compared with a broken history only repeats the chain's finding.
            warnings.push(
                "the graph was not compared with a rebuild because the chain does not verify"
                    .to_owned(),
            );
        } else if checkpoint > verified_upto {
            problems.push(Problem {
                commit: checkpoint,
                kind: ProblemKind::ProjectionDrift,
                detail: format!("the graph's checkpoint is at commit {checkpoint}, beyond the last commit {verified_upto}"),
            });
        } else {
            if checkpoint < verified_upto {
                warnings.push(format!(
                    "the graph is {} commit(s) behind the events: the projector catches it up (inline, any read does), or run `dlg rebuild`",
                    verified_upto - checkpoint
                ));
            }
            let upto = checkpoint as usize;
            match Graph::rebuild(
                dialogue.clone(),
                rows[..upto].iter().map(|r| r.bytes.as_slice()),
            ) {
                Ok(rebuilt) => {
                    let rebuilt_items = if upto == 0 {
                        Vec::new()
                    } else {
                        rebuilt.items()
                    };
                    for drift in diff_items(&stored_items, &rebuilt_items) {
                        let (commit, detail) = match &drift {
                            Drift::Missing { key, commit } => {
                                (*commit, format!("graph item {key} is missing"))
                            }
                            Drift::Extra { key, commit } => {
                                (*commit, format!("graph item {key} should not exist"))
                            }
                            Drift::Changed { key, commit } => (
                                *commit,
                                format!("graph item {key} differs from the rebuild"),
                            ),
                        };
                        problems.push(Problem {
                            commit,
                            kind: ProblemKind::ProjectionDrift,
                            detail,
                        });
                    }
                }
                Err(error) => problems.push(Problem {
                    commit: verified_upto,
                    kind: ProblemKind::ProjectionDrift,
                    detail: format!("the commits do not fold: {error}"),
                }),
            }
        }
        let head = match &verified {
            Ok(head) => chain::to_hex(&head.hash),
            Err(_) => String::new(),
        };
        problems.sort_by_key(|p| p.commit);
        Ok(AuditReport {
            dialogue: dialogue.to_string(),
            commits: rows.len() as u64,
            events,
            head,
            sealed_fields_opened: opened,
            shredded,
            content_checked: self.has_content_keys() && !shredded && !bad_key,
            signers,
            pinned,
            unsigned_commits,
            verified_at: options.digest.as_ref().map(|d| d.commit),
            problems,
            warnings,
        })
    }
}
