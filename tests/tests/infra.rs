//! The deployable template, `infra/template.yaml`, read as data: every IAM policy is explicit and
//! scoped to the template's own resources, the events table is append-only for everyone, the
//! projector holds no key and never sees the keys table, each part has exactly the rights its
//! code uses, and the projector Lambda is wired to its stream with partial batch responses and a
//! failure queue. The checker is a set of plain functions over the parsed YAML; the last test
//! feeds it deliberately broken templates, so a wrong template cannot pass unnoticed.
//!
//! cfn-lint (`infra/scripts/cfn-lint.sh`) checks the template against CloudFormation's schemas;
//! these tests check what no linter knows: who may do what to the ledger.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

use std::collections::BTreeSet;

use serde_yaml_ng::Value;

/// The template as `dlg` compiles it in.
const TEMPLATE: &str = include_str!("../../infra/template.yaml");

/// Actions IAM accepts only with `Resource: "*"` (no resource-level permissions). ListStreams
/// lists stream ARNs, no data; the Lambda service asks for it when it maps the events stream.
const STAR_RESOURCE_ACTIONS: &[&str] = &["dynamodb:ListStreams"];

/// Actions that change or remove existing items (or the table): nobody gets them on the events
/// table, whose commit items are written once by a conditional put and never touched again.
const DESTRUCTIVE_ACTIONS: &[&str] = &[
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTable",
];

/// Who may change what: (resource, action, the only policies allowed to grant it on it).
const WRITE_MATRIX: &[(&str, &str, &[&str])] = &[
    ("EventsTable", "dynamodb:PutItem", &["WriterPolicy"]),
    ("EventsTable", "dynamodb:PartiQLInsert", &[]),
    ("GraphTable", "dynamodb:PutItem", &["ProjectorPolicy"]),
    ("GraphTable", "dynamodb:UpdateItem", &[]),
    ("GraphTable", "dynamodb:DeleteItem", &[]),
    ("GraphTable", "dynamodb:BatchWriteItem", &[]),
    ("KeysTable", "dynamodb:PutItem", &["WriterPolicy"]),
    ("KeysTable", "dynamodb:DeleteItem", &["ShredPolicy"]),
    ("KeysTable", "dynamodb:UpdateItem", &[]),
    ("KeysTable", "dynamodb:BatchWriteItem", &[]),
    (
        "MasterKey",
        "kms:Decrypt",
        &["WriterPolicy", "AuditorPolicy"],
    ),
    ("MasterKey", "kms:GenerateDataKey", &["WriterPolicy"]),
    ("MasterKey", "kms:Encrypt", &[]),
    ("MasterKey", "kms:ReEncryptFrom", &[]),
];

/// What each part's code does and so must be allowed: (policy, action, resource).
const REQUIRED_RIGHTS: &[(&str, &str, &str)] = &[
    // The projector: the stream, gap healing, graph writes (TransactWriteItems of puts), the
    // failure queue and its own logs.
    ("ProjectorPolicy", "dynamodb:DescribeStream", "EventsTable"),
    (
        "ProjectorPolicy",
        "dynamodb:GetShardIterator",
        "EventsTable",
    ),
    ("ProjectorPolicy", "dynamodb:GetRecords", "EventsTable"),
    ("ProjectorPolicy", "dynamodb:Query", "EventsTable"),
    ("ProjectorPolicy", "dynamodb:Query", "GraphTable"),
    ("ProjectorPolicy", "dynamodb:PutItem", "GraphTable"),
    (
        "ProjectorPolicy",
        "sqs:SendMessage",
        "ProjectorFailureQueue",
    ),
    (
        "ProjectorPolicy",
        "logs:CreateLogStream",
        "ProjectorLogGroup",
    ),
    ("ProjectorPolicy", "logs:PutLogEvents", "ProjectorLogGroup"),
    // The writer: conditional puts of commits and wrapped keys, the reads behind validation and
    // listing, and the master key to wrap and unwrap data keys.
    ("WriterPolicy", "dynamodb:PutItem", "EventsTable"),
    ("WriterPolicy", "dynamodb:Query", "EventsTable"),
    ("WriterPolicy", "dynamodb:Scan", "EventsTable"),
    ("WriterPolicy", "dynamodb:PutItem", "KeysTable"),
    ("WriterPolicy", "dynamodb:Query", "KeysTable"),
    ("WriterPolicy", "kms:GenerateDataKey", "MasterKey"),
    ("WriterPolicy", "kms:Decrypt", "MasterKey"),
    // The reader: graph queries, on the table and its indexes.
    ("ReaderPolicy", "dynamodb:Query", "GraphTable"),
    // The auditor: everything, read-only, and the key to open sealed content.
    ("AuditorPolicy", "dynamodb:Query", "EventsTable"),
    ("AuditorPolicy", "dynamodb:Scan", "EventsTable"),
    ("AuditorPolicy", "dynamodb:Query", "GraphTable"),
    ("AuditorPolicy", "dynamodb:Query", "KeysTable"),
    ("AuditorPolicy", "kms:Decrypt", "MasterKey"),
    // Shredding: find the dialogue, then delete its wrapped keys.
    ("ShredPolicy", "dynamodb:Query", "EventsTable"),
    ("ShredPolicy", "dynamodb:Query", "KeysTable"),
    ("ShredPolicy", "dynamodb:DeleteItem", "KeysTable"),
];

