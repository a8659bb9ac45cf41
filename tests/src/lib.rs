//! Helpers shared by the integration tests: the built `dlg` binary and a throwaway data directory.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use aws_sdk_dynamodb::types::AttributeValue;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

/// Path of the `dlg` binary, built once per test process with the workspace's cargo (so tests
/// never run a stale binary). `DLG_BIN` overrides it.
pub fn dlg_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("DLG_BIN") {
            return PathBuf::from(path);
        }
        build_binary("dlg")
    })
}

/// Builds a binary of the workspace (`dlg`, `bootstrap`) in debug and returns its path. It is
/// built with the feature set of the workspace's test build (`--workspace --tests`), which
/// `cargo test --workspace` has just compiled, so only the binary itself is linked: building it
/// alone (`-p dlg-writer`) would resolve features differently and compile every dependency a
/// second time.
pub fn build_binary(name: &str) -> PathBuf {
    let output = cargo()
        .args([
            "build",
            "--quiet",
            "--workspace",
            "--tests",
            "--bin",
            name,
            "--message-format=json",
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run cargo to build {name}: {e}"));
    assert!(
        output.status.success(),
        "building {name} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|message| {
            message["target"]["name"] == name
                && message["target"]["kind"][0] == "bin"
                && message["profile"]["test"] == false
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo did not report the {name} executable"))
}

/// The workspace's cargo, run at the repository root without the variables cargo gives test
/// processes of their own package (CARGO_MANIFEST_DIR, ...): some build scripts track them, so
/// passing them on would rebuild half the tree.
pub fn cargo() -> std::process::Command {
    let program = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = std::process::Command::new(program);
    command.current_dir(repo_root());
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if name.starts_with("CARGO_") && !matches!(name.as_str(), "CARGO_HOME" | "CARGO_TARGET_DIR")
        {
            command.env_remove(&name);
        }
    }
    command
}

/// The folder holding `cargo-lambda`, installed once from PyPI by `infra/scripts/cargo-lambda.sh`.
pub fn cargo_lambda_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = repo_root().join("infra/scripts/cargo-lambda.sh");
        let output = std::process::Command::new(&script)
            .arg("install")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(
            output.status.success(),
            "installing cargo-lambda failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
    })
}

/// A loopback TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .unwrap_or_else(|e| panic!("no free loopback port: {e}"))
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
        let home = tempfile::tempdir().unwrap_or_else(|e| panic!("cannot create a temp dir: {e}"));
        // Owner-only, as `dlg` creates its own data directory (a looser one is warned about).
        std::fs::set_permissions(
            home.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap_or_else(|e| panic!("cannot restrict the temp dir: {e}"));
        Self { home }
    }

    /// `dlg` with `DLG_HOME` set to the sandbox, a fixed actor, and no inherited store settings.
    pub fn dlg(&self) -> assert_cmd::Command {
        assert_cmd::Command::from_std(self.process())
    }

    /// [`Sandbox::dlg`] as a plain process, for tests that spawn, wait and kill it.
    pub fn process(&self) -> std::process::Command {
        let mut command = std::process::Command::new(dlg_bin());
        command
            .env("DLG_HOME", self.home.path())
            .env("DLG_ACTOR", "e2e-test")
            .env_remove("DLG_STORE")
            .env_remove("DLG_KMS_KEY")
            .env_remove("DLG_KMS_ENDPOINT")
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

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// The environment variable naming the folder of shared dialogue archives (`.ci/run` sets it to
/// `../shared/fixtures`, the folder that sits beside the repository).
pub const FIXTURES_VAR: &str = "DLG_FIXTURES";

/// The shared dialogue archives under `DLG_FIXTURES` joined with `sub`, or `None` after telling
/// stderr, loudly, that `test` is skipped and how to run it. A clone with nothing beside it still
/// passes `cargo test --workspace`; a variable that names a missing folder is a failure, not a
/// skip, so CI cannot skip by mistake.
pub fn fixtures(sub: &str, test: &str) -> Option<PathBuf> {
    let Some(root) = std::env::var_os(FIXTURES_VAR).filter(|v| !v.is_empty()) else {
        // Written to the stderr handle itself, not through `eprintln!`, which the test harness
        // captures and hides for a passing test: a skip must be seen.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "SKIPPED {test}: it reads the shared dialogue archives, and {FIXTURES_VAR} is not set \
             (run with {FIXTURES_VAR}=../shared/fixtures, as .ci/run does)"
        );
        return None;
    };
    let root = PathBuf::from(root);
    let root = if root.is_relative() {
        repo_root().join(root)
    } else {
        root
    };
    let folder = root.join(sub);
    assert!(
        folder.is_dir(),
        "{FIXTURES_VAR} names {}, which has no folder {sub}",
        root.display()
    );
    Some(folder)
}

