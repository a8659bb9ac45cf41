//! The checks of the template. Each returns the problems it finds, as sentences; none means the
//! template passes.

use std::collections::BTreeSet;

use serde_yaml_ng::Value;

use crate::policy::*;

/// Actions that change or remove existing items (or the table): nobody gets them on the events
/// table, whose commit items are written once by a conditional put and never touched again.
pub(crate) const DESTRUCTIVE_ACTIONS: &[&str] = &[
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:DeleteTable",
    "dynamodb:UpdateTable",
];

/// Who may change what: (resource, action, the only policies allowed to grant it on it).
pub(crate) const WRITE_MATRIX: &[(&str, &str, &[&str])] = &[
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
    ("SigningKey", "kms:Sign", &["WriterPolicy"]),
];

/// What each part's code does and so must be allowed: (policy, action, resource).
pub(crate) const REQUIRED_RIGHTS: &[(&str, &str, &str)] = &[
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
    ("WriterPolicy", "kms:Sign", "SigningKey"),
    ("WriterPolicy", "kms:GetPublicKey", "SigningKey"),
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

/// Everything wrong with the template's policies and the projector's wiring.
pub(crate) fn problems(template: &Value) -> Vec<String> {
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
pub(crate) fn tag_problems(value: &Value, path: &str) -> Vec<String> {
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
pub(crate) fn explicitness_problems(template: &Value) -> Vec<String> {
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
pub(crate) fn append_only_problems(template: &Value) -> Vec<String> {
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
pub(crate) fn write_matrix_problems(template: &Value) -> Vec<String> {
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
pub(crate) fn required_rights_problems(template: &Value) -> Vec<String> {
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
pub(crate) fn role_problems(template: &Value) -> Vec<String> {
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
pub(crate) fn key_policy_problems(template: &Value) -> Vec<String> {
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
        // Symmetric keys rotate their material automatically; asymmetric (signing) keys cannot,
        // and rotate by a new key whose public half auditors pin.
        let symmetric = matches!(
            key["Properties"]["KeySpec"].as_str(),
            None | Some("SYMMETRIC_DEFAULT")
        );
        let rotates = key["Properties"]["EnableKeyRotation"].as_bool() == Some(true);
        if symmetric && !rotates {
            found.push(format!("{id} does not rotate its key material"));
        }
        if !symmetric && rotates {
            found.push(format!(
                "{id} asks for automatic rotation, which KMS refuses for asymmetric keys"
            ));
        }
    }
    found
}

/// The projector function and its event source mapping.
pub(crate) fn wiring_problems(template: &Value) -> Vec<String> {
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
