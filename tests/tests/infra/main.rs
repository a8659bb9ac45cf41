//! The deployable template, `infra/template.yaml`, read as data: every IAM policy is explicit and
//! scoped to the template's own resources, the events table is append-only for everyone, the
//! projector holds no key and never sees the keys table, each part has exactly the rights its
//! code uses, and the projector Lambda is wired to its stream with partial batch responses and a
//! failure queue. The checker is a set of plain functions over the parsed YAML; the last test
//! feeds it deliberately broken templates, so a wrong template cannot pass unnoticed.
//!
//! cfn-lint (`infra/scripts/cfn-lint.sh`) checks the template against CloudFormation's schemas;
//! these tests check what no linter knows: who may do what to the ledger.
//!
//! `policy.rs` reads the policies, `checks.rs` holds the rules, `bad_templates.rs` proves the
//! checker catches what it should, and `least_privilege.rs` compares each policy with the calls
//! its principal's code makes against DynamoDB Local and a local KMS.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests fail loudly on purpose"
)]

mod bad_templates;
mod checks;
mod least_privilege;
mod policy;

use std::collections::BTreeSet;

use serde_yaml_ng::Value;

use checks::*;
use policy::*;

/// The template as `dlg` compiles it in.
const TEMPLATE: &str = include_str!("../../../infra/template.yaml");

fn template() -> Value {
    serde_yaml_ng::from_str(TEMPLATE).expect("infra/template.yaml is not YAML")
}

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
        "SigningKeyArn",
        "SigningKeyAliasArn",
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
