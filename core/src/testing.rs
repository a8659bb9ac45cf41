//! Helpers for tests in every crate: a deterministic entropy source. Never use it to seal real
//! data: its output is predictable from the seed.

use crate::seal::Entropy;

/// Entropy from blake3's extendable output keyed by a seed: repeatable across runs, so tests and
/// golden fixtures are reproducible.
#[derive(Debug)]
pub struct TestEntropy {
    reader: blake3::OutputReader,
}

impl TestEntropy {
    /// A stream determined by `seed`.
    pub fn new(seed: u64) -> Self {
        let mut hasher = blake3::Hasher::new_derive_key("dlg test entropy v1");
        hasher.update(&seed.to_le_bytes());
        Self {
            reader: hasher.finalize_xof(),
        }
    }
}

impl Entropy for TestEntropy {
    fn fill(&mut self, dest: &mut [u8]) {
        self.reader.fill(dest);
    }
}

use crate::append::{AppendContext, PrepareError, Receipt, prepare};
use crate::chain::Hash;
use crate::command::{Command, CreateDialogue, decide_create};
use crate::commit::{CommitHeader, EncodedCommit, FORMAT_VERSION, seal_commit};
use crate::graph::{ApplyOutcome, Graph};
use crate::ids::DialogueId;
use crate::seal::SecretKey;
use crate::sign::{LocalSigner, Signer as _};

/// The signing key test ledgers sign with, from a fixed seed (predictable: tests only).
pub fn test_signer() -> LocalSigner {
    LocalSigner::from_seed(&[0x5e; 32], "test signing key")
}

/// An in-memory ledger of one dialogue for tests: commits appended through the real
/// decide → seal → encode path and folded into the graph.
#[derive(Debug)]
pub struct MemoryLedger {
    /// The stored commits, in order.
    pub commits: Vec<EncodedCommit>,
    /// The graph folded from them.
    pub graph: Graph,
    /// The dialogue's data key (version 1).
    pub key: SecretKey,
    /// Entropy for nonces.
    pub entropy: TestEntropy,
    /// The key every commit is signed with ([`test_signer`]).
    pub signer: LocalSigner,
    /// Each command [`MemoryLedger::run`] stored, with the receipt the writer answered: what was
    /// asked and acknowledged, for oracles that must not depend on the fold.
    pub history: Vec<(Command, Receipt)>,
    clock: u32,
}

impl MemoryLedger {
    /// Creates a dialogue with `create` under `dialogue`.
    pub fn create(
        dialogue: &str,
        create: &CreateDialogue,
        seed: u64,
    ) -> Result<Self, PrepareError> {
        let dialogue = DialogueId::parse(dialogue)
            .map_err(|e| PrepareError::Commit(crate::commit::CommitError::Header(e.to_string())))?;
        let mut entropy = TestEntropy::new(seed);
        let key = SecretKey::generate(&mut entropy);
        let mut ledger = Self {
            commits: Vec::new(),
            graph: Graph::new(dialogue),
            key,
            entropy,
            signer: test_signer(),
            history: Vec::new(),
            clock: 0,
        };
        let decision = decide_create(&ledger.graph, create)?;
        let header = ledger.header(None);
        let encoded = seal_commit(
            header,
            decision.events,
            &ledger.graph.head_hash(),
            &ledger.key,
            &mut ledger.entropy,
        )?;
        ledger.store(encoded);
        Ok(ledger)
    }

    fn next_time(&mut self) -> String {
        self.clock += 1;
        format!(
            "2026-03-12T20:{:02}:{:02}Z",
            (self.clock / 60) % 60,
            self.clock % 60
        )
    }

    fn header(&mut self, idempotency_key: Option<&str>) -> CommitHeader {
        CommitHeader {
            format: FORMAT_VERSION,
            dialogue: self.graph.dialogue.clone(),
            commit: self.graph.checkpoint.commit + 1,
            first_seq: self.graph.checkpoint.next_seq,
            actor: "test-judge".to_owned(),
            time: self.next_time(),
            idempotency_key: idempotency_key.map(str::to_owned),
            request: None,
            key_version: 1,
            signer: Some(self.signer.public_key()),
        }
    }

