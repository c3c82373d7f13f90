#!/usr/bin/env bash
# Set up what nasbook needs on this machine; quick when everything is already there.
#  - a virtual environment outside the clone, keyed by a hash of pyproject.toml, so that it
#    survives between clean clones (CI) and is rebuilt when the dependencies change;
#  - nasbook installed into it (editable, re-pointed when the clone moves);
#  - Debian's graphviz for the `dot` binary (cell drawings) and Debian's chromium for the
#    real-browser notebook test (driven by playwright; ~30 s to install).
# Prints the venv's bin folder on its last line.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${PYTHON:-python3}"
# keyed by the dependency lists only, so that tool settings in pyproject.toml rebuild nothing
key="$("$py" -c 'import sys, tomllib, json; p = tomllib.load(open(sys.argv[1], "rb"))["project"]
print(json.dumps([p["dependencies"], p["optional-dependencies"]]))' "$repo/pyproject.toml" | sha256sum | cut -c1-12)"
venv="${NASBOOK_VENV:-$HOME/.cache/nasbook/venv-$key}"

if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.deps-installed" ]; then
  echo "setup: creating $venv (torch + jupyterlab: about 2 minutes the first time)" >&2
  rm -rf "$venv"
  "$py" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2 || true
  # Dependencies first (plain pip: it sees the machine's local wheel mirrors), then nasbook.
  "$venv/bin/pip" install -q -e "$repo[dev]" >&2
  # The NAS-Bench-201 authors' package, only as a test reference (differential tests of the NB201
  # cell and network); --no-deps because it declares no pins we want pulled in.
  "$venv/bin/pip" install -q --no-deps xautodl==1.0.0 >&2
  touch "$venv/.deps-installed"
fi
stamp="$venv/.nasbook-at-$(echo "$repo" | sha256sum | cut -c1-12)"
if [ ! -f "$stamp" ] || ! "$venv/bin/python" -c "import nasbook, sys; sys.exit(0 if nasbook.__file__.startswith('$repo/') else 1)" 2>/dev/null; then
  "$venv/bin/pip" install -q --no-deps -e "$repo" >&2
  rm -f "$venv"/.nasbook-at-*
  touch "$stamp"
fi

apt_install() {  # apt_install BINARY PACKAGE
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "setup: installing Debian's $2 for the $1 binary" >&2
  local sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  ($sudo apt-get update -qq && $sudo apt-get install -y -qq "$2") >&2 || \
    echo "setup: could not install $2 (apt-get install $2); tests that need $1 will fail" >&2
}
apt_install dot graphviz
apt_install chromium chromium
echo "$venv/bin"
