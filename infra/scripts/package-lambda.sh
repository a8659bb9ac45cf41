#!/usr/bin/env bash
# Packages the projector Lambda (the `bootstrap` binary of dlg-projector) as the zip the template's
# ProjectorFunction points at: infra/dist/projector.zip (ignored). Builds with cargo-lambda
# (infra/scripts/cargo-lambda.sh installs it from PyPI) for Lambda's provided.al2023 runtime.
#
#   package-lambda.sh            x86_64 (the template's default Architecture)
#   package-lambda.sh arm64      arm64 (deploy with Architecture=arm64); needs the
#                                aarch64-unknown-linux-gnu Rust target (rustup target add ...)
#
# ARCH=arm64 in the environment does the same as the argument. Prints the zip's path and size.
set -euo pipefail

infra="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$infra/.." && pwd)"

die() { echo "package-lambda: $*" >&2; exit 1; }

arch="${1:-${ARCH:-x86_64}}"
case "$arch" in
  x86_64|amd64) arch=x86_64; arch_flags=() ;;
  arm64|aarch64) arch=arm64; arch_flags=(--arm64) ;;
  *) die "unknown architecture \`$arch\` (x86_64 or arm64)" ;;
esac

# cargo-lambda writes the zip under the target directory; honour CARGO_TARGET_DIR like cargo does.
target_dir="${CARGO_TARGET_DIR:-$root/target}"
case "$target_dir" in /*) ;; *) target_dir="$root/$target_dir" ;; esac
built="$target_dir/lambda/bootstrap/bootstrap.zip"
dist="$infra/dist"
zip="$dist/projector.zip"

cd "$root"
# A stale zip from an earlier build must not pass for this one.
rm -f "$built"
"$infra/scripts/cargo-lambda.sh" build --release -p dlg-projector --bin bootstrap \
  --output-format zip ${arch_flags[@]+"${arch_flags[@]}"}
[ -f "$built" ] || die "cargo lambda reported success but wrote no $built"

mkdir -p "$dist"
cp "$built" "$zip"
size="$(wc -c <"$zip" | tr -d ' ')"
echo "$zip ($arch, $size bytes)"
