//! `dlg mcp`: the dialogue tools as a Model Context Protocol server over stdio, on whichever
//! store is configured. Tool inputs are the same request types the CLI reads (their JSON Schemas
//! are generated from them); tool errors carry the validation codes, fields, options and
//! suggestions, so an agent can correct its batch and resend; writes take idempotency keys.

pub mod shape;
pub mod wire;

use std::sync::Arc;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use dlg_core::command::{
    ChangeDialogueStatus, Command, CreateDialogue, ExpertInput, RegisterRound, RegisterVerdict,
    UpdateStatuses,
};
use dlg_core::ids::DialogueId;

use crate::keys::KeyRing;
use crate::ledger::{Ledger, LedgerError, WriteOptions};
use crate::read;
use crate::report::Failure;
use dlg_store::Store;
use shape::Checked;

/// `create_dialogue` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateArgs {
    /// The dialogue: title, question and the expert pool.
    pub request: CreateDialogue,
    /// A retry with the same key and request answers the original receipt.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Arguments of a write to one dialogue.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WriteArgs<T> {
    /// The dialogue id (as `create_dialogue` answered it).
    pub dialogue: String,
    /// The request, exactly as `dlg` reads it from JSON.
    pub request: T,
    /// A retry with the same key and request answers the original receipt.
    #[serde(default)]
    pub idempotency_key: Option<String>,
}

/// Arguments naming a dialogue.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DialogueArgs {
    /// The dialogue id (as `create_dialogue` or `list_dialogues` answered it).
    pub dialogue: String,
}

/// `round_context` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ContextArgs {
    pub dialogue: String,
    /// The round about to be played (default: the one after the latest); the context is the
    /// state as of its start.
    #[serde(default)]
    #[schemars(range(min = 0, max = 99))]
    pub round: Option<u8>,
    /// Only these entity kinds (default: all five).
    #[serde(default)]
    #[schemars(extend("items" = {"enum": ["perspective", "recommendation", "tension", "evidence", "claim"]}))]
    pub kinds: Vec<String>,
    /// Only entities still in play (open tensions, proposed recommendations, ...).
    #[serde(default)]
    pub unsettled_only: bool,
    /// Raw responses of earlier rounds: `none`, `last` (the previous round's, default) or `all`.
    #[serde(default)]
    #[schemars(extend("enum" = ["none", "last", "all"]))]
    pub responses: Option<String>,
    /// The most characters of markdown (default 16000, about 4000 tokens; 1000 to 4000000).
    #[serde(default)]
    #[schemars(range(min = 1000, max = 4000000))]
    pub budget: Option<usize>,
}

/// `query_graph` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphArgs {
    pub dialogue: String,
    /// `neighbours` (one hop), `k_hop` (up to `depth` hops), or `open_tensions`.
    #[schemars(extend("enum" = ["neighbours", "k_hop", "open_tensions"]))]
    pub query: String,
    /// The entity id (`P0101`) for `neighbours` and `k_hop`.
    #[serde(default)]
    pub entity: Option<String>,
    /// Hops for `k_hop` (default 2, at most 6).
    #[serde(default)]
    #[schemars(range(min = 0, max = 6))]
    pub depth: Option<usize>,
    /// `out`, `in` or `both` (default).
    #[serde(default)]
    #[schemars(extend("enum" = ["out", "in", "both"]))]
    pub direction: Option<String>,
    /// Reference types to follow (default: all).
    #[serde(default)]
    pub ref_types: Vec<String>,
}

/// `get_entity` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityArgs {
    pub dialogue: String,
    /// The entity's global id (`T0001`).
    pub entity: String,
}

/// `draft_round` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftArgs {
    pub dialogue: String,
    /// The experts' response texts, and the round's title, summary and score.
    pub request: crate::draft::DraftRequest,
}

/// The deepest `k_hop` walk.
pub const MAX_DEPTH: usize = 6;

/// The MCP server over a ledger.
#[derive(Debug)]
pub struct DialogueTools<S: Store + 'static> {
    ledger: Arc<Ledger<S>>,
    actor: String,
}

impl<S: Store + 'static> Clone for DialogueTools<S> {
    fn clone(&self) -> Self {
        Self {
            ledger: self.ledger.clone(),
            actor: self.actor.clone(),
        }
    }
}

