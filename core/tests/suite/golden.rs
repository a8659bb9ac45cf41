//! Golden fixtures pin the stored commit format: each fixture commit decodes, re-encodes to the
//! identical bytes, chains to the fixed hash written here, and opens with the fixture key.
//! Changing the encoding breaks these tests on purpose: stored ledgers must keep verifying.
//! (The fixtures were written once from `given_round_zero()` with seeded entropy.)

use std::path::PathBuf;

use dlg_core::chain;
use dlg_core::commit::Commit;
use dlg_core::ids::DialogueId;
use dlg_core::seal::SecretKey;

fn fixture(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

const GENESIS: &str = "f6d3af37a63117dbe9b4bf314cc3d013d01ef740ee4c930a2b7b7fdcd3e1de16";
const HASHES: [&str; 2] = [
    "6b9721a695275a7a90957dd685d7e149a893f3a3d225029a240f1a931560f62e",
    "f0d5741b505f51ba8dc9a80a086ed79efa76f5fef2cbce3a5fea69740ade9926",
];

#[test]
fn golden_commits_decode_reencode_and_chain_to_fixed_hashes() {
    let dialogue = DialogueId::parse("pm-repo-sync").unwrap();
    let mut previous = chain::genesis(&dialogue);
    assert_eq!(
        chain::to_hex(&previous),
        GENESIS,
        "the genesis value is part of the format"
    );
    for (i, expected) in HASHES.iter().enumerate() {
        let bytes = fixture(&format!("commit-{}.json", i + 1));
        let commit = Commit::decode(&bytes).unwrap();
        assert_eq!(
            commit.encode(),
            bytes,
            "commit {} re-encodes byte-identical",
            i + 1
        );
        previous = chain::link(&previous, &bytes);
        assert_eq!(
            chain::to_hex(&previous),
            *expected,
            "hash of commit {}",
            i + 1
        );
    }
}

#[test]
fn golden_commit_opens_with_the_fixture_key() {
    let key_hex = String::from_utf8(fixture("key.hex")).unwrap();
    let key = SecretKey::from_bytes(chain::from_hex(key_hex.trim()).unwrap());
    let commit = Commit::decode(&fixture("commit-1.json")).unwrap();
    let created = commit.open_event(&commit.events[0], &key).unwrap().unwrap();
    assert_eq!(created["title"], "PM repo sync architecture");
    let expert = commit.open_event(&commit.events[1], &key).unwrap().unwrap();
    assert_eq!(expert["role"], "DevTools Architect");
    let wrong = SecretKey::from_bytes([7; 32]);
    assert!(matches!(
        commit.open_event(&commit.events[0], &wrong),
        Err(dlg_core::seal::SealError::Open { .. })
    ));
}

#[test]
fn a_non_canonical_encoding_is_refused() {
    let bytes = fixture("commit-1.json");
    let mut spaced = b" ".to_vec();
    spaced.extend_from_slice(&bytes);
    assert!(matches!(
        Commit::decode(&spaced),
        Err(dlg_core::commit::CommitError::Malformed(_))
    ));
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(&bytes).unwrap())
            .unwrap();
    assert!(Commit::decode(&pretty).is_err());
}

#[test]
fn an_unknown_event_version_is_refused_with_a_clear_message() {
    let text = String::from_utf8(fixture("commit-1.json"))
        .unwrap()
        .replacen("\"v\":1", "\"v\":9", 1);
    let error = Commit::decode(text.as_bytes()).unwrap_err().to_string();
    assert!(error.contains("schema version 9"), "{error}");
}

/// Test vectors of format 2's signatures (docs/format.md §7): the Ed25519 key whose seed is 32
/// bytes of 0x5e, its C2SP verifier key, and its signature of the commit message of the first
/// golden commit's hash. Ed25519 signatures are deterministic, so these never change.
#[test]
fn format_two_signature_vectors() {
    use dlg_core::sign::{LocalSigner, Signer as _, commit_message};
    let signer = LocalSigner::from_seed(&[0x5e; 32], "vector");
    let key = signer.public_key();
    let hash = chain::from_hex(HASHES[0]).unwrap();
    let message = commit_message(&hash);
    let signature = signer.sign_now(&message);
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    assert_eq!(key.to_string(), PUBLIC_KEY);
    assert_eq!(key.verifier_key(), VERIFIER_KEY);
    assert_eq!(hex(&signature), SIGNATURE);
    assert!(key.verifies(&message, &signature));
}

const PUBLIC_KEY: &str = "8146640f02493af4fbc54fe33388e75dc2c937ae0b7727cc2b2afb1b75199a3e";
const VERIFIER_KEY: &str = "dlg-ledger+8a1c19a3+AYFGZA8CSTr0+8VP4zOI513CyTeuC3cnzCsq+xt1GZo+";
const SIGNATURE: &str = "ac9c792f41beebc5830e71eb074d4a330bb8dc9c963b19610fb182aa44f8a4ee2726aaf63aacc545e857a90c1f3c6300cd1b5c0e2addb89aba74d3cd80ef3a06";

