//! The `dlg` binary: parse arguments, open the configured store and key, run the command, print
//! the answer and exit with its code. Everything else lives in the library.

use std::io::Write as _;
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use dlg_core::seal::KeyProvider;
use dlg_core::sign::Signer;
use dlg_projector::runner::{PollReport, StreamRunner};
use dlg_store::Store;
use dlg_store::dynamodb::tables;
use dlg_store::dynamodb::{DynamoProjection, DynamoStore};
use dlg_store::sqlite::SqliteStore;
use dlg_writer::cli::{self, Cli, Cmd, Failure, Global, StoreKind, exit};
use dlg_writer::heads::Heads;
use dlg_writer::keys::kms::KmsKeys;
use dlg_writer::keys::kms_signer::KmsSigner;
use dlg_writer::keys::{KeyFileError, MasterKeyFile, SigningKeyFile};
use dlg_writer::ledger::{Ledger, LedgerError};

fn data_dir(home: Option<PathBuf>) -> Result<PathBuf, Failure> {
    let dir = home
        .or_else(|| dirs::data_dir().map(|d| d.join("dlg")))
        .ok_or_else(|| {
            Failure::from(LedgerError::DataDirectory(
                "no data directory: set DLG_HOME".to_owned(),
            ))
        })?;
    // Created owner-only: the directory holds the key files, the ledger and the high-water marks.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .map_err(|e| {
            Failure::from(LedgerError::DataDirectory(format!(
                "cannot create the data directory {}: {e} (set DLG_HOME to a writable directory)",
                dir.display()
            )))
        })?;
    warn_if_shared(&dir, "data directory", "chmod 700");
    Ok(dir)
}

/// Warns (once per path and run) when `path` can be read or entered by other users: the ledger
/// holds structure, idempotency keys and wrapped keys in clear, which only its owner should
/// see. A warning, not a refusal: a ledger may be shared with an auditor's group on purpose.
fn warn_if_shared(path: &std::path::Path, what: &str, fix: &str) {
    use std::sync::Mutex;
    static WARNED: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let Ok(metadata) = std::fs::metadata(path) else {
        return;
    };
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 == 0 {
        return;
    }
    let mut warned = WARNED.lock().unwrap_or_else(|e| e.into_inner());
    if warned.iter().any(|p| p == path) {
        return;
    }
    warned.push(path.to_owned());
    eprintln!(
        "warning: the {what} {} has mode {mode:o}: other users on this machine can read it; run `{fix} {}`",
        path.display(),
        path.display()
    );
}

/// Whether a command verifies only, and so runs without the master key when there is none.
fn verifies_only(command: &Cmd) -> bool {
    matches!(
        command,
        Cmd::Audit { .. } | Cmd::Digest { .. } | Cmd::Checkpoint { .. } | Cmd::Signer
    )
}

/// Whether a command may create the local signing key (it signs, or prints the key).
fn signs(command: &Cmd) -> bool {
    !matches!(
        command,
        Cmd::Audit { .. }
            | Cmd::Digest { .. }
            | Cmd::List
            | Cmd::Show { .. }
            | Cmd::Tensions { .. }
            | Cmd::Graph { .. }
            | Cmd::Log { .. }
            | Cmd::Export { .. }
            | Cmd::Rebuild { .. }
            | Cmd::Shred { .. }
            | Cmd::Import { dry_run: true, .. }
    )
}

/// The signer the configuration selects: AWS KMS with `--signing-kms-key`, otherwise the
/// signing key file of the data directory. The file is created only by a command that signs and
/// only while this data directory has never signed (no high-water marks); a read that finds no
/// file goes on without a signer.
async fn signer(global: &Global, command: &Cmd) -> Result<Option<Box<dyn Signer>>, Failure> {
    if let Some(config) = global.keys.signing_kms(&global.dynamodb.region) {
        let kms = KmsSigner::connect(config)
            .await
            .map_err(LedgerError::from)?;
        return Ok(Some(Box::new(kms)));
    }
    let home = data_dir(global.home.clone())?;
    let file = SigningKeyFile::in_dir(&home);
    if !signs(command) && !file.path().exists() {
        return Ok(None);
    }
    let heads = Heads::root(&home);
    let may_create = !Heads::any_in(&home);
    let path = file.path().to_owned();
    let signer = file
        .load(may_create, || KeyFileError::SigningKeyMissing {
            path,
            heads,
        })
        .map_err(LedgerError::from)?;
    Ok(Some(Box::new(signer)))
}

/// Builds the ledger over `store` with the configured master key, signer, trusted keys and
/// high-water marks (kept in the data directory, one folder per store: `scope`).
async fn open<S: Store>(
    store: S,
    global: &Global,
    command: &Cmd,
    scope: &str,
) -> Result<Ledger<S>, Failure> {
    let trusted = global
        .keys
        .trusted()
        .map_err(|e| Failure::new(exit::USAGE, "usage", e.to_string()))?;
    let ledger = match master_key(global, &store, verifies_only(command)).await? {
        Some((master, source)) => Ledger::new(store, master, source),
        None => Ledger::without_content_keys(store),
    };
    let mut ledger = ledger
        .with_trusted(trusted)
        .with_heads(Heads::in_home(&data_dir(global.home.clone())?, scope));
    if let Some(signer) = signer(global, command).await? {
        ledger = ledger.with_signer(signer);
    }
    Ok(ledger)
}

