//! Helpers shared by the integration tests: the built `dlg` binary and a throwaway data directory.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Path of the `dlg` binary, built once per test process with the workspace's cargo (so tests
/// never run a stale binary). `DLG_BIN` overrides it.
pub fn dlg_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("DLG_BIN") {
            return PathBuf::from(path);
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let output = std::process::Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "dlg-writer",
                "--bin",
                "dlg",
                "--message-format=json",
            ])
            .output()
            .unwrap_or_else(|e| panic!("cannot run cargo to build dlg: {e}"));
        assert!(
            output.status.success(),
            "building dlg failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .filter(|message| message["target"]["name"] == "dlg")
            .find_map(|message| message["executable"].as_str().map(PathBuf::from))
            .unwrap_or_else(|| panic!("cargo did not report the dlg executable"))
    })
}

/// A fresh data directory and a way to run `dlg` in it.
#[derive(Debug)]
pub struct Sandbox {
    pub home: tempfile::TempDir,
}

impl Default for Sandbox {
    fn default() -> Self {
        Self::new()
    }
}

impl Sandbox {
    /// A new, empty data directory.
    pub fn new() -> Self {
        Self {
            home: tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temp dir: {e}")),
        }
    }

    /// `dlg` with `DLG_HOME` set to the sandbox, a fixed actor, and no inherited store settings.
    pub fn dlg(&self) -> assert_cmd::Command {
        let mut command = assert_cmd::Command::new(dlg_bin());
        command
            .env("DLG_HOME", self.home.path())
            .env("DLG_ACTOR", "e2e-test")
            .env_remove("DLG_STORE")
            .env_remove("DLG_LOG");
        command
    }

    /// The SQLite file.
    pub fn database(&self) -> PathBuf {
        self.home.path().join("ledger.db")
    }

    /// The master key file.
    pub fn key_file(&self) -> PathBuf {
        self.home.path().join("master.key")
    }
}
