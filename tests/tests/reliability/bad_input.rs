//! Bad input of every kind, as a table: each row is a malformed request, id, size, encoding,
//! key or endpoint given to `dlg` on a ledger holding a recorded dialogue. Every row must fail
//! with its exit code and error kind, say what is wrong (the message holds the row's fragment),
//! and leave the stored commits exactly as they were.
//!
//! The table in docs/reliability.md ("Bad input") is this test's output: the test fails when the
//! page differs, and `DLG_UPDATE_DOCS=1` rewrites the page's table from the run.

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Output};

use dlg_tests::Sandbox;
use serde_json::{Value, json};

use crate::cli::run_with;

const DIALOGUE: &str = "pm-repo-sync";

/// One row: what is given, and what the user must get.
struct Row {
    category: &'static str,
    input: &'static str,
    /// Prepares the sandbox (a recorded dialogue) and returns the command and its stdin.
    given: fn(&Sandbox) -> (Command, Vec<u8>),
    code: i32,
    kind: &'static str,
    says: &'static str,
}

fn dlg(sandbox: &Sandbox, args: &[&str]) -> Command {
    let mut command = sandbox.process();
    command.arg("--json").args(args);
    command
}

fn round(sandbox: &Sandbox, stdin: &[u8]) -> (Command, Vec<u8>) {
    (dlg(sandbox, &["round", DIALOGUE]), stdin.to_vec())
}

fn dynamodb(sandbox: &Sandbox, endpoint: &str, prefix: &str, args: &[&str]) -> Command {
    let mut command = dlg(sandbox, args);
    command
        .env("DLG_STORE", "dynamodb")
        .env("DLG_DYNAMODB_ENDPOINT", endpoint)
        .env("DLG_TABLE_PREFIX", prefix)
        // Fail fast against a dead endpoint (the SDK's own retries still apply).
        .env("AWS_MAX_ATTEMPTS", "2");
    command
}

fn dead_endpoint() -> String {
    format!("http://127.0.0.1:{}", dlg_tests::free_port())
}

/// Flips one bit in the middle of stored commit `number` (below the ledger, as storage rot or
/// an attacker would).
fn flip_a_byte(sandbox: &Sandbox, number: u64) {
    let db = rusqlite::Connection::open(sandbox.database()).unwrap();
    let sk = format!("C#{number:010}");
    let mut bytes: Vec<u8> = db
        .query_row(
            "SELECT commit_bytes FROM events WHERE sk = ?1",
            [&sk],
            |r| r.get(0),
        )
        .unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    db.execute(
        "UPDATE events SET commit_bytes = ?1 WHERE sk = ?2",
        rusqlite::params![bytes, sk],
    )
    .unwrap();
}

fn mkfifo(path: &std::path::Path) {
    let made = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(made.success(), "mkfifo {}", path.display());
}

fn set_key_mode(sandbox: &Sandbox, mode: u32) {
    std::fs::set_permissions(sandbox.key_file(), std::fs::Permissions::from_mode(mode)).unwrap();
}

