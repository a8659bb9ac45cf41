//! `dlg audit`: replay a dialogue and prove it unaltered. Verifies the chain (and a digest if
//! given), opens every sealed field with its associated data, rebuilds the graph in memory and
//! diffs it against the stored graph. Read-only: it never repairs what it finds.

use serde::Serialize;

use dlg_core::chain::{self, Digest};
use dlg_core::commit::Commit;
use dlg_core::graph::{Drift, Graph, diff_items};
use dlg_core::ids::DialogueId;

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

impl<S: Store> Ledger<S> {
    /// Audits one dialogue, optionally against a digest kept earlier.
    pub async fn audit(
        &self,
        dialogue: &DialogueId,
        digest: Option<&Digest>,
    ) -> Result<AuditReport, LedgerError> {
        let rows = self.store().commits(dialogue, 1).await?;
        if rows.is_empty() {
            return Err(LedgerError::NotFound(dialogue.clone()));
        }
        let mut problems = Vec::new();
        let mut warnings = Vec::new();

        // 1. The chain, over the bytes as stored.
        let stored = rows.iter().map(CommitRow::as_stored);
        let verified = match digest {
            Some(digest) => chain::verify_against(digest, stored),
            None => chain::verify(dialogue, stored),
        };
        let verified_upto = match &verified {
            Ok(head) => head.commit,
            Err(error) => {
                problems.push(Problem {
                    commit: error.commit,
                    kind: ProblemKind::of(&error.problem),
                    detail: error.problem.to_string(),
                });
                error.commit.saturating_sub(1)
            }
        };

        // 2. Every sealed field opens under its address.
        let ring = self.key_ring(dialogue).await?;
        let shredded = ring.is_empty();
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
            if shredded {
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
            problems,
            warnings,
        })
    }
}
