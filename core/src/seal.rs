//! Sealing: XChaCha20-Poly1305 over an event's content, bound to its canonical address and key
//! version; and the key hierarchy (a master key wraps one data key per dialogue and version).
//!
//! Core performs no I/O: randomness comes in through [`Entropy`], keys through [`KeyProvider`].

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chacha20poly1305::aead::Aead;
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce, aead::Payload};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::ids::DialogueId;

/// Length of an XChaCha20-Poly1305 nonce.
pub const NONCE_LEN: usize = 24;
/// Length of a Poly1305 tag.
pub const TAG_LEN: usize = 16;
/// Length of every key (master and data keys).
pub const KEY_LEN: usize = 32;

/// A source of cryptographically secure random bytes, supplied by the caller (the writer uses
/// the operating system's CSPRNG). Core never reaches for randomness itself.
pub trait Entropy {
    /// Fills `dest` with random bytes.
    fn fill(&mut self, dest: &mut [u8]);
}

/// Errors of sealing and key handling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The ciphertext does not open under this key and address: wrong key, wrong key version,
    /// altered bytes, or a ciphertext moved from another event, entity or dialogue.
    /// Callers report it as tampering or as the wrong key; it is never retryable.
    #[error(
        "sealed content at {address} (key version {key_version}) does not open: wrong key or altered data"
    )]
    Open { address: String, key_version: u32 },
    /// A wrapped data key does not unwrap under the master key.
    #[error(
        "the data key of dialogue {dialogue} version {version} does not unwrap: the master key is wrong or the wrapped key was altered"
    )]
    Unwrap { dialogue: String, version: u32 },
    /// A key or wrapped key has the wrong length or encoding.
    #[error("malformed key material: {0}")]
    Malformed(String),
    /// The key service (AWS KMS) refused or could not be reached; the message says which and
    /// how to fix it.
    #[error("{0}")]
    Provider(String),
    /// The opened plaintext is not the JSON object the format requires.
    #[error("sealed content at {address} is not a JSON object: {reason}")]
    Content { address: String, reason: String },
}

/// A 256-bit symmetric key; zeroed on drop and never printed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; KEY_LEN]);

impl SecretKey {
    /// Wraps raw key bytes.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// Reads a key from a slice, which must be exactly 32 bytes.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, SealError> {
        let array: [u8; KEY_LEN] = bytes.try_into().map_err(|_| {
            SealError::Malformed(format!("a key is {KEY_LEN} bytes, got {}", bytes.len()))
        })?;
        Ok(Self(array))
    }

    /// A fresh random key.
    pub fn generate(entropy: &mut dyn Entropy) -> Self {
        let mut bytes = [0u8; KEY_LEN];
        entropy.fill(&mut bytes);
        Self(bytes)
    }

    /// The raw bytes, for storing a master key in its file.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A nonce and ciphertext (with its 16-byte tag appended), as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The random 24-byte nonce.
    pub nonce: [u8; NONCE_LEN],
    /// Ciphertext followed by the Poly1305 tag.
    pub ciphertext: Vec<u8>,
}

/// The associated data a sealed field is bound to: its canonical address and the key version.
pub fn aad(address: &str, key_version: u32) -> String {
    format!("{address}/key:{key_version}")
}

/// Seals a plaintext at an address with a fresh nonce.
pub fn seal(
    key: &SecretKey,
    key_version: u32,
    address: &str,
    plaintext: &[u8],
    entropy: &mut dyn Entropy,
) -> Sealed {
    let mut nonce = [0u8; NONCE_LEN];
    entropy.fill(&mut nonce);
    seal_with_nonce(key, nonce, aad(address, key_version).as_bytes(), plaintext)
}

fn seal_with_nonce(
    key: &SecretKey,
    nonce: [u8; NONCE_LEN],
    aad: &[u8],
    plaintext: &[u8],
) -> Sealed {
    let ciphertext = match key.cipher().encrypt(
        &XNonce::from(nonce),
        Payload {
            msg: plaintext,
            aad,
        },
    ) {
        Ok(ciphertext) => ciphertext,
        // XChaCha20-Poly1305 only refuses messages above 256 GiB, far beyond the 400 KB commit limit.
        Err(_) => unreachable!("XChaCha20-Poly1305 refused a message below its size limit"),
    };
    Sealed { nonce, ciphertext }
}