fn failure(error: LedgerError) -> CallToolResult {
    Failure::from(error).to_mcp()
}

fn receipt_result(outcome: Result<dlg_core::append::Receipt, LedgerError>) -> CallToolResult {
    match outcome {
        Ok(receipt) => {
            CallToolResult::structured(serde_json::to_value(receipt).unwrap_or_default())
        }
        Err(error) => failure(error),
    }
}

fn dialogue_id(text: &str) -> Result<DialogueId, CallToolResult> {
    DialogueId::parse(text).map_err(|e| failure(LedgerError::InvalidDialogueId(e)))
}

#[tool_router]
impl<S: Store + 'static> DialogueTools<S> {
    /// A server over `ledger`, recording `actor` in every commit.
    pub fn new(ledger: Arc<Ledger<S>>, actor: &str) -> Self {
        Self {
            ledger,
            actor: actor.to_owned(),
        }
    }

    fn options(&self, idempotency_key: Option<String>) -> WriteOptions {
        WriteOptions {
            actor: self.actor.clone(),
            time: None,
            idempotency_key,
        }
    }

    async fn write<T: serde::de::DeserializeOwned>(
        &self,
        args: Checked<WriteArgs<T>>,
        command: fn(T) -> Command,
    ) -> CallToolResult {
        let args = match args.parse() {
            Ok(args) => args,
            Err(rejected) => return Failure::rejected(&rejected).to_mcp(),
        };
        let dialogue = match dialogue_id(&args.dialogue) {
            Ok(d) => d,
            Err(result) => return result,
        };
        let outcome = self
            .ledger
            .execute(
                &dialogue,
                &command(args.request),
                &self.options(args.idempotency_key),
            )
            .await;
        receipt_result(outcome)
    }

    #[tool(
        description = "Create a dialogue with its expert pool. Answers the receipt with the dialogue id (the title's slug, suffixed -2, -3, ... when taken)."
    )]
    async fn create_dialogue(
        &self,
        Parameters(args): Parameters<Checked<CreateArgs>>,
    ) -> Result<CallToolResult, ErrorData> {
        let args = match args.parse() {
            Ok(args) => args,
            Err(rejected) => return Ok(Failure::rejected(&rejected).to_mcp()),
        };
        Ok(receipt_result(
            self.ledger
                .create_dialogue(&args.request, &self.options(args.idempotency_key))
                .await,
        ))
    }

    #[tool(
        description = "Add an expert to a dialogue mid-way (source `created` needs a creation_reason)."
    )]
    async fn add_expert(
        &self,
        Parameters(args): Parameters<Checked<WriteArgs<ExpertInput>>>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.write(args, Command::AddExpert).await)
    }

    #[tool(
        description = "Register a whole round in one call, all-or-nothing: entities under local ids (MUFFIN-P0101), references to local ids of the batch or global ids of earlier rounds, moves, status updates. Answers the id_mapping; on invalid input, every error with its code, field, valid options and a suggestion."
    )]
    async fn register_round(
        &self,
        Parameters(args): Parameters<Checked<WriteArgs<RegisterRound>>>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.write(args, Command::RegisterRound).await)
    }

    #[tool(
        description = "Register a verdict (immutable); `adopts` and `resolves` record the recommendations it adopts and the tensions it resolves."
    )]
    async fn register_verdict(
        &self,
        Parameters(args): Parameters<Checked<WriteArgs<RegisterVerdict>>>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.write(args, Command::RegisterVerdict).await)
    }

    #[tool(description = "Update statuses of earlier entities ({id, status, by, via, reason}).")]
    async fn update_statuses(
        &self,
        Parameters(args): Parameters<Checked<WriteArgs<UpdateStatuses>>>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.write(args, Command::UpdateStatuses).await)
    }

    #[tool(
        description = "Where the dialogue stands before a round, within a size budget: every entity kind with status (as of the round's start), lineage and references, verdicts, the previous round's summary, scores and moves, velocity and convergence with what blocks it, the scoreboard, and the panel with role, tier, source, focus and responses. As structured data and as markdown ready for a prompt (content quoted); `omitted` says what did not fit.",
        annotations(read_only_hint = true)
    )]
    async fn round_context(
        &self,
        Parameters(args): Parameters<ContextArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (dialogue, graph, ring) = match self.open(&args.dialogue).await {
            Ok(opened) => opened,
            Err(result) => return Ok(result),
        };
        let options = match crate::context::options(
            args.round,
            &args.kinds,
            args.unsettled_only,
            args.responses.as_deref(),
            args.budget,
        ) {
            Ok(options) => options,
            Err(error) => return Ok(failure(error)),
        };
        let view = crate::context::context(&dialogue, &graph, &ring, &options);
        let mut body = serde_json::to_value(&view).unwrap_or_default();
        body["markdown"] = Value::String(view.markdown());
        Ok(CallToolResult::structured(body))
    }

    #[tool(
        description = "Query the graph: `neighbours` of an entity, a `k_hop` subgraph, or `open_tensions` (with what addressed them).",
        annotations(read_only_hint = true)
    )]
    async fn query_graph(
        &self,
        Parameters(args): Parameters<GraphArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (dialogue, graph, ring) = match self.open(&args.dialogue).await {
            Ok(opened) => opened,
            Err(result) => return Ok(result),
        };
        if args.query == "open_tensions" {
            let tensions =
                read::tensions(&dialogue, &graph, &ring, &read::TensionFilter::default());
            return Ok(CallToolResult::structured(
                json!({"dialogue": dialogue, "open_tensions": tensions}),
            ));
        }
        let depth = match args.query.as_str() {
            "neighbours" | "neighbors" => 1,
            "k_hop" => match args.depth.unwrap_or(2) {
                depth @ 0..=MAX_DEPTH => depth,
                depth => {
                    return Ok(failure(LedgerError::Usage(format!(
                        "depth {depth} is over the limit of {MAX_DEPTH} hops: ask for fewer, or read the whole graph with export_dialogue"
                    ))));
                }
            },
            other => {
                return Ok(failure(LedgerError::Usage(format!(
                    "query `{other}`: use neighbours, k_hop or open_tensions"
                ))));
            }
        };
        let request = read::parse_direction(args.direction.as_deref().unwrap_or("both")).and_then(
            |direction| {
                Ok(read::SubgraphRequest {
                    entity: Some(args.entity.clone().unwrap_or_default()),
                    depth,
                    direction,
                    ref_types: read::parse_ref_types(&args.ref_types)?,
                })
            },
        );
        Ok(
            match request.and_then(|r| read::subgraph(&dialogue, &graph, &ring, &r)) {
                Ok(view) => CallToolResult::structured(json!({"dialogue": dialogue,
                    "entity": view.entity, "nodes": view.nodes, "edges": view.edges})),
                Err(error) => failure(error),
            },
        )
    }

    #[tool(
        description = "One entity with its content: label, text, status, contributors, references both ways (with rounds), refinement lineage, moves that name it, what addressed it (tensions), verdicts, and its status history with actors, reasons and times.",
        annotations(read_only_hint = true)
    )]
    async fn get_entity(
        &self,
        Parameters(args): Parameters<EntityArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (dialogue, graph, ring) = match self.open(&args.dialogue).await {
            Ok(opened) => opened,
            Err(result) => return Ok(result),
        };
        Ok(
            match read::entity_view(&dialogue, &graph, &ring, &args.entity) {
                Ok(view) => CallToolResult::structured(view),
                Err(error) => failure(error),
            },
        )
    }

    #[tool(
        description = "Draft a round registration from the experts' response texts written with markers ([PERSPECTIVE P01: label], [TENSION T01: label], [REFINEMENT ...], [RESOLVED T0001: why], [ACKNOWLEDGED T0001], [CONCESSION on T0001: ...], [RE:SUPPORT P0001], [MOVE:CONVERGE], ids global or local). Writes nothing: answers the register_round request to review and submit, warnings for what could not be mapped, and the errors registering it as drafted would get.",
        annotations(read_only_hint = true)
    )]
    async fn draft_round(
        &self,
        Parameters(args): Parameters<DraftArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (dialogue, graph, _) = match self.open(&args.dialogue).await {
            Ok(opened) => opened,
            Err(result) => return Ok(result),
        };
        Ok(
            match crate::draft::draft(&dialogue, &graph, args.request, &[]) {
                Ok(draft) => {
                    CallToolResult::structured(serde_json::to_value(draft).unwrap_or_default())
                }
                Err(error) => failure(error),
            },
        )
    }

    #[tool(
        description = "List the dialogues: id, status, rounds, open tensions, commits and title.",
        annotations(read_only_hint = true)
    )]
    async fn list_dialogues(&self) -> Result<CallToolResult, ErrorData> {
        let dialogues = match self.ledger.dialogues().await {
            Ok(d) => d,
            Err(error) => return Ok(failure(error)),
        };
        let mut rows = Vec::new();
        for dialogue in dialogues {
            match self.read(&dialogue).await {
                Ok((graph, ring)) => rows.push(read::dialogue_row(&dialogue, &graph, &ring)),
                Err(error) => return Ok(failure(error)),
            }
        }
        Ok(CallToolResult::structured(json!({"dialogues": rows})))
    }

    #[tool(
        description = "Change the dialogue's status (`open`, `converging`, `converged`, `abandoned`) with a reason; a final verdict already sets `converged`."
    )]
    async fn set_dialogue_status(
        &self,
        Parameters(args): Parameters<Checked<WriteArgs<ChangeDialogueStatus>>>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.write(args, Command::ChangeDialogueStatus).await)
    }

    #[tool(
        description = "The scoreboard and progress: per round the score, new perspectives, open tensions, velocity and converge share of the panel; the per-expert leaderboard; tensions by status; whether the dialogue can converge and what blocks it.",
        annotations(read_only_hint = true)
    )]
    async fn scoreboard(
        &self,
        Parameters(args): Parameters<DialogueArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let (dialogue, graph, _) = match self.open(&args.dialogue).await {
            Ok(opened) => opened,
            Err(result) => return Ok(result),
        };
        let mut body = serde_json::to_value(graph.progress()).unwrap_or_default();
        body["dialogue"] = json!(dialogue);
        Ok(CallToolResult::structured(body))
    }

    #[tool(
        description = "Export the dialogue as one dialogue.json: dialogue, experts, rounds, entities with their lifecycles and relations, verdicts.",
        annotations(read_only_hint = true)
    )]
    async fn export_dialogue(
        &self,
        Parameters(args): Parameters<DialogueArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(match self.open(&args.dialogue).await {
            Ok((_, graph, ring)) => CallToolResult::structured(read::export(&graph, &ring)),
            Err(result) => result,
        })
    }

    /// The dialogue named by a tool's arguments, its graph and key ring, or the tool error.
    async fn open(
        &self,
        dialogue: &str,
    ) -> Result<(DialogueId, dlg_core::graph::Graph, KeyRing), CallToolResult> {
        let dialogue = dialogue_id(dialogue)?;
        let (graph, ring) = self.read(&dialogue).await.map_err(failure)?;
        Ok((dialogue, graph, ring))
    }

    async fn read(
        &self,
        dialogue: &DialogueId,
    ) -> Result<(dlg_core::graph::Graph, KeyRing), LedgerError> {
        let graph = self.ledger.graph(dialogue).await?;
        let ring = self.ledger.key_ring(dialogue).await?;
        Ok((graph, ring))
    }
}

