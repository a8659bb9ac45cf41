//! The command line's arguments: global options (store, keys, DynamoDB, output), and every
//! command with its flags, as clap derives them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

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
    /// The largest JSON request read from a file or stdin, in bytes; a larger one is refused
    /// before it is read whole.
    #[arg(long, global = true, env = "DLG_MAX_REQUEST_BYTES", default_value_t = crate::cli::request::DEFAULT_MAX_REQUEST)]
    pub max_request_bytes: u64,
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
    /// AWS KMS key (ECC_NIST_EDWARDS25519, SIGN_VERIFY) that signs every commit and checkpoint,
    /// in --region. Default: the local signing key file `signing.key` in the data directory.
    #[arg(long, global = true, env = "DLG_SIGNING_KMS_KEY")]
    pub signing_kms_key: Option<String>,
    /// A signing key to trust (the 64 hex digits or the verifier key `dlg signer` prints);
    /// repeatable, or comma-separated in DLG_TRUST. Audits verify signatures against these
    /// keys only; the writer also accepts them (besides its own) under the history it extends.
    #[arg(
        long = "trust",
        global = true,
        env = "DLG_TRUST",
        value_delimiter = ','
    )]
    pub trust: Vec<String>,
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
    /// The KMS signing key configuration, when one is chosen (an empty value counts as none).
    pub fn signing_kms(&self, region: &str) -> Option<crate::keys::kms_signer::KmsSignerConfig> {
        let key_id = self
            .signing_kms_key
            .as_deref()
            .filter(|k| !k.trim().is_empty())?;
        Some(crate::keys::kms_signer::KmsSignerConfig {
            key_id: key_id.trim().to_owned(),
            region: region.to_owned(),
            endpoint: self.kms_endpoint.clone().filter(|e| !e.trim().is_empty()),
        })
    }

    /// The trusted keys, parsed.
    pub fn trusted(
        &self,
    ) -> Result<Vec<dlg_core::sign::PublicKey>, dlg_core::sign::PublicKeyError> {
        self.trust
            .iter()
            .filter(|k| !k.trim().is_empty())
            .map(|k| k.parse())
            .collect()
    }

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
        /// The dialogue's id instead of the title's slug. The id stays readable after
        /// shredding (docs/format.md); the title does not.
        #[arg(long, conflicts_with = "opaque_id")]
        id: Option<String>,
        /// A random id (`dlg-` and 16 hex digits) that reveals nothing of the title.
        #[arg(long)]
        opaque_id: bool,
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
    /// Summary tables of one dialogue: panel, rounds, entities, velocity and convergence,
    /// verdicts (`--json`: all of it, with the scoreboard and what blocks convergence).
    Show { dialogue: String },
    /// Where a dialogue stands before a round, for the Judge's prompt: markdown with content
    /// quoted (`--json`: structured), within a size budget, saying what was left out.
    Context {
        dialogue: String,
        /// The round about to be played (default: the one after the latest); the context is
        /// the state as of its start.
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=99))]
        round: Option<u8>,
        /// Only these entity kinds (perspective, recommendation, tension, evidence, claim);
        /// repeatable.
        #[arg(long = "kind")]
        kinds: Vec<String>,
        /// Only entities still in play.
        #[arg(long)]
        unsettled: bool,
        /// Raw responses of earlier rounds: none, last (the previous round's) or all.
        #[arg(long, default_value = "last", value_parser = ["none", "last", "all"])]
        responses: String,
        /// The most characters of markdown (1000 to 4000000).
        #[arg(long, default_value_t = crate::context::DEFAULT_BUDGET)]
        budget: usize,
    },
    /// Draft a round registration from the experts' response files (markers as the archives
    /// write them); prints the request to review and pass to `dlg round`, warnings on stderr.
    DraftRound {
        dialogue: String,
        /// Response files, one per expert: `EXPERT=PATH`, or `PATH` named after the expert
        /// (`muffin.md`).
        #[arg(required = true)]
        files: Vec<String>,
        /// The round (default: the one after the latest).
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=99))]
        round: Option<u8>,
        #[arg(long)]
        title: Option<String>,
        /// The Judge's summary of the round.
        #[arg(long)]
        summary: Option<String>,
        /// The round's score.
        #[arg(long)]
        score: Option<f64>,
    },
    /// One entity: content, references both ways, lineage, moves and status history.
    Entity { dialogue: String, entity: String },
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
        /// One dialogue (default: all, and every dialogue a checkpoint names).
        dialogue: Option<String>,
        /// A digest from `dlg digest` to verify against.
        #[arg(long)]
        digest: Option<String>,
        /// A signed checkpoint (`dlg checkpoint`) to verify against: a file of one or more
        /// notes, or a folder of them; repeatable.
        #[arg(long, conflicts_with = "digest")]
        checkpoint: Vec<PathBuf>,
    },
    /// Write signed checkpoints (C2SP signed notes) of dialogues' chain heads, for auditors.
    Checkpoint {
        /// One dialogue (default: all).
        dialogue: Option<String>,
        /// Write to this file (one dialogue) or into this folder, one `{dialogue}.checkpoint`
        /// per dialogue (all); default: stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Print the public key that signs this writer's commits, for auditors to pin (--trust).
    Signer,
    /// Print the digest (dialogue@commit:hash) an auditor keeps.
    Digest { dialogue: String },
    /// Export the dialogue as one dialogue.json (experts, rounds, entities, verdicts).
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
