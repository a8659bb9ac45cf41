#!/usr/bin/env python3
"""Clean-room verifier of dlg's stored format, version 2.

An independent implementation of docs/format.md (with the domain rules of docs/dialogue.md),
written from those two documents alone, without dlg's source. The tests run it to show that the
specification is complete enough to verify a ledger and open its content without dlg's code.

    verify.py vectors DIR    (DIR = core/tests/fixtures/format-2; format 1 fixtures in its parent)
    verify.py sqlite DB --dialogue D [--master-key FILE] [--trust KEY ...] [--checkpoint FILE]

Prints one JSON object. Exit 0: verified; 1: a verification failure
({"ok": false, "commit", "kind", "message"}); 2: usage error or unreadable input.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sqlite3
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, NoReturn

import blake3
from nacl import bindings
from nacl.exceptions import BadSignatureError, CryptoError
from nacl.signing import VerifyKey

GENESIS_PREFIX = b"dlg-ledger genesis v1:"                 # §6
SIGNATURE_PREFIX = b"dlg-ledger commit signature v2:"      # §7
FINGERPRINT_CONTEXT = "dlg-ledger request fingerprint v1"  # §5
NOTE_KEY_NAME = "dlg-ledger"                               # §7, §8
MAX_COMMIT_BYTES = 400_000                                 # §1

SLUG = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
ENTITY_ID = re.compile(r"[PRTEC][0-9]{2}(0[1-9]|[1-9][0-9])")
TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?Z")
HEX32 = re.compile(r"[0-9a-f]{64}")
KINDS = {"P": "perspective", "R": "recommendation", "T": "tension", "E": "evidence", "C": "claim"}
HEADER_V1 = ("format", "dialogue", "commit", "first_seq", "actor", "time", "idempotency_key",
             "request", "key_version")
HEADER_V2 = HEADER_V1 + ("signer",)
ENTITY = ("id", "local_id", "contributors")
# §2: type -> (body members in order, content members, address entity part)
EVENT_TYPES: dict[str, tuple[tuple[str, ...], tuple[str, ...], str]] = {
    "DialogueCreated": (("dialogue",), ("question", "title"), "dialogue/meta"),
    "ExpertJoined": (("expert", "tier", "source", "relevance", "color", "first_round"),
                     ("creation_reason", "description", "focus", "role"), "expert/{expert}"),
    "RoundOpened": (("round",), ("reasons", "title"), "round/{round}"),
    "ResponseRecorded": (("round", "expert"), ("text",), "response/{round}/{expert}"),
    "ExpertScored": (("round", "expert", "score"), (), "score/{round}/{expert}"),
    "PerspectiveAdded": (ENTITY, ("content", "label"), "perspective/{id}"),
    "RecommendationProposed": (ENTITY, ("content", "label", "parameters"), "recommendation/{id}"),
    "TensionRaised": (ENTITY, ("description", "label"), "tension/{id}"),
    "EvidenceCited": (ENTITY, ("content", "label"), "evidence/{id}"),
    "ClaimAsserted": (ENTITY, ("content", "label"), "claim/{id}"),
    "ReferenceAdded": (("source", "ref_type", "target", "round"), (),
                       "reference/{source}/{ref_type}/{target}"),
    "MoveRecorded": (("round", "expert", "index", "kind", "targets"), ("context",),
                     "move/{round}/{expert}/{index}"),
    "StatusChanged": (("entity", "from", "to", "round", "actors", "via"), ("reason",), "{kind}/{entity}"),
    "RoundCompleted": (("round", "score"), ("summary",), "round/{round}"),
    "VerdictIssued": (("verdict", "verdict_type", "round", "author_expert", "vote", "confidence",
                       "supporting_experts"), ("conditions", "description", "recommendation"),
                      "verdict/{verdict}"),
    "DialogueStatusChanged": (("from", "to"), ("reason",), "dialogue/status"),
}
ID_LETTER = {"PerspectiveAdded": "P", "RecommendationProposed": "R", "TensionRaised": "T",
             "EvidenceCited": "E", "ClaimAsserted": "C"}


class Failure(Exception):
    def __init__(self, kind: str, commit: int | None, message: str) -> None:
        super().__init__(message)
        self.kind, self.commit, self.message = kind, commit, message


def fail(kind: str, commit: int | None, message: str) -> NoReturn:
    raise Failure(kind, commit, message)


# ---------------------------------------------------------------- §1, §2: commit bytes

def parse_json(data: bytes, what: str) -> Any:
    """Strict JSON: UTF-8, no duplicate members, no NaN/Infinity; member order kept."""
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        if len({k for k, _ in items}) != len(items):
            raise ValueError("duplicate member")
        return dict(items)

    def constant(name: str) -> NoReturn:
        raise ValueError(f"{name} is not JSON")
    try:
        return json.loads(data.decode("utf-8"), object_pairs_hook=pairs, parse_constant=constant)
    except ValueError as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ValueError(f"{what} is not valid JSON: {e}") from None


def format_float(x: float) -> str:
    """§1: shortest round-trip digits; plain decimal for exponents -5..15, else 1e+16 / 1e-6."""
    sign, digit_tuple, exp = Decimal(repr(x)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    e = len(digit_tuple) - 1 + int(exp)  # x = d.ddd × 10^e
    if e < -5 or e > 15:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        body = f"{mantissa}e{'+' if e > 0 else '-'}{abs(e)}"
    elif e < 0:
        body = "0." + "0" * (-e - 1) + digits
    else:
        digits = digits.ljust(e + 1, "0")
        body = digits[:e + 1] + "." + (digits[e + 1:] or "0")
    return ("-" if sign else "") + body


def canonical(v: Any) -> str:
    """§1's canonical encoding of a parsed value, members in the order they were read."""
    if isinstance(v, float):
        return format_float(v)
    if isinstance(v, list):
        return "[" + ",".join(map(canonical, v)) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(canonical(k) + ":" + canonical(x) for k, x in v.items()) + "}"
    return json.dumps(v, ensure_ascii=False)  # null, booleans, integers, strings


