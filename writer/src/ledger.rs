//! The ledger service: the append path (fold, idempotency, decide, seal, conditional put, retry
//! on conflict), the in-process projector that catches the graph up after each append, and the
//! reads built on them. Generic over the backend; the same code runs on SQLite and DynamoDB.

use std::collections::BTreeMap;

use dlg_core::append::{AppendContext, PrepareError, Receipt, prepare};
use dlg_core::chain::{self, ChainError, Digest};
use dlg_core::command::{Command, CreateDialogue, dialogue_id_for, dialogue_id_of};
use dlg_core::commit::{Commit, CommitError, request_fingerprint};
use dlg_core::error::Rejected;
use dlg_core::graph::{ApplyError, Graph, NodeItem};
use dlg_core::ids::{DialogueId, EntityId};
use dlg_core::model::RefType;
use dlg_core::query::{Direction, Neighbour, edge_key_prefix, neighbours_from_items};
use dlg_core::seal::{KeyProvider, SealError};
use dlg_core::sign::{PublicKey, SignError, Signer, Trust, commit_message, sign_checked};

use crate::checkpoint::CheckpointError;
use crate::heads::{Heads, HeadsError};
use crate::keys::{KeyFileError, KeyRing, OsEntropy};
use dlg_projector::projection::{ProjectError, Projector};
use dlg_store::{CommitRow, Store, StoreError};

/// How many times an append re-reads, re-validates and retries after losing a race.
pub const MAX_APPEND_ATTEMPTS: usize = 64;

