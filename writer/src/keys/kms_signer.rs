//! The AWS KMS commit signer: an asymmetric `ECC_NIST_EDWARDS25519` key that signs with
//! `ED25519_SHA_512` over the raw message (pure Ed25519, the same signatures a local key makes).
//! The private key never leaves KMS; the writer's policy alone grants `kms:Sign` on it.

use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use dlg_core::sign::{PublicKey, SignError, SignFuture, Signature, Signer};

/// The DER prefix of an Ed25519 SubjectPublicKeyInfo (RFC 8410): the 32-byte key follows.
const ED25519_SPKI_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Where the signing key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsSignerConfig {
    /// Key id, key ARN or alias ARN of an `ECC_NIST_EDWARDS25519` key with usage `SIGN_VERIFY`.
    pub key_id: String,
    /// AWS region.
    pub region: String,
    /// A KMS-compatible endpoint URL (a local test server); `None` is AWS's regional endpoint.
    pub endpoint: Option<String>,
}

/// A signer whose key lives in KMS; its public key is read once, when it connects.
#[derive(Debug, Clone)]
pub struct KmsSigner {
    client: Client,
    config: KmsSignerConfig,
    public_key: PublicKey,
}

impl KmsSigner {
    /// Builds the client and reads the key's public half (`GetPublicKey`).
    pub async fn connect(config: KmsSignerConfig) -> Result<Self, SignError> {
        let sdk = dlg_store::aws::sdk_config(&config.region, config.endpoint.as_deref()).await;
        Self::with_client(Client::new(&sdk), config).await
    }

    /// The signer over a client built elsewhere (with an interceptor, say).
    pub async fn with_client(client: Client, config: KmsSignerConfig) -> Result<Self, SignError> {
        let describe = describe(&config);
        let answer = client
            .get_public_key()
            .key_id(&config.key_id)
            .send()
            .await
            .map_err(|e| refusal(&describe, "read its public key", e))?;
        let der = answer.public_key.map(Blob::into_inner).unwrap_or_default();
        let key = ed25519_of_spki(&der).ok_or_else(|| {
            SignError::Service(format!(
                "{describe} is not an Ed25519 signing key (key spec {}): create it with key spec ECC_NIST_EDWARDS25519 and usage SIGN_VERIFY",
                answer
                    .key_spec
                    .as_ref()
                    .map_or("not given", |spec| spec.as_str())
            ))
        })?;
        Ok(Self {
            client,
            config,
            public_key: PublicKey::from_bytes(key),
        })
    }

    async fn sign_message(&self, message: &[u8]) -> Result<Signature, SignError> {
        let describe = describe(&self.config);
        let answer = self
            .client
            .sign()
            .key_id(&self.config.key_id)
            .message(Blob::new(message.to_vec()))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::Ed25519Sha512)
            .send()
            .await
            .map_err(|e| refusal(&describe, "sign", e))?;
        let signature = answer.signature.map(Blob::into_inner).unwrap_or_default();
        signature.try_into().map_err(|bytes: Vec<u8>| {
            SignError::Service(format!(
                "{describe} answered a signature of {} bytes, not an Ed25519 signature of 64",
                bytes.len()
            ))
        })
    }
}

/// The raw Ed25519 public key of a DER SubjectPublicKeyInfo, or `None` for any other key.
fn ed25519_of_spki(der: &[u8]) -> Option<[u8; 32]> {
    der.strip_prefix(&ED25519_SPKI_PREFIX[..])?.try_into().ok()
}

fn describe(config: &KmsSignerConfig) -> String {
    match &config.endpoint {
        Some(endpoint) => format!("KMS signing key {} at {endpoint}", config.key_id),
        None => format!("AWS KMS signing key {} ({})", config.key_id, config.region),
    }
}

/// What the user must know about a refused or failed KMS call.
fn refusal<E, R>(key: &str, action: &str, error: SdkError<E, R>) -> SignError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug + 'static,
{
    let detail = match error.message() {
        Some(message) if !message.trim().is_empty() => format!(" ({})", message.trim()),
        _ => String::new(),
    };
    SignError::Service(match error.code() {
        Some("AccessDeniedException") => format!(
            "{key} denied the request to {action}{detail}: only the stack's writer policy may sign (see docs/deploy.md)"
        ),
        Some("NotFoundException") => format!(
            "{key} does not exist{detail}: set --signing-kms-key / DLG_SIGNING_KMS_KEY to the signing key ARN from the stack's outputs"
        ),
        Some("InvalidKeyUsageException" | "UnsupportedOperationException") => format!(
            "{key} cannot {action}{detail}: it must be an ECC_NIST_EDWARDS25519 key with usage SIGN_VERIFY"
        ),
        Some("DisabledException" | "KMSInvalidStateException" | "KeyUnavailableException") => {
            format!("{key} cannot be used now{detail}: enable the key and retry")
        }
        Some(code) => format!("{key} refused to {action}: {code}{detail}"),
        None => format!(
            "cannot reach {key} to {action} ({}); check the network, --region and --kms-endpoint, then retry",
            dlg_store::aws::root_cause(&error)
        ),
    })
}

impl Signer for KmsSigner {
    fn public_key(&self) -> PublicKey {
        self.public_key
    }

    fn source(&self) -> String {
        describe(&self.config)
    }

    fn sign<'a>(&'a self, message: &'a [u8]) -> SignFuture<'a> {
        Box::pin(self.sign_message(message))
    }
}

#[cfg(test)]
mod tests {
    use super::ed25519_of_spki;

    /// RFC 8032's first test key, as OpenSSL writes its public half
    /// (`openssl pkey -pubout -outform DER`), and a P-256 SubjectPublicKeyInfo's opening.
    #[test]
    fn reads_ed25519_public_keys_only() {
        let der = hex(
            "302a300506032b6570032100d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
        );
        assert_eq!(
            ed25519_of_spki(&der).map(|key| key.to_vec()),
            Some(hex(
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
            ))
        );
        assert_eq!(ed25519_of_spki(&der[..der.len() - 1]), None, "short");
        assert_eq!(
            ed25519_of_spki(&[der.as_slice(), &[0]].concat()),
            None,
            "long"
        );
        let p256 = hex("3059301306072a8648ce3d020106082a8648ce3d030107034200");
        assert_eq!(ed25519_of_spki(&p256), None);
        assert_eq!(ed25519_of_spki(&[]), None);
    }

    fn hex(text: &str) -> Vec<u8> {
        (0..text.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
            .collect()
    }
}
