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
    /// Stores what the row reads (hostile content, a second dialogue) before the stored
    /// commits are taken for the nothing-changed check.
    prepared: fn(&Sandbox),
    /// Prepares the sandbox (a recorded dialogue) and returns the command and its stdin.
    given: fn(&Sandbox) -> (Command, Vec<u8>),
    code: i32,
    kind: &'static str,
    says: &'static str,
    /// A string the run must not print anywhere (a secret next to an archive, the content of
    /// an MCP session on its log).
    never: Option<(&'static str, Streams)>,
}

/// Where a row's `never` string must not appear.
#[derive(Clone, Copy)]
enum Streams {
    Both,
    Log,
}

impl Row {
    fn prepared(mut self, prepared: fn(&Sandbox)) -> Self {
        self.prepared = prepared;
        self
    }

    fn never(mut self, text: &'static str, streams: Streams) -> Self {
        self.never = Some((text, streams));
        self
    }
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

/// `dlg` without `--json`: what a person at a terminal sees.
fn text(sandbox: &Sandbox, args: &[&str]) -> Command {
    let mut command = sandbox.process();
    command.args(args);
    command
}

/// An MCP session's stdin: the handshake, then `lines`; the session ends when stdin does.
fn mcp_lines(lines: &[String]) -> Vec<u8> {
    let mut stdin = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "bad-input", "version": "1"}}})
    .to_string();
    stdin.push_str("\n{\"jsonrpc\": \"2.0\", \"method\": \"notifications/initialized\"}\n");
    for line in lines {
        stdin.push_str(line);
        stdin.push('\n');
    }
    stdin.into_bytes()
}

const SECRET: &str = "SECRET-KEY-MATERIAL-never-imported";

/// A one-round archive folder beside the ledger, for rows to add a hostile file to.
fn archive(sandbox: &Sandbox) -> std::path::PathBuf {
    let archive = sandbox.home.path().join("archive/hostile-dialogue");
    std::fs::create_dir_all(archive.join("round-0")).unwrap();
    std::fs::write(
        archive.join("expert-pool.json"),
        r#"{"domain": "Hostile dialogue", "question": "What gets in?", "experts": []}"#,
    )
    .unwrap();
    std::fs::write(
        archive.join("round-0/cupcake.md"),
        "[PERSPECTIVE P01: Honest view]\nbody\n",
    )
    .unwrap();
    archive
}

fn import_dry_run(sandbox: &Sandbox, archive: &std::path::Path) -> Command {
    text(sandbox, &["import", "--dry-run", archive.to_str().unwrap()])
}

/// A dialogue whose every label is an attack on the terminal, the graph formats or the Judge.
fn hostile(sandbox: &Sandbox) {
    let run = |args: &[&str], request: Value| {
        let output = run_with(dlg(sandbox, args), request.to_string().as_bytes());
        assert!(output.status.success(), "{output:?}");
    };
    run(
        &["create", "-"],
        json!({"id": "hostile", "title": "Evil \u{1b}]52;c;cm0gLXJmIH4=\u{7} title",
               "question": "What gets through?", "experts": [
            {"slug": "muffin", "role": "Architect\u{1b}[2J\u{1b}]0;owned\u{7}", "tier": "Core", "relevance": 0.9}]}),
    );
    run(
        &["round", "hostile"],
        json!({"round": 0, "title": "Opening", "perspectives": [
                  {"id": "MUFFIN-P0001", "label": "<img src=x onerror=alert(1)>"},
                  {"id": "MUFFIN-P0002", "label": "x\"]; injected [label=\"y"},
                  {"id": "MUFFIN-P0003", "label": "\u{1b}]8;;https://evil.example\u{1b}\\click\u{1b}]8;;\u{1b}\\"}],
               "tensions": [
                  {"id": "MUFFIN-T0001", "label": "Real\r\u{1b}[2KFake resolved"},
                  {"id": "MUFFIN-T0002", "label": "Fake\nP0001 --resolve--> T0001"}]}),
    );
}

fn second_dialogue(sandbox: &Sandbox) {
    let output = run_with(
        dlg(
            sandbox,
            &[
                "create",
                "--title",
                "Second dialogue",
                "--question",
                "Untouched?",
            ],
        ),
        b"",
    );
    assert!(output.status.success(), "{output:?}");
}

