//! Drafting a round from what the experts wrote: response texts with the archives' markers are
//! read by the importer's parsers into a round registration request, checked against the
//! dialogue as it stands (the errors registering it would get), for the Judge to review and
//! submit. Nothing is written: the CLI (`dlg draft-round`) and MCP (`draft_round`) share this.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use dlg_core::command::{Command, RegisterRound, decide};
use dlg_core::error::ValidationError;
use dlg_core::graph::Graph;
use dlg_core::ids::{DialogueId, MAX_ROUND};

use crate::import::planner::{self, DraftResponse};
use crate::ledger::LedgerError;

/// One expert's response text.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResponseText {
    /// The expert's slug (`muffin`).
    pub expert: String,
    /// The response as the expert wrote it, markers and all.
    pub text: String,
    /// The Judge's score of the response for the round.
    #[serde(default)]
    pub score: Option<f64>,
}

/// What to draft a round from.
#[derive(Debug, Clone, PartialEq, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DraftRequest {
    /// The round (default: the one after the latest).
    #[serde(default)]
    #[schemars(range(min = 0, max = 99))]
    pub round: Option<u8>,
    #[serde(default)]
    pub title: Option<String>,
    /// The Judge's summary of the round.
    #[serde(default)]
    pub summary: Option<String>,
    /// The round's score.
    #[serde(default)]
    pub score: Option<f64>,
    /// Every expert's response text.
    pub responses: Vec<ResponseText>,
}

/// A drafted registration: the request, what could not be mapped, and the errors registering
/// it as it is would get (empty when it would be accepted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Draft {
    pub dialogue: DialogueId,
    pub round: u8,
    /// The `register_round` request, ready to review and submit.
    pub request: RegisterRound,
    /// Markers and text that could not be mapped (kept in the raw responses).
    pub warnings: Vec<String>,
    /// What `register_round` would refuse in the request as drafted.
    pub errors: Vec<ValidationError>,
}

/// Drafts `request` against `graph`, labelling each response with `sources` (file names; the
/// field path when empty).
pub fn draft(
    dialogue: &DialogueId,
    graph: &Graph,
    request: DraftRequest,
    sources: &[String],
) -> Result<Draft, LedgerError> {
    let round = match request.round {
        Some(round) if round > MAX_ROUND => {
            return Err(LedgerError::Usage(format!(
                "round {round}: rounds are 0 to {MAX_ROUND}"
            )));
        }
        Some(round) => round,
        None => graph
            .latest_round()
            .map_or(0, |r| r.saturating_add(1))
            .min(MAX_ROUND),
    };
    if request.responses.is_empty() {
        return Err(LedgerError::Usage(
            "no responses to draft from: give each expert's response text".to_owned(),
        ));
    }
    let responses: Vec<DraftResponse> = request
        .responses
        .into_iter()
        .enumerate()
        .map(|(i, r)| DraftResponse {
            source: sources
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("responses[{i}]")),
            expert: r.expert,
            text: r.text,
            score: r.score,
        })
        .collect();
    let (mut register, warnings) = planner::draft(graph, round, &responses);
    register.title = request.title;
    register.summary = request.summary;
    register.score = request.score;
    let errors = match decide(graph, &Command::RegisterRound(register.clone())) {
        Ok(_) => Vec::new(),
        Err(rejected) => rejected.errors,
    };
    Ok(Draft {
        dialogue: dialogue.clone(),
        round,
        request: register,
        warnings,
        errors,
    })
}