/// Errors of the ledger service. Each variant is a case a caller handles differently;
/// [`crate::report`] maps each to one exit code and one JSON `kind`, for the CLI and MCP alike.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The command is invalid: every error, nothing stored. Fix the request and resend.
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// No such dialogue. List the dialogues and use one of their ids.
    #[error("there is no dialogue `{0}`: list dialogues with `dlg list`")]
    NotFound(DialogueId),
    /// The text given as a dialogue id is not one (not a slug). Nothing was looked up.
    #[error("{0}")]
    InvalidDialogueId(#[source] dlg_core::ids::IdError),
    /// The request cannot be carried out as asked (a header field that does not fit the format,
    /// a command sent to the wrong operation, a path that is not an archive). Fix the request.
    #[error("{0}")]
    Request(String),
    /// The commit would be larger than every store accepts. Split the batch.
    #[error(
        "the commit is {size} bytes, over the limit of {limit} bytes that every store accepts: split the batch into smaller registrations"
    )]
    TooLarge { size: usize, limit: usize },
    /// The same idempotency key was used for a different request.
    #[error(
        "idempotency key `{key}` was already used for a different request (commit {commit} of {dialogue}): use a new key for a new request"
    )]
    IdempotencyMismatch {
        dialogue: DialogueId,
        key: String,
        commit: u64,
    },
    /// The dialogue's data keys were deleted: its content is gone for good.
    #[error(
        "dialogue `{0}` was shredded: its content key is deleted, so nothing more can be recorded or read in it"
    )]
    Shredded(DialogueId),
    /// The master key does not open the dialogue's data key.
    #[error(
        "the master key {source_name} does not open the data key of dialogue `{dialogue}`: this ledger was written under another master key, or the dialogue's keys row was altered or planted (`dlg audit {dialogue}` checks the rest)"
    )]
    WrongKey {
        dialogue: DialogueId,
        source_name: String,
    },
    /// The key service (AWS KMS) refused or could not be reached, or the data key was wrapped by
    /// another provider than the one configured; nothing was written.
    #[error("{0}")]
    KeyService(String),
    /// Stored key material or sealed content that cannot be used: a malformed wrapped key, or
    /// content that does not open or is not the JSON the format requires. Run `dlg audit`.
    #[error("dialogue `{dialogue}`: {source}; run `dlg audit {dialogue}`")]
    KeyMaterial {
        dialogue: DialogueId,
        #[source]
        source: SealError,
    },
    /// The master key file is missing, loose or damaged.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// The data directory cannot be found or created.
    #[error("{0}")]
    DataDirectory(String),
    /// The stored chain does not verify; nothing is appended onto it.
    #[error("dialogue `{dialogue}` fails verification at commit {}: {}; run `dlg audit {dialogue}`", error.commit, error.problem)]
    Tampered {
        dialogue: DialogueId,
        error: ChainError,
    },
    /// A stored commit cannot be decoded: the store is corrupt (or was altered). Run `dlg audit`.
    #[error("commit {commit} of `{dialogue}` cannot be read: {source}; run `dlg audit {dialogue}`")]
    Corrupt {
        dialogue: DialogueId,
        commit: u64,
        #[source]
        source: dlg_core::commit::CommitError,
    },
    /// The events table holds a commit the fold cannot apply.
    #[error("the commits of `{dialogue}` cannot be folded: {error}; run `dlg audit {dialogue}`")]
    Unfoldable {
        dialogue: DialogueId,
        error: ApplyError,
    },
    /// The projection cannot be advanced (an unusable, missing or unchained commit).
    #[error(transparent)]
    Projection(ProjectError),
    /// The dialogue has commits but the stream projector has not written its graph yet.
    #[error(
        "dialogue `{0}` has commits but no projected graph yet: is the projector running (the Lambda in AWS; `dlg --store dynamodb project` beside DynamoDB Local)?"
    )]
    NotProjected(DialogueId),
    /// The graph was projected from a commit the events table no longer holds, or holds
    /// differently: commits were deleted or rewritten after they were projected.
    #[error(
        "the graph of `{dialogue}` is projected up to commit {commit}, but the events {found}: commits were deleted or rewritten; run `dlg audit {dialogue}`"
    )]
    GraphAhead {
        dialogue: DialogueId,
        commit: u64,
        found: String,
    },
    /// Too many concurrent writers kept winning the race.
    #[error(
        "gave up after {attempts} attempts: other writers kept appending to `{dialogue}`; retry with the same idempotency key"
    )]
    Contention {
        dialogue: DialogueId,
        attempts: usize,
    },
    /// The request names an entity the dialogue does not have.
    #[error("`{entity}` is not an entity of `{dialogue}`")]
    UnknownEntity {
        dialogue: DialogueId,
        entity: String,
    },
    /// A read was asked in terms that do not exist (a reference type, direction or status).
    #[error("{0}")]
    Usage(String),
    /// The MCP session could not start or ended with a transport error.
    #[error("{0}")]
    Session(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// This ledger was opened without a signing key, so it cannot append.
    #[error(
        "no signing key: commits are signed (format 2); open the ledger with the local signing key or --signing-kms-key"
    )]
    NoSigner,
    /// The signing key (a file, or KMS) could not sign; nothing was written.
    #[error(transparent)]
    Signing(#[from] SignError),
    /// This ledger was opened without a master key, so content cannot be opened or written.
    #[error(
        "no master key: this command needs the content key (the data directory's master.key, or --kms-key); audit, digest, checkpoint and signer work without it"
    )]
    NoContentKey,
    /// The store holds less of the dialogue than this writer already wrote: commits were removed
    /// or an older copy of the store was put back. Nothing is appended onto it.
    #[error(
        "dialogue `{dialogue}` is behind this writer: it wrote commit {mark} (hash {hash}), but the store ends at commit {head}; the store was rolled back or truncated — restore it from a backup and run `dlg audit {dialogue}`, or compare with the checkpoints auditors hold"
    )]
    RolledBack {
        dialogue: DialogueId,
        mark: u64,
        hash: String,
        head: u64,
    },
    /// The store's commit at this writer's high-water mark is not the one it wrote.
    #[error(
        "dialogue `{dialogue}` forked from this writer's history: commit {commit} in the store is not the commit it wrote (hash {hash}); history was rewritten — run `dlg audit {dialogue}` and restore from a backup"
    )]
    Forked {
        dialogue: DialogueId,
        commit: u64,
        hash: String,
    },
    /// The dialogue this writer appended to is gone from the store.
    #[error(
        "dialogue `{dialogue}` was deleted from the store: this writer wrote it up to commit {mark}; restore it from a backup (`dlg audit` reports it as missing)"
    )]
    Deleted { dialogue: DialogueId, mark: u64 },
    /// The writer's high-water marks cannot be read or written.
    #[error(transparent)]
    Heads(#[from] HeadsError),
    /// A checkpoint file cannot be used.
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
}

impl From<ProjectError> for LedgerError {
    fn from(error: ProjectError) -> Self {
        match error {
            ProjectError::Store(error) => LedgerError::Store(error),
            ProjectError::Contention { dialogue, attempts } => {
                LedgerError::Contention { dialogue, attempts }
            }
            error => LedgerError::Projection(error),
        }
    }
}

/// Who writes, when, and the idempotency key.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    pub actor: String,
    /// RFC 3339 UTC; `None` takes the current time.
    pub time: Option<String>,
    pub idempotency_key: Option<String>,
}

