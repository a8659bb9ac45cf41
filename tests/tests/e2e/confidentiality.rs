//! A canary registered through every content field never appears in the SQLite files.

use dlg_tests::Sandbox;
use serde_json::json;

use crate::requests::*;

const CANARY: &str = "CANARY-7f3a9c2e-do-not-store-in-clear";

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

/// Runs `dlg --json ARGS` (prepared by `dlg`) with `stdin`, asserting success; returns stdout as
/// JSON and keeps stderr (the log) in `log`.
fn run_logged(
    mut command: assert_cmd::Command,
    args: &[&str],
    stdin: Option<&serde_json::Value>,
    log: &mut Vec<u8>,
) -> serde_json::Value {
    command.arg("--json").args(args);
    if let Some(input) = stdin {
        command.write_stdin(input.to_string());
    }
    let output = command.output().unwrap();
    log.extend_from_slice(&output.stderr);
    assert!(
        output.status.success(),
        "dlg {args:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Registers the canary through every content field with the `dlg` that `dlg` prepares; returns
/// the dialogue id. Everything written to stderr is appended to `log`.
fn record_canaries(dlg: &dyn Fn() -> assert_cmd::Command, log: &mut Vec<u8>) -> &'static str {
    let c = |field: &str| format!("{CANARY} {field}");
    run_logged(
        dlg(),
        &["create"],
        Some(
            &json!({"title": "Canary dialogue", "question": c("question"),
                     "experts": [{"slug": "muffin", "role": c("role"), "description": c("description"), "focus": c("focus")}]}),
        ),
        log,
    );
    let dialogue = "canary-dialogue";
    run_logged(
        dlg(),
        &["add-expert", dialogue],
        Some(
            &json!({"slug": "scone", "role": c("role2"), "creation_reason": c("creation reason")}),
        ),
        log,
    );
    run_logged(
        dlg(),
        &["round", dialogue],
        Some(&json!({
            "round": 0, "title": c("round title"), "summary": c("summary"),
            "experts": [{"expert": "muffin", "response": c("raw response")}],
            "perspectives": [{"id": "MUFFIN-P0001", "label": c("label"), "content": c("content")}],
            "recommendations": [{"id": "MUFFIN-R0001", "label": c("r label"), "content": c("r content"),
                                  "parameters": {"secret": c("parameters")}}],
            "tensions": [{"id": "SCONE-T0001", "label": c("t label"), "description": c("t description")}],
            "evidence": [{"id": "SCONE-E0001", "label": c("e label"), "content": c("e content")}],
            "claims": [{"id": "SCONE-C0001", "label": c("c label"), "content": c("c content")}],
            "moves": [{"expert": "muffin", "move": "defend", "targets": ["MUFFIN-P0001"], "context": c("move context")}],
            "status_updates": [{"id": "SCONE-T0001", "status": "addressed", "by": "muffin", "reason": c("reason")}]
        })),
        log,
    );
    run_logged(
        dlg(),
        &["verdict", dialogue],
        Some(
            &json!({"verdict_id": "V01", "type": "interim", "recommendation": c("verdict"),
                     "description": c("verdict description"), "conditions": [c("condition")]}),
        ),
        log,
    );
    run_logged(
        dlg(),
        &[
            "dialogue-status",
            dialogue,
            "abandoned",
            "--reason",
            &c("status reason"),
        ],
        None,
        log,
    );
    dialogue
}

#[test]
fn content_never_reaches_the_files_in_clear() {
    let sandbox = Sandbox::new();
    let mut log = Vec::new();
    let dialogue = record_canaries(&|| sandbox.dlg(), &mut log);

    // Positive control: the content is really in the ledger.
    let export = run_json(&sandbox, &["export", dialogue], None);
    assert!(export.to_string().matches(CANARY).count() >= 20);

    let mut files = 0;
    for path in files_under(sandbox.home.path()) {
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !contains(&bytes, CANARY.as_bytes()),
            "{} holds the canary in clear",
            path.display()
        );
        files += 1;
    }
    assert!(files >= 2, "the database and the key file were checked");
}

