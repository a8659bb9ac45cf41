//! Input cannot exhaust memory: a 200 MiB request on stdin, an endless stdin, and 50 MiB and
//! 300 MiB lines to `dlg mcp` are each refused with a clear error while the process stays small
//! (its peak resident memory, from `getrusage`, well under the input's size), and `dlg mcp`
//! answers the line and keeps serving. The figures (peak memory, seconds) are printed, and
//! docs/reliability.md records them; time is printed, never asserted.

use serde_json::Value;

use dlg_tests::Sandbox;

/// Runs `tests/measure/peak_rss.py MODE dlg ARGS` and returns its JSON line.
fn measure(sandbox: &Sandbox, mode: &str, args: &[&str]) -> Value {
    let script = dlg_tests::repo_root().join("tests/measure/peak_rss.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(mode)
        .arg(dlg_tests::dlg_bin())
        .arg("--home")
        .arg(sandbox.home.path())
        .args(args)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the measurement failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    eprintln!("MEASURED {report}");
    report
}

fn created() -> Sandbox {
    let sandbox = Sandbox::new();
    let done = sandbox
        .dlg()
        .args(["create", "--title", "Memory", "--question", "Bounded?"])
        .output()
        .unwrap();
    assert!(done.status.success());
    sandbox
}

const MAX_PEAK_MIB: f64 = 120.0;

#[test]
fn oversize_and_endless_requests_are_refused_in_bounded_memory() {
    let sandbox = created();
    for mode in ["label:200", "endless"] {
        let report = measure(&sandbox, mode, &["--json", "round", "memory"]);
        assert_eq!(report["exit"], 3, "{report}");
        let error = report["stderr"].to_string();
        assert!(
            error.contains("malformed_request")
                && error.contains("over the limit of 4194304 bytes"),
            "{report}"
        );
        let peak = report["peak_rss_mib"].as_f64().unwrap();
        assert!(peak < MAX_PEAK_MIB, "{mode}: peak {peak} MiB");
    }
}

#[test]
fn oversize_mcp_lines_are_answered_in_bounded_memory() {
    let sandbox = created();
    for mode in ["mcp:50", "mcp:300"] {
        let report = measure(&sandbox, mode, &["mcp"]);
        let replies: Vec<Value> = report["stdout"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| serde_json::from_str(l.as_str().unwrap()).unwrap())
            .collect();
        let refused = replies.iter().find(|r| r["error"]["code"] == -32600);
        assert!(
            refused.is_some_and(|r| r["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains("over this server's limit")),
            "{report}"
        );
        assert!(
            replies
                .iter()
                .any(|r| r["id"] == 2 && r.get("result").is_some()),
            "the session went on after the line: {report}"
        );
        let peak = report["peak_rss_mib"].as_f64().unwrap();
        assert!(peak < MAX_PEAK_MIB, "{mode}: peak {peak} MiB");
    }
}
