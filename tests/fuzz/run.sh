#!/usr/bin/env bash
# Fuzzes the ledger's decoders with cargo-fuzz (libFuzzer): stored commits, command scripts
# (round registrations), the importer's archive parsers and DynamoDB Streams records.
#
#   tests/fuzz/run.sh [SECONDS] [TARGET...]     each target for SECONDS (default 60)
#
# cargo-fuzz (pinned below) is installed into the ignored folder infra/.tools/; the targets are
# built with the nightly toolchain (libFuzzer's instrumentation needs it) into target/fuzz/.
# Seeds are generated fresh into target/fuzz/seeds/ from the generated dialogues and, when the
# shared fixtures sit beside the repository, from the archives in them. libFuzzer runs with a
# malloc limit, so an input that makes the code allocate without bound is reported as a crash.
# A crash leaves its input in target/fuzz/artifacts/TARGET/; turn it into a regression test.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
version=0.13.2
tools="$root/infra/.tools/cargo-fuzz"
work="$root/target/fuzz"
seconds="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(commit round_registration archive_markers stream_record)

die() { echo "fuzz: $*" >&2; exit 1; }

[[ "$seconds" =~ ^[0-9]+$ ]] || die "SECONDS must be a whole number, got '$seconds'"
cargo +nightly --version >/dev/null 2>&1 ||
  die "the nightly toolchain is missing; install it with: rustup toolchain install nightly"

if ! "$tools/bin/cargo-fuzz" --version 2>/dev/null | grep -qx "cargo-fuzz $version"; then
  echo "fuzz: installing cargo-fuzz $version into infra/.tools/" >&2
  cargo install --quiet --locked --root "$tools" cargo-fuzz --version "$version" ||
    die "cargo install cargo-fuzz $version failed (needs crates.io)"
fi
export PATH="$tools/bin:$PATH"

# The shared archives (DLG_FIXTURES, as the tests find them) seed the parsers when present.
archives=""
if [ -n "${DLG_FIXTURES:-}" ]; then
  case "$DLG_FIXTURES" in /*) archives="$DLG_FIXTURES" ;; *) archives="$root/$DLG_FIXTURES" ;; esac
  archives="$archives/blue-dialogues"
  [ -d "$archives" ] || die "DLG_FIXTURES names no folder blue-dialogues: $archives"
else
  echo "fuzz: DLG_FIXTURES is not set; seeding without the shared archives" >&2
fi
rm -rf "$work/seeds"
cargo run --quiet --example fuzz_seeds -- "$work/seeds" ${archives:+"$archives"}

fuzz() {
  cargo +nightly fuzz "$1" --fuzz-dir tests/fuzz --target-dir "$work/build" --codegen-units 16 --debug-assertions "${@:2}"
}
echo "== build the fuzz targets (nightly, instrumented)"
mkdir -p "$work"
fuzz build >"$work/build.log" 2>&1 || { tail -n 40 "$work/build.log" >&2; die "the build failed; see $work/build.log"; }
for target in "${targets[@]}"; do
  corpus="$work/corpus/$target"
  artifacts="$work/artifacts/$target"
  log="$work/$target.log"
  mkdir -p "$corpus" "$artifacts" "$work/seeds/$target"
  echo "== fuzz $target for ${seconds}s"
  dict=()
  [ -f "tests/fuzz/dict/$target.dict" ] && dict=(-dict="tests/fuzz/dict/$target.dict")
  status=0
  fuzz run "$target" "$corpus" "$work/seeds/$target" -- "${dict[@]}" \
    -max_total_time="$seconds" -malloc_limit_mb=512 -rss_limit_mb=2048 \
    -timeout=10 -print_final_stats=1 -artifact_prefix="$artifacts/" >"$log" 2>&1 || status=$?
  grep -E '^(INFO: seed corpus|#[0-9]+ +DONE|stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb)' "$log" || true
  if [ "$status" -ne 0 ]; then
    tail -n 40 "$log" >&2
    die "$target failed (exit $status); its input is in $artifacts/ and the whole log in $log"
  fi
done
