//! The `dlg` command line: argument parsing, reading JSON requests, and printing answers as
//! tables for people or JSON for tools. Every command is a plain async function over a
//! [`Ledger`], so tests can call the same code the binary runs.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Serialize;
use serde_json::{Value, json};

use dlg_core::chain::Digest;
use dlg_core::command::{
    ChangeDialogueStatus, Command, CreateDialogue, ExpertInput, RegisterRound, RegisterVerdict,
    StatusUpdateInput, UpdateStatuses,
};
use dlg_core::error::{ErrorCode, Rejected, ValidationError};
use dlg_core::graph::NodeItem;
use dlg_core::ids::{DialogueId, EntityId, EntityKind};
use dlg_core::model::{RefType, Status, tension_is_open};
use dlg_core::query::{ADDRESSING, AsOf, Direction, addressed_by, graph_as_of};

use crate::keys::KeyRing;
use crate::ledger::{Ledger, LedgerError, WriteOptions};
use crate::render;
use dlg_store::Store;

/// Exit codes: what a script can branch on.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// Something failed that is not one of the cases below (store unavailable, I/O).
    pub const FAILURE: u8 = 1;
    /// The command line itself is wrong (clap's usage errors).
    pub const USAGE: u8 = 2;
    /// The request was rejected by validation; the errors are JSON on stderr.
    pub const REJECTED: u8 = 3;
    /// The dialogue (or entity) does not exist.
    pub const NOT_FOUND: u8 = 4;
    /// The audit found problems.
    pub const AUDIT_FAILED: u8 = 5;
    /// A key problem: missing or loose key file, wrong key, shredded dialogue.
    pub const KEY: u8 = 6;
    /// An idempotency key reused for another request, or contention that did not resolve.
    pub const CONFLICT: u8 = 7;
}

/// The dialogue ledger: an encrypted, append-only, hash-chained record of multi-agent
/// deliberations.
#[derive(Debug, Parser)]
#[command(name = "dlg", version, long_about = None, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Cmd,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// Where the ledger lives.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "DLG_STORE",
        default_value = "sqlite"
    )]
    pub store: StoreKind,
    /// Data directory (SQLite file, master key). Default: the per-user data directory.
    #[arg(long, global = true, env = "DLG_HOME")]
    pub home: Option<PathBuf>,
    /// Print machine-readable JSON instead of tables (errors too, on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// Who is writing (tool, model or person), recorded in each commit.
    #[arg(long, global = true, env = "DLG_ACTOR", default_value = "dlg-cli")]
    pub actor: String,
    /// Idempotency key: retrying a write with the same key and request returns the original receipt.
    #[arg(long, global = true)]
    pub idempotency_key: Option<String>,
    /// Time to record (RFC 3339 UTC); defaults to now.
    #[arg(long, global = true, hide = true)]
    pub time: Option<String>,
    #[command(flatten)]
    pub dynamodb: DynamoArgs,
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// Which master key wraps each dialogue's data keys.
#[derive(Debug, Args)]
pub struct KeyArgs {
    /// AWS KMS key (key id, key ARN or alias ARN) that wraps each dialogue's data key, in
    /// --region. Default: the local key file `master.key` in the data directory.
    #[arg(long, global = true, env = "DLG_KMS_KEY")]
    pub kms_key: Option<String>,
    /// A KMS-compatible endpoint URL (a local test server). Default: AWS KMS in --region.
    #[arg(long, global = true, env = "DLG_KMS_ENDPOINT", value_parser = endpoint_url)]
    pub kms_endpoint: Option<String>,
}

/// An endpoint URL as the AWS SDK takes it: `http://` or `https://` and a host.
fn endpoint_url(text: &str) -> Result<String, String> {
    match text.split_once("://") {
        Some(("http" | "https", host)) if !host.is_empty() => Ok(text.to_owned()),
        _ => Err(format!(
            "`{text}` is not an endpoint URL: give the scheme and host, like http://localhost:8000"
        )),
    }
}

impl KeyArgs {
    /// The KMS configuration, when a KMS key is chosen (an empty value counts as none).
    pub fn kms(&self, region: &str) -> Option<crate::keys::kms::KmsConfig> {
        let key_id = self.kms_key.as_deref().filter(|k| !k.trim().is_empty())?;
        Some(crate::keys::kms::KmsConfig {
            key_id: key_id.trim().to_owned(),
            region: region.to_owned(),
            endpoint: self.kms_endpoint.clone().filter(|e| !e.trim().is_empty()),
        })
    }
}

/// Where the DynamoDB tables are (with `--store dynamodb`).
#[derive(Debug, Args)]
pub struct DynamoArgs {
    /// DynamoDB endpoint URL (DynamoDB Local); default: AWS's regional endpoint.
    #[arg(long, global = true, env = "DLG_DYNAMODB_ENDPOINT", value_parser = endpoint_url)]
    pub endpoint: Option<String>,
    /// AWS region.
    #[arg(long, global = true, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Table names are {prefix}-events, {prefix}-graph and {prefix}-keys (the stack name).
    #[arg(long, global = true, env = "DLG_TABLE_PREFIX", default_value = "dlg")]
    pub table_prefix: String,
    /// Override the events table name.
    #[arg(long, global = true, env = "DLG_EVENTS_TABLE")]
    pub events_table: Option<String>,
    /// Override the graph table name.
    #[arg(long, global = true, env = "DLG_GRAPH_TABLE")]
    pub graph_table: Option<String>,
    /// Override the keys table name.
    #[arg(long, global = true, env = "DLG_KEYS_TABLE")]
    pub keys_table: Option<String>,
    /// Who keeps the DynamoDB graph table current: `stream` (the Lambda on the events stream; run
    /// `dlg --store dynamodb project` beside DynamoDB Local) or `inline` (this process, after each
    /// append and before each read; no stream needed). The SQLite store is always inline.
    #[arg(
        long,
        global = true,
        value_enum,
        env = "DLG_PROJECTOR",
        default_value = "stream"
    )]
    pub projector: ProjectorArg,
}