    fn store(&mut self, encoded: EncodedCommit) -> Receipt {
        let encoded = encoded.sign_with(&self.signer);
        match self.graph.apply(&encoded.bytes) {
            Ok(ApplyOutcome::Applied(_)) => {}
            other => panic!("a freshly built commit must apply, got {other:?}"),
        }
        let receipt = Receipt::of(&encoded.commit, &encoded.hash);
        self.commits.push(encoded);
        receipt
    }

    /// Runs a command; on success the commit is stored and folded.
    pub fn run(&mut self, command: &Command) -> Result<Receipt, PrepareError> {
        let time = self.next_time();
        let context = AppendContext {
            actor: "test-judge",
            time: &time,
            idempotency_key: None,
            key: &self.key,
            key_version: 1,
            signer: self.signer.public_key(),
        };
        let encoded = prepare(&self.graph, command, &context, &mut self.entropy)?;
        let receipt = self.store(encoded);
        self.history.push((command.clone(), receipt.clone()));
        Ok(receipt)
    }

    /// The stored bytes of every commit.
    pub fn bytes(&self) -> Vec<&[u8]> {
        self.commits.iter().map(|c| c.bytes.as_slice()).collect()
    }

    /// The signature stored beside every commit.
    pub fn signatures(&self) -> Vec<Option<crate::sign::Signature>> {
        self.commits.iter().map(|c| c.signature).collect()
    }

    /// The recorded hash of every commit.
    pub fn hashes(&self) -> Vec<Hash> {
        self.commits.iter().map(|c| c.hash).collect()
    }
}

/// Random valid dialogues for property tests: abstract steps, each turned into a command valid
/// for the state it meets.
pub mod random {
    use serde_json::json;

    use super::MemoryLedger;
    use crate::command::CreateDialogue;
    use crate::ids::EntityKind;
    use crate::model::lifecycle;

    /// A dialogue `id` with experts muffin, cupcake and scone and nothing else.
    pub fn given_panel(id: &str, seed: u64) -> MemoryLedger {
        let create: CreateDialogue = serde_json::from_value(json!({
            "title": "PM repo sync architecture",
            "question": "How should sync treat PM repos as the source of truth?",
            "experts": [
                {"slug": "muffin", "role": "DevTools Architect", "tier": "Core", "relevance": 0.95},
                {"slug": "cupcake", "role": "PM Domain Expert", "tier": "Core", "relevance": 0.92},
                {"slug": "scone", "role": "Data Modeling Specialist", "tier": "Adjacent", "relevance": 0.9}
            ]
        }))
        .unwrap_or_else(|e| panic!("the panel request is well-formed: {e}"));
        MemoryLedger::create(id, &create, seed)
            .unwrap_or_else(|e| panic!("the panel dialogue is created: {e:?}"))
    }

    /// An abstract step; the interpreter turns it into a command valid for the current state.
    #[derive(Debug, Clone, PartialEq, Eq)]
    pub enum Step {
        Round {
            perspectives: u8,
            tensions: u8,
            recommendations: u8,
            reference_picks: Vec<u16>,
        },
        Status {
            entity_pick: u16,
            next_pick: u8,
        },
        AddExpert,
        Verdict {
            adopt_pick: u16,
        },
    }

    impl Step {
        /// A step from 64 random bits (so property tests need only `any::<u64>()`).
        pub fn from_pick(pick: u64) -> Self {
            let b = pick.to_le_bytes();
            let pair = |i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
            match b[0] % 8 {
                0..=2 => Step::Round {
                    perspectives: b[1] % 4,
                    tensions: b[2] % 3,
                    recommendations: b[3] % 2,
                    reference_picks: (0..usize::from(b[4] % 4))
                        .map(|i| pair(4 + i % 3))
                        .collect(),
                },
                3..=5 => Step::Status {
                    entity_pick: pair(1),
                    next_pick: b[3],
                },
                6 => Step::AddExpert,
                _ => Step::Verdict {
                    adopt_pick: pair(1),
                },
            }
        }
    }

    const EXPERTS: [&str; 3] = ["muffin", "cupcake", "scone"];

