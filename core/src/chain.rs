//! The hash chain over stored commit bytes, its verification, and digests an auditor keeps.
//!
//! `hash(1) = blake3(genesis(dialogue) ‖ bytes(1))`, `hash(n) = blake3(hash(n-1) ‖ bytes(n))`,
//! with `genesis(dialogue) = blake3("dlg-ledger genesis v1:" ‖ dialogue id)`. The chain covers
//! ciphertext, so it verifies without keys and after shredding. A format 2 commit is also signed:
//! its signer's Ed25519 signature of [`crate::sign::commit_message`]`(hash(n))` is stored beside
//! it, so nobody without the signing key can append, rewrite or re-chain history that verifies.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::commit::{Commit, FORMAT_VERSION};
use crate::ids::DialogueId;
use crate::sign::{PublicKey, Signature, Trust, commit_message};

/// A 32-byte blake3 hash.
pub type Hash = [u8; 32];

/// The prefix hashed with the dialogue id to give the chain's starting value.
pub const GENESIS_PREFIX: &[u8] = b"dlg-ledger genesis v1:";

/// The value commit 1 chains from.
pub fn genesis(dialogue: &DialogueId) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(GENESIS_PREFIX);
    hasher.update(dialogue.as_str().as_bytes());
    *hasher.finalize().as_bytes()
}

/// One link: `blake3(previous ‖ bytes)`.
pub fn link(previous: &Hash, bytes: &[u8]) -> Hash {
    let mut hasher = blake3::Hasher::new();
    hasher.update(previous);
    hasher.update(bytes);
    *hasher.finalize().as_bytes()
}

/// Lowercase hex of a hash.
pub fn to_hex(hash: &Hash) -> String {
    blake3::Hash::from_bytes(*hash).to_hex().to_string()
}

/// Parses 64 hex digits.
pub fn from_hex(text: &str) -> Option<Hash> {
    blake3::Hash::from_hex(text).ok().map(|h| *h.as_bytes())
}

/// A commit as read back from a store: the number its storage key says, its bytes, and the hash
/// the store recorded beside it (if any).
#[derive(Debug, Clone, Copy)]
pub struct StoredCommit<'a> {
    /// The commit number from the storage key (`C#{n:010}`).
    pub number: u64,
    /// The exact stored bytes.
    pub bytes: &'a [u8],
    /// The hash stored beside the commit, checked against the recomputed one.
    pub recorded_hash: Option<Hash>,
    /// The signature stored beside the commit (format 2).
    pub signature: Option<&'a Signature>,
}

/// What is wrong at one commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ChainProblem {
    /// A commit number is absent: the commit was deleted.
    MissingCommit,
    /// The bytes do not decode as a commit.
    Malformed { reason: String },
    /// The commit belongs to another dialogue (replayed from elsewhere).
    WrongDialogue { found: String },
    /// The commit's own number differs from where it is stored (reordered or duplicated).
    OutOfPlace { found: u64 },
    /// Event sequence numbers do not continue from the previous commit.
    SequenceBreak { expected: u64, found: u64 },
    /// The recomputed hash differs from the hash recorded beside the commit: the bytes changed.
    BrokenLink { recorded: String, computed: String },
    /// The hash at the digest's commit differs from the digest.
    DigestMismatch { expected: String, computed: String },
    /// The ledger ends before the digest's commit: its tail was removed.
    Truncated { head: u64 },
    /// A format 2 commit has no signature beside it: it was forged or its signature stripped.
    MissingSignature { signer: String },
    /// The signature beside a format 2 commit does not verify under the key its header names:
    /// the commit, or the chain before it, changed after signing (or it never was signed).
    BadSignature { signer: String },
    /// The commit is validly signed, but by a key the verifier does not trust.
    UntrustedSigner { signer: String },
    /// An unsigned format 1 commit after a signed one: format 1 is only ever a ledger's prefix.
    Downgrade,
    /// A format 1 commit with a signature beside it, which format 1 never has.
    UnexpectedSignature,
}

