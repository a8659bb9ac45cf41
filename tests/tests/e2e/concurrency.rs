//! Two `dlg` processes appending to one dialogue at once: every commit lands exactly once and
//! the chain verifies.

use std::thread;

use dlg_tests::Sandbox;
use serde_json::Value;

use crate::requests::*;

const PER_WRITER: usize = 15;

fn add_experts(sandbox: &Sandbox, writer: &str) -> Vec<Value> {
    (0..PER_WRITER)
        .map(|i| {
            let slug = format!("{writer}-{i}");
            run_json(
                sandbox,
                &[
                    "--idempotency-key",
                    &format!("join-{slug}"),
                    "add-expert",
                    DIALOGUE,
                    "--slug",
                    &slug,
                    "--role",
                    "Panelist",
                    "--creation-reason",
                    "load",
                ],
                None,
            )
        })
        .collect()
}

#[test]
fn two_processes_appending_at_once_lose_and_duplicate_nothing() {
    let sandbox = recorded();
    let receipts: Vec<Value> = thread::scope(|scope| {
        let a = scope.spawn(|| add_experts(&sandbox, "alpha"));
        let b = scope.spawn(|| add_experts(&sandbox, "beta"));
        let mut all = a.join().unwrap();
        all.extend(b.join().unwrap());
        all
    });
    let mut numbers: Vec<u64> = receipts
        .iter()
        .map(|r| r["commit"].as_u64().unwrap())
        .collect();
    numbers.sort_unstable();
    let expected: Vec<u64> = (4..4 + 2 * PER_WRITER as u64).collect();
    assert_eq!(numbers, expected, "every append got its own commit number");
    // The writers really ran at once: their commits interleave. (Had one finished before the
    // other started, the numbers above would hold without any contention being handled.)
    let (alpha, beta) = receipts.split_at(PER_WRITER);
    let numbers_of = |receipts: &[Value]| -> Vec<u64> {
        receipts
            .iter()
            .map(|r| r["commit"].as_u64().unwrap())
            .collect()
    };
    let (alpha, beta) = (numbers_of(alpha), numbers_of(beta));
    let alpha_last = alpha.iter().max().unwrap();
    let beta_last = beta.iter().max().unwrap();
    assert!(
        beta.iter().any(|n| n < alpha_last) && alpha.iter().any(|n| n < beta_last),
        "the two writers did not overlap (alpha {alpha:?}, beta {beta:?}): the test proved nothing"
    );

    let log = run_json(&sandbox, &["log", DIALOGUE], None);
    assert_eq!(log.as_array().unwrap().len(), 3 + 2 * PER_WRITER);
    let show = run_json(&sandbox, &["show", DIALOGUE], None);
    assert_eq!(show["experts"], 3 + 2 * PER_WRITER);
    let audit = run_json(&sandbox, &["audit", DIALOGUE], None);
    assert_eq!(audit[0]["problems"], serde_json::json!([]));
    assert_eq!(audit[0]["commits"], 3 + 2 * PER_WRITER);

    // Retrying every request (same idempotency keys) from both processes again changes nothing.
    let retried: Vec<Value> = thread::scope(|scope| {
        let a = scope.spawn(|| add_experts(&sandbox, "alpha"));
        let b = scope.spawn(|| add_experts(&sandbox, "beta"));
        let mut all = a.join().unwrap();
        all.extend(b.join().unwrap());
        all
    });
    assert!(retried.iter().all(|r| r["replayed"] == true));
    let digest = run_json(&sandbox, &["digest", DIALOGUE], None);
    assert_eq!(digest["commit"], 3 + 2 * PER_WRITER);
}