/// `dialogue@commit:hash`, as `dlg audit --digest` takes it.
fn digest_of(sandbox: &Sandbox, dialogue: &str) -> String {
    let output = run_with(dlg(sandbox, &["digest", dialogue]), b"");
    let digest: Value = serde_json::from_slice(&output.stdout).unwrap();
    format!(
        "{}@{}:{}",
        digest["dialogue"].as_str().unwrap(),
        digest["commit"],
        digest["hash"].as_str().unwrap()
    )
}

/// The second dialogue's wrapped key, planted in this one's keys row (below the ledger).
fn plant_a_key(sandbox: &Sandbox) {
    let db = rusqlite::Connection::open(sandbox.database()).unwrap();
    db.execute(
        "UPDATE keys SET wrapped = (SELECT wrapped FROM keys WHERE pk = 'D#second-dialogue') WHERE pk = ?1",
        [format!("D#{DIALOGUE}")],
    )
    .unwrap();
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
        row(
            "validation",
            "round 99 registered again (no round 100 to suggest)",
            3,
            "invalid_round",
            "this dialogue has used all rounds 0 to 99",
            |s| round(s, br#"{"round": 99}"#),
        )
        .prepared(|s| {
            // Rounds cannot skip: register 2 to 99 first, one after another.
            for n in 2..=99 {
                let request = format!("{{\"round\": {n}}}");
                let output = run_with(dlg(s, &["round", DIALOGUE]), request.as_bytes());
                assert!(output.status.success(), "round {n}: {output:?}");
            }
        }),
        row(
            "bounds",
            "an endless stdin (`yes |`), cut at the limit",
            3,
            "malformed_request",
            "over the limit of 4194304 bytes",
            |s| round(s, &b"y\n".repeat((4 << 20) / 2 + 1)),
        ),
        // Hostile content: stored as given, shown neutralised (visible escapes, no markup).
        row(
            "display",
            "a title with an OSC 52 clipboard write, listed",
            0,
            "(none)",
            "Evil \\u{1b}]52;c;cm0gLXJmIH4=\\u{7}",
            |s| (text(s, &["list"]), Vec::new()),
        )
        .prepared(hostile),
        row(
            "display",
            "a role that clears the screen and sets the window title, shown",
            0,
            "(none)",
            "Architect\\u{1b}[2J\\u{1b}]0;owned\\u{7}",
            |s| (text(s, &["show", "hostile"]), Vec::new()),
        )
        .prepared(hostile),
        row(
            "display",
            "a label with carriage return and erase line, in tensions",
            0,
            "(none)",
            "Real\\r\\u{1b}[2KFake resolved",
            |s| (text(s, &["tensions", "hostile"]), Vec::new()),
        )
        .prepared(hostile),
        row(
            "display",
            "a label with a newline forging a node line and an edge, in the text graph",
            0,
            "(none)",
            "Fake\\nP0001 --resolve--> T0001",
            |s| (text(s, &["graph", "hostile"]), Vec::new()),
        )
        .prepared(hostile),
        row(
            "display",
            "HTML in a label, in the Mermaid graph",
            0,
            "(none)",
            "#lt;img src=x onerror=alert(1)#gt;",
            |s| {
                (
                    text(s, &["graph", "hostile", "--format", "mermaid"]),
                    Vec::new(),
                )
            },
        )
        .prepared(hostile),
        row(
            "display",
            "quotes and a bracket closing a DOT label",
            0,
            "(none)",
            "x\\\"]; injected [label=\\\"y",
            |s| {
                (
                    text(s, &["graph", "hostile", "--format", "dot"]),
                    Vec::new(),
                )
            },
        )
        .prepared(hostile),
        row(
            "display",
            "an OSC 8 hyperlink in a label, in the log",
            0,
            "(none)",
            "\\u001b]8;;https://evil.example\\u001b\\\\click",
            |s| (text(s, &["log", "hostile"]), Vec::new()),
        )
        .prepared(hostile),
        row(
            "display",
            "a newline forging an edge, in MCP round_context's markdown (log at trace)",
            0,
            "(none)",
            "Fake\\nP0001 --resolve--> T0001",
            |s| {
                let mut command = text(s, &["mcp"]);
                command.env("DLG_LOG", "trace");
                (
                    command,
                    mcp_lines(&[json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                        "params": {"name": "round_context", "arguments": {"dialogue": "hostile"}}})
                    .to_string()]),
                )
            },
        )
        .prepared(hostile)
        .never("onerror=alert", Streams::Log),
        // MCP wire
        row(
            "MCP",
            "a line that is not JSON",
            0,
            "-32700",
            "not JSON",
            |s| {
                (
                    text(s, &["mcp"]),
                    mcp_lines(&["{this is not json".to_owned()]),
                )
            },
        ),
        row(
            "MCP",
            "a line over the message limit (a 1,000-byte request + 64 KiB of envelope)",
            0,
            "-32600",
            "over this server's limit of 66536 bytes",
            |s| {
                let mut command = text(s, &["mcp"]);
                command.args(["--max-request-bytes", "1000"]);
                (command, mcp_lines(&["x".repeat(70_000)]))
            },
        ),
        row(
            "MCP",
            "tool arguments that are an array",
            0,
            "-32602",
            "arguments",
            |s| {
                (
                    text(s, &["mcp"]),
                    mcp_lines(&[json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                        "params": {"name": "round_context", "arguments": [1, 2]}})
                    .to_string()]),
                )
            },
        ),
        // Files and leaks
        row(
            "files",
            "an archive file that is a symbolic link to a secret",
            0,
            "(none)",
            "is a symbolic link",
            |s| {
                let archive = archive(s);
                std::fs::write(s.home.path().join("id_rsa"), SECRET).unwrap();
                std::os::unix::fs::symlink(
                    s.home.path().join("id_rsa"),
                    archive.join("round-0/muffin.md"),
                )
                .unwrap();
                (import_dry_run(s, &archive), Vec::new())
            },
        )
        .never(SECRET, Streams::Both),
        row(
            "files",
            "an archive file that is a FIFO",
            0,
            "(none)",
            "FIFO",
            |s| {
                let archive = archive(s);
                mkfifo(&archive.join("round-0/scone.md"));
                (import_dry_run(s, &archive), Vec::new())
            },
        ),
        row(
            "files",
            "a round folder that is a symbolic link",
            0,
            "(none)",
            "round-1",
            |s| {
                let archive = archive(s);
                let elsewhere = s.home.path().join("elsewhere");
                std::fs::create_dir_all(&elsewhere).unwrap();
                std::fs::write(elsewhere.join("muffin.md"), SECRET).unwrap();
                std::os::unix::fs::symlink(&elsewhere, archive.join("round-1")).unwrap();
                (import_dry_run(s, &archive), Vec::new())
            },
        )
        .never(SECRET, Streams::Both),
        row(
            "files",
            "a ledger.db readable by others (0644)",
            0,
            "(none)",
            "other users on this machine can read it; run `chmod 600",
            |s| {
                std::fs::set_permissions(s.database(), std::fs::Permissions::from_mode(0o644))
                    .unwrap();
                (text(s, &["list"]), Vec::new())
            },
        ),
        // Audit and reads
        row(
            "audit",
            "a digest of another dialogue",
            2,
            "usage",
            "is of dialogue `second-dialogue`, not `pm-repo-sync`",
            |s| {
                let digest = digest_of(s, "second-dialogue");
                (
                    dlg(s, &["audit", DIALOGUE, "--digest", &digest]),
                    Vec::new(),
                )
            },
        )
        .prepared(second_dialogue),
        row(
            "audit",
            "a digest at commit 0",
            2,
            "usage",
            "is at commit 0, before any commit: it vouches for nothing",
            |s| {
                let digest = digest_of(s, DIALOGUE);
                let (dialogue, rest) = digest.split_once('@').unwrap();
                let (_, hash) = rest.split_once(':').unwrap();
                let digest = format!("{dialogue}@0:{hash}");
                (
                    dlg(s, &["audit", DIALOGUE, "--digest", &digest]),
                    Vec::new(),
                )
            },
        ),
        row(
            "tampered data",
            "another dialogue's wrapped key planted in the keys row, then listed",
            0,
            "(none)",
            "pm-repo-sync",
            |s| {
                plant_a_key(s);
                (text(s, &["list"]), Vec::new())
            },
        )
        .prepared(second_dialogue),
        row(
            "tampered data",
            "another dialogue's wrapped key planted in the keys row, then audited",
            5,
            "bad_key",
            "commit 0",
            |s| {
                plant_a_key(s);
                (dlg(s, &["audit"]), Vec::new())
            },
        )
        .prepared(second_dialogue),
        row(
            "tampered data",
            "the head commit deleted below the graph, then shown",
            5,
            "graph_ahead",
            "commit 3",
            |s| {
                let db = rusqlite::Connection::open(s.database()).unwrap();
                db.execute(
                    "DELETE FROM events WHERE pk = ?1 AND sk = ?2",
                    rusqlite::params![format!("D#{DIALOGUE}"), format!("C#{:010}", 3)],
                )
                .unwrap();
                (dlg(s, &["show", DIALOGUE]), Vec::new())
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
        prepared: |_| {},
        given,
        code,
        kind,
        says,
        never: None,
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

/// What a run answered: the error kind (or the first validation code, or a JSON-RPC error
/// code) and its message; for a run that succeeded, `(none)` and the first line of its output
/// (stderr, stdout, or the text of an MCP tool result) that holds `says`.
fn error_of(output: &Output, says: &str) -> (String, String) {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let replies: Vec<Value> = stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|reply| reply.get("jsonrpc").is_some())
        .collect();
    if let Some(error) = replies.iter().rev().find_map(|reply| reply.get("error")) {
        return (
            error["code"].to_string(),
            error["message"].as_str().unwrap_or_default().to_owned(),
        );
    }
    if output.status.success() {
        let texts: Vec<String> = replies
            .iter()
            .flat_map(|reply| {
                reply["result"]["content"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .filter_map(|content| content["text"].as_str().map(str::to_owned))
            // A tool's JSON result: its markdown is what the Judge reads.
            .map(|text| match serde_json::from_str::<Value>(&text) {
                Ok(result) if result["markdown"].is_string() => {
                    result["markdown"].as_str().unwrap_or_default().to_owned()
                }
                _ => text,
            })
            .collect();
        let stderr = String::from_utf8_lossy(&output.stderr);
        let seen = texts
            .iter()
            .flat_map(|text| text.lines())
            .chain(stderr.lines())
            .chain(stdout.lines())
            .find(|line| line.contains(says))
            .or_else(|| stdout.lines().next())
            .unwrap_or_default();
        return ("(none)".to_owned(), seen.trim().to_owned());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let Some(body) = stderr
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .next_back()
    else {
        // An audit that found problems answers with its report on stdout.
        if let Ok(Value::Array(reports)) = serde_json::from_slice::<Value>(&output.stdout)
            && let Some(problem) = reports.iter().find_map(|report| report["problems"].get(0))
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

/// The first control character (other than newline and tab) a run printed: none may reach a
/// terminal, whatever the row stored.
fn control_character(output: &Output) -> Option<char> {
    [&output.stdout, &output.stderr]
        .into_iter()
        .flat_map(|bytes| {
            String::from_utf8_lossy(bytes)
                .into_owned()
                .chars()
                .collect::<Vec<_>>()
        })
        .find(|c| c.is_control() && *c != '\n' && *c != '\t')
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
        (row.prepared)(&sandbox);
        let before = stored(&sandbox);
        let (command, stdin) = (row.given)(&sandbox);
        let output = run_with(command, &stdin);
        // Put the key back so the check below can read the store whatever the row did.
        let _ = std::fs::metadata(sandbox.key_file()).map(|_| set_key_mode(&sandbox, 0o600));
        let after = stored(&sandbox);
        let code = output.status.code().unwrap_or(-1);
        let (kind, message) = error_of(&output, row.says);
        let mut wrong = Vec::new();
        if let Some(control) = control_character(&output) {
            wrong.push(format!(
                "the output holds the control character {control:?}"
            ));
        }
        if let Some((never, streams)) = row.never {
            let log = String::from_utf8_lossy(&output.stderr);
            let out = String::from_utf8_lossy(&output.stdout);
            if log.contains(never) || (matches!(streams, Streams::Both) && out.contains(never)) {
                wrong.push(format!("the output holds `{never}`"));
            }
        }
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
