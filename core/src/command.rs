//! Commands agent tooling sends, and `decide`: validate a command against the dialogue's folded
//! state and turn it into events — or reject it with every error at once and no events.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use crate::error::{ErrorCode, Rejected, ValidationError, closest};
use crate::event::{EntityAdded, EventBody, JUDGE, NewEvent};
use crate::graph::Graph;
use crate::ids::{
    DialogueId, EntityId, EntityIdError, EntityKind, ExpertSlug, LocalId, MAX_ROUND, MAX_SEQ,
};
use crate::model::{
    Confidence, DialogueStatus, ExpertSource, MoveKind, RefType, RoundStatus, Status, Tier,
    VerdictType, lifecycle,
};

/// An expert, as given when creating a dialogue (the pool) or adding one mid-dialogue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ExpertInput {
    /// The expert's slug (`muffin`).
    #[serde(alias = "expert", alias = "name")]
    pub slug: String,
    /// The expert's role (`DevTools Architect`).
    pub role: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub focus: Option<String>,
    /// `Core` | `Adjacent` | `Wildcard`; defaults to `Core`.
    #[serde(default)]
    pub tier: Option<String>,
    /// `pool` | `created`; defaults to `pool` at creation and `created` when added later.
    #[serde(default)]
    pub source: Option<String>,
    /// 0.0 to 1.0.
    #[serde(default)]
    pub relevance: Option<f64>,
    #[serde(default)]
    pub color: Option<String>,
    #[serde(default)]
    pub first_round: Option<u8>,
    /// Why the Judge created the expert (required for `created`).
    #[serde(default)]
    pub creation_reason: Option<String>,
}

/// Create a dialogue with its expert pool. The id is chosen by the store (the title's slug,
/// suffixed when taken) and passed to [`decide_create`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateDialogue {
    pub title: String,
    pub question: String,
    #[serde(default)]
    pub experts: Vec<ExpertInput>,
}

/// A reference written inside an entity: `{type, target}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EntityReferenceInput {
    #[serde(rename = "type", alias = "ref_type")]
    pub ref_type: String,
    pub target: String,
}

/// A reference between any two entities: `{source, type, target}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ReferenceInput {
    pub source: String,
    #[serde(rename = "type", alias = "ref_type")]
    pub ref_type: String,
    pub target: String,
}

/// An entity registered in a round, under the expert's local id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct EntityInput {
    /// Local id, `{EXPERT}-{type}{round:02}{seq:02}`.
    pub id: String,
    pub label: String,
    #[serde(default)]
    pub content: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Expert slugs; defaults to the expert named by the local id.
    #[serde(default, deserialize_with = "one_or_many")]
    pub contributors: Vec<String>,
    #[serde(default)]
    pub references: Vec<EntityReferenceInput>,
    /// Free-form parameters (recommendations only).
    #[serde(default)]
    pub parameters: Option<Value>,
}

/// An expert's part of a round: score and raw response.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ExpertRoundInput {
    pub expert: String,
    #[serde(default)]
    pub score: Option<f64>,
    #[serde(default)]
    pub response: Option<String>,
}

/// A move by an expert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct MoveInput {
    pub expert: String,
    #[serde(rename = "move", alias = "kind")]
    pub kind: String,
    #[serde(default, deserialize_with = "one_or_many")]
    pub targets: Vec<String>,
    #[serde(default)]
    pub context: Option<String>,
}

/// A status update of an earlier (or this batch's) entity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct StatusUpdateInput {
    pub id: String,
    pub status: String,
    /// Expert slugs or `judge`; defaults to `judge`.
    #[serde(default, deserialize_with = "one_or_many")]
    pub by: Vec<String>,
    /// The entity or verdict that caused the change.
    #[serde(default)]
    pub via: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

/// The bulk registration of one round: all-or-nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterRound {
    pub round: u8,
    #[serde(default)]
    pub title: Option<String>,
    /// The round's alignment score.
    #[serde(default)]
    pub score: Option<f64>,
    /// The Judge's synthesis.
    #[serde(default)]
    pub summary: Option<String>,
    #[serde(default)]
    pub experts: Vec<ExpertRoundInput>,
    #[serde(default)]
    pub perspectives: Vec<EntityInput>,
    #[serde(default)]
    pub recommendations: Vec<EntityInput>,
    #[serde(default)]
    pub tensions: Vec<EntityInput>,
    #[serde(default)]
    pub evidence: Vec<EntityInput>,
    #[serde(default)]
    pub claims: Vec<EntityInput>,
    #[serde(default)]
    pub references: Vec<ReferenceInput>,
    #[serde(default)]
    pub moves: Vec<MoveInput>,
    #[serde(default)]
    pub status_updates: Vec<StatusUpdateInput>,
}

impl RegisterRound {
    fn entities(&self, kind: EntityKind) -> &[EntityInput] {
        match kind {
            EntityKind::Perspective => &self.perspectives,
            EntityKind::Recommendation => &self.recommendations,
            EntityKind::Tension => &self.tensions,
            EntityKind::Evidence => &self.evidence,
            EntityKind::Claim => &self.claims,
        }
    }
}