fn dynamodb_script() -> PathBuf {
    repo_root().join("infra/scripts/dynamodb-local.sh")
}

/// Installs DynamoDB Local with the project's script (once per test process); panics with the
/// script's message (what to install) when Java or npm is missing.
pub fn install_dynamodb_local() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let output = std::process::Command::new("bash")
            .arg(dynamodb_script())
            .arg("install")
            .output()
            .unwrap_or_else(|e| panic!("cannot run bash for {}: {e}", dynamodb_script().display()));
        assert!(
            output.status.success(),
            "installing DynamoDB Local failed:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    });
}

/// A DynamoDB Local process on a loopback port, started by the project's script. It exits when
/// this handle is dropped, or within a second of the test process ending.
#[derive(Debug)]
pub struct DynamoLocal {
    pub endpoint: String,
    port: u16,
    db_path: Option<PathBuf>,
    child: Option<std::process::Child>,
    log: PathBuf,
}

impl DynamoLocal {
    /// Starts an instance; `db_path` makes it persistent across restarts.
    pub fn start(db_path: Option<&Path>) -> Self {
        install_dynamodb_local();
        let port = free_port();
        let log = std::env::temp_dir().join(format!(
            "dlg-dynamodb-local-{}-{port}.log",
            std::process::id()
        ));
        let mut local = Self {
            endpoint: format!("http://127.0.0.1:{port}"),
            port,
            db_path: db_path.map(Path::to_path_buf),
            child: None,
            log,
        };
        local.restart();
        local
    }

    /// Starts the process again on the same port (and database path).
    pub fn restart(&mut self) {
        let mut args = vec![
            "serve".to_owned(),
            "--port".to_owned(),
            self.port.to_string(),
        ];
        args.extend(["--parent".to_owned(), std::process::id().to_string()]);
        if let Some(path) = &self.db_path {
            args.extend(["--db-path".to_owned(), path.display().to_string()]);
        }
        self.child = Some(serve(
            "DynamoDB Local",
            &dynamodb_script(),
            &args,
            self.port,
            &self.log,
        ));
    }

    /// Stops the process (the script's trap stops Java) and waits until the port is closed.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .status();
            let _ = child.wait();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
            while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok()
                && std::time::Instant::now() < deadline
            {
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
        }
    }
}

impl Drop for DynamoLocal {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Runs `bash script args…` with its output in `log` and waits until `port` answers (or the
/// process exits, or a minute passes — each a panic with the log).
fn serve(name: &str, script: &Path, args: &[String], port: u16, log: &Path) -> std::process::Child {
    let out = std::fs::File::create(log)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", log.display()));
    let err = out
        .try_clone()
        .unwrap_or_else(|e| panic!("cannot clone a log handle: {e}"));
    let mut child = std::process::Command::new("bash")
        .arg(script)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "{name} exited ({status}):\n{}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{name} did not answer on port {port} within 60 s:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    child
}

/// Installs with `infra/scripts/{script} install`, starts `… serve --port P --parent <this
/// process>` on a free port, and returns the port and the log file. The server lives as long as this process: the script's
/// watchdog stops it when the process ends.
fn serve_for_this_process(name: &str, script: &str) -> (u16, PathBuf) {
    let script = repo_root().join("infra/scripts").join(script);
    // Installing can take longer than starting is allowed to: do it first, with its own message.
    let install = std::process::Command::new("bash")
        .arg(&script)
        .arg("install")
        .output()
        .unwrap_or_else(|e| panic!("cannot run bash for {}: {e}", script.display()));
    assert!(
        install.status.success(),
        "installing {name} failed:\n{}",
        String::from_utf8_lossy(&install.stderr)
    );
    let port = free_port();
    let log = std::env::temp_dir().join(format!(
        "dlg-{}-{}-{port}.log",
        name.replace(' ', "-"),
        std::process::id()
    ));
    let args = [
        "serve".to_owned(),
        "--port".to_owned(),
        port.to_string(),
        "--parent".to_owned(),
        std::process::id().to_string(),
    ];
    std::mem::forget(serve(name, &script, &args, port, &log));
    (port, log)
}

/// The local KMS-compatible endpoint the tests share (moto's server, installed from PyPI and
/// started by `infra/scripts/kms-local.sh`; it ends with the test process).
pub fn shared_kms() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        let (port, _) = serve_for_this_process("local KMS", "kms-local.sh");
        format!("http://127.0.0.1:{port}")
    })
}

