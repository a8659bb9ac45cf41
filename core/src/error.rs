//! Validation errors: machine-readable codes with the offending field and value, a message for
//! people, the valid options where the set is small, and a suggestion an agent can act on.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The code of a validation error. The first seven are docs/dialogue.md's, in its order; the rest cover
/// what docs/dialogue.md leaves to us (ADR 0005).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// A type letter is not one of P R T E C.
    InvalidEntityType,
    /// A ref_type is not in the reference table.
    InvalidRefType,
    /// An id's prefix does not match its declared kind.
    TypeIdMismatch,
    /// A referenced id exists neither in the dialogue nor in the batch.
    TargetNotFound,
    /// resolve/reopen/address aimed at a non-tension.
    InvalidRefTarget,
    /// refine between different kinds.
    RefineTypeMismatch,
    /// A status update the lifecycle does not allow.
    InvalidStatusTransition,
    /// The request is not the JSON shape the command takes.
    MalformedRequest,
    /// An id is not of the form the field requires.
    InvalidId,
    /// The same local id, reference, expert or verdict appears twice.
    Duplicate,
    /// An expert slug that is not on the dialogue's panel.
    UnknownExpert,
    /// A field's value is out of range or not one of the allowed names.
    InvalidValue,
    /// The round is out of range, already registered, or differs from the id's round.
    InvalidRound,
    /// More than 99 entities of one kind in one round.
    TooManyEntities,
    /// A final verdict while tensions are open that it neither resolves nor accepts.
    TensionsOpen,
    /// The dialogue is converged or abandoned: nothing more may be recorded.
    DialogueClosed,
    /// No dialogue with this id.
    DialogueNotFound,
    /// A dialogue with this id already exists, or no free slug is left for the title.
    DialogueExists,
}

impl ErrorCode {
    /// The code as written in JSON (`target_not_found`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidEntityType => "invalid_entity_type",
            ErrorCode::InvalidRefType => "invalid_ref_type",
            ErrorCode::TypeIdMismatch => "type_id_mismatch",
            ErrorCode::TargetNotFound => "target_not_found",
            ErrorCode::InvalidRefTarget => "invalid_ref_target",
            ErrorCode::RefineTypeMismatch => "refine_type_mismatch",
            ErrorCode::InvalidStatusTransition => "invalid_status_transition",
            ErrorCode::MalformedRequest => "malformed_request",
            ErrorCode::InvalidId => "invalid_id",
            ErrorCode::Duplicate => "duplicate",
            ErrorCode::UnknownExpert => "unknown_expert",
            ErrorCode::InvalidValue => "invalid_value",
            ErrorCode::InvalidRound => "invalid_round",
            ErrorCode::TooManyEntities => "too_many_entities",
            ErrorCode::TensionsOpen => "tensions_open",
            ErrorCode::DialogueClosed => "dialogue_closed",
            ErrorCode::DialogueNotFound => "dialogue_not_found",
            ErrorCode::DialogueExists => "dialogue_exists",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One invalid item of a request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationError {
    /// What kind of problem.
    pub code: ErrorCode,
    /// Path of the offending field in the request, e.g. `perspectives[1].references[0].target`.
    pub field: String,
    /// The offending value.
    pub value: Value,
    /// What is wrong, for people.
    pub message: String,
    /// The valid options, where the set is small.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub valid_options: Vec<String>,
    /// How to fix it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suggestion: Option<String>,
}

impl ValidationError {
    /// An error with code, field, value and message.
    pub fn new(
        code: ErrorCode,
        field: impl Into<String>,
        value: impl Into<Value>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code,
            field: field.into(),
            value: value.into(),
            message: message.into(),
            valid_options: Vec::new(),
            suggestion: None,
        }
    }

    /// Adds the valid options.
    pub fn options(mut self, options: Vec<String>) -> Self {
        self.valid_options = options;
        self
    }

    /// Adds a suggestion.
    pub fn suggest(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestion = Some(suggestion.into());
        self
    }
}

/// The most errors a rejection lists; the rest are counted in [`Rejected::omitted`], so a
/// request with a hundred thousand bad references is answered in kilobytes, not megabytes.
pub const MAX_LISTED_ERRORS: usize = 100;

/// All errors of a rejected request, in docs/dialogue.md's order of checks (then by position):
/// the first [`MAX_LISTED_ERRORS`] of them, and how many more there were.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[error("{} invalid item(s); first: {}", errors.len() + omitted, errors.first().map(|e| e.message.as_str()).unwrap_or(""))]
pub struct Rejected {
    /// The errors found, at most [`MAX_LISTED_ERRORS`].
    pub errors: Vec<ValidationError>,
    /// How many further errors were found and not listed.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub omitted: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Rejected {
    /// Orders errors by code (docs/dialogue.md's order first), keeping request order within a
    /// code, and keeps the first [`MAX_LISTED_ERRORS`].
    pub fn new(mut errors: Vec<ValidationError>) -> Self {
        errors.sort_by_key(|e| e.code);
        let omitted = errors.len().saturating_sub(MAX_LISTED_ERRORS);
        errors.truncate(MAX_LISTED_ERRORS);
        Self { errors, omitted }
    }

    /// A rejection with one error.
    pub fn one(error: ValidationError) -> Self {
        Self {
            errors: vec![error],
            omitted: 0,
        }
    }

    /// The codes, in order.
    pub fn codes(&self) -> Vec<ErrorCode> {
        self.errors.iter().map(|e| e.code).collect()
    }
}

/// The closest candidates to `wanted` by edit distance (at most 2 edits), best first.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut scored: Vec<(usize, &str)> = candidates
        .into_iter()
        .map(|c| (edit_distance(&wanted.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= 2)
        .collect();
    scored.sort();
    scored
        .into_iter()
        .take(3)
        .map(|(_, c)| c.to_owned())
        .collect()
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            current.push(
                (previous[j] + cost)
                    .min(previous[j + 1] + 1)
                    .min(current[j] + 1),
            );
        }
        previous = current;
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_names() {
        assert_eq!(
            closest("mufin", ["muffin", "scone", "eclair"]),
            vec!["muffin"]
        );
        assert!(closest("zzz", ["muffin"]).is_empty());
    }
}
