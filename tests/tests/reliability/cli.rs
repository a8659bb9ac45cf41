//! A ledger driven through the `dlg` binary, as agent tooling drives it: a fresh data directory,
//! and fresh DynamoDB Local tables when the scenario runs on DynamoDB.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dlg_store::dynamodb::{DynamoConfig, DynamoStore};
use dlg_tests::Sandbox;
use serde_json::Value;

/// The backend a scenario runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// DynamoDB Local, with the graph kept by the stream runner (`dlg project`).
    Dynamodb,
}

/// One ledger: its data directory (master key, SQLite file) and, on DynamoDB, its table prefix.
pub struct Target {
    pub sandbox: Sandbox,
    pub backend: Backend,
    prefix: String,
    /// On DynamoDB, deletes the tables when the test ends.
    _tables: Option<dlg_tests::DropTables>,
}

/// A failed `dlg` run: its exit code and the error kind of its JSON body.
#[derive(Debug, Clone)]
pub struct Failed {
    pub code: Option<i32>,
    pub kind: String,
    pub stderr: String,
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?} ({}): {}",
            self.code,
            self.kind,
            self.stderr.trim()
        )
    }
}

impl Target {
    /// A fresh ledger; on DynamoDB its tables are created with `dlg init-tables`.
    pub fn new(backend: Backend, label: &str) -> Self {
        let prefix = dlg_tests::unique_prefix(label);
        let target = Self {
            sandbox: Sandbox::new(),
            backend,
            _tables: (backend == Backend::Dynamodb)
                .then(|| dlg_tests::DropTables::with_prefix(dlg_tests::shared_dynamodb(), &prefix)),
            prefix,
        };
        if backend == Backend::Dynamodb {
            target
                .json(&["init-tables"])
                .unwrap_or_else(|e| panic!("tables are created: {e}"));
        }
        target
    }

    /// `dlg` on this ledger (not yet run).
    pub fn dlg(&self) -> Command {
        let mut command = self.sandbox.process();
        if self.backend == Backend::Dynamodb {
            command
                .env("DLG_STORE", "dynamodb")
                .env("DLG_DYNAMODB_ENDPOINT", dlg_tests::shared_dynamodb())
                .env("DLG_TABLE_PREFIX", &self.prefix)
                .env("DLG_PROJECTOR", "stream");
        }
        command
    }

    /// Runs `dlg --json ARGS` to its end: stdout as JSON, or the failure.
    pub fn json(&self, args: &[&str]) -> Result<Value, Failed> {
        self.json_with(args, None)
    }

    /// [`Target::json`] with a request on stdin.
    pub fn json_with(&self, args: &[&str], stdin: Option<&Value>) -> Result<Value, Failed> {
        let mut command = self.dlg();
        command.arg("--json").args(args);
        let request = stdin.map(Value::to_string).unwrap_or_default();
        let output = run_with(command, request.as_bytes());
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if !output.status.success() {
            let kind = stderr
                .lines()
                .find_map(|line| serde_json::from_str::<Value>(line).ok())
                .and_then(|body| body["error"]["kind"].as_str().map(str::to_owned))
                .unwrap_or_else(|| "unreported".to_owned());
            return Err(Failed {
                code: output.status.code(),
                kind,
                stderr,
            });
        }
        serde_json::from_slice(&output.stdout).map_err(|e| Failed {
            code: output.status.code(),
            kind: format!("no JSON on stdout: {e}"),
            stderr,
        })
    }

    /// Projects what the events stream holds (DynamoDB; nothing to do on SQLite).
    pub fn project(&self) {
        if self.backend == Backend::Dynamodb {
            self.json(&["project", "--once"])
                .unwrap_or_else(|e| panic!("the stream runner projects: {e}"));
        }
    }

    /// The stored commits of `dialogue`: each commit's idempotency key (0 commits when the
    /// dialogue does not exist yet).
    pub fn keys(&self, dialogue: &str) -> Vec<Option<String>> {
        match self.json(&["log", dialogue]) {
            Ok(log) => log
                .as_array()
                .unwrap()
                .iter()
                .map(|entry| entry["idempotency_key"].as_str().map(str::to_owned))
                .collect(),
            Err(failed) if failed.kind == "not_found" => Vec::new(),
            Err(failed) => panic!("dlg log {dialogue}: {failed}"),
        }
    }

    /// Asserts that `dlg audit` finds nothing wrong with any dialogue (chain, sealed content,
    /// and the stored graph against the rebuild).
    pub fn assert_audit_clean(&self, context: &str) {
        let audit = self
            .json(&["audit"])
            .unwrap_or_else(|e| panic!("{context}: audit failed: {e}"));
        for report in audit.as_array().unwrap() {
            assert_eq!(
                report["problems"],
                serde_json::json!([]),
                "{context}: audit of {} found problems",
                report["dialogue"]
            );
        }
    }

    /// Items in the graph table (DynamoDB), for telling where a killed projection stopped.
    pub fn graph_items(&self) -> usize {
        assert_eq!(self.backend, Backend::Dynamodb);
        let config = DynamoConfig::with_prefix(
            Some(dlg_tests::shared_dynamodb().to_owned()),
            "us-east-1",
            &self.prefix,
        );
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let store = DynamoStore::connect(config).await;
            let pages = store
                .client()
                .scan()
                .table_name(&store.config().graph_table)
                .select(aws_sdk_dynamodb::types::Select::Count)
                .into_paginator()
                .send()
                .try_collect()
                .await
                .unwrap();
            pages.iter().map(|page| page.count() as usize).sum()
        })
    }
}

/// Runs `command` to its end with `stdin` as its input; its output.
pub fn run_with(mut command: Command, stdin: &[u8]) -> std::process::Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("dlg starts: {e}"));
    let mut input = child.stdin.take().unwrap();
    // A refused request may be answered before it is read to its end.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().unwrap()
}

/// How a killed run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Killed with SIGKILL at the chosen point.
    Killed,
    /// Exited by itself before that point, after this long.
    Exited(Duration),
}

/// Starts `command` and sends it SIGKILL `after` its start, unless it exits first.
pub fn kill_after(mut command: Command, after: Duration) -> Ended {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("dlg starts: {e}"));
    let start = Instant::now();
    let deadline = start + after;
    loop {
        if child.try_wait().unwrap().is_some() {
            return Ended::Exited(start.elapsed());
        }
        if Instant::now() >= deadline {
            // `Child::kill` is SIGKILL on Unix: no destructor, no flush, no rollback hook runs.
            child.kill().unwrap();
            child.wait().unwrap();
            return Ended::Killed;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// A folder holding `copies` copies of the sample archive's dialogue folder (`crash-0`, ...), or
/// `None` when `DLG_FIXTURES` is unset and `test` is skipped.
pub fn archive(copies: usize, test: &str) -> Option<tempfile::TempDir> {
    let fixtures = dlg_tests::fixtures("blue-dialogues", test)?;
    let sample = std::fs::read_dir(&fixtures)
        .unwrap_or_else(|e| panic!("the sample archive is at {}: {e}", fixtures.display()))
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("the sample archive holds a dialogue folder");
    let dir = tempfile::tempdir().unwrap();
    for copy in 0..copies {
        copy_dir(&sample, &dir.path().join(format!("crash-{copy}")));
    }
    Some(dir)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}
