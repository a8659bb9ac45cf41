//! Section 7: the Lambda's package size and cold start to the first runtime poll, and
//! invocations under cargo lambda watch.

use std::time::{Duration, Instant};

use crate::harness::*;

/// Serves one connection of a fake Lambda runtime API on `listener` and returns when the first
/// request (the runtime's poll for the next invocation) arrives.
pub(crate) fn first_poll(listener: &std::net::TcpListener) -> String {
    use std::io::Read as _;
    let (mut stream, _) = listener.accept().unwrap();
    let mut buffer = [0u8; 1024];
    let n = stream.read(&mut buffer).unwrap_or(0);
    String::from_utf8_lossy(&buffer[..n])
        .lines()
        .next()
        .unwrap_or_default()
        .to_owned()
}

pub(crate) fn lambda(mode: Mode) -> Section {
    let mut section = Section::new("7. Lambda: package size and cold start");
    let root = dlg_tests::repo_root();
    let zip = root.join("infra/dist/projector.zip");
    // The full run packages the Lambda itself; quick mode uses a package only if one is there.
    if !(mode.quick || zip.exists()) {
        let status = std::process::Command::new("bash")
            .arg(root.join("infra/scripts/package-lambda.sh"))
            .status()
            .unwrap();
        assert!(status.success(), "infra/scripts/package-lambda.sh failed");
    }
    if !zip.exists() {
        section
            .note("Skipped in quick mode: run infra/scripts/package-lambda.sh first.".to_owned());
        return section;
    }
    // The binary exactly as deployed: unpacked from the zip.
    let unpacked = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("python3")
        .args(["-m", "zipfile", "-e"])
        .arg(&zip)
        .arg(unpacked.path())
        .status()
        .unwrap();
    assert!(status.success(), "cannot unpack {}", zip.display());
    let bootstrap = unpacked.path().join("bootstrap");
    std::fs::set_permissions(
        &bootstrap,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let zipped = std::fs::metadata(&zip).unwrap().len();
    let unzipped = std::fs::metadata(&bootstrap).unwrap().len();
    section.note(format!(
        "`infra/dist/projector.zip`: {zipped} bytes ({:.2} MB) zipped; `bootstrap` {unzipped} bytes unzipped.",
        zipped as f64 / 1e6
    ));
    let endpoint = dlg_tests::shared_dynamodb().to_owned();
    let samples = mode.samples(15);
    let mut polls = Vec::new();
    let mut request = String::new();
    for _ in 0..samples + 1 {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let api = listener.local_addr().unwrap().to_string();
        let start = Instant::now();
        let mut child = std::process::Command::new(&bootstrap)
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", &api)
            .env("AWS_LAMBDA_FUNCTION_NAME", "dlg-projector")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/dlg-projector")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "local")
            .env("AWS_SECRET_ACCESS_KEY", "local")
            .env("DLG_EVENTS_TABLE", "bench-events")
            .env("DLG_GRAPH_TABLE", "bench-graph")
            .env("DLG_DYNAMODB_ENDPOINT", &endpoint)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        request = first_poll(&listener);
        polls.push(start.elapsed());
        let _ = child.kill();
        let _ = child.wait();
    }
    polls.remove(0);
    let cold = stats(polls);
    let spawn = time(1, samples, || {
        std::process::Command::new("true").status().unwrap();
    });
    section.timed(
        "process start → first poll of the runtime API",
        cold.median,
        spawn.median,
        "baseline: starting and reaping `true`; bootstrap also sets up logging, reads its configuration and builds the DynamoDB client (no network call) before lambda_runtime polls",
    );
    section.note(format!(
        "Process start → first poll: the release `bootstrap` unpacked from the zip, against a local stand-in for the runtime API that timestamps the first request (`{request}`)."
    ));
    if !mode.quick {
        cold_starts_under_watch(mode, &mut section);
    }
    section
}

/// One HTTP POST on loopback; returns the response's status line and body.
pub(crate) fn post(port: u16, path: &str, body: &str) -> String {
    use std::io::{Read as _, Write as _};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// Cold and warm invocations of the release `bootstrap` under `cargo lambda watch`: each sample
/// starts the runtime emulator afresh, so its first invocation starts the function process.
pub(crate) fn cold_starts_under_watch(mode: Mode, section: &mut Section) {
    let built = dlg_tests::cargo()
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "dlg-projector",
            "--bin",
            "bootstrap",
        ])
        .status()
        .unwrap();
    assert!(built.success(), "bootstrap builds in release");
    let endpoint = dlg_tests::shared_dynamodb().to_owned();
    let path = format!(
        "{}:{}",
        dlg_tests::cargo_lambda_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let invocation = "/2015-03-31/functions/bootstrap/invocations";
    let (mut cold, mut warm) = (Vec::new(), Vec::new());
    for _ in 0..mode.samples(5) {
        let port = dlg_tests::free_port();
        let mut watch = dlg_tests::cargo()
            .env("PATH", &path)
            .args(["lambda", "watch", "--release", "--ignore-changes", "-A", "127.0.0.1", "-P"])
            .arg(port.to_string())
            .args(["-p", "dlg-projector", "--bin", "bootstrap", "--env-var"])
            .arg(format!(
                "DLG_EVENTS_TABLE=bench-events,DLG_GRAPH_TABLE=bench-graph,DLG_DYNAMODB_ENDPOINT={endpoint},AWS_REGION=us-east-1"
            ))
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(120),
                "cargo lambda watch did not listen"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        for samples in [&mut cold, &mut warm] {
            let start = Instant::now();
            let answer = post(port, invocation, r#"{"Records": []}"#);
            samples.push(start.elapsed());
            assert!(answer.contains("batchItemFailures"), "{answer}");
        }
        let _ = watch.kill();
        let _ = watch.wait();
    }
    let (cold, warm) = (stats(cold), stats(warm));
    section.timed(
        "under `cargo lambda watch`: first invocation (cold) vs the next (warm)",
        cold.median,
        warm.median,
        "the cold invocation includes cargo-lambda's own first-invocation path (it checks the build with cargo before it starts the release `bootstrap` process) and the function's init; the row above isolates the binary's own start; both carry the emulator's HTTP hops",
    );
}