/// Opens a sealed field; fails when the key, key version, address or any byte differs.
pub fn open(
    key: &SecretKey,
    key_version: u32,
    address: &str,
    sealed: &Sealed,
) -> Result<Vec<u8>, SealError> {
    open_raw(
        key,
        &sealed.nonce,
        aad(address, key_version).as_bytes(),
        &sealed.ciphertext,
    )
    .map_err(|()| SealError::Open {
        address: address.to_owned(),
        key_version,
    })
}

fn open_raw(
    key: &SecretKey,
    nonce: &[u8; NONCE_LEN],
    aad: &[u8],
    ciphertext: &[u8],
) -> Result<Vec<u8>, ()> {
    key.cipher()
        .decrypt(
            &XNonce::from(*nonce),
            Payload {
                msg: ciphertext,
                aad,
            },
        )
        .map_err(|_| ())
}

/// Stored as `{"nonce": base64, "ct": base64}` (standard alphabet, padded).
impl Serialize for Sealed {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Wire {
            nonce: String,
            ct: String,
        }
        Wire {
            nonce: BASE64.encode(self.nonce),
            ct: BASE64.encode(&self.ciphertext),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Sealed {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wire {
            nonce: String,
            ct: String,
        }
        use serde::de::Error;
        let wire = Wire::deserialize(deserializer)?;
        let nonce = BASE64
            .decode(wire.nonce.as_bytes())
            .map_err(D::Error::custom)?;
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| D::Error::custom("a nonce is 24 bytes"))?;
        let ciphertext = BASE64
            .decode(wire.ct.as_bytes())
            .map_err(D::Error::custom)?;
        if ciphertext.len() < TAG_LEN {
            return Err(D::Error::custom("a ciphertext is at least its 16-byte tag"));
        }
        Ok(Sealed { nonce, ciphertext })
    }
}

/// A per-dialogue data key wrapped by the master key, as kept in the keys table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKey {
    /// Which provider wrapped it (`local` for a master key file, `kms` for AWS KMS).
    pub provider: String,
    /// The provider's wrapped bytes (for `local`: nonce ‖ ciphertext ‖ tag, 72 bytes).
    #[serde(with = "base64_bytes")]
    pub bytes: Vec<u8>,
}

mod base64_bytes {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD as BASE64;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(bytes: &[u8], serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&BASE64.encode(bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<u8>, D::Error> {
        let text = String::deserialize(deserializer)?;
        BASE64
            .decode(text.as_bytes())
            .map_err(serde::de::Error::custom)
    }
}

/// What a [`KeyProvider`] operation returns: boxed, so the provider can be chosen at run time,
/// and a future, so a provider may call a key service (AWS KMS) over the network.
pub type KeyFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, SealError>> + Send + 'a>>;

/// The key hierarchy's port: something that holds the master key and wraps and unwraps
/// per-dialogue data keys. The local implementation is [`MasterKey`]; the AWS KMS one lives in
/// the writer. Every provider binds a wrapped key to its dialogue and version, so a wrapped key
/// copied to another dialogue or version does not unwrap.
pub trait KeyProvider: Send + Sync {
    /// Creates a fresh data key for `(dialogue, version)` and returns it with its wrapped form.
    /// `entropy` is used before the future is returned (a provider that generates keys itself,
    /// like KMS, ignores it).
    fn new_data_key<'a>(
        &'a self,
        dialogue: &'a DialogueId,
        version: u32,
        entropy: &mut dyn Entropy,
    ) -> KeyFuture<'a, (SecretKey, WrappedKey)>;

    /// Recovers a data key from its wrapped form; fails for another dialogue or version.
    fn unwrap_data_key<'a>(
        &'a self,
        dialogue: &'a DialogueId,
        version: u32,
        wrapped: &'a WrappedKey,
    ) -> KeyFuture<'a, SecretKey>;
}

/// The associated data of a wrapped data key: `dlg-wrap/v1/dialogue:{id}/key:{version}`.
pub fn wrap_aad(dialogue: &DialogueId, version: u32) -> String {
    format!("dlg-wrap/v1/dialogue:{dialogue}/key:{version}")
}