/// Who keeps the graph table current (DynamoDB).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProjectorArg {
    Stream,
    Inline,
}

impl From<ProjectorArg> for crate::ledger::Projection {
    fn from(arg: ProjectorArg) -> Self {
        match arg {
            ProjectorArg::Stream => crate::ledger::Projection::Stream,
            ProjectorArg::Inline => crate::ledger::Projection::Inline,
        }
    }
}

impl DynamoArgs {
    /// The store configuration these arguments describe.
    pub fn config(&self) -> dlg_store::dynamodb::DynamoConfig {
        let mut config = dlg_store::dynamodb::DynamoConfig::with_prefix(
            self.endpoint.clone(),
            &self.region,
            &self.table_prefix,
        );
        if let Some(name) = &self.events_table {
            config.events_table = name.clone();
        }
        if let Some(name) = &self.graph_table {
            config.graph_table = name.clone();
        }
        if let Some(name) = &self.keys_table {
            config.keys_table = name.clone();
        }
        config
    }
}

/// The storage backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// One SQLite file in the data directory (the embedded default).
    Sqlite,
    /// DynamoDB tables (see --endpoint, --region, --table-prefix).
    Dynamodb,
}

/// Output formats of `dlg graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GraphFormat {
    Text,
    Json,
    Mermaid,
    Dot,
}

/// Directions of `dlg graph`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DirectionArg {
    Out,
    In,
    Both,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Create a dialogue from a JSON request ({title, question, experts}) or flags.
    Create {
        /// JSON request file, or `-` for stdin.
        file: Option<PathBuf>,
        #[arg(long)]
        title: Option<String>,
        #[arg(long)]
        question: Option<String>,
    },
    /// Add an expert to a dialogue (JSON request or flags).
    AddExpert {
        dialogue: String,
        /// JSON request file, or `-` for stdin.
        file: Option<PathBuf>,
        #[arg(long)]
        slug: Option<String>,
        #[arg(long)]
        role: Option<String>,
        #[arg(long)]
        tier: Option<String>,
        #[arg(long)]
        source: Option<String>,
        #[arg(long)]
        relevance: Option<f64>,
        #[arg(long)]
        creation_reason: Option<String>,
    },
    /// Register a whole round from JSON (all-or-nothing); answers with the id mapping.
    Round {
        dialogue: String,
        /// JSON request file, or `-` for stdin (the default).
        file: Option<PathBuf>,
    },
    /// Update entity statuses (JSON {round?, updates} or one update by flags).
    Status {
        dialogue: String,
        /// JSON request file, or `-` for stdin.
        file: Option<PathBuf>,
        #[arg(long)]
        id: Option<String>,
        #[arg(long = "to")]
        to: Option<String>,
        #[arg(long)]
        by: Vec<String>,
        #[arg(long)]
        via: Option<String>,
        #[arg(long)]
        reason: Option<String>,
        #[arg(long)]
        round: Option<u8>,
    },
    /// Register a verdict from JSON.
    Verdict {
        dialogue: String,
        /// JSON request file, or `-` for stdin.
        file: Option<PathBuf>,
    },
    /// Change a dialogue's status (open, converging, converged, abandoned).
    DialogueStatus {
        dialogue: String,
        status: String,
        #[arg(long)]
        reason: Option<String>,
    },
    /// List dialogues with status, rounds and open tensions.
    List,
    /// Summary tables of one dialogue.
    Show { dialogue: String },
    /// Tensions of one dialogue or all, by status (default: the unsettled ones).
    Tensions {
        dialogue: Option<String>,
        /// Statuses to show (open, addressed, resolved, reopened); repeatable.
        #[arg(long)]
        status: Vec<String>,
        /// Show tensions in every status.
        #[arg(long)]
        all: bool,
    },
    /// The graph around an entity (or the whole dialogue) as text, JSON, Mermaid or DOT.
    Graph {
        dialogue: String,
        entity: Option<String>,
        #[arg(long, default_value_t = 2)]
        depth: usize,
        #[arg(long, value_enum, default_value = "both")]
        direction: DirectionArg,
        /// Reference types to follow; repeatable (default: all).
        #[arg(long = "ref-type")]
        ref_types: Vec<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: GraphFormat,
        /// Show the graph as of commit N.
        #[arg(long)]
        as_of: Option<u64>,
        /// Show the graph as of a time (RFC 3339 UTC).
        #[arg(long, conflicts_with = "as_of")]
        as_of_time: Option<String>,
    },
    /// Decrypted history, commit by commit.
    Log { dialogue: String },
    /// Verify chain, sealed content and projection; non-zero exit on any problem.
    Audit {
        /// One dialogue (default: all).
        dialogue: Option<String>,
        /// A digest from `dlg digest` to verify against.
        #[arg(long)]
        digest: Option<String>,
    },
    /// Print the digest (dialogue@commit:hash) an auditor keeps.
    Digest { dialogue: String },
    /// Export DOMAIN.md's dialogue.json.
    Export {
        dialogue: String,
        /// Write to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Recompute the graph from the events (one dialogue or all).
    Rebuild { dialogue: Option<String> },
    /// Delete a dialogue's content key: its content becomes unrecoverable, its chain still verifies.
    Shred {
        dialogue: String,
        /// Confirm: this cannot be undone.
        #[arg(long)]
        yes: bool,
    },
    /// Record a sample dialogue, then show its tensions, graph and a clean audit.
    Demo,
    /// Create the DynamoDB tables from infra/template.yaml where missing (DynamoDB Local, tests).
    InitTables,
    /// Run the stream projector (DynamoDB): poll the events table's stream and feed each batch to
    /// the Lambda's handler, as the Lambda service does in AWS. Needs no key. Stops on Ctrl-C.
    Project {
        /// Project what the stream holds now, then exit.
        #[arg(long)]
        once: bool,
        /// Pause between polls, in milliseconds.
        #[arg(long, default_value_t = 250)]
        interval_ms: u64,
    },
    /// Serve the dialogue tools over MCP on stdin/stdout (for agent tooling; see the README).
    Mcp,
    /// Import dialogue archives: one dialogue folder, or a folder of them. Idempotent.
    Import {
        path: PathBuf,
        /// Print what would be recorded without writing anything.
        #[arg(long)]
        dry_run: bool,
    },
}