/// Status updates outside a round registration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateStatuses {
    /// The round the changes happen in; defaults to the latest registered round.
    #[serde(default)]
    pub round: Option<u8>,
    pub updates: Vec<StatusUpdateInput>,
}

/// A verdict. `adopts` and `resolves` record the recommendations it adopts and the tensions it
/// resolves as status changes via the verdict (the verdict itself stores neither).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct RegisterVerdict {
    #[serde(alias = "id")]
    pub verdict_id: String,
    #[serde(rename = "type", alias = "verdict_type")]
    pub verdict_type: String,
    #[serde(default)]
    pub round: Option<u8>,
    #[serde(default)]
    pub author_expert: Option<String>,
    pub recommendation: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub conditions: Vec<String>,
    #[serde(default)]
    pub vote: Option<String>,
    #[serde(default)]
    pub confidence: Option<String>,
    #[serde(default)]
    pub supporting_experts: Vec<String>,
    #[serde(default)]
    pub adopts: Vec<String>,
    #[serde(default)]
    pub resolves: Vec<String>,
}

/// Change the dialogue's status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ChangeDialogueStatus {
    pub status: String,
    #[serde(default)]
    pub reason: Option<String>,
}

/// Every command, tagged by name (`{"command": "register_round", ...}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    CreateDialogue(CreateDialogue),
    AddExpert(ExpertInput),
    RegisterRound(RegisterRound),
    UpdateStatuses(UpdateStatuses),
    RegisterVerdict(RegisterVerdict),
    ChangeDialogueStatus(ChangeDialogueStatus),
}

impl Command {
    /// Canonical bytes of the command, for the idempotency fingerprint.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Serializing to a Value first sorts every object's keys (serde_json's default map).
        serde_json::to_value(self)
            .and_then(|v| serde_json::to_vec(&v))
            .unwrap_or_default()
    }
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(deserializer)? {
        OneOrMany::One(one) => vec![one],
        OneOrMany::Many(many) => many,
    })
}

/// What an accepted command decided: the events, and for round registrations the mapping from
/// local to global ids.
#[derive(Debug, Clone, PartialEq)]
pub struct Decision {
    pub events: Vec<NewEvent>,
    pub id_mapping: BTreeMap<String, String>,
}

/// Validates `command` against the dialogue's state and decides its events. Creating a
/// dialogue goes through [`decide_create`], which needs the id the store chose.
pub fn decide(graph: &Graph, command: &Command) -> Result<Decision, Rejected> {
    if let Command::CreateDialogue(create) = command {
        return decide_create(graph, create);
    }
    let Some(meta) = &graph.meta else {
        return Err(Rejected::one(
            ValidationError::new(
                ErrorCode::DialogueNotFound,
                "dialogue",
                graph.dialogue.as_str(),
                format!("there is no dialogue `{}`", graph.dialogue),
            )
            .suggest("list dialogues with `dlg list`, or create it first"),
        ));
    };
    if meta.status.is_final() && !matches!(command, Command::ChangeDialogueStatus(_)) {
        return Err(Rejected::one(ValidationError::new(
            ErrorCode::DialogueClosed,
            "dialogue",
            graph.dialogue.as_str(),
            format!(
                "dialogue `{}` is {}: nothing more can be recorded in it",
                graph.dialogue, meta.status
            ),
        )));
    }
    let mut ctx = Ctx::new(graph);
    match command {
        Command::CreateDialogue(_) => unreachable!("handled above"),
        Command::AddExpert(expert) => {
            if let Some(event) = ctx.expert(expert, "", ExpertSource::Created, &BTreeSet::new()) {
                ctx.events.push(event);
            }
        }
        Command::RegisterRound(round) => ctx.register_round(round),
        Command::UpdateStatuses(updates) => {
            let round = updates.round.or(graph.latest_round()).unwrap_or(0);
            if round > MAX_ROUND {
                ctx.error(
                    ErrorCode::InvalidRound,
                    "round",
                    round,
                    format!("rounds are 0 to {MAX_ROUND}"),
                );
            }
            if updates.updates.is_empty() {
                ctx.error(
                    ErrorCode::InvalidValue,
                    "updates",
                    json!([]),
                    "no status updates given",
                );
            }
            ctx.status_updates(&updates.updates, "updates", round);
        }
        Command::RegisterVerdict(verdict) => ctx.verdict(verdict),
        Command::ChangeDialogueStatus(change) => ctx.dialogue_status(meta.status, change),
    }
    ctx.finish()
}

/// Validates a new dialogue under the id the store chose and decides its creation events.
/// `graph` is the (empty) graph of that id.
pub fn decide_create(graph: &Graph, create: &CreateDialogue) -> Result<Decision, Rejected> {
    let mut ctx = Ctx::new(graph);
    if graph.meta.is_some() || graph.checkpoint.commit > 0 {
        ctx.error(
            ErrorCode::DialogueExists,
            "title",
            create.title.as_str(),
            format!("dialogue `{}` already exists", graph.dialogue),
        );
        return ctx.finish();
    }
    ctx.non_empty("title", &create.title);
    ctx.non_empty("question", &create.question);
    ctx.events.push(NewEvent::with_content(
        EventBody::DialogueCreated {
            dialogue: graph.dialogue.clone(),
        },
        [
            ("title", json!(create.title)),
            ("question", json!(create.question)),
        ],
    ));
    let mut seen = BTreeSet::new();
    for (i, expert) in create.experts.iter().enumerate() {
        let prefix = format!("experts[{i}].");
        if let Some(event) = ctx.expert(expert, &prefix, ExpertSource::Pool, &seen) {
            seen.insert(expert.slug.clone());
            ctx.events.push(event);
        }
    }
    ctx.finish()
}