impl std::fmt::Display for ChainProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainProblem::MissingCommit => write!(f, "the commit is missing (deleted)"),
            ChainProblem::Malformed { reason } => {
                write!(f, "the stored bytes are not a commit: {reason}")
            }
            ChainProblem::WrongDialogue { found } => {
                write!(f, "the commit belongs to dialogue `{found}`")
            }
            ChainProblem::OutOfPlace { found } => {
                write!(f, "the commit stored here says it is commit {found}")
            }
            ChainProblem::SequenceBreak { expected, found } => write!(
                f,
                "event numbers do not continue: expected {expected}, found {found}"
            ),
            ChainProblem::BrokenLink { recorded, computed } => write!(
                f,
                "the bytes or the chain before them changed: their hash is {computed}, the recorded hash {recorded}"
            ),
            ChainProblem::DigestMismatch { expected, computed } => write!(
                f,
                "the hash here is {computed}, the digest says {expected}: history was rewritten"
            ),
            ChainProblem::Truncated { head } => write!(
                f,
                "the ledger ends at commit {head}, before the digest's commit: its tail was removed"
            ),
            ChainProblem::MissingSignature { signer } => write!(
                f,
                "the commit names signer {signer} but has no signature: it was forged or its signature removed"
            ),
            ChainProblem::BadSignature { signer } => write!(
                f,
                "the signature does not verify under signer {signer}: the commit or the history before it changed after signing"
            ),
            ChainProblem::UntrustedSigner { signer } => write!(
                f,
                "the commit is signed by {signer}, which is not a trusted signing key"
            ),
            ChainProblem::Downgrade => write!(
                f,
                "an unsigned format 1 commit follows signed ones: it was not written by dlg"
            ),
            ChainProblem::UnexpectedSignature => {
                write!(
                    f,
                    "a format 1 commit carries a signature, which format 1 never has"
                )
            }
        }
    }
}

/// A chain verification failure, naming the first bad commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("commit {commit}: {problem}")]
pub struct ChainError {
    /// The first commit number at which the chain fails.
    pub commit: u64,
    /// What is wrong there.
    pub problem: ChainProblem,
}

/// The head of a verified chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    /// The last commit number (0 for an empty ledger).
    pub commit: u64,
    /// Its hash (the genesis value for an empty ledger).
    pub hash: Hash,
    /// The next event sequence number.
    pub next_seq: u64,
    /// How many commits are unsigned format 1 (always a prefix of the ledger).
    pub unsigned: u64,
    /// The keys that signed the format 2 commits, in the order they first appear.
    pub signers: Vec<PublicKey>,
}

/// Verifies a dialogue's commits, given in ascending storage order, and returns the head:
/// links, numbering and every signature, by whichever key each commit names
/// ([`Trust::Unpinned`]). Reports the first commit at which anything is wrong.
pub fn verify<'a>(
    dialogue: &DialogueId,
    commits: impl IntoIterator<Item = StoredCommit<'a>>,
) -> Result<ChainHead, ChainError> {
    verify_with(dialogue, commits, &Trust::Unpinned, |_, _| {})
}

/// Like [`verify`], accepting only signatures by keys `trust` accepts.
pub fn verify_trusted<'a>(
    dialogue: &DialogueId,
    commits: impl IntoIterator<Item = StoredCommit<'a>>,
    trust: &Trust,
) -> Result<ChainHead, ChainError> {
    verify_with(dialogue, commits, trust, |_, _| {})
}

