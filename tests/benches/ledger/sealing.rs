//! Section 1: sealing, chaining and signing a round against the bare primitives.

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{KeyInit, XChaCha20Poly1305, XNonce};
use dlg_core::append::{AppendContext, prepare};
use dlg_core::commit::Commit;
use dlg_core::testing::random::given_panel;
use dlg_writer::keys::OsEntropy;

use crate::dialogues::*;
use crate::harness::*;

/// XChaCha20-Poly1305 over every sealed field's plaintext length and blake3 over the commit:
/// the work no implementation of the format can skip.
pub(crate) fn primitives(commit: &Commit, bytes: &[u8], key: &[u8; 32]) {
    let cipher = XChaCha20Poly1305::new(key.into());
    let nonce = XNonce::from([7u8; 24]);
    for event in &commit.events {
        if let Some(sealed) = &event.sealed {
            let plain = vec![0u8; sealed.ciphertext.len() - 16];
            let out = cipher
                .encrypt(
                    &nonce,
                    Payload {
                        msg: &plain,
                        aad: b"dialogue:d/event:1/entity:x/y",
                    },
                )
                .unwrap();
            std::hint::black_box(out);
        }
    }
    std::hint::black_box(blake3::hash(bytes));
}

/// One strict Ed25519 verification per commit, of the message a commit signature signs: the
/// work no verifier of format 2 can skip besides the chain.
pub(crate) fn primitives_verify(
    key: &ed25519_dalek::VerifyingKey,
    signed: &[([u8; 32], [u8; 64])],
) {
    for (hash, signature) in signed {
        let message = [dlg_core::sign::COMMIT_SIGNATURE_CONTEXT, hash.as_slice()].concat();
        let _ = std::hint::black_box(
            key.verify_strict(&message, &ed25519_dalek::Signature::from_bytes(signature)),
        );
    }
}

/// The same, opening instead of sealing (what an audit must do at least).
pub(crate) fn primitives_open(ciphertexts: &[(Vec<u8>, Vec<u8>)], bytes: &[&[u8]], key: &[u8; 32]) {
    let cipher = XChaCha20Poly1305::new(key.into());
    let nonce = XNonce::from([7u8; 24]);
    for (aad, ciphertext) in ciphertexts {
        let _ = std::hint::black_box(cipher.decrypt(
            &nonce,
            Payload {
                msg: ciphertext,
                aad,
            },
        ));
    }
    let mut hash = [0u8; 32];
    for b in bytes {
        let mut hasher = blake3::Hasher::new();
        hasher.update(&hash);
        hasher.update(b);
        hash = *hasher.finalize().as_bytes();
    }
    std::hint::black_box(hash);
}

pub(crate) fn sealing(mode: Mode) -> Section {
    let mut section = Section::new("1. Sealing, chaining and signing vs the primitives");
    let ledger = given_panel("bench-seal", 3);
    let command = round(0);
    let mut entropy = OsEntropy;
    let context = AppendContext {
        actor: "bench",
        time: "2026-11-24T10:00:00Z",
        idempotency_key: Some("bench-key"),
        key: &ledger.key,
        key_version: 1,
        signer: dlg_core::sign::Signer::public_key(&dlg_core::testing::test_signer()),
    };
    let sample = prepare(&ledger.graph, &command, &context, &mut entropy)
        .unwrap()
        .sign_with(&dlg_core::testing::test_signer());
    let (events, size) = (sample.commit.events.len(), sample.bytes.len());
    let ours = time(mode.warmup(20), mode.samples(200), || {
        std::hint::black_box(prepare(&ledger.graph, &command, &context, &mut entropy).unwrap());
    });
    let key = *ledger.key.expose();
    let limit = time(mode.warmup(20), mode.samples(200), || {
        primitives(&sample.commit, &sample.bytes, &key);
    });
    signing(mode, &sample.hash, &mut section);
    section.timed(
        &format!("decide + seal + encode + chain one round ({events} events, {size} bytes)"),
        ours.median,
        limit.median,
        "baseline: XChaCha20-Poly1305 over each sealed field and blake3 over the commit bytes; dlg adds validation of the round, canonical JSON encoding of 40 events and their addresses",
    );
    section
}

/// Signing a commit as the writer does against a bare Ed25519 signature of the same bytes.
fn signing(mode: Mode, hash: &[u8; 32], section: &mut Section) {
    use ed25519_dalek::Signer as _;
    let signer = dlg_core::testing::test_signer();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let ours = runtime.block_on(time_async(mode.warmup(50), mode.samples(2000), |_| {
        let signer = &signer;
        async move {
            let message = dlg_core::sign::commit_message(hash);
            std::hint::black_box(
                dlg_core::sign::sign_checked(signer, &message)
                    .await
                    .unwrap(),
            );
        }
    }));
    let bare = ed25519_dalek::SigningKey::from_bytes(&[0x5e; 32]);
    let message = dlg_core::sign::commit_message(hash);
    let limit = time(mode.warmup(50), mode.samples(2000), || {
        std::hint::black_box(bare.sign(&message));
    });
    section.timed(
        "sign one commit (the writer's signer, then the signature checked before it is stored)",
        ours.median,
        limit.median,
        "baseline: one bare ed25519-dalek signature of the same 63-byte message; dlg also verifies the signature it got back (strict), so a faulty or substituted signer (KMS answers included) cannot store a commit that will not verify",
    );
}
