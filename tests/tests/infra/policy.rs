//! Reading the template's policies: every statement that grants rights, with its actions and
//! resources normalized, the logical ids a value refers to, and IAM's wildcard match.

use std::collections::BTreeSet;

use serde_yaml_ng::Value;

/// Actions IAM accepts only with `Resource: "*"` (no resource-level permissions). ListStreams
/// lists stream ARNs, no data; the Lambda service asks for it when it maps the events stream.
pub(crate) const STAR_RESOURCE_ACTIONS: &[&str] = &["dynamodb:ListStreams"];

/// One statement of a policy in the template, with its actions and resources normalized.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    /// The policy's logical id (`WriterPolicy`), or `Role (inline Name)` for inline policies.
    pub(crate) policy: String,
    /// Where it is, for messages: the policy and the statement's Sid or position.
    pub(crate) origin: String,
    pub(crate) allow: bool,
    pub(crate) actions: Vec<String>,
    /// `NotAction`: the statement is about every action except `actions`.
    pub(crate) not_action: bool,
    pub(crate) resources: Vec<Value>,
    /// `NotResource`: every resource except `resources`.
    pub(crate) not_resource: bool,
    /// For a resource-based policy (a table's `ResourcePolicy`), the resource it is attached to.
    pub(crate) attached_to: Option<String>,
    /// The statement as written.
    pub(crate) raw: Value,
}

impl Statement {
    /// Whether the statement allows `action` (IAM wildcards in the statement honoured).
    pub(crate) fn allows(&self, action: &str) -> bool {
        let listed = self.actions.iter().any(|pattern| glob(pattern, action));
        self.allow && (listed != self.not_action)
    }

    /// Whether the statement may allow some action of `service` (`kms`): an action pattern whose
    /// service part matches it (`kms:Decrypt`, `kms:*`, `*`), or any `NotAction`.
    pub(crate) fn allows_service(&self, service: &str) -> bool {
        self.allow
            && (self.not_action
                || self.actions.iter().any(|pattern| {
                    let prefix = pattern.split_once(':').map_or(pattern.as_str(), |(s, _)| s);
                    glob(prefix, service)
                }))
    }

    /// Whether the statement may apply to the template resource `id`: it names it, or its
    /// resources are a wildcard, or it is a resource policy attached to it.
    pub(crate) fn covers(&self, id: &str) -> bool {
        if let Some(attached) = &self.attached_to {
            return attached == id;
        }
        self.not_resource
            || self.resources.iter().any(|resource| match resource {
                Value::String(arn) => arn.contains('*'),
                other => references(other).contains(id),
            })
    }

    /// Whether the statement names `id` among its resources (not through a wildcard).
    pub(crate) fn names(&self, id: &str) -> bool {
        match &self.attached_to {
            Some(attached) => attached == id,
            None => !self.not_resource && self.resources.iter().any(|r| references(r).contains(id)),
        }
    }

    /// Every template resource the statement refers to anywhere (resources, conditions, ...).
    pub(crate) fn referenced(&self) -> BTreeSet<String> {
        let mut found = references(&self.raw);
        found.extend(self.attached_to.iter().cloned());
        found
    }

    /// Whether the statement may reach `id` at all: it refers to it anywhere, or covers it with
    /// an action other than the unscopable listing ones (ListStreams on `*` reads no table).
    pub(crate) fn reaches(&self, id: &str) -> bool {
        let beyond_listing = self.not_action
            || self.actions.iter().any(|a| {
                !STAR_RESOURCE_ACTIONS
                    .iter()
                    .any(|s| a.eq_ignore_ascii_case(s))
            });
        self.referenced().contains(id) || (self.covers(id) && beyond_listing)
    }
}

pub(crate) fn resources(template: &Value) -> Vec<(String, &Value)> {
    template["Resources"]
        .as_mapping()
        .map(|map| {
            map.iter()
                .filter_map(|(id, resource)| Some((id.as_str()?.to_owned(), resource)))
                .collect()
        })
        .unwrap_or_default()
}

pub(crate) fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    resources(template)
        .into_iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
        .collect()
}

pub(crate) fn resource_type<'a>(template: &'a Value, id: &str) -> Option<&'a str> {
    template["Resources"][id]["Type"].as_str()
}

