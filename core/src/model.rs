//! The vocabulary of docs/dialogue.md: statuses and their lifecycles, reference types and their target
//! rules, moves, verdict kinds, expert tiers and sources.

use serde::{Deserialize, Serialize};

use crate::ids::EntityKind;

/// Declares a closed set of lowercase names with parsing, listing and display.
macro_rules! name_enum {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The name as written in commands, events and exports.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses a name; `None` when it is not one of [`Self::ALL`].
            pub fn parse(text: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|value| value.as_str() == text)
            }

            /// The valid names, for error messages.
            pub fn names() -> Vec<String> {
                Self::ALL.iter().map(|value| value.as_str().to_owned()).collect()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

name_enum!(
    /// Status of any entity; which ones apply depends on the kind (see [`lifecycle`]).
    Status {
        Open = "open",
        Refined = "refined",
        Conceded = "conceded",
        Merged = "merged",
        Proposed = "proposed",
        Amended = "amended",
        Adopted = "adopted",
        Rejected = "rejected",
        Addressed = "addressed",
        Resolved = "resolved",
        Reopened = "reopened",
        Cited = "cited",
        Challenged = "challenged",
        Confirmed = "confirmed",
        Refuted = "refuted",
        Asserted = "asserted",
        Supported = "supported",
        Opposed = "opposed",
        Withdrawn = "withdrawn",
    }
);

/// The lifecycle of one entity kind: its statuses (initial first) and allowed transitions.
#[derive(Debug)]
pub struct Lifecycle {
    /// Every status of the kind; the first is the initial one.
    pub statuses: &'static [Status],
    /// Allowed `(from, to)` pairs. Anything else is `invalid_status_transition`.
    pub transitions: &'static [(Status, Status)],
}

impl Lifecycle {
    /// The status a new entity of this kind starts in.
    pub fn initial(&self) -> Status {
        self.statuses[0]
    }

    /// Whether `from → to` is allowed.
    pub fn allows(&self, from: Status, to: Status) -> bool {
        self.transitions.contains(&(from, to))
    }

    /// Whether the status belongs to this kind at all.
    pub fn has(&self, status: Status) -> bool {
        self.statuses.contains(&status)
    }

    /// The statuses reachable from `from`.
    pub fn next(&self, from: Status) -> Vec<Status> {
        self.transitions
            .iter()
            .filter(|(f, _)| *f == from)
            .map(|(_, t)| *t)
            .collect()
    }
}

use Status::*;

/// The lifecycle of each kind. docs/dialogue.md draws each as a chain; we read an arrow as "may move
/// forward to", so an intermediate step may be skipped (an open tension may be resolved without
/// first being addressed). A recommendation may be amended more than once, and a claim may swing
/// between supported and opposed before it is adopted or withdrawn (ADR 0004).
pub fn lifecycle(kind: EntityKind) -> &'static Lifecycle {
    static PERSPECTIVE: Lifecycle = Lifecycle {
        statuses: &[Open, Refined, Conceded, Merged],
        transitions: &[(Open, Refined), (Open, Conceded), (Open, Merged)],
    };
    static RECOMMENDATION: Lifecycle = Lifecycle {
        statuses: &[Proposed, Amended, Adopted, Rejected],
        transitions: &[
            (Proposed, Amended),
            (Proposed, Adopted),
            (Proposed, Rejected),
            (Amended, Amended),
            (Amended, Adopted),
            (Amended, Rejected),
        ],
    };
    static TENSION: Lifecycle = Lifecycle {
        statuses: &[Open, Addressed, Resolved, Reopened],
        transitions: &[
            (Open, Addressed),
            (Open, Resolved),
            (Addressed, Resolved),
            (Resolved, Reopened),
            (Reopened, Addressed),
            (Reopened, Resolved),
        ],
    };
    static EVIDENCE: Lifecycle = Lifecycle {
        statuses: &[Cited, Challenged, Confirmed, Refuted],
        transitions: &[
            (Cited, Challenged),
            (Cited, Confirmed),
            (Cited, Refuted),
            (Challenged, Confirmed),
            (Challenged, Refuted),
        ],
    };
    static CLAIM: Lifecycle = Lifecycle {
        statuses: &[Asserted, Supported, Opposed, Adopted, Withdrawn],
        transitions: &[
            (Asserted, Supported),
            (Asserted, Opposed),
            (Asserted, Adopted),
            (Asserted, Withdrawn),
            (Supported, Opposed),
            (Supported, Adopted),
            (Supported, Withdrawn),
            (Opposed, Supported),
            (Opposed, Adopted),
            (Opposed, Withdrawn),
        ],
    };
    match kind {
        EntityKind::Perspective => &PERSPECTIVE,
        EntityKind::Recommendation => &RECOMMENDATION,
        EntityKind::Tension => &TENSION,
        EntityKind::Evidence => &EVIDENCE,
        EntityKind::Claim => &CLAIM,
    }
}

/// Whether a tension in this status counts as open (not settled): `open`, `addressed`, `reopened`.
pub fn tension_is_open(status: Status) -> bool {
    matches!(status, Open | Addressed | Reopened)
}

/// Whether an entity in `status` is still in play: a tension not settled ([`tension_is_open`]),
/// or any other entity whose lifecycle can still move on from `status` (a proposed or amended
/// recommendation, challenged evidence, a claim not adopted or withdrawn, an open perspective).
pub fn is_unsettled(kind: EntityKind, status: Status) -> bool {
    match kind {
        EntityKind::Tension => tension_is_open(status),
        _ => !lifecycle(kind).next(status).is_empty(),
    }
}

