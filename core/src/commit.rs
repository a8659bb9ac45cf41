//! The commit: what one append writes. A header plus the events of one dialogue, encoded as
//! canonical JSON (see `docs/format.md`). The encoded bytes are what is stored and hashed; decoding
//! checks that re-encoding gives the same bytes, so every commit has exactly one representation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::chain::{self, Hash};
use crate::event::{EVENT_VERSION, EventBody, NewEvent, canonical_address};
use crate::ids::DialogueId;
use crate::seal::{self, Entropy, SealError, Sealed, SecretKey};
use crate::sign::PublicKey;

/// Version of the commit encoding written today: 2, signed commits (`docs/format.md`).
pub const FORMAT_VERSION: u16 = 2;

/// The first format: the same bytes without a `signer`, and no signature beside the commit.
/// Still read and verified; never written.
pub const UNSIGNED_FORMAT: u16 = 1;

/// Largest encoded commit accepted, in bytes, by every backend. DynamoDB caps an item at
/// 400 KB (409,600 bytes) including attribute names and the other attributes of the commit item;
/// 400,000 bytes of commit leaves 9,600 bytes for those, so the same commits fit everywhere.
pub const MAX_COMMIT_BYTES: usize = 400_000;

/// Longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 200;

/// The clear header of a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommitHeader {
    /// Encoding version ([`FORMAT_VERSION`]).
    pub format: u16,
    /// The dialogue every event belongs to.
    pub dialogue: DialogueId,
    /// Commit number, from 1, without gaps.
    pub commit: u64,
    /// Dialogue-wide sequence number of the first event, from 1.
    pub first_seq: u64,
    /// Who wrote the commit: tool name, model or person, as given by the caller.
    pub actor: String,
    /// When, as given by the caller (RFC 3339, UTC). Core never reads a clock.
    pub time: String,
    /// The caller's idempotency key, if any.
    pub idempotency_key: Option<String>,
    /// Keyed fingerprint of the request that produced the commit (see [`request_fingerprint`]),
    /// so a retry with the same key can be told apart from a different request.
    pub request: Option<String>,
    /// Version of the dialogue's data key that sealed the content.
    pub key_version: u32,
    /// The public key whose signature is stored beside the commit (format 2; absent in
    /// format 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signer: Option<PublicKey>,
}

/// One event as stored: sequence number, schema version, clear structure and sealed content.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    /// Dialogue-wide event sequence number.
    pub seq: u64,
    /// The clear structure.
    pub body: EventBody,
    /// The sealed content, if the event has any.
    pub sealed: Option<Sealed>,
}

#[derive(Serialize)]
struct EventWireOut<'a> {
    seq: u64,
    v: u16,
    #[serde(flatten)]
    body: &'a EventBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    sealed: &'a Option<Sealed>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EventWireIn {
    seq: u64,
    v: u16,
    #[serde(rename = "type")]
    type_name: String,
    body: Value,
    #[serde(default)]
    sealed: Option<Sealed>,
}

impl Serialize for StoredEvent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        EventWireOut {
            seq: self.seq,
            v: EVENT_VERSION,
            body: &self.body,
            sealed: &self.sealed,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for StoredEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let wire = EventWireIn::deserialize(deserializer)?;
        let body = upcast(&wire.type_name, wire.v, wire.body).map_err(D::Error::custom)?;
        Ok(StoredEvent {
            seq: wire.seq,
            body,
            sealed: wire.sealed,
        })
    }
}

/// Brings an event body of any supported schema version to the current one. Version 1 is the
/// only version so far; a future version 2 adds its conversion from 1 here, so old ledgers keep
/// decoding (and keep their stored bytes, which are never rewritten).
fn upcast(type_name: &str, version: u16, body: Value) -> Result<EventBody, String> {
    match version {
        EVENT_VERSION => {
            let mut tagged = Map::new();
            tagged.insert("type".to_owned(), Value::String(type_name.to_owned()));
            tagged.insert("body".to_owned(), body);
            serde_json::from_value(Value::Object(tagged))
                .map_err(|e| format!("event `{type_name}`: {e}"))
        }
        other => Err(format!(
            "event `{type_name}` has schema version {other}; this build reads version {EVENT_VERSION}: upgrade dlg"
        )),
    }
}

