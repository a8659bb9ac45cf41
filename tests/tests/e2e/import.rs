//! `dlg import` on the sample archive in `shared/fixtures/blue-dialogues/` and on archives the
//! tests write: what the folder's own files state is what the ledger records.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dlg_tests::Sandbox;
use predicates::prelude::*;

use crate::requests::run_json;

/// The sample archive (`DLG_FIXTURES`), or `None` when the test is skipped.
fn fixtures(test: &str) -> Option<PathBuf> {
    dlg_tests::fixtures("blue-dialogues", test)
}

/// The one dialogue folder of the sample archive.
fn sample(archive: &Path) -> PathBuf {
    std::fs::read_dir(archive)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_dir())
        .expect("the sample archive holds a dialogue folder")
}

/// `| ID | Tension | Status | ...` rows of tensions.md, read independently of the importer.
fn tension_table(folder: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(folder.join("tensions.md"))
        .unwrap()
        .lines()
        .filter(|l| l.starts_with("| T"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            (
                cells[1].to_owned(),
                cells[3].replace("**", "").to_lowercase(),
            )
        })
        .collect()
}

#[test]
fn the_sample_archive_imports_as_its_files_state() {
    let Some(archive) = fixtures("the_sample_archive_imports_as_its_files_state") else {
        return;
    };
    let sandbox = Sandbox::new();
    let folder = sample(&archive);
    let report = run_json(&sandbox, &["import", archive.to_str().unwrap()], None);
    assert_eq!(report["failures"], serde_json::json!([]));
    let summary = &report["summaries"][0];
    let dialogue = summary["dialogue"].as_str().unwrap().to_owned();

    // Rounds and experts as the folder has them (prompt files are not experts).
    let round_dirs = std::fs::read_dir(&folder)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir() && e.file_name().to_string_lossy().starts_with("round-"))
        .count();
    let mut experts: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .flat_map(|d| std::fs::read_dir(d.path()).unwrap().flatten())
        .map(|f| f.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".md") && !n.ends_with(".prompt.md"))
        .map(|n| n.trim_end_matches(".md").to_owned())
        .collect();
    experts.sort();
    experts.dedup();
    assert_eq!(summary["rounds"], round_dirs);
    assert_eq!(summary["experts"], experts.len());

    // Every tension of tensions.md, with its final status (Deferred is recorded as addressed).
    let tensions = run_json(&sandbox, &["tensions", &dialogue, "--all"], None);
    let recorded: BTreeMap<String, String> = tensions
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let label = t["label"].as_str().unwrap();
            (
                label[..label.find(':').unwrap()].to_owned(),
                t["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let table = tension_table(&folder);
    assert_eq!(recorded.len(), table.len());
    for (id, status) in &table {
        let expected = if status == "deferred" {
            "addressed"
        } else {
            status.as_str()
        };
        assert_eq!(
            recorded.get(id).map(String::as_str),
            Some(expected),
            "tension {id}"
        );
    }

    // A clean audit, and an export whose counts match the summary.
    let audit = run_json(&sandbox, &["audit", &dialogue], None);
    assert_eq!(audit[0]["problems"], serde_json::json!([]));
    let export = run_json(&sandbox, &["export", &dialogue], None);
    for kind in [
        "perspectives",
        "recommendations",
        "tensions",
        "evidence",
        "claims",
    ] {
        let exported = export[kind].as_array().unwrap().len();
        let summarized = summary["entities"][kind].as_u64().unwrap_or(0) as usize;
        assert_eq!(exported, summarized, "{kind}");
    }
    assert_eq!(export["experts"].as_array().unwrap().len(), experts.len());
    assert_eq!(export["rounds_data"].as_array().unwrap().len(), round_dirs);
    assert_eq!(
        export["totalAlignment"], 231.0,
        "the scoreboard's total alignment"
    );
    assert_eq!(export["status"], "converged");
    // Raw responses are kept, sealed, per expert and round.
    let log = run_json(&sandbox, &["log", &dialogue], None);
    let responses = log
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["events"].as_array().unwrap().iter())
        .filter(|e| e["type"] == "ResponseRecorded")
        .count();
    assert_eq!(responses, 22, "8 + 8 + 6 response files");
}

