//! Checks of the panel: an expert given at creation or added mid-dialogue (`add_expert`), and
//! the expert slugs other commands name.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::ExpertInput;
use super::context::Ctx;
use crate::error::{ErrorCode, ValidationError, closest};
use crate::event::{EventBody, JUDGE, NewEvent};
use crate::ids::{ExpertSlug, MAX_ROUND};
use crate::model::{ExpertSource, Tier};

impl Ctx<'_> {
    /// `add_expert`: one expert joins the panel mid-dialogue.
    pub(super) fn add_expert(&mut self, expert: &ExpertInput) {
        if let Some(event) = self.expert(expert, "", ExpertSource::Created, &BTreeSet::new()) {
            self.events.push(event);
        }
    }

    /// Checks an expert slug is on the panel (or `judge`, where allowed).
    pub(super) fn known_expert(
        &mut self,
        field: &str,
        slug: &str,
        judge_allowed: bool,
    ) -> Option<ExpertSlug> {
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

    pub(super) fn expert(
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
}
