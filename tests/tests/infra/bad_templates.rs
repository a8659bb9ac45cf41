//! Deliberately broken templates: each mutation must be caught by the checker, so a wrong
//! template cannot pass unnoticed.

use serde_yaml_ng::Value;

use crate::checks::problems;
use crate::policy::references;
use crate::template;

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
            "the auditor may sign commits",
            |t| {
                add_statement(
                    t,
                    "AuditorPolicy",
                    r#"{Effect: Allow, Action: kms:Sign, Resource: {"Fn::GetAtt": [SigningKey, Arn]}}"#,
                )
            },
            "allows kms:Sign on the SigningKey; only [\"WriterPolicy\"] may",
        ),
        (
            "the projector may sign commits with a wildcard",
            |t| {
                add_statement(
                    t,
                    "ProjectorPolicy",
                    r#"{Effect: Allow, Action: "kms:*", Resource: "*"}"#,
                )
            },
            "lets the projector use KMS",
        ),
        (
            "the writer cannot sign",
            |t| remove_action(t, "WriterPolicy", "kms:Sign", "SigningKey"),
            "WriterPolicy does not allow kms:Sign on the SigningKey",
        ),
        (
            "the signing key asks for automatic rotation",
            |t| {
                set(
                    t,
                    &["Resources", "SigningKey", "Properties", "EnableKeyRotation"],
                    "true",
                )
            },
            "KMS refuses for asymmetric keys",
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
