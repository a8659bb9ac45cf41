//! `dlg mcp`: the dialogue tools as a Model Context Protocol server over stdio, on whichever
//! store is configured. Tool inputs are the same request types the CLI reads (their JSON Schemas
//! are generated from them); tool errors carry the validation codes, fields, options and
//! suggestions, so an agent can correct its batch and resend; writes take idempotency keys.

pub mod wire;

use std::sync::Arc;

use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};

use dlg_core::command::{
    Command, CreateDialogue, ExpertInput, RegisterRound, RegisterVerdict, UpdateStatuses,
};
use dlg_core::ids::DialogueId;

use crate::keys::KeyRing;
use crate::ledger::{Ledger, LedgerError, WriteOptions};
use crate::read;
use crate::report::Failure;
use dlg_store::Store;

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

/// Arguments naming a dialogue (and optionally a round).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DialogueArgs {
    pub dialogue: String,
    /// For `round_context`: the round about to be played (default: the one after the latest).
    #[serde(default)]
    pub round: Option<u8>,
}

/// `query_graph` arguments.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GraphArgs {
    pub dialogue: String,
    /// `neighbours` (one hop), `k_hop` (up to `depth` hops), or `open_tensions`.
    pub query: String,
    /// The entity id (`P0101`) for `neighbours` and `k_hop`.
    #[serde(default)]
    pub entity: Option<String>,
    /// Hops for `k_hop` (default 2).
    #[serde(default)]
    pub depth: Option<usize>,
    /// `out`, `in` or `both` (default).
    #[serde(default)]
    pub direction: Option<String>,
    /// Reference types to follow (default: all).
    #[serde(default)]
    pub ref_types: Vec<String>,
}

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

    async fn write<T>(&self, args: WriteArgs<T>, command: fn(T) -> Command) -> CallToolResult {
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
        Parameters(args): Parameters<CreateArgs>,
    ) -> Result<CallToolResult, ErrorData> {
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
        Parameters(args): Parameters<WriteArgs<ExpertInput>>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.write(args, Command::AddExpert).await)
    }

    #[tool(
        description = "Register a whole round in one call, all-or-nothing: entities under local ids (MUFFIN-P0101), references to local ids of the batch or global ids of earlier rounds, moves, status updates. Answers the id_mapping; on invalid input, every error with its code, field, valid options and a suggestion."
    )]
    async fn register_round(
        &self,
        Parameters(args): Parameters<WriteArgs<RegisterRound>>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.write(args, Command::RegisterRound).await)
    }

    #[tool(
        description = "Register a verdict (immutable); `adopts` and `resolves` record the recommendations it adopts and the tensions it resolves."
    )]
    async fn register_verdict(
        &self,
        Parameters(args): Parameters<WriteArgs<RegisterVerdict>>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.write(args, Command::RegisterVerdict).await)
    }

    #[tool(description = "Update statuses of earlier entities ({id, status, by, via, reason}).")]
    async fn update_statuses(
        &self,
        Parameters(args): Parameters<WriteArgs<UpdateStatuses>>,
    ) -> Result<CallToolResult, ErrorData> {
        Ok(self.write(args, Command::UpdateStatuses).await)
    }

    #[tool(
        description = "The context of a round for the panel: open tensions, prior perspectives, and what each expert said, as structured data and as markdown."
    )]
    async fn round_context(
        &self,
        Parameters(args): Parameters<DialogueArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let dialogue = match dialogue_id(&args.dialogue) {
            Ok(d) => d,
            Err(result) => return Ok(result),
        };
        let (graph, ring) = match self.read(&dialogue).await {
            Ok(pair) => pair,
            Err(error) => return Ok(failure(error)),
        };
        let view = read::context(&dialogue, &graph, &ring, args.round);
        let mut body = serde_json::to_value(&view).unwrap_or_default();
        body["markdown"] = Value::String(view.markdown());
        Ok(CallToolResult::structured(body))
    }

    #[tool(
        description = "Query the graph: `neighbours` of an entity, a `k_hop` subgraph, or `open_tensions` (with what addressed them)."
    )]
    async fn query_graph(
        &self,
        Parameters(args): Parameters<GraphArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let dialogue = match dialogue_id(&args.dialogue) {
            Ok(d) => d,
            Err(result) => return Ok(result),
        };
        let (graph, ring) = match self.read(&dialogue).await {
            Ok(pair) => pair,
            Err(error) => return Ok(failure(error)),
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
            "k_hop" => args.depth.unwrap_or(2),
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
        description = "Export the dialogue as one dialogue.json: dialogue, experts, rounds, entities with their lifecycles and relations, verdicts."
    )]
    async fn export_dialogue(
        &self,
        Parameters(args): Parameters<DialogueArgs>,
    ) -> Result<CallToolResult, ErrorData> {
        let dialogue = match dialogue_id(&args.dialogue) {
            Ok(d) => d,
            Err(result) => return Ok(result),
        };
        Ok(match self.read(&dialogue).await {
            Ok((graph, ring)) => CallToolResult::structured(read::export(&graph, &ring)),
            Err(error) => failure(error),
        })
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
