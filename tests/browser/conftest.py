"""Shared harness of the browser tests: a live JupyterLab driven by Debian's headless Chromium through Selenium.

Fixtures (module-scoped, so a test module pays for one browser and one JupyterLab):

- ``driver``: a ``selenium.webdriver.Chrome`` for ``/usr/bin/chromium`` + ``/usr/bin/chromedriver``, headless,
  1400x900, with a fresh profile and Chromium's background networking switched off.
- ``jupyterlab``: a :class:`JupyterLab` server on 127.0.0.1 (free port, token auth, its own temporary home, config,
  data and runtime folders) serving a temporary copy of ``notebooks/``. ``jupyterlab.open(driver, name)`` opens a
  notebook and returns a :class:`NotebookPage` (``run_all``, ``cell``, ``output``, ``command``, ``show_file_browser``).
- ``screenshot``: ``screenshot(name, element=None, *, scroll_to=None)`` saves
  ``tests/browser/screenshots/<name>.png`` (git-ignored) of the window or of one element, and returns the path.

Every test in this folder is marked ``browser`` (deselect with ``-m "not browser"``). Without Chromium and
chromedriver the tests skip with a message saying how to run them, unless ``MNISTLIB_BROWSER_TESTS=1`` (set by
``.ci/run``): then a missing browser is a failure. ``MNISTLIB_BROWSER_REPO=/path/to/another/checkout`` serves that
checkout's notebooks and puts its ``mnistlib`` first on the kernel's path (to see the tests fail on old code).
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
SCREENSHOTS = HERE / "screenshots"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
WINDOW = (1400, 900)
MANDATORY_ENV = "MNISTLIB_BROWSER_TESTS"
REPO_ENV = "MNISTLIB_BROWSER_REPO"

# Without the background-networking switches Chromium keeps trying to reach Google's services.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    f"--window-size={WINDOW[0]},{WINDOW[1]}",
]

# JupyterLab settings for a quiet, offline session: no news or update checks (they would go to the internet).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
}

# The kernels JupyterLab starts get one BLAS thread, not the two of the rest of the tests: they share the two cores
# with Chromium and the server, and OpenBLAS's second thread then spins. Measured with one core busy: 2 epochs of
# 784-300-10 took 37-44 s with 2 threads and 2.4 s with 1. The browser tests compare no numbers, so nothing is lost.
KERNEL_THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

HOW_TO_RUN = (
    "To run them install Debian's Chromium and its driver (sudo apt-get install chromium chromium-driver) and run "
    f"{MANDATORY_ENV}=1 make test (or .venv/bin/pytest tests/browser); CI (.ci/run) does both."
)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "browser: drives JupyterLab or HTML pages in headless Chromium (tests/browser; slow, needs chromium)"
    )


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(str(item.path)).resolve().parents:
            item.add_marker(pytest.mark.browser)


def require_browser():
    """Skip (a laptop) or fail (CI: MNISTLIB_BROWSER_TESTS=1) when Chromium, chromedriver or selenium is missing."""
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not os.access(path, os.X_OK)]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("the Python package selenium (pip install -r requirements.txt)")
    if not missing:
        return
    message = f"browser tests need {', '.join(missing)}, not found. {HOW_TO_RUN}"
    if os.environ.get(MANDATORY_ENV) == "1":
        pytest.fail(f"{MANDATORY_ENV}=1 makes the browser tests mandatory, but {message}", pytrace=False)
    pytest.skip(message)


def die_with_parent():
    """``preexec_fn`` of the servers started here: on Linux they get SIGTERM when the test process dies (killed,
    timed out), so an aborted run leaves no JupyterLab, kernel or chromedriver behind."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


def served_repo():
    """The checkout whose notebooks (and mnistlib) the tests use: this one, or $MNISTLIB_BROWSER_REPO."""
    return Path(os.environ.get(REPO_ENV) or ROOT).resolve()


# --------------------------------------------------------------------------------------------------------------------
# Chromium
# --------------------------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    """Headless Chromium at 1400x900 with a fresh profile; quit at the end of the module."""
    require_browser()
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    service = webdriver.ChromeService(executable_path=str(CHROMEDRIVER), popen_kw={"preexec_fn": die_with_parent})
    browser = webdriver.Chrome(options=options, service=service)
    browser.set_script_timeout(60)
    try:
        yield browser
    finally:
        browser.quit()