def b64(value: Any, length: int | None = None, minimum: int = 0) -> bytes:
    """Standard padded base64 (RFC 4648 §4), in its one canonical spelling."""
    if not isinstance(value, str):
        raise ValueError("base64 member is not a string")
    raw = base64.b64decode(value, validate=True)
    if base64.b64encode(raw).decode() != value:
        raise ValueError("base64 is not canonical")
    if (length is not None and len(raw) != length) or len(raw) < minimum:
        raise ValueError(f"base64 member decodes to {len(raw)} bytes")
    return raw


def is_text(v: Any, hi: int, rx: re.Pattern[str] | None = None) -> bool:
    return isinstance(v, str) and 1 <= len(v.encode()) <= hi and (rx is None or bool(rx.fullmatch(v)))


def is_count(v: Any, hi: int = 1 << 63) -> bool:
    return type(v) is int and 1 <= v <= hi


def check_header(h: Any) -> None:
    if not isinstance(h, dict) or type(h.get("format")) is not int or h["format"] not in (1, 2):
        raise ValueError("header is not an object of format 1 or 2")
    expected = HEADER_V2 if h["format"] == 2 else HEADER_V1
    if tuple(h) != expected:
        raise ValueError(f"format {h['format']} header members must be {', '.join(expected)}")
    ok = {"dialogue": is_text(h["dialogue"], 80, SLUG), "commit": is_count(h["commit"]),
          "first_seq": is_count(h["first_seq"]), "actor": is_text(h["actor"], 200),
          "time": is_text(h["time"], 64, TIME),
          "idempotency_key": h["idempotency_key"] is None or is_text(h["idempotency_key"], 200),
          "request": h["request"] is None or is_text(h["request"], 64, HEX32),
          "key_version": is_count(h["key_version"], 9_999_999_999),
          "signer": h["format"] == 1 or is_text(h["signer"], 64, HEX32)}
    bad = [name for name, good in ok.items() if not good]
    if bad:
        raise ValueError(f"header member {bad[0]} is malformed: {h[bad[0]]!r}")


