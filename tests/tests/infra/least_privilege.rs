//! Least privilege, exact: each principal's code paths run in-process against DynamoDB Local and a
//! local KMS, with an interceptor on every SDK client recording the IAM action and resource each
//! request needs. The test fails when a policy grants an action on a resource that no code path of
//! its principal uses, and when a code path uses one that its principal's policies lack.
//!
//! The principals are those of docs/deploy.md: agent tooling that appends (WriterPolicy and
//! ReaderPolicy: the writes, `import`, and `show`, `tensions`, `graph`), people who read and
//! auditors (AuditorPolicy: every read command and `audit`), whoever shreds (ShredPolicy), and the
//! projector (ProjectorPolicy: the stream handler the Lambda runs, gap healing included, and the
//! local stream runner). A few of the projector's rights are used by AWS services on its behalf,
//! not by its code; they are listed in [`SERVICE_CALLS`] and checked by the static rules instead.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use aws_lambda_events::event::dynamodb::Event;
use clap::Parser as _;
use dlg_core::ids::DialogueId;
use dlg_projector::runner::StreamRunner;
use dlg_store::EventStore as _;
use dlg_store::dynamodb::{DynamoConfig, DynamoProjection, DynamoStore, sdk_config};
use dlg_tests::{Call, RequestLog};
use dlg_writer::cli::{self, Cli};
use dlg_writer::keys::kms::{KmsConfig, KmsKeys};
use dlg_writer::keys::kms_signer::{KmsSigner, KmsSignerConfig};
use dlg_writer::ledger::{Ledger, Projection};
use serde_yaml_ng::Value;

use crate::policy::all_statements;

/// Who runs which code, and which of the template's policies they hold (docs/deploy.md).
const PRINCIPALS: &[(&str, &[&str])] = &[
    (
        "agent tooling that appends",
        &["WriterPolicy", "ReaderPolicy"],
    ),
    ("people who read, and auditors", &["AuditorPolicy"]),
    ("whoever shreds", &["ShredPolicy"]),
    ("the projector", &["ProjectorPolicy"]),
];

/// Rights the projector's role holds for AWS services acting on its behalf, not for its code:
/// the event source mapping lists the table's streams, Lambda's on-failure destination sends the
/// failed batch's description to the queue, and the runtime writes the function's logs.
const SERVICE_CALLS: &[(&str, &str)] = &[
    ("dynamodb:ListStreams", "*"),
    ("sqs:SendMessage", "ProjectorFailureQueue"),
    ("logs:CreateLogStream", "ProjectorLogGroup"),
    ("logs:PutLogEvents", "ProjectorLogGroup"),
];

/// The writer's rights on the KMS signing key. They are exercised only where the local KMS server
/// creates `ECC_NIST_EDWARDS25519` keys; moto (5.2.5) does not, and then they are checked by the
/// static rules alone (and the test says so).
const SIGNING_CALLS: &[(&str, &str)] = &[
    ("kms:Sign", "SigningKey"),
    ("kms:GetPublicKey", "SigningKey"),
];

/// An action on a template resource: `("dynamodb:Query", "GraphTable/index")`.
type Grant = (String, String);

/// The template resource a granted resource expression names: `EventsTable` for the table's
/// ARN, `EventsTable/stream` for its stream, `GraphTable/index` for its indexes, `*` for every
/// resource.
fn granted_resource(value: &Value) -> String {
    let get_att = &value["Fn::GetAtt"];
    let parts: Vec<&str> = match get_att {
        Value::Sequence(parts) => parts.iter().filter_map(Value::as_str).collect(),
        Value::String(dotted) => dotted.split('.').collect(),
        _ => Vec::new(),
    };
    match parts.as_slice() {
        [id, "Arn"] => return (*id).to_owned(),
        [id, "StreamArn"] => return format!("{id}/stream"),
        _ => {}
    }
    if let Some(text) = value["Fn::Sub"].as_str()
        && let Some(id) = text
            .strip_prefix("${")
            .and_then(|rest| rest.strip_suffix(".Arn}/index/*"))
    {
        return format!("{id}/index");
    }
    match value {
        Value::String(text) => text.clone(),
        other => format!("{other:?}"),
    }
}

