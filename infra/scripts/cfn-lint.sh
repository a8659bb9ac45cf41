#!/usr/bin/env bash
# Lints infra/template.yaml with cfn-lint from PyPI (pinned in infra/requirements-cfn-lint.txt),
# installed into a virtual environment in the ignored folder infra/.tools/. Needs Python 3.9+ with
# venv. Exits non-zero on any finding, warnings and informational ones included: the template is
# kept at zero findings (rules it must ignore are listed, with the reason, in its Metadata).
#
#   cfn-lint.sh                  lint infra/template.yaml
#   cfn-lint.sh FILE...          lint other templates
#   cfn-lint.sh install          install (idempotent); prints the folder holding the binary
set -euo pipefail
# shellcheck source=pip-tool.sh
source "$(dirname "$0")/pip-tool.sh"

infra="$(cd "$(dirname "$0")/.." && pwd)"
venv="$infra/.tools/cfn-lint"
requirements="$infra/requirements-cfn-lint.txt"

die() { echo "cfn-lint: $*" >&2; exit 1; }

install() {
  pip_tool_install cfn-lint "$requirements" cfn-lint
}

if [ "${1:-}" = install ]; then
  install
  echo "$venv/bin"
  exit 0
fi

install
if [ "$#" -eq 0 ]; then
  set -- "$infra/template.yaml"
fi
# cfn-lint's exit code is a bit mask (2 errors, 4 warnings, 8 informational); any bit fails here.
# --include-checks I turns on the informational rules too, so nothing is left unreported.
status=0
"$venv/bin/cfn-lint" --include-checks I --format parseable -- "$@" || status=$?
if [ "$status" -ne 0 ]; then
  echo "cfn-lint: findings above (exit code $status)" >&2
  exit "$status"
fi
echo "cfn-lint $("$venv/bin/cfn-lint" --version | awk '{print $NF}'): no findings in $*"
