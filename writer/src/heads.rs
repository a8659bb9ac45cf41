//! The writer's high-water marks: for each dialogue it appended to, the digest of the last commit
//! it wrote (`dialogue@commit:hash`, the form `dlg digest` prints), kept outside the store it writes (in the data directory, `DLG_HOME`,
//! mode 0700), so someone who can rewrite the store cannot also move the writer's memory back.
//! Before each append the writer compares the store with its mark and refuses a store that is
//! behind it (rolled back, truncated, the dialogue deleted) or that forked from it.
//!
//! One folder per store (`heads/sqlite`, `heads/dynamodb-{events table}`), one file per dialogue
//! (`{dialogue}.head`, one line). The mark needs no signature of its own: the commit it names is
//! signed, and the folder is the writer's own. Updates are atomic (a temporary
//! file renamed into place) and monotonic (under an exclusive lock, a mark only moves forward).

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use dlg_core::ids::DialogueId;

use dlg_core::chain::Digest;

/// The high-water marks of one store.
#[derive(Debug, Clone)]
pub struct Heads {
    dir: PathBuf,
}

/// Why the marks could not be read or written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the writer's high-water mark {path}: {reason}")]
pub struct HeadsError {
    pub path: PathBuf,
    pub reason: String,
}

impl Heads {
    /// The marks of the store named `scope` in the data directory `home`.
    pub fn in_home(home: &Path, scope: &str) -> Self {
        Self {
            dir: home.join("heads").join(scope),
        }
    }

    /// The folder holding every store's marks in a data directory.
    pub fn root(home: &Path) -> PathBuf {
        home.join("heads")
    }

    /// The folder of this store's marks.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, dialogue: &DialogueId) -> PathBuf {
        self.dir.join(format!("{dialogue}.head"))
    }

    fn error(path: &Path, reason: impl ToString) -> HeadsError {
        HeadsError {
            path: path.to_owned(),
            reason: reason.to_string(),
        }
    }

    /// The mark of a dialogue, if this writer ever appended to it.
    pub fn get(&self, dialogue: &DialogueId) -> Result<Option<Digest>, HeadsError> {
        let path = self.path(dialogue);
        let mut file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Self::error(&path, e)),
        };
        let mut text = String::new();
        std::io::Read::by_ref(&mut file)
            .take(1024)
            .read_to_string(&mut text)
            .map_err(|e| Self::error(&path, e))?;
        let mark: Digest = text.parse().map_err(|e: String| Self::error(&path, e))?;
        if &mark.dialogue != dialogue {
            return Err(Self::error(
                &path,
                format!("it is the mark of `{}`", mark.dialogue),
            ));
        }
        Ok(Some(mark))
    }

    /// Every dialogue with a mark, in id order.
    pub fn dialogues(&self) -> Result<Vec<DialogueId>, HeadsError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Self::error(&self.dir, e)),
        };
        let mut dialogues: Vec<DialogueId> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                DialogueId::parse(name.strip_suffix(".head")?).ok()
            })
            .collect();
        dialogues.sort();
        Ok(dialogues)
    }

    /// Whether this writer ever recorded a mark in the data directory (for any store).
    pub fn any_in(home: &Path) -> bool {
        let Ok(stores) = std::fs::read_dir(Self::root(home)) else {
            return false;
        };
        stores.filter_map(Result::ok).any(|store| {
            std::fs::read_dir(store.path())
                .map(|mut marks| {
                    marks.any(|m| {
                        m.is_ok_and(|m| m.file_name().to_string_lossy().ends_with(".head"))
                    })
                })
                .unwrap_or(false)
        })
    }

    /// Records `mark` as the dialogue's high-water mark, unless it already stands at a later
    /// commit.
    pub fn advance(&self, mark: &Digest) -> Result<(), HeadsError> {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| Self::error(&self.dir, e))?;
        let lock_path = self.dir.join(".lock");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| Self::error(&lock_path, e))?;
        // Held until `lock` drops: concurrent writers on this machine advance one at a time.
        lock.lock().map_err(|e| Self::error(&lock_path, e))?;
        if let Some(current) = self.get(&mark.dialogue)?
            && current.commit >= mark.commit
        {
            return Ok(());
        }
        let path = self.path(&mark.dialogue);
        let temporary = self.dir.join(format!(".{}.head.tmp", mark.dialogue));
        let written = (|| {
            let mut file = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&temporary)?;
            writeln!(file, "{mark}")?;
            file.sync_all()?;
            std::fs::rename(&temporary, &path)?;
            File::open(&self.dir)?.sync_all()
        })();
        written.map_err(|e| Self::error(&path, e))
    }
}