/// A decoded commit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Commit {
    /// The header.
    pub header: CommitHeader,
    /// The events, in sequence order.
    pub events: Vec<StoredEvent>,
}

/// Why commit bytes could not be decoded or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommitError {
    /// The bytes are not a commit of this format; reported by audit as a malformed commit.
    #[error("not a valid commit: {0}")]
    Malformed(String),
    /// The commit would exceed the size every backend accepts. Split the batch.
    #[error(
        "the commit is {size} bytes, over the limit of {limit} bytes that every store accepts: split the batch into smaller registrations"
    )]
    TooLarge { size: usize, limit: usize },
    /// A commit must hold at least one event.
    #[error("a commit must hold at least one event")]
    Empty,
    /// Header fields that do not fit the format (bad idempotency key, actor, time).
    #[error("invalid commit header: {0}")]
    Header(String),
}

impl Commit {
    /// Encodes the commit in its canonical form.
    pub fn encode(&self) -> Vec<u8> {
        match serde_json::to_vec(self) {
            Ok(bytes) => bytes,
            // Every field serializes infallibly: string keys, finite numbers (checked by validation).
            Err(e) => unreachable!("commit serialization failed: {e}"),
        }
    }

    /// Decodes stored bytes, insisting that they are in canonical form.
    pub fn decode(bytes: &[u8]) -> Result<Commit, CommitError> {
        let commit: Commit =
            serde_json::from_slice(bytes).map_err(|e| CommitError::Malformed(e.to_string()))?;
        match (commit.header.format, &commit.header.signer) {
            (FORMAT_VERSION, Some(_)) | (UNSIGNED_FORMAT, None) => {}
            (FORMAT_VERSION, None) => {
                return Err(CommitError::Malformed(
                    "a format 2 commit must name its signer".to_owned(),
                ));
            }
            (UNSIGNED_FORMAT, Some(_)) => {
                return Err(CommitError::Malformed(
                    "a format 1 commit has no signer".to_owned(),
                ));
            }
            (other, _) => {
                return Err(CommitError::Malformed(format!(
                    "format version {other} (this build reads {UNSIGNED_FORMAT} and {FORMAT_VERSION}): upgrade dlg"
                )));
            }
        }
        if commit.events.is_empty() {
            return Err(CommitError::Empty);
        }
        // The header's numbers are whatever the stored bytes say: past u64, they are malformed.
        if commit
            .header
            .first_seq
            .checked_add(commit.events.len() as u64)
            .is_none()
        {
            return Err(CommitError::Malformed(format!(
                "first_seq {} leaves no room for its {} events",
                commit.header.first_seq,
                commit.events.len()
            )));
        }
        for (i, event) in commit.events.iter().enumerate() {
            if event.seq != commit.header.first_seq + i as u64 {
                return Err(CommitError::Malformed(format!(
                    "event {i} has seq {} but the header starts at {}",
                    event.seq, commit.header.first_seq
                )));
            }
        }
        if commit.encode() != bytes {
            return Err(CommitError::Malformed(
                "bytes are not in canonical form".to_owned(),
            ));
        }
        Ok(commit)
    }

    /// The sequence number after this commit's last event.
    pub fn next_seq(&self) -> u64 {
        self.header.first_seq + self.events.len() as u64
    }

    /// The canonical address of one of this commit's events.
    pub fn address_of(&self, event: &StoredEvent) -> String {
        canonical_address(&self.header.dialogue, event.seq, &event.body)
    }

    /// Opens an event's sealed content with the dialogue's data key.
    pub fn open_event(
        &self,
        event: &StoredEvent,
        key: &SecretKey,
    ) -> Result<Option<Map<String, Value>>, SealError> {
        let Some(sealed) = &event.sealed else {
            return Ok(None);
        };
        let address = self.address_of(event);
        let plain = seal::open(key, self.header.key_version, &address, sealed)?;
        parse_content(&address, &plain).map(Some)
    }