/// A failure with its exit code and, for tools, a JSON body.
#[derive(Debug)]
pub struct Failure {
    pub code: u8,
    pub message: String,
    pub json: Value,
}

impl Failure {
    pub fn new(code: u8, kind: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        Self {
            code,
            json: json!({"error": {"kind": kind, "message": message}}),
            message,
        }
    }

    fn rejected(rejected: &Rejected) -> Self {
        Self {
            code: exit::REJECTED,
            message: rejected.to_string(),
            json: serde_json::to_value(rejected).unwrap_or_default(),
        }
    }
}

impl From<dlg_store::StoreError> for Failure {
    fn from(error: dlg_store::StoreError) -> Self {
        Failure::from(LedgerError::from(error))
    }
}

impl From<LedgerError> for Failure {
    fn from(error: LedgerError) -> Self {
        let message = error.to_string();
        match &error {
            LedgerError::Rejected(rejected) => Failure::rejected(rejected),
            LedgerError::NotFound(_) => Failure::new(exit::NOT_FOUND, "not_found", message),
            LedgerError::Input(_) => Failure::new(exit::REJECTED, "invalid_input", message),
            LedgerError::IdempotencyMismatch { .. } => {
                Failure::new(exit::CONFLICT, "idempotency_mismatch", message)
            }
            LedgerError::Contention { .. } => Failure::new(exit::CONFLICT, "contention", message),
            LedgerError::Shredded(_) => Failure::new(exit::KEY, "shredded", message),
            LedgerError::WrongKey { .. } => Failure::new(exit::KEY, "wrong_key", message),
            LedgerError::KeyFile(_) => Failure::new(exit::KEY, "key_file", message),
            LedgerError::KeyService(_) => Failure::new(exit::KEY, "key_service", message),
            LedgerError::Tampered { .. } => Failure::new(exit::AUDIT_FAILED, "tampered", message),
            LedgerError::Projection(_) | LedgerError::Unfoldable { .. } => {
                Failure::new(exit::FAILURE, "projection", message)
            }
            LedgerError::NotProjected(_) => Failure::new(exit::FAILURE, "not_projected", message),
            LedgerError::Store(dlg_store::StoreError::TooLarge { .. }) => {
                Failure::new(exit::REJECTED, "too_large", message)
            }
            LedgerError::Store(_) => Failure::new(exit::FAILURE, "store", message),
        }
    }
}

/// What a command prints on success: text for people, JSON for tools.
#[derive(Debug)]
pub struct Output {
    pub text: String,
    pub json: Value,
    /// Exit code (non-zero for an audit with problems).
    pub code: u8,
}

impl Output {
    pub fn new(text: impl Into<String>, json: impl Serialize) -> Self {
        Self {
            text: text.into(),
            json: serde_json::to_value(json).unwrap_or(Value::Null),
            code: exit::OK,
        }
    }
}

fn malformed(source: &str, error: &serde_json::Error) -> Failure {
    let rejected = Rejected::one(
        ValidationError::new(
            ErrorCode::MalformedRequest,
            format!("line {} column {}", error.line(), error.column()),
            source,
            format!("the request in {source} is not valid: {error}"),
        )
        .suggest("send one JSON object as described in the README, section \"For agent tooling\""),
    );
    Failure::rejected(&rejected)
}