/// Like [`verify_trusted`], calling `on_link(commit number, hash)` for every commit that
/// verifies.
pub fn verify_with<'a>(
    dialogue: &DialogueId,
    commits: impl IntoIterator<Item = StoredCommit<'a>>,
    trust: &Trust,
    mut on_link: impl FnMut(u64, &Hash),
) -> Result<ChainHead, ChainError> {
    let mut head = ChainHead {
        commit: 0,
        hash: genesis(dialogue),
        next_seq: 1,
        unsigned: 0,
        signers: Vec::new(),
    };
    for stored in commits {
        let expected = head.commit + 1;
        let fail = |commit, problem| Err(ChainError { commit, problem });
        if stored.number != expected {
            // A storage key beyond the next number means commits in between are gone.
            return if stored.number > expected {
                fail(expected, ChainProblem::MissingCommit)
            } else {
                fail(
                    stored.number,
                    ChainProblem::OutOfPlace {
                        found: stored.number,
                    },
                )
            };
        }
        let hash = link(&head.hash, stored.bytes);
        if let Some(recorded) = stored.recorded_hash
            && recorded != hash
        {
            return fail(
                expected,
                ChainProblem::BrokenLink {
                    recorded: to_hex(&recorded),
                    computed: to_hex(&hash),
                },
            );
        }
        let commit = match Commit::decode(stored.bytes) {
            Ok(commit) => commit,
            Err(e) => {
                return fail(
                    expected,
                    ChainProblem::Malformed {
                        reason: e.to_string(),
                    },
                );
            }
        };
        if &commit.header.dialogue != dialogue {
            return fail(
                expected,
                ChainProblem::WrongDialogue {
                    found: commit.header.dialogue.to_string(),
                },
            );
        }
        if commit.header.commit != expected {
            return fail(
                expected,
                ChainProblem::OutOfPlace {
                    found: commit.header.commit,
                },
            );
        }
        if commit.header.first_seq != head.next_seq {
            return fail(
                expected,
                ChainProblem::SequenceBreak {
                    expected: head.next_seq,
                    found: commit.header.first_seq,
                },
            );
        }
        match &commit.header.signer {
            Some(signer) => {
                let named = || signer.to_string();
                let Some(signature) = stored.signature else {
                    return fail(expected, ChainProblem::MissingSignature { signer: named() });
                };
                if commit.header.format != FORMAT_VERSION
                    || !signer.verifies(&commit_message(&hash), signature)
                {
                    return fail(expected, ChainProblem::BadSignature { signer: named() });
                }
                if !trust.accepts(signer) {
                    return fail(expected, ChainProblem::UntrustedSigner { signer: named() });
                }
                if !head.signers.contains(signer) {
                    head.signers.push(*signer);
                }
            }
            None => {
                if stored.signature.is_some() {
                    return fail(expected, ChainProblem::UnexpectedSignature);
                }
                if !head.signers.is_empty() {
                    return fail(expected, ChainProblem::Downgrade);
                }
                head.unsigned += 1;
            }
        }
        on_link(expected, &hash);
        head.commit = expected;
        head.hash = hash;
        head.next_seq = commit.next_seq();
    }
    Ok(head)
}

/// Verifies the chain and that the hash at `digest.commit` equals the digest. A problem before
/// the digest's commit is reported first; a ledger that ends before it is reported as truncated.
pub fn verify_against<'a>(
    digest: &Digest,
    commits: impl IntoIterator<Item = StoredCommit<'a>>,
    trust: &Trust,
) -> Result<ChainHead, ChainError> {
    let mut at_digest = None;
    let result = verify_with(&digest.dialogue, commits, trust, |number, hash| {
        if number == digest.commit {
            at_digest = Some(*hash);
        }
    });
    match (result, at_digest) {
        // Without a link at the digest's commit, either an earlier commit failed or the ledger
        // ends before it.
        (Err(error), None) => Err(error),
        (Ok(head), None) => Err(ChainError {
            commit: digest.commit,
            problem: ChainProblem::Truncated { head: head.commit },
        }),
        (_, Some(hash)) if hash != digest.hash => Err(ChainError {
            commit: digest.commit,
            problem: ChainProblem::DigestMismatch {
                expected: to_hex(&digest.hash),
                computed: to_hex(&hash),
            },
        }),
        (result, Some(_)) => result,
    }
}

/// What an auditor keeps to prove later that history up to a commit is unchanged.
/// Written as `{dialogue}@{commit}:{hash hex}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Digest {
    /// The dialogue.
    pub dialogue: DialogueId,
    /// The commit number the digest was taken at.
    pub commit: u64,
    /// The chain hash at that commit.
    #[serde(with = "hex_hash")]
    pub hash: Hash,
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}@{}:{}",
            self.dialogue,
            self.commit,
            to_hex(&self.hash)
        )
    }
}

impl FromStr for Digest {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        let usage = || {
            format!(
                "`{text}` is not a digest: expected dialogue@commit:hash, as `dlg digest` prints it"
            )
        };
        let (dialogue, rest) = text.trim().split_once('@').ok_or_else(usage)?;
        let (commit, hash) = rest.split_once(':').ok_or_else(usage)?;
        Ok(Digest {
            dialogue: DialogueId::parse(dialogue).map_err(|e| e.to_string())?,
            commit: commit.parse().map_err(|_| usage())?,
            hash: from_hex(hash).ok_or_else(usage)?,
        })
    }
}

mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(hash: &super::Hash, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&super::to_hex(hash))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<super::Hash, D::Error> {
        let text = String::deserialize(deserializer)?;
        super::from_hex(&text).ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
    }
}
