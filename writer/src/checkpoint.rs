//! Signed checkpoints: a statement of (dialogue, commit number, chain head) signed by the writer's
//! key, in the C2SP `tlog-checkpoint` text format inside a C2SP signed note, so transparency-log
//! tooling and witnesses can hold and cosign it. The note framing, key ids and verification are
//! the `signed_note` crate's; the body is
//!
//! ```text
//! dlg-ledger/{dialogue}
//! {commit number}
//! {base64 of the 32-byte chain hash at that commit}
//! ```
//!
//! The chain head is a hash chain's, not a Merkle tree's: a witness can hold and cosign it, but
//! consistency between two checkpoints is proved by replaying the chain (`dlg audit`), not by a
//! Merkle proof.

use base64::Engine as _;
use dlg_core::chain::{Digest, Hash};
use dlg_core::ids::DialogueId;
use dlg_core::sign::{NOTE_KEY_NAME, PublicKey, SignError, Signer, note_key_id, sign_checked};
use signed_note::{Note, StandardVerifier, Verifier, VerifierList};

/// The origin line's prefix: `dlg-ledger/{dialogue}` names the log of one dialogue.
pub const ORIGIN_PREFIX: &str = "dlg-ledger/";

/// Largest checkpoint file read (a note is three short lines and a few signatures).
pub const MAX_CHECKPOINT_BYTES: u64 = 64 * 1024;

/// What a checkpoint states: the dialogue's history up to `commit` ends in `hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub dialogue: DialogueId,
    pub commit: u64,
    pub hash: Hash,
}

/// Why a checkpoint cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The text is not a signed note holding a dlg checkpoint.
    #[error("{source_name} is not a dlg checkpoint: {reason}")]
    Malformed { source_name: String, reason: String },
    /// No signature on the note verifies under a key it may be checked with.
    #[error(
        "the checkpoint {source_name} is not signed by {keys}: pass the writer's key with --trust (as `dlg signer` prints it)"
    )]
    Unverified { source_name: String, keys: String },
}

impl Checkpoint {
    /// The checkpoint at a digest's commit.
    pub fn of(digest: &Digest) -> Self {
        Self {
            dialogue: digest.dialogue.clone(),
            commit: digest.commit,
            hash: digest.hash,
        }
    }

    /// The digest it states.
    pub fn digest(&self) -> Digest {
        Digest {
            dialogue: self.dialogue.clone(),
            commit: self.commit,
            hash: self.hash,
        }
    }

    /// The note's text: origin, commit number, base64 chain hash, each ending in a newline.
    pub fn text(&self) -> String {
        format!(
            "{ORIGIN_PREFIX}{}\n{}\n{}\n",
            self.dialogue,
            self.commit,
            base64::engine::general_purpose::STANDARD.encode(self.hash)
        )
    }

    /// The signed note: the text, a blank line, and the signer's signature line.
    pub async fn sign(&self, signer: &dyn Signer) -> Result<String, SignError> {
        let text = self.text();
        let signature = sign_checked(signer, text.as_bytes()).await?;
        let key = signer.public_key();
        let line = signed_note::Signature::new(
            NOTE_KEY_NAME.to_owned(),
            note_key_id(&key),
            signature.to_vec(),
        )
        .map_err(|e| SignError::Service(format!("cannot frame the checkpoint: {e}")))?;
        let note = Note::new(text.as_bytes(), &[line])
            .map_err(|e| SignError::Service(format!("cannot frame the checkpoint: {e}")))?;
        Ok(String::from_utf8_lossy(&note.to_bytes()).into_owned())
    }

    /// Parses a note's checkpoint without checking its signatures (the writer's own high-water
    /// mark, read from its private data directory).
    pub fn parse_unverified(note: &[u8], source_name: &str) -> Result<Self, CheckpointError> {
        let malformed = |reason: String| CheckpointError::Malformed {
            source_name: source_name.to_owned(),
            reason,
        };
        let note = Note::from_bytes(note).map_err(|e| malformed(format!("{e}")))?;
        Self::parse_text(note.text()).map_err(malformed)
    }