# §2: members a body may end with, in this order, each left out when empty or false.
OPTIONAL_MEMBERS = {"VerdictIssued": ("tensions_accepted", "forced"), "RoundOpened": ("panel",),
                    "ExpertScored": ("dimensions",)}
SEAT_SOURCES = ("retained", "pool", "created")
DIMENSIONS = ("wisdom", "consistency", "truth", "relationships")


def subsets(items: tuple[str, ...]) -> list[set[str]]:
    out: list[set[str]] = [set()]
    for item in items:
        out += [chosen | {item} for chosen in out]
    return out


def check_event(ev: Any, seq: int) -> None:
    if not isinstance(ev, dict) or tuple(ev)[:4] != ("seq", "v", "type", "body") or \
            tuple(ev)[4:] not in ((), ("sealed",)):
        raise ValueError(f"event {seq}: members must be seq, v, type, body[, sealed]")
    if type(ev["seq"]) is not int or ev["seq"] != seq:
        raise ValueError(f"event seq {ev['seq']!r}, expected {seq}")
    if type(ev["v"]) is not int or ev["v"] != 1:
        raise ValueError(f"event {seq}: unknown event schema version {ev['v']!r}")
    if ev["type"] not in EVENT_TYPES:
        raise ValueError(f"event {seq}: unknown type {ev['type']!r}")
    members, content, _ = EVENT_TYPES[ev["type"]]
    body = ev["body"]
    optional = OPTIONAL_MEMBERS.get(ev["type"], ())
    extra = tuple(body)[len(members):] if isinstance(body, dict) else ()
    if not isinstance(body, dict) or tuple(body)[:len(members)] != members or \
            extra not in [tuple(m for m in optional if m in chosen)
                          for chosen in subsets(optional)]:
        raise ValueError(f"event {seq}: {ev['type']} body members must be {', '.join(members)}"
                         + (f"[, {', '.join(optional)}]" if optional else ""))
    if "tensions_accepted" in body and (
            not isinstance(body["tensions_accepted"], list) or not body["tensions_accepted"]
            or not all(isinstance(t, str) and t.startswith("T") for t in body["tensions_accepted"])):
        raise ValueError(f"event {seq}: tensions_accepted must be a non-empty array of tension ids")
    if "forced" in body and body["forced"] is not True:
        raise ValueError(f"event {seq}: forced is present only as true")
    if "panel" in body and (
            not isinstance(body["panel"], list) or not body["panel"]
            or not all(isinstance(seat, dict) and tuple(seat) == ("expert", "source")
                       and is_text(seat["expert"], 64, SLUG) and seat["source"] in SEAT_SOURCES
                       for seat in body["panel"])):
        raise ValueError(f"event {seq}: panel must be a non-empty array of {{expert, source}}")
    if "dimensions" in body and (
            not isinstance(body["dimensions"], dict) or not body["dimensions"]
            or tuple(body["dimensions"]) != tuple(d for d in DIMENSIONS if d in body["dimensions"])
            or not all(type(v) is float for v in body["dimensions"].values())):
        raise ValueError(f"event {seq}: dimensions must be a non-empty object of "
                         f"{', '.join(DIMENSIONS)} (in that order) with numbers")
    entity = body.get("id", body.get("entity"))  # the id its address and kind are read from
    if entity is not None and not (is_text(entity, 5, ENTITY_ID) and
                                   entity[0] == ID_LETTER.get(ev["type"], entity[0])):
        raise ValueError(f"event {seq}: {ev['type']} with entity id {entity!r}")
    if "sealed" in ev:
        sealed = ev["sealed"]
        if not content or not isinstance(sealed, dict) or tuple(sealed) != ("nonce", "ct"):
            raise ValueError(f"event {seq}: sealed must be {{nonce, ct}}, on an event with content")
        b64(sealed["nonce"], length=24)
        b64(sealed["ct"], minimum=16)


