//! The pure half of an append: decide a command against the dialogue's state, then number,
//! seal and encode the events as the next commit. The writer adds the I/O around it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::chain;
use crate::command::{Command, decide};
use crate::commit::{
    Commit, CommitError, CommitHeader, EncodedCommit, FORMAT_VERSION, request_fingerprint,
    seal_commit,
};
use crate::error::Rejected;
use crate::graph::Graph;
use crate::seal::{Entropy, SecretKey};
use crate::sign::PublicKey;

/// Who appends, when, and under which key.
#[derive(Debug)]
pub struct AppendContext<'a> {
    /// Tool name, model or person, as given by the caller.
    pub actor: &'a str,
    /// RFC 3339 UTC time, as given by the caller.
    pub time: &'a str,
    /// The caller's idempotency key.
    pub idempotency_key: Option<&'a str>,
    /// The dialogue's data key and its version.
    pub key: &'a SecretKey,
    pub key_version: u32,
    /// The key that will sign the commit, named in its header.
    pub signer: PublicKey,
}

/// Why an append could not be prepared.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PrepareError {
    /// The command is invalid: every error, no events. Fix the request and send it again.
    #[error(transparent)]
    Rejected(#[from] Rejected),
    /// The commit could not be built (too large, bad header). Split the batch or fix the header.
    #[error(transparent)]
    Commit(#[from] CommitError),
}

/// Decides `command` against `graph` (the dialogue folded up to its head) and builds the next
/// commit.
pub fn prepare(
    graph: &Graph,
    command: &Command,
    context: &AppendContext<'_>,
    entropy: &mut dyn Entropy,
) -> Result<EncodedCommit, PrepareError> {
    let decision = decide(graph, command)?;
    let header = CommitHeader {
        format: FORMAT_VERSION,
        dialogue: graph.dialogue.clone(),
        commit: graph.checkpoint.commit + 1,
        first_seq: graph.checkpoint.next_seq,
        actor: context.actor.to_owned(),
        time: context.time.to_owned(),
        idempotency_key: context.idempotency_key.map(str::to_owned),
        request: Some(request_fingerprint(context.key, &command.canonical_bytes())),
        key_version: context.key_version,
        signer: Some(context.signer),
    };
    Ok(seal_commit(
        header,
        decision.events,
        &graph.head_hash(),
        context.key,
        entropy,
    )?)
}

/// What an append answers: where the commit landed and, for round registrations, the id mapping.
/// A retry with the same idempotency key and request answers the same receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub dialogue: String,
    pub commit: u64,
    pub first_seq: u64,
    pub events: usize,
    pub hash: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub id_mapping: BTreeMap<String, String>,
    /// True when this answer repeats an earlier append with the same idempotency key.
    #[serde(default)]
    pub replayed: bool,
    /// What the commit leaves unsaid that the writer may want to know: panel members of a
    /// round registered without a response or a score.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Receipt {
    /// The receipt of a stored commit with its chain hash.
    pub fn of(commit: &Commit, hash: &chain::Hash) -> Self {
        Self {
            dialogue: commit.header.dialogue.to_string(),
            commit: commit.header.commit,
            first_seq: commit.header.first_seq,
            events: commit.events.len(),
            hash: chain::to_hex(hash),
            id_mapping: commit.id_mapping(),
            replayed: false,
            notes: panel_notes(commit),
        }
    }
}

/// For each round the commit opens with a panel: the members without a response or a score in
/// it.
fn panel_notes(commit: &Commit) -> Vec<String> {
    use crate::event::EventBody;
    let mut notes = Vec::new();
    for event in &commit.events {
        let EventBody::RoundOpened { round, panel } = &event.body else {
            continue;
        };
        let has = |wanted: fn(&EventBody, u8, &crate::ids::ExpertSlug) -> bool,
                   expert: &crate::ids::ExpertSlug| {
            commit
                .events
                .iter()
                .any(|e| wanted(&e.body, *round, expert))
        };
        for seat in panel {
            let responded = has(
                |b, r, x| matches!(b, EventBody::ResponseRecorded { round, expert } if *round == r && expert == x),
                &seat.expert,
            );
            let scored = has(
                |b, r, x| matches!(b, EventBody::ExpertScored { round, expert, .. } if *round == r && expert == x),
                &seat.expert,
            );
            let Some(missing) = crate::progress::seat_gap(responded, scored) else {
                continue;
            };
            notes.push(format!(
                "round {round}: panel member `{}` has {missing}",
                seat.expert
            ));
        }
    }
    notes
}