/// Reads a JSON request from a file, or stdin for `-`/none, and parses it as `T`. Bytes that
/// are not UTF-8 are a malformed request with their position; a leading UTF-8 byte-order mark
/// (which some editors and shells write) is ignored.
fn read_request<T: serde::de::DeserializeOwned>(file: Option<&Path>) -> Result<T, Failure> {
    let (source, bytes) = match file {
        Some(path) if path != Path::new("-") => {
            let bytes = std::fs::read(path).map_err(|e| {
                Failure::new(
                    exit::FAILURE,
                    "io",
                    format!("cannot read request file {}: {e}", path.display()),
                )
            })?;
            (path.display().to_string(), bytes)
        }
        _ => {
            if std::io::stdin().is_terminal() {
                return Err(Failure::new(
                    exit::USAGE,
                    "usage",
                    "expected a JSON request on stdin (or a file argument); see `dlg help`",
                ));
            }
            let mut bytes = Vec::new();
            std::io::stdin().read_to_end(&mut bytes).map_err(|e| {
                Failure::new(exit::FAILURE, "io", format!("cannot read stdin: {e}"))
            })?;
            ("stdin".to_owned(), bytes)
        }
    };
    let json = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(&bytes);
    serde_json::from_slice(json).map_err(|e| malformed(&source, &e))
}

fn dialogue_id(text: &str) -> Result<DialogueId, Failure> {
    DialogueId::parse(text).map_err(|e| Failure::new(exit::NOT_FOUND, "not_found", e.to_string()))
}

fn write_options(global: &Global) -> WriteOptions {
    WriteOptions {
        actor: global.actor.clone(),
        time: global.time.clone(),
        idempotency_key: global.idempotency_key.clone(),
    }
}

fn receipt_output(receipt: &dlg_core::append::Receipt) -> Output {
    let mut text = format!(
        "{} commit {} of {} ({} event{}), hash {}",
        if receipt.replayed {
            "already recorded:"
        } else {
            "recorded"
        },
        receipt.commit,
        receipt.dialogue,
        receipt.events,
        if receipt.events == 1 { "" } else { "s" },
        &receipt.hash[..16]
    );
    for (local, global) in &receipt.id_mapping {
        text.push_str(&format!("\n  {local} → {global}"));
    }
    Output::new(text, receipt)
}

/// Runs one parsed command against a ledger.
pub async fn run<S: Store>(
    ledger: &Ledger<S>,
    global: &Global,
    command: Cmd,
) -> Result<Output, Failure> {
    let options = write_options(global);
    match command {
        Cmd::Create {
            file,
            title,
            question,
        } => {
            let create: CreateDialogue = match (title, question) {
                (Some(title), Some(question)) if file.is_none() => CreateDialogue {
                    title,
                    question,
                    experts: Vec::new(),
                },
                (None, None) => read_request(file.as_deref())?,
                _ => {
                    return Err(Failure::new(
                        exit::USAGE,
                        "usage",
                        "give both --title and --question, or a JSON request",
                    ));
                }
            };
            let receipt = ledger.create_dialogue(&create, &options).await?;
            Ok(receipt_output(&receipt))
        }
        Cmd::AddExpert {
            dialogue,
            file,
            slug,
            role,
            tier,
            source,
            relevance,
            creation_reason,
        } => {
            let expert: ExpertInput = match (slug, role) {
                (Some(slug), Some(role)) => ExpertInput {
                    slug,
                    role,
                    description: None,
                    focus: None,
                    tier,
                    source,
                    relevance,
                    color: None,
                    first_round: None,
                    creation_reason,
                },
                (None, None) => read_request(file.as_deref())?,
                _ => {
                    return Err(Failure::new(
                        exit::USAGE,
                        "usage",
                        "give both --slug and --role, or a JSON request",
                    ));
                }
            };
            let receipt = ledger
                .execute(
                    &dialogue_id(&dialogue)?,
                    &Command::AddExpert(expert),
                    &options,
                )
                .await?;
            Ok(receipt_output(&receipt))
        }
        Cmd::Round { dialogue, file } => {
            let round: RegisterRound = read_request(file.as_deref())?;
            let receipt = ledger
                .execute(
                    &dialogue_id(&dialogue)?,
                    &Command::RegisterRound(round),
                    &options,
                )
                .await?;
            Ok(receipt_output(&receipt))
        }
        Cmd::Status {
            dialogue,
            file,
            id,
            to,
            by,
            via,
            reason,
            round,
        } => {
            let updates: UpdateStatuses = match (id, to) {
                (Some(id), Some(status)) => UpdateStatuses {
                    round,
                    updates: vec![StatusUpdateInput {
                        id,
                        status,
                        by,
                        via,
                        reason,
                    }],
                },
                (None, None) => read_request(file.as_deref())?,
                _ => {
                    return Err(Failure::new(
                        exit::USAGE,
                        "usage",
                        "give both --id and --to, or a JSON request",
                    ));
                }
            };
            let receipt = ledger
                .execute(
                    &dialogue_id(&dialogue)?,
                    &Command::UpdateStatuses(updates),
                    &options,
                )
                .await?;
            Ok(receipt_output(&receipt))
        }
        Cmd::Verdict { dialogue, file } => {
            let verdict: RegisterVerdict = read_request(file.as_deref())?;
            let receipt = ledger
                .execute(
                    &dialogue_id(&dialogue)?,
                    &Command::RegisterVerdict(verdict),
                    &options,
                )
                .await?;
            Ok(receipt_output(&receipt))
        }
        Cmd::DialogueStatus {
            dialogue,
            status,
            reason,
        } => {
            let command = Command::ChangeDialogueStatus(ChangeDialogueStatus { status, reason });
            let receipt = ledger
                .execute(&dialogue_id(&dialogue)?, &command, &options)
                .await?;
            Ok(receipt_output(&receipt))
        }
        Cmd::List => list(ledger).await,
        Cmd::Show { dialogue } => show(ledger, &dialogue_id(&dialogue)?).await,
        Cmd::Tensions {
            dialogue,
            status,
            all,
        } => tensions(ledger, dialogue.as_deref(), &status, all).await,
        Cmd::Graph {
            dialogue,
            entity,
            depth,
            direction,
            ref_types,
            format,
            as_of,
            as_of_time,
        } => {
            let request = GraphRequest {
                entity,
                depth,
                direction,
                ref_types,
                format,
                as_of: match (as_of, as_of_time) {
                    (Some(n), _) => Some(AsOf::Commit(n)),
                    (None, Some(t)) => Some(AsOf::Time(t)),
                    (None, None) => None,
                },
            };
            graph(ledger, &dialogue_id(&dialogue)?, request).await
        }
        Cmd::Log { dialogue } => log(ledger, &dialogue_id(&dialogue)?).await,
        Cmd::Audit { dialogue, digest } => {
            audit(ledger, dialogue.as_deref(), digest.as_deref()).await
        }
        Cmd::Digest { dialogue } => {
            let digest = ledger.digest(&dialogue_id(&dialogue)?).await?;
            Ok(Output::new(digest.to_string(), &digest))
        }
        Cmd::Export { dialogue, out } => {
            export(ledger, &dialogue_id(&dialogue)?, out.as_deref()).await
        }
        Cmd::Rebuild { dialogue } => {
            let dialogues = match dialogue {
                Some(d) => vec![dialogue_id(&d)?],
                None => ledger.dialogues().await?,
            };
            let mut rebuilt = Vec::new();
            for dialogue in &dialogues {
                let graph = ledger.rebuild(dialogue).await?;
                rebuilt.push(json!({"dialogue": dialogue, "commit": graph.checkpoint.commit, "items": graph.items().len()}));
            }
            Ok(Output::new(
                format!("rebuilt {} dialogue(s)", rebuilt.len()),
                rebuilt,
            ))
        }
        Cmd::Shred { dialogue, yes } => {
            if !yes {
                return Err(Failure::new(
                    exit::USAGE,
                    "usage",
                    format!(
                        "shredding deletes the content of `{dialogue}` forever: add --yes to confirm"
                    ),
                ));
            }
            let deleted = ledger.shred(&dialogue_id(&dialogue)?).await?;
            Ok(Output::new(
                format!(
                    "shredded {dialogue}: {deleted} data key(s) deleted; structure and chain still verify"
                ),
                json!({"dialogue": dialogue, "keys_deleted": deleted}),
            ))
        }
        Cmd::Demo => crate::demo::run(ledger).await,
        Cmd::Import { path, dry_run } => import(ledger, global, &path, dry_run).await,
        // The binary serves MCP itself (it needs to own the ledger); see `crate::mcp::serve`.
        Cmd::Mcp => Err(Failure::new(
            exit::USAGE,
            "usage",
            "run `dlg mcp` to serve the tools over stdio",
        )),
        Cmd::Project { .. } => Err(Failure::new(
            exit::USAGE,
            "usage",
            "the stream projector runs on DynamoDB: `dlg --store dynamodb project` (the embedded store projects in-process)",
        )),
        Cmd::InitTables => Ok(Output::new(
            format!(
                "{}: tables are created when the store opens; nothing to do",
                ledger.store().describe()
            ),
            json!({"created": []}),
        )),
    }
}

