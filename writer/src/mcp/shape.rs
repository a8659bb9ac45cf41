//! Tool arguments checked for shape the way the ledger checks a request for meaning: every
//! field that is not of its type is a `malformed_request` error with its field path (the same
//! paths the validation codes use, relative to `request` for writes) and the value found, all
//! of them at once, instead of the first deserializer message as plain text.
//!
//! [`Checked<T>`] takes the arguments as JSON and declares `T`'s schema, so clients still see
//! the exact input schema; [`Checked::parse`] deserializes with the path tracked, and after each
//! error leaves out the array element (or the field) it sits in and goes on, so the other
//! invalid items of a batch are reported too.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::marker::PhantomData;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use serde_path_to_error::Segment;

use dlg_core::error::{ErrorCode, MAX_LISTED_ERRORS, Rejected, ValidationError};

/// Tool arguments as sent, with the schema of `T`.
#[derive(Debug)]
pub struct Checked<T> {
    value: Value,
    shape: PhantomData<T>,
}

impl<'de, T> Deserialize<'de> for Checked<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self {
            value: Value::deserialize(deserializer)?,
            shape: PhantomData,
        })
    }
}

impl<T: JsonSchema> JsonSchema for Checked<T> {
    fn inline_schema() -> bool {
        T::inline_schema()
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn schema_id() -> Cow<'static, str> {
        T::schema_id()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::json_schema(generator)
    }
}

/// One step of a path into the arguments.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    Index(usize),
    Key(String),
}

impl<T: DeserializeOwned> Checked<T> {
    /// The arguments as `T`, or every shape error in them.
    pub fn parse(self) -> Result<T, Rejected> {
        let original = self.value;
        let mut value = original.clone();
        let mut errors = Vec::new();
        // Per array (by its path in the original), the original indices left out so far.
        let mut removed: BTreeMap<Vec<Step>, Vec<usize>> = BTreeMap::new();
        loop {
            let error = match serde_path_to_error::deserialize::<_, T>(value.clone()) {
                Ok(parsed) if errors.is_empty() => return Ok(parsed),
                Ok(_) => break,
                Err(error) => error,
            };
            let current: Vec<Step> = error
                .path()
                .iter()
                .filter_map(|segment| match segment {
                    Segment::Seq { index } => Some(Step::Index(*index)),
                    Segment::Map { key } => Some(Step::Key(key.clone())),
                    Segment::Enum { variant } => Some(Step::Key(variant.clone())),
                    Segment::Unknown => None,
                })
                .collect();
            let path = to_original(&current, &removed);
            let found = lookup(&original, &path).cloned().unwrap_or(Value::Null);
            let field = render(&path);
            errors.push(
                ValidationError::new(
                    ErrorCode::MalformedRequest,
                    field.clone(),
                    found,
                    format!(
                        "{}: {}",
                        if field.is_empty() {
                            "the arguments"
                        } else {
                            &field
                        },
                        error.inner()
                    ),
                )
                .suggest("send the shape the tool's input schema gives (tools/list)"),
            );
            if errors.len() > MAX_LISTED_ERRORS {
                break;
            }
            // Go on without the innermost array element holding the error; with none, the
            // error is in a top-level field and nothing more can be learned.
            let Some(at) = current.iter().rposition(|s| matches!(s, Step::Index(_))) else {
                break;
            };
            let Step::Index(index) = current[at] else {
                break;
            };
            let original_index = match path[at] {
                Step::Index(i) => i,
                Step::Key(_) => break,
            };
            match lookup_mut(&mut value, &current[..at]) {
                Some(Value::Array(items)) if index < items.len() => {
                    items.remove(index);
                }
                _ => break,
            }
            removed
                .entry(path[..at].to_vec())
                .or_default()
                .push(original_index);
        }
        Err(Rejected::new(errors))
    }
}

/// A path into the current (pruned) arguments, as a path into the original ones.
fn to_original(current: &[Step], removed: &BTreeMap<Vec<Step>, Vec<usize>>) -> Vec<Step> {
    let mut path = Vec::with_capacity(current.len());
    for step in current {
        match step {
            Step::Index(index) => {
                let gone = removed.get(&path).map(Vec::as_slice).unwrap_or(&[]);
                // The index-th original index not left out.
                let original = (0..)
                    .filter(|i| !gone.contains(i))
                    .nth(*index)
                    .unwrap_or(*index);
                path.push(Step::Index(original));
            }
            Step::Key(key) => path.push(Step::Key(key.clone())),
        }
    }
    path
}

fn lookup<'a>(value: &'a Value, path: &[Step]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, step| match step {
        Step::Index(i) => v.get(*i),
        Step::Key(k) => v.get(k),
    })
}

fn lookup_mut<'a>(value: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |v, step| match step {
        Step::Index(i) => v.get_mut(*i),
        Step::Key(k) => v.get_mut(k),
    })
}

/// `perspectives[1].score`, relative to `request` for writes (as the validation codes' paths).
fn render(path: &[Step]) -> String {
    let path = match path.first() {
        Some(Step::Key(k)) if k == "request" => &path[1..],
        _ => path,
    };
    let mut out = String::new();
    for step in path {
        match step {
            Step::Index(i) => out.push_str(&format!("[{i}]")),
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(&dlg_core::text::line(k));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::mcp::WriteArgs;
    use dlg_core::command::RegisterRound;

    fn parse(value: Value) -> Result<WriteArgs<RegisterRound>, Rejected> {
        serde_json::from_value::<Checked<WriteArgs<RegisterRound>>>(value)
            .unwrap()
            .parse()
    }

    #[test]
    fn every_shape_error_of_a_batch_with_its_path() {
        let rejected = parse(json!({"dialogue": "d", "request": {"round": 1,
            "experts": [{"expert": "muffin", "score": 1.0}, {"expert": "scone", "score": "58"}],
            "perspectives": [{"id": "MUFFIN-P0101", "label": 5}, {"id": "MUFFIN-P0102", "label": "ok"},
                             {"id": "MUFFIN-P0103", "label": "x", "references": "T0001"}]}}))
        .unwrap_err();
        let found: Vec<(String, Value)> = rejected
            .errors
            .iter()
            .map(|e| (e.field.clone(), e.value.clone()))
            .collect();
        assert_eq!(
            found,
            [
                ("experts[1].score".to_owned(), json!("58")),
                ("perspectives[0].label".to_owned(), json!(5)),
                ("perspectives[2].references".to_owned(), json!("T0001")),
            ]
        );
        assert!(
            rejected
                .errors
                .iter()
                .all(|e| e.code == ErrorCode::MalformedRequest && e.suggestion.is_some())
        );
    }

    #[test]
    fn a_well_formed_request_passes_and_a_top_level_error_is_one() {
        assert!(parse(json!({"dialogue": "d", "request": {"round": 1}})).is_ok());
        let rejected = parse(json!({"dialogue": "d", "request": {"round": "one"}})).unwrap_err();
        assert_eq!(rejected.errors.len(), 1);
        assert_eq!(rejected.errors[0].field, "round");
        let rejected =
            parse(json!({"dialogue": "d", "request": {"round": 1, "typo": 1}})).unwrap_err();
        assert!(
            rejected.errors[0].message.contains("typo"),
            "{:?}",
            rejected.errors
        );
    }
}