#[test]
fn importing_again_changes_nothing() {
    let Some(path) = fixtures("importing_again_changes_nothing") else {
        return;
    };
    let sandbox = Sandbox::new();
    let first = run_json(&sandbox, &["import", path.to_str().unwrap()], None);
    let dialogue = first["summaries"][0]["dialogue"]
        .as_str()
        .unwrap()
        .to_owned();
    let before = run_json(&sandbox, &["digest", &dialogue], None);
    let again = run_json(&sandbox, &["import", path.to_str().unwrap()], None);
    assert_eq!(again["summaries"][0]["new_commits"], 0);
    assert_eq!(
        run_json(&sandbox, &["digest", &dialogue], None),
        before,
        "same chain head"
    );
    assert_eq!(
        run_json(&sandbox, &["list"], None)
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn a_dry_run_records_nothing() {
    let Some(archive) = fixtures("a_dry_run_records_nothing") else {
        return;
    };
    let sandbox = Sandbox::new();
    let plan = run_json(
        &sandbox,
        &["import", sample(&archive).to_str().unwrap(), "--dry-run"],
        None,
    );
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["plans"][0]["rounds"].as_array().unwrap().len(), 3);
    assert_eq!(run_json(&sandbox, &["list"], None), serde_json::json!([]));
}

#[test]
fn unreadable_markers_are_warnings_with_file_and_line() {
    let sandbox = Sandbox::new();
    let archive = sandbox.home.path().join("archive/odd-dialogue");
    std::fs::create_dir_all(archive.join("round-0")).unwrap();
    std::fs::create_dir_all(archive.join("round-1")).unwrap();
    std::fs::write(
        archive.join("expert-pool.json"),
        r#"{"domain": "Odd dialogue", "question": "What survives?", "experts": []}"#,
    )
    .unwrap();
    std::fs::write(
        archive.join("round-0/muffin.md"),
        "[MUFFIN-P0001: Namespaced view]\nbody\n[TENSION T01: Real tension]\nwhy\n[PERSPECTIVE: missing id]\n[RE:SUPPORT P0099]\n",
    )
    .unwrap();
    std::fs::write(
        archive.join("round-0/scone.md"),
        "Only prose, no markers at all.\n",
    )
    .unwrap();
    std::fs::write(
        archive.join("round-0/scone.prompt.md"),
        "[PERSPECTIVE P01: template]\n",
    )
    .unwrap();
    std::fs::write(
        archive.join("round-1/scone.md"),
        "[RESOLVED T01: settled]\nbecause\n[BROKEN marker without end\n[MOVE:DEFEND P0001]\n",
    )
    .unwrap();
    let report = run_json(
        &sandbox,
        &["import", archive.parent().unwrap().to_str().unwrap()],
        None,
    );
    assert_eq!(report["failures"], serde_json::json!([]));
    let summary = &report["summaries"][0];
    assert_eq!(summary["experts"], 2, "the prompt file is not an expert");
    assert_eq!(summary["entities"]["perspectives"], 1);
    assert_eq!(
        (
            summary["tensions_open"].as_u64(),
            summary["tensions_resolved"].as_u64()
        ),
        (Some(0), Some(1))
    );
    let warnings: Vec<&str> = summary["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap())
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("round-0/muffin.md:5:")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("round-0/muffin.md:6:")),
        "{warnings:?}"
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("round-1/scone.md:3:")),
        "{warnings:?}"
    );
    let dialogue = summary["dialogue"].as_str().unwrap();
    assert_eq!(dialogue, "odd-dialogue");
    let audit = run_json(&sandbox, &["audit", dialogue], None);
    assert_eq!(audit[0]["problems"], serde_json::json!([]));
    sandbox
        .dlg()
        .args([
            "import",
            archive.parent().unwrap().to_str().unwrap(),
            "--dry-run",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("dry run: nothing was written"));
    sandbox
        .dlg()
        .args(["import", sandbox.home.path().to_str().unwrap()])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("holds no dialogue folder"));
    sandbox
        .dlg()
        .args(["import", "/nonexistent/archive"])
        .assert()
        .code(4)
        .stderr(predicate::str::contains("is not a folder"));
}