async fn list<S: Store>(ledger: &Ledger<S>) -> Result<Output, Failure> {
    let mut rows = Vec::new();
    let mut table = render::table(&[
        "dialogue",
        "status",
        "rounds",
        "open tensions",
        "commits",
        "title",
    ]);
    for dialogue in ledger.dialogues().await? {
        let graph = ledger.graph(&dialogue).await?;
        let ring = ledger.key_ring(&dialogue).await?;
        let meta = graph.meta.as_ref();
        let title = render::text(&ring, meta.and_then(|m| m.content.as_ref()), "title");
        let status = meta.map(|m| m.status.to_string()).unwrap_or_default();
        let open = graph.open_tensions().len();
        table.add_row(vec![
            dialogue.to_string(),
            status.clone(),
            graph.total_rounds().to_string(),
            open.to_string(),
            graph.checkpoint.commit.to_string(),
            title.clone(),
        ]);
        rows.push(json!({"dialogue": dialogue, "status": status, "rounds": graph.total_rounds(),
                         "open_tensions": open, "commits": graph.checkpoint.commit, "title": title}));
    }
    let text = if rows.is_empty() {
        "no dialogues yet: create one with `dlg create` or try `dlg demo`".to_owned()
    } else {
        table.to_string()
    };
    Ok(Output::new(text, rows))
}

