//! `dlg mcp` against a hostile client speaking raw JSON-RPC on its stdin: every line it cannot
//! use is answered with the JSON-RPC error the specification gives (-32700 not JSON, -32600 not
//! a request, oversize, a batch, a repeated key; -32602 tool arguments that are not an object),
//! and the session goes on; at trace level its log carries no content the client sent.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use dlg_tests::Sandbox;
use serde_json::{Value, json};

const CANARY: &str = "CANARY-mcp-5d1e-never-in-a-log";

struct Session {
    child: Child,
    stdin: Option<ChildStdin>,
    replies: mpsc::Receiver<Value>,
}

impl Session {
    fn start(sandbox: &Sandbox, max_request: Option<&str>) -> Self {
        let mut command = sandbox.process();
        command.env("DLG_LOG", "trace").arg("mcp");
        if let Some(limit) = max_request {
            command.args(["--max-request-bytes", limit]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (sender, replies) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let value = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("dlg mcp wrote a line that is not JSON ({e}): {line}")
                });
                if sender.send(value).is_err() {
                    break;
                }
            }
        });
        let mut session = Self {
            stdin: child.stdin.take(),
            child,
            replies,
        };
        session.send(
            json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
                "protocolVersion": "2025-06-18", "capabilities": {},
                "clientInfo": {"name": "hostile", "version": "1"}}})
            .to_string()
            .as_bytes(),
        );
        assert_eq!(session.reply()["id"], 0);
        session.send(br#"{"jsonrpc": "2.0", "method": "notifications/initialized"}"#);
        session
    }

    fn send(&mut self, line: &[u8]) {
        let stdin = self.stdin.as_mut().unwrap();
        stdin.write_all(line).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.flush().unwrap();
    }

    fn reply(&self) -> Value {
        self.replies
            .recv_timeout(Duration::from_secs(60))
            .expect("dlg mcp answers within a minute")
    }

    /// The session still serves: a ping is answered.
    fn alive(&mut self, id: u64) {
        self.send(
            json!({"jsonrpc": "2.0", "id": id, "method": "ping"})
                .to_string()
                .as_bytes(),
        );
        let reply = self.reply();
        assert_eq!(reply["id"], id, "{reply}");
        assert!(reply.get("result").is_some(), "{reply}");
    }

    /// Ends the session; returns its stderr (the log).
    fn finish(mut self) -> String {
        drop(self.stdin.take());
        let output = self.child.wait_with_output().unwrap();
        String::from_utf8_lossy(&output.stderr).into_owned()
    }
}

/// A `tools/call` line.
fn call(id: u64, name: &str, arguments: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": name, "arguments": arguments}})
    .to_string()
}

fn error_code(reply: &Value) -> i64 {
    reply["error"]["code"]
        .as_i64()
        .unwrap_or_else(|| panic!("an error reply: {reply}"))
}

#[test]
fn every_unusable_line_is_answered_and_the_session_goes_on() {
    let sandbox = Sandbox::new();
    let mut session = Session::start(&sandbox, Some("100000"));
    let cases: Vec<(&str, Vec<u8>, i64, Value)> = vec![
        ("not JSON", b"{this is not json".to_vec(), -32700, Value::Null),
        ("not UTF-8", b"\xff\xfe{}".to_vec(), -32700, Value::Null),
        ("a batch", b"[1, 2]".to_vec(), -32600, Value::Null),
        ("a string", b"\"hello\"".to_vec(), -32600, Value::Null),
        (
            "no jsonrpc version",
            br#"{"id": 5, "method": "ping"}"#.to_vec(),
            -32600,
            json!(5),
        ),
        (
            "a repeated key",
            br#"{"jsonrpc": "2.0", "id": 6, "method": "tools/call", "params": {"name": "export_dialogue", "arguments": {"dialogue": "a", "dialogue": "b"}}}"#.to_vec(),
            -32600,
            json!(6),
        ),
        (
            "array arguments",
            br#"{"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"name": "export_dialogue", "arguments": []}}"#.to_vec(),
            -32602,
            json!(7),
        ),
        (
            "params of the wrong shape",
            br#"{"jsonrpc": "2.0", "id": 8, "method": "tools/call", "params": 5}"#.to_vec(),
            -32602,
            json!(8),
        ),
        (
            "a line over the limit (1 MB, limit 100000 + envelope)",
            format!(
                r#"{{"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {{"name": "create_dialogue", "arguments": {{"request": {{"title": "{}", "question": "q"}}}}}}}}"#,
                "z".repeat(1_000_000)
            )
            .into_bytes(),
            -32600,
            Value::Null,
        ),
    ];
    for (n, (what, line, code, id)) in cases.into_iter().enumerate() {
        session.send(&line);
        let reply = session.reply();
        assert_eq!(error_code(&reply), code, "{what}: {reply}");
        assert_eq!(reply["id"], id, "{what}: {reply}");
        assert_eq!(reply["jsonrpc"], "2.0", "{what}");
        session.alive(100 + n as u64);
    }
    // The oversize reply says the size and the limit.
    session.send(format!("{{\"x\": \"{}\"}}", "y".repeat(300_000)).as_bytes());
    let reply = session.reply();
    let message = reply["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("300009 bytes") && message.contains("limit of 165536"),
        "{message}"
    );
    session.alive(200);
    session.finish();
}