/// Format 2 test vectors (docs/format.md §11): a whole signed ledger of five commits as the
/// writer stores it today, the signature beside each commit, the master key and the wrapped data
/// key, and the exact request bytes behind each request fingerprint. Everything is deterministic
/// (seeded entropy, a fixed clock, the fixed signing seed), so the writer must reproduce these
/// files byte for byte: a change to the encoding, the sealing, the wrapping or the signing fails
/// here. `DLG_BLESS=1` rewrites the files after a deliberate change of format.
#[test]
fn format_two_ledger_vectors() {
    use dlg_core::seal::MasterKey;
    use dlg_core::sign::Signer as _;
    use dlg_core::testing::TestEntropy;

    let mut ledger = crate::common::given_round_zero();
    // Round 1 adds the event types round 0 lacks: references, a move, a status change, a panel
    // with a reason, a score by dimension; then a
    // verdict, and a final verdict accepting the tension left open, which closes the dialogue. A string with escapes and non-ASCII text is among them.
    for request in [
        serde_json::json!({
            "command": "register_round", "round": 1, "title": "Refinement", "score": 82.5,
            "panel": [{"expert": "muffin", "reason": "Holds the schema view"},
                      {"expert": "cupcake"}, {"expert": "scone", "source": "retained"}],
            "experts": [{"expert": "muffin", "dimensions": {"wisdom": 3.0, "consistency": 2.0,
                                                             "truth": 2.5, "relationships": 1.0}}],
            "perspectives": [{"id": "MUFFIN-P0101", "label": "Batch writeback",
                              "content": "One commit after all API calls: \"atomic\" — no partial trees.",
                              "references": [{"type": "resolve", "target": "T0001"},
                                             {"type": "refine", "target": "P0001"}]}],
            "references": [{"source": "E0001", "type": "support", "target": "P0001"}],
            "moves": [{"expert": "cupcake", "move": "bridge", "targets": ["P0001", "P0002"],
                       "context": "Both need the schema first."}],
            "status_updates": [{"id": "T0001", "status": "resolved", "by": ["muffin", "cupcake"],
                                "via": "MUFFIN-P0101",
                                "reason": "The DocSchema trait settles where writeback happens."}]
        }),
        serde_json::json!({
            "command": "register_verdict", "verdict_id": "V01", "type": "interim",
            "recommendation": "Adopt DocSchema with batched writeback.",
            "conditions": ["dry run on first sync"], "vote": "3-0", "confidence": "unanimous",
            "adopts": ["R0001"]
        }),
        serde_json::json!({
            "command": "register_verdict", "verdict_id": "final", "type": "final",
            "recommendation": "Ship it; the panel agreed.", "tensions_accepted": ["T0002"]
        }),
    ] {
        ledger.run(&crate::common::command(request)).unwrap();
    }
    let dialogue = DialogueId::parse("pm-repo-sync").unwrap();
    let master = MasterKey::new(SecretKey::from_bytes([0x4d; 32]));
    let wrapped = master.wrap_key(&dialogue, 1, &ledger.key, &mut TestEntropy::new(11));
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();

    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let mut signatures = String::new();
    let mut hashes = String::new();
    for (n, commit) in ledger.commits.iter().enumerate() {
        files.push((format!("commit-{}.json", n + 1), commit.bytes.clone()));
        let signature = commit.signature.expect("format 2 commits are signed");
        signatures.push_str(&format!("{}\n", hex(&signature)));
        hashes.push_str(&format!("{}\n", chain::to_hex(&commit.hash)));
    }
    for (n, (command, _)) in ledger.history.iter().enumerate() {
        // history holds the commands after the creation commit.
        files.push((format!("request-{}.json", n + 2), command.canonical_bytes()));
    }
    files.push(("signatures.hex".into(), signatures.into_bytes()));
    files.push(("hashes.hex".into(), hashes.into_bytes()));
    files.push((
        "master.key.hex".into(),
        format!("{}\n", hex(master.secret().expose())).into_bytes(),
    ));
    files.push((
        "data.key.hex".into(),
        format!("{}\n", hex(ledger.key.expose())).into_bytes(),
    ));
    files.push((
        "wrapped-key.json".into(),
        serde_json::to_vec(&wrapped).unwrap(),
    ));

    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/format-2");
    if std::env::var_os("DLG_BLESS").is_some() {
        std::fs::create_dir_all(&dir).unwrap();
        for (name, bytes) in &files {
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    for (name, bytes) in &files {
        let stored = fixture(&format!("format-2/{name}"));
        assert!(
            stored == *bytes,
            "format-2/{name} differs from what the writer produces today: a change of the stored format (DLG_BLESS=1 rewrites the vectors after a deliberate one, with docs/format.md)"
        );
    }

    // The vectors check out by the rules of the page, not only by our own encoder: the chain
    // from genesis, each signature, the unwrapped key, every sealed field, each fingerprint.
    let signer = dlg_core::testing::test_signer().public_key();
    let mut previous = chain::genesis(&dialogue);
    for commit in &ledger.commits {
        previous = chain::link(&previous, &commit.bytes);
        assert_eq!(previous, commit.hash);
        let signature = commit.signature.unwrap();
        assert!(signer.verifies(&dlg_core::sign::commit_message(&previous), &signature));
        let decoded = Commit::decode(&commit.bytes).unwrap();
        for event in &decoded.events {
            let _ = decoded.open_event(event, &ledger.key).unwrap();
        }
    }
    let unwrapped = master.unwrap_key(&dialogue, 1, &wrapped).unwrap();
    assert_eq!(unwrapped.expose(), ledger.key.expose());
    for (n, (command, _)) in ledger.history.iter().enumerate() {
        let decoded = Commit::decode(&ledger.commits[n + 1].bytes).unwrap();
        assert_eq!(
            decoded.header.request.as_deref(),
            Some(
                dlg_core::commit::request_fingerprint(&ledger.key, &command.canonical_bytes())
                    .as_str()
            )
        );
    }
}
