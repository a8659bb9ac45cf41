//! Identifiers of the dialogue domain: dialogue and expert slugs, entity kinds, display ids
//! (`P0102`) and the local ids experts write (`MUFFIN-P0101`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Highest round number a dialogue may have (rounds are `0..=MAX_ROUND`).
pub const MAX_ROUND: u8 = 99;
/// Highest per-round sequence number of one entity kind (`P0199` is the last perspective).
pub const MAX_SEQ: u8 = 99;
/// Highest suffix tried when a dialogue slug is taken (`title-2` ... `title-99`).
pub const MAX_SLUG_SUFFIX: u32 = 99;

/// Why a piece of text is not a valid identifier. The message says what form is expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IdError(pub String);

fn is_slug(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 80
        && text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !text.starts_with('-')
        && !text.ends_with('-')
        && !text.contains("--")
}

macro_rules! slug_type {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Parses a slug: lowercase ASCII letters, digits and single inner hyphens, 1 to 80 bytes.
            pub fn parse(text: &str) -> Result<Self, IdError> {
                if is_slug(text) {
                    Ok(Self(text.to_owned()))
                } else {
                    Err(IdError(format!(
                        "`{text}` is not a valid {} slug: use lowercase letters, digits and single hyphens (e.g. `{}`)",
                        $what,
                        slugify(text).unwrap_or_else(|| "muffin".to_owned())
                    )))
                }
            }

            /// The slug as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::parse(&value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;
            fn from_str(s: &str) -> Result<Self, IdError> {
                Self::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

slug_type!(
    /// A dialogue's id: the slug of its title, e.g. `rfc-0058-supersession`.
    DialogueId,
    "dialogue"
);
slug_type!(
    /// An expert's slug within one dialogue, e.g. `muffin`.
    ExpertSlug,
    "expert"
);

/// Turns a title into a slug (`"RFC 0058: Supersession"` → `rfc-0058-supersession`).
/// Returns `None` when the title has no letters or digits at all.
pub fn slugify(title: &str) -> Option<String> {
    let mut slug = String::new();
    let mut pending_hyphen = false;
    for c in title.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_hyphen && !slug.is_empty() {
                slug.push('-');
            }
            pending_hyphen = false;
            slug.push(c.to_ascii_lowercase());
        } else {
            pending_hyphen = true;
        }
        if slug.len() >= 60 {
            break;
        }
    }
    let slug = slug.trim_end_matches('-').to_owned();
    (!slug.is_empty()).then_some(slug)
}

/// Chooses the dialogue id for a title: its slug, or the slug with `-2` ... `-99` when taken.
/// `is_taken` answers whether an id is already used. Returns `None` when every candidate is taken
/// or the title has no letters or digits.
pub fn choose_dialogue_id(
    title: &str,
    mut is_taken: impl FnMut(&str) -> bool,
) -> Option<DialogueId> {
    let base = slugify(title)?;
    if !is_taken(&base) {
        return DialogueId::parse(&base).ok();
    }
    (2..=MAX_SLUG_SUFFIX)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !is_taken(candidate))
        .and_then(|candidate| DialogueId::parse(&candidate).ok())
}

/// The five kinds of first-class entity, each with its one-letter type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntityKind {
    Perspective,
    Recommendation,
    Tension,
    Evidence,
    Claim,
}

impl EntityKind {
    /// Every kind, in the order of docs/dialogue.md.
    pub const ALL: [EntityKind; 5] = [
        EntityKind::Perspective,
        EntityKind::Recommendation,
        EntityKind::Tension,
        EntityKind::Evidence,
        EntityKind::Claim,
    ];

    /// The one-letter type used in ids.
    pub fn letter(self) -> char {
        match self {
            EntityKind::Perspective => 'P',
            EntityKind::Recommendation => 'R',
            EntityKind::Tension => 'T',
            EntityKind::Evidence => 'E',
            EntityKind::Claim => 'C',
        }
    }

    /// The kind for a one-letter type, if it is one of `P R T E C`.
    pub fn from_letter(letter: char) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.letter() == letter)
    }

    /// The lowercase name (`perspective`).
    pub fn name(self) -> &'static str {
        match self {
            EntityKind::Perspective => "perspective",
            EntityKind::Recommendation => "recommendation",
            EntityKind::Tension => "tension",
            EntityKind::Evidence => "evidence",
            EntityKind::Claim => "claim",
        }
    }

    /// The plural used for batch arrays and exports (`perspectives`, `evidence`).
    pub fn plural(self) -> &'static str {
        match self {
            EntityKind::Perspective => "perspectives",
            EntityKind::Recommendation => "recommendations",
            EntityKind::Tension => "tensions",
            EntityKind::Evidence => "evidence",
            EntityKind::Claim => "claims",
        }
    }
}

impl fmt::Display for EntityKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A global display id: `{type}{round:02}{seq:02}`, e.g. `P0102` (round 1, 2nd perspective).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EntityId {
    kind: EntityKind,
    round: u8,
    seq: u8,
}

/// What is wrong with a text that should be an entity id; distinguishes an unknown type letter
/// (`invalid_entity_type`) from any other malformation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntityIdError {
    /// The shape is right but the letter is not one of `P R T E C`.
    UnknownType(char),
    /// Not of the form `{letter}{round:02}{seq:02}`.
    Malformed,
}

