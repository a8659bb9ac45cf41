//! Section 8: importing the shared fixture archive, repeated.

use dlg_core::commit::Commit;
use dlg_core::seal::{MasterKey, SecretKey};
use dlg_store::EventStore;
use dlg_store::sqlite::SqliteStore;
use dlg_writer::keys::OsEntropy;
use dlg_writer::ledger::Ledger;
use std::time::{Duration, Instant};

use crate::appends::raw_sqlite;
use crate::harness::*;

/// Copies a folder tree (the fixture archive) to `to`.
pub(crate) fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

pub(crate) async fn import(mode: Mode) -> Section {
    let mut section = Section::new("8. Import: the fixture archive, repeated");
    let Some(fixtures) = dlg_tests::fixtures("blue-dialogues", "the import benchmark") else {
        section.note(format!(
            "Skipped: {} is not set (the shared fixtures sit beside the repository).",
            dlg_tests::FIXTURES_VAR
        ));
        return section;
    };
    let Some(folder) = dlg_writer::import::dialogue_folders(&fixtures)
        .into_iter()
        .next()
    else {
        section.note(format!(
            "Skipped: no dialogue folder under {}.",
            fixtures.display()
        ));
        return section;
    };
    let copies = if mode.quick { 2 } else { 80 };
    let runs = if mode.quick { 1 } else { 3 };
    let (mut imports, mut inserts, mut parse_share) = (Vec::new(), Vec::new(), Vec::new());
    let (mut events, mut commits) = (0, 0);
    for _ in 0..runs {
        let dir = tempfile::tempdir().unwrap();
        let folders: Vec<_> = (0..copies)
            .map(|i| {
                let to = dir.path().join(format!("copy-{i:03}"));
                copy_tree(&folder, &to);
                to
            })
            .collect();
        let store = SqliteStore::open(&dir.path().join("ledger.db")).unwrap();
        let ledger = Ledger::new(
            store,
            Box::new(MasterKey::new(SecretKey::generate(&mut OsEntropy))),
            "bench key",
        )
        .with_signer(dlg_tests::signer());
        let start = Instant::now();
        let mut parse = Duration::ZERO;
        for folder in &folders {
            let planned = Instant::now();
            let plan = dlg_writer::import::plan(folder).unwrap();
            parse += planned.elapsed();
            dlg_writer::import::run(&ledger, &plan, "bench")
                .await
                .unwrap();
        }
        let took = start.elapsed();
        imports.push(took);
        parse_share.push(parse.as_secs_f64() / took.as_secs_f64());
        let mut rows = Vec::new();
        for dialogue in ledger.dialogues().await.unwrap() {
            rows.extend(ledger.store().commits(&dialogue, 1).await.unwrap());
        }
        events = rows
            .iter()
            .map(|r| Commit::decode(&r.bytes).unwrap().events.len())
            .sum();
        commits = rows.len();
        // The same commits inserted raw, one durable insert each.
        let raw = raw_sqlite(&dir.path().join("raw.db"));
        let start = Instant::now();
        for (i, row) in rows.iter().enumerate() {
            raw.execute(
                "INSERT INTO events (pk, sk, bytes) VALUES ('D#raw', ?1, ?2)",
                rusqlite::params![format!("C#{i:010}"), row.bytes],
            )
            .unwrap();
        }
        inserts.push(start.elapsed());
    }
    let ours = stats(imports).median;
    let limit = stats(inserts).median;
    parse_share.sort_by(f64::total_cmp);
    let parse_share = parse_share[parse_share.len() / 2];
    let rate = |d: Duration| format!("{:.0} events/s", events as f64 / d.as_secs_f64());
    section.row(
        &format!("import {copies} copies of the archive: {events} events in {commits} commits (median of {runs} runs)"),
        rate(ours),
        rate(limit),
        ratio(ours, limit),
        &format!(
            "baseline: inserting the resulting commit bytes raw, one durable insert each; parsing the archive took {:.0}% of the import, the rest is validating, sealing and appending each step and projecting in-process",
            100.0 * parse_share
        ),
    );
    section
}
