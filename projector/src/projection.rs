//! The fold runner: keeps a dialogue's graph items equal to the fold of its commits.
//!
//! Commits arrive in any order and any number of times (Streams orders only per item and
//! delivers at least once). The projection rule holds here (ARCHITECTURE.md), over the core fold: commit n is
//! applied only when the checkpoint is n-1; commits at or below the checkpoint are skipped; a gap
//! is healed by reading the missing commits from the events table. The changed items are written
//! with the new checkpoint, conditionally on the checkpoint the projector started from, so two
//! projectors racing on one dialogue never interleave: the loser re-reads and tries again.
//!
//! The projector never decrypts: sealed content is copied from the commit into the items.

use std::collections::{BTreeMap, HashMap};

use dlg_core::graph::{ApplyError, ApplyOutcome, Graph, GraphItem};
use dlg_core::ids::DialogueId;

use dlg_store::{CommitRow, EventStore, GraphStore, StoreError};

/// How often a projector re-reads and retries after another one moved the checkpoint first.
pub const MAX_ATTEMPTS: usize = 16;

/// Why commits could not be projected. [`ProjectError::retryable`] tells a transient failure
/// from one that needs an operator.
#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    /// The events or graph table failed (dead endpoint, throttling, missing table, unreadable item).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The commit cannot be decoded or contradicts the state before it.
    #[error("cannot project commit {commit} of {dialogue}: {error}; run `dlg audit {dialogue}`")]
    Apply {
        dialogue: DialogueId,
        commit: u64,
        #[source]
        error: ApplyError,
    },
    /// A commit between the checkpoint and a delivered one is not in the events table.
    #[error(
        "commit {commit} of {dialogue} is missing from the events table, so nothing after it can be projected; run `dlg audit {dialogue}`"
    )]
    Missing { dialogue: DialogueId, commit: u64 },
    /// The hash recorded beside a commit is not the hash of its bytes on the chain.
    #[error(
        "commit {commit} of {dialogue} does not chain: its recorded hash is not the hash of its bytes after the commit before it; run `dlg audit {dialogue}`"
    )]
    BrokenChain { dialogue: DialogueId, commit: u64 },
    /// Other projectors kept moving the checkpoint.
    #[error(
        "the graph of {dialogue} kept moving under this projector ({attempts} attempts); deliver again"
    )]
    Contention {
        dialogue: DialogueId,
        attempts: usize,
    },
}

impl ProjectError {
    /// Whether delivering the same commits again can succeed: a dead endpoint, throttling or a
    /// lost race pass; a corrupt, missing or unchained commit never does without an operator.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            ProjectError::Store(StoreError::Unavailable(_) | StoreError::Conflict { .. })
                | ProjectError::Contention { .. }
        )
    }

    /// The commit the error is about, when it is about one commit (the commits before it were
    /// projected).
    pub fn commit(&self) -> Option<u64> {
        match self {
            ProjectError::Apply { commit, .. }
            | ProjectError::Missing { commit, .. }
            | ProjectError::BrokenChain { commit, .. } => Some(*commit),
            ProjectError::Store(_) | ProjectError::Contention { .. } => None,
        }
    }

    /// A short name of the error's kind, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            ProjectError::Store(StoreError::Unavailable(_)) => "unavailable",
            ProjectError::Store(StoreError::Conflict { .. }) => "conflict",
            ProjectError::Store(StoreError::Corrupt(_)) => "corrupt_item",
            ProjectError::Store(StoreError::Refused(_)) => "refused",
            ProjectError::Store(StoreError::TooLarge { .. } | StoreError::KeyExists { .. }) => {
                "store"
            }
            ProjectError::Apply { .. } => "unusable_commit",
            ProjectError::Missing { .. } => "missing_commit",
            ProjectError::BrokenChain { .. } => "broken_chain",
            ProjectError::Contention { .. } => "contention",
        }
    }
}

/// What one projection did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Progress {
    /// Commits applied (delivered or read from the events table).
    pub applied: u64,
    /// Of those, commits read from the events table to heal a gap.
    pub healed: u64,
    /// Delivered commits at or below the checkpoint, or delivered twice: nothing to do.
    pub skipped: u64,
    /// Graph items written (the checkpoint among them).
    pub items_written: u64,
    /// The checkpoint afterwards.
    pub checkpoint: u64,
}