/// A throwaway PostgreSQL on a loopback port (installed when missing and started by
/// `infra/scripts/postgres-local.sh`; it ends with this process). Returns a connection string
/// for the user `dlg` and database `postgres`.
pub fn shared_postgres() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let (port, log) = serve_for_this_process("PostgreSQL", "postgres-local.sh");
        let url = format!("host=127.0.0.1 port={port} user=dlg dbname=postgres");
        // The port opens before the server accepts sessions ("the database system is starting up").
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        while let Err(e) = postgres::Client::connect(&url, postgres::NoTls) {
            assert!(
                std::time::Instant::now() < deadline,
                "PostgreSQL did not accept a session within 30 s: {e}\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        url
    })
}

/// A fresh symmetric KMS key at `endpoint`; returns its ARN.
pub async fn create_kms_key(endpoint: &str) -> String {
    let sdk = dlg_store::aws::sdk_config("us-east-1", Some(endpoint)).await;
    let answer = aws_sdk_kms::Client::new(&sdk)
        .create_key()
        .description("dlg test master key")
        .send()
        .await
        .unwrap_or_else(|e| panic!("a KMS key is created at {endpoint}: {e:?}"));
    answer
        .key_metadata()
        .map(|m| m.arn().unwrap_or(m.key_id()).to_owned())
        .unwrap_or_else(|| panic!("CreateKey at {endpoint} answered no key metadata"))
}

/// The DynamoDB endpoint the tests share: `DLG_DYNAMODB_ENDPOINT` when set, otherwise a DynamoDB
/// Local this test process starts (and that ends with it).
pub fn shared_dynamodb() -> &'static str {
    static ENDPOINT: OnceLock<String> = OnceLock::new();
    ENDPOINT.get_or_init(|| {
        if let Ok(endpoint) = std::env::var("DLG_DYNAMODB_ENDPOINT") {
            return endpoint;
        }
        let local = DynamoLocal::start(None);
        let endpoint = local.endpoint.clone();
        // Lives as long as the process; the script's watchdog stops Java when the process ends.
        std::mem::forget(local);
        endpoint
    })
}

/// A DynamoDB store on fresh tables (created from the template) at `endpoint`; the tables are
/// deleted when it is dropped.
pub async fn fresh_tables(endpoint: &str, test: &str) -> TestTables {
    fresh_tables_with(endpoint, test, None).await
}

/// [`fresh_tables`], with a client whose requests go into `log` when given.
pub async fn fresh_tables_with(endpoint: &str, test: &str, log: Option<&RequestLog>) -> TestTables {
    use dlg_store::dynamodb::{DynamoConfig, DynamoStore, sdk_config};
    let config =
        DynamoConfig::with_prefix(Some(endpoint.to_owned()), "us-east-1", &unique_prefix(test));
    let mut client =
        aws_sdk_dynamodb::config::Builder::from(&sdk_config(&config.projection()).await);
    if let Some(log) = log {
        client = client.interceptor(log.clone());
    }
    let store =
        DynamoStore::with_client(aws_sdk_dynamodb::Client::from_conf(client.build()), config);
    let cleanup = DropTables::of(store.config());
    let created = dlg_store::dynamodb::tables::create_tables(&store)
        .await
        .unwrap_or_else(|e| panic!("tables are created at {endpoint}: {e}"));
    assert_eq!(created.len(), 3, "three tables are created");
    TestTables {
        store,
        _cleanup: cleanup,
    }
}

/// A store on tables a test created; they are deleted when it goes out of scope.
#[derive(Debug)]
pub struct TestTables {
    store: dlg_store::dynamodb::DynamoStore,
    _cleanup: DropTables,
}

impl std::ops::Deref for TestTables {
    type Target = dlg_store::dynamodb::DynamoStore;

    fn deref(&self) -> &Self::Target {
        &self.store
    }
}

/// Deletes a test's DynamoDB tables when dropped, whether the test passed or panicked, so a test
/// run leaves DynamoDB Local as it found it.
#[derive(Debug)]
pub struct DropTables {
    endpoint: Option<String>,
    region: String,
    names: Vec<String>,
}

impl DropTables {
    /// The three tables of `config`.
    pub fn of(config: &dlg_store::dynamodb::DynamoConfig) -> Self {
        Self {
            endpoint: config.endpoint.clone(),
            region: config.region.clone(),
            names: vec![
                config.events_table.clone(),
                config.graph_table.clone(),
                config.keys_table.clone(),
            ],
        }
    }