/// Validation state for one command: the graph, the errors so far, the events decided so far.
struct Ctx<'g> {
    graph: &'g Graph,
    errors: Vec<ValidationError>,
    events: Vec<NewEvent>,
    /// Local id → global id of this batch's entities.
    batch: BTreeMap<String, EntityId>,
    /// Status of entities as changed by this command so far.
    statuses: BTreeMap<EntityId, Status>,
    /// References added by this command so far.
    references: BTreeSet<(EntityId, RefType, EntityId)>,
}

impl<'g> Ctx<'g> {
    fn new(graph: &'g Graph) -> Self {
        Self {
            graph,
            errors: Vec::new(),
            events: Vec::new(),
            batch: BTreeMap::new(),
            statuses: BTreeMap::new(),
            references: BTreeSet::new(),
        }
    }

    fn finish(self) -> Result<Decision, Rejected> {
        if self.errors.is_empty() {
            Ok(Decision {
                events: self.events,
                id_mapping: self
                    .batch
                    .iter()
                    .map(|(l, g)| (l.clone(), g.to_string()))
                    .collect(),
            })
        } else {
            Err(Rejected::new(self.errors))
        }
    }

    fn push(&mut self, error: ValidationError) {
        self.errors.push(error);
    }

    fn error(
        &mut self,
        code: ErrorCode,
        field: impl Into<String>,
        value: impl Into<Value>,
        message: impl Into<String>,
    ) {
        self.push(ValidationError::new(code, field, value, message));
    }

    fn non_empty(&mut self, field: &str, text: &str) {
        if text.trim().is_empty() {
            self.error(
                ErrorCode::InvalidValue,
                field,
                text,
                format!("`{field}` must not be empty"),
            );
        }
    }

    /// Checks an expert slug is on the panel (or `judge`, where allowed).
    fn known_expert(&mut self, field: &str, slug: &str, judge_allowed: bool) -> Option<ExpertSlug> {
        if judge_allowed && slug == JUDGE {
            return None;
        }
        let known = ExpertSlug::parse(slug)
            .ok()
            .filter(|s| self.graph.experts.contains_key(s));
        if known.is_none() {
            let names: Vec<&str> = self.graph.experts.keys().map(ExpertSlug::as_str).collect();
            let mut error = ValidationError::new(
                ErrorCode::UnknownExpert,
                field,
                slug,
                format!(
                    "`{slug}` is not an expert of dialogue `{}`",
                    self.graph.dialogue
                ),
            );
            let near = closest(slug, names.iter().copied());
            error = match near.first() {
                Some(best) => error.suggest(format!("did you mean `{best}`?")),
                None => error.suggest("add the expert first (add_expert), then register again"),
            };
            if names.len() <= 20 {
                let mut options: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
                if judge_allowed {
                    options.push(JUDGE.to_owned());
                }
                error = error.options(options);
            }
            self.push(error);
        }
        known
    }

    fn expert(
        &mut self,
        input: &ExpertInput,
        prefix: &str,
        default_source: ExpertSource,
        seen: &BTreeSet<String>,
    ) -> Option<NewEvent> {
        let field = |name: &str| format!("{prefix}{name}");
        let slug = match ExpertSlug::parse(&input.slug) {
            Ok(slug) => Some(slug),
            Err(e) => {
                self.error(
                    ErrorCode::InvalidId,
                    field("slug"),
                    input.slug.as_str(),
                    e.to_string(),
                );
                None
            }
        };
        if let Some(slug) = &slug
            && (self.graph.experts.contains_key(slug) || seen.contains(&input.slug))
        {
            self.error(
                ErrorCode::Duplicate,
                field("slug"),
                input.slug.as_str(),
                format!("expert `{slug}` is already on the panel"),
            );
        }
        self.non_empty(&field("role"), &input.role);
        let tier = match input.tier.as_deref() {
            None => Some(Tier::Core),
            Some(text) => self.parse_name(&field("tier"), text, Tier::parse, Tier::names()),
        };
        let source = match input.source.as_deref() {
            None => Some(default_source),
            Some(text) => self.parse_name(
                &field("source"),
                text,
                ExpertSource::parse,
                ExpertSource::names(),
            ),
        };
        if source == Some(ExpertSource::Created)
            && input
                .creation_reason
                .as_deref()
                .is_none_or(|r| r.trim().is_empty())
        {
            self.push(
                ValidationError::new(
                    ErrorCode::InvalidValue,
                    field("creation_reason"),
                    Value::Null,
                    "an expert created mid-dialogue needs a creation_reason",
                )
                .suggest("say why the Judge added this expert, or set source to `pool`"),
            );
        }
        if let Some(relevance) = input.relevance
            && !(0.0..=1.0).contains(&relevance)
        {
            self.error(
                ErrorCode::InvalidValue,
                field("relevance"),
                relevance,
                "relevance is between 0.0 and 1.0",
            );
        }
        if let Some(round) = input.first_round
            && round > MAX_ROUND
        {
            self.error(
                ErrorCode::InvalidRound,
                field("first_round"),
                round,
                format!("rounds are 0 to {MAX_ROUND}"),
            );
        }
        Some(NewEvent::with_content(
            EventBody::ExpertJoined {
                expert: slug?,
                tier: tier?,
                source: source?,
                relevance: input.relevance,
                color: input.color.clone(),
                first_round: input.first_round,
            },
            [
                ("role", json!(input.role)),
                ("description", json!(input.description)),
                ("focus", json!(input.focus)),
                ("creation_reason", json!(input.creation_reason)),
            ],
        ))
    }