/// What each policy of the template grants, as (action, resource) pairs.
fn grants(template: &Value) -> BTreeMap<String, BTreeSet<Grant>> {
    let mut granted: BTreeMap<String, BTreeSet<Grant>> = BTreeMap::new();
    for statement in all_statements(template) {
        assert!(
            statement.allow && !statement.not_action && !statement.not_resource,
            "{}: the exact check reads explicit Allow statements only",
            statement.origin
        );
        for action in &statement.actions {
            for resource in &statement.resources {
                granted
                    .entry(statement.policy.clone())
                    .or_default()
                    .insert((action.clone(), granted_resource(resource)));
            }
        }
    }
    granted
}

/// The tables and key of one test, to name recorded resources as the template names them.
struct Names {
    config: DynamoConfig,
    key: String,
    signing_key: Option<String>,
}

impl Names {
    fn template_resource(&self, call: &Call) -> String {
        let tables = [
            (&self.config.events_table, "EventsTable"),
            (&self.config.graph_table, "GraphTable"),
            (&self.config.keys_table, "KeysTable"),
        ];
        let resource = call.resource.as_str();
        if resource == "stream" {
            // GetRecords names its stream through an opaque iterator; the events table has the
            // only stream.
            return "EventsTable/stream".to_owned();
        }
        if resource == format!("key/{}", self.key) {
            return "MasterKey".to_owned();
        }
        if self
            .signing_key
            .as_ref()
            .is_some_and(|key| resource == format!("key/{key}"))
        {
            return "SigningKey".to_owned();
        }
        for (name, id) in tables {
            if let Some(rest) = resource.strip_prefix(&format!("table/{name}")) {
                return format!("{id}{rest}");
            }
        }
        resource.to_owned()
    }

    fn grants(&self, calls: Vec<Call>) -> BTreeSet<Grant> {
        calls
            .iter()
            .map(|call| (call.action.clone(), self.template_resource(call)))
            .collect()
    }
}

/// SDK clients that record every request into `log`.
struct Recording {
    log: RequestLog,
    store: DynamoStore,
    kms: KmsConfig,
}

impl Recording {
    async fn new(config: &DynamoConfig, kms: &KmsConfig) -> Self {
        let log = RequestLog::default();
        let dynamodb =
            aws_sdk_dynamodb::config::Builder::from(&sdk_config(&config.projection()).await)
                .interceptor(log.clone())
                .build();
        let store = DynamoStore::with_client(
            aws_sdk_dynamodb::Client::from_conf(dynamodb),
            config.clone(),
        );
        Self {
            log,
            store,
            kms: kms.clone(),
        }
    }

    async fn kms_client(&self) -> aws_sdk_kms::Client {
        let sdk = dlg_store::aws::sdk_config(&self.kms.region, self.kms.endpoint.as_deref()).await;
        aws_sdk_kms::Client::from_conf(
            aws_sdk_kms::config::Builder::from(&sdk)
                .interceptor(self.log.clone())
                .build(),
        )
    }

    /// A ledger whose commits are signed by the KMS key `signing_key`, or by a local key.
    async fn ledger(&self, signing_key: Option<&str>) -> Ledger<DynamoStore> {
        let keys = KmsKeys::with_client(self.kms_client().await, self.kms.clone());
        let signer: Box<dyn dlg_core::sign::Signer> = match signing_key {
            Some(key) => Box::new(
                KmsSigner::with_client(
                    self.kms_client().await,
                    KmsSignerConfig {
                        key_id: key.to_owned(),
                        region: self.kms.region.clone(),
                        endpoint: self.kms.endpoint.clone(),
                    },
                )
                .await
                .unwrap_or_else(|e| panic!("the KMS signing key connects: {e}")),
            ),
            None => dlg_tests::signer(),
        };
        Ledger::new(self.store.clone(), Box::new(keys), "test KMS key")
            .with_signer(signer)
            .with_projection(Projection::Stream)
    }

