//! Commit signatures (format 2): Ed25519 over a commit's chain hash, so one signature covers the
//! commit's every byte and the whole chain before it. The [`Signer`] port lets the key live in a
//! file ([`LocalSigner`]) or in a key service (the writer's KMS signer); verification is pure.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;

use base64::Engine;
use ed25519_dalek::{Signer as _, SigningKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::chain::Hash;

/// The prefix of the message a commit signature signs: `prefix ‖ hash` (63 bytes).
pub const COMMIT_SIGNATURE_CONTEXT: &[u8] = b"dlg-ledger commit signature v2:";

/// The name C2SP signed notes give the ledger's keys (checkpoints and verifier keys).
pub const NOTE_KEY_NAME: &str = "dlg-ledger";

/// The message a commit signature signs: [`COMMIT_SIGNATURE_CONTEXT`] followed by the commit's
/// 32-byte chain hash.
pub fn commit_message(hash: &Hash) -> Vec<u8> {
    [COMMIT_SIGNATURE_CONTEXT, hash.as_slice()].concat()
}

/// An Ed25519 signature: 64 bytes.
pub type Signature = [u8; 64];

/// An Ed25519 public key, named in each format 2 commit header (`signer`, 64 lowercase hex
/// digits) and pinned by auditors.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PublicKey([u8; 32]);

impl PublicKey {
    /// The key from its 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Whether `signature` is this key's valid signature of `message`. Strict verification: a
    /// weak key or a malleated signature is refused.
    pub fn verifies(&self, message: &[u8], signature: &Signature) -> bool {
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&self.0) else {
            return false;
        };
        key.verify_strict(message, &ed25519_dalek::Signature::from_bytes(signature))
            .is_ok()
    }

    /// The key as a C2SP signed-note verifier key: `dlg-ledger+{key id}+{base64(0x01 ‖ key)}`,
    /// the form note tooling and witnesses take.
    pub fn verifier_key(&self) -> String {
        let encoded = [&[1u8][..], self.0.as_slice()].concat();
        format!(
            "{NOTE_KEY_NAME}+{:08x}+{}",
            note_key_id(self),
            base64::engine::general_purpose::STANDARD.encode(encoded)
        )
    }
}

/// The C2SP key id of a ledger key: the first 4 bytes, big-endian, of
/// `SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key)`.
pub fn note_key_id(key: &PublicKey) -> u32 {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update(NOTE_KEY_NAME.as_bytes());
    hasher.update(b"\n\x01");
    hasher.update(key.0);
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in self.0 {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self})")
    }
}

/// Why a text is not a public key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a signing key: give the 64 hex digits or the `dlg-ledger+…` verifier key that `dlg signer` prints"
)]
pub struct PublicKeyError(pub String);

impl FromStr for PublicKey {
    type Err = PublicKeyError;

    /// 64 lowercase or uppercase hex digits, or a verifier key as [`PublicKey::verifier_key`]
    /// writes it (its key id is checked).
    fn from_str(text: &str) -> Result<Self, PublicKeyError> {
        let text = text.trim();
        let error = || PublicKeyError(text.chars().take(120).collect());
        if let Some(rest) = text.strip_prefix(&format!("{NOTE_KEY_NAME}+")) {
            let (id, encoded) = rest.split_once('+').ok_or_else(error)?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .map_err(|_| error())?;
            let key: [u8; 32] = match bytes.split_first() {
                Some((1, key)) => key.try_into().map_err(|_| error())?,
                _ => return Err(error()),
            };
            let key = PublicKey(key);
            if u32::from_str_radix(id, 16).ok() != Some(note_key_id(&key)) || id.len() != 8 {
                return Err(error());
            }
            return Ok(key);
        }
        if text.len() != 64 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(error());
        }
        let mut key = [0u8; 32];
        for (i, byte) in key.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(|_| error())?;
        }
        Ok(PublicKey(key))
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        // The stored form is exactly 64 lowercase hex digits; anything else is not canonical.
        if text.len() != 64 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(serde::de::Error::custom(
                "a signer is 64 lowercase hex digits",
            ));
        }
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a signature could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// The key service refused or could not be reached; nothing was written.
    #[error("{0}")]
    Service(String),
    /// The signer answered a signature its own public key does not verify.
    #[error(
        "the signing key {0} produced a signature its public key does not verify; nothing was written"
    )]
    Invalid(PublicKey),
}

