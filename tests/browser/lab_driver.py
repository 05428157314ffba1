"""Drive JupyterLab in headless Chromium: start a server, open a notebook, run it, move widgets.

Used by the browser tests (`make test-browser`); see widgets.py for how a lesson lists
the widgets to check. Nothing here downloads a browser: it runs Debian's chromium
(tools/setup_browser.sh installs it), and every request the page makes outside
127.0.0.1/localhost is refused and reported.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

from widgets import Widget

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".test-artifacts" / "browser"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
FIXTURE_FOLDER = "_fixtures"  # where the fixtures appear inside the served notebook folder

CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # every host name but the local ones fails to resolve: nothing leaves the machine
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
RUN_TIMEOUT = float(os.environ.get("MMCOURSE_BROWSER_TIMEOUT", "900"))  # seconds to run one notebook's cells


def _load_lab_check():
    spec = importlib.util.spec_from_file_location("lab_check", ROOT / "tools" / "lab_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lab_check = _load_lab_check()


class NotebookFailed(AssertionError):
    """A notebook did not open or did not run to the end without errors."""


class WidgetCheckFailed(AssertionError):
    """A control could not be found or moved, or its output text did not change."""


def find_chromium() -> str | None:
    """Path of the Chromium to drive: $CHROMIUM, /usr/bin/chromium, or ``chromium`` on PATH."""
    for candidate in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium")):
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    return None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")[:80] or "x"


# --------------------------------------------------------------------------- server

_LAB_SETTINGS = {
    # every cell stays in the page, so every output can be read and every control reached
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
}


@dataclass
class LabServer:
    """A JupyterLab of the course's environment, serving a throw-away copy of notebooks/."""

    port: int
    token: str
    notebook_dir: Path
    log_path: Path
    proc: object = field(repr=False)

    @classmethod
    def start(cls, workdir: Path, *, notebooks: Path = ROOT / "notebooks", data: Path = ROOT / "data",
              timeout: float = 120.0) -> "LabServer":
        """Copy ``notebooks`` (and the test fixtures) under ``workdir`` and serve them.

        ``data`` is linked beside the copy, so ``../data`` works as in the checkout.
        """
        course = workdir / "course"
        notebook_dir = course / "notebooks"
        if notebooks.is_dir():
            shutil.copytree(notebooks, notebook_dir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        notebook_dir.mkdir(parents=True, exist_ok=True)
        shutil.copytree(FIXTURES, notebook_dir / FIXTURE_FOLDER, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        if data.is_dir():
            (course / "data").symlink_to(data.resolve(), target_is_directory=True)

        settings = workdir / "lab-settings"
        for name, values in _LAB_SETTINGS.items():
            path = settings / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(workdir / "jupyter-config"),  # no user configuration or kernels leak in
            JUPYTER_DATA_DIR=str(workdir / "jupyter-data"),
            JUPYTER_RUNTIME_DIR=str(workdir / "jupyter-runtime"),
            PYTHONUNBUFFERED="1",
        )
        env.setdefault("MMCOURSE_PRESET", "cpu")

        port, token = lab_check.free_port(), secrets.token_hex(16)
        cmd = [
            str(lab_check.jupyter_executable()), "lab",
            f"--notebook-dir={notebook_dir}",
            "--no-browser", "--ip=127.0.0.1", f"--port={port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={token}",
            "--LabApp.expose_app_in_browser=True",  # window.jupyterapp: commands, kernel status
            f"--LabApp.user_settings_dir={settings}",
            f"--LabApp.workspaces_dir={workdir / 'lab-workspaces'}",
            "--LabApp.extension_manager=readonly",  # never asks PyPI
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            cmd.append("--allow-root")
        log_path = workdir / "jupyterlab.log"
        proc = lab_check.start_server(cmd, cwd=course, log_path=log_path, env=env)
        server = cls(port=port, token=token, notebook_dir=notebook_dir, log_path=log_path, proc=proc)
        try:
            lab_check.wait_for_lab(server.url("/lab"), proc, timeout=timeout, log_path=log_path)
        except BaseException:
            server.stop()
            raise
        return server

    def url(self, path: str, *query: str) -> str:
        """``http://127.0.0.1:PORT{path}?{query&}token=...``."""
        return f"http://127.0.0.1:{self.port}{path}?" + "".join(f"{q}&" for q in query) + f"token={self.token}"

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        lab_check.stop_server(self.proc)


# --------------------------------------------------------------------------- browser

class BrowserSession:
    """Headless Chromium with a fresh profile; requests that leave localhost are refused and recorded."""

    def __init__(self, chromium: str, profile_dir: Path) -> None:
        from playwright.sync_api import sync_playwright

        self.off_host: list[str] = []
        self._playwright = sync_playwright().start()
        try:
            self.context = self._playwright.chromium.launch_persistent_context(
                str(profile_dir), executable_path=chromium, headless=True, args=CHROMIUM_FLAGS,
                viewport={"width": 1400, "height": 1000}, service_workers="block",
            )
        except BaseException:
            self._playwright.stop()
            raise
        self.context.route(lambda url: not self._is_local(url), self._refuse)
        self.context.on("page", self._watch_page)

    @staticmethod
    def _is_local(url: str) -> bool:
        parts = urlsplit(url)
        return parts.scheme not in ("http", "https", "ws", "wss") or (parts.hostname or "") in LOCAL_HOSTS

    def _refuse(self, route) -> None:
        self.off_host.append(route.request.url)
        route.abort("blockedbyclient")

    def _watch_page(self, page) -> None:
        page.on("websocket", lambda ws: None if self._is_local(ws.url) else self.off_host.append(ws.url))

    def new_page(self):
        return self.context.new_page()

    def close(self) -> None:
        try:
            self.context.close()
        finally:
            self._playwright.stop()


# --------------------------------------------------------------------------- notebook driver

# (CSS of the control's container, CSS of its description label inside it; None: the container's own text)
_CONTROLS = {
    "slider": (".widget-slider", "label.widget-label"),
    "dropdown": (".widget-dropdown", "label.widget-label"),
    "text": (".widget-text, .widget-textarea", "label.widget-label"),
    "checkbox": (".widget-checkbox", "label.widget-label-basic > span"),
    "toggle": ("button.lm-Widget.widget-toggle-button", None),
    "button": ("button.lm-Widget.widget-button", None),
    "toggle_buttons": (".widget-toggle-buttons", "label.widget-label"),
    "radio": (".widget-radio", "label.widget-label"),
}

_JS_FIND_PANEL = """(path) => {
  const app = window.jupyterapp;
  if (!app) return false;
  const panel = [...app.shell.widgets('main')].find(w => w.context && w.context.path === path);
  if (!panel || !panel.context.isReady) return false;
  const kernel = panel.sessionContext.session?.kernel;
  return kernel && kernel.status === 'idle' ? panel.id : false;
}"""

_JS_PANEL = "[...window.jupyterapp.shell.widgets('main')].find(w => w.id === id)"

_JS_START_RUN_ALL = f"""async (id) => {{
  const app = window.jupyterapp, panel = {_JS_PANEL};
  app.shell.activateById(id);
  await app.commands.execute('notebook:clear-all-cell-outputs');
  app.commands.execute('notebook:run-all-cells');  // not awaited: progress is polled
}}"""

_JS_RUN_STATE = f"""(id) => {{
  const panel = {_JS_PANEL};
  if (!panel) return {{status: 'closed', busy: [], pending: 0, errors: []}};
  const status = panel.sessionContext.session?.kernel?.status ?? 'no kernel';
  const busy = [], errors = [];
  let pending = 0;
  panel.content.widgets.forEach((cell, index) => {{
    if (cell.model.type !== 'code') return;
    const prompt = cell.node.querySelector('.jp-InputPrompt');
    if (prompt && prompt.textContent.includes('[*]')) busy.push(index);
    const tags = cell.model.getMetadata('tags') || [];
    for (const out of cell.model.outputs.toJSON())
      if (out.output_type === 'error' && !tags.includes('raises-exception'))
        errors.push({{cell: index, ename: out.ename, evalue: out.evalue}});
    if (cell.model.sharedModel.getSource().trim() && cell.model.executionCount == null) pending += 1;
  }});
  return {{status, busy, pending, errors}};
}}"""

_JS_KERNEL_STATUS = f"(id) => {{ const panel = {_JS_PANEL}; return panel?.sessionContext.session?.kernel?.status ?? 'no kernel'; }}"

_JS_CLOSE = f"""async (id) => {{
  const panel = {_JS_PANEL};
  if (!panel) return;
  const done = panel.sessionContext.shutdown().catch(() => null);
  await Promise.race([done, new Promise(resolve => setTimeout(resolve, 15000))]);
  panel.dispose();
}}"""

_JS_LABELS = """(root) => {
  const seen = [];
  const add = (kind, text) => { text = (text || '').replace(/\\u200b/g, '').trim(); if (text) seen.push(`${kind}[${text}]`); };
  root.querySelectorAll('.widget-slider > label.widget-label').forEach(e => add('slider', e.textContent));
  root.querySelectorAll('.widget-dropdown > label.widget-label').forEach(e => add('dropdown', e.textContent));
  root.querySelectorAll('.widget-text > label.widget-label, .widget-textarea > label.widget-label').forEach(e => add('text', e.textContent));
  root.querySelectorAll('.widget-checkbox label.widget-label-basic > span').forEach(e => add('checkbox', e.textContent));
  root.querySelectorAll('button.lm-Widget.widget-toggle-button').forEach(e => add('toggle', e.textContent));
  root.querySelectorAll('button.lm-Widget.widget-button').forEach(e => add('button', e.textContent));
  root.querySelectorAll('.widget-toggle-buttons > label.widget-label').forEach(e => add('toggle_buttons', e.textContent));
  root.querySelectorAll('.widget-radio > label.widget-label').forEach(e => add('radio', e.textContent));
  return seen;
}"""

# Text of the outputs that belong to a control: those matching the selector inside its cell
# (or notebook), minus anything containing the control itself; and any traceback shown there.
_JS_READ_OUTPUT = r"""(control, [selector, scope]) => {
  const root = control.closest(scope === 'cell' ? '.jp-Cell' : '.jp-Notebook');
  if (!root) return {count: 0, text: '', error: ''};
  const hits = [...root.querySelectorAll(selector)].filter(n => !n.contains(control) && !control.contains(n));
  const outer = hits.filter(n => !hits.some(m => m !== n && m.contains(n)));
  const errors = outer.flatMap(n => [...n.querySelectorAll('[data-mime-type="application/vnd.jupyter.stderr"]')])
    .map(e => e.innerText)
    .filter(t => /Traceback|^\s*\w*(Error|Exception)\b/m.test(t));
  return {count: outer.length, text: outer.map(n => n.innerText).join('\n'), error: errors.join('\n')};
}"""


@dataclass
class Change:
    """What a widget check did and saw."""

    widget: Widget
    action: str
    before: str
    after: str


class LabNotebook:
    """One notebook open in JupyterLab, in its own browser tab and kernel."""

    def __init__(self, browser: BrowserSession, server: LabServer, path: str, *, artifacts: Path = ARTIFACTS) -> None:
        self.browser = browser
        self.server = server
        self.path = path
        self.artifacts = artifacts
        self.page = None
        self.panel_id: str | None = None
        self.console: list[str] = []
        self.run_error: str | None = None  # set when running the cells raised (and that was allowed)

    # -- opening and running

    def open(self, timeout: float = 180.0) -> None:
        """Open the notebook (in a fresh workspace) and wait until its kernel is idle."""
        if not (self.server.notebook_dir / self.path).is_file():
            raise NotebookFailed(f"{self.path} is not in the served notebook folder {self.server.notebook_dir}")
        self.page = self.browser.new_page()
        self.page.on("console", lambda msg: self.console.append(f"{msg.type}: {msg.text}") if msg.type == "error" else None)
        self.page.on("pageerror", lambda err: self.console.append(f"page error: {err}"))
        self.page.goto(self.server.url(f"/lab/tree/{quote(self.path)}", "reset"), timeout=timeout * 1000)
        try:
            handle = self.page.wait_for_function(_JS_FIND_PANEL, arg=self.path, timeout=timeout * 1000, polling=250)
        except Exception as err:  # playwright's TimeoutError
            raise self._fail(NotebookFailed, "open", f"{self.path} did not open with an idle kernel within {timeout:.0f} s "
                             f"({err.__class__.__name__})") from None
        self.panel_id = handle.json_value()

    def run_all(self, timeout: float = RUN_TIMEOUT, *, allow_errors: bool = False) -> list[dict]:
        """Clear the outputs, run all cells, wait until the kernel is idle with no ``[*]`` left.

        Returns the errors that cells raised (cell index, ename, evalue); raises NotebookFailed
        on an error unless ``allow_errors``, or when the cells do not finish in ``timeout`` seconds.
        """
        self.page.evaluate(_JS_START_RUN_ALL, self.panel_id)
        start, done_twice = time.monotonic(), 0
        while True:
            state = self.page.evaluate(_JS_RUN_STATE, self.panel_id)
            finished = (state["status"] == "idle" and not state["busy"]
                        and (state["pending"] == 0 or state["errors"]))
            done_twice = done_twice + 1 if finished else 0
            if done_twice >= 2:
                break
            if state["status"] in ("closed", "dead", "no kernel") and time.monotonic() - start > 5:
                raise self._fail(NotebookFailed, "run-all", f"{self.path}: the kernel is {state['status']} while running")
            if time.monotonic() - start > timeout:
                where = f"cell {state['busy'][0]} still running" if state["busy"] else f"{state['pending']} cells not run"
                raise self._fail(NotebookFailed, "run-all", f"{self.path}: cells did not finish within {timeout:.0f} s "
                                 f"({where}; kernel {state['status']})")
            time.sleep(0.5)
        errors = state["errors"]
        if errors:
            first = errors[0]
            failure = self._fail(NotebookFailed, "run-all", f"{self.path}: cell {first['cell']} raised "
                                 f"{first['ename']}: {first['evalue']}")
            self.run_error = str(failure)
            if not allow_errors:
                raise failure
        return errors

    def close(self) -> None:
        """Shut the kernel down and close the tab."""
        if self.page is None:
            return
        try:
            if self.panel_id:
                self.page.evaluate(_JS_CLOSE, self.panel_id)
        except Exception:
            pass  # the server shuts every kernel down at the end anyway
        finally:
            self.page.close()
            self.page = None

    # -- widgets

    def check(self, widget: Widget) -> Change:
        """Move ``widget``'s control and assert its output text changes (and shows no traceback)."""
        from playwright.sync_api import Error as PlaywrightError

        try:
            return self._check(widget)
        except WidgetCheckFailed as err:
            raise self._fail(WidgetCheckFailed, widget.id, str(err)) from None
        except PlaywrightError as err:
            message = str(err).splitlines()[0] if str(err) else err.__class__.__name__
            raise self._fail(WidgetCheckFailed, widget.id, f"{widget.id}: the browser could not do it: {message}") from None

    def _check(self, widget: Widget) -> Change:
        control = self._find(widget)
        control.scroll_into_view_if_needed(timeout=10_000)
        before = self._read(control, widget)
        where = f"{self.path}, {widget.id}"
        if before["count"] == 0:
            raise WidgetCheckFailed(f"{where}: no output matching {widget.output!r} in the control's {widget.scope} "
                                    "(print into an ipywidgets.Output, or pass output=/scope= in widgets.py)")
        if before["error"]:
            raise WidgetCheckFailed(f"{where}: the output shows a traceback before the control moved:\n"
                                    f"{_tail(before['error'])}")
        action = self._move(control, widget)
        deadline = time.monotonic() + widget.timeout
        now = before
        while now["text"] == before["text"]:
            if time.monotonic() > deadline:
                raise WidgetCheckFailed(f"{where}: the output did not change within {widget.timeout:g} s after "
                                        f"{action}; it still reads {_tail(before['text'], 300)!r}")
            time.sleep(0.2)
            now = self._read(control, widget)
        after = self._settle(control, widget)
        if after["error"]:
            raise WidgetCheckFailed(f"{where}: the output shows a traceback after {action}:\n{_tail(after['error'])}")
        if after["text"] == before["text"]:
            raise WidgetCheckFailed(f"{where}: the output changed for a moment after {action}, then went back to "
                                    f"{_tail(before['text'], 300)!r}")
        return Change(widget, action, before["text"], after["text"])

    def _find(self, widget: Widget):
        container, label = _CONTROLS[widget.kind]
        exact = re.compile(r"^\s*" + re.escape(widget.description.strip()) + r"\s*$")
        panel = self.page.locator(f"#{self.panel_id}")
        if label is None:
            matches = panel.locator(container).filter(has_text=exact)
        else:
            matches = panel.locator(container).filter(has=self.page.locator(label).filter(has_text=exact))
        deadline = time.monotonic() + widget.timeout
        while (count := matches.count()) == 0 and time.monotonic() < deadline:
            time.sleep(0.25)
        where = f"{self.path}, {widget.id}"
        if count == 0:
            seen = self.page.locator(f"#{self.panel_id}").evaluate(_JS_LABELS)
            raise WidgetCheckFailed(f"{where}: no {widget.kind} with description {widget.description!r} appeared within "
                                    f"{widget.timeout:g} s; controls in the notebook: {', '.join(seen) or 'none'}")
        index = widget.nth or 0
        if widget.nth is None and count > 1:
            raise WidgetCheckFailed(f"{where}: {count} controls have that description; pass nth= (0 = first) in widgets.py")
        if index >= count:
            raise WidgetCheckFailed(f"{where}: nth={index} but only {count} controls have that description")
        return matches.nth(index)

    def _read(self, control, widget: Widget) -> dict:
        return control.evaluate(_JS_READ_OUTPUT, [widget.output, widget.scope])

    def _settle(self, control, widget: Widget, limit: float = 15.0) -> dict:
        """Wait until the kernel is idle and the output text stays the same for a moment."""
        deadline = time.monotonic() + limit
        last = self._read(control, widget)
        while time.monotonic() < deadline:
            time.sleep(0.3)
            now = self._read(control, widget)
            idle = self.page.evaluate(_JS_KERNEL_STATUS, self.panel_id) == "idle"
            if idle and now == last:
                return now
            last = now
        return last

    def _move(self, control, widget: Widget) -> str:
        kind = widget.kind
        if kind == "slider":
            handle = control.locator(".noUi-handle").first
            value, top = handle.get_attribute("aria-valuenow"), handle.get_attribute("aria-valuemax")
            shown = handle.get_attribute("aria-valuetext") or value
            key = "ArrowLeft" if value is not None and top is not None and float(value) >= float(top) else "ArrowRight"
            handle.focus()
            handle.press(key)
            return f"pressing {key} on the slider (it was at {shown})"
        if kind == "dropdown":
            select = control.locator("select")
            options = select.evaluate("s => [...s.options].map(o => o.label)")
            current = select.evaluate("s => s.selectedIndex < 0 ? null : s.options[s.selectedIndex].label")
            target = widget.value if widget.value is not None else _next_option(options, current)
            self._check_choice(widget, target, options, current)
            select.select_option(label=target)
            return f"selecting {target!r} (was {current!r})"
        if kind == "text":
            box = control.locator("input, textarea").first
            current = box.input_value()
            target = widget.value if widget.value is not None else _edited(current, box.get_attribute("type"))
            if target == current:
                raise WidgetCheckFailed(f"{self.path}, {widget.id}: the box already reads {current!r}; type something else")
            box.fill(target)
            box.press("Enter")
            return f"typing {target!r} and Enter (was {current!r})"
        if kind in ("checkbox", "toggle", "button"):
            target = control.locator("input[type=checkbox]") if kind == "checkbox" else control
            target.click()
            return f"clicking the {kind}"
        if kind == "toggle_buttons":
            buttons = control.locator("button")
            options = [t.strip() for t in buttons.all_inner_texts()]
            active = buttons.evaluate_all("bs => bs.map(b => b.classList.contains('mod-active'))")
            current = next((o for o, on in zip(options, active) if on), None)
            target = widget.value if widget.value is not None else next((o for o, on in zip(options, active) if not on), None)
            self._check_choice(widget, target, options, current)
            buttons.nth(options.index(target)).click()
            return f"clicking {target!r} (was {current!r})"
        if kind == "radio":
            inputs = control.locator("input[type=radio]")
            options = inputs.evaluate_all("xs => xs.map(x => x.parentElement.textContent.trim())")
            checked = inputs.evaluate_all("xs => xs.map(x => x.checked)")
            current = next((o for o, on in zip(options, checked) if on), None)
            target = widget.value if widget.value is not None else next((o for o, on in zip(options, checked) if not on), None)
            self._check_choice(widget, target, options, current)
            inputs.nth(options.index(target)).check()
            return f"choosing {target!r} (was {current!r})"
        raise ValueError(f"kind must be one of {tuple(_CONTROLS)}, got {kind!r}")

    def _check_choice(self, widget: Widget, target: str | None, options: list[str], current: str | None) -> None:
        where = f"{self.path}, {widget.id}"
        if target is None:
            raise WidgetCheckFailed(f"{where}: no other option to choose from {options}")
        if target not in options:
            raise WidgetCheckFailed(f"{where}: option {target!r} is not one of {options}")
        if target == current:
            raise WidgetCheckFailed(f"{where}: {target!r} is already chosen; name another option")

    # -- failure reports

    def _fail(self, error: type[AssertionError], what: str, message: str) -> AssertionError:
        """``error(message)`` with a screenshot and the page text saved under the artifacts folder."""
        saved = []
        if self.page is not None:
            self.artifacts.mkdir(parents=True, exist_ok=True)
            stem = f"{_slug(Path(self.path).stem)}--{_slug(what)}"
            shot, text = self.artifacts / f"{stem}.png", self.artifacts / f"{stem}.txt"
            try:
                self.page.screenshot(path=str(shot), timeout=15_000)
                saved.append(shot)
            except Exception:
                pass
            try:
                scope = f"#{self.panel_id}" if self.panel_id else "body"
                page_text = self.page.locator(scope).inner_text(timeout=15_000)
            except Exception as err:
                page_text = f"(could not read the page: {err})"
            report = [message, "", "--- notebook text ---", page_text]
            if self.console:
                report += ["", "--- browser console errors ---", *self.console[-30:]]
            report += ["", "--- end of the JupyterLab log ---", self.server.log_tail()]
            text.write_text("\n".join(report), encoding="utf-8")
            saved.append(text)
        where = ", ".join(_show(p) for p in saved)
        message += f"\n(screenshot and page text: {where})" if saved else ""
        if error is WidgetCheckFailed and self.run_error:
            message += "\nNote: running the cells stopped at an error: " + self.run_error.splitlines()[0]
        return error(message)


def _show(path: Path) -> str:
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _tail(text: str, limit: int = 1500) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def _next_option(options: list[str], current: str | None) -> str | None:
    if len(options) < 2:
        return None
    index = options.index(current) if current in options else -1
    return options[(index + 1) % len(options)]


def _edited(current: str, input_type: str | None) -> str:
    if input_type == "number":
        number = float(current or 0) + 1
        return str(int(number)) if number.is_integer() else str(number)
    return current + "x"


class NotebookPool:
    """Opens each notebook once per session, runs it, and keeps it open while its widgets are checked."""

    def __init__(self, browser: BrowserSession, server: LabServer) -> None:
        self.browser = browser
        self.server = server
        self.current: LabNotebook | None = None
        self.failure: AssertionError | None = None
        self.errors: list[dict] = []

    @property
    def run_error(self) -> str | None:
        """The report of the error that stopped the current notebook's cells (if errors were allowed)."""
        return self.current.run_error if self.current is not None else None

    def get(self, path: str, *, allow_errors: bool = False, artifacts: Path = ARTIFACTS) -> LabNotebook:
        """The open, fully run notebook ``path`` (relative to the served folder)."""
        if self.current is None or self.current.path != path:
            self.release()
            self.current = LabNotebook(self.browser, self.server, path, artifacts=artifacts)
            try:
                self.current.open()
                self.errors = self.current.run_all(allow_errors=allow_errors)
            except NotebookFailed as err:
                self.failure = err
            except Exception as err:  # the browser itself failed: report it the same way
                self.failure = NotebookFailed(f"{path}: {err.__class__.__name__}: {str(err).splitlines()[0] if str(err) else ''}")
        if self.failure is not None:
            raise NotebookFailed(f"(the notebook could not be run, so no widget was checked)\n{self.failure}")
        return self.current

    def release(self) -> None:
        if self.current is not None:
            self.current.close()
        self.current, self.failure, self.errors = None, None, []