/// The master key provider the configuration selects: AWS KMS with `--kms-key`, otherwise the
/// key file of the data directory (created only for an empty store). Returns it with its name
/// for messages; `None` when `optional` and there is no key file (a keyless audit).
async fn master_key<S: Store>(
    global: &Global,
    store: &S,
    optional: bool,
) -> Result<Option<(Box<dyn KeyProvider>, String)>, Failure> {
    if let Some(config) = global.keys.kms(&global.dynamodb.region) {
        let kms = KmsKeys::connect(config).await;
        let name = kms.describe();
        return Ok(Some((Box::new(kms), name)));
    }
    let home = data_dir(global.home.clone())?;
    let key_file = MasterKeyFile::in_dir(&home);
    if optional && !key_file.exists() {
        return Ok(None);
    }
    let empty = store
        .dialogues()
        .await
        .map_err(LedgerError::from)?
        .is_empty();
    let master = key_file.load(empty).map_err(LedgerError::from)?;
    Ok(Some((
        Box::new(master),
        key_file.path().display().to_string(),
    )))
}

/// Runs the command on the ledger; `dlg mcp` serves until the client disconnects.
async fn dispatch<S: Store + 'static>(ledger: Ledger<S>, cli: Cli) -> Result<cli::Output, Failure> {
    match cli.command {
        Cmd::Mcp => {
            // A message holds a request and its JSON-RPC envelope: allow the request limit and
            // a little more.
            let limit = usize::try_from(cli.global.max_request_bytes)
                .unwrap_or(usize::MAX)
                .saturating_add(64 * 1024);
            dlg_writer::mcp::serve(ledger, &cli.global.actor, limit).await?;
            Ok(cli::Output::new(String::new(), serde_json::Value::Null))
        }
        command => cli::run(&ledger, &cli.global, command).await,
    }
}

async fn run(cli: Cli) -> Result<cli::Output, Failure> {
    match cli.global.store {
        StoreKind::Sqlite => {
            let home = data_dir(cli.global.home.clone())?;
            let database = home.join("ledger.db");
            let store = SqliteStore::open(&database).map_err(LedgerError::from)?;
            warn_if_shared(&database, "database", "chmod 600");
            let ledger = open(store, &cli.global, &cli.command, "sqlite").await?;
            dispatch(ledger, cli).await
        }
        StoreKind::Dynamodb => {
            let store = DynamoStore::connect(cli.global.dynamodb.config()).await;
            if let Cmd::InitTables = cli.command {
                let created = tables::create_tables(&store).await?;
                return Ok(cli::Output::new(
                    format!(
                        "{}: created {} table(s) from the template",
                        store.describe(),
                        created.len()
                    ),
                    serde_json::json!({"created": created}),
                ));
            }
            if let Cmd::Project { once, interval_ms } = cli.command {
                return project(store.projection().clone(), once, interval_ms).await;
            }
            let scope = format!("dynamodb-{}", cli.global.dynamodb.config().events_table);
            let projection = cli.global.dynamodb.projector.into();
            let ledger = open(store, &cli.global, &cli.command, &scope)
                .await?
                .with_projection(projection);
            dispatch(ledger, cli).await
        }
    }
}

/// `dlg --store dynamodb project`: the local stream runner. It holds no key.
async fn project(
    store: DynamoProjection,
    once: bool,
    interval_ms: u64,
) -> Result<cli::Output, Failure> {
    let description = store.describe();
    let mut runner = StreamRunner::connect(store)
        .await
        .map_err(LedgerError::from)?;
    if once {
        // Poll until the stream has nothing new (a failed batch is retried on the next poll).
        let mut total = PollReport::default();
        loop {
            let report = runner.poll().await.map_err(LedgerError::from)?;
            if report.batches == 0 {
                break;
            }
            total.batches += report.batches;
            total.records += report.records;
            total.applied += report.applied;
            total.failed_batches += report.failed_batches;
            if report.failed_batches > 0 && report.applied == 0 {
                // Stuck on a record the handler keeps refusing (the log says why).
                return Err(Failure::new(
                    exit::FAILURE,
                    "projection",
                    format!(
                        "{description}: the stream holds a record that cannot be projected ({} applied before it); the log above names it — run `dlg --store dynamodb audit`",
                        total.applied
                    ),
                ));
            }
        }
        return Ok(cli::Output::new(
            format!(
                "{description}: {} record(s) in {} batch(es), {} commit(s) applied, {} batch(es) failed",
                total.records, total.batches, total.applied, total.failed_batches
            ),
            serde_json::json!({"records": total.records, "batches": total.batches,
                               "applied": total.applied, "failed_batches": total.failed_batches}),
        ));
    }
    eprintln!(
        "projecting {} into the graph table of {description}; Ctrl-C stops",
        runner.stream_arn()
    );
    let stop = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    runner
        .run(std::time::Duration::from_millis(interval_ms), stop)
        .await;
    Ok(cli::Output::new(String::new(), serde_json::Value::Null))
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(dlg_projector::logging::filter("DLG_LOG", "warn"))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    let json = cli.global.json;
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::FAILURE);
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(output) => {
            // A closed pipe (`dlg log | head`) is the reader's choice, not an error.
            let mut stdout = std::io::stdout().lock();
            let _ = if json {
                writeln!(stdout, "{}", output.json)
            } else if output.verbatim {
                writeln!(stdout, "{}", output.text)
            } else if !output.text.is_empty() {
                // Renderers neutralise content field by field; this is the last line of defence.
                writeln!(stdout, "{}", dlg_core::text::block(&output.text))
            } else {
                Ok(())
            };
            ExitCode::from(output.code)
        }
        Err(failure) => {
            // Validation errors are always JSON so agent tooling can correct and resend.
            if json || failure.code == exit::REJECTED {
                eprintln!("{}", failure.json);
            } else {
                eprintln!("error: {}", dlg_core::text::block(&failure.message));
            }
            ExitCode::from(failure.code)
        }
    }
}