impl WriteOptions {
    /// Options for `actor` at the current time without an idempotency key.
    pub fn by(actor: &str) -> Self {
        Self {
            actor: actor.to_owned(),
            time: None,
            idempotency_key: None,
        }
    }
}

/// The current time in RFC 3339 UTC with microseconds.
pub fn now() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

/// How far ahead of the writer's clock a commit's time may be (clock skew between machines).
pub const MAX_FUTURE: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// The time of the next commit: `asked` (checked: RFC 3339 UTC, not before the previous commit,
/// at most [`MAX_FUTURE`] ahead of the clock), or the clock, never earlier than the previous
/// commit (a clock that stepped back does not make history run backwards).
pub fn commit_time(asked: Option<&str>, previous: Option<&str>) -> Result<String, LedgerError> {
    let parse = |t: &str| humantime::parse_rfc3339(t).ok();
    let previous_at = previous.and_then(parse);
    let Some(asked) = asked else {
        let now = now();
        return Ok(match (previous, previous_at) {
            (Some(p), Some(at)) if parse(&now).is_some_and(|n| n < at) => p.to_owned(),
            _ => now,
        });
    };
    let at = parse(asked)
        .filter(|_| dlg_core::commit::is_rfc3339_utc(asked))
        .ok_or_else(|| {
            LedgerError::Request(format!(
                "time `{}` is not an RFC 3339 UTC timestamp like 2026-03-12T20:26:00Z",
                dlg_core::text::line(&asked.chars().take(80).collect::<String>())
            ))
        })?;
    if let (Some(p), Some(previous_at)) = (previous, previous_at)
        && at < previous_at
    {
        return Err(LedgerError::Request(format!(
            "time {asked} is earlier than the previous commit's time {p}: commit times never go back; give a time at or after it, or leave the time out"
        )));
    }
    if at > std::time::SystemTime::now() + MAX_FUTURE {
        return Err(LedgerError::Request(format!(
            "time {asked} is more than {} minutes ahead of this machine's clock ({}): give the time the commit is written, or leave it out",
            MAX_FUTURE.as_secs() / 60,
            now()
        )));
    }
    Ok(asked.to_owned())
}

/// Who keeps the graph table current.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Projection {
    /// This process: after each append and before each read (the embedded store).
    #[default]
    Inline,
    /// The stream projector (the Lambda, or the local stream runner); reads take the graph table
    /// as it is, and this process never writes it.
    Stream,
}

/// The ledger over one store, one key provider and one signer.
pub struct Ledger<S> {
    store: S,
    projection: Projection,
    /// The master key provider; `None` for a keyless audit.
    keys: Option<Box<dyn KeyProvider>>,
    /// Names the master key in messages (a file path, a KMS key id).
    key_source: String,
    /// Signs every commit; `None` for a ledger that only reads and audits.
    signer: Option<Box<dyn Signer>>,
    /// Signing keys trusted besides the signer's own (rotated keys, other writers).
    trusted: Vec<PublicKey>,
    /// The writer's high-water marks, outside the store.
    heads: Option<Heads>,
}

impl<S> std::fmt::Debug for Ledger<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("key_source", &self.key_source)
            .finish_non_exhaustive()
    }
}

/// A dialogue's commits as read, verified and folded.
#[derive(Debug)]
pub struct Folded {
    pub rows: Vec<CommitRow>,
    pub graph: Graph,
}

impl<S: Store> Ledger<S> {
    /// A ledger over `store`, wrapping data keys with `keys` (named `key_source` in messages).
    pub fn new(store: S, keys: Box<dyn KeyProvider>, key_source: impl Into<String>) -> Self {
        Self {
            store,
            projection: Projection::Inline,
            keys: Some(keys),
            key_source: key_source.into(),
            signer: None,
            trusted: Vec::new(),
            heads: None,
        }
    }

    /// A ledger with no master key: it verifies chains, signatures and checkpoints, and reports
    /// content as not checked.
    pub fn without_content_keys(store: S) -> Self {
        Self {
            store,
            projection: Projection::Inline,
            keys: None,
            key_source: "no master key".to_owned(),
            signer: None,
            trusted: Vec::new(),
            heads: None,
        }
    }

    /// The same ledger signing its commits with `signer`.
    pub fn with_signer(mut self, signer: Box<dyn Signer>) -> Self {
        self.signer = Some(signer);
        self
    }

