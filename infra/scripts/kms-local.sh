#!/usr/bin/env bash
# A local KMS-compatible endpoint for development and tests: moto's server from PyPI (pinned in
# infra/requirements-moto.txt), installed into a virtual environment in the ignored folder
# infra/.tools/moto. Needs Python 3.9+ with venv. It keeps keys in memory only.
#
#   kms-local.sh install                      install (idempotent)
#   kms-local.sh serve --port P [--parent PID]
#                                             run in the foreground on 127.0.0.1:P; with --parent,
#                                             exit when that process is gone (the test harness)
#   kms-local.sh create-key ENDPOINT          create a symmetric key there; prints its ARN
set -euo pipefail
# shellcheck source=pip-tool.sh
source "$(dirname "$0")/pip-tool.sh"

infra="$(cd "$(dirname "$0")/.." && pwd)"
venv="$infra/.tools/moto"
requirements="$infra/requirements-moto.txt"

die() { echo "kms-local: $*" >&2; exit 1; }

install() {
  pip_tool_install moto "$requirements" moto_server
}

serve() {
  local port="" parent=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port="$2"; shift 2 ;;
      --parent) parent="$2"; shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  [ -n "$port" ] || die "serve needs --port"
  install
  "$venv/bin/moto_server" -H 127.0.0.1 -p "$port" &
  # Global, not local: the EXIT trap runs after this function has returned.
  server_pid=$!
  trap 'kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; exit 0' TERM INT HUP EXIT
  if [ -n "$parent" ]; then
    while kill -0 "$parent" 2>/dev/null && kill -0 "$server_pid" 2>/dev/null; do
      sleep 0.5
    done
  else
    wait "$server_pid"
  fi
}

create_key() {
  local endpoint="${1:-}"
  [ -n "$endpoint" ] || die "create-key needs the endpoint, e.g. http://127.0.0.1:4566"
  install
  ENDPOINT="$endpoint" "$venv/bin/python" - <<'PY'
import os, boto3
kms = boto3.client("kms", endpoint_url=os.environ["ENDPOINT"], region_name="us-east-1",
                   aws_access_key_id="local", aws_secret_access_key="local")
print(kms.create_key(Description="dlg local master key")["KeyMetadata"]["Arn"])
PY
}

case "${1:-}" in
  install) install ;;
  serve) shift; serve "$@" ;;
  create-key) shift; create_key "$@" ;;
  *) die "usage: kms-local.sh install | serve --port P [--parent PID] | create-key ENDPOINT" ;;
esac
