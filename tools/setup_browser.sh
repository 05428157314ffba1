#!/usr/bin/env bash
# Make sure a Chromium browser is available for the browser tests (`make test-browser`).
#
# Uses Debian's `chromium` package: installed with apt-get only when no chromium is found.
# Quiet and instant when it is already there. The browser tests never download a browser
# of their own (no `playwright install`).
set -euo pipefail

find_chromium() {
  if [ -n "${CHROMIUM:-}" ] && [ -x "$CHROMIUM" ]; then echo "$CHROMIUM"; return 0; fi
  if [ -x /usr/bin/chromium ]; then echo /usr/bin/chromium; return 0; fi
  command -v chromium 2>/dev/null && return 0
  return 1
}

if find_chromium >/dev/null; then
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "error: chromium is missing and apt-get is not available." >&2
  echo "       Install Chromium with your system's package manager (or set CHROMIUM=/path/to/chromium)." >&2
  exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo -n"  # never waits for a password: fails with a message instead
  else
    echo "error: chromium is missing and installing it needs root (apt-get install chromium)." >&2
    exit 1
  fi
fi
echo "[browser] chromium not found: installing Debian's chromium package with apt-get"
# Another apt-get may be running: wait up to 10 minutes for its lock rather than failing.
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
if ! { $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq \
       && DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq chromium; } >"$log" 2>&1; then
  tail -n 20 "$log" >&2
  echo "error: could not install chromium with apt-get (see the lines above)." >&2
  echo "       Install it by hand (apt-get install chromium) or set CHROMIUM=/path/to/chromium." >&2
  exit 1
fi
if ! chromium_path="$(find_chromium)"; then
  echo "error: apt-get finished but no chromium executable was found." >&2
  exit 1
fi
echo "[browser] installed $("$chromium_path" --version 2>/dev/null || echo "$chromium_path")"