    fn projection(&self) -> DynamoProjection {
        self.store.projection().clone()
    }

    async fn streams(&self) -> aws_sdk_dynamodbstreams::Client {
        let sdk = sdk_config(&self.store.config().projection()).await;
        aws_sdk_dynamodbstreams::Client::from_conf(
            aws_sdk_dynamodbstreams::config::Builder::from(&sdk)
                .interceptor(self.log.clone())
                .build(),
        )
    }
}

/// Runs one `dlg` command line in-process, as the binary would, and returns its JSON answer.
async fn dlg(ledger: &Ledger<DynamoStore>, args: &[&str]) -> serde_json::Value {
    let cli = Cli::try_parse_from(std::iter::once("dlg").chain(args.iter().copied()))
        .unwrap_or_else(|e| panic!("`dlg {}` parses: {e}", args.join(" ")));
    match cli::run(ledger, &cli.global, cli.command).await {
        Ok(output) => output.json,
        Err(failure) => panic!("`dlg {}` failed: {failure:?}", args.join(" ")),
    }
}

/// Writes the demo's sample dialogue as the request files agent tooling would send.
fn sample_requests(dir: &Path) -> (Vec<String>, Vec<String>, String) {
    let sample: serde_json::Value =
        serde_json::from_str(include_str!("../../../writer/src/demo/dialogue.json")).unwrap();
    let write = |name: &str, value: &serde_json::Value| {
        let path = dir.join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path.display().to_string()
    };
    let creates = ["first", "second"]
        .map(|copy| {
            let mut create = sample["create"].clone();
            create["title"] = format!("{} ({copy})", create["title"].as_str().unwrap()).into();
            write(&format!("create-{copy}.json"), &create)
        })
        .to_vec();
    let rounds = sample["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .map(|(i, round)| write(&format!("round-{i}.json"), round))
        .collect();
    let verdict = write("verdict.json", &sample["verdict"]);
    (creates, rounds, verdict)
}

/// Every command agent tooling runs: it records what its calls need, per principal.
async fn appender_paths(ledger: &Ledger<DynamoStore>, dir: &Path) -> Vec<DialogueId> {
    let (creates, rounds, verdict) = sample_requests(dir);
    let mut dialogues = Vec::new();
    for (copy, create) in creates.iter().enumerate() {
        let key = format!("create-{copy}");
        let created = dlg(ledger, &["create", create, "--idempotency-key", &key]).await;
        let id = created["dialogue"].as_str().unwrap().to_owned();
        // A retry answers the first receipt.
        let again = dlg(ledger, &["create", create, "--idempotency-key", &key]).await;
        assert_eq!(again["replayed"], true, "{again}");
        dlg(
            ledger,
            &[
                "add-expert",
                &id,
                "--slug",
                "owl",
                "--role",
                "Reviewer",
                "--source",
                "pool",
            ],
        )
        .await;
        for round in &rounds {
            dlg(ledger, &["round", &id, round]).await;
        }
        // A final verdict converges the dialogue itself; the status command is exercised
        // on the way there.
        dlg(ledger, &["dialogue-status", &id, "converging"]).await;
        dlg(ledger, &["verdict", &id, &verdict]).await;
        dialogues.push(DialogueId::parse(&id).unwrap());
    }
    if let Some(archives) = dlg_tests::fixtures("blue-dialogues", "least_privilege (import)") {
        let archives = archives.display().to_string();
        dlg(ledger, &["import", &archives]).await;
    }
    dialogues
}

async fn reader_paths(ledger: &Ledger<DynamoStore>, dialogue: &DialogueId, auditor: bool) {
    let id = dialogue.to_string();
    dlg(ledger, &["--json", "show", &id]).await;
    dlg(ledger, &["--json", "tensions", &id]).await;
    let tensions = dlg(ledger, &["--json", "tensions", &id, "--all"]).await;
    let tension = tensions[0]["id"].as_str().unwrap_or("T0001").to_owned();
    dlg(ledger, &["--json", "graph", &id, &tension, "--depth", "2"]).await;
    dlg(ledger, &["--json", "tensions"]).await;
    if auditor {
        dlg(ledger, &["--json", "list"]).await;
        dlg(ledger, &["--json", "log", &id]).await;
        dlg(ledger, &["--json", "export", &id]).await;
        dlg(ledger, &["--json", "digest", &id]).await;
        dlg(ledger, &["--json", "audit", &id]).await;
        dlg(ledger, &["--json", "audit"]).await;
    }
}

/// The projector's code: the stream handler the Lambda runs (a batch with a gap, healed from
/// the events table) and the local stream runner draining the stream.
async fn projector_paths(recording: &Recording, unrecorded: &DynamoStore, gap: &DialogueId) {
    let rows = unrecorded.commits(gap, 1).await.unwrap();
    assert!(
        rows.len() >= 3,
        "the dialogue has commits to leave a gap between"
    );
    let projection = recording.projection();
    let batch = |rows: &[dlg_store::CommitRow]| {
        let mut event = Event::default();
        event.records = rows
            .iter()
            .map(|row| dlg_projector::stream::record_of(gap, row, &format!("{}", row.number)))
            .collect();
        event
    };
    let first = dlg_projector::stream::handle(&projection, &batch(&rows[..1])).await;
    assert!(first.batch_item_failures.is_empty(), "commit 1 projects");
    let healed = dlg_projector::stream::handle(&projection, &batch(&rows[2..])).await;
    assert!(
        healed.batch_item_failures.is_empty(),
        "a batch without commit 2 is healed from the events table"
    );
    let mut runner = StreamRunner::with_client(projection, recording.streams().await)
        .await
        .unwrap();
    while runner.poll().await.unwrap().batches > 0 {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_policy_grants_exactly_what_its_principals_code_uses() {
    let endpoint = dlg_tests::shared_dynamodb().to_owned();
    let tables = dlg_tests::fresh_tables(&endpoint, "least-privilege").await;
    let config = tables.config().clone();
    let kms_endpoint = dlg_tests::shared_kms().to_owned();
    let key = dlg_tests::create_kms_key(&kms_endpoint).await;
    let kms = KmsConfig {
        key_id: key.clone(),
        region: "us-east-1".to_owned(),
        endpoint: Some(kms_endpoint.clone()),
    };
    let signing_key = ed25519_kms_key(&kms_endpoint).await;
    let names = Names {
        config: config.clone(),
        key,
        signing_key: signing_key.clone(),
    };
    let dir = tempfile::tempdir().unwrap();

    let mut used: BTreeMap<&str, BTreeSet<Grant>> = BTreeMap::new();
    let appender = Recording::new(&config, &kms).await;
    let projector = Recording::new(&config, &kms).await;
    let auditor = Recording::new(&config, &kms).await;
    let shredder = Recording::new(&config, &kms).await;

    let appending = appender.ledger(signing_key.as_deref()).await;
    let dialogues = appender_paths(&appending, dir.path()).await;
    projector_paths(&projector, &tables, &dialogues[1]).await;
    reader_paths(&appending, &dialogues[0], false).await;
    reader_paths(&auditor.ledger(None).await, &dialogues[0], true).await;
    dlg(
        &shredder.ledger(None).await,
        &["--json", "shred", &dialogues[1].to_string(), "--yes"],
    )
    .await;

    for (principal, recording) in [
        (PRINCIPALS[0].0, &appender),
        (PRINCIPALS[1].0, &auditor),
        (PRINCIPALS[2].0, &shredder),
        (PRINCIPALS[3].0, &projector),
    ] {
        used.insert(principal, names.grants(recording.log.take_calls()));
    }

    let unexercised: &[(&str, &str)] = if signing_key.is_some() {
        &[]
    } else {
        SIGNING_CALLS
    };
    let problems = differences(&crate::template(), &used, unexercised);
    assert!(
        problems.is_empty(),
        "the template's policies differ from what the code uses:\n{}\n\nrecorded: {used:#?}",
        problems.join("\n")
    );

    // The comparison itself: a grant too many and a grant too few are both caught.
    let mut extra = crate::template();
    let reader = &mut extra["Resources"]["ReaderPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        [0]["Action"];
    reader
        .as_sequence_mut()
        .unwrap()
        .push(Value::String("dynamodb:GetItem".to_owned()));
    let found = differences(&extra, &used, unexercised);
    assert!(
        found
            .iter()
            .any(|p| p.contains("ReaderPolicy grants dynamodb:GetItem on GraphTable")),
        "an unused grant is caught: {found:#?}"
    );
    let mut missing = crate::template();
    let shred = &mut missing["Resources"]["ShredPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        [1]["Action"];
    shred
        .as_sequence_mut()
        .unwrap()
        .retain(|action| action.as_str() != Some("dynamodb:DeleteItem"));
    let found = differences(&missing, &used, unexercised);
    assert!(
        found
            .iter()
            .any(|p| p.contains("whoever shreds calls dynamodb:DeleteItem on KeysTable")),
        "a missing grant is caught: {found:#?}"
    );
}

/// Every difference between what the template's policies grant each principal and what its code
/// paths used, as sentences.
fn differences(
    template: &Value,
    used: &BTreeMap<&str, BTreeSet<Grant>>,
    unexercised: &[(&str, &str)],
) -> Vec<String> {
    let granted = grants(template);
    let service: BTreeSet<Grant> = SERVICE_CALLS
        .iter()
        .chain(unexercised)
        .map(|(a, r)| ((*a).to_owned(), (*r).to_owned()))
        .collect();
    let mut problems = Vec::new();
    for (principal, policies) in PRINCIPALS {
        let calls = &used[principal];
        let mut holds: BTreeSet<Grant> = BTreeSet::new();
        for policy in *policies {
            let policy_grants = granted
                .get(*policy)
                .unwrap_or_else(|| panic!("the template defines {policy}"));
            for grant in policy_grants {
                if !calls.contains(grant) && !service.contains(grant) {
                    problems.push(format!(
                        "{policy} grants {} on {}, which no code path of {principal} uses",
                        grant.0, grant.1
                    ));
                }
            }
            holds.extend(policy_grants.iter().cloned());
        }
        for call in calls {
            if !holds.contains(call) {
                problems.push(format!(
                    "{principal} calls {} on {}, which {policies:?} do not grant",
                    call.0, call.1
                ));
            }
        }
    }
    problems
}

/// A fresh `ECC_NIST_EDWARDS25519` signing key at `endpoint`, or `None` (said loudly) when the
/// server does not implement them.
async fn ed25519_kms_key(endpoint: &str) -> Option<String> {
    let sdk = dlg_store::aws::sdk_config("us-east-1", Some(endpoint)).await;
    match aws_sdk_kms::Client::new(&sdk)
        .create_key()
        .key_spec(aws_sdk_kms::types::KeySpec::EccNistEdwards25519)
        .key_usage(aws_sdk_kms::types::KeyUsageType::SignVerify)
        .send()
        .await
    {
        Ok(answer) => answer
            .key_metadata()
            .map(|m| m.arn().unwrap_or(m.key_id()).to_owned()),
        Err(refused) => {
            eprintln!(
                "SKIPPED (in part) each_policy_grants_exactly_what_its_principals_code_uses: the \
                 local KMS server does not implement ECC_NIST_EDWARDS25519 keys ({}), so the \
                 writer signs with a local key and its kms:Sign and kms:GetPublicKey rights on the \
                 SigningKey are checked by the static rules only",
                aws_sdk_kms::error::DisplayErrorContext(refused)
            );
            None
        }
    }
}