/// A value that may be one item or a list of them, as a list.
pub(crate) fn one_or_many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Sequence(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// The statements of one policy document.
pub(crate) fn statements(
    policy: &str,
    document: &Value,
    attached_to: Option<&str>,
) -> Vec<Statement> {
    one_or_many(&document["Statement"])
        .into_iter()
        .enumerate()
        .map(|(index, statement)| {
            let sid = statement["Sid"]
                .as_str()
                .map_or_else(|| format!("#{index}"), str::to_owned);
            let (actions, not_action) = match &statement["NotAction"] {
                Value::Null => (&statement["Action"], false),
                listed => (listed, true),
            };
            let (resources, not_resource) = match &statement["NotResource"] {
                Value::Null => (&statement["Resource"], false),
                listed => (listed, true),
            };
            Statement {
                policy: policy.to_owned(),
                origin: format!("{policy} statement {sid}"),
                allow: statement["Effect"].as_str() == Some("Allow"),
                actions: one_or_many(actions)
                    .into_iter()
                    .map(|a| a.as_str().unwrap_or("<not a string>").to_owned())
                    .collect(),
                not_action,
                resources: one_or_many(resources).into_iter().cloned().collect(),
                not_resource,
                attached_to: attached_to.map(str::to_owned),
                raw: statement.clone(),
            }
        })
        .collect()
}

/// Every statement of every policy in the template that grants rights to principals: managed
/// policies, `AWS::IAM::Policy` resources, inline policies of roles, users and groups, and the
/// tables' resource policies. The KMS key policy is not among them: it delegates the key to the
/// account's IAM policies (see [`key_policy_problems`]).
pub(crate) fn all_statements(template: &Value) -> Vec<Statement> {
    let mut found = Vec::new();
    for (id, resource) in resources(template) {
        let properties = &resource["Properties"];
        match resource["Type"].as_str().unwrap_or_default() {
            "AWS::IAM::ManagedPolicy" | "AWS::IAM::Policy" => {
                found.extend(statements(&id, &properties["PolicyDocument"], None));
            }
            "AWS::IAM::Role" | "AWS::IAM::User" | "AWS::IAM::Group" => {
                for inline in one_or_many(&properties["Policies"]) {
                    let name = inline["PolicyName"].as_str().unwrap_or("?");
                    let policy = format!("{id} (inline {name})");
                    found.extend(statements(&policy, &inline["PolicyDocument"], None));
                }
            }
            "AWS::DynamoDB::Table" => {
                let policy = format!("{id} (resource policy)");
                found.extend(statements(
                    &policy,
                    &properties["ResourcePolicy"]["PolicyDocument"],
                    Some(&id),
                ));
            }
            _ => {}
        }
    }
    found
}

/// The logical ids a value refers to through `Ref`, `Fn::GetAtt` or `Fn::Sub` (pseudo
/// parameters such as `AWS::Region` left out).
pub(crate) fn references(value: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    collect_references(value, &mut found);
    found
}

pub(crate) fn collect_references(value: &Value, found: &mut BTreeSet<String>) {
    match value {
        Value::Mapping(map) => {
            for (key, inner) in map {
                match key.as_str() {
                    Some("Ref") => {
                        if let Some(id) = inner.as_str().filter(|id| !id.contains("::")) {
                            found.insert(id.to_owned());
                        }
                    }
                    Some("Fn::GetAtt") => {
                        let id = match inner {
                            Value::Sequence(parts) => parts.first().and_then(Value::as_str),
                            Value::String(dotted) => dotted.split('.').next(),
                            _ => None,
                        };
                        found.extend(id.map(str::to_owned));
                    }
                    Some("Fn::Sub") => match inner {
                        Value::String(text) => sub_references(text, &[], found),
                        Value::Sequence(parts) => {
                            let variables = &parts.get(1).cloned().unwrap_or(Value::Null);
                            let local: Vec<&str> = variables
                                .as_mapping()
                                .map(|m| m.keys().filter_map(Value::as_str).collect())
                                .unwrap_or_default();
                            if let Some(text) = parts.first().and_then(Value::as_str) {
                                sub_references(text, &local, found);
                            }
                            collect_references(variables, found);
                        }
                        _ => {}
                    },
                    _ => collect_references(inner, found),
                }
            }
        }
        Value::Sequence(items) => {
            for item in items {
                collect_references(item, found);
            }
        }
        Value::Tagged(tagged) => collect_references(&tagged.value, found),
        _ => {}
    }
}

/// The `${Name}` and `${Name.Attribute}` variables of an `Fn::Sub` string that name resources.
pub(crate) fn sub_references(text: &str, local: &[&str], found: &mut BTreeSet<String>) {
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        rest = &rest[start + 2..];
        let Some(end) = rest.find('}') else { break };
        let variable = &rest[..end];
        rest = &rest[end + 1..];
        let name = variable.split('.').next().unwrap_or_default();
        if !variable.starts_with('!') && !name.contains("::") && !local.contains(&name) {
            found.insert(name.to_owned());
        }
    }
}

/// IAM's wildcard match: `*` any run of characters, `?` one; case-insensitive, as IAM compares
/// actions.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    pub(crate) fn matches(pattern: &[char], text: &[char]) -> bool {
        match pattern.split_first() {
            None => text.is_empty(),
            Some(('*', rest)) => (0..=text.len()).any(|skip| matches(rest, &text[skip..])),
            Some(('?', rest)) => !text.is_empty() && matches(rest, &text[1..]),
            Some((c, rest)) => text.first() == Some(c) && matches(rest, &text[1..]),
        }
    }
    let pattern: Vec<char> = pattern.to_ascii_lowercase().chars().collect();
    let text: Vec<char> = text.to_ascii_lowercase().chars().collect();
    matches(&pattern, &text)
}