fn rows() -> Vec<Row> {
    vec![
        // JSON
        row(
            "JSON",
            "a truncated request",
            3,
            "malformed_request",
            "EOF while parsing",
            |s| round(s, br#"{"round": 2,"#),
        ),
        row(
            "JSON",
            "an unknown field (a typo)",
            3,
            "malformed_request",
            "unknown field `perspectivs`",
            |s| round(s, br#"{"round": 2, "perspectivs": []}"#),
        ),
        row(
            "JSON",
            "a field of the wrong type",
            3,
            "malformed_request",
            "invalid type",
            |s| round(s, br#"{"round": "two"}"#),
        ),
        row(
            "JSON",
            "an array where an object is expected",
            3,
            "malformed_request",
            "invalid type",
            |s| round(s, b"[1, 2]"),
        ),
        row(
            "JSON",
            "an empty request",
            3,
            "malformed_request",
            "EOF while parsing",
            |s| round(s, b""),
        ),
        row(
            "JSON",
            "a number out of range (round 300)",
            3,
            "malformed_request",
            "300",
            |s| round(s, br#"{"round": 300}"#),
        ),
        row(
            "JSON",
            "a request file that does not exist",
            1,
            "io",
            "cannot read request file",
            |s| {
                let missing = s.home.path().join("missing.json");
                (
                    dlg(s, &["round", DIALOGUE, missing.to_str().unwrap()]),
                    Vec::new(),
                )
            },
        ),
        // Encodings
        row(
            "encoding",
            "bytes that are not UTF-8",
            3,
            "malformed_request",
            "unicode",
            |s| round(s, b"{\"round\": 2, \"title\": \"\xff\xfe\"}"),
        ),
        row(
            "encoding",
            "a lone UTF-16 surrogate escape",
            3,
            "malformed_request",
            "hex escape",
            |s| round(s, br#"{"round": 2, "title": "\ud800"}"#),
        ),
        // Ids
        row(
            "ids",
            "an unknown dialogue",
            4,
            "not_found",
            "no-such-dialogue",
            |s| {
                (
                    dlg(s, &["round", "no-such-dialogue"]),
                    br#"{"round": 2}"#.to_vec(),
                )
            },
        ),
        row(
            "ids",
            "a dialogue id that is not a slug",
            4,
            "not_found",
            "Not A Slug",
            |s| (dlg(s, &["show", "Not A Slug"]), Vec::new()),
        ),
        row("ids", "an unknown entity", 4, "not_found", "P0999", |s| {
            (dlg(s, &["graph", DIALOGUE, "P0999"]), Vec::new())
        }),
        row(
            "ids",
            "a reference to an entity that does not exist",
            3,
            "target_not_found",
            "T0099",
            |s| {
                round(s, br#"{"round": 2, "perspectives": [{"id": "MUFFIN-P0201", "label": "x", "references": [{"type": "resolve", "target": "T0099"}]}]}"#)
            },
        ),
        row(
            "ids",
            "a local id of the wrong kind",
            3,
            "type_id_mismatch",
            "MUFFIN-T0201",
            |s| {
                round(
                    s,
                    br#"{"round": 2, "perspectives": [{"id": "MUFFIN-T0201", "label": "x"}]}"#,
                )
            },
        ),
        row(
            "ids",
            "an expert not on the panel",
            3,
            "unknown_expert",
            "muffn",
            |s| {
                round(
                    s,
                    br#"{"round": 2, "perspectives": [{"id": "MUFFN-P0201", "label": "x"}]}"#,
                )
            },
        ),
        // Sizes
        row(
            "sizes",
            "a batch over the 400,000-byte commit limit",
            3,
            "too_large",
            "split the batch",
            |s| {
                let big = "x".repeat(20_000);
                let perspectives: Vec<Value> = (1..=30)
                .map(|i| json!({"id": format!("MUFFIN-P02{i:02}"), "label": "big", "content": big}))
                .collect();
                let request = json!({"round": 2, "perspectives": perspectives});
                round(s, request.to_string().as_bytes())
            },
        ),
        row(
            "sizes",
            "100 perspectives in one round (99 is the most)",
            3,
            "too_many_entities",
            "at most 99",
            |s| {
                let perspectives: Vec<Value> = (1..=100)
                    .map(|i| json!({"id": format!("MUFFIN-P{i:04}"), "label": "many"}))
                    .collect();
                round(
                    s,
                    json!({"round": 2, "perspectives": perspectives})
                        .to_string()
                        .as_bytes(),
                )
            },
        ),
        row(
            "sizes",
            "an idempotency key of 1,000 characters",
            3,
            "invalid_input",
            "1 to 200 bytes",
            |s| {
                let key = "k".repeat(1000);
                let mut command = dlg(s, &["round", DIALOGUE]);
                command.args(["--idempotency-key", &key]);
                (command, br#"{"round": 2}"#.to_vec())
            },
        ),
        // Headers and retries
        row(
            "headers",
            "a time that is not RFC 3339 UTC",
            3,
            "invalid_input",
            "RFC 3339",
            |s| {
                let mut command = dlg(s, &["round", DIALOGUE]);
                command.args(["--time", "yesterday"]);
                (command, br#"{"round": 2}"#.to_vec())
            },
        ),
        row(
            "headers",
            "an idempotency key reused for another request",
            7,
            "idempotency_mismatch",
            "use a new key",
            |s| {
                let mut command = dlg(s, &["round", DIALOGUE]);
                command.args(["--idempotency-key", "round-1"]);
                (command, br#"{"round": 2}"#.to_vec())
            },
        ),
        // Keys
        row(
            "keys",
            "the master key file is missing",
            6,
            "key_file",
            "restore the file from your backup",
            |s| {
                std::fs::remove_file(s.key_file()).unwrap();
                (dlg(s, &["show", DIALOGUE]), Vec::new())
            },
        ),
        row(
            "keys",
            "another master key",
            6,
            "wrong_key",
            "master.key",
            |s| {
                std::fs::write(s.key_file(), [9u8; 32]).unwrap();
                (dlg(s, &["show", DIALOGUE]), Vec::new())
            },
        ),
        row(
            "keys",
            "a key file readable by others (0644)",
            6,
            "key_file",
            "chmod 600",
            |s| {
                set_key_mode(s, 0o644);
                (dlg(s, &["list"]), Vec::new())
            },
        ),
        row(
            "keys",
            "a key file of 5 bytes",
            6,
            "key_file",
            "is 5 bytes, not 32",
            |s| {
                std::fs::write(s.key_file(), b"short").unwrap();
                (dlg(s, &["list"]), Vec::new())
            },
        ),
        row(
            "keys",
            "a KMS key given for a ledger sealed with the local key",
            6,
            "key_service",
            "unset DLG_KMS_KEY",
            |s| {
                let mut command = dlg(s, &["round", DIALOGUE]);
                command.args(["--kms-key", "alias/dlg", "--kms-endpoint", &dead_endpoint()]);
                (command, br#"{"round": 2}"#.to_vec())
            },
        ),
        row(
            "keys",
            "a KMS endpoint nobody listens on",
            6,
            "key_service",
            "KMS",
            |s| {
                let mut command = dlg(s, &["create", "-"]);
                command.args(["--kms-key", "alias/dlg", "--kms-endpoint", &dead_endpoint()]);
                command.env("AWS_MAX_ATTEMPTS", "2");
                let request = json!({"title": "Another dialogue", "question": "Is KMS up?", "experts": [
                {"slug": "muffin", "role": "DevTools Architect", "tier": "Core", "relevance": 0.9}]});
                (command, request.to_string().into_bytes())
            },
        ),
        // Endpoints
        row(
            "endpoints",
            "a DynamoDB endpoint nobody listens on",
            1,
            "store",
            "is it running?",
            |s| (dynamodb(s, &dead_endpoint(), "dlg", &["list"]), Vec::new()),
        ),
        row(
            "endpoints",
            "a DynamoDB endpoint that is not a URL",
            2,
            "usage",
            "not an endpoint URL",
            |s| (dynamodb(s, "not-a-url", "dlg", &["list"]), Vec::new()),
        ),
        row(
            "endpoints",
            "DynamoDB tables that do not exist",
            1,
            "store",
            "init-tables",
            |s| {
                let prefix = dlg_tests::unique_prefix("absent");
                (
                    dynamodb(s, dlg_tests::shared_dynamodb(), &prefix, &["list"]),
                    Vec::new(),
                )
            },
        ),
        // Hostile and unbounded input
        row(
            "bounds",
            "a request over the size limit (5 MiB on stdin)",
            3,
            "malformed_request",
            "over the limit of 4194304 bytes",
            |s| {
                let label = "x".repeat(5 * 1024 * 1024);
                round(
                    s,
                    json!({"round": 2, "title": label}).to_string().as_bytes(),
                )
            },
        ),
        row(
            "bounds",
            "a request file over the size limit",
            3,
            "malformed_request",
            "over the limit of 1000 bytes",
            |s| {
                let file = s.home.path().join("big.json");
                std::fs::write(
                    &file,
                    json!({"round": 2, "title": "y".repeat(2000)}).to_string(),
                )
                .unwrap();
                (
                    dlg(
                        s,
                        &[
                            "--max-request-bytes",
                            "1000",
                            "round",
                            DIALOGUE,
                            file.to_str().unwrap(),
                        ],
                    ),
                    Vec::new(),
                )
            },
        ),
        row(
            "bounds",
            "100,000 references to unknown ids (errors listed: the first 100)",
            3,
            "target_not_found",
            "references[0].target",
            |s| {
                let references: Vec<Value> = (0..100_000)
                    .map(|n| json!({"type": "support", "target": format!("P99{:02}", n % 99 + 1)}))
                    .collect();
                round(
                    s,
                    json!({"round": 2, "perspectives": [{"id": "MUFFIN-P0201", "label": "many",
                           "references": references}]})
                    .to_string()
                    .as_bytes(),
                )
            },
        ),
        row(
            "JSON",
            "a key given twice in one object",
            3,
            "malformed_request",
            "the key `title` appears twice",
            |s| round(s, br#"{"round": 2, "title": "one", "title": "two"}"#),
        ),
        row(
            "files",
            "a request file that is a FIFO (nothing writes to it)",
            1,
            "io",
            "is a FIFO (named pipe), not a regular file",
            |s| {
                let fifo = s.home.path().join("request.fifo");
                mkfifo(&fifo);
                (
                    dlg(s, &["round", DIALOGUE, fifo.to_str().unwrap()]),
                    Vec::new(),
                )
            },
        ),
        row(
            "files",
            "a request file that is a device (/dev/zero)",
            1,
            "io",
            "is a device, not a regular file",
            |s| (dlg(s, &["round", DIALOGUE, "/dev/zero"]), Vec::new()),
        ),
        row(
            "files",
            "master.key replaced by a FIFO",
            6,
            "key_file",
            "is a FIFO (named pipe), not a regular file",
            |s| {
                std::fs::remove_file(s.key_file()).unwrap();
                mkfifo(&s.key_file());
                round(s, br#"{"round": 2}"#)
            },
        ),
        row(
            "header fields",
            "an actor with an escape sequence",
            3,
            "invalid_input",
            "on one line without control characters",
            |s| {
                let mut command = dlg(s, &["round", DIALOGUE]);
                command.args(["--actor", "judge\u{1b}]0;owned\u{7}"]);
                (command, br#"{"round": 2}"#.to_vec())
            },
        ),
        row(
            "header fields",
            "an actor with a newline (a forged log line)",
            3,
            "invalid_input",
            "actor `judge\\ncommit 99 · fake` is not valid",
            |s| {
                let mut command = dlg(s, &["round", DIALOGUE]);
                command.args(["--actor", "judge\ncommit 99 · fake"]);
                (command, br#"{"round": 2}"#.to_vec())
            },
        ),
        row(
            "header fields",
            "a time before the previous commit's",
            3,
            "invalid_input",
            "earlier than the previous commit's time",
            |s| {
                let mut command = dlg(s, &["round", DIALOGUE]);
                command.args(["--time", "1970-01-01T00:00:00Z"]);
                (command, br#"{"round": 2}"#.to_vec())
            },
        ),
        row(
            "header fields",
            "a time far in the future (9999)",
            3,
            "invalid_input",
            "ahead of this machine's clock",
            |s| {
                let mut command = dlg(s, &["round", DIALOGUE]);
                command.args(["--time", "9999-12-31T23:59:59Z"]);
                (command, br#"{"round": 2}"#.to_vec())
            },
        ),
        row(
            "validation",
            "a score of 1e308 (two would total inf)",
            3,
            "invalid_value",
            "a score is a finite number from -100000 to 100000",
            |s| round(s, br#"{"round": 2, "score": 1e308}"#),
        ),
        row(
            "validation",
            "a contributor listed twice",
            3,
            "duplicate",
            "`muffin` is listed twice as a contributor",
            |s| {
                round(
                    s,
                    br#"{"round": 2, "perspectives": [{"id": "MUFFIN-P0201", "label": "x", "contributors": ["muffin", "muffin"]}]}"#,
                )
            },
        ),
        row(
            "validation",
            "a local id under a name not on the panel (MALLORY-P0201)",
            3,
            "unknown_expert",
            "`mallory` is not an expert",
            |s| {
                round(
                    s,
                    br#"{"round": 2, "perspectives": [{"id": "MALLORY-P0201", "label": "x", "contributors": ["muffin"]}]}"#,
                )
            },
        ),
        row(
            "validation",
            "a local id whose author is not among its contributors",
            3,
            "invalid_value",
            "is written by `muffin`, who is not among its contributors",
            |s| {
                round(
                    s,
                    br#"{"round": 2, "perspectives": [{"id": "MUFFIN-P0201", "label": "x", "contributors": ["scone"]}]}"#,
                )
            },
        ),
        row(
            "validation",
            "an explicit dialogue id that is taken",
            3,
            "dialogue_exists",
            "a dialogue `pm-repo-sync` already exists",
            |s| {
                (
                    dlg(
                        s,
                        &[
                            "create",
                            "--title",
                            "Other",
                            "--question",
                            "Q?",
                            "--id",
                            DIALOGUE,
                        ],
                    ),
                    Vec::new(),
                )
            },
        ),
        // Tampered data
        row(
            "tampered data",
            "a byte of a stored commit flipped, then audited",
            5,
            "broken_link",
            "commit 2",
            |s| {
                flip_a_byte(s, 2);
                (dlg(s, &["audit", DIALOGUE]), Vec::new())
            },
        ),
        row(
            "tampered data",
            "a byte of the head commit flipped, then appended to",
            5,
            "tampered",
            "run `dlg audit",
            |s| {
                flip_a_byte(s, 3);
                round(s, br#"{"round": 2}"#)
            },
        ),
    ]
}

#[allow(clippy::too_many_arguments, reason = "a table row, read as one")]
fn row(
    category: &'static str,
    input: &'static str,
    code: i32,
    kind: &'static str,
    says: &'static str,
    given: fn(&Sandbox) -> (Command, Vec<u8>),
) -> Row {
    Row {
        category,
        input,
        given,
        code,
        kind,
        says,
    }
}

/// The stored commits and wrapped keys, byte for byte (read below the ledger, so a broken key
/// does not hide a write).
fn stored(sandbox: &Sandbox) -> Vec<(String, String, Vec<u8>)> {
    let db = rusqlite::Connection::open(sandbox.database()).unwrap();
    let mut rows = Vec::new();
    for query in [
        "SELECT pk, sk, commit_bytes FROM events ORDER BY pk, sk",
        "SELECT pk, sk, CAST(wrapped AS BLOB) FROM keys ORDER BY pk, sk",
    ] {
        let mut statement = db.prepare(query).unwrap();
        let found = statement
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .unwrap();
        rows.extend(found.map(Result::unwrap));
    }
    rows
}

/// A sandbox with the dialogue created and rounds 0 and 1 registered (round 1 under the
/// idempotency key `round-1`).
fn recorded() -> Sandbox {
    let sandbox = Sandbox::new();
    let run = |args: &[&str], request: Value| {
        let output = run_with(dlg(&sandbox, args), request.to_string().as_bytes());
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    run(
        &["create", "-"],
        json!({"title": "PM repo sync", "question": "How should sync work?", "experts": [
            {"slug": "muffin", "role": "DevTools Architect", "tier": "Core", "relevance": 0.95},
            {"slug": "scone", "role": "Data Modeling Specialist", "tier": "Adjacent", "relevance": 0.9}]}),
    );
    run(
        &["round", DIALOGUE],
        json!({"round": 0, "title": "Opening", "perspectives": [{"id": "MUFFIN-P0001", "label": "Schema first"}],
               "tensions": [{"id": "SCONE-T0001", "label": "Writeback granularity"}]}),
    );
    run(
        &["--idempotency-key", "round-1", "round", DIALOGUE],
        json!({"round": 1, "title": "Refinement", "perspectives": [{"id": "MUFFIN-P0101", "label": "Batch writeback",
               "references": [{"type": "address", "target": "T0001"}]}]}),
    );
    sandbox
}

/// The error kind (or the first validation code) and message of a failed run's JSON body.
fn error_of(output: &Output) -> (String, String) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    let Some(body) = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .next_back()
    else {
        // An audit that found problems answers with its report on stdout.
        if let Ok(report) = serde_json::from_slice::<Value>(&output.stdout)
            && let Some(problem) = report[0]["problems"].get(0)
        {
            return (
                problem["kind"].as_str().unwrap_or_default().to_owned(),
                format!(
                    "commit {}: {}",
                    problem["commit"],
                    problem["detail"].as_str().unwrap_or_default()
                ),
            );
        }
        // Usage errors are clap's text.
        let first = stderr.lines().next().unwrap_or_default();
        let kind = if output.status.code() == Some(2) {
            "usage"
        } else {
            "(none)"
        };
        return (
            kind.to_owned(),
            first.trim_start_matches("error: ").to_owned(),
        );
    };
    if let Some(error) = body.get("error") {
        let message = error["message"].as_str().unwrap_or_default().to_owned();
        return (
            error["kind"].as_str().unwrap_or_default().to_owned(),
            message,
        );
    }
    let first = &body["errors"][0];
    let mut message = format!(
        "{}: {}",
        first["field"].as_str().unwrap_or_default(),
        first["message"].as_str().unwrap_or_default()
    );
    if let Some(suggestion) = first["suggestion"].as_str() {
        message.push_str(&format!(" ({suggestion})"));
    }
    (
        first["code"].as_str().unwrap_or_default().to_owned(),
        message,
    )
}

/// A message as the table shows it: machine paths and ports replaced, one line, pipes escaped.
fn for_table(message: &str, sandbox: &Sandbox) -> String {
    let home = sandbox.home.path().display().to_string();
    let mut text = message
        .replace(&home, "$DLG_HOME")
        .replace('\n', " ")
        .replace('|', "\\|");
    // Loopback ports differ per run.
    while let Some(at) = text.find("127.0.0.1:") {
        let end = text[at + 10..]
            .find(|c: char| !c.is_ascii_digit())
            .map_or(text.len(), |n| at + 10 + n);
        text.replace_range(at..end, "localhost:PORT");
    }
    // Clock readings differ per run (2026-12-04T20:26:40.035529Z).
    let mut from = 0;
    while let Some(at) = text[from..].find("T").map(|n| from + n) {
        let start = at.saturating_sub(10);
        let date = &text[start..at];
        let is_date = date.len() == 10
            && date.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        match text[at..]
            .find('Z')
            .filter(|_| is_date && !date.starts_with("1970") && !date.starts_with("9999"))
        {
            Some(z) if z <= 17 => {
                text.replace_range(start..at + z + 1, "<now>");
                from = start + 5;
            }
            _ => from = at + 1,
        }
    }
    // Hashes differ per run (random keys and nonces).
    let mut hex_run = 0;
    let mut normalized = String::with_capacity(text.len());
    for c in text.chars() {
        normalized.push(c);
        hex_run = if c.is_ascii_hexdigit() {
            hex_run + 1
        } else {
            0
        };
        if hex_run == 64 {
            normalized.truncate(normalized.len() - 64);
            normalized.push_str("<hash>");
            hex_run = 0;
        }
    }
    text = normalized;
    // Table prefixes of other tests.
    if let Some(at) = text.find("absent") {
        let start = text[..at].rfind(['(', ' ', '`']).map_or(0, |n| n + 1);
        text.replace_range(start..at + "absent".len(), "PREFIX");
    }
    text
}

const BEGIN: &str = "<!-- bad-input table: generated by tests/tests/reliability/bad_input.rs -->";
const END: &str = "<!-- end of the bad-input table -->";

#[test]
fn every_bad_input_is_refused_with_what_to_fix_and_writes_nothing() {
    let mut table = String::from(
        "| input | given | exit | kind | what the user sees |\n|---|---|---|---|---|\n",
    );
    let mut failures = Vec::new();
    for row in rows() {
        let sandbox = recorded();
        let before = stored(&sandbox);
        let (command, stdin) = (row.given)(&sandbox);
        let output = run_with(command, &stdin);
        // Put the key back so the check below can read the store whatever the row did.
        let _ = std::fs::metadata(sandbox.key_file()).map(|_| set_key_mode(&sandbox, 0o600));
        let after = stored(&sandbox);
        let code = output.status.code().unwrap_or(-1);
        let (kind, message) = error_of(&output);
        let mut wrong = Vec::new();
        if code != row.code {
            wrong.push(format!("exit {code}, expected {}", row.code));
        }
        if kind != row.kind {
            wrong.push(format!("kind `{kind}`, expected `{}`", row.kind));
        }
        if !message.contains(row.says) {
            wrong.push(format!("the message does not say `{}`", row.says));
        }
        if row.category != "tampered data" && before != after {
            wrong.push("the stored commits or keys changed".to_owned());
        }
        if !wrong.is_empty() {
            failures.push(format!(
                "{} / {}: {}\n    {message}",
                row.category,
                row.input,
                wrong.join("; ")
            ));
        }
        table.push_str(&format!(
            "| {} | {} | {code} | `{kind}` | {} |\n",
            row.category,
            row.input,
            for_table(&message, &sandbox)
        ));
    }
    assert!(
        failures.is_empty(),
        "bad input handled wrongly:\n{}",
        failures.join("\n")
    );

    // Not bad input: a UTF-8 byte-order mark before the JSON, as some editors write it.
    let sandbox = recorded();
    let output = run_with(
        dlg(&sandbox, &["round", DIALOGUE]),
        b"\xef\xbb\xbf{\"round\": 2}",
    );
    assert!(
        output.status.success(),
        "a request with a BOM is accepted: {output:?}"
    );

    let page = dlg_tests::repo_root().join("docs/reliability.md");
    let text = std::fs::read_to_string(&page).unwrap();
    let (Some(begin), Some(end)) = (text.find(BEGIN), text.find(END)) else {
        panic!(
            "{} has no bad-input table between `{BEGIN}` and `{END}`",
            page.display()
        );
    };
    let current = &text[begin + BEGIN.len()..end];
    let fresh = format!("\n{table}");
    if current != fresh {
        if std::env::var_os("DLG_UPDATE_DOCS").is_some() {
            let updated = format!("{}{BEGIN}{fresh}{}", &text[..begin], &text[end..]);
            std::fs::write(&page, updated).unwrap();
        } else {
            panic!(
                "docs/reliability.md's bad-input table is out of date; run this test with DLG_UPDATE_DOCS=1 to rewrite it. The run's table:\n{table}"
            );
        }
    }
}

/// A request with 100,000 bad references is answered with the first 100 errors and a count of
/// the rest, in kilobytes (it printed 16 MB before the cap).
#[test]
fn an_error_list_is_capped_with_a_count_of_the_rest() {
    let sandbox = recorded();
    let references: Vec<Value> = (0..100_000)
        .map(|n| json!({"type": "support", "target": format!("P99{:02}", n % 99 + 1)}))
        .collect();
    let request = json!({"round": 2, "perspectives": [{"id": "MUFFIN-P0201", "label": "many",
                          "references": references}]});
    let output = run_with(
        dlg(&sandbox, &["round", DIALOGUE]),
        request.to_string().as_bytes(),
    );
    assert_eq!(output.status.code(), Some(3));
    assert!(
        output.stderr.len() < 64 * 1024,
        "{} bytes of errors",
        output.stderr.len()
    );
    let body: Value = serde_json::from_slice(&output.stderr).unwrap();
    assert_eq!(body["errors"].as_array().unwrap().len(), 100);
    assert!(
        body["omitted"].as_u64().unwrap() >= 99_900,
        "{}",
        body["omitted"]
    );
}