/// A master key held in memory (the local provider): wraps data keys with XChaCha20-Poly1305
/// under [`wrap_aad`]. Wrapped form: 24-byte nonce ‖ 32-byte ciphertext ‖ 16-byte tag.
#[derive(Debug, Clone)]
pub struct MasterKey(SecretKey);

impl MasterKey {
    /// Provider name recorded in [`WrappedKey::provider`].
    pub const PROVIDER: &'static str = "local";

    /// Uses these key bytes as the master key.
    pub fn new(key: SecretKey) -> Self {
        Self(key)
    }

    /// The key itself, for writing the key file.
    pub fn secret(&self) -> &SecretKey {
        &self.0
    }

    /// Creates a fresh data key for `(dialogue, version)` and wraps it under [`wrap_aad`].
    pub fn wrap_new_key(
        &self,
        dialogue: &DialogueId,
        version: u32,
        entropy: &mut dyn Entropy,
    ) -> Result<(SecretKey, WrappedKey), SealError> {
        let data_key = SecretKey::generate(entropy);
        let wrapped = self.wrap_key(dialogue, version, &data_key, entropy);
        Ok((data_key, wrapped))
    }

    /// Wraps a given data key for `(dialogue, version)` under [`wrap_aad`] with a fresh nonce.
    pub fn wrap_key(
        &self,
        dialogue: &DialogueId,
        version: u32,
        data_key: &SecretKey,
        entropy: &mut dyn Entropy,
    ) -> WrappedKey {
        let mut nonce = [0u8; NONCE_LEN];
        entropy.fill(&mut nonce);
        let sealed = seal_with_nonce(
            &self.0,
            nonce,
            wrap_aad(dialogue, version).as_bytes(),
            data_key.expose(),
        );
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.ciphertext.len());
        bytes.extend_from_slice(&sealed.nonce);
        bytes.extend_from_slice(&sealed.ciphertext);
        WrappedKey {
            provider: Self::PROVIDER.to_owned(),
            bytes,
        }
    }

    /// Unwraps a data key wrapped by [`MasterKey::wrap_new_key`] for the same dialogue and version.
    pub fn unwrap_key(
        &self,
        dialogue: &DialogueId,
        version: u32,
        wrapped: &WrappedKey,
    ) -> Result<SecretKey, SealError> {
        if wrapped.provider != Self::PROVIDER {
            return Err(SealError::Malformed(format!(
                "the data key of {dialogue} v{version} was wrapped by the `{}` provider, not by a local master key: open this store with the key service it was written with (for KMS: --kms-key / DLG_KMS_KEY)",
                wrapped.provider
            )));
        }
        if wrapped.bytes.len() != NONCE_LEN + KEY_LEN + TAG_LEN {
            return Err(SealError::Malformed(format!(
                "a wrapped key is {} bytes, got {}",
                NONCE_LEN + KEY_LEN + TAG_LEN,
                wrapped.bytes.len()
            )));
        }
        let (nonce, ciphertext) = wrapped.bytes.split_at(NONCE_LEN);
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| SealError::Malformed("nonce".to_owned()))?;
        let mut plain = open_raw(
            &self.0,
            &nonce,
            wrap_aad(dialogue, version).as_bytes(),
            ciphertext,
        )
        .map_err(|()| SealError::Unwrap {
            dialogue: dialogue.to_string(),
            version,
        })?;
        let key = SecretKey::from_slice(&plain);
        plain.zeroize();
        key
    }
}