def parse_commit(data: bytes) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Parse and check one commit's bytes (§1, §2); raises ValueError."""
    if len(data) > MAX_COMMIT_BYTES:
        raise ValueError(f"commit is {len(data)} bytes, over {MAX_COMMIT_BYTES}")
    doc = parse_json(data, "commit")
    if not isinstance(doc, dict) or tuple(doc) != ("header", "events") or not isinstance(doc["events"], list):
        raise ValueError('commit must be {"header":...,"events":[...]}')
    check_header(doc["header"])
    for i, ev in enumerate(doc["events"]):
        check_event(ev, doc["header"]["first_seq"] + i)
    if canonical(doc).encode("utf-8", "surrogatepass") != data:
        raise ValueError("commit bytes are not in canonical form")
    return doc["header"], doc["events"]


# ---------------------------------------------------------------- §3–§5: content and keys

def address(dialogue: str, ev: dict[str, Any], key_version: int) -> bytes:
    """§4's associated data; a StatusChanged's kind comes from its entity id's letter (§2)."""
    body, template = ev["body"], EVENT_TYPES[ev["type"]][2]
    if ev["type"] == "StatusChanged":
        body = {**body, "kind": KINDS[body["entity"][0]]}
    entity = template.format(**body)
    return f"dialogue:{dialogue}/event:{ev['seq']}/entity:{entity}/key:{key_version}".encode()


def unwrap_local(master: bytes, wrapped_json: str, dialogue: str, version: int) -> bytes:
    """A data key of provider `local` (§5). LookupError: another provider; ValueError: bad."""
    wrapped = parse_json(wrapped_json.encode(), "wrapped key")
    if not isinstance(wrapped, dict) or tuple(wrapped) != ("provider", "bytes"):
        raise ValueError(f'wrapped key version {version} is not {{"provider":P,"bytes":B64}}')
    if wrapped["provider"] != "local":
        raise LookupError(f"provider {wrapped['provider']!r} cannot be unwrapped here")
    raw = b64(wrapped["bytes"], length=72)
    ad = f"dlg-wrap/v1/dialogue:{dialogue}/key:{version}".encode()
    try:
        return bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(raw[24:], ad, raw[:24], master)
    except CryptoError:
        raise ValueError(f"data key version {version} does not unwrap under this master key") from None


def fingerprint(data_key: bytes, request: bytes) -> str:
    derived = blake3.blake3(data_key, derive_key_context=FINGERPRINT_CONTEXT).digest()
    return blake3.blake3(request, key=derived).hexdigest()


def check_content(plain: bytes, ev: dict[str, Any], n: int) -> None:
    """§2, §3: a non-empty object of the type's content members (strings, but two)."""
    try:
        content = parse_json(plain, "content")
    except ValueError as e:
        fail("bad_ciphertext", n, f"event {ev['seq']}: {e}")
    allowed = EVENT_TYPES[ev["type"]][1]
    if not isinstance(content, dict) or not content or not set(content) <= set(allowed):
        fail("bad_ciphertext", n, f"event {ev['seq']}: content must be a non-empty object of {allowed}")
    for name, value in content.items():
        ok = {"parameters": isinstance(value, dict),
              "reasons": isinstance(value, dict) and bool(value)
              and all(isinstance(r, str) for r in value.values()),
              "conditions": isinstance(value, list) and all(isinstance(c, str) for c in value)}
        if not ok.get(name, isinstance(value, str)):
            fail("bad_ciphertext", n, f"event {ev['seq']}: content member {name} has the wrong type")


@dataclass
class Keyring:
    """Data keys by version: given raw, or unwrapped from the keys table on first use."""
    dialogue: str
    master: bytes | None = None
    wrapped: dict[int, str] = field(default_factory=dict)
    keys: dict[int, bytes] = field(default_factory=dict)
    unavailable: dict[int, str] = field(default_factory=dict)

    def get(self, version: int, n: int | None) -> bytes | None:
        if version not in self.keys and version not in self.unavailable:
            if version not in self.wrapped or self.master is None:
                self.unavailable[version] = "no wrapped key (shredded)"
            else:
                try:
                    wrapped = self.wrapped[version]
                    self.keys[version] = unwrap_local(self.master, wrapped, self.dialogue, version)
                except LookupError as e:
                    self.unavailable[version] = str(e)
                except ValueError as e:
                    fail("bad_ciphertext", n, str(e))
        return self.keys.get(version)