    fn parse_name<T>(
        &mut self,
        field: &str,
        text: &str,
        parse: fn(&str) -> Option<T>,
        names: Vec<String>,
    ) -> Option<T> {
        let parsed = parse(text);
        if parsed.is_none() {
            let near = closest(text, names.iter().map(String::as_str));
            let mut error = ValidationError::new(
                ErrorCode::InvalidValue,
                field,
                text,
                format!("`{text}` is not one of {}", names.join(", ")),
            )
            .options(names);
            if let Some(best) = near.first() {
                error = error.suggest(format!("did you mean `{best}`?"));
            }
            self.push(error);
        }
        parsed
    }

    fn register_round(&mut self, input: &RegisterRound) {
        let round = input.round;
        if round > MAX_ROUND {
            self.error(
                ErrorCode::InvalidRound,
                "round",
                round,
                format!("rounds are 0 to {MAX_ROUND}"),
            );
            return;
        }
        if self
            .graph
            .rounds
            .get(&round)
            .is_some_and(|r| r.status == RoundStatus::Completed)
        {
            let next = self.graph.latest_round().map_or(0, |r| r.saturating_add(1));
            self.push(
                ValidationError::new(
                    ErrorCode::InvalidRound,
                    "round",
                    round,
                    format!("round {round} is already registered"),
                )
                .suggest(format!(
                    "register round {next} next; change statuses of earlier entities with update_statuses"
                )),
            );
        }
        self.events.push(NewEvent::with_content(
            EventBody::RoundOpened { round },
            [("title", json!(input.title))],
        ));

        // Experts' raw responses and scores.
        let mut scored = Vec::new();
        let mut seen_experts = BTreeSet::new();
        for (i, part) in input.experts.iter().enumerate() {
            let field = format!("experts[{i}].expert");
            let Some(expert) = self.known_expert(&field, &part.expert, false) else {
                continue;
            };
            if !seen_experts.insert(expert.clone()) {
                self.error(
                    ErrorCode::Duplicate,
                    field,
                    part.expert.as_str(),
                    "expert listed twice in `experts`",
                );
                continue;
            }
            if let Some(response) = &part.response {
                self.events.push(NewEvent::with_content(
                    EventBody::ResponseRecorded {
                        round,
                        expert: expert.clone(),
                    },
                    [("text", json!(response))],
                ));
            }
            if let Some(score) = part.score {
                scored.push((expert, score));
            }
        }

        // Entities: assign global ids in registration order within the round.
        let mut pending_refs = Vec::new();
        for kind in EntityKind::ALL {
            let base = self
                .graph
                .nodes
                .keys()
                .filter(|id| id.kind() == kind && id.round() == round)
                .map(|id| id.seq())
                .max()
                .unwrap_or(0);
            let list = input.entities(kind);
            if usize::from(base) + list.len() > usize::from(MAX_SEQ) {
                self.error(
                    ErrorCode::TooManyEntities,
                    kind.plural(),
                    list.len(),
                    format!("at most {MAX_SEQ} {} per round", kind.plural()),
                );
                continue;
            }
            for (i, entity) in list.iter().enumerate() {
                let field = format!("{}[{i}]", kind.plural());
                let seq = base + u8::try_from(i + 1).unwrap_or(MAX_SEQ);
                let Some(id) = EntityId::new(kind, round, seq) else {
                    continue;
                };
                self.entity(kind, id, entity, &field, round);
                for (j, reference) in entity.references.iter().enumerate() {
                    pending_refs.push((
                        format!("{field}.references[{j}]"),
                        Some(id),
                        entity.id.clone(),
                        reference.ref_type.clone(),
                        reference.target.clone(),
                    ));
                }
            }
        }
        for (i, reference) in input.references.iter().enumerate() {
            pending_refs.push((
                format!("references[{i}]"),
                None,
                reference.source.clone(),
                reference.ref_type.clone(),
                reference.target.clone(),
            ));
        }
        for (field, source, source_text, ref_type, target) in pending_refs {
            let source = source.or_else(|| self.resolve(&format!("{field}.source"), &source_text));
            self.reference(&field, source, &ref_type, &target, round);
        }

        // Moves, in order per expert.
        let mut move_index: BTreeMap<ExpertSlug, u16> = BTreeMap::new();
        for (i, input_move) in input.moves.iter().enumerate() {
            let field = format!("moves[{i}]");
            let expert = self.known_expert(&format!("{field}.expert"), &input_move.expert, false);
            let kind = self.parse_name(
                &format!("{field}.move"),
                &input_move.kind,
                MoveKind::parse,
                MoveKind::names(),
            );
            let targets: Vec<Option<EntityId>> = input_move
                .targets
                .iter()
                .enumerate()
                .map(|(j, t)| self.resolve(&format!("{field}.targets[{j}]"), t))
                .collect();
            if let Some(kind) = kind
                && targets.is_empty()
                && !kind.targets_optional()
            {
                self.push(
                    ValidationError::new(
                        ErrorCode::InvalidValue,
                        format!("{field}.targets"),
                        json!([]),
                        format!("a `{kind}` move needs at least one target"),
                    )
                    .suggest("name the entity ids the move is about"),
                );
            }
            if let (Some(expert), Some(kind), Some(targets)) = (
                expert,
                kind,
                targets.into_iter().collect::<Option<Vec<_>>>(),
            ) {
                let index = move_index.entry(expert.clone()).or_insert(0);
                *index += 1;
                self.events.push(NewEvent::with_content(
                    EventBody::MoveRecorded {
                        round,
                        expert,
                        index: *index,
                        kind,
                        targets,
                    },
                    [("context", json!(input_move.context))],
                ));
            }
        }

        self.status_updates(&input.status_updates, "status_updates", round);

        for (expert, score) in scored {
            self.events.push(NewEvent::bare(EventBody::ExpertScored {
                round,
                expert,
                score,
            }));
        }
        self.events.push(NewEvent::with_content(
            EventBody::RoundCompleted {
                round,
                score: input.score,
            },
            [("summary", json!(input.summary))],
        ));
    }