async fn show<S: Store>(ledger: &Ledger<S>, dialogue: &DialogueId) -> Result<Output, Failure> {
    let graph = ledger.graph(dialogue).await?;
    let ring = ledger.key_ring(dialogue).await?;
    let meta = graph.meta.as_ref();
    let content = meta.and_then(|m| m.content.as_ref());
    let summary = graph.summary();
    let mut text = format!(
        "{}\n{}\nstatus {} · {} round(s) · alignment {} · {} commit(s)\n\n",
        render::text(&ring, content, "title"),
        render::text(&ring, content, "question"),
        summary.status.clone().unwrap_or_default(),
        summary.rounds,
        summary.total_alignment,
        summary.commits
    );
    let mut experts = render::table(&["expert", "role", "tier", "source", "relevance", "scores"]);
    for e in graph.experts.values() {
        let scores: Vec<String> = e.scores.iter().map(|(r, s)| format!("R{r}: {s}")).collect();
        experts.add_row(vec![
            e.expert.to_string(),
            render::text(&ring, e.profile.as_ref(), "role"),
            e.tier.to_string(),
            e.source.to_string(),
            e.relevance.map(|r| r.to_string()).unwrap_or_default(),
            scores.join(", "),
        ]);
    }
    let mut rounds = render::table(&["round", "title", "status", "score"]);
    for r in graph.rounds.values() {
        rounds.add_row(vec![
            r.round.to_string(),
            render::text(&ring, r.title.as_ref(), "title"),
            r.status.to_string(),
            r.score.map(|s| s.to_string()).unwrap_or_default(),
        ]);
    }
    let mut entities = render::table(&["kind", "count", "by status"]);
    for (kind, statuses) in &summary.entities {
        let total: usize = statuses.values().sum();
        let by: Vec<String> = statuses.iter().map(|(s, n)| format!("{s} {n}")).collect();
        entities.add_row(vec![kind.clone(), total.to_string(), by.join(", ")]);
    }
    text.push_str(&format!("{experts}\n\n{rounds}\n\n{entities}"));
    if !graph.verdicts.is_empty() {
        let mut verdicts =
            render::table(&["verdict", "type", "round", "confidence", "recommendation"]);
        for v in graph.verdicts.values() {
            verdicts.add_row(vec![
                v.verdict.clone(),
                v.verdict_type.to_string(),
                v.round.to_string(),
                v.confidence.map(|c| c.to_string()).unwrap_or_default(),
                render::text(&ring, v.content.as_ref(), "recommendation"),
            ]);
        }
        text.push_str(&format!("\n\n{verdicts}"));
    }
    Ok(Output::new(text, &summary))
}

pub(crate) async fn tensions<S: Store>(
    ledger: &Ledger<S>,
    dialogue: Option<&str>,
    statuses: &[String],
    all: bool,
) -> Result<Output, Failure> {
    let mut wanted = Vec::new();
    for status in statuses {
        match Status::parse(status) {
            Some(s) if dlg_core::model::lifecycle(EntityKind::Tension).has(s) => wanted.push(s),
            _ => {
                return Err(Failure::new(
                    exit::USAGE,
                    "usage",
                    format!(
                        "`{status}` is not a tension status: use open, addressed, resolved or reopened"
                    ),
                ));
            }
        }
    }
    // The unsettled tensions of every dialogue come from the graph table's index of them.
    let everywhere = dialogue.is_none() && wanted.is_empty() && !all;
    let mut found: Vec<(DialogueId, NodeItem, Vec<String>)> = Vec::new();
    if everywhere {
        for (dialogue, node) in ledger.open_tensions_everywhere().await? {
            let incoming = ledger
                .neighbours(&dialogue, node.id, Direction::In, &ADDRESSING)
                .await?;
            let by = addressed_by(&node, &incoming);
            found.push((dialogue, node, by));
        }
    } else {
        let dialogues = match dialogue {
            Some(d) => vec![dialogue_id(d)?],
            None => ledger.dialogues().await?,
        };
        for dialogue in dialogues {
            let graph = ledger.graph(&dialogue).await?;
            for node in graph.entities(Some(EntityKind::Tension), &wanted) {
                if wanted.is_empty() && !all && !tension_is_open(node.status) {
                    continue;
                }
                let by = graph.addressed_by(node.id);
                found.push((dialogue.clone(), node.clone(), by));
            }
        }
    }
    let one = dialogue.is_some();
    let mut header = vec!["id", "status", "round", "label", "addressed by"];
    if !one {
        header.insert(0, "dialogue");
    }
    let mut table = render::table(&header);
    let mut rows = Vec::new();
    let mut rings: BTreeMap<DialogueId, KeyRing> = BTreeMap::new();
    for (dialogue, node, by) in &found {
        if !rings.contains_key(dialogue) {
            rings.insert(dialogue.clone(), ledger.key_ring(dialogue).await?);
        }
        let label = rings
            .get(dialogue)
            .map(|ring| render::label(ring, node))
            .unwrap_or_default();
        let mut row = vec![
            node.id.to_string(),
            node.status.to_string(),
            node.round.to_string(),
            label.clone(),
            by.join(", "),
        ];
        if !one {
            row.insert(0, dialogue.to_string());
        }
        table.add_row(row);
        rows.push(
            json!({"dialogue": dialogue, "id": node.id, "status": node.status, "round": node.round,
                         "label": label, "addressed_by": by}),
        );
    }
    let text = if rows.is_empty() {
        "no tensions match".to_owned()
    } else {
        table.to_string()
    };
    Ok(Output::new(text, rows))
}

pub(crate) struct GraphRequest {
    pub entity: Option<String>,
    pub depth: usize,
    pub direction: DirectionArg,
    pub ref_types: Vec<String>,
    pub format: GraphFormat,
    pub as_of: Option<AsOf>,
}