# ---------------------------------------------------------------- §6, §7: chain and signatures

@dataclass
class Row:
    number: int                # from the storage key C#{n:010}, or the file name
    data: bytes
    hash: bytes | None         # None: nothing recorded (the format 1 fixtures)
    signature: bytes | None


@dataclass
class Result:
    dialogue: str
    hashes: list[bytes] = field(default_factory=list)
    headers: list[dict[str, Any]] = field(default_factory=list)
    events: int = 0
    signers: list[str] = field(default_factory=list)
    unsigned: int = 0
    opened: dict[int, bytes] = field(default_factory=dict)  # seq -> content
    unopened: int = 0


def genesis(dialogue: str) -> bytes:
    return blake3.blake3(GENESIS_PREFIX + dialogue.encode()).digest()


def verify_signature(key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        VerifyKey(key).verify(message, signature)
        return True
    except (BadSignatureError, ValueError, CryptoError):
        return False


def verify_chain(dialogue: str, rows: list[Row], trusted: set[bytes] | None,
                 keyring: Keyring | None) -> Result:
    """§6 steps 1–5 over rows in storage-key order; raises Failure at the first bad commit."""
    res = Result(dialogue)
    prev, next_seq, seen_v2 = genesis(dialogue), 1, False
    for n, row in enumerate(rows, 1):
        if row.number != n:
            kind = "missing_commit" if row.number > n else "out_of_place"
            fail(kind, n, f"storage key C#{row.number:010} where C#{n:010} belongs")
        h = blake3.blake3(prev + row.data).digest()
        if row.hash is not None and row.hash != h:
            fail("broken_link", n, f"recorded hash differs from the recomputed {h.hex()}")
        try:
            header, events = parse_commit(row.data)
        except ValueError as e:
            fail("malformed", n, str(e))
        checks = (("dialogue", dialogue, "wrong_dialogue"), ("commit", n, "out_of_place"),
                  ("first_seq", next_seq, "sequence_break"))
        for name, want, kind in checks:
            if header[name] != want:
                fail(kind, n, f"header.{name} is {header[name]!r}, expected {want!r}")
        if header["format"] == 2:
            seen_v2 = True
            check_signed(n, header["signer"], h, row.signature, trusted, res)
        elif row.signature is not None:
            fail("unexpected_signature", n, "format 1 commit with a stored signature")
        elif seen_v2:
            fail("downgrade", n, "format 1 commit after a format 2 commit")
        else:
            res.unsigned += 1
        if keyring is not None:
            open_events(dialogue, n, header["key_version"], events, keyring, res)
        res.hashes.append(h)
        res.headers.append(header)
        res.events += len(events)
        prev, next_seq = h, next_seq + len(events)
    return res


def check_signed(n: int, signer: str, h: bytes, sig: bytes | None, trusted: set[bytes] | None,
                 res: Result) -> None:
    if sig is None:
        fail("missing_signature", n, "format 2 commit without a signature")
    if len(sig) != 64 or not verify_signature(bytes.fromhex(signer), SIGNATURE_PREFIX + h, sig):
        fail("bad_signature", n, f"signature does not verify under {signer}")
    if trusted is not None and bytes.fromhex(signer) not in trusted:
        fail("untrusted_signer", n, f"signed by {signer}, which is not trusted")
    if signer not in res.signers:
        res.signers.append(signer)


def open_events(dialogue: str, n: int, version: int, events: list[dict[str, Any]], keyring: Keyring,
                res: Result) -> None:
    for ev in (e for e in events if "sealed" in e):
        key = keyring.get(version, n)
        if key is None:
            res.unopened += 1
            continue
        nonce, ct = b64(ev["sealed"]["nonce"]), b64(ev["sealed"]["ct"])
        try:
            ad = address(dialogue, ev, version)
            plain = bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(ct, ad, nonce, key)
        except CryptoError:
            fail("bad_ciphertext", n, f"event {ev['seq']}: sealed content does not open")
        check_content(plain, ev, n)
        res.opened[ev["seq"]] = plain


# ---------------------------------------------------------------- §7, §8: key forms and checkpoints

def key_id(key: bytes) -> bytes:
    return hashlib.sha256(NOTE_KEY_NAME.encode() + b"\n\x01" + key).digest()[:4]


def parse_trusted(value: str) -> bytes:
    """A pinned key: 64 hex digits, or §7's verifier key `dlg-ledger+{id}+{base64(0x01 ‖ key)}`."""
    if HEX32.fullmatch(value):
        return bytes.fromhex(value)
    name, key_hex, key_b64 = (value.split("+", 2) + ["", ""])[:3]  # base64 itself may hold '+'
    raw = base64.b64decode(key_b64, validate=True) if name == NOTE_KEY_NAME else b""
    if len(raw) != 33 or raw[0] != 1 or key_id(raw[1:]).hex() != key_hex:
        raise argparse.ArgumentTypeError(f"not a key (64 hex digits or {NOTE_KEY_NAME}+ID+B64): {value}")
    return raw[1:]


def read_checkpoint(note: bytes, keys: list[bytes]) -> tuple[str, int, bytes]:
    """A C2SP signed note (§8) → (dialogue, commit, hash), if a line of `keys` verifies it."""
    try:
        s = note.decode("utf-8")
        split = s.rindex("\n\n")
    except ValueError:
        fail("bad_checkpoint", None, "not a signed note (UTF-8 text, blank line, signature lines)")
    text, verified = s[:split + 1], False
    for line in s[split + 2:].removesuffix("\n").split("\n"):
        m = re.fullmatch(r"\u2014 (\S+) (\S+)", line)
        if not m:
            fail("bad_checkpoint", None, f"malformed signature line {line!r}")
        try:
            raw = b64(m[2], minimum=5)
        except ValueError as e:
            fail("bad_checkpoint", None, f"signature line: {e}")
        verified |= m[1] == NOTE_KEY_NAME and len(raw) == 68 and any(  # others: witnesses, ignored
            key_id(k) == raw[:4] and verify_signature(k, text.encode(), raw[4:]) for k in keys)
    if not verified or not s.endswith("\n"):
        fail("bad_checkpoint", None, "no signature of a trusted key verifies the checkpoint")
    lines = text[:-1].split("\n")
    if len(lines) != 3 or not lines[0].startswith("dlg-ledger/") or \
            not re.fullmatch(r"[1-9][0-9]*", lines[1]):
        fail("bad_checkpoint", None, "checkpoint text must be dlg-ledger/{dialogue}, {commit}, {hash}")
    try:
        return lines[0].removeprefix("dlg-ledger/"), int(lines[1]), b64(lines[2], length=32)
    except ValueError as e:
        fail("bad_checkpoint", None, f"checkpoint hash: {e}")


def compare_checkpoint(checkpoint: tuple[str, int, bytes], res: Result) -> dict[str, Any]:
    dialogue, commit, digest = checkpoint
    if dialogue != res.dialogue:
        fail("bad_checkpoint", None, f"the checkpoint is of dialogue {dialogue}")
    if commit > len(res.hashes):
        fail("rolled_back", commit, f"the ledger ends at commit {len(res.hashes)}, before the checkpoint")
    if res.hashes[commit - 1] != digest:
        fail("forked", commit, f"the ledger holds another commit {commit} than the checkpoint")
    return {"commit": commit, "ok": True}


# ---------------------------------------------------------------- the test vectors (§11)

def read_hex_lines(path: Path) -> list[bytes | None]:
    """One value a line; an empty line or a missing line is no value."""
    if not path.exists():
        return []
    return [bytes.fromhex(x) if x.strip() else None for x in path.read_text().split("\n")]


def load_dir_rows(d: Path, hashes: list[bytes | None], sigs: list[bytes | None]) -> list[Row]:
    numbers = sorted(int(m[1]) for p in d.iterdir() if (m := re.fullmatch(r"commit-([0-9]+)\.json", p.name)))
    return [Row(n, (d / f"commit-{n}.json").read_bytes(), hashes[i] if i < len(hashes) else None,
                sigs[i] if i < len(sigs) else None) for i, n in enumerate(numbers)]


def dialogue_of(rows: list[Row]) -> str:
    try:
        return parse_json(rows[0].data, "commit 1")["header"]["dialogue"]
    except (ValueError, TypeError, KeyError, IndexError):
        fail("malformed", 1, "cannot read the dialogue of commit 1")


def run_vectors(d: Path) -> dict[str, Any]:
    rows = load_dir_rows(d, read_hex_lines(d / "hashes.hex"), read_hex_lines(d / "signatures.hex"))
    if not rows:
        fail("missing_dialogue", None, f"no commit-N.json in {d}")
    if any(row.hash is None for row in rows):
        fail("broken_link", None, "hashes.hex does not give a hash for every commit")
    dialogue = dialogue_of(rows)
    master = bytes.fromhex((d / "master.key.hex").read_text().strip())
    keyring = Keyring(dialogue, master, {1: (d / "wrapped-key.json").read_text()})
    res = verify_chain(dialogue, rows, None, keyring)
    if keyring.get(1, None) != bytes.fromhex((d / "data.key.hex").read_text().strip()) or res.unopened:
        fail("bad_ciphertext", None, "wrapped-key.json does not unwrap to data.key.hex")
    requests = sorted(d.glob("request-*.json"))
    for req in requests:
        n = int(req.stem.removeprefix("request-"))
        if not 1 <= n <= len(res.headers):
            fail("malformed", None, f"{req.name} names no commit")
        header = res.headers[n - 1]
        if fingerprint(keyring.get(header["key_version"], n) or b"", req.read_bytes()) != header["request"]:
            fail("bad_ciphertext", n, f"the fingerprint of {req.name} differs from header.request")
    format1 = run_format1(d.parent)
    if not (d / "checkpoint.txt").exists():
        fail("bad_checkpoint", None, "checkpoint.txt is missing")
    checkpoint = read_checkpoint((d / "checkpoint.txt").read_bytes(), [bytes.fromhex(s) for s in res.signers])
    return {"ok": True, "dialogue": dialogue, "commits": len(res.hashes), "events": res.events,
            "signers": res.signers, "unsigned_commits": res.unsigned, "sealed_fields_opened": len(res.opened),
            "fingerprints_checked": len(requests), "checkpoint": compare_checkpoint(checkpoint, res),
            "format1": format1}


def run_format1(d: Path) -> dict[str, Any]:
    """The format 1 fixtures: unsigned commits, no recorded hashes, the raw data key in key.hex."""
    rows = load_dir_rows(d, [], [])
    dialogue = dialogue_of(rows)
    keyring = Keyring(dialogue, keys={1: bytes.fromhex((d / "key.hex").read_text().strip())})
    res = verify_chain(dialogue, rows, None, keyring)
    pinned = [("6b9721a6", "1560f62e"), ("f0d5741b", "0ade9926")]  # §11 gives them abbreviated only
    for n, (h, (head, tail)) in enumerate(zip(res.hashes, pinned), 1):
        if not (h.hex().startswith(head) and h.hex().endswith(tail)):
            fail("broken_link", n, f"format 1 hash({n}) {h.hex()} is not {head}…{tail}")
    if len(rows) != len(pinned) or res.unsigned != len(rows) or res.unopened:
        fail("malformed", None, "the format 1 fixtures are not two unsigned commits with content")
    return {"commits": len(rows), "events": res.events, "sealed_fields_opened": len(res.opened),
            "hashes": [h.hex() for h in res.hashes]}


# ---------------------------------------------------------------- a SQLite ledger (§9)

def read_ledger(db: str, dialogue: str) -> tuple[list[Row], dict[int, str]]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, isolation_level=None)
    try:
        conn.execute("BEGIN")  # one snapshot of both tables
        columns = {r[1] for r in conn.execute("PRAGMA table_info(events)")}
        sig = "signature" if "signature" in columns else "NULL"  # a store not yet opened by format 2
        pk = "D#" + dialogue
        events = conn.execute(f"SELECT sk, commit_bytes, hash, {sig} FROM events WHERE pk = ? ORDER BY sk",
                              (pk,)).fetchall()
        keys = conn.execute("SELECT sk, wrapped FROM keys WHERE pk = ? ORDER BY sk", (pk,)).fetchall()
    finally:
        conn.close()
    rows, wrapped = [], {}
    for i, (sk, data, h, s) in enumerate(events, 1):
        if not (m := re.fullmatch(r"C#([0-9]{10})", str(sk))):
            fail("malformed", i, f"storage key {sk!r} is not C#{{commit:010}}")
        data = data.encode() if isinstance(data, str) else bytes(data or b"")
        rows.append(Row(int(m[1]), data, bytes(h or b""), None if s is None else bytes(s)))
    for sk, w in keys:
        if not (m := re.fullmatch(r"K#([0-9]{10})", str(sk))):
            fail("bad_ciphertext", None, f"key storage key {sk!r} is not K#{{version:010}}")
        wrapped[int(m[1])] = w.decode("utf-8", "replace") if isinstance(w, bytes) else str(w)
    return rows, wrapped


