#!/usr/bin/env bash
# Set up what nasbook needs on this machine; quick when everything is already there.
#  - a virtual environment outside the clone, keyed by a hash of pyproject.toml, so that it
#    survives between clean clones (CI) and is rebuilt when the dependencies change;
#  - nasbook installed into it (editable, re-pointed when the clone moves);
#  - Debian's graphviz for the `dot` binary (cell drawings).
# Prints the venv's bin folder on its last line.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
py="${PYTHON:-python3}"
key="$(cat "$repo/pyproject.toml" | sha256sum | cut -c1-12)"
venv="${NASBOOK_VENV:-$HOME/.cache/nasbook/venv-$key}"

if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.deps-installed" ]; then
  echo "setup: creating $venv (torch + jupyterlab: about 2 minutes the first time)" >&2
  rm -rf "$venv"
  "$py" -m venv "$venv"
  "$venv/bin/pip" install -q --upgrade pip >&2 || true
  # Dependencies first (plain pip: it sees the machine's local wheel mirrors), then nasbook.
  "$venv/bin/pip" install -q -e "$repo[dev]" >&2
  touch "$venv/.deps-installed"
fi
stamp="$venv/.nasbook-at-$(echo "$repo" | sha256sum | cut -c1-12)"
if [ ! -f "$stamp" ] || ! "$venv/bin/python" -c "import nasbook, sys; sys.exit(0 if nasbook.__file__.startswith('$repo/') else 1)" 2>/dev/null; then
  "$venv/bin/pip" install -q --no-deps -e "$repo" >&2
  rm -f "$venv"/.nasbook-at-*
  touch "$stamp"
fi

if ! command -v dot >/dev/null 2>&1; then
  echo "setup: installing Debian's graphviz for the dot binary" >&2
  if [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && apt-get install -y -qq graphviz) >&2
  else
    (sudo apt-get update -qq && sudo apt-get install -y -qq graphviz) >&2 || \
      echo "setup: could not install graphviz; drawings will fail (apt-get install graphviz)" >&2
  fi
fi
echo "$venv/bin"
