//! Tidy: the Architecture Invariants of ARCHITECTURE.md that are about the source tree itself,
//! checked as tests (as rust-analyzer's `tidy.rs` does) so that prose cannot drift from code:
//!
//! - `dlg-core` stays pure: its normal dependencies are an allow list with no I/O, runtime, AWS
//!   or database crate among them;
//! - only the storage adapters (`infra/store/src/sqlite.rs`, `infra/store/src/dynamodb/`) name
//!   DynamoDB attribute values or SQL;
//! - every Rust source file opens with a `//!` line saying what it is for;
//! - the projector crate does not depend on SQLite, so the Lambda cannot link it.
//!
//! Each check reads files as text and fails with the offending path and line.

use std::path::{Path, PathBuf};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// Every `.rs` file of the workspace's crates (and the fuzz targets), skipping build output and
/// installed tools.
fn rust_sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, found: &mut Vec<PathBuf>) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !matches!(
                    name,
                    "target"
                        | "node_modules"
                        | ".tools"
                        | ".local"
                        | "dist"
                        | "corpus"
                        | "artifacts"
                ) && !name.starts_with('.')
                {
                    walk(&path, found);
                }
            } else if name.ends_with(".rs") {
                found.push(path);
            }
        }
    }
    let root = repo_root();
    let mut found = Vec::new();
    for crate_dir in ["core", "infra", "writer", "projector", "tests"] {
        walk(&root.join(crate_dir), &mut found);
    }
    assert!(
        found.len() > 50,
        "found only {} source files under {}: is the walk broken?",
        found.len(),
        root.display()
    );
    found
}

fn relative(path: &Path) -> String {
    path.strip_prefix(repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The names of a manifest's `[dependencies]` table (not dev- or build-dependencies).
fn normal_dependencies(manifest: &str) -> Vec<String> {
    let mut in_dependencies = false;
    let mut names = Vec::new();
    for line in manifest.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_dependencies = line == "[dependencies]";
            continue;
        }
        if in_dependencies
            && !line.is_empty()
            && !line.starts_with('#')
            && let Some((name, _)) = line.split_once('=')
        {
            names.push(name.trim().trim_end_matches(".workspace").to_owned());
        }
    }
    names
}

#[test]
fn core_depends_only_on_pure_crates() {
    // Each entry is a pure library: no file, network, clock, process or database access.
    const ALLOWED: &[&str] = &[
        "serde",
        "serde_json",
        "thiserror",
        "blake3",
        "chacha20poly1305",
        "base64",
        "zeroize",
        "schemars",
        // Ed25519 signatures and the SHA-256 of C2SP key ids: arithmetic on bytes.
        "ed25519-dalek",
        "sha2",
        // Parses RFC 3339 text only; core never calls its clock functions.
        "humantime",
    ];
    let manifest = std::fs::read_to_string(repo_root().join("core/Cargo.toml")).unwrap();
    let dependencies = normal_dependencies(&manifest);
    assert!(
        dependencies.contains(&"serde".to_owned()),
        "the manifest parser found no dependencies in core/Cargo.toml: {dependencies:?}"
    );
    let impure: Vec<&String> = dependencies
        .iter()
        .filter(|name| !ALLOWED.contains(&name.as_str()))
        .collect();
    assert!(
        impure.is_empty(),
        "dlg-core must stay pure (ARCHITECTURE.md); these dependencies are not on the allow list \
         of tests/tests/tidy.rs: {impure:?}. Move I/O to an adapter, or add a pure crate to the \
         list with a reason."
    );
}

#[test]
fn the_projector_does_not_depend_on_sqlite() {
    let manifest = std::fs::read_to_string(repo_root().join("projector/Cargo.toml")).unwrap();
    let dependencies = normal_dependencies(&manifest);
    assert!(
        dependencies.contains(&"dlg-store".to_owned()),
        "{dependencies:?}"
    );
    assert!(
        !dependencies.iter().any(|d| d.contains("sqlite")),
        "the projector (and so the Lambda) must not link SQLite: {dependencies:?}"
    );
    let store_line = manifest
        .lines()
        .find(|l| l.trim_start().starts_with("dlg-store"))
        .unwrap_or_default();
    assert!(
        !store_line.contains("sqlite"),
        "projector/Cargo.toml enables dlg-store's sqlite feature: {store_line}"
    );
}

/// Whether `path` is one of the storage adapters, the only code allowed to know SQL and
/// DynamoDB attribute values.
fn is_adapter(path: &str) -> bool {
    path == "infra/store/src/sqlite.rs"
        || path == "infra/store/src/stream.rs"
        || path.starts_with("infra/store/src/dynamodb/")
}

/// Whether `path` is test or benchmark code, which builds stores, plants rows and tampers with
/// them on purpose.
fn is_test_code(path: &str) -> bool {
    path.starts_with("tests/") || path.contains("/tests/") || path.ends_with("/testing.rs")
}

#[test]
fn only_the_adapters_know_sql_and_attribute_values() {
    const SQL: &[&str] = &[
        "SELECT ",
        "INSERT INTO",
        "CREATE TABLE",
        "DELETE FROM",
        "UPDATE ",
        "rusqlite",
    ];
    let mut found = Vec::new();
    for path in rust_sources() {
        let name = relative(&path);
        if is_adapter(&name) || is_test_code(&name) {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if code.contains("AttributeValue") || SQL.iter().any(|word| code.contains(word)) {
                found.push(format!("{name}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "only the store adapters may know SQL or DynamoDB attribute values (ARCHITECTURE.md):\n{}",
        found.join("\n")
    );
}

#[test]
fn every_source_file_says_what_it_is_for() {
    let mut missing = Vec::new();
    for path in rust_sources() {
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or_default();
        if !first.starts_with("//!") {
            missing.push(relative(&path));
        }
    }
    assert!(
        missing.is_empty(),
        "these files do not open with a `//!` line saying what they are for:\n{}",
        missing.join("\n")
    );
}

#[test]
fn the_checks_see_what_they_look_for() {
    // The checks above pass vacuously if their readers find nothing: make sure they would see a
    // violation where one exists.
    let adapters = rust_sources()
        .into_iter()
        .filter(|p| is_adapter(&relative(p)))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(adapters.contains("AttributeValue"));
    assert!(adapters.contains("INSERT INTO") || adapters.contains("SELECT "));
    assert_eq!(
        normal_dependencies("[dependencies]\ntokio.workspace = true\n[dev-dependencies]\nx = 1\n"),
        vec!["tokio".to_owned()]
    );
}
