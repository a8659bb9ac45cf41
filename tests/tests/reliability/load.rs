//! Load: 32 writer processes over 8 dialogues against DynamoDB Local, with the stream runner
//! projecting as they write. Each writer appends a fixed number of commits (an expert joining)
//! with its own idempotency keys and, like agent tooling, sends a request again with the same
//! key when it fails. The report (printed with `--nocapture`) gives commits acknowledged, lost,
//! duplicated, the projection lag (sampled while writing, and when the last writer finished) and
//! how long it took to reach zero, and the failed attempts by error kind.

use std::collections::BTreeMap;
use std::process::{Child, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::cli::{Backend, Target};

const WRITERS: usize = 32;
const DIALOGUES: usize = 8;
/// Commits each writer appends.
const PER_WRITER: usize = 8;
/// Attempts per request before the writer gives up (counted as lost if it never landed).
const ATTEMPTS: usize = 20;

/// The stream runner, killed when the test ends.
struct Runner(Child);

impl Drop for Runner {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn create(n: usize) -> Value {
    json!({
        "title": format!("Load dialogue {n}"),
        "question": "Does every concurrent append land exactly once?",
        "experts": [
            {"slug": "muffin", "role": "DevTools Architect", "tier": "Core", "relevance": 0.95}
        ]
    })
}

/// What the writers saw.
#[derive(Debug, Default)]
struct Seen {
    acknowledged: usize,
    gave_up: usize,
    errors: BTreeMap<String, usize>,
}

/// Appends writer `w`'s commits to `dialogue`, retrying each failed request with its key.
fn write(target: &Target, dialogue: &str, w: usize, seen: &Mutex<Seen>) {
    for i in 0..PER_WRITER {
        let key = format!("load/{w}/{i}");
        let slug = format!("w{w}-{i}");
        let args = [
            "--idempotency-key",
            &key,
            "add-expert",
            dialogue,
            "--slug",
            &slug,
            "--role",
            "Panelist",
            "--creation-reason",
            "load test",
        ];
        let mut landed = false;
        for attempt in 0..ATTEMPTS {
            match target.json(&args) {
                Ok(_) => {
                    landed = true;
                    break;
                }
                Err(failed) => {
                    *seen.lock().unwrap().errors.entry(failed.kind).or_default() += 1;
                    std::thread::sleep(Duration::from_millis(20 << attempt.min(5)));
                }
            }
        }
        let mut seen = seen.lock().unwrap();
        if landed {
            seen.acknowledged += 1;
        } else {
            seen.gave_up += 1;
        }
    }
}

/// Commits projected (the graph's checkpoints) over all dialogues.
fn projected(target: &Target) -> usize {
    target
        .json(&["list"])
        .map(|list| {
            list.as_array()
                .unwrap()
                .iter()
                .map(|row| row["commits"].as_u64().unwrap() as usize)
                .sum()
        })
        .unwrap_or(0)
}

/// Commits stored (events) and projected (graph) over all dialogues.
fn progress(target: &Target, dialogues: &[String]) -> (usize, usize) {
    let stored = dialogues.iter().map(|d| target.keys(d).len()).sum();
    (stored, projected(target))
}

#[test]
fn thirty_two_writers_over_eight_dialogues_lose_and_duplicate_nothing() {
    let target = Target::new(Backend::Dynamodb, "load");
    let dialogues: Vec<String> = (0..DIALOGUES)
        .map(|n| {
            let receipt = target
                .json_with(&["create", "-"], Some(&create(n)))
                .unwrap();
            receipt["dialogue"].as_str().unwrap().to_owned()
        })
        .collect();
    let _runner = Runner(
        target
            .dlg()
            .args(["project", "--interval-ms", "100"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let seen = Mutex::new(Seen::default());
    let start = Instant::now();
    let mut max_lag = 0;
    std::thread::scope(|scope| {
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (target, dialogue, seen) = (&target, &dialogues[w % DIALOGUES], &seen);
                scope.spawn(move || write(target, dialogue, w, seen))
            })
            .collect();
        // The projection lag while the writers write: acknowledged commits not yet projected.
        while writers.iter().any(|w| !w.is_finished()) {
            let acknowledged = DIALOGUES + seen.lock().unwrap().acknowledged;
            max_lag = max_lag.max(acknowledged.saturating_sub(projected(&target)));
            std::thread::sleep(Duration::from_millis(250));
        }
    });
    let write_time = start.elapsed();
    let (stored, projected) = progress(&target, &dialogues);
    let lag_at_end = stored - projected;

    // Lost and duplicated, from the stored commits' idempotency keys.
    let mut landed: BTreeMap<String, usize> = BTreeMap::new();
    for dialogue in &dialogues {
        for key in target.keys(dialogue).into_iter().flatten() {
            *landed.entry(key).or_default() += 1;
        }
    }
    let sent: Vec<String> = (0..WRITERS)
        .flat_map(|w| (0..PER_WRITER).map(move |i| format!("load/{w}/{i}")))
        .collect();
    let lost = sent.iter().filter(|k| !landed.contains_key(*k)).count();
    let duplicated = landed.values().filter(|n| **n > 1).count();

    // The projection catches up.
    let caught_up = Instant::now();
    let mut lag = lag_at_end;
    while lag > 0 && caught_up.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(200));
        let (stored, projected) = progress(&target, &dialogues);
        lag = stored - projected;
    }
    let catch_up = caught_up.elapsed();

    let seen = seen.into_inner().unwrap();
    println!(
        "load: {WRITERS} writers x {PER_WRITER} commits over {DIALOGUES} dialogues in {write_time:.1?}: \
         acknowledged {} of {}, lost {lost}, duplicated {duplicated}, gave up {}; \
         projection lag at most {max_lag} commits while writing, {lag_at_end} when the writers \
         finished, {lag} after {catch_up:.1?}; \
         failed attempts by kind: {:?}",
        seen.acknowledged,
        sent.len(),
        seen.gave_up,
        seen.errors
    );
    assert_eq!(
        seen.acknowledged,
        sent.len(),
        "every request was acknowledged"
    );
    assert_eq!(lost, 0, "no acknowledged commit is lost");
    assert_eq!(duplicated, 0, "no request landed twice");
    assert_eq!(landed.len(), sent.len());
    assert_eq!(lag, 0, "the projection caught up");
    target.assert_audit_clean("after the load");
}