    fn entity(
        &mut self,
        kind: EntityKind,
        id: EntityId,
        input: &EntityInput,
        field: &str,
        round: u8,
    ) {
        let id_field = format!("{field}.id");
        let mut contributors_default = None;
        match LocalId::parse(&input.id) {
            None => {
                self.push(
                    ValidationError::new(
                        ErrorCode::InvalidId,
                        &id_field,
                        input.id.as_str(),
                        format!("`{}` is not a local id", input.id),
                    )
                    .suggest(format!(
                        "write local ids as EXPERT-{}{round:02}NN, e.g. MUFFIN-{}{round:02}01",
                        kind.letter(),
                        kind.letter()
                    )),
                );
            }
            Some(local) => {
                match EntityKind::from_letter(local.letter) {
                    None => self.push(
                        ValidationError::new(
                            ErrorCode::InvalidEntityType,
                            &id_field,
                            input.id.as_str(),
                            format!("`{}` is not an entity type", local.letter),
                        )
                        .options(
                            EntityKind::ALL
                                .iter()
                                .map(|k| k.letter().to_string())
                                .collect(),
                        )
                        .suggest(format!(
                            "an entry of `{}` has type {}",
                            kind.plural(),
                            kind.letter()
                        )),
                    ),
                    Some(declared) if declared != kind => self.push(
                        ValidationError::new(
                            ErrorCode::TypeIdMismatch,
                            &id_field,
                            input.id.as_str(),
                            format!(
                                "`{}` is a {} id but is listed under `{}`",
                                input.id,
                                declared.name(),
                                kind.plural()
                            ),
                        )
                        .suggest(format!(
                            "move it to `{}`, or give it a {} id",
                            declared.plural(),
                            kind.letter()
                        )),
                    ),
                    Some(_) => {}
                }
                if local.round != round {
                    self.push(
                        ValidationError::new(
                            ErrorCode::InvalidRound,
                            &id_field,
                            input.id.as_str(),
                            format!(
                                "`{}` names round {} but this is round {round}",
                                input.id, local.round
                            ),
                        )
                        .suggest(format!(
                            "use {}-{}{round:02}{:02}",
                            local.expert, local.letter, local.seq
                        )),
                    );
                }
                contributors_default = local.expert_slug();
            }
        }
        if self.batch.insert(input.id.clone(), id).is_some() {
            self.error(
                ErrorCode::Duplicate,
                &id_field,
                input.id.as_str(),
                format!("local id `{}` appears twice in this round", input.id),
            );
        }
        self.non_empty(&format!("{field}.label"), &input.label);
        let contributors: Vec<Option<ExpertSlug>> = if input.contributors.is_empty() {
            match contributors_default {
                Some(slug) => vec![self.known_expert(&id_field, slug.as_str(), false)],
                None => vec![None],
            }
        } else {
            input
                .contributors
                .iter()
                .enumerate()
                .map(|(i, c)| self.known_expert(&format!("{field}.contributors[{i}]"), c, false))
                .collect()
        };
        if input.parameters.is_some() && kind != EntityKind::Recommendation {
            self.error(
                ErrorCode::InvalidValue,
                format!("{field}.parameters"),
                input.parameters.clone().unwrap_or_default(),
                "only recommendations carry parameters",
            );
        }
        if let Some(parameters) = &input.parameters
            && !parameters.is_object()
        {
            self.error(
                ErrorCode::InvalidValue,
                format!("{field}.parameters"),
                parameters.clone(),
                "parameters must be a JSON object",
            );
        }
        let contributors: Option<Vec<ExpertSlug>> = contributors.into_iter().collect();
        let (text_name, text) = if kind == EntityKind::Tension {
            (
                "description",
                input.description.as_ref().or(input.content.as_ref()),
            )
        } else {
            (
                "content",
                input.content.as_ref().or(input.description.as_ref()),
            )
        };
        if let Some(contributors) = contributors {
            self.events.push(NewEvent::with_content(
                EventBody::entity_added(
                    kind,
                    EntityAdded {
                        id,
                        local_id: Some(input.id.clone()),
                        contributors,
                    },
                ),
                [
                    ("label", json!(input.label)),
                    (text_name, json!(text)),
                    (
                        "parameters",
                        input.parameters.clone().unwrap_or(Value::Null),
                    ),
                ],
            ));
        }
    }

