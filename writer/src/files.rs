//! Reading files a user or an archive names, without being fooled by them: only regular files
//! (a FIFO, a device or a socket is refused without blocking, since the file is opened
//! non-blocking and checked before a byte is read), symlinks followed only where the caller
//! allows it, and never more than a limit read into memory.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Why a file was not read.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// Not a regular file (a FIFO, device, socket or folder).
    #[error("{path} is a {kind}, not a regular file: give a regular file")]
    NotRegular { path: String, kind: &'static str },
    /// A symbolic link where none is followed.
    #[error("{path} is a symbolic link, which is not followed: give the file itself")]
    Symlink { path: String },
    /// Larger than the limit.
    #[error("{path} is larger than the limit of {limit} bytes ({size})")]
    TooLarge {
        path: String,
        size: String,
        limit: u64,
    },
    /// The file could not be opened or read.
    #[error("cannot read {path}: {reason}")]
    Io {
        path: String,
        reason: String,
        kind: std::io::ErrorKind,
    },
}

/// Whether symbolic links on the last component are followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    Follow,
    Refuse,
}

fn shown(path: &Path) -> String {
    dlg_core::text::line(&path.display().to_string()).into_owned()
}

/// What kind of file a type is, for messages.
pub fn kind_of(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "folder"
    } else if file_type.is_fifo() {
        "FIFO (named pipe)"
    } else if file_type.is_char_device() || file_type.is_block_device() {
        "device"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_symlink() {
        "symbolic link"
    } else if file_type.is_file() {
        "regular file"
    } else {
        "special file"
    }
}

/// Opens `path` for reading if it is a regular file, without blocking on a FIFO or device.
pub fn open_regular(path: &Path, links: Links) -> Result<File, FileError> {
    let mut flags = libc::O_NONBLOCK;
    if links == Links::Refuse {
        flags |= libc::O_NOFOLLOW;
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags)
        .open(path)
        .map_err(|e| {
            if links == Links::Refuse && e.raw_os_error() == Some(libc::ELOOP) {
                FileError::Symlink { path: shown(path) }
            } else {
                FileError::Io {
                    path: shown(path),
                    reason: e.to_string(),
                    kind: e.kind(),
                }
            }
        })?;
    let file_type = file
        .metadata()
        .map_err(|e| FileError::Io {
            path: shown(path),
            reason: e.to_string(),
            kind: e.kind(),
        })?
        .file_type();
    if !file_type.is_file() {
        return Err(FileError::NotRegular {
            path: shown(path),
            kind: kind_of(file_type),
        });
    }
    Ok(file)
}

/// Reads all of `reader`, or fails as soon as it holds more than `limit` bytes (so an endless
/// stream costs at most `limit` bytes of memory). `source` names it in the error.
pub fn read_capped(reader: impl Read, limit: u64, source: &str) -> Result<Vec<u8>, FileError> {
    let mut bytes = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::Io {
            path: source.to_owned(),
            reason: e.to_string(),
            kind: e.kind(),
        })?;
    if bytes.len() as u64 > limit {
        return Err(FileError::TooLarge {
            path: source.to_owned(),
            size: format!("more than {limit} bytes"),
            limit,
        });
    }
    Ok(bytes)
}

/// Reads the regular file `path`, refusing it unread when its size is over `limit`.
pub fn read_regular(path: &Path, links: Links, limit: u64) -> Result<Vec<u8>, FileError> {
    let file = open_regular(path, links)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    if size > limit {
        return Err(FileError::TooLarge {
            path: shown(path),
            size: format!("{size} bytes"),
            limit,
        });
    }
    read_capped(file, limit, &shown(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_fifos_symlinks_and_large_files_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(
            std::process::Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        assert!(matches!(
            read_regular(&fifo, Links::Follow, 10),
            Err(FileError::NotRegular { .. })
        ));
        let file = dir.path().join("file");
        std::fs::write(&file, b"0123456789!").unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(matches!(
            read_regular(&link, Links::Refuse, 100),
            Err(FileError::Symlink { .. })
        ));
        assert_eq!(read_regular(&link, Links::Follow, 100).unwrap().len(), 11);
        assert!(matches!(
            read_regular(&file, Links::Follow, 10),
            Err(FileError::TooLarge { .. })
        ));
        assert!(matches!(
            read_capped(std::io::repeat(b'y'), 1000, "stdin"),
            Err(FileError::TooLarge { .. })
        ));
        assert!(matches!(
            read_regular(Path::new("/dev/null"), Links::Follow, 10),
            Err(FileError::NotRegular { kind: "device", .. })
        ));
    }
}
