//! The ledger's benchmark suite, side by side with the limits and the alternatives.
//!
//! `cargo bench -p dlg-tests --bench ledger` runs every section on this machine and writes
//! `BENCHMARKS.md`; `cargo bench -p dlg-tests --bench ledger -- --quick` runs each section with
//! few samples and prints the table only (CI runs it to keep the suite from rotting);
//! `-- --only audit,sealing` runs the named sections (sealing, appends, projector, reads, audit,
//! lambda, import) and prints them only.
//!
//! Timings on shared machines are noisy, so every figure is printed next to a baseline measured
//! in the same run, as the ratio of medians (after warm-up runs). Nothing here asserts a time.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a benchmark fails loudly on purpose"
)]

mod appends;
mod audit;
mod dialogues;
mod harness;
mod import;
mod lambda;
mod projector;
mod reads;
mod sealing;

use appends::{dynamodb_appends, sqlite_appends};
use audit::audit;
use harness::{Mode, Section, machine, today};
use import::import;
use lambda::lambda;
use projector::projector;
use reads::reads;
use sealing::sealing;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    // `--only audit,sealing` runs those sections and prints them without writing BENCHMARKS.md
    // (to look again at one section without an hour-long run).
    let only: Option<Vec<String>> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').map(str::to_owned).collect());
    let wanted = |name: &str| {
        only.as_ref()
            .is_none_or(|names| names.iter().any(|n| n == name))
    };
    let mode = Mode { quick };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut sections = Vec::new();
    if wanted("sealing") {
        sections.push(sealing(mode));
        eprintln!("sealing done");
    }
    if wanted("appends") {
        let mut appends = Section::new("2. Append vs a raw write of the same bytes");
        let mut peer =
            Section::new("3. Append vs a peer design (one item per event, TransactWriteItems)");
        runtime.block_on(async {
            sqlite_appends(mode, &mut appends).await;
            eprintln!("sqlite appends done");
            dynamodb_appends(mode, &mut appends, &mut peer).await;
            eprintln!("dynamodb appends done");
        });
        sections.push(appends);
        sections.push(peer);
    }
    if wanted("projector") {
        sections.push(runtime.block_on(projector(mode)));
        eprintln!("projector done");
    }
    if wanted("reads") {
        sections.push(reads(mode, &runtime));
        eprintln!("reads done");
    }
    if wanted("audit") {
        sections.push(runtime.block_on(audit(mode)));
        eprintln!("audit done");
    }
    if wanted("lambda") {
        sections.push(lambda(mode));
        eprintln!("lambda done");
    }
    if wanted("import") {
        sections.push(runtime.block_on(import(mode)));
        eprintln!("import done");
    }

    let command = if quick {
        "cargo bench -p dlg-tests --bench ledger -- --quick"
    } else {
        "cargo bench -p dlg-tests --bench ledger"
    };
    let mut report = format!(
        "# Benchmarks\n\nMachine: {}. Date: {}. Command: `{command}`{}.\n\nEvery figure is the median of several runs after warm-up, next to a baseline measured in the same run; the ratio is dlg / baseline (lower is better). DynamoDB figures are against Amazon's DynamoDB Local on the same machine, so they measure the request path, not AWS's network.\n\n",
        machine(),
        today(),
        if quick {
            " (quick mode: few samples)"
        } else {
            ""
        }
    );
    for section in &sections {
        report.push_str(&section.markdown());
    }
    println!("{report}");
    if !quick && only.is_none() {
        let path = dlg_tests::repo_root().join("BENCHMARKS.md");
        std::fs::write(&path, &report).unwrap();
        eprintln!("wrote {}", path.display());
    }
}