    /// Turns `step` into a command valid for the ledger's state and runs it (some steps do nothing).
    pub fn run(ledger: &mut MemoryLedger, step: &Step, counter: &mut usize) {
        *counter += 1;
        let graph = &ledger.graph;
        let request = match step {
            Step::Round {
                perspectives,
                tensions,
                recommendations,
                reference_picks,
            } => {
                let round = graph.latest_round().map_or(0, |r| r + 1);
                if round > 99 {
                    return;
                }
                let entity = |kind: char, i: u8| {
                    let expert = EXPERTS[usize::from(i) % EXPERTS.len()];
                    json!({"id": format!("{}-{kind}{round:02}{:02}", expert.to_uppercase(), i + 1),
                           "label": format!("{kind} {i} of round {round}"), "content": "body"})
                };
                let existing: Vec<String> = graph.nodes.keys().map(|id| id.to_string()).collect();
                let tensions_existing: Vec<String> = graph
                    .nodes
                    .keys()
                    .filter(|id| id.kind() == EntityKind::Tension)
                    .map(|id| id.to_string())
                    .collect();
                let mut references = Vec::new();
                if *perspectives > 0 {
                    for (i, pick) in reference_picks.iter().enumerate() {
                        let source = format!("MUFFIN-P{round:02}01");
                        let (ref_type, pool) = if i % 2 == 0 {
                            ("support", &existing)
                        } else {
                            ("address", &tensions_existing)
                        };
                        if pool.is_empty() {
                            continue;
                        }
                        let target = &pool[usize::from(*pick) % pool.len()];
                        let triple = (source.clone(), ref_type, target.clone());
                        if !references.contains(&triple) {
                            references.push(triple);
                        }
                    }
                }
                json!({
                    "command": "register_round", "round": round, "title": format!("Round {round}"),
                    "score": f64::from(*counter as u32) / 4.0, "summary": "synthesis",
                    "experts": [{"expert": "muffin", "score": 1.5, "response": "raw"}],
                    "perspectives": (0..*perspectives).map(|i| entity('P', i)).collect::<Vec<_>>(),
                    "tensions": (0..*tensions).map(|i| entity('T', i)).collect::<Vec<_>>(),
                    "recommendations": (0..*recommendations).map(|i| entity('R', i)).collect::<Vec<_>>(),
                    "references": references.iter().map(|(s, r, t)| json!({"source": s, "type": r, "target": t})).collect::<Vec<_>>(),
                    "moves": [{"expert": "cupcake", "move": "converge"}],
                })
            }
            Step::Status {
                entity_pick,
                next_pick,
            } => {
                if graph.nodes.is_empty() {
                    return;
                }
                let node = graph
                    .nodes
                    .values()
                    .nth(usize::from(*entity_pick) % graph.nodes.len())
                    .unwrap_or_else(|| unreachable!("the pick is in range"));
                let next = lifecycle(node.kind).next(node.status);
                if next.is_empty() {
                    return;
                }
                let to = next[usize::from(*next_pick) % next.len()];
                json!({"command": "update_statuses", "updates": [{"id": node.id.to_string(), "status": to.as_str(), "by": "scone", "reason": "moved"}]})
            }
            Step::AddExpert => {
                json!({"command": "add_expert", "slug": format!("guest-{counter}"), "role": "Guest",
                                      "creation_reason": "needed a view"})
            }
            Step::Verdict { adopt_pick } => {
                let adoptable: Vec<String> = graph
                    .nodes
                    .values()
                    .filter(|n| {
                        n.kind == EntityKind::Recommendation
                            && lifecycle(n.kind).allows(n.status, crate::model::Status::Adopted)
                    })
                    .map(|n| n.id.to_string())
                    .collect();
                let adopts: Vec<&String> = adoptable
                    .get(usize::from(*adopt_pick) % adoptable.len().max(1))
                    .into_iter()
                    .collect();
                json!({"command": "register_verdict", "verdict_id": format!("V{counter:02}"), "type": "interim",
                       "recommendation": "so far", "adopts": adopts})
            }
        };
        let command = serde_json::from_value(request)
            .unwrap_or_else(|e| panic!("generated command must be well-formed: {e}"));
        ledger
            .run(&command)
            .unwrap_or_else(|e| panic!("generated command must be valid: {e:#?}"));
    }

    /// A dialogue `id`: the panel, then `steps`.
    pub fn dialogue(id: &str, steps: &[Step]) -> MemoryLedger {
        let mut ledger = given_panel(id, 7);
        let mut counter = 0;
        for step in steps {
            run(&mut ledger, step, &mut counter);
        }
        ledger
    }
}
