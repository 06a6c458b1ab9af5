"""The widgets work in a real browser: JupyterLab on a free localhost port, Debian's Chromium driven headless.

Notebooks 07 and 01 run top to bottom in the tiny profile with ``interactive = True``; changing the model dropdown
must redraw 07's explorer view and 01's accuracy bars. Screenshots of the widgets go to ``reports/tiny/browser/`` (of
the whole page when a test fails). The kernel uses the data folder the notebook tests use (``data/`` or
``$GRAINS_DATA_DIR``), and conftest.py runs this module last, so the tiny models, activations and probes those tests
cached are reused, never trained twice; run alone on a fresh clone, it builds them itself.
Skipped, with the reason, where Chromium or Playwright is missing (``make test`` installs Chromium as root).
"""
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook
import pytest

from lib.pipeline.profiles import REPO_ROOT, reports_dir

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
NOTEBOOKS = REPO_ROOT / "notebooks"
BUILD_TIMEOUT = 600_000  # ms: on a fresh clone the kernel trains the tiny models first; with caches it takes seconds

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(),
                                reason="Debian's chromium is not installed: `apt-get install -y chromium` as root "
                                       "(make test does it when it can)")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is missing: pip install -e '.[dev]'")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tiny_interactive(source: Path, folder: Path) -> str:
    """Copy ``source`` into ``folder`` with papermill's parameters cell for tiny + widgets; returns its file name."""
    nb = parameterize_notebook(load_notebook_node(str(source)), {"profile": "tiny", "interactive": True})
    nbformat.write(nb, folder / source.name)
    return source.name


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server with a token, its own settings and runtime folders, on the session's tiny data."""
    root = tmp_path_factory.mktemp("lab")
    work = root / "notebooks"
    work.mkdir()
    _tiny_interactive(NOTEBOOKS / "07_neuron_explorer.ipynb", work)
    _tiny_interactive(NOTEBOOKS / "01_linguistic_correlation.ipynb", work)
    news = root / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false"}')  # no "get Jupyter news?" toast over the screenshots
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "GRAINS_REPORTS_DIR": str(root / "reports"),
           **{name: str(root / folder) for name, folder in [
               ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
               ("JUPYTERLAB_SETTINGS_DIR", "settings"), ("JUPYTERLAB_WORKSPACES_DIR", "workspaces")]}}
    log = open(root / "lab.log", "w")
    server = subprocess.Popen([sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
                               f"--port={port}", "--port-retries=0", f"--IdentityProvider.token={token}",
                               f"--ServerApp.root_dir={work}", *(["--allow-root"] if os.geteuid() == 0 else [])],
                              env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for(f"{url}/api/status?token={token}", server, root / "lab.log")
        yield url, token
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _wait_for(url: str, server: subprocess.Popen, log: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"JupyterLab did not answer at {url} within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield chromium
        chromium.close()


def _run_all(page, lab, name: str) -> None:
    """Open ``name`` in JupyterLab, wait for its kernel and run all its cells from the Run menu."""
    url, token = lab
    page.goto(f"{url}/lab/tree/{name}?reset&token={token}")  # reset: not the workspace of the last test
    page.get_by_text("| Idle").wait_for(timeout=60_000)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click()


def _dropdown(page, label: str):
    return page.locator(".widget-dropdown", has=page.locator("label", has_text=label)).locator("select")


def _no_errors(page):
    errors = page.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.error"]')
    assert errors.count() == 0, errors.first.inner_text()


def _screenshot(page_or_element, name: str) -> Path:
    path = reports_dir("tiny") / "browser" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    page_or_element.screenshot(path=str(path))
    return path


@pytest.fixture
def page(browser, request):
    """A fresh page; when the test fails, a screenshot under reports/tiny/browser/ shows what the browser showed."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(30_000)
    failed_before = request.session.testsfailed
    yield page
    if request.session.testsfailed > failed_before:
        _screenshot(page, f"FAILED-{request.node.name}.png")
    page.close()


def test_explorer_redraws_when_the_model_changes(page, lab):
    _run_all(page, lab, "07_neuron_explorer.ipynb")
    model = _dropdown(page, "model")
    model.wait_for(timeout=BUILD_TIMEOUT)
    view = page.locator(".widget-vbox .widget-output").first
    sync_api.expect(view).to_contain_text("en-de · neuron", timeout=60_000)
    _no_errors(page)
    before = view.inner_text()
    model.select_option("lm")
    sync_api.expect(view).to_contain_text("lm · neuron", timeout=60_000)
    assert "en-de · neuron" not in view.inner_text() and view.inner_text() != before
    _no_errors(page)
    assert _screenshot(page.locator(".widget-vbox").first, "07_neuron_explorer.png").stat().st_size > 10_000


def test_accuracy_bars_redraw_when_the_model_changes(page, lab):
    _run_all(page, lab, "01_linguistic_correlation.ipynb")
    model = _dropdown(page, "model")
    model.wait_for(timeout=BUILD_TIMEOUT)
    figure = page.locator(".widget-interact .widget-output img").first
    figure.wait_for(timeout=60_000)
    _no_errors(page)
    before = figure.get_attribute("src")
    model.select_option("en-fr")
    sync_api.expect(figure).not_to_have_attribute("src", before, timeout=60_000)
    _no_errors(page)
    assert _screenshot(page.locator(".widget-interact").first,
                       "01_linguistic_correlation.png").stat().st_size > 10_000