impl EntityId {
    /// Below every id, for range bounds.
    pub const MIN: EntityId = EntityId {
        kind: EntityKind::Perspective,
        round: 0,
        seq: 0,
    };
    /// Above every id, for range bounds.
    pub const MAX: EntityId = EntityId {
        kind: EntityKind::Claim,
        round: u8::MAX,
        seq: u8::MAX,
    };

    /// Builds an id; `None` when the round or sequence number is out of range.
    pub fn new(kind: EntityKind, round: u8, seq: u8) -> Option<Self> {
        (round <= MAX_ROUND && (1..=MAX_SEQ).contains(&seq)).then_some(Self { kind, round, seq })
    }

    /// Parses `P0102`.
    pub fn parse(text: &str) -> Result<Self, EntityIdError> {
        let bytes = text.as_bytes();
        if bytes.len() != 5 || !bytes[1..].iter().all(u8::is_ascii_digit) {
            return Err(EntityIdError::Malformed);
        }
        let letter = char::from(bytes[0]);
        if !letter.is_ascii_uppercase() {
            return Err(EntityIdError::Malformed);
        }
        let kind = EntityKind::from_letter(letter).ok_or(EntityIdError::UnknownType(letter))?;
        let round = (bytes[1] - b'0') * 10 + (bytes[2] - b'0');
        let seq = (bytes[3] - b'0') * 10 + (bytes[4] - b'0');
        Self::new(kind, round, seq).ok_or(EntityIdError::Malformed)
    }

    /// The entity's kind.
    pub fn kind(self) -> EntityKind {
        self.kind
    }

    /// The round the entity was registered in.
    pub fn round(self) -> u8 {
        self.round
    }

    /// The entity's position among entities of its kind in its round, from 1.
    pub fn seq(self) -> u8 {
        self.seq
    }
}

impl fmt::Display for EntityId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{:02}{:02}", self.kind.letter(), self.round, self.seq)
    }
}

impl TryFrom<String> for EntityId {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, IdError> {
        Self::parse(&value)
            .map_err(|_| IdError(format!("`{value}` is not an entity id like `P0102`")))
    }
}

impl From<EntityId> for String {
    fn from(value: EntityId) -> String {
        value.to_string()
    }
}

impl FromStr for EntityId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        Self::try_from(s.to_owned())
    }
}

/// A local id as an expert writes it: `{EXPERT}-{type}{round:02}{seq:02}` (`MUFFIN-P0101`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LocalId {
    /// The expert prefix, as written (upper case by convention).
    pub expert: String,
    /// The type letter as written (may be invalid: checked by validation).
    pub letter: char,
    /// The round number written in the id.
    pub round: u8,
    /// The expert-local sequence number.
    pub seq: u8,
}

impl LocalId {
    /// Parses `MUFFIN-P0101`; the letter is not checked here so validation can report
    /// `invalid_entity_type` for it.
    pub fn parse(text: &str) -> Option<Self> {
        let (expert, rest) = text.rsplit_once('-')?;
        if expert.is_empty()
            || !expert
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return None;
        }
        let bytes = rest.as_bytes();
        if bytes.len() != 5
            || !bytes[0].is_ascii_alphabetic()
            || !bytes[1..].iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        Some(Self {
            expert: expert.to_owned(),
            letter: char::from(bytes[0]).to_ascii_uppercase(),
            round: (bytes[1] - b'0') * 10 + (bytes[2] - b'0'),
            seq: (bytes[3] - b'0') * 10 + (bytes[4] - b'0'),
        })
    }

    /// The expert slug the prefix names (`MUFFIN` → `muffin`), when it is a valid slug.
    pub fn expert_slug(&self) -> Option<ExpertSlug> {
        ExpertSlug::parse(&self.expert.to_ascii_lowercase().replace('_', "-")).ok()
    }
}

impl fmt::Display for LocalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}{:02}{:02}",
            self.expert, self.letter, self.round, self.seq
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_ids_round_trip() {
        let id = EntityId::parse("P0102").unwrap();
        assert_eq!(
            (id.kind(), id.round(), id.seq()),
            (EntityKind::Perspective, 1, 2)
        );
        assert_eq!(id.to_string(), "P0102");
        assert_eq!(
            EntityId::parse("X0101"),
            Err(EntityIdError::UnknownType('X'))
        );
        assert_eq!(EntityId::parse("P010"), Err(EntityIdError::Malformed));
        assert_eq!(EntityId::parse("P0100"), Err(EntityIdError::Malformed));
    }

    #[test]
    fn local_ids_parse() {
        let id = LocalId::parse("MUFFIN-P0101").unwrap();
        assert_eq!(id.expert_slug().unwrap().as_str(), "muffin");
        assert_eq!((id.letter, id.round, id.seq), ('P', 1, 1));
        assert!(LocalId::parse("P0101").is_none());
        assert_eq!(LocalId::parse("BLUE-SKY-T0203").unwrap().expert, "BLUE-SKY");
    }

    #[test]
    fn slugs_follow_titles_and_suffixes() {
        assert_eq!(
            slugify("RFC 0058: Supersession").as_deref(),
            Some("rfc-0058-supersession")
        );
        assert_eq!(slugify("  --  "), None);
        let taken = ["rfc", "rfc-2"];
        let chosen = choose_dialogue_id("RFC", |s| taken.contains(&s)).unwrap();
        assert_eq!(chosen.as_str(), "rfc-3");
        assert!(choose_dialogue_id("RFC", |_| true).is_none());
    }
}