    /// Resolves an id written in a request: a local id of this batch, or a global id of the
    /// dialogue. Records the error and returns `None` otherwise.
    fn resolve(&mut self, field: &str, text: &str) -> Option<EntityId> {
        if let Some(id) = self.batch.get(text) {
            return Some(*id);
        }
        let kind_options = || {
            EntityKind::ALL
                .iter()
                .map(|k| k.letter().to_string())
                .collect()
        };
        if let Some(local) = LocalId::parse(text) {
            if EntityKind::from_letter(local.letter).is_none() {
                self.push(
                    ValidationError::new(
                        ErrorCode::InvalidEntityType,
                        field,
                        text,
                        format!("`{}` is not an entity type", local.letter),
                    )
                    .options(kind_options()),
                );
            } else {
                let batch_ids: Vec<&str> = self.batch.keys().map(String::as_str).collect();
                let near = closest(text, batch_ids);
                self.push(
                    ValidationError::new(
                        ErrorCode::TargetNotFound,
                        field,
                        text,
                        format!("local id `{text}` is not registered in this batch"),
                    )
                    .suggest(match near.first() {
                        Some(best) => format!("did you mean `{best}`?"),
                        None => "local ids name entities of this batch; use the global id (e.g. P0101) for earlier rounds".to_owned(),
                    }),
                );
            }
            return None;
        }
        match EntityId::parse(text) {
            Ok(id) if self.graph.nodes.contains_key(&id) => Some(id),
            Ok(id) => {
                let same_kind: Vec<String> = self
                    .graph
                    .nodes
                    .keys()
                    .filter(|n| n.kind() == id.kind())
                    .map(ToString::to_string)
                    .collect();
                let near = closest(text, same_kind.iter().map(String::as_str));
                let mut error = ValidationError::new(
                    ErrorCode::TargetNotFound,
                    field,
                    text,
                    format!(
                        "`{text}` exists neither in dialogue `{}` nor in this batch",
                        self.graph.dialogue
                    ),
                );
                if let Some(best) = near.first() {
                    error = error.suggest(format!("did you mean `{best}`?"));
                }
                self.push(error);
                None
            }
            Err(EntityIdError::UnknownType(letter)) => {
                self.push(
                    ValidationError::new(
                        ErrorCode::InvalidEntityType,
                        field,
                        text,
                        format!("`{letter}` is not an entity type"),
                    )
                    .options(kind_options()),
                );
                None
            }
            Err(EntityIdError::Malformed) => {
                self.push(
                    ValidationError::new(
                        ErrorCode::InvalidId,
                        field,
                        text,
                        format!("`{text}` is neither a global id like P0101 nor a local id like MUFFIN-P0101"),
                    )
                    .suggest("ids are {type}{round:02}{seq:02}, optionally prefixed by EXPERT-"),
                );
                None
            }
        }
    }

    fn reference(
        &mut self,
        field: &str,
        source: Option<EntityId>,
        ref_type_text: &str,
        target_text: &str,
        round: u8,
    ) {
        let ref_type = RefType::parse(ref_type_text);
        if ref_type.is_none() {
            let near = closest(ref_type_text, RefType::ALL.iter().map(|r| r.as_str()));
            let mut error = ValidationError::new(
                ErrorCode::InvalidRefType,
                format!("{field}.type"),
                ref_type_text,
                format!("`{ref_type_text}` is not a reference type"),
            )
            .options(RefType::names());
            if let Some(best) = near.first() {
                error = error.suggest(format!("did you mean `{best}`?"));
            }
            self.push(error);
        }
        let target = self.resolve(&format!("{field}.target"), target_text);
        let (Some(source), Some(ref_type), Some(target)) = (source, ref_type, target) else {
            return;
        };
        let target_field = format!("{field}.target");
        if ref_type.targets_tensions_only() && target.kind() != EntityKind::Tension {
            self.push(
                ValidationError::new(
                    ErrorCode::InvalidRefTarget,
                    &target_field,
                    target_text,
                    format!(
                        "`{ref_type}` points at tensions only, and {target} is a {}",
                        target.kind()
                    ),
                )
                .options(
                    RefType::ALL
                        .iter()
                        .filter(|r| !r.targets_tensions_only() && **r != RefType::Refine)
                        .map(|r| r.as_str().to_owned())
                        .collect(),
                )
                .suggest(format!(
                    "use support or oppose for a {} target",
                    target.kind()
                )),
            );
            return;
        }
        if ref_type == RefType::Refine && source.kind() != target.kind() {
            self.push(
                ValidationError::new(
                    ErrorCode::RefineTypeMismatch,
                    &target_field,
                    target_text,
                    format!("a {} cannot refine a {}", source.kind(), target.kind()),
                )
                .suggest(format!(
                    "refine links entities of one kind; use support or depend to relate a {} to a {}",
                    source.kind(),
                    target.kind()
                )),
            );
            return;
        }
        if source == target {
            self.error(
                ErrorCode::InvalidValue,
                &target_field,
                target_text,
                format!("{source} cannot reference itself"),
            );
            return;
        }
        let key = (source, ref_type, target);
        if self.graph.edges.contains_key(&key) || !self.references.insert(key) {
            self.error(
                ErrorCode::Duplicate,
                field,
                format!("{source} {ref_type} {target}"),
                format!("the reference {source} {ref_type} {target} already exists"),
            );
            return;
        }
        self.events.push(NewEvent::bare(EventBody::ReferenceAdded {
            source,
            ref_type,
            target,
            round,
        }));
    }