#[test]
fn a_shredded_data_key_is_gone_from_the_files() {
    let sandbox = crate::requests::recorded();
    let wrapped: String = rusqlite::Connection::open(sandbox.database())
        .unwrap()
        .query_row("SELECT wrapped FROM keys", [], |row| row.get(0))
        .unwrap();
    let wrapped: serde_json::Value = serde_json::from_str(&wrapped).unwrap();
    let bytes = wrapped["bytes"].as_str().unwrap().to_owned();
    sandbox
        .dlg()
        .args(["shred", DIALOGUE, "--yes"])
        .assert()
        .success();
    for path in files_under(sandbox.home.path()) {
        let content = std::fs::read(&path).unwrap();
        assert!(
            !contains(&content, bytes.as_bytes()),
            "{} still holds the wrapped data key",
            path.display()
        );
    }
}

/// Every byte of an attribute value: strings and numbers as text, binaries raw, collections
/// recursively.
fn attribute_bytes(value: &aws_sdk_dynamodb::types::AttributeValue, out: &mut Vec<u8>) {
    use aws_sdk_dynamodb::types::AttributeValue as V;
    match value {
        V::S(s) | V::N(s) => out.extend_from_slice(s.as_bytes()),
        V::B(b) => out.extend_from_slice(b.as_ref()),
        V::Ss(list) | V::Ns(list) => list
            .iter()
            .for_each(|s| out.extend_from_slice(s.as_bytes())),
        V::Bs(list) => list.iter().for_each(|b| out.extend_from_slice(b.as_ref())),
        V::L(list) => list.iter().for_each(|v| attribute_bytes(v, out)),
        V::M(map) => map.iter().for_each(|(k, v)| {
            out.extend_from_slice(k.as_bytes());
            attribute_bytes(v, out);
        }),
        _ => {}
    }
}

/// On DynamoDB Local with the stream projector: the canary never appears in a full scan of any
/// table, in the events stream's records, or in the trace-level logs of `dlg` and of the stream
/// runner (nor does the master key) — while the ledger itself opens it.
#[test]
fn content_never_reaches_dynamodb_the_stream_or_the_logs() {
    let sandbox = Sandbox::new();
    let endpoint = dlg_tests::shared_dynamodb().to_owned();
    let prefix = dlg_tests::unique_prefix("canary");
    let _tables = dlg_tests::DropTables::with_prefix(&endpoint, &prefix);
    let dlg = || {
        let mut command = sandbox.dlg();
        command
            .env("DLG_STORE", "dynamodb")
            .env("DLG_DYNAMODB_ENDPOINT", &endpoint)
            .env("DLG_TABLE_PREFIX", &prefix)
            .env("DLG_LOG", "trace");
        command
    };
    let mut log = Vec::new();
    run_logged(dlg(), &["init-tables"], None, &mut log);
    let dialogue = record_canaries(&dlg, &mut log);
    // The stream runner projects everything, logging at trace level.
    run_logged(dlg(), &["project", "--once"], None, &mut log);
    let export = run_logged(dlg(), &["export", dialogue], None, &mut log);
    assert!(
        export.to_string().matches(CANARY).count() >= 20,
        "positive control: the ledger opens the content"
    );
    assert!(
        log.len() > 1_000 && contains(&log, b"DEBUG"),
        "trace logs were produced ({} bytes)",
        log.len()
    );
    // Neither the canary nor the master key, raw or encoded, reaches the trace-level log.
    let key = std::fs::read(sandbox.key_file()).unwrap();
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let base64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&key)
    };
    for (what, needle) in [
        ("the canary", CANARY.as_bytes()),
        ("the master key", key.as_slice()),
        ("the master key in hex", hex.as_bytes()),
        ("the master key in base64", base64.as_bytes()),
    ] {
        assert!(!contains(&log, needle), "the trace log holds {what}");
    }

    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let config = dlg_store::dynamodb::DynamoConfig::with_prefix(
            Some(endpoint.clone()),
            "us-east-1",
            &prefix,
        );
        let store = dlg_store::dynamodb::DynamoStore::connect(config.clone()).await;
        let mut items = 0;
        for table in [
            &config.events_table,
            &config.graph_table,
            &config.keys_table,
        ] {
            let pages = store
                .client()
                .scan()
                .table_name(table)
                .into_paginator()
                .items()
                .send()
                .collect::<Result<Vec<_>, _>>()
                .await
                .unwrap();
            for item in &pages {
                let mut bytes = Vec::new();
                for (name, value) in item {
                    bytes.extend_from_slice(name.as_bytes());
                    attribute_bytes(value, &mut bytes);
                }
                assert!(
                    !contains(&bytes, CANARY.as_bytes()),
                    "an item of {table} holds the canary in clear"
                );
                items += 1;
            }
        }
        assert!(items > 20, "the scans saw the ledger ({items} items)");

        let mut runner = dlg_projector::runner::StreamRunner::connect(store.projection().clone())
            .await
            .unwrap();
        let mut records = 0;
        for batch in runner.read().await.unwrap() {
            for record in &batch.event.records {
                let json = serde_json::to_vec(record).unwrap();
                assert!(!contains(&json, CANARY.as_bytes()), "a stream record");
                if let Ok(dlg_projector::stream::Record::Commit(_, row)) =
                    dlg_projector::stream::decode(record)
                {
                    assert!(
                        !contains(&row.bytes, CANARY.as_bytes()),
                        "a streamed commit"
                    );
                }
                records += 1;
            }
        }
        assert!(records >= 5, "the stream's records were read ({records})");
    });
}

