//! Events: facts in the past tense, each split into a clear structure (what the projector and
//! the auditor may read without a key) and a content object that is sealed before it is stored.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ids::{DialogueId, EntityId, EntityKind, ExpertSlug};
use crate::model::{
    Confidence, DialogueStatus, ExpertSource, MoveKind, RefType, ScoreDimensions, SeatSource,
    Status, Tier, VerdictType,
};

/// The schema version every event is written with today. Older versions are upcast on decode
/// (see [`crate::commit`]).
pub const EVENT_VERSION: u16 = 1;

/// Who made a status change: an expert of the dialogue, or the Judge.
pub const JUDGE: &str = "judge";

/// The clear part of an entity's creation event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntityAdded {
    /// The global display id assigned at registration.
    pub id: EntityId,
    /// The local id the expert wrote (`MUFFIN-P0101`), kept so the mapping can be answered again.
    pub local_id: Option<String>,
    /// Expert slugs credited with the entity; never empty.
    pub contributors: Vec<ExpertSlug>,
}

/// An expert sitting in a round, and how they came to (the reason, if any, is sealed in the
/// round's content under `reasons`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PanelSeat {
    pub expert: ExpertSlug,
    pub source: SeatSource,
}

/// The clear structure of an event. Serialized as `{"type": ..., "body": {...}}`.
///
/// The content that goes with each type (sealed; see `docs/format.md`):
/// `DialogueCreated` {title, question}; `ExpertJoined` {role, description, focus,
/// creation_reason}; `RoundOpened` {title, reasons}; `ResponseRecorded` {text}; entity events {label,
/// content} (tensions: {label, description}; recommendations also {parameters});
/// `MoveRecorded` {context}; `StatusChanged` {reason}; `RoundCompleted` {summary};
/// `VerdictIssued` {recommendation, description, conditions}; `DialogueStatusChanged` {reason}.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "body")]
pub enum EventBody {
    /// A dialogue came into being under this id.
    DialogueCreated { dialogue: DialogueId },
    /// An expert joined the panel (from the pool, or created mid-dialogue).
    ExpertJoined {
        expert: ExpertSlug,
        tier: Tier,
        source: ExpertSource,
        relevance: Option<f64>,
        color: Option<String>,
        first_round: Option<u8>,
    },
    /// A round was opened, with the panel that sits in it (left out in commits written before
    /// panels were recorded).
    RoundOpened {
        round: u8,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        panel: Vec<PanelSeat>,
    },
    /// An expert's raw response text for a round was recorded.
    ResponseRecorded { round: u8, expert: ExpertSlug },
    /// An expert received a score for a round.
    ExpertScored {
        round: u8,
        expert: ExpertSlug,
        score: f64,
        /// What the score is made of, when the Judge scored by dimension.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        dimensions: Option<ScoreDimensions>,
    },
    /// A perspective was added.
    PerspectiveAdded(EntityAdded),
    /// A recommendation was proposed.
    RecommendationProposed(EntityAdded),
    /// A tension was raised.
    TensionRaised(EntityAdded),
    /// Evidence was cited.
    EvidenceCited(EntityAdded),
    /// A claim was asserted.
    ClaimAsserted(EntityAdded),
    /// A typed edge `source --ref_type--> target` was added.
    ReferenceAdded {
        source: EntityId,
        ref_type: RefType,
        target: EntityId,
        round: u8,
    },
    /// An expert made a move in a round; `index` orders the expert's moves within the round.
    MoveRecorded {
        round: u8,
        expert: ExpertSlug,
        index: u16,
        kind: MoveKind,
        targets: Vec<EntityId>,
    },
    /// An entity's status changed.
    StatusChanged {
        entity: EntityId,
        from: Status,
        to: Status,
        round: u8,
        /// Expert slugs, or `judge`.
        actors: Vec<String>,
        /// The id of the entity or verdict that caused the change, if any.
        via: Option<String>,
    },
    /// A round was completed with its alignment score.
    RoundCompleted { round: u8, score: Option<f64> },
    /// A verdict was issued; verdicts are immutable.
    VerdictIssued {
        verdict: String,
        verdict_type: VerdictType,
        round: u8,
        author_expert: Option<ExpertSlug>,
        vote: Option<String>,
        confidence: Option<Confidence>,
        supporting_experts: Vec<ExpertSlug>,
        /// The open tensions a final verdict was issued over, accepted as left open.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        tensions_accepted: Vec<EntityId>,
        /// Whether a final verdict was forced over open tensions it neither resolves nor accepts.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        forced: bool,
    },
    /// The dialogue's status changed.
    DialogueStatusChanged {
        from: DialogueStatus,
        to: DialogueStatus,
    },
}