fn template() -> Value {
    serde_yaml_ng::from_str(TEMPLATE).expect("infra/template.yaml is not YAML")
}

// ---------------------------------------------------------------------------------------------
// Reading the template.

/// One statement of a policy in the template, with its actions and resources normalized.
#[derive(Debug, Clone)]
struct Statement {
    /// The policy's logical id (`WriterPolicy`), or `Role (inline Name)` for inline policies.
    policy: String,
    /// Where it is, for messages: the policy and the statement's Sid or position.
    origin: String,
    allow: bool,
    actions: Vec<String>,
    /// `NotAction`: the statement is about every action except `actions`.
    not_action: bool,
    resources: Vec<Value>,
    /// `NotResource`: every resource except `resources`.
    not_resource: bool,
    /// For a resource-based policy (a table's `ResourcePolicy`), the resource it is attached to.
    attached_to: Option<String>,
    /// The statement as written.
    raw: Value,
}

impl Statement {
    /// Whether the statement allows `action` (IAM wildcards in the statement honoured).
    fn allows(&self, action: &str) -> bool {
        let listed = self.actions.iter().any(|pattern| glob(pattern, action));
        self.allow && (listed != self.not_action)
    }

    /// Whether the statement may allow some action of `service` (`kms`): an action pattern whose
    /// service part matches it (`kms:Decrypt`, `kms:*`, `*`), or any `NotAction`.
    fn allows_service(&self, service: &str) -> bool {
        self.allow
            && (self.not_action
                || self.actions.iter().any(|pattern| {
                    let prefix = pattern.split_once(':').map_or(pattern.as_str(), |(s, _)| s);
                    glob(prefix, service)
                }))
    }

    /// Whether the statement may apply to the template resource `id`: it names it, or its
    /// resources are a wildcard, or it is a resource policy attached to it.
    fn covers(&self, id: &str) -> bool {
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
    fn names(&self, id: &str) -> bool {
        match &self.attached_to {
            Some(attached) => attached == id,
            None => !self.not_resource && self.resources.iter().any(|r| references(r).contains(id)),
        }
    }

    /// Every template resource the statement refers to anywhere (resources, conditions, ...).
    fn referenced(&self) -> BTreeSet<String> {
        let mut found = references(&self.raw);
        found.extend(self.attached_to.iter().cloned());
        found
    }

    /// Whether the statement may reach `id` at all: it refers to it anywhere, or covers it with
    /// an action other than the unscopable listing ones (ListStreams on `*` reads no table).
    fn reaches(&self, id: &str) -> bool {
        let beyond_listing = self.not_action
            || self.actions.iter().any(|a| {
                !STAR_RESOURCE_ACTIONS
                    .iter()
                    .any(|s| a.eq_ignore_ascii_case(s))
            });
        self.referenced().contains(id) || (self.covers(id) && beyond_listing)
    }
}

fn resources(template: &Value) -> Vec<(String, &Value)> {
    template["Resources"]
        .as_mapping()
        .map(|map| {
            map.iter()
                .filter_map(|(id, resource)| Some((id.as_str()?.to_owned(), resource)))
                .collect()
        })
        .unwrap_or_default()
}

fn resources_of_type<'a>(template: &'a Value, kind: &str) -> Vec<(String, &'a Value)> {
    resources(template)
        .into_iter()
        .filter(|(_, resource)| resource["Type"].as_str() == Some(kind))
        .collect()
}

fn resource_type<'a>(template: &'a Value, id: &str) -> Option<&'a str> {
    template["Resources"][id]["Type"].as_str()
}

/// A value that may be one item or a list of them, as a list.
fn one_or_many(value: &Value) -> Vec<&Value> {
    match value {
        Value::Sequence(items) => items.iter().collect(),
        Value::Null => Vec::new(),
        other => vec![other],
    }
}

