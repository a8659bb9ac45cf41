//! dlg-store: the storage ports of the dialogue ledger — the events, keys and graph tables of
//! `infra/template.yaml`, as traits every backend implements with the same semantics — their row
//! and error types, and the adapters, each behind a cargo feature so that a binary links only the
//! backends it uses (ADR 0016):
//!
//! - [`sqlite`] (feature `sqlite`): the embedded backend, one SQLite file;
//! - [`dynamodb`] (feature `dynamodb`): the DynamoDB backend and the tables read from the
//!   template; [`dynamodb::DynamoProjection`] is the handle of a projector, which reaches the
//!   events and graph tables and, by type, never the keys table;
//! - [`aws`] (feature `aws`): the SDK configuration every AWS client shares;
//! - [`stream`] (feature `stream`): decoding the events table's DynamoDB Streams records as the
//!   Lambda receives them, without the SDK (so the fuzz targets build without it).
//!
//! **Architecture Invariant:** only the adapters know SQL or DynamoDB attribute values.

#![forbid(unsafe_code)]

#[cfg(feature = "aws")]
pub mod aws;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
#[cfg(feature = "sqlite")]
pub mod sqlite;
#[cfg(feature = "stream")]
pub mod stream;

use std::future::Future;

use dlg_core::chain::Hash;
use dlg_core::graph::{ContributionItem, GraphItem, NodeItem};
use dlg_core::ids::{DialogueId, ExpertSlug};
use dlg_core::seal::WrappedKey;
use dlg_core::sign::Signature;

/// Partition key of a dialogue: `D#{dialogue}`.
pub fn partition_key(dialogue: &DialogueId) -> String {
    format!("D#{dialogue}")
}

/// Sort key of commit n: `C#{n:010}`.
pub fn commit_key(number: u64) -> String {
    format!("C#{number:010}")
}

/// The dialogue of an events or graph partition key `D#{dialogue}`.
pub fn parse_partition_key(pk: &str) -> Result<DialogueId, StoreError> {
    pk.strip_prefix("D#")
        .and_then(|id| DialogueId::parse(id).ok())
        .ok_or_else(|| StoreError::Corrupt(format!("partition `{pk}` is not a dialogue")))
}

/// Sort key of data key version v: `K#{v:010}`.
pub fn key_version_key(version: u32) -> String {
    format!("K#{version:010}")
}

/// The commit number of an events sort key `C#{n:010}`.
pub fn parse_commit_key(sk: &str) -> Result<u64, StoreError> {
    sk.strip_prefix("C#")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("events item `{sk}` is not a commit")))
}

/// The version of a keys sort key `K#{v:010}`.
pub fn parse_key_version(sk: &str) -> Result<u32, StoreError> {
    sk.strip_prefix("K#")
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("keys item `{sk}` is not a key version")))
}

/// A keys row: its version from the sort key and the wrapped key from its JSON.
pub fn parse_wrapped_key(
    dialogue: &DialogueId,
    sk: &str,
    json: &str,
) -> StoreResult<(u32, WrappedKey)> {
    let version = parse_key_version(sk)?;
    let wrapped = serde_json::from_str(json)
        .map_err(|e| StoreError::Corrupt(format!("wrapped key {version} of {dialogue}: {e}")))?;
    Ok((version, wrapped))
}

/// Refuses a commit over the size every backend accepts, before anything is sent.
pub fn check_size(row: &CommitRow) -> StoreResult<()> {
    if row.bytes.len() > dlg_core::commit::MAX_COMMIT_BYTES {
        return Err(StoreError::TooLarge {
            size: row.bytes.len(),
            limit: dlg_core::commit::MAX_COMMIT_BYTES,
        });
    }
    Ok(())
}

/// A commit as stored: its number (from the sort key), exact bytes, recorded hash and, for a
/// format 2 commit, its signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitRow {
    pub number: u64,
    pub bytes: Vec<u8>,
    pub hash: Hash,
    pub signature: Option<Signature>,
}

impl CommitRow {
    /// A row from stored parts; a hash that is not 32 bytes, or a signature that is not 64, is
    /// corruption.
    pub fn from_parts(
        dialogue: &DialogueId,
        number: u64,
        bytes: Vec<u8>,
        hash: Vec<u8>,
        signature: Option<Vec<u8>>,
    ) -> StoreResult<Self> {
        let hash = hash.try_into().map_err(|_| {
            StoreError::Corrupt(format!(
                "commit {number} of {dialogue} has a hash that is not 32 bytes"
            ))
        })?;
        let signature = signature
            .map(|signature| {
                signature.try_into().map_err(|_| {
                    StoreError::Corrupt(format!(
                        "commit {number} of {dialogue} has a signature that is not 64 bytes"
                    ))
                })
            })
            .transpose()?;
        Ok(Self {
            number,
            bytes,
            hash,
            signature,
        })
    }

    /// A commit item of the events table from its attributes (`pk`, `sk`, `commit`, `hash`, and
    /// `sig` when signed), whichever attribute type the adapter reads them as: its dialogue and
    /// row.
    pub fn from_item(
        pk: &str,
        sk: &str,
        bytes: Vec<u8>,
        hash: Vec<u8>,
        signature: Option<Vec<u8>>,
    ) -> StoreResult<(DialogueId, Self)> {
        let dialogue = parse_partition_key(pk)?;
        let number = parse_commit_key(sk)?;
        let row = Self::from_parts(&dialogue, number, bytes, hash, signature)?;
        Ok((dialogue, row))
    }

    /// The row of a commit built and signed by the writer (or a test).
    pub fn of(encoded: &dlg_core::commit::EncodedCommit) -> Self {
        Self {
            number: encoded.commit.header.commit,
            bytes: encoded.bytes.clone(),
            hash: encoded.hash,
            signature: encoded.signature,
        }
    }