impl KeyProvider for MasterKey {
    fn new_data_key<'a>(
        &'a self,
        dialogue: &'a DialogueId,
        version: u32,
        entropy: &mut dyn Entropy,
    ) -> KeyFuture<'a, (SecretKey, WrappedKey)> {
        Box::pin(std::future::ready(
            self.wrap_new_key(dialogue, version, entropy),
        ))
    }

    fn unwrap_data_key<'a>(
        &'a self,
        dialogue: &'a DialogueId,
        version: u32,
        wrapped: &'a WrappedKey,
    ) -> KeyFuture<'a, SecretKey> {
        Box::pin(std::future::ready(
            self.unwrap_key(dialogue, version, wrapped),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::TestEntropy;

    fn hex(text: &str) -> Vec<u8> {
        let clean: String = text.chars().filter(|c| c.is_ascii_hexdigit()).collect();
        (0..clean.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&clean[i..i + 2], 16).unwrap())
            .collect()
    }

    /// The AEAD_XChaCha20_Poly1305 test vector of draft-irtf-cfrg-xchacha-03, appendix A.3.1.
    #[test]
    fn known_answer_from_the_xchacha_specification() {
        let plaintext = b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.";
        let aad = hex("50515253c0c1c2c3c4c5c6c7");
        let key = SecretKey::from_slice(&hex(
            "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f",
        ))
        .unwrap();
        let nonce: [u8; NONCE_LEN] = hex("404142434445464748494a4b4c4d4e4f5051525354555657")
            .try_into()
            .unwrap();
        let expected_ciphertext = hex(
            "bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb\
             731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452\
             2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9\
             21f9664c97637da9768812f615c68b13b52e",
        );
        let expected_tag = hex("c0875924c1c7987947deafd8780acf49");
        let sealed = seal_with_nonce(&key, nonce, &aad, plaintext);
        assert_eq!(
            sealed.ciphertext[..plaintext.len()],
            expected_ciphertext[..]
        );
        assert_eq!(sealed.ciphertext[plaintext.len()..], expected_tag[..]);
        assert_eq!(
            open_raw(&key, &nonce, &aad, &sealed.ciphertext).unwrap(),
            plaintext
        );
    }

    #[test]
    fn opening_fails_for_wrong_key_version_byte_or_address() {
        let mut entropy = TestEntropy::new(1);
        let key = SecretKey::generate(&mut entropy);
        let address = "dialogue:d/event:3/entity:perspective/P0101";
        let sealed = seal(&key, 1, address, b"{\"label\":\"x\"}", &mut entropy);
        assert!(open(&key, 1, address, &sealed).is_ok());

        let other_key = SecretKey::generate(&mut entropy);
        assert!(
            matches!(
                open(&other_key, 1, address, &sealed),
                Err(SealError::Open { .. })
            ),
            "wrong key"
        );
        assert!(
            matches!(
                open(&key, 2, address, &sealed),
                Err(SealError::Open { key_version: 2, .. })
            ),
            "wrong key version"
        );
        let mut flipped = sealed.clone();
        flipped.ciphertext[0] ^= 1;
        assert!(
            matches!(
                open(&key, 1, address, &flipped),
                Err(SealError::Open { .. })
            ),
            "flipped ciphertext byte"
        );
        for moved in [
            "dialogue:d/event:4/entity:perspective/P0101",
            "dialogue:d/event:3/entity:perspective/P0102",
            "dialogue:e/event:3/entity:perspective/P0101",
        ] {
            assert!(
                matches!(open(&key, 1, moved, &sealed), Err(SealError::Open { ref address, .. }) if address == moved),
                "moved to {moved}"
            );
        }
    }

    #[test]
    fn master_key_wraps_per_dialogue_and_version() {
        let mut entropy = TestEntropy::new(2);
        let master = MasterKey::new(SecretKey::generate(&mut entropy));
        let dialogue = DialogueId::parse("d").unwrap();
        let (key, wrapped) = master.wrap_new_key(&dialogue, 1, &mut entropy).unwrap();
        assert_eq!(master.unwrap_key(&dialogue, 1, &wrapped).unwrap(), key);
        assert!(matches!(
            master.unwrap_key(&dialogue, 2, &wrapped),
            Err(SealError::Unwrap { version: 2, .. })
        ));
        let other = DialogueId::parse("e").unwrap();
        assert!(matches!(
            master.unwrap_key(&other, 1, &wrapped),
            Err(SealError::Unwrap { ref dialogue, .. }) if dialogue == "e"
        ));
        let stranger = MasterKey::new(SecretKey::generate(&mut entropy));
        assert!(matches!(
            stranger.unwrap_key(&dialogue, 1, &wrapped),
            Err(SealError::Unwrap { .. })
        ));
    }
}
