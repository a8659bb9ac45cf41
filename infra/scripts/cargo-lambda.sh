#!/usr/bin/env bash
# cargo-lambda from PyPI (pinned in infra/requirements-lambda.txt), installed into a virtual
# environment in the ignored folder infra/.tools/. Needs Python 3.9+ with venv.
#
#   cargo-lambda.sh install          install (idempotent); prints the folder holding the binary
#   cargo-lambda.sh ARGS...          run `cargo lambda ARGS...` with that binary on PATH, e.g.
#                                    cargo-lambda.sh build --release -p dlg-projector
set -euo pipefail
# shellcheck source=pip-tool.sh
source "$(dirname "$0")/pip-tool.sh"

infra="$(cd "$(dirname "$0")/.." && pwd)"
venv="$infra/.tools/cargo-lambda"
requirements="$infra/requirements-lambda.txt"

die() { echo "cargo-lambda: $*" >&2; exit 1; }

install() {
  pip_tool_install cargo-lambda "$requirements" cargo-lambda
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