@pytest.fixture(scope="module")
def screenshot(driver):
    """``screenshot(name, element=None, *, scroll_to=None) -> Path``: save tests/browser/screenshots/<name>.png.

    Of the whole window, after scrolling ``scroll_to`` (an element) to the top if given; or of ``element`` alone.
    With MNISTLIB_BROWSER_REPO set they go to a subfolder named after that checkout.
    """
    folder = SCREENSHOTS if served_repo() == ROOT else SCREENSHOTS / served_repo().name
    folder.mkdir(parents=True, exist_ok=True)

    def save(name, element=None, *, scroll_to=None):
        path = folder / f"{name}.png"
        target = element if element is not None else scroll_to
        if target is not None:
            driver.execute_script("arguments[0].scrollIntoView({block: 'start'});", target)
            time.sleep(0.3)  # let the notebook settle after scrolling
        if element is None:
            driver.save_screenshot(str(path))
        else:
            element.screenshot(str(path))
        return path

    return save


# --------------------------------------------------------------------------------------------------------------------
# JupyterLab
# --------------------------------------------------------------------------------------------------------------------


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class JupyterLab:
    """A JupyterLab server started by the ``jupyterlab`` fixture.

    Attributes: ``url`` (``http://127.0.0.1:PORT/``), ``token``, ``root_dir`` (the temporary copy of the notebooks
    it serves; edit files there freely), ``repo`` (the checkout they were copied from), ``log_path``.
    """

    def __init__(self, workdir, repo, *, start_timeout=120):
        self.repo = repo
        self.root_dir = workdir / "notebooks"
        shutil.copytree(repo / "notebooks", self.root_dir, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        self.token = secrets.token_hex(16)
        self.url = f"http://127.0.0.1:{_free_port()}/"
        self.log_path = workdir / "jupyterlab.log"
        env = self._environment(workdir)
        command = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.url.rsplit(':', 1)[1].strip('/')}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root_dir}",
            "--LabApp.expose_app_in_browser=True",
        ]
        if os.geteuid() == 0:  # CI and containers run as root; Jupyter refuses that without the flag
            command.append("--allow-root")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command,
                cwd=self.root_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=die_with_parent,
            )
        try:
            self._wait_until_up(start_timeout)
        except BaseException:
            self.stop()
            raise

    def _environment(self, workdir):
        home = workdir / "home"
        dirs = {
            "HOME": home,
            "JUPYTER_CONFIG_DIR": home / ".jupyter",
            "JUPYTER_DATA_DIR": home / "jupyter-data",
            "JUPYTER_RUNTIME_DIR": workdir / "runtime",
            "IPYTHONDIR": home / ".ipython",
        }
        self.runtime_dir = dirs["JUPYTER_RUNTIME_DIR"]
        for folder in dirs.values():
            folder.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, **{name: str(path) for name, path in dirs.items()}, "JUPYTER_PLATFORM_DIRS": "1"}
        env.update(KERNEL_THREADS)
        for plugin, values in LAB_SETTINGS.items():
            path = dirs["JUPYTER_CONFIG_DIR"] / "lab" / "user-settings" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        if self.repo != ROOT:  # the kernel imports that checkout's mnistlib (PYTHONPATH beats the editable install)
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(self.repo), env.get("PYTHONPATH")]))
        return env

    def _wait_until_up(self, timeout):
        request = urllib.request.Request(self.url + "api/status", headers={"Authorization": f"token {self.token}"})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with code {self.process.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    if response.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.25)
        raise RuntimeError(f"JupyterLab did not answer at {self.url} within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, lines=40):
        """The last lines of the server's log (for failure messages)."""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def lab_url(self, path=""):
        """URL of ``path`` (relative to root_dir) in JupyterLab, with the token."""
        return f"{self.url}lab/tree/{path}?token={self.token}"

    def open(self, driver, path, *, timeout=120):
        """Open notebook ``path`` in ``driver`` and wait until its kernel is idle; return a NotebookPage."""
        driver.get(self.lab_url(path))
        page = NotebookPage(driver, path)
        page.wait_for(lambda: page.kernel_status() == "idle", timeout, f"the kernel of {path} to start")
        return page

    def stop(self):
        """SIGTERM (the server shuts its kernels down), SIGKILL if it hangs; then any kernel of this server left."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        for pid in self._kernel_pids():  # kernels run in sessions of their own; theirs name our runtime folder
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    def _kernel_pids(self):
        marker = str(self.runtime_dir).encode()
        pids = []
        for proc in Path("/proc").glob("[0-9]*"):
            with contextlib.suppress(OSError):
                if marker in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
        return pids


@pytest.fixture(scope="module")
def jupyterlab(tmp_path_factory):
    """A JupyterLab server serving a temporary copy of notebooks/ (see :class:`JupyterLab`); stopped afterwards."""
    require_browser()
    lab = JupyterLab(tmp_path_factory.mktemp("jupyterlab"), served_repo())
    try:
        yield lab
    finally:
        lab.stop()


# --------------------------------------------------------------------------------------------------------------------
# A notebook open in JupyterLab (driven through window.jupyterapp, exposed by --LabApp.expose_app_in_browser)
# --------------------------------------------------------------------------------------------------------------------

_PANEL_JS = """
const app = window.jupyterapp;
const panel = app && app.shell ? app.shell.currentWidget : null;
const ok = panel && panel.context && panel.context.path === arguments[0] && panel.content ? panel : null;
"""

_ERRORS_JS = """
const errors = [];
ok.content.widgets.forEach((cell, i) => {
  if (cell.model.type !== 'code') return;
  for (const out of cell.model.outputs.toJSON()) {
    if (out.output_type === 'error') errors.push(`cell ${i}: ${out.ename}: ${out.evalue}`);
  }
});
return errors;
"""


_PROGRESS_JS = """
const busy = ok.content.widgets.map((c, i) => [i, c.node.querySelector('.jp-InputPrompt')])
  .filter(([i, prompt]) => prompt && prompt.textContent.includes('*')).map(([i]) => i);
return [busy.length ? busy[0] : null, busy.length, ok.content.widgets.length];
"""


class NotebookPage:
    """The notebook ``path`` open in ``driver``'s JupyterLab tab."""

    def __init__(self, driver, path):
        self.driver = driver
        self.path = path

    def js(self, body, *args):
        """Run ``body`` with ``ok`` bound to the notebook panel (null when it is not the current tab)."""
        return self.driver.execute_script(_PANEL_JS + body, self.path, *args)

    def wait_for(self, condition, timeout, what, poll=0.5):
        """Poll ``condition()`` until it is truthy and return its value; fail after ``timeout`` seconds saying what
        was awaited (``what``: a string, or a function returning one, called only then)."""
        deadline = time.monotonic() + timeout
        while True:
            value = condition()
            if value:
                return value
            if time.monotonic() > deadline:
                pytest.fail(f"waited {timeout} s for {what() if callable(what) else what}", pytrace=False)
            time.sleep(poll)

    def progress(self):
        """Which cell runs and how many wait, e.g. 'cell 23 of 54 running, 30 cells waiting' (for timeout messages)."""
        running, busy, total = self.js(_PROGRESS_JS)
        return f"cell {running} of {total} running, {max(busy - 1, 0)} cells waiting" if busy else "no cell running"

    def kernel_status(self):
        return self.js(
            "const k = ok && ok.sessionContext.session ? ok.sessionContext.session.kernel : null;"
            "return k ? k.status : null;"
        )

    def command(self, command_id, args=None):
        """Start a JupyterLab command (e.g. 'notebook:run-all-cells') without waiting for it to finish."""
        self.driver.execute_script(
            "window.jupyterapp.commands.execute(arguments[0], arguments[1] || {});", command_id, args
        )

    def show_file_browser(self):
        """Open the left sidebar on the file browser, as a student has it."""
        self.driver.execute_script("window.jupyterapp.shell.activateById('filebrowser');")
        self.wait_for(
            lambda: self.driver.execute_script("return !window.jupyterapp.shell.leftCollapsed;"),
            10,
            "the file browser to open",
        )

    def run_all(self, timeout=900):
        """Run every cell (Run All), wait until all have run and the kernel is idle; fail on an error output.

        Returns the elapsed seconds.
        """
        started = time.monotonic()
        self.js(
            "window.__runAll = {done: false};"
            "window.jupyterapp.commands.execute('notebook:run-all-cells').then("
            "r => { window.__runAll = {done: true, ok: r}; },"
            "e => { window.__runAll = {done: true, ok: String(e)}; });"
        )
        done = self.wait_for(
            lambda: self.driver.execute_script("return window.__runAll.done && window.__runAll;"),
            timeout,
            lambda: f"Run All of {self.path} to finish ({self.progress()})",
            poll=2,
        )
        self.wait_for(lambda: self.kernel_status() == "idle", 60, "the kernel to become idle after Run All")
        errors = self.js(_ERRORS_JS)
        assert done["ok"] is True and not errors, f"Run All of {self.path} did not succeed ({done['ok']}): {errors}"
        return time.monotonic() - started

    def cell(self, needle):
        """The DOM node (WebElement) of the first cell whose source contains ``needle``, scrolled into view."""
        node = self.js(
            "if (!ok) return null;"
            "const cell = ok.content.widgets.find("
            "  c => c.model.sharedModel.getSource().includes(arguments[1]));"
            "if (cell) { ok.content.scrollToItem(ok.content.widgets.indexOf(cell), 'start'); }"
            "return cell ? cell.node : null;",
            needle,
        )
        assert node is not None, f"no cell of {self.path} contains {needle!r}"
        return node

    def output(self, needle):
        """The output area (``.jp-Cell-outputArea``) of the first cell whose source contains ``needle``."""
        from selenium.webdriver.common.by import By

        return self.cell(needle).find_element(By.CSS_SELECTOR, ".jp-Cell-outputArea")