/// The statements of one policy document.
fn statements(policy: &str, document: &Value, attached_to: Option<&str>) -> Vec<Statement> {
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
fn all_statements(template: &Value) -> Vec<Statement> {
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
fn references(value: &Value) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    collect_references(value, &mut found);
    found
}

fn collect_references(value: &Value, found: &mut BTreeSet<String>) {
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
fn sub_references(text: &str, local: &[&str], found: &mut BTreeSet<String>) {
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
fn glob(pattern: &str, text: &str) -> bool {
    fn matches(pattern: &[char], text: &[char]) -> bool {
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

// ---------------------------------------------------------------------------------------------
// The checks. Each returns the problems it finds, as sentences; none means the template passes.

/// Everything wrong with the template's policies and the projector's wiring.
fn problems(template: &Value) -> Vec<String> {
    let mut found = Vec::new();
    found.extend(tag_problems(template, "template"));
    found.extend(explicitness_problems(template));
    found.extend(append_only_problems(template));
    found.extend(write_matrix_problems(template));
    found.extend(required_rights_problems(template));
    found.extend(role_problems(template));
    found.extend(key_policy_problems(template));
    found.extend(wiring_problems(template));
    found
}

/// YAML short tags (`!Ref`, `!Sub`) are CloudFormation-only: `dlg` reads the template with a
/// plain YAML parser, so the template uses the long forms (`Ref:`, `Fn::Sub:`) only.
fn tag_problems(value: &Value, path: &str) -> Vec<String> {
    match value {
        Value::Tagged(tagged) => vec![format!(
            "{path} uses the YAML tag {}: write the long form (`Ref:`, `Fn::Sub:`, `Fn::GetAtt:`)",
            tagged.tag
        )],
        Value::Mapping(map) => map
            .iter()
            .flat_map(|(key, inner)| {
                let key = key.as_str().unwrap_or("?");
                tag_problems(inner, &format!("{path}.{key}"))
            })
            .collect(),
        Value::Sequence(items) => items
            .iter()
            .enumerate()
            .flat_map(|(index, inner)| tag_problems(inner, &format!("{path}[{index}]")))
            .collect(),
        _ => Vec::new(),
    }
}

/// Every allowing statement names its actions one by one and its resources by reference to the
/// template's own resources; `Resource: "*"` only for actions IAM cannot scope.
fn explicitness_problems(template: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for statement in all_statements(template).iter().filter(|s| s.allow) {
        let origin = &statement.origin;
        if statement.not_action {
            found.push(format!(
                "{origin} uses NotAction: list the actions it allows"
            ));
        }
        if statement.not_resource {
            found.push(format!("{origin} uses NotResource: list the resources"));
        }
        if statement.actions.is_empty() {
            found.push(format!("{origin} lists no action"));
        }
        for action in &statement.actions {
            if action.contains('*') || action.contains('?') || !action.contains(':') {
                found.push(format!(
                    "{origin} has the wildcard action `{action}`: name each action"
                ));
            }
        }
        if statement.attached_to.is_some() {
            // A resource policy's resource is the table it is attached to.
            continue;
        }
        if statement.resources.is_empty() && !statement.not_resource {
            found.push(format!("{origin} lists no resource"));
        }
        for resource in &statement.resources {
            if resource.as_str() == Some("*") {
                let unscopable = statement.actions.iter().all(|a| {
                    STAR_RESOURCE_ACTIONS
                        .iter()
                        .any(|s| a.eq_ignore_ascii_case(s))
                });
                if !unscopable {
                    found.push(format!(
                        "{origin} allows {:?} on every resource (`*`): scope it to the template's ARNs",
                        statement.actions
                    ));
                }
                continue;
            }
            let named = references(resource);
            if named.is_empty() {
                found.push(format!(
                    "{origin} names the resource {resource:?} without referring to the template's resources"
                ));
            }
            for id in named {
                if resource_type(template, &id).is_none() {
                    found.push(format!(
                        "{origin} refers to `{id}`, not a resource of the template"
                    ));
                }
            }
        }
    }
    found
}

/// Nobody may update or delete commit items, or drop the events table.
fn append_only_problems(template: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for statement in all_statements(template) {
        if !statement.covers("EventsTable") {
            continue;
        }
        for action in DESTRUCTIVE_ACTIONS {
            if statement.allows(action) {
                found.push(format!(
                    "{} allows {action} on the EventsTable, which is append-only",
                    statement.origin
                ));
            }
        }
    }
    found
}

/// Writes to the tables and uses of the master key come only from the policies allowed them.
fn write_matrix_problems(template: &Value) -> Vec<String> {
    let mut found = Vec::new();
    for statement in all_statements(template) {
        for (resource, action, allowed) in WRITE_MATRIX {
            if statement.covers(resource)
                && statement.allows(action)
                && !allowed.contains(&statement.policy.as_str())
            {
                found.push(format!(
                    "{} allows {action} on the {resource}; only {allowed:?} may",
                    statement.origin
                ));
            }
        }
    }
    found
}

/// Each part can do what its code does, and the reader stays away from keys and content.
fn required_rights_problems(template: &Value) -> Vec<String> {
    let statements = all_statements(template);
    let mut found = Vec::new();
    for (policy, action, resource) in REQUIRED_RIGHTS {
        let granted = statements
            .iter()
            .any(|s| s.policy == *policy && s.allows(action) && s.names(resource));
        if !granted {
            found.push(format!(
                "{policy} does not allow {action} on the {resource}"
            ));
        }
    }
    for statement in statements.iter().filter(|s| s.policy == "ReaderPolicy") {
        if statement.allows_service("kms") {
            found.push(format!(
                "{} allows a KMS action: readers get structure, not content",
                statement.origin
            ));
        }
        for table in ["EventsTable", "KeysTable"] {
            if statement.reaches(table) {
                found.push(format!(
                    "{} reaches the {table}: readers query the graph only",
                    statement.origin
                ));
            }
        }
    }
    found
}

/// The projector's role gets its rights only from managed policies of this template, and none of
/// them lets it use a KMS key or touch the keys table.
fn role_problems(template: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let function = &template["Resources"]["ProjectorFunction"]["Properties"];
    let role_ids = references(&function["Role"]);
    let Some(role) = role_ids.iter().next() else {
        return vec!["ProjectorFunction's Role refers to no role of the template".to_owned()];
    };
    if resource_type(template, role) != Some("AWS::IAM::Role") {
        return vec![format!(
            "ProjectorFunction's Role refers to `{role}`, not an AWS::IAM::Role of the template"
        )];
    }
    let properties = &template["Resources"][role.as_str()]["Properties"];
    if !one_or_many(&properties["Policies"]).is_empty() {
        found.push(format!(
            "{role} has inline policies: its rights come from ProjectorPolicy only"
        ));
    }
    // The policies that give the role rights: those it lists, and any that attach themselves.
    let mut policies = BTreeSet::new();
    for arn in one_or_many(&properties["ManagedPolicyArns"]) {
        let named = references(arn);
        let in_template = named.len() == 1
            && named
                .iter()
                .all(|id| resource_type(template, id) == Some("AWS::IAM::ManagedPolicy"));
        if in_template {
            policies.extend(named);
        } else {
            found.push(format!(
                "{role} attaches the managed policy {arn:?}, not a managed policy of this template"
            ));
        }
    }
    for kind in ["AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"] {
        for (id, policy) in resources_of_type(template, kind) {
            if references(&policy["Properties"]["Roles"]).contains(role.as_str()) {
                if kind == "AWS::IAM::Policy" {
                    found.push(format!(
                        "{id} attaches an inline policy to {role}: its rights come from ProjectorPolicy only"
                    ));
                }
                policies.insert(id);
            }
        }
    }
    for statement in all_statements(template).iter().filter(|s| {
        policies.contains(&s.policy) || s.policy.starts_with(&format!("{id} (", id = role))
    }) {
        if statement.allows_service("kms") {
            found.push(format!(
                "{} lets the projector use KMS: the projector holds no key",
                statement.origin
            ));
        }
        if statement.reaches("KeysTable") {
            found.push(format!(
                "{} reaches the KeysTable: the projector never reads wrapped keys",
                statement.origin
            ));
        }
    }
    found
}

/// The key policy only delegates the key to the account (whose IAM policies then decide);
/// nobody, the projector least of all, gets the key through it directly.
fn key_policy_problems(template: &Value) -> Vec<String> {
    let account_root: Value = serde_yaml_ng::from_str(
        r#"{AWS: {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}"#,
    )
    .unwrap();
    let mut found = Vec::new();
    for (id, key) in resources_of_type(template, "AWS::KMS::Key") {
        for (index, statement) in one_or_many(&key["Properties"]["KeyPolicy"]["Statement"])
            .into_iter()
            .enumerate()
        {
            if statement["Effect"].as_str() == Some("Allow")
                && statement["Principal"] != account_root
            {
                found.push(format!(
                    "the key policy of {id} (statement #{index}) grants the key to {:?}, not only to the account",
                    statement["Principal"]
                ));
            }
        }
        if key["Properties"]["EnableKeyRotation"].as_bool() != Some(true) {
            found.push(format!("{id} does not rotate its key material"));
        }
    }
    found
}

/// The projector function and its event source mapping.
fn wiring_problems(template: &Value) -> Vec<String> {
    let mut found = Vec::new();
    let function = &template["Resources"]["ProjectorFunction"];
    let properties = &function["Properties"];
    if function["Type"].as_str() != Some("AWS::Lambda::Function") {
        found.push("ProjectorFunction is not an AWS::Lambda::Function".to_owned());
    }
    if properties["Runtime"].as_str() != Some("provided.al2023") {
        found.push(format!(
            "ProjectorFunction runs on {:?}, not provided.al2023",
            properties["Runtime"]
        ));
    }
    if properties["Handler"].as_str() != Some("bootstrap") {
        found.push("ProjectorFunction's Handler is not bootstrap".to_owned());
    }
    if properties["Code"].as_str() != Some("dist/projector.zip") {
        found.push(
            "ProjectorFunction's Code is not dist/projector.zip (infra/scripts/package-lambda.sh)"
                .to_owned(),
        );
    }
    let environment = &properties["Environment"]["Variables"];
    for (variable, table) in [
        ("DLG_EVENTS_TABLE", "EventsTable"),
        ("DLG_GRAPH_TABLE", "GraphTable"),
    ] {
        if references(&environment[variable]) != BTreeSet::from([table.to_owned()]) {
            found.push(format!("ProjectorFunction's {variable} is not the {table}"));
        }
    }
    if environment["RUST_LOG"].is_null() {
        found.push("ProjectorFunction sets no RUST_LOG (its log filter)".to_owned());
    }
    if references(environment).contains("KeysTable")
        || references(environment).contains("MasterKey")
    {
        found.push("ProjectorFunction's environment names the keys table or the key".to_owned());
    }

    let mappings: Vec<_> = resources_of_type(template, "AWS::Lambda::EventSourceMapping")
        .into_iter()
        .filter(|(_, m)| references(&m["Properties"]["FunctionName"]).contains("ProjectorFunction"))
        .collect();
    let [(id, mapping)] = mappings.as_slice() else {
        found.push(format!(
            "ProjectorFunction has {} event source mappings, not one",
            mappings.len()
        ));
        return found;
    };
    let mapping = &mapping["Properties"];
    let source: Value =
        serde_yaml_ng::from_str(r#"{"Fn::GetAtt": [EventsTable, StreamArn]}"#).unwrap();
    if mapping["EventSourceArn"] != source {
        found.push(format!("{id} does not read the EventsTable's stream"));
    }
    if mapping["StartingPosition"].as_str() != Some("TRIM_HORIZON") {
        found.push(format!(
            "{id} starts at {:?}, not TRIM_HORIZON: commits written before it would never be projected",
            mapping["StartingPosition"]
        ));
    }
    let responses = one_or_many(&mapping["FunctionResponseTypes"]);
    if !responses
        .iter()
        .any(|r| r.as_str() == Some("ReportBatchItemFailures"))
    {
        found.push(format!(
            "{id} lacks ReportBatchItemFailures: the handler's partial batch answers would be ignored"
        ));
    }
    if mapping["BisectBatchOnFunctionError"].as_bool() != Some(true) {
        found.push(format!("{id} does not set BisectBatchOnFunctionError"));
    }
    let destination = references(&mapping["DestinationConfig"]["OnFailure"]["Destination"]);
    match destination.iter().next() {
        Some(queue) if resource_type(template, queue) == Some("AWS::SQS::Queue") => {
            let statements = all_statements(template);
            let can_send = statements.iter().any(|s| {
                s.policy == "ProjectorPolicy" && s.allows("sqs:SendMessage") && s.names(queue)
            });
            if !can_send {
                found.push(format!(
                    "ProjectorPolicy cannot send to {queue}, {id}'s on-failure destination"
                ));
            }
        }
        _ => found.push(format!("{id} has no on-failure SQS queue")),
    }
    found
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn the_template_passes_every_check() {
    let found = problems(&template());
    assert!(
        found.is_empty(),
        "problems in infra/template.yaml:\n{found:#?}"
    );
}

#[test]
fn the_template_defines_a_policy_for_each_part_and_outputs_what_clients_need() {
    let template = template();
    for policy in [
        "ProjectorPolicy",
        "WriterPolicy",
        "ReaderPolicy",
        "AuditorPolicy",
        "ShredPolicy",
    ] {
        assert_eq!(
            resource_type(&template, policy),
            Some("AWS::IAM::ManagedPolicy"),
            "{policy}"
        );
        let output = &template["Outputs"][format!("{policy}Arn").as_str()]["Value"];
        assert_eq!(
            references(output),
            BTreeSet::from([policy.to_owned()]),
            "output {policy}Arn"
        );
    }
    for output in [
        "Region",
        "TablePrefix",
        "EventsTableName",
        "GraphTableName",
        "KeysTableName",
        "EventsStreamArn",
        "MasterKeyArn",
        "MasterKeyAlias",
        "MasterKeyAliasArn",
        "ProjectorFunctionName",
        "ProjectorFailureQueueUrl",
        "ProjectorFailureQueueArn",
        "AlarmTopicArn",
    ] {
        assert!(
            !template["Outputs"][output]["Value"].is_null(),
            "the template outputs no {output}"
        );
    }
}

#[test]
fn the_alarms_watch_iterator_age_errors_and_the_failure_queue() {
    let template = template();
    let alarms = resources_of_type(&template, "AWS::CloudWatch::Alarm");
    for metric in [
        "IteratorAge",
        "Errors",
        "ApproximateNumberOfMessagesVisible",
    ] {
        let watching: Vec<_> = alarms
            .iter()
            .filter(|(_, alarm)| {
                let properties = &alarm["Properties"];
                properties["MetricName"].as_str() == Some(metric)
                    || one_or_many(&properties["Metrics"])
                        .iter()
                        .any(|m| m["MetricStat"]["Metric"]["MetricName"].as_str() == Some(metric))
            })
            .collect();
        assert_eq!(watching.len(), 1, "one alarm on {metric}");
        let (id, alarm) = watching[0];
        assert!(
            references(&alarm["Properties"]["AlarmActions"]).contains("AlarmTopic"),
            "{id} notifies the alarm topic"
        );
    }
}

#[test]
fn dlg_reads_from_the_template_the_tables_its_adapter_expects() {
    // What the DynamoDB adapter's requests assume of the tables (key names and types, index
    // names and keys, the stream), written out here independently of the template: if either
    // the template or the adapter's reading of it changes, this fails.
    use dlg_store::dynamodb::tables::{self, TableRole};
    let shapes = tables::template_shapes(tables::TEMPLATE).unwrap();
    assert_eq!(
        shapes.keys().copied().collect::<Vec<_>>(),
        TableRole::ALL.to_vec()
    );
    let key = vec![
        ("pk".to_owned(), "HASH".to_owned()),
        ("sk".to_owned(), "RANGE".to_owned()),
    ];
    for role in TableRole::ALL {
        let shape = &shapes[&role];
        assert_eq!(shape.key_schema, key, "{role:?}");
        assert_eq!(
            shape.attributes.get("pk").map(String::as_str),
            Some("S"),
            "{role:?}"
        );
        assert_eq!(
            shape.attributes.get("sk").map(String::as_str),
            Some("S"),
            "{role:?}"
        );
    }
    assert_eq!(
        shapes[&TableRole::Events].stream.as_deref(),
        Some("NEW_IMAGE")
    );
    assert_eq!(shapes[&TableRole::Keys].stream, None);
    let graph = &shapes[&TableRole::Graph];
    assert_eq!(
        graph.indexes.keys().map(String::as_str).collect::<Vec<_>>(),
        vec!["contributions-by-expert", "open-tensions"]
    );
    assert_eq!(
        graph.indexes["open-tensions"].0,
        vec![
            ("open_pk".to_owned(), "HASH".to_owned()),
            ("open_sk".to_owned(), "RANGE".to_owned())
        ]
    );
    assert_eq!(
        graph.indexes["contributions-by-expert"].0,
        vec![
            ("expert_pk".to_owned(), "HASH".to_owned()),
            ("expert_sk".to_owned(), "RANGE".to_owned())
        ]
    );
}

#[test]
fn iam_wildcards_match_as_iam_matches_them() {
    assert!(glob("dynamodb:*", "dynamodb:UpdateItem"));
    assert!(glob("dynamodb:Update*", "dynamodb:UpdateItem"));
    assert!(glob("DynamoDB:updateitem", "dynamodb:UpdateItem"));
    assert!(glob("*", "kms:Decrypt"));
    assert!(glob("dynamodb:?etItem", "dynamodb:GetItem"));
    assert!(!glob("dynamodb:Put*", "dynamodb:UpdateItem"));
    assert!(!glob("dynamodb:Query", "dynamodb:QueryX"));
    let sub: Value = serde_yaml_ng::from_str(
        r#"{"Fn::Sub": ["${GraphTable.Arn}/index/${Name}-${AWS::Region}${!Literal}", {Name: {Ref: KeysTable}}]}"#,
    )
    .unwrap();
    assert_eq!(
        references(&sub),
        BTreeSet::from(["GraphTable".to_owned(), "KeysTable".to_owned()])
    );
}

/// Adds a statement (YAML) to a managed policy of the template.
fn add_statement(template: &mut Value, policy: &str, statement: &str) {
    let statement: Value = serde_yaml_ng::from_str(statement).unwrap();
    template["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence_mut()
        .unwrap_or_else(|| panic!("{policy} has no statement list"))
        .push(statement);
}

/// Adds a resource (YAML) to the template.
fn add_resource(template: &mut Value, id: &str, resource: &str) {
    let resource: Value = serde_yaml_ng::from_str(resource).unwrap();
    template["Resources"]
        .as_mapping_mut()
        .unwrap()
        .insert(Value::from(id), resource);
}

/// Removes the actions a policy grants on a resource, statement by statement.
fn remove_action(template: &mut Value, policy: &str, action: &str, resource: &str) {
    let statements = template["Resources"][policy]["Properties"]["PolicyDocument"]["Statement"]
        .as_sequence_mut()
        .unwrap();
    for statement in statements {
        if references(&statement["Resource"]).contains(resource)
            && let Some(actions) = statement["Action"].as_sequence_mut()
        {
            actions.retain(|a| a.as_str() != Some(action));
        }
    }
}

fn set(template: &mut Value, path: &[&str], value: &str) {
    let mut target = &mut *template;
    for key in path {
        target = &mut target[*key];
    }
    *target = serde_yaml_ng::from_str(value).unwrap();
}

#[test]
fn the_checker_catches_deliberately_bad_templates() {
    type Mutation = fn(&mut Value);
    let cases: &[(&str, Mutation, &str)] = &[
        (
            "the writer may update commits",
            |t| {
                add_statement(
                    t,
                    "WriterPolicy",
                    r#"{Effect: Allow, Action: dynamodb:UpdateItem, Resource: {"Fn::GetAtt": [EventsTable, Arn]}}"#,
                )
            },
            "allows dynamodb:UpdateItem on the EventsTable",
        ),
        (
            "the writer may Update* through a wildcard",
            |t| {
                add_statement(
                    t,
                    "WriterPolicy",
                    r#"{Effect: Allow, Action: ["dynamodb:Update*"], Resource: {"Fn::Sub": "${EventsTable.Arn}"}}"#,
                )
            },
            "allows dynamodb:UpdateItem on the EventsTable",
        ),
        (
            "the auditor may do anything anywhere",
            |t| {
                add_statement(
                    t,
                    "AuditorPolicy",
                    r#"{Effect: Allow, Action: "*", Resource: "*"}"#,
                )
            },
            "allows dynamodb:DeleteItem on the EventsTable",
        ),
        (
            "the reader gets dynamodb:* on every table",
            |t| {
                add_statement(
                    t,
                    "ReaderPolicy",
                    r#"{Effect: Allow, Action: "dynamodb:*", Resource: "arn:aws:dynamodb:*:*:table/*"}"#,
                )
            },
            "wildcard action `dynamodb:*`",
        ),
        (
            "a NotAction statement",
            |t| {
                add_statement(
                    t,
                    "AuditorPolicy",
                    r#"{Effect: Allow, NotAction: "dynamodb:Scan", Resource: {"Fn::GetAtt": [EventsTable, Arn]}}"#,
                )
            },
            "allows dynamodb:DeleteItem on the EventsTable",
        ),
        (
            "a hard-coded table ARN",
            |t| {
                add_statement(
                    t,
                    "WriterPolicy",
                    r#"{Effect: Allow, Action: dynamodb:GetItem, Resource: "arn:aws:dynamodb:us-east-1:123456789012:table/dlg-events"}"#,
                )
            },
            "without referring to the template's resources",
        ),
        (
            "the events table's resource policy allows deletes",
            |t| {
                set(
                    t,
                    &["Resources", "EventsTable", "Properties", "ResourcePolicy"],
                    r#"{PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Principal: {AWS: "*"}, Action: dynamodb:DeleteItem, Resource: "*"}]}}"#,
                )
            },
            "EventsTable (resource policy) statement #0 allows dynamodb:DeleteItem",
        ),
        (
            "the projector may decrypt with the master key",
            |t| {
                add_statement(
                    t,
                    "ProjectorPolicy",
                    r#"{Effect: Allow, Action: kms:Decrypt, Resource: {"Fn::GetAtt": [MasterKey, Arn]}}"#,
                )
            },
            "lets the projector use KMS",
        ),
        (
            "the projector reads wrapped keys",
            |t| {
                add_statement(
                    t,
                    "ProjectorPolicy",
                    r#"{Effect: Allow, Action: dynamodb:Query, Resource: {"Fn::Sub": "${KeysTable.Arn}"}}"#,
                )
            },
            "reaches the KeysTable: the projector never reads wrapped keys",
        ),
        (
            "the projector's role gets an inline policy",
            |t| {
                set(
                    t,
                    &["Resources", "ProjectorRole", "Properties", "Policies"],
                    r#"[{PolicyName: extra, PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: kms:Decrypt, Resource: {"Fn::GetAtt": [MasterKey, Arn]}}]}}]"#,
                )
            },
            "ProjectorRole has inline policies",
        ),
        (
            "the projector's role gets an AWS managed policy",
            |t| {
                t["Resources"]["ProjectorRole"]["Properties"]["ManagedPolicyArns"]
                    .as_sequence_mut()
                    .unwrap()
                    .push(Value::from(
                        "arn:aws:iam::aws:policy/AmazonDynamoDBFullAccess",
                    ))
            },
            "not a managed policy of this template",
        ),
        (
            "a separate policy resource attaches itself to the projector's role",
            |t| {
                add_resource(
                    t,
                    "Sneaky",
                    r#"{Type: "AWS::IAM::Policy", Properties: {PolicyName: sneaky, Roles: [{Ref: ProjectorRole}], PolicyDocument: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: kms:Decrypt, Resource: {"Fn::GetAtt": [MasterKey, Arn]}}]}}}"#,
                )
            },
            "lets the projector use KMS",
        ),
        (
            "the key policy grants the projector's role",
            |t| {
                t["Resources"]["MasterKey"]["Properties"]["KeyPolicy"]["Statement"]
                    .as_sequence_mut()
                    .unwrap()
                    .push(
                        serde_yaml_ng::from_str(
                            r#"{Effect: Allow, Principal: {AWS: {"Fn::GetAtt": [ProjectorRole, Arn]}}, Action: kms:Decrypt, Resource: "*"}"#,
                        )
                        .unwrap(),
                    )
            },
            "grants the key to",
        ),
        (
            "the writer cannot store wrapped keys",
            |t| remove_action(t, "WriterPolicy", "dynamodb:PutItem", "KeysTable"),
            "WriterPolicy does not allow dynamodb:PutItem on the KeysTable",
        ),
        (
            "the writer cannot generate data keys",
            |t| remove_action(t, "WriterPolicy", "kms:GenerateDataKey", "MasterKey"),
            "WriterPolicy does not allow kms:GenerateDataKey on the MasterKey",
        ),
        (
            "shredding deletes from the graph too",
            |t| {
                add_statement(
                    t,
                    "ShredPolicy",
                    r#"{Effect: Allow, Action: dynamodb:DeleteItem, Resource: {"Fn::GetAtt": [GraphTable, Arn]}}"#,
                )
            },
            "allows dynamodb:DeleteItem on the GraphTable",
        ),
        (
            "the writer may shred",
            |t| {
                add_statement(
                    t,
                    "WriterPolicy",
                    r#"{Effect: Allow, Action: dynamodb:DeleteItem, Resource: {"Fn::GetAtt": [KeysTable, Arn]}}"#,
                )
            },
            "allows dynamodb:DeleteItem on the KeysTable; only [\"ShredPolicy\"] may",
        ),
        (
            "the reader may decrypt",
            |t| {
                add_statement(
                    t,
                    "ReaderPolicy",
                    r#"{Effect: Allow, Action: kms:Decrypt, Resource: {"Fn::GetAtt": [MasterKey, Arn]}}"#,
                )
            },
            "readers get structure, not content",
        ),
        (
            "the projector runs on another runtime",
            |t| {
                set(
                    t,
                    &["Resources", "ProjectorFunction", "Properties", "Runtime"],
                    "provided.al2",
                )
            },
            "not provided.al2023",
        ),
        (
            "no bisecting of failing batches",
            |t| {
                set(
                    t,
                    &[
                        "Resources",
                        "ProjectorEventSourceMapping",
                        "Properties",
                        "BisectBatchOnFunctionError",
                    ],
                    "false",
                )
            },
            "does not set BisectBatchOnFunctionError",
        ),
        (
            "no partial batch responses",
            |t| {
                set(
                    t,
                    &[
                        "Resources",
                        "ProjectorEventSourceMapping",
                        "Properties",
                        "FunctionResponseTypes",
                    ],
                    "[]",
                )
            },
            "lacks ReportBatchItemFailures",
        ),
        (
            "no on-failure destination",
            |t| {
                set(
                    t,
                    &[
                        "Resources",
                        "ProjectorEventSourceMapping",
                        "Properties",
                        "DestinationConfig",
                    ],
                    "null",
                )
            },
            "has no on-failure SQS queue",
        ),
        (
            "the mapping starts at the latest record",
            |t| {
                set(
                    t,
                    &[
                        "Resources",
                        "ProjectorEventSourceMapping",
                        "Properties",
                        "StartingPosition",
                    ],
                    "LATEST",
                )
            },
            "not TRIM_HORIZON",
        ),
        (
            "a YAML short tag",
            |t| {
                set(
                    t,
                    &["Resources", "ProjectorFunction", "Properties", "Role"],
                    "!GetAtt ProjectorRole.Arn",
                )
            },
            "uses the YAML tag !GetAtt",
        ),
    ];
    for (name, mutate, expected) in cases {
        let mut template = template();
        mutate(&mut template);
        let found = problems(&template);
        assert!(
            found.iter().any(|problem| problem.contains(expected)),
            "{name}: expected a problem containing `{expected}`, found {found:#?}"
        );
    }
}