/// The projector over one store. It remembers the graphs it wrote; the conditional write makes
/// a stale memory harmless (the write is refused, the graph re-read).
#[derive(Debug)]
pub struct Projector<'s, S> {
    store: &'s S,
    graphs: HashMap<DialogueId, Graph>,
}

impl<'s, S: EventStore + GraphStore + Sync> Projector<'s, S> {
    /// A projector over `store` with nothing remembered.
    pub fn new(store: &'s S) -> Self {
        Self {
            store,
            graphs: HashMap::new(),
        }
    }

    /// Projects every commit after the stored checkpoint (the in-process projector).
    pub async fn catch_up(&mut self, dialogue: &DialogueId) -> Result<Progress, ProjectError> {
        self.advance(dialogue, None).await
    }

    /// Projects delivered commits of one dialogue (stream records, in any order, duplicates
    /// allowed): skips those at or below the checkpoint, reads any missing ones from the events
    /// table, applies up to the highest delivered, and writes once.
    pub async fn deliver(
        &mut self,
        dialogue: &DialogueId,
        delivered: &[CommitRow],
    ) -> Result<Progress, ProjectError> {
        self.advance(dialogue, Some(delivered)).await
    }

    /// The graph as this projector last read or wrote it.
    pub fn graph(&self, dialogue: &DialogueId) -> Option<&Graph> {
        self.graphs.get(dialogue)
    }

    /// Takes the remembered graph out of the projector.
    pub fn into_graph(mut self, dialogue: &DialogueId) -> Option<Graph> {
        self.graphs.remove(dialogue)
    }