def run_sqlite(args: argparse.Namespace) -> dict[str, Any]:
    rows, wrapped = read_ledger(args.db, args.dialogue)
    if not rows:
        fail("missing_dialogue", None, f"the ledger holds no dialogue {args.dialogue}")
    trusted = set(args.trust) if args.trust else None
    keyring = Keyring(args.dialogue, args.master_key, wrapped) if args.master_key else None
    res = verify_chain(args.dialogue, rows, trusted, keyring)
    for version in wrapped if keyring else ():  # every key version must unwrap, used or not
        keyring.get(version, None)
    checkpoint = None
    if args.checkpoint:
        keys = list(trusted) if trusted else [bytes.fromhex(s) for s in res.signers]
        checkpoint = compare_checkpoint(read_checkpoint(Path(args.checkpoint).read_bytes(), keys), res)
    out = {"ok": True, "dialogue": args.dialogue, "commits": len(res.hashes), "events": res.events,
           "head": res.hashes[-1].hex(), "signers": res.signers, "unsigned_commits": res.unsigned,
           "content_checked": keyring is not None and res.unopened == 0,
           "sealed_fields_opened": len(res.opened), "checkpoint": checkpoint}
    if keyring and keyring.unavailable:  # shredded or KMS-wrapped keys: content not checked
        out |= {"sealed_fields_unopened": res.unopened, "keys_unavailable": keyring.unavailable}
    return out


