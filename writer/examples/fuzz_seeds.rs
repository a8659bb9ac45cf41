//! Writes the seed corpora of the fuzz targets (`tests/fuzz/`): real inputs the fuzzer starts
//! from and mutates, so it reaches past the first parse error quickly.
//!
//!   cargo run --example fuzz_seeds -- OUT_DIR [ARCHIVES_DIR]
//!
//! - `OUT_DIR/commit/`: the encoded commits of generated dialogues (their second commit chains
//!   onto the panel dialogue the `commit` target starts from);
//! - `OUT_DIR/round_registration/`: command scripts (a JSON array of commands, the first creating
//!   the dialogue), planned by the importer from each archive;
//! - `OUT_DIR/archive_markers/`: every markdown file of the archives;
//! - `OUT_DIR/stream_record/`: DynamoDB Streams events carrying those commits.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::json;

use dlg_core::append::{AppendContext, prepare};
use dlg_core::command::Command;
use dlg_core::graph::Graph;
use dlg_core::ids::DialogueId;
use dlg_core::seal::SecretKey;
use dlg_core::testing::TestEntropy;
use dlg_core::testing::random::{Step, dialogue};
use dlg_projector::stream::record_of;
use dlg_store::CommitRow;
use dlg_writer::import;

/// The dialogue id every generated commit belongs to; the `commit` target's base graph is
/// `given_panel(FUZZ_DIALOGUE, 7)`, the first commit of each of these dialogues.
const FUZZ_DIALOGUE: &str = "fuzz";

fn main() -> Result<()> {
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let Some(out) = args.next() else {
        bail!("usage: fuzz_seeds OUT_DIR [ARCHIVES_DIR]");
    };
    let archives = args.next();

    let commits = commit_seeds(&out)?;
    let scripts = match &archives {
        Some(dir) => archive_seeds(&out, dir)?,
        None => (0, 0),
    };
    println!(
        "fuzz seeds in {}: {commits} commits and stream events, {} command scripts, {} markdown files",
        out.display(),
        scripts.0,
        scripts.1
    );
    Ok(())
}

/// How many of `commands`, run in order on an empty ledger as the `round_registration` target
/// runs them, are accepted (a seed that is refused early explores little).
fn accepted_commands(commands: &[Command]) -> usize {
    let Ok(dialogue) = DialogueId::parse(FUZZ_DIALOGUE) else {
        return 0;
    };
    let mut graph = Graph::new(dialogue);
    let mut entropy = TestEntropy::new(1);
    let key = SecretKey::generate(&mut entropy);
    let mut accepted = 0;
    for command in commands {
        let context = AppendContext {
            actor: "fuzz",
            time: "2026-03-12T20:00:00Z",
            idempotency_key: None,
            key: &key,
            key_version: 1,
            signer: dlg_core::sign::Signer::public_key(&dlg_core::testing::test_signer()),
        };
        if let Ok(encoded) = prepare(&graph, command, &context, &mut entropy)
            && graph.apply(&encoded.bytes).is_ok()
        {
            accepted += 1;
        }
    }
    accepted
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let path = dir.join(name);
    std::fs::write(&path, bytes).with_context(|| format!("cannot write {}", path.display()))
}

/// Commits of dialogues made of one random step each after the panel, and the stream events
/// that carry them.
fn commit_seeds(out: &Path) -> Result<usize> {
    let mut written = 0;
    for pick in 0..24u64 {
        let pick = pick.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let ledger = dialogue(FUZZ_DIALOGUE, &[Step::from_pick(pick)]);
        for encoded in &ledger.commits {
            let number = encoded.commit.header.commit;
            let name = format!("{pick:016x}-{number}");
            write(&out.join("commit"), &name, &encoded.bytes)?;
            let row = CommitRow::of(encoded);
            let record = record_of(&ledger.graph.dialogue, &row, &format!("{number:021}"));
            let event = serde_json::to_vec(&json!({ "Records": [record] }))?;
            write(&out.join("stream_record"), &name, &event)?;
            written += 1;
        }
    }
    Ok(written)
}

/// Command scripts planned from each archive folder, and the archives' markdown files.
fn archive_seeds(out: &Path, archives: &Path) -> Result<(usize, usize)> {
    let (mut scripts, mut accepted, mut total) = (0, 0, 0);
    for folder in import::dialogue_folders(archives) {
        let plan = import::plan(&folder)?;
        let mut commands = vec![Command::CreateDialogue(plan.create)];
        commands.extend(plan.rounds.into_iter().map(Command::RegisterRound));
        commands.extend(plan.final_statuses.map(Command::UpdateStatuses));
        commands.extend(plan.verdict.map(Command::RegisterVerdict));
        accepted += accepted_commands(&commands);
        total += commands.len();
        // One script per prefix, so the fuzzer also starts from the state after each round.
        for len in 1..=commands.len() {
            let script = serde_json::to_vec(&commands[..len])?;
            write(
                &out.join("round_registration"),
                &format!("{}-{len}", plan.name),
                &script,
            )?;
            scripts += 1;
        }
    }
    println!("command scripts: {accepted} of {total} commands accepted in order");
    let mut markdown = 0;
    let mut pending = vec![archives.to_owned()];
    while let Some(dir) = pending.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("cannot read {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                let name = path
                    .strip_prefix(archives)
                    .unwrap_or(&path)
                    .to_string_lossy()
                    .replace('/', "__");
                write(&out.join("archive_markers"), &name, &std::fs::read(&path)?)?;
                markdown += 1;
            }
        }
    }
    Ok((scripts, markdown))
}
