#!/usr/bin/env bash
# cargo-lambda from PyPI (pinned in infra/requirements-lambda.txt), installed into a virtual
# environment in the ignored folder infra/.tools/. Needs Python 3.9+ with venv.
#
#   cargo-lambda.sh install          install (idempotent); prints the folder holding the binary
#   cargo-lambda.sh ARGS...          run `cargo lambda ARGS...` with that binary on PATH, e.g.
#                                    cargo-lambda.sh build --release -p dlg-projector
set -euo pipefail

infra="$(cd "$(dirname "$0")/.." && pwd)"
venv="$infra/.tools/cargo-lambda"
requirements="$infra/requirements-lambda.txt"

die() { echo "cargo-lambda: $*" >&2; exit 1; }

install() {
  command -v python3 >/dev/null 2>&1 || die "python3 is not installed (e.g. apt-get install python3 python3-venv)"
  # Reinstall only when the pinned requirements change.
  if [ -x "$venv/bin/cargo-lambda" ] && cmp -s "$requirements" "$venv/requirements.txt"; then
    return 0
  fi
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || die "cannot create a virtual environment in $venv (install python3-venv)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2 \
    || die "pip could not install $requirements (is PyPI reachable?)"
  [ -x "$venv/bin/cargo-lambda" ] || die "the cargo-lambda package installed no cargo-lambda binary"
  cp "$requirements" "$venv/requirements.txt"
}

case "${1:-}" in
  install)
    install
    echo "$venv/bin"
    ;;
  "")
    die "usage: cargo-lambda.sh install | cargo-lambda.sh ARGS..."
    ;;
  *)
    install
    PATH="$venv/bin:$PATH" exec cargo lambda "$@"
    ;;
esac