    /// The local → global id mapping of the entities this commit registered.
    pub fn id_mapping(&self) -> BTreeMap<String, String> {
        self.events
            .iter()
            .filter_map(|e| e.body.as_entity_added())
            .filter_map(|(_, added)| {
                added
                    .local_id
                    .clone()
                    .map(|local| (local, added.id.to_string()))
            })
            .collect()
    }
}

/// Parses opened content: it must be a JSON object.
pub fn parse_content(address: &str, plain: &[u8]) -> Result<Map<String, Value>, SealError> {
    match serde_json::from_slice::<Value>(plain) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(SealError::Content {
            address: address.to_owned(),
            reason: "not an object".to_owned(),
        }),
        Err(e) => Err(SealError::Content {
            address: address.to_owned(),
            reason: e.to_string(),
        }),
    }
}

/// A commit ready to store: the decoded form, its exact bytes, and its chain hash.
#[derive(Debug, Clone)]
pub struct EncodedCommit {
    /// The commit.
    pub commit: Commit,
    /// The canonical bytes to store.
    pub bytes: Vec<u8>,
    /// `blake3(previous hash ‖ bytes)`.
    pub hash: Hash,
    /// The signature of [`crate::sign::commit_message`]`(hash)` by the header's signer: set by
    /// whoever holds the signing key ([`EncodedCommit::sign_with`], or the writer's asynchronous
    /// signer), never by [`seal_commit`].
    pub signature: Option<crate::sign::Signature>,
}

impl EncodedCommit {
    /// Signs the commit with a local key (tests, benchmarks, tools holding the key in memory).
    pub fn sign_with(mut self, signer: &crate::sign::LocalSigner) -> Self {
        self.signature = Some(signer.sign_now(&crate::sign::commit_message(&self.hash)));
        self
    }
}

/// Numbers, seals and encodes decided events as the commit after `head`.
///
/// `header.first_seq` and `header.commit` are taken as given; each event's content is sealed
/// with a fresh nonce at its canonical address. Fails if the result exceeds [`MAX_COMMIT_BYTES`].
pub fn seal_commit(
    header: CommitHeader,
    events: Vec<NewEvent>,
    previous_hash: &Hash,
    key: &SecretKey,
    entropy: &mut dyn Entropy,
) -> Result<EncodedCommit, CommitError> {
    validate_header(&header)?;
    if events.is_empty() {
        return Err(CommitError::Empty);
    }
    let stored = events
        .into_iter()
        .enumerate()
        .map(|(i, event)| {
            let seq = header.first_seq + i as u64;
            let sealed = event.content.map(|content| {
                let address = canonical_address(&header.dialogue, seq, &event.body);
                let plain = serde_json::to_vec(&Value::Object(content)).unwrap_or_default();
                seal::seal(key, header.key_version, &address, &plain, entropy)
            });
            StoredEvent {
                seq,
                body: event.body,
                sealed,
            }
        })
        .collect();
    let commit = Commit {
        header,
        events: stored,
    };
    let bytes = commit.encode();
    if bytes.len() > MAX_COMMIT_BYTES {
        return Err(CommitError::TooLarge {
            size: bytes.len(),
            limit: MAX_COMMIT_BYTES,
        });
    }
    let hash = chain::link(previous_hash, &bytes);
    Ok(EncodedCommit {
        commit,
        bytes,
        hash,
        signature: None,
    })
}

fn validate_header(header: &CommitHeader) -> Result<(), CommitError> {
    if header.format != FORMAT_VERSION || header.signer.is_none() {
        return Err(CommitError::Header(format!(
            "format must be {FORMAT_VERSION}, with a signer"
        )));
    }
    if header.commit == 0 || header.first_seq == 0 {
        return Err(CommitError::Header(
            "commit and event numbers start at 1".to_owned(),
        ));
    }
    check_clear_fields(
        &header.actor,
        header.idempotency_key.as_deref(),
        &header.time,
    )
}

/// The longest actor a header takes, in bytes.
pub const MAX_ACTOR: usize = 200;