impl EventBody {
    /// The event's type name as stored.
    pub fn type_name(&self) -> &'static str {
        match self {
            EventBody::DialogueCreated { .. } => "DialogueCreated",
            EventBody::ExpertJoined { .. } => "ExpertJoined",
            EventBody::RoundOpened { .. } => "RoundOpened",
            EventBody::ResponseRecorded { .. } => "ResponseRecorded",
            EventBody::ExpertScored { .. } => "ExpertScored",
            EventBody::PerspectiveAdded(_) => "PerspectiveAdded",
            EventBody::RecommendationProposed(_) => "RecommendationProposed",
            EventBody::TensionRaised(_) => "TensionRaised",
            EventBody::EvidenceCited(_) => "EvidenceCited",
            EventBody::ClaimAsserted(_) => "ClaimAsserted",
            EventBody::ReferenceAdded { .. } => "ReferenceAdded",
            EventBody::MoveRecorded { .. } => "MoveRecorded",
            EventBody::StatusChanged { .. } => "StatusChanged",
            EventBody::RoundCompleted { .. } => "RoundCompleted",
            EventBody::VerdictIssued { .. } => "VerdictIssued",
            EventBody::DialogueStatusChanged { .. } => "DialogueStatusChanged",
        }
    }

    /// The creation event for an entity of `kind`.
    pub fn entity_added(kind: EntityKind, added: EntityAdded) -> Self {
        match kind {
            EntityKind::Perspective => EventBody::PerspectiveAdded(added),
            EntityKind::Recommendation => EventBody::RecommendationProposed(added),
            EntityKind::Tension => EventBody::TensionRaised(added),
            EntityKind::Evidence => EventBody::EvidenceCited(added),
            EntityKind::Claim => EventBody::ClaimAsserted(added),
        }
    }

    /// If this event creates an entity: its kind and clear record.
    pub fn as_entity_added(&self) -> Option<(EntityKind, &EntityAdded)> {
        match self {
            EventBody::PerspectiveAdded(a) => Some((EntityKind::Perspective, a)),
            EventBody::RecommendationProposed(a) => Some((EntityKind::Recommendation, a)),
            EventBody::TensionRaised(a) => Some((EntityKind::Tension, a)),
            EventBody::EvidenceCited(a) => Some((EntityKind::Evidence, a)),
            EventBody::ClaimAsserted(a) => Some((EntityKind::Claim, a)),
            _ => None,
        }
    }

    /// The entity part of the event's canonical address: `(entity type, subkey)`. Together with
    /// the dialogue and the event's sequence number this is what a sealed field is bound to.
    pub fn address_parts(&self) -> (&'static str, String) {
        match self {
            EventBody::DialogueCreated { .. } => ("dialogue", "meta".to_owned()),
            EventBody::ExpertJoined { expert, .. } => ("expert", expert.to_string()),
            EventBody::RoundOpened { round, .. } | EventBody::RoundCompleted { round, .. } => {
                ("round", round.to_string())
            }
            EventBody::ResponseRecorded { round, expert } => {
                ("response", format!("{round}/{expert}"))
            }
            EventBody::ExpertScored { round, expert, .. } => ("score", format!("{round}/{expert}")),
            EventBody::PerspectiveAdded(a)
            | EventBody::RecommendationProposed(a)
            | EventBody::TensionRaised(a)
            | EventBody::EvidenceCited(a)
            | EventBody::ClaimAsserted(a) => (a.id.kind().name(), a.id.to_string()),
            EventBody::ReferenceAdded {
                source,
                ref_type,
                target,
                ..
            } => ("reference", format!("{source}/{ref_type}/{target}")),
            EventBody::MoveRecorded {
                round,
                expert,
                index,
                ..
            } => ("move", format!("{round}/{expert}/{index}")),
            EventBody::StatusChanged { entity, .. } => (entity.kind().name(), entity.to_string()),
            EventBody::VerdictIssued { verdict, .. } => ("verdict", verdict.clone()),
            EventBody::DialogueStatusChanged { .. } => ("dialogue", "status".to_owned()),
        }
    }
}

/// The canonical address of an event's sealed content:
/// `dialogue:{id}/event:{seq}/entity:{type}/{subkey}`. Backend-independent by construction.
pub fn canonical_address(dialogue: &DialogueId, seq: u64, body: &EventBody) -> String {
    let (entity_type, subkey) = body.address_parts();
    format!("dialogue:{dialogue}/event:{seq}/entity:{entity_type}/{subkey}")
}

/// An event decided by a command, before it is numbered and sealed.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    /// The clear structure.
    pub body: EventBody,
    /// The content to seal; `None` when the event carries no content.
    pub content: Option<Map<String, Value>>,
}

impl NewEvent {
    /// An event with no content.
    pub fn bare(body: EventBody) -> Self {
        Self {
            body,
            content: None,
        }
    }

    /// An event with content built from `(name, value)` pairs; null values are left out, and an
    /// event whose pairs are all null carries no content.
    pub fn with_content<const N: usize>(body: EventBody, pairs: [(&str, Value); N]) -> Self {
        let map: Map<String, Value> = pairs
            .into_iter()
            .filter(|(_, value)| !value.is_null())
            .map(|(name, value)| (name.to_owned(), value))
            .collect();
        Self {
            body,
            content: (!map.is_empty()).then_some(map),
        }
    }
}