    /// Resolves a `via`: a verdict id, or an entity id (local or global).
    fn resolve_via(&mut self, field: &str, text: &str) -> Option<String> {
        if self.graph.verdicts.contains_key(text) {
            return Some(text.to_owned());
        }
        self.resolve(field, text).map(|id| id.to_string())
    }

    fn current_status(&self, id: EntityId) -> Option<Status> {
        self.statuses
            .get(&id)
            .copied()
            .or_else(|| self.graph.nodes.get(&id).map(|n| n.status))
            .or_else(|| {
                self.batch
                    .values()
                    .any(|b| *b == id)
                    .then(|| lifecycle(id.kind()).initial())
            })
    }

    fn actors(&mut self, field: &str, by: &[String]) -> Option<Vec<String>> {
        if by.is_empty() {
            return Some(vec![JUDGE.to_owned()]);
        }
        let mut ok = true;
        for (i, actor) in by.iter().enumerate() {
            if actor != JUDGE
                && self
                    .known_expert(&format!("{field}[{i}]"), actor, true)
                    .is_none()
            {
                ok = false;
            }
        }
        ok.then(|| by.to_vec())
    }

    fn status_updates(&mut self, updates: &[StatusUpdateInput], prefix: &str, round: u8) {
        for (i, update) in updates.iter().enumerate() {
            let field = format!("{prefix}[{i}]");
            let id = self.resolve(&format!("{field}.id"), &update.id);
            let actors = self.actors(&format!("{field}.by"), &update.by);
            let via = match &update.via {
                Some(via) => self.resolve_via(&format!("{field}.via"), via).map(Some),
                None => Some(None),
            };
            let Some(id) = id else { continue };
            let Some(to) = self.transition(&format!("{field}.status"), id, &update.status) else {
                continue;
            };
            let (Some(actors), Some(via)) = (actors, via) else {
                continue;
            };
            self.push_status_change(id, to, round, actors, via, update.reason.clone());
        }
    }

    /// Checks `id` may move to `status_text`; returns the new status.
    fn transition(&mut self, field: &str, id: EntityId, status_text: &str) -> Option<Status> {
        let life = lifecycle(id.kind());
        let from = self.current_status(id)?;
        match Status::parse(status_text) {
            Some(to) if life.allows(from, to) => Some(to),
            to => {
                let next: Vec<String> = life
                    .next(from)
                    .iter()
                    .map(|s| s.as_str().to_owned())
                    .collect();
                let message = match to {
                    Some(to) if life.has(to) => format!("{id} cannot go from {from} to {to}"),
                    _ => format!("`{status_text}` is not a status of a {}", id.kind()),
                };
                let suggestion = if next.is_empty() {
                    format!("{id} is {from}, a final status: record a new entity instead")
                } else {
                    format!("from {from}, {id} can become {}", next.join(" or "))
                };
                self.push(
                    ValidationError::new(
                        ErrorCode::InvalidStatusTransition,
                        field,
                        status_text,
                        message,
                    )
                    .options(next)
                    .suggest(suggestion),
                );
                None
            }
        }
    }

    fn push_status_change(
        &mut self,
        id: EntityId,
        to: Status,
        round: u8,
        actors: Vec<String>,
        via: Option<String>,
        reason: Option<String>,
    ) {
        let Some(from) = self.current_status(id) else {
            return;
        };
        self.statuses.insert(id, to);
        self.events.push(NewEvent::with_content(
            EventBody::StatusChanged {
                entity: id,
                from,
                to,
                round,
                actors,
                via,
            },
            [("reason", json!(reason))],
        ));
    }