/// Every file under a folder, in its subfolders too (the writer's high-water marks).
fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Private by default: a data directory `dlg` creates is 0700, the database and its WAL and
/// shared-memory files 0600; a directory or database others can read is warned about, naming it
/// and the fix.
#[test]
fn the_data_directory_and_database_are_private_by_default() {
    use std::os::unix::fs::PermissionsExt;
    let sandbox = Sandbox::new();
    let home = sandbox.home.path().join("new/dlg-home");
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let mut command = sandbox.dlg();
    command.env("DLG_HOME", &home).args([
        "create",
        "--title",
        "Private",
        "--question",
        "Who reads?",
    ]);
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty(),
        "no warning for what dlg created: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(mode(&home), 0o700);
    for file in [
        "ledger.db",
        "ledger.db-wal",
        "ledger.db-shm",
        "master.key",
        "signing.key",
    ] {
        let path = home.join(file);
        if file.ends_with("-wal") || file.ends_with("-shm") {
            // SQLite removes them on a clean close; when present they match the database.
            if !path.exists() {
                continue;
            }
        }
        assert_eq!(mode(&path), 0o600, "{file}");
    }
    // While a reader holds the database open, the WAL and shared-memory files exist: 0600 too.
    let reader = rusqlite::Connection::open(home.join("ledger.db")).unwrap();
    reader.pragma_update(None, "journal_mode", "WAL").unwrap();
    reader.execute_batch("SELECT COUNT(*) FROM events").unwrap();
    for file in ["ledger.db-wal", "ledger.db-shm"] {
        assert_eq!(mode(&home.join(file)), 0o600, "{file}");
    }
    drop(reader);

    std::fs::set_permissions(&home, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::set_permissions(
        home.join("ledger.db"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let mut command = sandbox.dlg();
    command.env("DLG_HOME", &home).arg("list");
    let output = command.output().unwrap();
    assert!(output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the data directory")
            && stderr.contains("has mode 755")
            && stderr.contains("chmod 700"),
        "{stderr}"
    );
    assert!(
        stderr.contains("the database")
            && stderr.contains("has mode 644")
            && stderr.contains("chmod 600"),
        "{stderr}"
    );
}