pub(crate) async fn graph<S: Store>(
    ledger: &Ledger<S>,
    dialogue: &DialogueId,
    request: GraphRequest,
) -> Result<Output, Failure> {
    let graph = match &request.as_of {
        None => ledger.graph(dialogue).await?,
        Some(as_of) => {
            let commits = ledger.commits(dialogue).await?;
            graph_as_of(
                dialogue.clone(),
                commits.iter().map(|(_, row)| row.bytes.as_slice()),
                as_of,
            )
            .map_err(|e| Failure::new(exit::FAILURE, "projection", e.to_string()))?
        }
    };
    let ring = ledger.key_ring(dialogue).await?;
    let mut ref_types = Vec::new();
    for text in &request.ref_types {
        ref_types.push(RefType::parse(text).ok_or_else(|| {
            Failure::new(
                exit::USAGE,
                "usage",
                format!(
                    "`{text}` is not a reference type: use one of {}",
                    RefType::names().join(", ")
                ),
            )
        })?);
    }
    let direction = match request.direction {
        DirectionArg::Out => Direction::Out,
        DirectionArg::In => Direction::In,
        DirectionArg::Both => Direction::Both,
    };
    let subgraph = match &request.entity {
        Some(text) => {
            let id = EntityId::parse(text)
                .ok()
                .filter(|id| graph.nodes.contains_key(id))
                .ok_or_else(|| {
                    Failure::new(
                        exit::NOT_FOUND,
                        "not_found",
                        format!("`{text}` is not an entity of `{dialogue}`"),
                    )
                })?;
            graph.k_hop(id, request.depth, direction, &ref_types)
        }
        None => dlg_core::query::Subgraph {
            nodes: graph.nodes.values().cloned().collect(),
            edges: graph
                .edges
                .values()
                .filter(|e| ref_types.is_empty() || ref_types.contains(&e.ref_type))
                .cloned()
                .collect(),
        },
    };
    let labels: Vec<Value> = subgraph
        .nodes
        .iter()
        .map(|n| {
            json!({"id": n.id, "kind": n.kind, "status": n.status, "round": n.round,
                        "label": render::label(&ring, n), "contributors": n.contributors})
        })
        .collect();
    let edges: Vec<Value> = subgraph
        .edges
        .iter()
        .map(|e| json!({"source": e.source, "ref_type": e.ref_type, "target": e.target, "round": e.round}))
        .collect();
    let as_json = json!({"dialogue": dialogue, "commit": graph.checkpoint.commit, "nodes": labels, "edges": edges});
    let text = match request.format {
        GraphFormat::Text => render::graph_text(&ring, &subgraph),
        GraphFormat::Mermaid => render::graph_mermaid(&ring, &subgraph),
        GraphFormat::Dot => render::graph_dot(&ring, &graph, &subgraph),
        GraphFormat::Json => serde_json::to_string_pretty(&as_json).unwrap_or_default(),
    };
    Ok(Output::new(text, as_json))
}

async fn log<S: Store>(ledger: &Ledger<S>, dialogue: &DialogueId) -> Result<Output, Failure> {
    let commits = ledger.commits(dialogue).await?;
    let ring = ledger.key_ring(dialogue).await?;
    let mut text = String::new();
    let mut entries = Vec::new();
    for (commit, row) in &commits {
        let header = &commit.header;
        text.push_str(&format!(
            "commit {} · {} · {} · hash {}{}\n",
            header.commit,
            header.time,
            header.actor,
            &dlg_core::chain::to_hex(&row.hash)[..16],
            header
                .idempotency_key
                .as_ref()
                .map(|k| format!(" · key {k}"))
                .unwrap_or_default()
        ));
        let mut events = Vec::new();
        for event in &commit.events {
            let content = match ring.get(header.key_version) {
                _ if event.sealed.is_none() => Value::Null,
                None => Value::String("[shredded]".to_owned()),
                Some(key) => match commit.open_event(event, key) {
                    Ok(Some(map)) => Value::Object(map),
                    Ok(None) => Value::Null,
                    Err(e) => Value::String(format!("[does not open: {e}]")),
                },
            };
            let body = serde_json::to_value(&event.body).unwrap_or_default();
            text.push_str(&format!(
                "  {:>4} {:<22} {}{}\n",
                event.seq,
                event.body.type_name(),
                body.get("body").map(Value::to_string).unwrap_or_default(),
                if content.is_null() {
                    String::new()
                } else {
                    format!(" {content}")
                }
            ));
            events.push(json!({"seq": event.seq, "type": event.body.type_name(),
                               "body": body.get("body"), "content": content}));
        }
        entries.push(json!({"commit": header.commit, "time": header.time, "actor": header.actor,
                            "idempotency_key": header.idempotency_key, "key_version": header.key_version,
                            "hash": dlg_core::chain::to_hex(&row.hash), "events": events}));
    }
    Ok(Output::new(text, entries))
}