    fn verdict(&mut self, input: &RegisterVerdict) {
        let id = input.verdict_id.as_str();
        let valid_id = !id.is_empty()
            && id.len() <= 40
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !valid_id {
            self.push(
                ValidationError::new(
                    ErrorCode::InvalidId,
                    "verdict_id",
                    id,
                    format!("`{id}` is not a verdict id"),
                )
                .suggest("use 1 to 40 letters, digits, - or _, e.g. final, minority, V01"),
            );
        } else if self.graph.verdicts.contains_key(id) {
            self.push(
                ValidationError::new(
                    ErrorCode::Duplicate,
                    "verdict_id",
                    id,
                    format!("verdict `{id}` was already issued"),
                )
                .suggest("verdicts are immutable: issue a new one under another id (e.g. V02)"),
            );
        }
        let verdict_type = self.parse_name(
            "type",
            &input.verdict_type,
            VerdictType::parse,
            VerdictType::names(),
        );
        let confidence = match input.confidence.as_deref() {
            None => Some(None),
            Some(text) => self
                .parse_name("confidence", text, Confidence::parse, Confidence::names())
                .map(Some),
        };
        let round = input.round.or(self.graph.latest_round()).unwrap_or(0);
        if round > MAX_ROUND {
            self.error(
                ErrorCode::InvalidRound,
                "round",
                round,
                format!("rounds are 0 to {MAX_ROUND}"),
            );
        }
        let author = match &input.author_expert {
            None => Some(None),
            Some(slug) => self.known_expert("author_expert", slug, false).map(Some),
        };
        let supporting: Option<Vec<ExpertSlug>> = input
            .supporting_experts
            .iter()
            .enumerate()
            .map(|(i, s)| self.known_expert(&format!("supporting_experts[{i}]"), s, false))
            .collect::<Vec<_>>()
            .into_iter()
            .collect();
        self.non_empty("recommendation", &input.recommendation);
        if let (Some(verdict_type), Some(confidence), Some(author), Some(supporting)) =
            (verdict_type, confidence, author, supporting)
        {
            self.events.push(NewEvent::with_content(
                EventBody::VerdictIssued {
                    verdict: id.to_owned(),
                    verdict_type,
                    round,
                    author_expert: author,
                    vote: input.vote.clone(),
                    confidence,
                    supporting_experts: supporting,
                },
                [
                    ("recommendation", json!(input.recommendation)),
                    ("description", json!(input.description)),
                    (
                        "conditions",
                        if input.conditions.is_empty() {
                            Value::Null
                        } else {
                            json!(input.conditions)
                        },
                    ),
                ],
            ));
        }
        let actor = input
            .author_expert
            .clone()
            .filter(|a| self.graph.experts.keys().any(|k| k.as_str() == a))
            .unwrap_or_else(|| JUDGE.to_owned());
        for (list, field, kind, to) in [
            (
                &input.adopts,
                "adopts",
                EntityKind::Recommendation,
                Status::Adopted,
            ),
            (
                &input.resolves,
                "resolves",
                EntityKind::Tension,
                Status::Resolved,
            ),
        ] {
            for (i, text) in list.iter().enumerate() {
                let field = format!("{field}[{i}]");
                let Some(target) = self.resolve(&field, text) else {
                    continue;
                };
                if target.kind() != kind {
                    self.push(ValidationError::new(
                        ErrorCode::TypeIdMismatch,
                        &field,
                        text.as_str(),
                        format!(
                            "{target} is a {}, but only {} can be listed here",
                            target.kind(),
                            kind.plural()
                        ),
                    ));
                    continue;
                }
                if self.transition(&field, target, to.as_str()).is_some() {
                    self.push_status_change(
                        target,
                        to,
                        round,
                        vec![actor.clone()],
                        Some(id.to_owned()),
                        None,
                    );
                }
            }
        }
    }

    fn dialogue_status(&mut self, from: DialogueStatus, change: &ChangeDialogueStatus) {
        let Some(to) = self.parse_name(
            "status",
            &change.status,
            DialogueStatus::parse,
            DialogueStatus::names(),
        ) else {
            return;
        };
        if !from.allows(to) {
            let next: Vec<String> = DialogueStatus::ALL
                .iter()
                .filter(|s| from.allows(**s))
                .map(|s| s.as_str().to_owned())
                .collect();
            self.push(
                ValidationError::new(
                    ErrorCode::InvalidStatusTransition,
                    "status",
                    change.status.as_str(),
                    format!(
                        "dialogue `{}` cannot go from {from} to {to}",
                        self.graph.dialogue
                    ),
                )
                .options(next),
            );
            return;
        }
        self.events.push(NewEvent::with_content(
            EventBody::DialogueStatusChanged { from, to },
            [("reason", json!(change.reason))],
        ));
    }
}

/// The id a dialogue with this title gets, given the ids already taken; a rejection with
/// `dialogue_exists` when all 99 candidates are taken, `invalid_value` for a title without
/// letters or digits.
pub fn dialogue_id_for(
    title: &str,
    is_taken: impl FnMut(&str) -> bool,
) -> Result<DialogueId, Rejected> {
    if crate::ids::slugify(title).is_none() {
        return Err(Rejected::one(ValidationError::new(
            ErrorCode::InvalidValue,
            "title",
            title,
            "the title needs at least one letter or digit to make a dialogue id",
        )));
    }
    crate::ids::choose_dialogue_id(title, is_taken).ok_or_else(|| {
        Rejected::one(
            ValidationError::new(
                ErrorCode::DialogueExists,
                "title",
                title,
                "every id for this title is taken (up to -99)",
            )
            .suggest("choose a more specific title"),
        )
    })
}