#[test]
fn the_trace_log_of_an_mcp_session_carries_no_content() {
    let sandbox = Sandbox::new();
    let mut session = Session::start(&sandbox, None);
    session.send(
        call(
            1,
            "create_dialogue",
            json!({"request": {"title": "Canary", "question": format!("{CANARY} question"),
                   "experts": [{"slug": "muffin", "role": format!("{CANARY} role")}]}}),
        )
        .as_bytes(),
    );
    let created = session.reply();
    let dialogue = created["result"]["structuredContent"]["dialogue"]
        .as_str()
        .unwrap_or_else(|| panic!("{created}"))
        .to_owned();
    session.send(
        call(
            2,
            "register_round",
            json!({"dialogue": dialogue, "request": {"round": 0, "title": format!("{CANARY} title"),
                   "perspectives": [{"id": "MUFFIN-P0001", "label": format!("{CANARY} label")}]}}),
        )
        .as_bytes(),
    );
    assert_eq!(session.reply()["id"], 2);
    session.send(call(3, "round_context", json!({"dialogue": dialogue})).as_bytes());
    let context = session.reply();
    assert!(
        context.to_string().contains(CANARY),
        "positive control: the content is there"
    );
    // A malformed line with content in it: the error reply may echo it to its sender, the log not.
    session.send(format!("{{\"{CANARY}\": ").as_bytes());
    assert_eq!(error_code(&session.reply()), -32700);
    let log = session.finish();
    assert!(
        log.contains("TRACE") || log.contains("DEBUG"),
        "trace logging was on ({} bytes of log)",
        log.len()
    );
    assert!(!log.contains(CANARY), "the trace log holds content:\n{log}");
}

/// A tool, its arguments, and the (field, value) of every error it must answer.
type ShapeRow = (&'static str, Value, Vec<(&'static str, Value)>);

/// Tool arguments of the wrong shape, as a table: each is answered as a tool error with the
/// validation body the CLI gives (`malformed_request`, the field path relative to `request`,
/// the value found, a suggestion), every invalid item of a batch at once, and nothing stored.
#[test]
fn shape_errors_over_mcp_carry_codes_paths_and_every_item() {
    let sandbox = Sandbox::new();
    let mut session = Session::start(&sandbox, None);
    session.send(
        call(
            1,
            "create_dialogue",
            json!({"request": {"title": "Shapes", "question": "Q?", "id": "shapes",
                   "experts": [{"slug": "muffin", "role": "A"}, {"slug": "scone", "role": "B"}]}}),
        )
        .as_bytes(),
    );
    let created = session.reply();
    assert_eq!(created["result"]["isError"], false, "{created}");
    let rows: Vec<ShapeRow> = vec![
        (
            "register_round",
            json!({"dialogue": "shapes", "request": {"round": 0,
                "experts": [{"expert": "muffin", "score": "58"}, {"expert": "scone", "score": 1.0}],
                "perspectives": [{"id": "MUFFIN-P0001", "label": 7},
                                 {"id": "MUFFIN-P0002", "label": "fine"},
                                 {"id": "MUFFIN-P0003", "label": "x", "references": "T0001"}]}}),
            vec![
                ("experts[0].score", json!("58")),
                ("perspectives[0].label", json!(7)),
                ("perspectives[2].references", json!("T0001")),
            ],
        ),
        (
            "register_round",
            json!({"dialogue": "shapes", "request": {"round": "zero"}}),
            vec![("round", json!("zero"))],
        ),
        (
            "register_verdict",
            json!({"dialogue": "shapes", "request": {"verdict_id": "final", "type": "final",
                   "recommendation": "r", "force": "yes"}}),
            vec![("force", json!("yes"))],
        ),
        (
            "update_statuses",
            json!({"dialogue": "shapes", "request": {"updates": [{"id": "T0001", "status": 3}]}}),
            vec![("updates[0].status", json!(3))],
        ),
        (
            "create_dialogue",
            json!({"request": {"title": "T", "question": "Q", "experts": [{"slug": "a", "role": "A", "relevance": "high"}]}}),
            vec![("experts[0].relevance", json!("high"))],
        ),
    ];
    for (i, (tool, arguments, expected)) in rows.iter().enumerate() {
        let id = 10 + i as u64;
        session.send(call(id, tool, arguments.clone()).as_bytes());
        let reply = session.reply();
        assert_eq!(reply["id"], id, "{reply}");
        let result = &reply["result"];
        assert_eq!(result["isError"], true, "{tool}: {reply}");
        let errors = result["structuredContent"]["errors"].as_array().unwrap();
        let found: Vec<(&str, Value)> = errors
            .iter()
            .map(|e| (e["field"].as_str().unwrap(), e["value"].clone()))
            .collect();
        assert_eq!(&found, expected, "{tool}: {reply}");
        for error in errors {
            assert_eq!(error["code"], "malformed_request", "{error}");
            assert!(error["suggestion"].is_string(), "{error}");
            assert!(
                error["message"]
                    .as_str()
                    .unwrap()
                    .starts_with(error["field"].as_str().unwrap()),
                "{error}"
            );
        }
    }
    session.alive(99);
    drop(session.finish());
    let list: Value = serde_json::from_slice(
        &sandbox
            .process()
            .args(["--json", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    assert_eq!(
        list[0]["commits"], 1,
        "only the creation was stored: {list}"
    );
}
