//! The request types agent tooling sends: the inputs of every command, as they arrive in JSON.
//! Their serde (and, with the `schema` feature, JSON Schema) form is the wire format, so field
//! names, aliases and defaults here are part of the interface.

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::ids::EntityKind;
use crate::model::ScoreDimensions;

// For the intra-doc link only: `CreateDialogue`'s doc text is also its JSON Schema description.
#[cfg(doc)]
use super::decide_create;

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
    /// The dialogue's id (a slug), instead of the title's slug. The id is stored in clear and
    /// stays readable after the dialogue is shredded: give one that reveals nothing (`dlg create
    /// --opaque-id` draws a random one) when the title is confidential.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
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
    /// What the score is made of (wisdom, consistency, truth, relationships); the score
    /// defaults to their sum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<ScoreDimensions>,
}

/// An expert sitting in the round: `retained` from the round before, brought in from the
/// `pool`, or `created` for the dialogue, with the Judge's reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct PanelSeatInput {
    pub expert: String,
    /// `retained`, `pool` or `created` (default: `retained` when the expert sat in the round
    /// before, else how they joined the dialogue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "schema", schemars(extend("enum" = ["retained", "pool", "created"])))]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
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
    /// Who sits in this round (default: every expert of the dialogue's panel whose first
    /// round has come). Responses, scores and moves must come from it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub panel: Vec<PanelSeatInput>,
}

impl RegisterRound {
    pub(super) fn entities(&self, kind: EntityKind) -> &[EntityInput] {
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
    /// For a final verdict: open tensions it leaves open on purpose (ids), recorded with it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tensions_accepted: Vec<String>,
    /// For a final verdict: issue it although tensions are open that it neither resolves nor
    /// accepts (recorded with it, and shown by `show` and `log`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
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

/// Parses a request as `T` after checking that no JSON object in it repeats a key: serde (like
/// most JSON readers) keeps one of two equal keys silently, and a request that says a field twice
/// says two different things. The error carries the line and column of the repeated key.
pub fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice::<UniqueKeys>(bytes)?;
    serde_json::from_slice(bytes)
}

/// A JSON value that is valid only when no object in it repeats a key.
struct UniqueKeys;

impl<'de> Deserialize<'de> for UniqueKeys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(UniqueKeysVisitor)
    }
}

struct UniqueKeysVisitor;

impl<'de> serde::de::Visitor<'de> for UniqueKeysVisitor {
    type Value = UniqueKeys;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_i64<E>(self, _: i64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_u64<E>(self, _: u64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_f64<E>(self, _: f64) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_str<E>(self, _: &str) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }
    fn visit_unit<E>(self) -> Result<UniqueKeys, E> {
        Ok(UniqueKeys)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<UniqueKeys, A::Error> {
        while seq.next_element::<UniqueKeys>()?.is_some() {}
        Ok(UniqueKeys)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<UniqueKeys, A::Error> {
        let mut seen = std::collections::BTreeSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!(
                    "the key `{}` appears twice in one object: give each field once",
                    crate::text::line(&key)
                )));
            }
            map.next_value::<UniqueKeys>()?;
        }
        Ok(UniqueKeys)
    }
}

#[cfg(test)]
mod unique_keys {
    use super::*;

    #[test]
    fn a_repeated_key_is_refused_with_its_position() {
        let error = parse_json::<Value>(b"{\"a\": {\"b\": 1,\n \"b\": 2}}").unwrap_err();
        assert!(error.to_string().contains("`b` appears twice"), "{error}");
        assert_eq!(error.line(), 2);
        assert!(parse_json::<Value>(b"[{\"a\": 1}, {\"a\": 2}]").is_ok());
    }
}
