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