name_enum!(
    /// The type of a reference (typed edge) between two entities.
    RefType {
        Resolve = "resolve",
        Reopen = "reopen",
        Address = "address",
        Refine = "refine",
        Support = "support",
        Oppose = "oppose",
        Question = "question",
        Depend = "depend",
    }
);

impl RefType {
    /// Whether this reference may only point at tensions.
    pub fn targets_tensions_only(self) -> bool {
        matches!(self, RefType::Resolve | RefType::Reopen | RefType::Address)
    }
}

name_enum!(
    /// A move an expert makes in a round.
    MoveKind {
        Defend = "defend",
        Challenge = "challenge",
        Bridge = "bridge",
        Request = "request",
        Concede = "concede",
        Converge = "converge",
    }
);

impl MoveKind {
    /// Whether the move may have no targets (`converge`, `request`).
    pub fn targets_optional(self) -> bool {
        matches!(self, MoveKind::Converge | MoveKind::Request)
    }
}

name_enum!(
    /// The status of a dialogue.
    DialogueStatus {
        Open = "open",
        Converging = "converging",
        Converged = "converged",
        Abandoned = "abandoned",
    }
);

impl DialogueStatus {
    /// Allowed dialogue transitions: forward along open → converging → converged, or to
    /// abandoned from any non-final status.
    pub fn allows(self, to: DialogueStatus) -> bool {
        use DialogueStatus as D;
        matches!(
            (self, to),
            (D::Open, D::Converging)
                | (D::Open, D::Converged)
                | (D::Converging, D::Converged)
                | (D::Open, D::Abandoned)
                | (D::Converging, D::Abandoned)
        )
    }

    /// Whether nothing more may be recorded in the dialogue.
    pub fn is_final(self) -> bool {
        matches!(self, DialogueStatus::Converged | DialogueStatus::Abandoned)
    }
}

name_enum!(
    /// The status of a round.
    RoundStatus {
        Open = "open",
        InProgress = "in_progress",
        Completed = "completed",
    }
);

name_enum!(
    /// How central an expert is to the question.
    Tier {
        Core = "Core",
        Adjacent = "Adjacent",
        Wildcard = "Wildcard",
    }
);

name_enum!(
    /// Where an expert came from: the dialogue's pool, or created mid-dialogue by the Judge.
    ExpertSource {
        Pool = "pool",
        Created = "created",
    }
);

name_enum!(
    /// How an expert came to sit in a round: kept from the round before, brought in from the
    /// pool, or created for the dialogue.
    SeatSource {
        Retained = "retained",
        Pool = "pool",
        Created = "created",
    }
);

/// The dimensions an expert's round score is made of, as the archives of agent tooling record
/// them (`| Agent | Wisdom | Consistency | Truth | Relationships | Total |`); each optional, and
/// left out of events when absent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub struct ScoreDimensions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wisdom: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub truth: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub relationships: Option<f64>,
}

impl ScoreDimensions {
    /// The dimension names, in the order events write them.
    pub const NAMES: [&'static str; 4] = ["wisdom", "consistency", "truth", "relationships"];

    /// `(name, value)` of each dimension given.
    pub fn given(&self) -> Vec<(&'static str, f64)> {
        Self::NAMES
            .into_iter()
            .zip([
                self.wisdom,
                self.consistency,
                self.truth,
                self.relationships,
            ])
            .filter_map(|(name, value)| value.map(|v| (name, v)))
            .collect()
    }

    /// Whether no dimension is given.
    pub fn is_empty(&self) -> bool {
        self.given().is_empty()
    }

    /// The sum of the dimensions given.
    pub fn sum(&self) -> f64 {
        self.given().iter().map(|(_, v)| v).sum()
    }

    /// These dimensions added to `other`'s, dimension by dimension.
    pub fn plus(&self, other: &ScoreDimensions) -> ScoreDimensions {
        let add = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (None, None) => None,
            (a, b) => Some(a.unwrap_or(0.0) + b.unwrap_or(0.0)),
        };
        ScoreDimensions {
            wisdom: add(self.wisdom, other.wisdom),
            consistency: add(self.consistency, other.consistency),
            truth: add(self.truth, other.truth),
            relationships: add(self.relationships, other.relationships),
        }
    }
}

name_enum!(
    /// The type of a verdict.
    VerdictType {
        Interim = "interim",
        Final = "final",
        Minority = "minority",
        Dissent = "dissent",
    }
);

name_enum!(
    /// How strongly the panel stands behind a verdict.
    Confidence {
        Unanimous = "unanimous",
        Strong = "strong",
        Split = "split",
        Contested = "contested",
    }
);

/// The largest score, in absolute value, an expert or a round may have: scores are finite
/// numbers from `-MAX_SCORE` to `MAX_SCORE`, so no total overflows.
pub const MAX_SCORE: f64 = 100_000.0;

/// Whether `score` is a score the ledger records.
pub fn valid_score(score: f64) -> bool {
    score.is_finite() && score.abs() <= MAX_SCORE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_transition_stays_within_its_kind() {
        for kind in EntityKind::ALL {
            let life = lifecycle(kind);
            for (from, to) in life.transitions {
                assert!(life.has(*from) && life.has(*to), "{kind}: {from} -> {to}");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(*status));
        }
        assert_eq!(
            RoundStatus::parse("in_progress"),
            Some(RoundStatus::InProgress)
        );
        assert_eq!(RefType::parse("supports"), None);
    }
}
