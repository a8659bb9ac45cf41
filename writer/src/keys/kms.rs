//! The AWS KMS master key provider: each dialogue's data key comes from `GenerateDataKey` and is
//! recovered with `Decrypt`, both under the encryption context `{dialogue, key_version}`, so a
//! wrapped key moved to another dialogue or version is refused by KMS itself. The master key
//! never leaves KMS; access to it is governed by IAM (the stack's writer and auditor policies).

use std::collections::HashMap;

use aws_sdk_kms::Client;
use aws_sdk_kms::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use dlg_core::ids::DialogueId;
use dlg_core::seal::{Entropy, KEY_LEN, KeyFuture, KeyProvider, SealError, SecretKey, WrappedKey};

/// Where the KMS key is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsConfig {
    /// Key id, key ARN or alias ARN (`alias/…` works within the account and region).
    pub key_id: String,
    /// AWS region.
    pub region: String,
    /// A KMS-compatible endpoint URL (a local test server); `None` is AWS's regional endpoint.
    pub endpoint: Option<String>,
}

/// The KMS provider: a client built once and the key it wraps under.
#[derive(Debug, Clone)]
pub struct KmsKeys {
    client: Client,
    config: KmsConfig,
}

/// The encryption context that binds a wrapped data key to its dialogue and version.
pub fn encryption_context(dialogue: &DialogueId, version: u32) -> HashMap<String, String> {
    HashMap::from([
        ("dialogue".to_owned(), dialogue.to_string()),
        ("key_version".to_owned(), version.to_string()),
    ])
}

impl KmsKeys {
    /// Provider name recorded in [`WrappedKey::provider`].
    pub const PROVIDER: &'static str = "kms";

    /// Builds the client (credentials from the default chain; static local ones against an
    /// endpoint URL when none are set).
    pub async fn connect(config: KmsConfig) -> Self {
        let sdk = dlg_store::aws::sdk_config(&config.region, config.endpoint.as_deref()).await;
        Self::with_client(Client::new(&sdk), config)
    }

    /// The provider over a client built elsewhere (with an interceptor, say).
    pub fn with_client(client: Client, config: KmsConfig) -> Self {
        Self { client, config }
    }

    /// Names the key in messages: `AWS KMS key {id}` (and the endpoint when not AWS's).
    pub fn describe(&self) -> String {
        match &self.config.endpoint {
            Some(endpoint) => format!("KMS key {} at {endpoint}", self.config.key_id),
            None => format!(
                "AWS KMS key {} ({})",
                self.config.key_id, self.config.region
            ),
        }
    }

    async fn generate(
        &self,
        dialogue: &DialogueId,
        version: u32,
    ) -> Result<(SecretKey, WrappedKey), SealError> {
        let answer = self
            .client
            .generate_data_key()
            .key_id(&self.config.key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(encryption_context(dialogue, version)))
            .send()
            .await
            .map_err(|e| self.refusal("generate a data key", dialogue, version, e))?;
        let plaintext = answer.plaintext.map(Blob::into_inner).unwrap_or_default();
        let key = self.data_key(plaintext)?;
        let bytes = answer
            .ciphertext_blob
            .map(Blob::into_inner)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| {
                SealError::Provider(format!(
                    "{} answered GenerateDataKey without a ciphertext blob",
                    self.describe()
                ))
            })?;
        Ok((
            key,
            WrappedKey {
                provider: Self::PROVIDER.to_owned(),
                bytes,
            },
        ))
    }

    async fn decrypt(
        &self,
        dialogue: &DialogueId,
        version: u32,
        wrapped: &WrappedKey,
    ) -> Result<SecretKey, SealError> {
        if wrapped.provider != Self::PROVIDER {
            return Err(SealError::Provider(format!(
                "the data key of dialogue `{dialogue}` (version {version}) was wrapped by the `{}` provider, not by KMS: open this store with the master key it was written with (unset DLG_KMS_KEY / --kms-key for a local key file)",
                wrapped.provider
            )));
        }
        let answer = self
            .client
            .decrypt()
            .key_id(&self.config.key_id)
            .ciphertext_blob(Blob::new(wrapped.bytes.clone()))
            .set_encryption_context(Some(encryption_context(dialogue, version)))
            .send()
            .await
            .map_err(|e| self.refusal("decrypt a data key", dialogue, version, e))?;
        self.data_key(answer.plaintext.map(Blob::into_inner).unwrap_or_default())
    }

    fn data_key(&self, mut plaintext: Vec<u8>) -> Result<SecretKey, SealError> {
        let key = SecretKey::from_slice(&plaintext).map_err(|_| {
            SealError::Provider(format!(
                "{} returned a data key of {} bytes, not {KEY_LEN}",
                self.describe(),
                plaintext.len()
            ))
        });
        plaintext.fill(0);
        key
    }

    /// Turns a KMS error into what the user must know: a wrapped key that does not decrypt under
    /// this key and context is [`SealError::Unwrap`]; everything else says what to fix.
    fn refusal<E, R>(
        &self,
        action: &str,
        dialogue: &DialogueId,
        version: u32,
        error: SdkError<E, R>,
    ) -> SealError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug + 'static,
    {
        let key = self.describe();
        let detail = match error.message() {
            Some(message) if !message.trim().is_empty() => format!(" ({})", message.trim()),
            _ => String::new(),
        };
        match error.code() {
            Some("InvalidCiphertextException" | "IncorrectKeyException") => SealError::Unwrap {
                dialogue: dialogue.to_string(),
                version,
            },
            Some("AccessDeniedException") => SealError::Provider(format!(
                "{key} denied the request to {action}{detail}: either this identity may not use the key (give it the stack's writer policy to append, or its auditor policy to read; see docs/deploy.md) or dialogue `{dialogue}` was written with another KMS key (set --kms-key / DLG_KMS_KEY to that one)"
            )),
            Some("NotFoundException") => SealError::Provider(format!(
                "{key} does not exist{detail}: set --kms-key / DLG_KMS_KEY to the key ARN from the stack's outputs (and --region to its region)"
            )),
            Some("DisabledException" | "KMSInvalidStateException" | "KeyUnavailableException") => {
                SealError::Provider(format!(
                    "{key} cannot be used now{detail}: enable the key (or cancel its pending deletion) and retry"
                ))
            }
            Some(code) => SealError::Provider(format!(
                "{key} refused to {action} for dialogue `{dialogue}` (version {version}): {code}{detail}"
            )),
            None => SealError::Provider(format!(
                "cannot reach {key} to {action} ({}); check the network, --region, and --kms-endpoint / DLG_KMS_ENDPOINT, then retry",
                dlg_store::aws::root_cause(&error)
            )),
        }
    }
}

impl KeyProvider for KmsKeys {
    fn new_data_key<'a>(
        &'a self,
        dialogue: &'a DialogueId,
        version: u32,
        _entropy: &mut dyn Entropy,
    ) -> KeyFuture<'a, (SecretKey, WrappedKey)> {
        Box::pin(self.generate(dialogue, version))
    }

    fn unwrap_data_key<'a>(
        &'a self,
        dialogue: &'a DialogueId,
        version: u32,
        wrapped: &'a WrappedKey,
    ) -> KeyFuture<'a, SecretKey> {
        Box::pin(self.decrypt(dialogue, version, wrapped))
    }
}
