"""`make lab` starts JupyterLab on notebooks/ and serves its page (tools/lab_check.py helpers)."""

from __future__ import annotations

import importlib.util
import os
import secrets
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load_lab_check():
    spec = importlib.util.spec_from_file_location("lab_check", ROOT / "tools" / "lab_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lab_check = _load_lab_check()
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


# `-o venv` runs the recipe of `make lab` as it is but takes the environment as set up:
# a test must never start rebuilding the environment it runs in.
MAKE = ["make", "--no-print-directory", "-o", "venv"]


def _make_env() -> dict[str, str]:
    """Run make with the environment this test runs in (its python's venv)."""
    env = dict(os.environ)
    env["VENV"] = str(Path(sys.executable).parent.parent)
    env.pop("MAKEFLAGS", None)
    return env


@needs_make
def test_make_lab_serves_jupyterlab_and_stops_cleanly(tmp_path):
    port, token = lab_check.free_port(), secrets.token_hex(8)
    lab_args = " ".join(lab_check.lab_args(port, token))
    log_path = tmp_path / "lab.log"
    proc = lab_check.start_server(
        [*MAKE, "lab", f"LAB_ARGS={lab_args}"], cwd=ROOT, log_path=log_path, env=_make_env()
    )
    try:
        lab_check.wait_for_lab(f"http://127.0.0.1:{port}/lab?token={token}", proc, timeout=60, log_path=log_path)
        _, page = lab_check.fetch(f"http://127.0.0.1:{port}/lab?token={token}")
        assert lab_check.offline_problems(lab_check.page_config(page)) == []
        status, _ = lab_check.fetch(f"http://127.0.0.1:{port}/api/contents?token=wrong{token}")
        assert status == 403, f"a wrong token should be refused, got status {status}"
    finally:
        lab_check.stop_server(proc)
    with pytest.raises(ProcessLookupError):
        os.killpg(proc.pid, 0)  # make and jupyter are both gone
    with pytest.raises(OSError):
        lab_check.fetch(f"http://127.0.0.1:{port}/lab?token={token}", timeout=2)


@needs_make
def test_lab_check_runs_the_command_of_make_lab():
    args = ["--no-browser", "--port=8899"]
    dry_run = subprocess.run(
        [*MAKE, "-n", "lab", f"LAB_ARGS={' '.join(args)}"],
        cwd=ROOT, env=_make_env(), capture_output=True, text=True, check=True,
    )
    make_line = next(line for line in dry_run.stdout.splitlines() if "jupyter lab" in line)
    words = shlex.split(make_line)
    ours = lab_check.lab_command(8899, "abc123")
    assert Path(words[0]).name == "jupyter" and Path(ours[0]).name == "jupyter"
    root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    assert words[1:] == ["lab", "--notebook-dir=notebooks", f"--config={lab_check.LAB_CONFIG}", *root, *args], make_line
    assert ours[1:4] == words[1:4] and set(args) <= set(ours), ours


def test_lab_args_reject_bad_port_and_token():
    with pytest.raises(ValueError, match="port"):
        lab_check.lab_args(0, "abc")
    with pytest.raises(ValueError, match="token"):
        lab_check.lab_args(8888, "a b")


def test_wait_for_lab_reports_a_server_that_died(tmp_path):
    log_path = tmp_path / "dead.log"
    proc = lab_check.start_server([sys.executable, "-c", "print('boom'); raise SystemExit(3)"], cwd=tmp_path, log_path=log_path)
    proc.wait()
    with pytest.raises(lab_check.LabNotAnswering, match=r"(?s)exited with status 3.*boom"):
        lab_check.wait_for_lab(f"http://127.0.0.1:{lab_check.free_port()}/lab", proc, timeout=5, log_path=log_path)


def test_is_lab_page():
    assert lab_check.is_lab_page('<title>JupyterLab</title><script id="jupyter-config-data">{}</script>')
    assert not lab_check.is_lab_page("<html>login</html>")


def test_the_lab_is_set_up_for_offline_use():
    online = {"news": {"disabled": False}, "extensionManager": {"name": "PyPI", "can_install": True}}
    assert len(lab_check.offline_problems(online)) == 2
    offline = {"news": {"disabled": True}, "extensionManager": {"name": "read-only", "can_install": False}}
    assert lab_check.offline_problems(offline) == []
    config = (ROOT / lab_check.LAB_CONFIG).read_text()
    assert "news_url = None" in config and '"readonly"' in config and "NeverCheckForUpdate" in config
    with pytest.raises(ValueError, match="jupyter-config-data"):
        lab_check.page_config("<html>not the lab</html>")