#[tool_handler]
impl<S: Store + 'static> ServerHandler for DialogueTools<S> {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("dlg", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "The dialogue ledger: create a dialogue, get the context of a round, register rounds in bulk (local ids, all-or-nothing), verdicts and status changes, and query the graph. Errors list every invalid item with a code, field, options and suggestion; retries with the same idempotency_key are safe.",
            )
    }
}

/// Serves the tools on stdin/stdout until the client disconnects; a line longer than
/// `max_message` bytes is answered with an error and discarded unread (`wire`).
pub async fn serve<S: Store + 'static>(
    ledger: Ledger<S>,
    actor: &str,
    max_message: usize,
) -> Result<(), LedgerError> {
    let server = DialogueTools::new(Arc::new(ledger), actor);
    let (transport, written) = wire::connect(tokio::io::stdin(), tokio::io::stdout(), max_message);
    let running = match server.serve(transport).await {
        Ok(running) => running,
        Err(e) => {
            let _ = written.await;
            return Err(LedgerError::Session(format!(
                "the MCP client did not start a session: {e}"
            )));
        }
    };
    let ended = running
        .waiting()
        .await
        .map_err(|e| LedgerError::Session(format!("the MCP session ended with an error: {e}")));
    // Every reply, including the wire's own error replies, is written before the process ends.
    let _ = written.await;
    ended.map(|_| ())
}