    /// The same ledger trusting `keys` besides its own signer.
    pub fn with_trusted(mut self, keys: Vec<PublicKey>) -> Self {
        self.trusted = keys;
        self
    }

    /// The same ledger keeping high-water marks in `heads`.
    pub fn with_heads(mut self, heads: Heads) -> Self {
        self.heads = Some(heads);
        self
    }

    /// The signer, if this ledger may append.
    pub fn signer(&self) -> Option<&dyn Signer> {
        self.signer.as_deref()
    }

    /// Whether sealed content can be opened (a master key is configured).
    pub fn has_content_keys(&self) -> bool {
        self.keys.is_some()
    }

    /// The keys trusted besides the signer's own.
    pub fn trusted(&self) -> &[PublicKey] {
        &self.trusted
    }

    /// The signing keys this writer accepts under the history it appends to: its own and the
    /// trusted ones; with neither, any key whose signature verifies.
    pub fn trust(&self) -> Trust {
        let mut keys = self.trusted.clone();
        if let Some(signer) = &self.signer {
            keys.push(signer.public_key());
        }
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            Trust::Unpinned
        } else {
            Trust::Pinned(keys)
        }
    }

    /// The high-water marks, if kept.
    pub fn heads(&self) -> Option<&Heads> {
        self.heads.as_ref()
    }

    /// The same ledger with the graph kept current by `projection`.
    pub fn with_projection(mut self, projection: Projection) -> Self {
        self.projection = projection;
        self
    }

    /// Who keeps the graph current.
    pub fn projection(&self) -> Projection {
        self.projection
    }

    /// The underlying store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Every dialogue id.
    pub async fn dialogues(&self) -> Result<Vec<DialogueId>, LedgerError> {
        Ok(self.store.dialogues().await?)
    }

    /// Reads, verifies (links, signatures by trusted keys, the high-water mark) and folds a
    /// dialogue's commits. Fails with `NotFound` for no commits.
    pub async fn fold(&self, dialogue: &DialogueId) -> Result<Folded, LedgerError> {
        // The mark first, then the store: a mark only advances after its commit is stored, so a
        // store read after it holds the marked commit unless history was rolled back (read the
        // other way round, another process's append in between would look like a rollback).
        let mark = self.mark(dialogue)?;
        let rows = self.store.commits(dialogue, 1).await?;
        if rows.is_empty() {
            if let Some(mark) = mark {
                return Err(LedgerError::Deleted {
                    dialogue: dialogue.clone(),
                    mark: mark.commit,
                });
            }
            return Err(LedgerError::NotFound(dialogue.clone()));
        }
        chain::verify_trusted(
            dialogue,
            rows.iter().map(CommitRow::as_stored),
            &self.trust(),
        )
        .map_err(|error| LedgerError::Tampered {
            dialogue: dialogue.clone(),
            error,
        })?;
        check_mark(dialogue, mark.as_ref(), &rows)?;
        let graph = Graph::rebuild(dialogue.clone(), rows.iter().map(|r| r.bytes.as_slice()))
            .map_err(|error| LedgerError::Unfoldable {
                dialogue: dialogue.clone(),
                error,
            })?;
        Ok(Folded { rows, graph })
    }

    /// The writer's high-water mark of a dialogue.
    fn mark(&self, dialogue: &DialogueId) -> Result<Option<Digest>, LedgerError> {
        match &self.heads {
            Some(heads) => Ok(heads.get(dialogue)?),
            None => Ok(None),
        }
    }

    /// Every dialogue the store holds, and those this writer wrote that it no longer holds.
    pub async fn dialogues_and_marks(&self) -> Result<Vec<DialogueId>, LedgerError> {
        let mut all = self.store.dialogues().await?;
        if let Some(heads) = &self.heads {
            all.extend(heads.dialogues()?);
        }
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// The dialogue's key ring (empty after shredding).
    pub async fn key_ring(&self, dialogue: &DialogueId) -> Result<KeyRing, LedgerError> {
        let Some(provider) = &self.keys else {
            return Err(LedgerError::NoContentKey);
        };
        let wrapped = self.store.wrapped_keys(dialogue).await?;
        let mut keys = BTreeMap::new();
        for (version, wrapped) in wrapped {
            let key = provider
                .unwrap_data_key(dialogue, version, &wrapped)
                .await
                .map_err(|e| self.key_error(dialogue, e))?;
            keys.insert(version, key);
        }
        Ok(KeyRing::new(keys))
    }

    fn key_error(&self, dialogue: &DialogueId, error: SealError) -> LedgerError {
        match error {
            SealError::Unwrap { .. } => LedgerError::WrongKey {
                dialogue: dialogue.clone(),
                source_name: self.key_source.clone(),
            },
            SealError::Provider(message) => LedgerError::KeyService(message),
            source => LedgerError::KeyMaterial {
                dialogue: dialogue.clone(),
                source,
            },
        }
    }

    /// Creates a dialogue: chooses its id from the title (suffixing a taken slug), creates its
    /// data key, and appends commit 1.
    pub async fn create_dialogue(
        &self,
        create: &CreateDialogue,
        options: &WriteOptions,
    ) -> Result<Receipt, LedgerError> {
        let command = Command::CreateDialogue(create.clone());
        for _ in 0..MAX_APPEND_ATTEMPTS {
            // A dialogue deleted from the store keeps its id: this writer's mark still holds it.
            let taken: Vec<DialogueId> = self.dialogues_and_marks().await?;
            if let Some(key) = &options.idempotency_key
                && let Some(receipt) = self.replay_create(&taken, create, &command, key).await?
            {
                return Ok(receipt);
            }
            let dialogue = dialogue_id_of(create, |id| taken.iter().any(|t| t.as_str() == id))?;
            match self.append(&dialogue, &command, options, true).await {
                // Another writer took this id between our read and our write: choose again.
                Err(LedgerError::Store(StoreError::Conflict { .. })) => continue,
                other => return other,
            }
        }
        Err(LedgerError::Contention {
            // The id the title asks for, before any suffix.
            dialogue: dialogue_id_for(&create.title, |_| false)?,
            attempts: MAX_APPEND_ATTEMPTS,
        })
    }

    /// A retried creation: the dialogue among those this title could have created whose first
    /// commit carries the idempotency key.
    async fn replay_create(
        &self,
        taken: &[DialogueId],
        create: &CreateDialogue,
        command: &Command,
        idempotency_key: &str,
    ) -> Result<Option<Receipt>, LedgerError> {
        let Some(base) = create
            .id
            .clone()
            .or_else(|| dlg_core::ids::slugify(&create.title))
        else {
            return Ok(None);
        };
        let explicit = create.id.is_some();
        let candidates = taken.iter().filter(|id| {
            id.as_str() == base
                || !explicit
                    && id
                        .as_str()
                        .strip_prefix(&base)
                        .and_then(|rest| rest.strip_prefix('-'))
                        .is_some_and(|n| n.parse::<u32>().is_ok())
        });
        for dialogue in candidates {
            let rows = self.store.commits(dialogue, 1).await?;
            let Some(first) = rows.first() else { continue };
            let Ok(commit) = Commit::decode(&first.bytes) else {
                continue;
            };
            if commit.header.idempotency_key.as_deref() != Some(idempotency_key) {
                continue;
            }
            let ring = self.key_ring(dialogue).await?;
            let Some((_, key)) = ring.current() else {
                return Err(LedgerError::Shredded(dialogue.clone()));
            };
            let fingerprint = request_fingerprint(key, &command.canonical_bytes());
            return replay(dialogue, &rows[..1], idempotency_key, &fingerprint);
        }
        Ok(None)
    }

    /// Runs a command against an existing dialogue.
    pub async fn execute(
        &self,
        dialogue: &DialogueId,
        command: &Command,
        options: &WriteOptions,
    ) -> Result<Receipt, LedgerError> {
        if matches!(command, Command::CreateDialogue(_)) {
            return Err(LedgerError::Request(
                "use create_dialogue to create a dialogue".to_owned(),
            ));
        }
        self.append(dialogue, command, options, false).await
    }

    async fn data_key_for_write(
        &self,
        dialogue: &DialogueId,
        creating: bool,
    ) -> Result<KeyRing, LedgerError> {
        let ring = self.key_ring(dialogue).await?;
        if !ring.is_empty() {
            return Ok(ring);
        }
        if !creating {
            return Err(LedgerError::Shredded(dialogue.clone()));
        }
        let (_, wrapped) = self
            .keys
            .as_ref()
            .ok_or(LedgerError::NoContentKey)?
            .new_data_key(dialogue, 1, &mut OsEntropy)
            .await
            .map_err(|e| self.key_error(dialogue, e))?;
        match self.store.put_wrapped_key(dialogue, 1, &wrapped).await {
            // A concurrent creator (or an earlier failed attempt) stored one first: use that.
            Ok(()) | Err(StoreError::KeyExists { .. }) => self.key_ring(dialogue).await,
            Err(e) => Err(e.into()),
        }
    }

    async fn append(
        &self,
        dialogue: &DialogueId,
        command: &Command,
        options: &WriteOptions,
        creating: bool,
    ) -> Result<Receipt, LedgerError> {
        dlg_core::commit::check_clear_fields(
            &options.actor,
            options.idempotency_key.as_deref(),
            options.time.as_deref().unwrap_or("2000-01-01T00:00:00Z"),
        )
        .map_err(|e| LedgerError::Request(e.to_string()))?;
        let signer = self.signer.as_deref().ok_or(LedgerError::NoSigner)?;
        for attempt in 0..MAX_APPEND_ATTEMPTS {
            let (rows, graph) = if creating {
                if let Some(mark) = self.mark(dialogue)? {
                    return Err(LedgerError::Deleted {
                        dialogue: dialogue.clone(),
                        mark: mark.commit,
                    });
                }
                let rows = self.store.commits(dialogue, 1).await?;
                if !rows.is_empty() {
                    return Err(StoreError::Conflict {
                        dialogue: dialogue.clone(),
                        expected: 1,
                        actual: rows.len() as u64,
                    }
                    .into());
                }
                (rows, Graph::new(dialogue.clone()))
            } else {
                let folded = self.fold(dialogue).await?;
                (folded.rows, folded.graph)
            };
            if !creating && self.store.wrapped_keys(dialogue).await?.is_empty() {
                return Err(LedgerError::Shredded(dialogue.clone()));
            }
            if creating {
                // Refuse an invalid creation before a data key is stored for it.
                dlg_core::command::decide(&graph, command)?;
            }
            let ring = self.data_key_for_write(dialogue, creating).await?;
            let Some((key_version, key)) = ring.current() else {
                return Err(LedgerError::Shredded(dialogue.clone()));
            };
            if let Some(idempotency_key) = &options.idempotency_key
                && let Some(receipt) = replay(
                    dialogue,
                    &rows,
                    idempotency_key,
                    &request_fingerprint(key, &command.canonical_bytes()),
                )?
            {
                return Ok(receipt);
            }
            let time = commit_time(options.time.as_deref(), graph.checkpoint.time.as_deref())?;
            let context = AppendContext {
                actor: &options.actor,
                time: &time,
                idempotency_key: options.idempotency_key.as_deref(),
                key,
                key_version,
                signer: signer.public_key(),
            };
            let mut encoded =
                prepare(&graph, command, &context, &mut OsEntropy).map_err(|e| match e {
                    PrepareError::Rejected(rejected) => LedgerError::Rejected(rejected),
                    PrepareError::Commit(CommitError::TooLarge { size, limit }) => {
                        LedgerError::TooLarge { size, limit }
                    }
                    PrepareError::Commit(error) => LedgerError::Request(error.to_string()),
                })?;
            encoded.signature = Some(sign_checked(signer, &commit_message(&encoded.hash)).await?);
            let row = CommitRow::of(&encoded);
            match self
                .store
                .append(dialogue, &row, options.idempotency_key.as_deref())
                .await
            {
                Ok(()) => {
                    if let Some(heads) = &self.heads {
                        // The commit is acknowledged; a mark that cannot be written only weakens
                        // rollback detection, so it is logged, not returned as a failure.
                        let mark = Digest {
                            dialogue: dialogue.clone(),
                            commit: row.number,
                            hash: row.hash,
                        };
                        let heads = heads.clone();
                        // File I/O under a lock another process may hold: off the runtime.
                        let advanced =
                            tokio::task::spawn_blocking(move || heads.advance(&mark)).await;
                        match advanced {
                            Ok(Ok(())) => {}
                            Ok(Err(error)) => {
                                tracing::warn!(%dialogue, %error, "the high-water mark was not advanced")
                            }
                            Err(error) => {
                                tracing::warn!(%dialogue, %error, "the high-water mark was not advanced")
                            }
                        }
                    }
                    // The graph is derived data: a failure to project is repaired by the next
                    // catch-up and never undoes an acknowledged commit.
                    if self.projection == Projection::Inline
                        && let Err(error) = self.catch_up(dialogue).await
                    {
                        tracing::warn!(%dialogue, %error, "the projection is behind; the next read catches it up");
                    }
                    return Ok(Receipt::of(&encoded.commit, &encoded.hash));
                }
                Err(StoreError::Conflict { .. }) if creating => {
                    return Err(StoreError::Conflict {
                        dialogue: dialogue.clone(),
                        expected: 1,
                        actual: 1,
                    }
                    .into());
                }
                Err(StoreError::Conflict { .. }) => {
                    // Lost the race: back off a little (more with each attempt), re-read, re-validate.
                    let pause = 1 + (attempt as u64 % 8) * u64::from(rand_byte() % 4 + 1);
                    tokio::time::sleep(std::time::Duration::from_millis(pause)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(LedgerError::Contention {
            dialogue: dialogue.clone(),
            attempts: MAX_APPEND_ATTEMPTS,
        })
    }

    /// The in-process projector ([`dlg_projector::projection`]): projects every commit after
    /// the stored checkpoint and returns the up-to-date graph.
    pub async fn catch_up(&self, dialogue: &DialogueId) -> Result<Graph, LedgerError> {
        let mut projector = Projector::new(&self.store);
        projector.catch_up(dialogue).await?;
        match projector.into_graph(dialogue) {
            Some(graph) => Ok(graph),
            None => Ok(Graph::new(dialogue.clone())),
        }
    }

    /// The dialogue's graph: caught up to the head by this process ([`Projection::Inline`]), or
    /// as the stream projector last wrote it ([`Projection::Stream`]).
    pub async fn graph(&self, dialogue: &DialogueId) -> Result<Graph, LedgerError> {
        let graph = match self.projection {
            Projection::Inline => self.catch_up(dialogue).await?,
            Projection::Stream => {
                Graph::from_items(dialogue.clone(), self.store.graph_items(dialogue).await?)
            }
        };
        if graph.meta.is_none() {
            if self.projection == Projection::Stream
                && !self.store.commit_range(dialogue, 1, 1).await?.is_empty()
            {
                return Err(LedgerError::NotProjected(dialogue.clone()));
            }
            return Err(LedgerError::NotFound(dialogue.clone()));
        }
        self.check_standing(&graph).await?;
        Ok(graph)
    }

    /// Where a graph stands against the events, in one range read (two when the stream
    /// projector keeps it): a graph projected from a commit the events no longer hold (deleted,
    /// or rewritten under the same number) is refused, and a graph behind the events head is
    /// served with a warning saying as of which commit.
    async fn check_standing(&self, graph: &Graph) -> Result<(), LedgerError> {
        let dialogue = &graph.dialogue;
        let at = graph.checkpoint.commit;
        let rows = self
            .store
            .commit_range(dialogue, at, at.saturating_add(1))
            .await?;
        let ahead = |found: String| LedgerError::GraphAhead {
            dialogue: dialogue.clone(),
            commit: at,
            found,
        };
        match rows.iter().find(|r| r.number == at) {
            None => {
                return Err(ahead(format!("hold no commit {at}")));
            }
            Some(row) if row.hash != graph.head_hash() => {
                return Err(ahead(format!(
                    "hold another commit {at} than the one projected"
                )));
            }
            Some(_) => {}
        }
        if rows.iter().any(|r| r.number > at) {
            tracing::warn!(
                %dialogue,
                projected = at,
                "the graph is behind the events: reads show the dialogue as of the projected commit until the projector applies the newer ones"
            );
        }
        Ok(())
    }

    /// Waits until the graph is projected up to `commit` (at once inline; in stream mode, until
    /// the stream projector gets there or `timeout` passes).
    pub async fn wait_for_projection(
        &self,
        dialogue: &DialogueId,
        commit: u64,
        timeout: std::time::Duration,
    ) -> Result<(), LedgerError> {
        let start = std::time::Instant::now();
        loop {
            let graph = match self.projection {
                Projection::Inline => self.catch_up(dialogue).await?,
                Projection::Stream => {
                    Graph::from_items(dialogue.clone(), self.store.graph_items(dialogue).await?)
                }
            };
            if graph.checkpoint.commit >= commit {
                return Ok(());
            }
            if start.elapsed() >= timeout {
                return Err(LedgerError::NotProjected(dialogue.clone()));
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// The edges of one entity: in stream mode one range read of the graph table
    /// ([`dlg_core::query::edge_key_prefix`]), inline after catching up.
    pub async fn neighbours(
        &self,
        dialogue: &DialogueId,
        id: EntityId,
        direction: Direction,
        ref_types: &[RefType],
    ) -> Result<Vec<Neighbour>, LedgerError> {
        match self.projection {
            Projection::Inline => Ok(self
                .graph(dialogue)
                .await?
                .neighbours(id, direction, ref_types)),
            Projection::Stream => {
                let items = self
                    .store
                    .graph_items_under(dialogue, &edge_key_prefix(id, direction))
                    .await?;
                Ok(neighbours_from_items(id, items, ref_types))
            }
        }
    }

    /// Open and reopened tensions across every dialogue, from the graph table's index of them
    /// (every dialogue caught up first in inline mode).
    pub async fn open_tensions_everywhere(
        &self,
    ) -> Result<Vec<(DialogueId, NodeItem)>, LedgerError> {
        if self.projection == Projection::Inline {
            for dialogue in self.store.dialogues().await? {
                self.catch_up(&dialogue).await?;
            }
        }
        Ok(self.store.open_tensions().await?)
    }

    /// Recomputes the dialogue's graph from the events table and replaces the stored one.
    pub async fn rebuild(&self, dialogue: &DialogueId) -> Result<Graph, LedgerError> {
        let folded = self.fold(dialogue).await?;
        self.store
            .replace_graph(dialogue, &folded.graph.items())
            .await?;
        Ok(folded.graph)
    }

    /// The digest of the dialogue's head (its chain and signatures verified).
    pub async fn digest(&self, dialogue: &DialogueId) -> Result<Digest, LedgerError> {
        let folded = self.fold(dialogue).await?;
        Ok(Digest {
            dialogue: dialogue.clone(),
            commit: folded.graph.checkpoint.commit,
            hash: folded.graph.head_hash(),
        })
    }

    /// Deletes the dialogue's wrapped data keys. Its content can never be opened again; its
    /// structure and chain still verify.
    pub async fn shred(&self, dialogue: &DialogueId) -> Result<usize, LedgerError> {
        if self.store.commits(dialogue, 1).await?.is_empty() {
            return Err(LedgerError::NotFound(dialogue.clone()));
        }
        Ok(self.store.delete_wrapped_keys(dialogue).await?)
    }

    /// Decodes every commit of the dialogue (after verifying the chain).
    pub async fn commits(
        &self,
        dialogue: &DialogueId,
    ) -> Result<Vec<(Commit, CommitRow)>, LedgerError> {
        let folded = self.fold(dialogue).await?;
        folded
            .rows
            .into_iter()
            .map(|row| match Commit::decode(&row.bytes) {
                Ok(commit) => Ok((commit, row)),
                Err(source) => Err(LedgerError::Corrupt {
                    dialogue: dialogue.clone(),
                    commit: row.number,
                    source,
                }),
            })
            .collect()
    }
}

/// Refuses a store that is behind, or forked from, what this writer wrote (its mark).
fn check_mark(
    dialogue: &DialogueId,
    mark: Option<&Digest>,
    rows: &[CommitRow],
) -> Result<(), LedgerError> {
    let Some(mark) = mark else {
        return Ok(());
    };
    let head = rows.last().map_or(0, |r| r.number);
    match rows.iter().find(|r| r.number == mark.commit) {
        None => Err(LedgerError::RolledBack {
            dialogue: dialogue.clone(),
            mark: mark.commit,
            hash: chain::to_hex(&mark.hash),
            head,
        }),
        Some(row) if row.hash != mark.hash => Err(LedgerError::Forked {
            dialogue: dialogue.clone(),
            commit: mark.commit,
            hash: chain::to_hex(&mark.hash),
        }),
        Some(_) => Ok(()),
    }
}

/// Looks for an earlier commit under the same idempotency key: the same request answers its
/// original receipt; a different one is an error.
fn replay(
    dialogue: &DialogueId,
    rows: &[CommitRow],
    idempotency_key: &str,
    fingerprint: &str,
) -> Result<Option<Receipt>, LedgerError> {
    for row in rows {
        let Ok(commit) = Commit::decode(&row.bytes) else {
            continue;
        };
        if commit.header.idempotency_key.as_deref() != Some(idempotency_key) {
            continue;
        }
        if commit.header.request.as_deref() != Some(fingerprint) {
            return Err(LedgerError::IdempotencyMismatch {
                dialogue: dialogue.clone(),
                key: idempotency_key.to_owned(),
                commit: commit.header.commit,
            });
        }
        let mut receipt = Receipt::of(&commit, &row.hash);
        receipt.replayed = true;
        return Ok(Some(receipt));
    }
    Ok(None)
}

fn rand_byte() -> u8 {
    let mut byte = [0u8];
    dlg_core::seal::Entropy::fill(&mut OsEntropy, &mut byte);
    byte[0]
}
