#!/usr/bin/env bash
# A throwaway PostgreSQL for the benchmarks' comparison (the "entities + refs tables with a
# recursive CTE" design people propose for graph queries). Installs the Debian package when
# PostgreSQL is missing (root only), creates a cluster in a temp directory, serves it on a
# loopback port with trust authentication for the user `dlg`, and removes it on exit.
#
#   postgres-local.sh install                          install (idempotent)
#   postgres-local.sh serve --port P [--parent PID]    run in the foreground; with --parent,
#                                                      exit when that process is gone
set -euo pipefail

die() { echo "postgres-local: $*" >&2; exit 1; }

bindir() {
  local dir
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)"
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir" || true
}

install() {
  [ -n "$(bindir)" ] && return 0
  [ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed: run as root, or apt-get install postgresql"
  command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and there is no apt-get: install PostgreSQL 13+"
  # A fresh machine may have empty package lists: refresh them once if the first try fails.
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >&2 \
    || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql >&2; } \
    || die "apt-get could not install postgresql (is the Debian mirror reachable?)"
  [ -n "$(bindir)" ] || die "the postgresql package installed no initdb"
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
  local bin
  bin="$(bindir)"
  data="$(mktemp -d -t dlg-postgres.XXXXXX)"
  # PostgreSQL refuses to run as root: run it as the `postgres` user then.
  as=()
  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the postgres user (created by the package)"
    chown postgres "$data"
    as=(runuser -u postgres --)
  fi
  "${as[@]}" "$bin/initdb" -D "$data/db" -U dlg --auth=trust --no-sync -E UTF8 >/dev/null \
    || die "initdb failed in $data"
  "${as[@]}" "$bin/postgres" -D "$data/db" -p "$port" -h 127.0.0.1 -k "$data" \
    -c fsync=on -c synchronous_commit=on -c shared_buffers=256MB &
  server_pid=$!
  trap 'kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null; rm -rf "$data"; exit 0' TERM INT HUP EXIT
  if [ -n "$parent" ]; then
    while kill -0 "$parent" 2>/dev/null && kill -0 "$server_pid" 2>/dev/null; do
      sleep 0.5
    done
  else
    wait "$server_pid"
  fi
}

case "${1:-}" in
  install) install ;;
  serve) shift; serve "$@" ;;
  *) die "usage: postgres-local.sh install | serve --port P [--parent PID]" ;;
esac