pub(crate) async fn audit<S: Store>(
    ledger: &Ledger<S>,
    dialogue: Option<&str>,
    digest: Option<&str>,
) -> Result<Output, Failure> {
    let digest: Option<Digest> = match digest {
        Some(text) => Some(
            text.parse()
                .map_err(|e: String| Failure::new(exit::USAGE, "usage", e))?,
        ),
        None => None,
    };
    let dialogues = match (dialogue, &digest) {
        (Some(d), _) => vec![dialogue_id(d)?],
        (None, Some(digest)) => vec![digest.dialogue.clone()],
        (None, None) => ledger.dialogues().await?,
    };
    let mut reports = Vec::new();
    let mut text = String::new();
    for dialogue in &dialogues {
        let report = ledger.audit(dialogue, digest.as_ref()).await?;
        if report.is_clean() {
            text.push_str(&format!(
                "{}: ok — {} commits, {} events, chain verified{}, {}, graph matches the rebuild\n",
                report.dialogue,
                report.commits,
                report.events,
                if digest.is_some() {
                    " against the digest"
                } else {
                    ""
                },
                if report.shredded {
                    "content shredded (keys deleted)".to_owned()
                } else {
                    format!("{} sealed fields open", report.sealed_fields_opened)
                }
            ));
        } else {
            text.push_str(&format!(
                "{}: {} problem(s)\n",
                report.dialogue,
                report.problems.len()
            ));
            for problem in &report.problems {
                text.push_str(&format!(
                    "  commit {}: {} — {}\n",
                    problem.commit, problem.kind, problem.detail
                ));
            }
        }
        for warning in &report.warnings {
            text.push_str(&format!("  warning: {warning}\n"));
        }
        reports.push(report);
    }
    let clean = reports.iter().all(|r| r.is_clean());
    let mut output = Output::new(text.trim_end().to_owned(), &reports);
    if !clean {
        output.code = exit::AUDIT_FAILED;
    }
    Ok(output)
}

async fn export<S: Store>(
    ledger: &Ledger<S>,
    dialogue: &DialogueId,
    out: Option<&Path>,
) -> Result<Output, Failure> {
    let graph = ledger.graph(dialogue).await?;
    let ring = ledger.key_ring(dialogue).await?;
    let opener = |copy: &dlg_core::graph::SealedCopy| ring.open(copy).ok();
    let export = dlg_core::export::dialogue_json(&graph, &opener);
    let pretty = serde_json::to_string_pretty(&export).unwrap_or_default();
    match out {
        Some(path) => {
            std::fs::write(path, &pretty).map_err(|e| {
                Failure::new(
                    exit::FAILURE,
                    "io",
                    format!("cannot write {}: {e}", path.display()),
                )
            })?;
            Ok(Output::new(
                format!("wrote {}", path.display()),
                json!({"written": path}),
            ))
        }
        None => Ok(Output::new(pretty, export)),
    }
}

async fn import<S: Store>(
    ledger: &Ledger<S>,
    global: &Global,
    path: &Path,
    dry_run: bool,
) -> Result<Output, Failure> {
    use crate::import;
    if !path.is_dir() {
        return Err(Failure::new(
            exit::NOT_FOUND,
            "not_found",
            format!(
                "{} is not a folder: give a dialogue folder or a folder of them",
                path.display()
            ),
        ));
    }
    let folders = import::dialogue_folders(path);
    if folders.is_empty() {
        return Err(Failure::new(
            exit::NOT_FOUND,
            "not_found",
            format!(
                "{} holds no dialogue folder (one with round-N/ folders or expert-pool.json)",
                path.display()
            ),
        ));
    }
    let progress = if folders.len() > 1 && !global.json && std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(folders.len() as u64)
    } else {
        indicatif::ProgressBar::hidden()
    };
    progress.set_style(
        indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut summaries = Vec::new();
    let mut failures = Vec::new();
    let mut plans = Vec::new();
    for folder in &folders {
        progress.set_message(
            folder
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        );
        let outcome = match import::plan(folder) {
            Ok(plan) if dry_run => {
                summaries.push(import::summarize_plan(&plan));
                plans.push(plan);
                Ok(())
            }
            Ok(plan) => import::run(ledger, &plan, &global.actor)
                .await
                .map(|s| summaries.push(s)),
            Err(e) => Err(e),
        };
        if let Err(error) = outcome {
            failures.push(json!({"folder": folder, "error": Failure::from(error).json}));
        }
        progress.inc(1);
    }
    progress.finish_and_clear();

    let mut table = render::table(&[
        "dialogue",
        "rounds",
        "experts",
        "P",
        "R",
        "T",
        "E",
        "C",
        "tensions open/resolved",
        "warnings",
        "new commits",
    ]);
    for s in &summaries {
        let n = |kind: &str| s.entities.get(kind).copied().unwrap_or(0).to_string();
        table.add_row(vec![
            s.dialogue.clone(),
            s.rounds.to_string(),
            s.experts.to_string(),
            n("perspectives"),
            n("recommendations"),
            n("tensions"),
            n("evidence"),
            n("claims"),
            if dry_run {
                "-".to_owned()
            } else {
                format!("{}/{}", s.tensions_open, s.tensions_resolved)
            },
            s.warnings.len().to_string(),
            if dry_run {
                "-".to_owned()
            } else {
                s.new_commits.to_string()
            },
        ]);
    }
    let mut text = if dry_run {
        format!("dry run: nothing was written\n{table}")
    } else {
        table.to_string()
    };
    for s in &summaries {
        for warning in &s.warnings {
            text.push_str(&format!("\nwarning: {}: {warning}", s.folder));
        }
    }
    for failure in &failures {
        text.push_str(&format!(
            "\nerror: {}: {}",
            failure["folder"], failure["error"]
        ));
    }
    let body = if dry_run {
        json!({"dry_run": true, "plans": plans, "summaries": summaries, "failures": failures})
    } else {
        json!({"summaries": summaries, "failures": failures})
    };
    let mut output = Output::new(text, body);
    if !failures.is_empty() {
        output.code = exit::FAILURE;
    }
    Ok(output)
}