    /// Parses a note and verifies it: some signature must verify under one of `keys`. Answers
    /// the checkpoint and the key that signed it.
    pub fn parse_verified(
        note: &[u8],
        source_name: &str,
        keys: &[PublicKey],
    ) -> Result<(Self, PublicKey), CheckpointError> {
        let malformed = |reason: String| CheckpointError::Malformed {
            source_name: source_name.to_owned(),
            reason,
        };
        let parsed = Note::from_bytes(note).map_err(|e| malformed(format!("{e}")))?;
        let checkpoint = Self::parse_text(parsed.text()).map_err(malformed)?;
        let mut verifiers: Vec<Box<dyn Verifier>> = Vec::new();
        let mut unique = keys.to_vec();
        unique.sort();
        unique.dedup();
        for key in &unique {
            let verifier = StandardVerifier::new(&key.verifier_key())
                .map_err(|e| malformed(format!("verifier key {key}: {e}")))?;
            verifiers.push(Box::new(verifier));
        }
        let unverified = || CheckpointError::Unverified {
            source_name: source_name.to_owned(),
            keys: if keys.is_empty() {
                "any known key".to_owned()
            } else {
                keys.iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        };
        let (verified, _) = parsed
            .verify(&VerifierList::new(verifiers))
            .map_err(|_| unverified())?;
        let signer = verified
            .iter()
            .find_map(|sig| keys.iter().find(|k| note_key_id(k) == sig.id()))
            .copied()
            .ok_or_else(unverified)?;
        Ok((checkpoint, signer))
    }

    fn parse_text(text: &[u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(text).map_err(|_| "not UTF-8".to_owned())?;
        let mut lines = text.lines();
        let origin = lines.next().unwrap_or_default();
        let dialogue = origin
            .strip_prefix(ORIGIN_PREFIX)
            .ok_or_else(|| format!("the origin line does not start with `{ORIGIN_PREFIX}`"))?;
        let dialogue = DialogueId::parse(dialogue).map_err(|e| e.to_string())?;
        // Plain decimal only, as the format writes it: no sign, no leading zeros.
        let commit: u64 = lines
            .next()
            .and_then(|line| line.parse::<u64>().ok().filter(|n| n.to_string() == line))
            .ok_or_else(|| "the second line is not a commit number".to_owned())?;
        let hash: Hash = lines
            .next()
            .and_then(|h| base64::engine::general_purpose::STANDARD.decode(h).ok())
            .and_then(|h| h.try_into().ok())
            .ok_or_else(|| "the third line is not a base64 32-byte hash".to_owned())?;
        if commit == 0 {
            return Err("a checkpoint is at commit 1 or later".to_owned());
        }
        Ok(Self {
            dialogue,
            commit,
            hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vectors() -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../core/tests/fixtures/format-2")
    }

    /// The checkpoint vector of docs/format.md §11: the test signer's checkpoint of the format 2
    /// vector ledger at its last commit. Ed25519 is deterministic, so the note never changes;
    /// `DLG_BLESS=1` rewrites it after a deliberate change of format.
    #[test]
    fn checkpoint_vector() {
        let hashes = std::fs::read_to_string(vectors().join("hashes.hex")).unwrap();
        let last = hashes.lines().last().unwrap();
        let checkpoint = Checkpoint {
            dialogue: DialogueId::parse("pm-repo-sync").unwrap(),
            commit: hashes.lines().count() as u64,
            hash: dlg_core::chain::from_hex(last).unwrap(),
        };
        let signer = dlg_core::testing::test_signer();
        let note = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(checkpoint.sign(&signer))
            .unwrap();
        let path = vectors().join("checkpoint.txt");
        if std::env::var_os("DLG_BLESS").is_some() {
            std::fs::write(&path, &note).unwrap();
        }
        let stored = std::fs::read_to_string(&path).unwrap();
        assert_eq!(stored, note, "the checkpoint vector changed");
        let (parsed, key) =
            Checkpoint::parse_verified(stored.as_bytes(), "vector", &[signer.public_key()])
                .unwrap();
        assert_eq!((parsed, key), (checkpoint, signer.public_key()));
    }
}