def master_key_file(path: str) -> bytes:
    data = Path(path).read_bytes()
    if len(data) != 32:
        raise argparse.ArgumentTypeError(f"{path}: a master key file holds 32 raw bytes, not {len(data)}")
    return data


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="Clean-room verifier of docs/format.md.")
    sub = parser.add_subparsers(dest="mode", required=True)
    vectors = sub.add_parser("vectors", help="check the test vectors of §11")
    vectors.add_argument("dir", type=Path)
    sq = sub.add_parser("sqlite", help="verify one dialogue of a SQLite ledger")
    sq.add_argument("db")
    sq.add_argument("--dialogue", required=True)
    sq.add_argument("--master-key", type=master_key_file, help="file of the raw 32-byte master key")
    sq.add_argument("--trust", type=parse_trusted, action="append", help="a pinned signing key")
    sq.add_argument("--checkpoint", help="a signed checkpoint (§8) to compare with")
    args = parser.parse_args(argv)
    try:
        out = run_vectors(args.dir) if args.mode == "vectors" else run_sqlite(args)
    except Failure as f:
        print(json.dumps({"ok": False, "commit": f.commit, "kind": f.kind, "message": f.message}))
        return 1
    except (OSError, sqlite3.Error, ValueError) as e:  # unreadable input: no verdict
        print(f"verify.py: {e}", file=sys.stderr)
        return 2
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
