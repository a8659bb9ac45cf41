//! The local key files of a data directory, each 32 raw bytes, mode 0600, created atomically:
//! `master.key` (wraps every dialogue's data keys) and `signing.key` (the Ed25519 seed that signs
//! commits and checkpoints; ADR 0019 says why it is a key of its own).

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use dlg_core::seal::{Entropy as _, KEY_LEN, MasterKey, SecretKey};
use dlg_core::sign::LocalSigner;
use zeroize::Zeroizing;

use super::OsEntropy;

/// Problems with a local key file. Each names the file and says how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyFileError {
    /// The signing key is missing but this data directory has signed commits before.
    #[error(
        "the signing key file {path} is missing, but this data directory has signed commits before (its checkpoints are in {heads}): restore the file from your backup; to start a new key instead, move {heads} aside and pass the old public key to --trust"
    )]
    SigningKeyMissing { path: PathBuf, heads: PathBuf },
    /// The file is missing but the store holds dialogues sealed under it.
    #[error(
        "the master key file {path} is missing, but the store already holds dialogues sealed under it: restore the file from your backup (dlg never creates a new key over existing data)"
    )]
    Missing { path: PathBuf },
    /// The file is readable by others.
    #[error(
        "the key file {path} has mode {mode:o}; it must be readable by its owner only: run `chmod 600 {path}`"
    )]
    LooseMode { path: PathBuf, mode: u32 },
    /// The file is not 32 bytes.
    #[error(
        "the key file {path} is {length} bytes, not {KEY_LEN}: it is damaged or not a dlg key; restore it from your backup"
    )]
    Malformed { path: PathBuf, length: usize },
    /// The file could not be read or written.
    #[error("cannot use the key file {path}: {reason}")]
    Io { path: PathBuf, reason: String },
}

/// The signing key file in a data directory: `signing.key`, the 32-byte Ed25519 seed, mode 0600.
#[derive(Debug, Clone)]
pub struct SigningKeyFile {
    file: SecretFile,
}

impl SigningKeyFile {
    /// The signing key file of a data directory.
    pub fn in_dir(home: &Path) -> Self {
        Self {
            file: SecretFile {
                path: home.join("signing.key"),
            },
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// Loads the signer. A missing file is created with a fresh key if `may_create` (nothing
    /// was signed from this data directory yet); otherwise `missing` is the error.
    pub fn load(
        &self,
        may_create: bool,
        missing: impl FnOnce() -> KeyFileError,
    ) -> Result<LocalSigner, KeyFileError> {
        // The seed is a `SecretKey`, zeroed when dropped; the signer keeps its own copy.
        let seed = self.file.load(may_create, missing)?;
        Ok(LocalSigner::from_seed(
            seed.expose(),
            self.file.path.display().to_string(),
        ))
    }
}

/// A 32-byte secret in a file of its own, mode 0600.
#[derive(Debug, Clone)]
struct SecretFile {
    path: PathBuf,
}

/// The master key file in a data directory: `master.key`, 32 raw bytes, mode 0600.
#[derive(Debug, Clone)]
pub struct MasterKeyFile {
    file: SecretFile,
}

impl MasterKeyFile {
    /// The key file of a data directory.
    pub fn in_dir(home: &Path) -> Self {
        Self {
            file: SecretFile {
                path: home.join("master.key"),
            },
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.file.path
    }

    /// Whether the file exists (a keyless audit goes on without it).
    pub fn exists(&self) -> bool {
        self.file.path.exists()
    }

    /// Loads the key. When the file does not exist it is created with a fresh key if
    /// `may_create` (the store is empty), and refused otherwise.
    pub fn load(&self, may_create: bool) -> Result<MasterKey, KeyFileError> {
        let path = self.file.path.clone();
        let key = self
            .file
            .load(may_create, || KeyFileError::Missing { path })?;
        Ok(MasterKey::new(key))
    }
}

impl SecretFile {
    /// Reads the secret; a missing file is created if `may_create`, else `missing` is the error.
    fn load(
        &self,
        may_create: bool,
        missing: impl FnOnce() -> KeyFileError,
    ) -> Result<SecretKey, KeyFileError> {
        let io = |e: std::io::Error| KeyFileError::Io {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        // A FIFO or device in the key's place is refused without blocking on it.
        let mut file = match crate::files::open_regular(&self.path, crate::files::Links::Follow) {
            Ok(file) => file,
            Err(crate::files::FileError::Io {
                kind: std::io::ErrorKind::NotFound,
                ..
            }) => {
                return if may_create {
                    self.create(missing)
                } else {
                    Err(missing())
                };
            }
            Err(e) => {
                return Err(KeyFileError::Io {
                    path: self.path.clone(),
                    reason: e.to_string(),
                });
            }
        };
        let mode = file.metadata().map_err(io)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(KeyFileError::LooseMode {
                path: self.path.clone(),
                mode,
            });
        }
        // Zeroed when dropped, on every path out of here.
        let mut bytes = Zeroizing::new(Vec::with_capacity(KEY_LEN));
        Read::by_ref(&mut file)
            .take(KEY_LEN as u64 + 1)
            .read_to_end(&mut bytes)
            .map_err(io)?;
        SecretKey::from_slice(&bytes).map_err(|_| KeyFileError::Malformed {
            path: self.path.clone(),
            length: bytes.len(),
        })
    }

    fn create(&self, missing: impl FnOnce() -> KeyFileError) -> Result<SecretKey, KeyFileError> {
        let io = |e: std::io::Error| KeyFileError::Io {
            path: self.path.clone(),
            reason: e.to_string(),
        };
        let key = SecretKey::generate(&mut OsEntropy);
        // The key is written whole and synced under a temporary name, then linked into place.
        // A hard link never replaces an existing file, so of two processes starting at once
        // exactly one key wins, and a reader can never see a half-written `master.key`: the
        // loser drops its own key and reads the winner's, complete.
        let directory = self.path.parent().unwrap_or(Path::new("."));
        let mut suffix = [0u8; 8];
        OsEntropy.fill(&mut suffix);
        let name = self
            .path
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let temporary = directory.join(format!(
            ".{name}.{}.tmp",
            suffix
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ));
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&temporary)?;
            file.write_all(key.expose())?;
            file.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temporary);
            return Err(io(e));
        }
        let linked = std::fs::hard_link(&temporary, &self.path);
        let _ = std::fs::remove_file(&temporary);
        match linked {
            Ok(()) => {
                // The new name is durable once the directory is.
                if let Ok(dir) = File::open(directory) {
                    let _ = dir.sync_all();
                }
                Ok(key)
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => self.load(false, missing),
            Err(e) => Err(io(e)),
        }
    }
}
