//! Reading a dialogue folder: the files the planner looks at, as text, and the dialogue folders
//! under a path. The only part of the importer that touches the file system. An archive comes
//! from anywhere, so inside it no symbolic link is followed, only regular files are read (a FIFO
//! or device is skipped without blocking), no file is read past [`MAX_FILE_BYTES`], and every
//! file skipped is a warning in the import's report saying why.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dlg_core::ids::slugify;

use crate::ledger::LedgerError;

/// The files of one dialogue folder that the planner reads, as text (missing ones are `None`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Archive {
    pub folder: PathBuf,
    /// The folder's name: the stable part of the idempotency keys.
    pub name: String,
    /// `expert-pool.json`.
    pub pool: Option<String>,
    /// `tensions.md`.
    pub tensions: Option<String>,
    /// `scoreboard.md`.
    pub scoreboard: Option<String>,
    /// `verdict.md`.
    pub verdict: Option<String>,
    /// `round-N.summary.md`, by round.
    pub summaries: BTreeMap<u8, String>,
    /// The `round-N/` folders, by round.
    pub rounds: Vec<RoundFiles>,
    /// `file: message` for files that could not be used.
    pub warnings: Vec<String>,
}

/// One `round-N/` folder.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoundFiles {
    pub round: u8,
    /// `panel.json`.
    pub panel: Option<String>,
    /// The expert response files (`*.md` except prompts), by file name.
    pub responses: Vec<ResponseFile>,
}

/// One expert's response file of a round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseFile {
    /// The expert, from the file name.
    pub slug: String,
    /// `round-N/name.md`, for warnings.
    pub relative: String,
    /// The content (invalid UTF-8 replaced).
    pub text: String,
}

/// The largest archive file read: far above any response a commit can hold (400000 bytes).
pub const MAX_FILE_BYTES: u64 = 8 * 1024 * 1024;

/// Reads a file of the archive as text (invalid UTF-8 replaced). A missing file is `None`; a
/// file that is skipped is `None` and a warning.
fn read_text(path: &Path, warnings: &mut Vec<String>) -> Option<String> {
    use crate::files::{FileError, Links, read_regular};
    match read_regular(path, Links::Refuse, MAX_FILE_BYTES) {
        Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        Err(FileError::Io {
            kind: std::io::ErrorKind::NotFound,
            ..
        }) => None,
        Err(error) => {
            warnings.push(format!("{error}; skipped"));
            None
        }
    }
}

/// Whether a directory entry is a real folder (a symbolic link to one is not).
fn is_real_dir(entry: &std::fs::DirEntry) -> bool {
    entry.file_type().is_ok_and(|t| t.is_dir())
}

/// Whether a folder looks like one dialogue (has `round-N/` folders or an expert pool).
pub fn is_dialogue_folder(path: &Path) -> bool {
    path.join("expert-pool.json").is_file() || round_dirs(path).next().is_some()
}

fn round_dirs(folder: &Path) -> impl Iterator<Item = (u8, PathBuf)> {
    let mut rounds: Vec<(u8, PathBuf)> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .filter(is_real_dir)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let round = name.strip_prefix("round-")?.parse().ok()?;
            Some((round, e.path()))
        })
        .collect();
    rounds.sort();
    rounds.into_iter()
}

/// A warning for each `round-N` entry that is a symbolic link: it is not followed.
fn linked_round_dirs(folder: &Path) -> Vec<String> {
    let mut warnings: Vec<String> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_symlink()))
        .filter(|e| e.file_name().to_string_lossy().starts_with("round-"))
        .map(|e| {
            crate::files::FileError::Symlink {
                path: e.path().display().to_string(),
            }
            .to_string()
                + "; skipped"
        })
        .collect();
    warnings.sort();
    warnings
}

/// The dialogue folders under `path`: itself, or its subfolders that are dialogues.
pub fn dialogue_folders(path: &Path) -> Vec<PathBuf> {
    if is_dialogue_folder(path) {
        return vec![path.to_owned()];
    }
    let mut folders: Vec<PathBuf> = std::fs::read_dir(path)
        .into_iter()
        .flatten()
        .flatten()
        .filter(is_real_dir)
        .map(|e| e.path())
        .filter(|p| is_dialogue_folder(p))
        .collect();
    folders.sort();
    folders
}

/// Reads the files of the dialogue folder `folder`.
pub fn read(folder: &Path) -> Result<Archive, LedgerError> {
    let name = folder
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| LedgerError::Request(format!("{} is not a folder", folder.display())))?;
    let mut warnings = Vec::new();
    let mut summary_files: Vec<(u8, PathBuf)> = std::fs::read_dir(folder)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            let round = file
                .strip_prefix("round-")?
                .strip_suffix(".summary.md")?
                .parse()
                .ok()?;
            Some((round, e.path()))
        })
        .collect();
    summary_files.sort();
    let mut summaries = BTreeMap::new();
    for (round, path) in summary_files {
        if let Some(text) = read_text(&path, &mut warnings) {
            summaries.insert(round, text);
        }
    }
    warnings.extend(linked_round_dirs(folder));
    let mut rounds = Vec::new();
    for (round, dir) in round_dirs(folder) {
        let panel = read_text(&dir.join("panel.json"), &mut warnings);
        let responses = responses(round, &dir, &mut warnings);
        rounds.push(RoundFiles {
            round,
            panel,
            responses,
        });
    }
    let mut file = |name: &str| read_text(&folder.join(name), &mut warnings);
    let pool = file("expert-pool.json");
    let tensions = file("tensions.md");
    let scoreboard = file("scoreboard.md");
    let verdict = file("verdict.md");
    Ok(Archive {
        folder: folder.to_owned(),
        name,
        pool,
        tensions,
        scoreboard,
        verdict,
        summaries,
        rounds,
        warnings,
    })
}

/// The response files of one round folder, in file-name order.
fn responses(round: u8, dir: &Path, warnings: &mut Vec<String>) -> Vec<ResponseFile> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .filter(|p| !p.to_string_lossy().ends_with(".prompt.md"))
        .collect();
    files.sort();
    let mut responses = Vec::new();
    for file in files {
        let stem = file
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        let Some(slug) = slugify(&stem) else {
            warnings.push(format!(
                "{}: no expert name in the file name; skipped",
                file.display()
            ));
            continue;
        };
        let Some(text) = read_text(&file, warnings) else {
            continue;
        };
        let relative = format!(
            "round-{round}/{}",
            file.file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default()
        );
        responses.push(ResponseFile {
            slug,
            relative,
            text,
        });
    }
    responses
}