/// An archive from anywhere: a response that is a symbolic link to a secret outside it, a FIFO
/// nothing writes to, an oversize file and a linked-in round folder are skipped, each named in
/// the report with why; the import neither hangs nor seals the secret.
#[test]
fn hostile_files_in_an_archive_are_skipped_and_reported() {
    let sandbox = Sandbox::new();
    let secret = sandbox.home.path().join("id_rsa");
    std::fs::write(&secret, "SECRET-KEY-MATERIAL-never-imported").unwrap();
    let archive = sandbox.home.path().join("archive/hostile-dialogue");
    std::fs::create_dir_all(archive.join("round-0")).unwrap();
    std::fs::write(
        archive.join("expert-pool.json"),
        r#"{"domain": "Hostile dialogue", "question": "What gets in?", "experts": []}"#,
    )
    .unwrap();
    std::fs::write(
        archive.join("round-0/cupcake.md"),
        "[PERSPECTIVE P01: Honest view]\nbody\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(&secret, archive.join("round-0/muffin.md")).unwrap();
    std::os::unix::fs::symlink(&secret, archive.join("tensions.md")).unwrap();
    let fifo = archive.join("round-0/scone.md");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    std::fs::write(archive.join("round-0/eclair.md"), "e".repeat(9 << 20)).unwrap();
    let elsewhere = sandbox.home.path().join("elsewhere");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(
        elsewhere.join("muffin.md"),
        "SECRET-KEY-MATERIAL-never-imported",
    )
    .unwrap();
    std::os::unix::fs::symlink(&elsewhere, archive.join("round-1")).unwrap();

    let output = sandbox
        .dlg()
        .args(["--json", "import", archive.to_str().unwrap()])
        .timeout(std::time::Duration::from_secs(60))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let warnings = report["summaries"][0]["warnings"].to_string();
    for expected in [
        "muffin.md is a symbolic link, which is not followed",
        "tensions.md is a symbolic link, which is not followed",
        "scone.md is a FIFO (named pipe), not a regular file",
        "eclair.md is larger than the limit of 8388608 bytes",
    ] {
        assert!(warnings.contains(expected), "{expected}: {warnings}");
    }
    assert_eq!(
        report["summaries"][0]["rounds"], 1,
        "the linked round-1 is not read"
    );
    let dialogue = report["summaries"][0]["dialogue"].as_str().unwrap();
    let export = run_json(&sandbox, &["export", dialogue], None);
    assert!(
        export.to_string().contains("Honest view"),
        "positive control"
    );
    let log = run_json(&sandbox, &["log", dialogue], None);
    assert!(
        !export.to_string().contains("SECRET-KEY-MATERIAL")
            && !log.to_string().contains("SECRET-KEY-MATERIAL"),
        "the secret behind the link was sealed into the ledger"
    );
}

/// The Judge's context of every imported fixture archive, with the default options: within the
/// default budget, every cut named, the sizes printed for the record; and a context asked for
/// an earlier round shows what stood then, not what came later.
#[test]
fn every_imported_archive_has_a_bounded_round_context() {
    let Some(sample) = fixtures("every_imported_archive_has_a_bounded_round_context") else {
        return;
    };
    let more = sample.parent().unwrap().join("blue-more-dialogues");
    let sandbox = Sandbox::new();
    for archive in [&sample, &more] {
        run_json(&sandbox, &["import", archive.to_str().unwrap()], None);
    }
    let list = run_json(&sandbox, &["list"], None);
    assert!(list.as_array().unwrap().len() >= 3, "{list}");
    for row in list.as_array().unwrap() {
        let dialogue = row["dialogue"].as_str().unwrap();
        let context = run_json(&sandbox, &["context", dialogue], None);
        let characters = context["characters"].as_u64().unwrap();
        let markdown = String::from_utf8(
            sandbox
                .dlg()
                .args(["context", dialogue])
                .output()
                .unwrap()
                .stdout,
        )
        .unwrap();
        println!(
            "context of {dialogue}: {characters} characters (budget {}), {} entities, {} cut(s)",
            context["budget"],
            context["entities"].as_array().unwrap().len(),
            context["omitted"].as_array().unwrap().len()
        );
        assert!(characters <= 16_000, "{dialogue}: {characters}");
        assert_eq!(markdown.trim_end().chars().count() as u64, characters - 1);
        if !context["omitted"].as_array().unwrap().is_empty() {
            assert!(markdown.contains("## Left out"), "{markdown}");
        }
        // As of the start of round 1: nothing recorded in round 1 or later.
        let early = run_json(
            &sandbox,
            &["context", dialogue, "--round", "1", "--budget", "4000000"],
            None,
        );
        for entity in early["entities"].as_array().unwrap() {
            assert_eq!(entity["round"], 0, "{entity}");
        }
        assert!(early["omitted"].as_array().unwrap().is_empty(), "{early}");
    }
}
