"""Check that `make lab` starts JupyterLab: start it, fetch /lab once, stop it.

    make lab-check                  # or: .venv/bin/python tools/lab_check.py

Runs the command of `make lab` (``jupyter lab --notebook-dir=notebooks``) with the
arguments a learner would pass in LAB_ARGS to run it unattended (no browser, a free port,
a fixed token), checks that ``http://127.0.0.1:PORT/lab?token=...`` answers 200 with the
JupyterLab page, stops the server and prints one line. Exit status 0 when it worked.

The helpers here (free_port, start_server, wait_for_lab, stop_server) are also used by
the tests that start JupyterLab.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class LabNotAnswering(RuntimeError):
    """JupyterLab did not serve its page in time (or its process ended)."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def jupyter_executable() -> Path:
    """The ``jupyter`` next to the running Python (the course's .venv when run from make)."""
    return Path(sys.executable).parent / "jupyter"


def lab_args(port: int, token: str) -> list[str]:
    """What a learner would put in LAB_ARGS to run `make lab` unattended on ``port``."""
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ValueError(f"port must be an int in 1..65535, got {port!r}")
    if not token or not token.isalnum():
        raise ValueError(f"token must be a non-empty alphanumeric string, got {token!r}")
    args = ["--no-browser", f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--allow-root")  # Jupyter refuses to run as root without it
    return args


LAB_CONFIG = "tools/jupyter_lab_config.py"  # the course's offline JupyterLab settings


def lab_command(port: int, token: str) -> list[str]:
    """`make lab`'s command: ``jupyter lab --notebook-dir=notebooks --config=... $(LAB_ARGS)``."""
    return [str(jupyter_executable()), "lab", "--notebook-dir=notebooks", f"--config={LAB_CONFIG}",
            *lab_args(port, token)]


def start_server(cmd: list[str], *, cwd: Path, log_path: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """Start ``cmd`` in a process group of its own, its output going to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def fetch(url: str, timeout: float = 5.0) -> tuple[int, str]:
    """GET ``url`` without any proxy; returns (status, body). Raises OSError if nothing answers."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode("utf-8", "replace")


def is_lab_page(body: str) -> bool:
    """True when ``body`` is JupyterLab's HTML page (not an error or login page)."""
    return "jupyter-config-data" in body and "JupyterLab" in body


def page_config(body: str) -> dict:
    """The ``jupyter-config-data`` JSON that JupyterLab embeds in its page."""
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', body, re.S)
    if not match:
        raise ValueError("body is not JupyterLab's page: it has no jupyter-config-data")
    return json.loads(match.group(1))


def offline_problems(config: dict) -> list[str]:
    """What in a page config would reach out to the network (empty when the lab is set up offline)."""
    problems = []
    if not config.get("news", {}).get("disabled"):
        problems.append("JupyterLab fetches news (LabApp.news_url is set)")
    manager = config.get("extensionManager", {})
    if manager.get("can_install", False) or manager.get("name") not in ("read-only", "readonly"):
        problems.append(f"the extension manager searches a package index ({manager.get('name')!r})")
    return problems


def wait_for_lab(url: str, proc: subprocess.Popen, *, timeout: float = 60.0, log_path: Path | None = None) -> float:
    """Poll ``url`` until it answers 200 with JupyterLab's page; returns the seconds it took.

    Raises LabNotAnswering when ``proc`` exits first or ``timeout`` passes, with the end of
    the server's log in the message.
    """
    start = time.monotonic()
    last = "no answer"
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise LabNotAnswering(f"the JupyterLab process exited with status {proc.returncode}" + _log_tail(log_path))
        try:
            status, body = fetch(url, timeout=5.0)
        except OSError as err:
            last = f"no answer ({err.__class__.__name__})"
        else:
            if status == 200 and is_lab_page(body):
                return time.monotonic() - start
            last = f"status {status}" + ("" if status != 200 else " but not the JupyterLab page")
        time.sleep(0.25)
    raise LabNotAnswering(f"no JupyterLab page after {timeout:.0f} s (last: {last})" + _log_tail(log_path))


def _log_tail(log_path: Path | None, lines: int = 15) -> str:
    if log_path is None or not log_path.exists():
        return ""
    tail = log_path.read_text(errors="replace").splitlines()[-lines:]
    return "\n--- end of the server's log ---\n" + "\n".join(tail)


def stop_server(proc: subprocess.Popen, timeout: float = 15.0) -> None:
    """Stop ``proc`` and every process of its group: SIGTERM, then SIGKILL after ``timeout``."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        proc.wait()
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            break
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            proc.poll()
            try:
                os.killpg(pgid, 0)  # anyone left in the group?
            except ProcessLookupError:
                proc.wait()
                return
            time.sleep(0.1)
    proc.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait for JupyterLab (default 90)")
    options = parser.parse_args(argv)

    port, token = free_port(), secrets.token_hex(16)
    log_path = ROOT / ".test-artifacts" / "lab-check.log"
    url = f"http://127.0.0.1:{port}/lab"
    proc = start_server(lab_command(port, token), cwd=ROOT, log_path=log_path)
    try:
        seconds = wait_for_lab(f"{url}?token={token}", proc, timeout=options.timeout, log_path=log_path)
        problems = offline_problems(page_config(fetch(f"{url}?token={token}")[1]))
    except LabNotAnswering as err:
        first, _, rest = str(err).partition("\n")
        print(f"lab-check: FAILED: {url}: {first} (server log: {log_path.relative_to(ROOT)})")
        if rest:
            print(rest, file=sys.stderr)
        return 1
    finally:
        stop_server(proc)
    if problems:
        print("lab-check: FAILED: not set up for offline use: " + "; ".join(problems))
        return 1
    print(f"lab-check: ok: JupyterLab answered 200 at {url} after {seconds:.1f} s and was stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