    /// The row as the chain verifier reads it.
    pub fn as_stored(&self) -> dlg_core::chain::StoredCommit<'_> {
        dlg_core::chain::StoredCommit {
            number: self.number,
            bytes: &self.bytes,
            recorded_hash: Some(self.hash),
            signature: self.signature.as_ref(),
        }
    }
}

/// Errors of a store. Each says what went wrong and how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer appended commit `expected` first. Re-read the dialogue, re-validate and retry.
    #[error(
        "another writer appended commit {expected} of {dialogue} first (the head is now {actual})"
    )]
    Conflict {
        dialogue: DialogueId,
        expected: u64,
        actual: u64,
    },
    /// The commit is larger than every backend accepts. Split the batch.
    #[error(
        "the commit is {size} bytes, over the limit of {limit}: split the batch into smaller registrations"
    )]
    TooLarge { size: usize, limit: usize },
    /// A wrapped key for this dialogue and version already exists.
    #[error("a data key for {dialogue} version {version} already exists")]
    KeyExists { dialogue: DialogueId, version: u32 },
    /// The store cannot be opened or read (missing file, permissions, dead endpoint, missing table).
    #[error("{0}")]
    Unavailable(String),
    /// The store refused the request itself (access denied, an invalid request): retrying the
    /// same request cannot help; the message says what to fix.
    #[error("{0}")]
    Refused(String),
    /// The store holds something this build cannot read.
    #[error("{0}")]
    Corrupt(String),
}

/// Result of store operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// The events table: one item per commit, written by conditional put only.
pub trait EventStore {
    /// Every dialogue that has at least one commit, in id order.
    fn dialogues(&self) -> impl Future<Output = StoreResult<Vec<DialogueId>>> + Send;

    /// The dialogue's commits numbered `from` through `through` (inclusive), in order.
    fn commit_range(
        &self,
        dialogue: &DialogueId,
        from: u64,
        through: u64,
    ) -> impl Future<Output = StoreResult<Vec<CommitRow>>> + Send;

    /// The dialogue's commits numbered `from` and up, in order.
    fn commits(
        &self,
        dialogue: &DialogueId,
        from: u64,
    ) -> impl Future<Output = StoreResult<Vec<CommitRow>>> + Send {
        self.commit_range(dialogue, from, u64::MAX)
    }

    /// Stores commit `row.number` only if no commit with that number exists; a lost race is
    /// [`StoreError::Conflict`]. `idempotency_key` is stored beside it. Refuses commits over the
    /// size limit before writing.
    fn append(
        &self,
        dialogue: &DialogueId,
        row: &CommitRow,
        idempotency_key: Option<&str>,
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// The keys table: wrapped data keys per dialogue and version.
pub trait KeyStore {
    /// Every wrapped key of the dialogue, by ascending version.
    fn wrapped_keys(
        &self,
        dialogue: &DialogueId,
    ) -> impl Future<Output = StoreResult<Vec<(u32, WrappedKey)>>> + Send;

    /// Stores a wrapped key only if that version does not exist ([`StoreError::KeyExists`]).
    fn put_wrapped_key(
        &self,
        dialogue: &DialogueId,
        version: u32,
        wrapped: &WrappedKey,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Deletes every wrapped key of the dialogue (crypto-shredding). Returns how many.
    fn delete_wrapped_keys(
        &self,
        dialogue: &DialogueId,
    ) -> impl Future<Output = StoreResult<usize>> + Send;
}

/// The graph table: the materialized projection, written by the projector only.
pub trait GraphStore {
    /// Every item of the dialogue's graph.
    fn graph_items(
        &self,
        dialogue: &DialogueId,
    ) -> impl Future<Output = StoreResult<Vec<GraphItem>>> + Send;

    /// The dialogue's graph items whose sort key starts with `prefix`, in sort-key order (one
    /// range read: the edges of an entity are under [`dlg_core::query::edge_key_prefix`]).
    fn graph_items_under(
        &self,
        dialogue: &DialogueId,
        prefix: &str,
    ) -> impl Future<Output = StoreResult<Vec<GraphItem>>> + Send;

    /// Open (or reopened) tensions across every dialogue, by dialogue and id (on DynamoDB, one
    /// Query of the `open-tensions` index).
    fn open_tensions(
        &self,
    ) -> impl Future<Output = StoreResult<Vec<(DialogueId, NodeItem)>>> + Send;

    /// An expert's contributions across every dialogue, by dialogue and entity (on DynamoDB, one
    /// Query of the `contributions-by-expert` index).
    fn contributions_of(
        &self,
        expert: &ExpertSlug,
    ) -> impl Future<Output = StoreResult<Vec<(DialogueId, ContributionItem)>>> + Send;

    /// Upserts items atomically (the checkpoint among them lands with the items it covers), only
    /// if the stored checkpoint is still at commit `expected_checkpoint` (0 when there is none);
    /// otherwise another projector got there first: [`StoreError::Conflict`].
    fn put_graph_items(
        &self,
        dialogue: &DialogueId,
        items: &[GraphItem],
        expected_checkpoint: u64,
    ) -> impl Future<Output = StoreResult<()>> + Send;

    /// Replaces the dialogue's whole graph with `items` (rebuild).
    fn replace_graph(
        &self,
        dialogue: &DialogueId,
        items: &[GraphItem],
    ) -> impl Future<Output = StoreResult<()>> + Send;
}

/// A complete backend: the three tables.
pub trait Store: EventStore + KeyStore + GraphStore + Send + Sync {
    /// A short description for messages (`sqlite:/path/ledger.db`).
    fn describe(&self) -> String;
}
