//! Crash consistency. A writer (`dlg import`, a run of appends with idempotency keys) is killed
//! with SIGKILL at a random point, then run again to its end, as agent tooling retries; on
//! DynamoDB the stream runner (`dlg project`) is then killed at a random point of its batch and
//! started again. Every run checks that each idempotency key landed exactly once, in the order
//! of an uninterrupted import, that the dialogues read the same as after that import, and that
//! `audit` finds the chain intact and the stored graph equal to the rebuild.
//!
//! Kill points are drawn uniformly, from a fixed seed, over the time an uninterrupted run takes:
//! measured first, then following the runs that end before their kill point. The tallies
//! (printed with `--nocapture`) say where the kills landed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::Rng;
use crate::cli::{Backend, Ended, Target, archive, kill_after};

/// Kills per scenario.
const RUNS: usize = 50;

/// What the ledger reads after an import: every dialogue's idempotency keys in commit order, and
/// the dialogue list (status, rounds, open tensions, commits, title).
#[derive(Debug, PartialEq)]
struct Reading {
    keys: BTreeMap<String, Vec<Option<String>>>,
    list: Value,
}

fn read(target: &Target, dialogues: &[String]) -> Reading {
    Reading {
        keys: dialogues
            .iter()
            .map(|d| (d.clone(), target.keys(d)))
            .collect(),
        list: target.json(&["list"]).unwrap(),
    }
}

/// Where the kills of one scenario landed.
#[derive(Debug, Default)]
struct Tally {
    /// Killed before anything was stored.
    before: usize,
    /// Killed with part of the work stored.
    midway: usize,
    /// Killed after all of it was stored (while finishing).
    after: usize,
    /// Exited on its own before the kill point.
    exited: usize,
}

impl Tally {
    fn record(&mut self, ended: Ended, done: usize, total: usize) {
        match ended {
            Ended::Exited(_) => self.exited += 1,
            Ended::Killed if done == 0 => self.before += 1,
            Ended::Killed if done < total => self.midway += 1,
            Ended::Killed => self.after += 1,
        }
    }
}

fn random_point(rng: &mut Rng, span: Duration) -> Duration {
    Duration::from_micros(rng.within(0, span.as_micros() as usize) as u64)
}

/// The span kill points are drawn from follows what runs take on this machine now: a run that
/// ended by itself says how long a whole run takes (the first measurements are taken on a
/// colder DynamoDB Local, or on a busier machine).
fn follow(span: &mut Duration, ended: Ended) {
    if let Ended::Exited(took) = ended {
        *span = (*span + took) / 2;
    }
}

/// Kills `dlg import` at random points on `backend` (and, on DynamoDB, the stream runner
/// after it), `RUNS` times.
fn killed_mid_import(backend: Backend, copies: usize, seed: u64) {
    let Some(archive) = archive(copies, &format!("killed_mid_import ({backend:?})")) else {
        return;
    };
    let folder = archive.path().to_str().unwrap();

    // The reference: an uninterrupted import, and how long it and the projection take (the
    // shorter of two runs: the first also warms DynamoDB Local up).
    let uninterrupted = || {
        let control = Target::new(backend, "crash-control");
        let start = Instant::now();
        let imported = control.json(&["import", folder]).unwrap();
        let import_time = start.elapsed();
        let start = Instant::now();
        control.project();
        (control, imported, import_time, start.elapsed())
    };
    let (_, _, first_import, first_projection) = uninterrupted();
    let (control, imported, import_time, project_time) = uninterrupted();
    let mut import_span = import_time.min(first_import);
    let mut project_span = project_time.min(first_projection);
    assert_eq!(imported["failures"], serde_json::json!([]), "{imported}");
    let dialogues: Vec<String> = imported["summaries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["dialogue"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(dialogues.len(), copies, "{imported}");
    control.assert_audit_clean("the uninterrupted import");
    let expected = read(&control, &dialogues);
    let total: usize = expected.keys.values().map(Vec::len).sum();
    let graph_total = (backend == Backend::Dynamodb).then(|| control.graph_items());

    let mut rng = Rng(seed);
    let mut writer = Tally::default();
    let mut runner = Tally::default();
    for run in 0..RUNS {
        let target = Target::new(backend, "crash");
        let point = random_point(&mut rng, import_span);
        let mut import = target.dlg();
        import.args(["import", folder]);
        let ended = kill_after(import, point);
        follow(&mut import_span, ended);
        let landed: usize = dialogues.iter().map(|d| target.keys(d).len()).sum();
        writer.record(ended, landed, total);
        let context = format!(
            "{backend:?} run {run}: import killed after {point:?} with {landed} of {total} commits stored"
        );

        // The retry: the same import, so the same idempotency keys.
        let retried = target
            .json(&["import", folder])
            .unwrap_or_else(|e| panic!("{context}: the retry failed: {e}"));
        assert_eq!(
            retried["failures"],
            serde_json::json!([]),
            "{context}: {retried}"
        );
        let new_commits: usize = retried["summaries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["new_commits"].as_u64().unwrap() as usize)
            .sum();
        assert_eq!(
            new_commits,
            total - landed,
            "{context}: the retry added the rest, and only that"
        );

        if let Some(graph_total) = graph_total {
            let point = random_point(&mut rng, project_span);
            let mut project = target.dlg();
            project.args(["project", "--once"]);
            let ended = kill_after(project, point);
            follow(&mut project_span, ended);
            runner.record(ended, target.graph_items(), graph_total);
            target.project();
        }
        target.assert_audit_clean(&context);
        assert_eq!(
            read(&target, &dialogues),
            expected,
            "{context}: the ledger reads as after an uninterrupted import"
        );
    }
    println!(
        "crash {backend:?}: {RUNS} writers killed (import of {total} commits; an uninterrupted one took {import_time:?}, the last kill span {import_span:?}): {writer:?}"
    );
    assert!(
        writer.midway > 0,
        "no kill landed in the middle of an import: {writer:?}"
    );
    if backend == Backend::Dynamodb {
        println!(
            "crash {backend:?}: {RUNS} stream runners killed (an uninterrupted projection took {project_time:?}, the last kill span {project_span:?}): {runner:?}"
        );
        assert!(
            runner.midway > 0,
            "no kill landed in the middle of a projection: {runner:?}"
        );
    }
}

#[test]
fn a_writer_killed_mid_import_on_sqlite_lands_every_commit_exactly_once_on_retry() {
    killed_mid_import(Backend::Sqlite, 3, 0xC8A5_0001);
}

#[test]
fn a_writer_and_a_stream_runner_killed_on_dynamodb_converge_on_retry() {
    killed_mid_import(Backend::Dynamodb, 2, 0xC8A5_0002);
}
