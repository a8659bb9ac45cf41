//! The `dlg` command line: argument parsing (`args.rs`), reading JSON requests (`request.rs`),
//! the dispatch of each command (here), and the read commands (`reads.rs`), printing answers as
//! tables for people or JSON for tools. Every command is a plain async function over a
//! [`Ledger`], so tests can call the same code the binary runs. How failures are reported is
//! [`crate::report`]'s.

mod args;
mod reads;
mod request;
mod verify;

pub use crate::report::{Failure, Output, exit};
pub use args::*;
pub(crate) use reads::{GraphRequest, graph, tensions};
use reads::{context, draft_round, entity_output, export, import, list, log, response_files, show};
use request::{dialogue_id, read_request, receipt_output, write_options};
pub(crate) use verify::{audit, signers_in};

use serde_json::json;

use dlg_core::command::{
    ChangeDialogueStatus, Command, CreateDialogue, ExpertInput, RegisterRound, RegisterVerdict,
    StatusUpdateInput, UpdateStatuses,
};
use dlg_core::query::AsOf;

use crate::ledger::Ledger;
use dlg_store::Store;

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
            id,
            opaque_id,
        } => {
            let mut create: CreateDialogue = match (title, question) {
                (Some(title), Some(question)) if file.is_none() => CreateDialogue {
                    title,
                    question,
                    experts: Vec::new(),
                    id: None,
                },
                (None, None) => read_request(file.as_deref(), global.max_request_bytes)?,
                _ => {
                    return Err(Failure::new(
                        exit::USAGE,
                        "usage",
                        "give both --title and --question, or a JSON request",
                    ));
                }
            };
            if opaque_id {
                use dlg_core::seal::Entropy as _;
                let mut bytes = [0u8; 8];
                crate::keys::OsEntropy.fill(&mut bytes);
                let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
                create.id = Some(format!("dlg-{hex}"));
            } else if id.is_some() {
                create.id = id;
            }
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
                (None, None) => read_request(file.as_deref(), global.max_request_bytes)?,
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
            let round: RegisterRound = read_request(file.as_deref(), global.max_request_bytes)?;
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
                (None, None) => read_request(file.as_deref(), global.max_request_bytes)?,
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
            let verdict: RegisterVerdict = read_request(file.as_deref(), global.max_request_bytes)?;
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
        Cmd::Context {
            dialogue,
            round,
            kinds,
            unsettled,
            responses,
            budget,
        } => {
            let options =
                crate::context::options(round, &kinds, unsettled, Some(&responses), Some(budget))?;
            context(ledger, &dialogue_id(&dialogue)?, &options).await
        }
        Cmd::DraftRound {
            dialogue,
            files,
            round,
            title,
            summary,
            score,
        } => {
            let (responses, sources) = response_files(&files, global.max_request_bytes)?;
            let request = crate::draft::DraftRequest {
                round,
                title,
                summary,
                score,
                responses,
            };
            draft_round(ledger, &dialogue_id(&dialogue)?, request, &sources).await
        }
        Cmd::Entity { dialogue, entity } => {
            entity_output(ledger, &dialogue_id(&dialogue)?, &entity).await
        }
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
        Cmd::Audit {
            dialogue,
            digest,
            checkpoint,
        } => audit(ledger, dialogue.as_deref(), digest.as_deref(), &checkpoint).await,
        Cmd::Checkpoint { dialogue, out } => {
            verify::checkpoint(ledger, dialogue.as_deref(), out.as_deref()).await
        }
        Cmd::Signer => verify::signer(ledger),
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
                    "shredded {dialogue}: {deleted} data key(s) deleted; structure and chain still verify.\nStill readable, in clear: the id `{dialogue}` (if it is the title's slug, it reveals the title), expert slugs, entity ids, kinds, statuses, references, rounds, scores, actors, times and idempotency keys (docs/format.md, \"What shredding leaves\")"
                ),
                json!({"dialogue": dialogue, "keys_deleted": deleted,
                       "still_readable": ["dialogue id", "expert slugs", "entity ids, kinds, statuses and references",
                                          "rounds and scores", "actors, times and idempotency keys"]}),
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