    async fn advance(
        &mut self,
        dialogue: &DialogueId,
        delivered: Option<&[CommitRow]>,
    ) -> Result<Progress, ProjectError> {
        for _ in 0..MAX_ATTEMPTS {
            let (graph, leftover) = match self.graphs.remove(dialogue) {
                Some(graph) => (graph, None),
                None => self.load(dialogue).await?,
            };
            let start = graph.checkpoint.commit;
            let mut progress = Progress {
                checkpoint: start,
                ..Progress::default()
            };
            let rows = match delivered {
                None => self.store.commits(dialogue, start + 1).await?,
                Some(delivered) => {
                    let mut wanted: BTreeMap<u64, &CommitRow> = BTreeMap::new();
                    for row in delivered {
                        if row.number <= start || wanted.insert(row.number, row).is_some() {
                            progress.skipped += 1;
                        }
                    }
                    match wanted.keys().next_back() {
                        None => Vec::new(),
                        // Every commit from the checkpoint up was delivered.
                        Some(&last) if wanted.len() as u64 == last - start => {
                            wanted.into_values().cloned().collect()
                        }
                        Some(&last) => {
                            let rows = self.store.commit_range(dialogue, start + 1, last).await?;
                            progress.healed =
                                (rows.len() as u64).saturating_sub(wanted.len() as u64);
                            rows
                        }
                    }
                }
            };
            // Items an interrupted write left must be written over: project at least up to them.
            let rows = match leftover {
                Some(upto) if rows.last().map_or(start, |r| r.number) < upto => {
                    let read = self.store.commit_range(dialogue, start + 1, upto).await?;
                    progress.healed += (read.len() as u64).saturating_sub(rows.len() as u64);
                    read
                }
                _ => rows,
            };
            if rows.is_empty() {
                self.graphs.insert(dialogue.clone(), graph);
                return Ok(progress);
            }
            let (next, changed, failure) = apply_rows(&graph, dialogue, start, &rows);
            if changed.is_empty() {
                self.graphs.insert(dialogue.clone(), graph);
                return failure.map_or(Ok(progress), Err);
            }
            let items: Vec<GraphItem> = changed.into_values().collect();
            match self.store.put_graph_items(dialogue, &items, start).await {
                Ok(()) => {
                    progress.applied = next.checkpoint.commit - start;
                    progress.items_written = items.len() as u64;
                    progress.checkpoint = next.checkpoint.commit;
                    self.graphs.insert(dialogue.clone(), next);
                    // The commits before a bad one are projected; the bad one is reported.
                    return failure.map_or(Ok(progress), Err);
                }
                // Another projector moved the checkpoint: re-read the graph and go again.
                Err(StoreError::Conflict { .. }) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        Err(ProjectError::Contention {
            dialogue: dialogue.clone(),
            attempts: MAX_ATTEMPTS,
        })
    }

    /// The stored graph at its checkpoint, and the highest commit of items stored beyond it.
    ///
    /// A write of many items spans several transactions with the checkpoint in the last, so a
    /// crash or an error between them leaves items of commits after the checkpoint, written over
    /// the versions the checkpoint stands for. The state at the checkpoint is then refolded from
    /// the events table, and the caller projects at least up to those commits, which writes the
    /// same items again (commits fold deterministically) and moves the checkpoint past them.
    async fn load(&self, dialogue: &DialogueId) -> Result<(Graph, Option<u64>), ProjectError> {
        let items = self.store.graph_items(dialogue).await?;
        let checkpoint = items
            .iter()
            .find_map(|item| match item {
                GraphItem::Checkpoint(c) => Some(c.commit),
                _ => None,
            })
            .unwrap_or(0);
        let leftover = items
            .iter()
            .map(GraphItem::origin_commit)
            .filter(|commit| *commit > checkpoint)
            .max();
        if leftover.is_none() {
            return Ok((Graph::from_items(dialogue.clone(), items), None));
        }
        let rows = if checkpoint == 0 {
            Vec::new()
        } else {
            self.store.commit_range(dialogue, 1, checkpoint).await?
        };
        let (graph, _, failure) = apply_rows(&Graph::new(dialogue.clone()), dialogue, 0, &rows);
        match failure {
            Some(error) => Err(error),
            None if graph.checkpoint.commit < checkpoint => Err(ProjectError::Missing {
                dialogue: dialogue.clone(),
                commit: graph.checkpoint.commit + 1,
            }),
            None => Ok((graph, leftover)),
        }
    }
}

/// Applies `rows` (which must be commits `start + 1`, `start + 2`, ... in order) to a copy of
/// `graph`, checking each recorded hash against the chain. Stops at the first commit that cannot
/// be applied: returns the graph after the commits before it, the items they changed (by sort
/// key), and the error.
fn apply_rows(
    graph: &Graph,
    dialogue: &DialogueId,
    start: u64,
    rows: &[CommitRow],
) -> (Graph, BTreeMap<String, GraphItem>, Option<ProjectError>) {
    let mut next = graph.clone();
    let mut changed = BTreeMap::new();
    for (index, row) in rows.iter().enumerate() {
        match apply_row(&mut next, dialogue, start + 1 + index as u64, row) {
            Ok(items) => changed.extend(items.into_iter().map(|i| (i.sort_key(), i))),
            Err(error) => {
                // The failed commit may have been half applied: redo the good ones on a clean copy.
                let mut clean = graph.clone();
                let mut changed = BTreeMap::new();
                for (index, row) in rows[..index].iter().enumerate() {
                    if let Ok(items) =
                        apply_row(&mut clean, dialogue, start + 1 + index as u64, row)
                    {
                        changed.extend(items.into_iter().map(|i| (i.sort_key(), i)));
                    }
                }
                return (clean, changed, Some(error));
            }
        }
    }
    (next, changed, None)
}

/// Applies one stored commit that must be number `expected`.
fn apply_row(
    graph: &mut Graph,
    dialogue: &DialogueId,
    expected: u64,
    row: &CommitRow,
) -> Result<Vec<GraphItem>, ProjectError> {
    if row.number != expected {
        return Err(ProjectError::Missing {
            dialogue: dialogue.clone(),
            commit: expected,
        });
    }
    let unusable = |error| ProjectError::Apply {
        dialogue: dialogue.clone(),
        commit: row.number,
        error,
    };
    let items = match graph.apply(&row.bytes).map_err(unusable)? {
        ApplyOutcome::Applied(items) => items,
        // The bytes stored as commit n say they are another commit.
        ApplyOutcome::AlreadyApplied | ApplyOutcome::Gap { .. } => {
            return Err(unusable(ApplyError::Inconsistent {
                commit: row.number,
                seq: 0,
                reason: format!(
                    "the commit stored as number {} carries another number",
                    row.number
                ),
            }));
        }
    };
    if graph.head_hash() != row.hash {
        return Err(ProjectError::BrokenChain {
            dialogue: dialogue.clone(),
            commit: row.number,
        });
    }
    Ok(items)
}