/// A boxed future, so a signer may call a key service.
pub type SignFuture<'a> = Pin<Box<dyn Future<Output = Result<Signature, SignError>> + Send + 'a>>;

/// Signs commits and checkpoints: a key in a file, or a key service that never hands it out.
pub trait Signer: Send + Sync {
    /// The public key every signature verifies under.
    fn public_key(&self) -> PublicKey;

    /// Names the key in messages (a file path, a KMS key id).
    fn source(&self) -> String;

    /// An Ed25519 signature of `message`.
    fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a>;
}

/// Signs `message` with `signer` and checks the answer before it is trusted with a commit.
pub async fn sign_checked(signer: &dyn Signer, message: &[u8]) -> Result<Signature, SignError> {
    let signature = signer.sign(message).await?;
    let key = signer.public_key();
    if !key.verifies(message, &signature) {
        return Err(SignError::Invalid(key));
    }
    Ok(signature)
}

/// A signing key held in memory (read from the writer's signing key file, or a test's seed).
pub struct LocalSigner {
    key: SigningKey,
    source: String,
}

impl fmt::Debug for LocalSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSigner")
            .field("public_key", &self.public_key())
            .field("source", &self.source)
            .finish()
    }
}

impl LocalSigner {
    /// The key whose 32-byte seed is `seed` (the seed is the private key; it is zeroed on drop).
    pub fn from_seed(seed: &[u8; 32], source: impl Into<String>) -> Self {
        Self {
            key: SigningKey::from_bytes(seed),
            source: source.into(),
        }
    }

    /// Signs at once (a local key needs no service).
    pub fn sign_now(&self, message: &[u8]) -> Signature {
        self.key.sign(message).to_bytes()
    }
}

impl Signer for LocalSigner {
    fn public_key(&self) -> PublicKey {
        PublicKey(self.key.verifying_key().to_bytes())
    }

    fn source(&self) -> String {
        self.source.clone()
    }

    fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a> {
        let signature = self.sign_now(message);
        Box::pin(async move { Ok(signature) })
    }
}

/// Which signing keys an auditor or writer accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Trust {
    /// Any key whose signature verifies; the audit reports which keys signed and that none was
    /// pinned. A forger with their own key passes this, so auditors pin.
    #[default]
    Unpinned,
    /// Only these keys.
    Pinned(Vec<PublicKey>),
}

impl Trust {
    /// Whether `key` is accepted.
    pub fn accepts(&self, key: &PublicKey) -> bool {
        match self {
            Trust::Unpinned => true,
            Trust::Pinned(keys) => keys.contains(key),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_both_text_forms() {
        let signer = LocalSigner::from_seed(&[9; 32], "test");
        let key = signer.public_key();
        assert_eq!(key.to_string().parse::<PublicKey>(), Ok(key));
        assert_eq!(key.verifier_key().parse::<PublicKey>(), Ok(key));
        // A verifier key whose id does not match its key is refused.
        let vkey = key.verifier_key();
        let forged = format!("{NOTE_KEY_NAME}+00000000+{}", &vkey[20..]);
        assert!(matches!(
            forged.parse::<PublicKey>(),
            Err(PublicKeyError(_))
        ));
        assert!(matches!("abc".parse::<PublicKey>(), Err(PublicKeyError(_))));
    }

    #[test]
    fn signatures_verify_only_for_their_message_and_key() {
        let signer = LocalSigner::from_seed(&[1; 32], "test");
        let message = commit_message(&[3; 32]);
        let signature = signer.sign_now(&message);
        assert!(signer.public_key().verifies(&message, &signature));
        assert!(
            !signer
                .public_key()
                .verifies(&commit_message(&[4; 32]), &signature)
        );
        let other = LocalSigner::from_seed(&[2; 32], "other");
        assert!(!other.public_key().verifies(&message, &signature));
        let mut flipped = signature;
        flipped[10] ^= 1;
        assert!(!signer.public_key().verifies(&message, &flipped));
    }
}
