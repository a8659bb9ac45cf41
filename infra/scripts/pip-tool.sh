# Sourced by the scripts that run a tool from PyPI (cargo-lambda.sh, cfn-lint.sh, kms-local.sh):
# installs pinned requirements into a virtual environment under the ignored folder infra/.tools/.
#
#   pip_tool_install NAME REQUIREMENTS BINARY
#     installs REQUIREMENTS into infra/.tools/NAME unless that environment already has BINARY
#     and was built from the same REQUIREMENTS; prints nothing on success. Needs Python 3.9+
#     with venv. Exits with a message naming the fix on failure.

pip_tool_install() {
  local name="$1" requirements="$2" binary="$3"
  local venv
  venv="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/.tools/$name"
  fail() { echo "$name: $*" >&2; exit 1; }
  command -v python3 >/dev/null 2>&1 || fail "python3 is not installed (e.g. apt-get install python3 python3-venv)"
  # Reinstall only when the pinned requirements change.
  if [ -x "$venv/bin/$binary" ] && cmp -s "$requirements" "$venv/requirements.txt"; then
    return 0
  fi
  rm -rf "$venv"
  python3 -m venv "$venv" >&2 || fail "cannot create a virtual environment in $venv (install python3-venv)"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements" >&2 \
    || fail "pip could not install $requirements (is PyPI reachable?)"
  [ -x "$venv/bin/$binary" ] || fail "the packages of $requirements installed no $binary"
  cp "$requirements" "$venv/requirements.txt"
}