/// Checks the clear header fields a writer is given (actor, idempotency key, time) before it
/// does anything else: they are stored in clear and shown to people, so they are short, single
/// lines with no control characters, separators or bidi controls (`dlg_core::text`).
pub fn check_clear_fields(
    actor: &str,
    idempotency_key: Option<&str>,
    time: &str,
) -> Result<(), CommitError> {
    if actor.trim().is_empty() || actor.len() > MAX_ACTOR || !crate::text::is_plain_line(actor) {
        return Err(CommitError::Header(format!(
            "actor `{}` is not valid: an actor is 1 to {MAX_ACTOR} bytes naming the tool, model or person writing, on one line without control characters",
            crate::text::line(&actor.chars().take(80).collect::<String>())
        )));
    }
    if let Some(key) = idempotency_key
        && (key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY || !crate::text::is_plain_line(key))
    {
        return Err(CommitError::Header(format!(
            "an idempotency key is 1 to {MAX_IDEMPOTENCY_KEY} bytes without control characters"
        )));
    }
    if !is_rfc3339_utc(time) {
        return Err(CommitError::Header(format!(
            "time `{}` is not an RFC 3339 UTC timestamp like 2026-03-12T20:26:00Z",
            crate::text::line(&time.chars().take(80).collect::<String>())
        )));
    }
    Ok(())
}

/// Whether `text` looks like `YYYY-MM-DDTHH:MM:SS[.fraction]Z`.
pub fn is_rfc3339_utc(text: &str) -> bool {
    // The shape this format stores (`T`, `Z`, an optional fraction) is checked here; whether it
    // names a real instant (month 1–12, a day the month has, hours below 24, ...) is the RFC 3339
    // parser's to say. Parsing reads no clock.
    has_stored_time_shape(text) && humantime::parse_rfc3339(text).is_ok()
}

fn has_stored_time_shape(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |range: std::ops::Range<usize>| {
        b.get(range)
            .is_some_and(|s| s.iter().all(u8::is_ascii_digit))
    };
    b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && b[b.len() - 1] == b'Z'
        && (b.len() == 20 || (b[19] == b'.' && b.len() > 21 && digits(20..b.len() - 1)))
}

/// A keyed fingerprint of a request's canonical bytes: `blake3` keyed with a key derived from the
/// dialogue's data key, as lowercase hex. Keyed, so the fingerprint reveals nothing about the
/// sealed content to someone without the key.
pub fn request_fingerprint(key: &SecretKey, request: &[u8]) -> String {
    let derived = blake3::derive_key("dlg-ledger request fingerprint v1", key.expose());
    blake3::keyed_hash(&derived, request).to_hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The float form docs/format.md §1 states.
    #[test]
    fn float_forms() {
        let text = |x: f64| serde_json::to_string(&x).unwrap_or_default();
        for (x, form) in [
            (65.0, "65.0"),
            (0.95, "0.95"),
            (1e15, "1000000000000000.0"),
            (1e16, "1e+16"),
            (0.0001, "0.0001"),
            (0.00001, "0.00001"),
            (0.000001, "1e-6"),
            (1.5e20, "1.5e+20"),
        ] {
            assert_eq!(text(x), form);
        }
    }

    #[test]
    fn timestamps() {
        assert!(is_rfc3339_utc("2026-03-12T20:26:00Z"));
        assert!(is_rfc3339_utc("2026-03-12T20:26:00.123Z"));
        assert!(!is_rfc3339_utc("2026-03-12 20:26:00Z"));
        assert!(!is_rfc3339_utc("2026-03-12T20:26:00+01:00"));
        assert!(!is_rfc3339_utc("2026-03-12T20:26:00.Z"));
        // The right shape, but no such instant.
        assert!(!is_rfc3339_utc("2026-13-45T25:61:61Z"));
        assert!(!is_rfc3339_utc("2026-02-30T12:00:00Z"));
        assert!(!is_rfc3339_utc("2026-03-12T24:00:00Z"));
        assert!(is_rfc3339_utc("2024-02-29T23:59:59Z"));
    }
}
