#!/usr/bin/env bash
# Create or refresh the course's virtual environment (.venv).
#
# The environment is rebuilt only when it is missing, broken, made by another Python,
# or when pyproject.toml / requirements/constraints.txt changed since it was set up.
# A second run with nothing changed costs about a second.
set -euo pipefail

PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
EXTRAS="${EXTRAS:-test,browser}"
CONSTRAINTS="requirements/constraints.txt"

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "error: $PYTHON not found. Install Python 3.11 (or set PYTHON=/path/to/python3.11)." >&2
  exit 1
fi
want_version="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
case "$want_version" in
  3.10|3.11|3.12) ;;
  *) echo "warning: the course is tested with Python 3.11; $PYTHON is $want_version." >&2 ;;
esac

stamp_of() {
  cat pyproject.toml "$CONSTRAINTS" | sha256sum | cut -c1-16
  echo "$EXTRAS $want_version"
}
stamp="$(stamp_of | tr '\n' ' ')"
stamp_file="$VENV/.mmcourse-setup"

if [ -x "$VENV/bin/python" ] && "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
  have_version="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  if [ "$have_version" != "$want_version" ]; then
    echo "[setup] $VENV was made with Python $have_version, not $want_version: recreating it"
    rm -rf "$VENV"
  elif [ -f "$stamp_file" ] && [ "$(cat "$stamp_file")" = "$stamp" ]; then
    exit 0  # up to date: nothing to do
  fi
elif [ -e "$VENV" ]; then
  echo "[setup] $VENV is broken: recreating it"
  rm -rf "$VENV"
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating $VENV with $PYTHON ($want_version)"
  "$PYTHON" -m venv "$VENV"
fi
echo "[setup] installing the course package and its pinned dependencies (first time: a few minutes)"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/python" -m pip install --quiet -c "$CONSTRAINTS" -e ".[$EXTRAS]"
echo "$stamp" > "$stamp_file"
echo "[setup] $VENV is ready"
