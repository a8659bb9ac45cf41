//! Key material at the edges: the master key providers (the local key file, AWS KMS), the
//! commit signers (the local signing key file, an AWS KMS Ed25519 key), the OS
//! entropy source, and the key ring of one dialogue (its unwrapped data keys by version) used to
//! open sealed content.

mod file;
pub mod kms;
pub mod kms_signer;

pub use file::{KeyFileError, MasterKeyFile, SigningKeyFile};

use std::collections::BTreeMap;

use dlg_core::graph::SealedCopy;
use dlg_core::seal::{self, Entropy, SealError, SecretKey};
use rand::Rng as _;
use serde_json::{Map, Value};

/// Random bytes from a CSPRNG seeded by the operating system.
#[derive(Debug, Default)]
pub struct OsEntropy;

impl Entropy for OsEntropy {
    fn fill(&mut self, dest: &mut [u8]) {
        rand::rng().fill_bytes(dest);
    }
}

/// The unwrapped data keys of one dialogue, by version.
#[derive(Debug, Default)]
pub struct KeyRing {
    keys: BTreeMap<u32, SecretKey>,
}

impl KeyRing {
    /// A ring of the given keys.
    pub fn new(keys: BTreeMap<u32, SecretKey>) -> Self {
        Self { keys }
    }

    /// The newest version and its key, used for new commits.
    pub fn current(&self) -> Option<(u32, &SecretKey)> {
        self.keys.iter().next_back().map(|(v, k)| (*v, k))
    }

    /// The key of a version.
    pub fn get(&self, version: u32) -> Option<&SecretKey> {
        self.keys.get(&version)
    }

    /// Whether the ring holds no key (the dialogue was shredded).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Opens sealed content copied into a graph item.
    pub fn open(&self, copy: &SealedCopy) -> Result<Map<String, Value>, SealError> {
        let key = self.get(copy.key_version).ok_or_else(|| SealError::Open {
            address: copy.address.clone(),
            key_version: copy.key_version,
        })?;
        let plain = seal::open(key, copy.key_version, &copy.address, &copy.sealed)?;
        dlg_core::commit::parse_content(&copy.address, &plain)
    }
}
