"""A real browser runs the cell-visualization notebook in JupyterLab and moves its widget.

JupyterLab is started on 127.0.0.1 in a scratch folder holding a copy of
``notebooks/03_cell_visualization.ipynb``; Debian's headless ``chromium``, driven by
playwright (never ``playwright install``: scripts/setup.sh installs the browser), opens it,
runs all cells through JupyterLab's own command, then picks another architecture in the cell
explorer's dropdown. The test asserts that the explorer rendered an SVG and that its output
changed after the browser → kernel → browser round trip, and saves screenshots before and
after under ``test-artifacts/browser/`` (flags and settings measured here, measured on the CI machine kind).
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = "03_cell_visualization.ipynb"
SOURCE = REPO / "notebooks" / NOTEBOOK
ARTIFACTS = REPO / "test-artifacts" / "browser"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TOKEN = "nasbook-browser-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def lab(tmp_path):
    """A JupyterLab server on 127.0.0.1 serving a scratch copy of the notebook."""
    root = tmp_path / "lab"
    root.mkdir()
    shutil.copy(SOURCE, root / NOTEBOOK)
    # no news / update toasts over the page
    settings = tmp_path / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(
        json.dumps({"checkForUpdates": False, "fetchNews": "false"}))
    port = _free_port()
    env = dict(os.environ, JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"), OMP_NUM_THREADS="1")
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={TOKEN}",
         f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
         "--LabApp.expose_app_in_browser=True", "--ServerApp.open_browser=False"]
        + (["--allow-root"] if os.geteuid() == 0 else []),
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={TOKEN}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None:
                    raise RuntimeError((tmp_path / "lab.log").read_text()[-3000:])
                time.sleep(0.5)
        else:
            raise RuntimeError("JupyterLab did not start in 60 s:\n" + (tmp_path / "lab.log").read_text()[-3000:])
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


_BUSY = """() => {
  const nb = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!nb || !nb.sessionContext || !nb.sessionContext.session) return true;
  const kernel = nb.sessionContext.session.kernel;
  const pending = [...document.querySelectorAll('.jp-InputArea-prompt')].some(p => p.textContent.includes('*'));
  return !kernel || kernel.status !== 'idle' || pending;
}"""

_EXPLORER = """() => {
  const label = [...document.querySelectorAll('.widget-dropdown label')].find(l => l.textContent.trim() === 'architecture');
  const box = label && label.closest('.widget-vbox');
  return box ? box.innerHTML : null;
}"""


def _wait(page, predicate, timeout_s: float, what: str, arg=None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = page.evaluate(predicate, arg) if arg is not None else page.evaluate(predicate)
        if value:
            return value
        page.wait_for_timeout(250)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def test_cell_explorer_responds_in_a_real_browser(lab):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.goto(f"{lab}/lab/tree/{NOTEBOOK}?token={TOKEN}")
            page.wait_for_function("() => window.jupyterapp && window.jupyterapp.shell.currentWidget"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.session"
                                   " && window.jupyterapp.shell.currentWidget.sessionContext.session.kernel",
                                   timeout=90_000)
            page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
            page.wait_for_timeout(1000)
            _wait(page, f"() => !({_BUSY})()", 240, "the notebook to finish running")
            tracebacks = [t for t in page.locator(".jp-RenderedText").all_inner_texts() if "Traceback" in t]
            assert not tracebacks, tracebacks[0][:2000]
            before = _wait(page, _EXPLORER, 60, "the cell explorer widget to render")
            assert "<svg" in before, "the explorer shows no drawing"

            select = page.locator(".widget-dropdown", has=page.locator("label", has_text="architecture")).locator("select")
            select.scroll_into_view_if_needed()
            page.screenshot(path=str(ARTIFACTS / "explorer_before.png"))
            current = select.input_value()
            options = [o for o in select.locator("option").all_inner_texts() if o != current]
            assert options, "the explorer offers a single architecture"
            select.select_option(label=options[-1])
            after = _wait(page, f"(old) => {{ const h = ({_EXPLORER})(); return h && h !== old && h.includes('<svg') ? h : null; }}",
                          60, "the explorer to redraw after the browser changed the dropdown", before)
            page.screenshot(path=str(ARTIFACTS / "explorer_after.png"))
            assert after != before
        except Exception:
            page.screenshot(path=str(ARTIFACTS / "failure.png"))
            raise
        finally:
            browser.close()