    /// The tables `dlg --table-prefix PREFIX init-tables` creates at `endpoint`.
    pub fn with_prefix(endpoint: &str, prefix: &str) -> Self {
        Self::of(&dlg_store::dynamodb::DynamoConfig::with_prefix(
            Some(endpoint.to_owned()),
            "us-east-1",
            prefix,
        ))
    }
}

impl Drop for DropTables {
    fn drop(&mut self) {
        let names = std::mem::take(&mut self.names);
        let (endpoint, region) = (self.endpoint.clone(), self.region.clone());
        // A thread with a runtime of its own: the test's runtime may be the one dropping this.
        let deleted = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let sdk = dlg_store::aws::sdk_config(&region, endpoint.as_deref()).await;
                // One attempt each: a test that stopped its endpoint has nothing left to delete.
                let conf = aws_sdk_dynamodb::config::Builder::from(&sdk)
                    .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled())
                    .build();
                let client = aws_sdk_dynamodb::Client::from_conf(conf);
                for name in names {
                    // A table the test never created (or already deleted) is not an error here.
                    let _ = client.delete_table().table_name(name).send().await;
                }
            });
        });
        let _ = deleted.join();
    }
}

/// A table prefix no other test in this run uses.
pub fn unique_prefix(test: &str) -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("t{}-{n}-{test}", std::process::id())
}

/// A Python with the official MCP SDK (`tests/mcp/requirements.txt`), in a virtual environment
/// under `target/` that this creates once and reuses.
pub fn mcp_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| venv_python("mcp-venv", "tests/mcp/requirements.txt"))
}

/// A Python with PyNaCl and BLAKE3 (`tests/cleanroom/requirements.txt`), for the independent
/// verifier of docs/format.md, in a virtual environment under `target/`.
pub fn cleanroom_python() -> &'static Path {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| venv_python("cleanroom-venv", "tests/cleanroom/requirements.txt"))
}

/// The Python of the virtual environment `target/{name}` with the pinned `requirements` (a path
/// from the repository root) installed from PyPI; created once, and again when the requirements
/// change.
fn venv_python(name: &str, requirements: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    let venv = target.join(name);
    let python = venv.join("bin/python");
    let requirements = repo_root().join(requirements);
    let stamp = venv.join("installed.txt");
    let wanted = std::fs::read_to_string(&requirements).unwrap_or_default();
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        let run = |program: &Path, args: &[&str]| {
            let output = std::process::Command::new(program)
                .args(args)
                .output()
                .unwrap_or_else(|e| {
                    panic!(
                        "cannot run {}: {e} (install Python 3.10+)",
                        program.display()
                    )
                });
            assert!(
                output.status.success(),
                "{} {args:?} failed:\n{}",
                program.display(),
                String::from_utf8_lossy(&output.stderr)
            );
        };
        run(
            Path::new("python3"),
            &["-m", "venv", &venv.to_string_lossy()],
        );
        run(
            &python,
            &[
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
                &requirements.to_string_lossy(),
            ],
        );
        std::fs::write(&stamp, wanted)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", stamp.display()));
    }
    python
}

/// Records every request an SDK client sends (DynamoDB, DynamoDB Streams, KMS): its operation
/// and its body, from which [`RequestLog::take_calls`] derives the IAM action and resource each
/// request needs.
#[derive(Debug, Clone, Default)]
pub struct RequestLog(Arc<Mutex<Vec<Sent>>>);

/// One request as it left the client.
#[derive(Debug, Clone)]
struct Sent {
    /// The `x-amz-target` header: `DynamoDB_20120810.Query`, `TrentService.Decrypt`, ...
    target: String,
    body: Vec<u8>,
}

/// What one request asks IAM for: an action (`dynamodb:PutItem`) on a resource named as the
/// request names it: `table/NAME`, `table/NAME/index`, `table/NAME/stream`, `key/KEY-ID`, or `*`
/// for an action on no particular resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Call {
    pub action: String,
    pub resource: String,
}

impl RequestLog {
    fn drain(&self) -> Vec<Sent> {
        std::mem::take(
            &mut *self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    /// The DynamoDB operations recorded since the last call, in order (`Query`, `PutItem`, ...).
    pub fn take(&self) -> Vec<String> {
        self.drain()
            .into_iter()
            .map(|sent| sent.operation().to_owned())
            .collect()
    }

    /// The IAM action and resource of each request recorded since the last call, in order. A
    /// transaction is one call per item, as IAM authorizes it (TransactWriteItems of puts needs
    /// `dynamodb:PutItem` on each table).
    pub fn take_calls(&self) -> Vec<Call> {
        self.drain().iter().flat_map(Sent::calls).collect()
    }
}

impl Sent {
    fn operation(&self) -> &str {
        self.target
            .rsplit_once('.')
            .map_or(self.target.as_str(), |(_, operation)| operation)
    }

    /// The service prefix IAM uses for this request (DynamoDB Streams' actions are `dynamodb:`).
    fn service(&self) -> &'static str {
        if self.target.starts_with("TrentService.") {
            "kms"
        } else if self.target.starts_with("DynamoDB") {
            "dynamodb"
        } else {
            "unknown"
        }
    }

    fn calls(&self) -> Vec<Call> {
        let body: serde_json::Value = serde_json::from_slice(&self.body).unwrap_or_default();
        let service = self.service();
        let call = |operation: &str, resource: String| Call {
            action: format!("{service}:{operation}"),
            resource,
        };
        let table = |request: &serde_json::Value| {
            let name = request["TableName"].as_str().unwrap_or("?");
            match request["IndexName"].as_str() {
                Some(_) => format!("table/{name}/index"),
                None => format!("table/{name}"),
            }
        };
        match self.operation() {
            "TransactWriteItems" | "TransactGetItems" => body["TransactItems"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|item| item.as_object()?.iter().next())
                .map(|(kind, request)| {
                    let operation = match kind.as_str() {
                        "Put" => "PutItem",
                        "Update" => "UpdateItem",
                        "Delete" => "DeleteItem",
                        "Get" => "GetItem",
                        _ => "ConditionCheckItem",
                    };
                    call(operation, table(request))
                })
                .collect(),
            "BatchWriteItem" | "BatchGetItem" => body["RequestItems"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, _)| call(self.operation(), format!("table/{name}")))
                .collect(),
            operation if service == "kms" => vec![call(
                operation,
                format!("key/{}", body["KeyId"].as_str().unwrap_or("?")),
            )],
            operation @ ("DescribeStream" | "GetShardIterator") => {
                // arn:aws:dynamodb:REGION:ACCOUNT:table/NAME/stream/LABEL
                let arn = body["StreamArn"].as_str().unwrap_or("?");
                let name = arn
                    .split_once(":table/")
                    .and_then(|(_, rest)| rest.split('/').next())
                    .unwrap_or("?");
                vec![call(operation, format!("table/{name}/stream"))]
            }
            // A shard iterator names its stream only opaquely.
            "GetRecords" => vec![call("GetRecords", "stream".to_owned())],
            "ListStreams" => vec![call("ListStreams", "*".to_owned())],
            operation => vec![call(operation, table(&body))],
        }
    }
}

impl Intercept for RequestLog {
    fn name(&self) -> &'static str {
        "request log"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _components: &RuntimeComponents,
        _config: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let request = context.request();
        let sent = Sent {
            target: request
                .headers()
                .get("x-amz-target")
                .unwrap_or("unknown")
                .to_owned(),
            body: request.body().bytes().unwrap_or_default().to_vec(),
        };
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(sent);
        Ok(())
    }
}

/// DynamoDB's size of an item: attribute names plus values (strings and binaries by length,
/// numbers about one byte per two digits plus one).
pub fn item_size(item: &std::collections::HashMap<String, AttributeValue>) -> usize {
    item.iter()
        .map(|(name, value)| {
            name.len()
                + match value {
                    AttributeValue::S(s) => s.len(),
                    AttributeValue::N(n) => n.len().div_ceil(2) + 1,
                    AttributeValue::B(b) => b.as_ref().len(),
                    _ => 1,
                }
        })
        .sum()
}

/// Every item of a dialogue's graph partition, read with a paged Query (size them with
/// [`item_size`] to measure the partition as DynamoDB counts it).
pub async fn graph_partition(
    store: &dlg_store::dynamodb::DynamoStore,
    dialogue: &str,
) -> Vec<std::collections::HashMap<String, AttributeValue>> {
    store
        .client()
        .query()
        .table_name(&store.config().graph_table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(":pk", AttributeValue::S(format!("D#{dialogue}")))
        .into_paginator()
        .items()
        .send()
        .collect::<Result<Vec<_>, _>>()
        .await
        .unwrap_or_else(|e| panic!("the graph partition of {dialogue} is read: {e:?}"))
}

/// The signing key test ledgers sign with (`dlg_core::testing::test_signer`, boxed for
/// `Ledger::with_signer`).
pub fn signer() -> Box<dyn dlg_core::sign::Signer> {
    Box::new(dlg_core::testing::test_signer())
}
