"""A student opens chapter 7 in JupyterLab, runs every cell and plays with its attention-head explorer.

The checks drive a real JupyterLab in headless Chromium (tests/browser.py's ``Browser``: Debian's ``chromium``
and ``chromium-driver``; ``make browser`` installs them, and without them every test here skips, saying so):

1. the working tree (tracked and new, not ignored, files) is copied to a temporary folder, so nothing the
   student does touches the repository, and ``jupyter lab`` is started there with its own empty Jupyter
   config, data and runtime folders (the developer's settings, trusted-notebook database and workspaces do
   not leak in), an empty ``COURSE_CACHE_DIR`` (every live run trains) and no ``COURSE_BATCH`` (a student's
   kernel has none, so progress bars are live tqdm widgets); the kernel imports the copy's ``helpers``;
2. the chapter opens without being marked modified (the notebooks carry the kernelspec JupyterLab writes),
   before and after its kernel has started, and no dialog or trust prompt stands in the way;
3. Run > Run All Cells (the menu, as a student would) finishes within ``RUN_ALL_TIMEOUT_S`` (no ``[*]`` prompt
   left, kernel idle) with every code cell run and no error. JupyterLab 4 shows a traceback as stderr
   (``data-mime-type="application/vnd.jupyter.stderr"``, like a warning or tqdm's text), so the notebook is
   then saved (File > Save, into the copy) and its outputs of type ``error`` are what fails; stderr is listed;
4. the training cells render tqdm progress-bar widgets (``.widget-hprogress``), each labelled with what it
   trains ("training 2-layer 64-wide GPT", not a bare "training:");
5. the attention-head explorer (the output of the cell that calls ``head_explorer(``) redraws its image (a
   new blob URL) when the ``head`` menu, and then the ``layer`` menu, changes;
6. screenshots after the run, of the first progress bar and of the explorer are saved in pytest's temporary
   folder; their paths are printed, with the time Run All took.

Run it alone with ``pytest tests/test_lab.py -s`` (or ``pytest -m browser``); it takes a few minutes, most of
them chapter 7's live training.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import browser
import pytest
from repo_url import copy_working_tree

pytestmark = [pytest.mark.book, pytest.mark.browser]

ROOT = Path(__file__).resolve().parents[1]
CHAPTER = "chapters/07_in_context_learning.ipynb"
EXPLORER_CALL = "head_explorer("  # the source of the cell whose output is the attention-head explorer
JUPYTER = Path(sys.executable).parent / "jupyter"  # the course's virtual environment

SERVER_TIMEOUT_S = 90  # jupyter lab answers /api/status
OPEN_TIMEOUT_S = 120  # JupyterLab has loaded and shows every cell of the notebook
KERNEL_TIMEOUT_S = 120  # the kernel has started and is idle
START_TIMEOUT_S = 30  # Run All has queued the cells
RUN_ALL_TIMEOUT_S = 360  # every cell has run
WIDGET_TIMEOUT_S = 30  # a widget has rendered, or redrawn after a change
POLL_S = 1.0

# Variables of the test process that a student's JupyterLab would not have: the suite's batch flag
# (conftest.py), its cache bookkeeping, and anything pointing Jupyter or IPython at the developer's settings.
NOT_A_STUDENTS = (
    "COURSE_BATCH",
    "COURSE_CACHE_NOTEBOOK",
    "PYTHONPATH",
    "MPLBACKEND",
    "JUPYTER_PATH",
    "JUPYTER_CONFIG_PATH",
    "JUPYTERLAB_DIR",
    "JUPYTERLAB_SETTINGS_DIR",
    "JUPYTERLAB_WORKSPACES_DIR",
    "JUPYTER_TOKEN",
    "IPYTHONDIR",
)

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# the left-hand text of a tqdm widget: "training the regression transformer:  45%" (the percentage is absent
# while the total is unknown)
_BAR_LABEL = re.compile(r"^\s*(?P<desc>.*?):?\s*(?:\d+%)?\s*$", re.S)


# --------------------------------------------------------------------------------------------------------
# The server


@dataclass
class Lab:
    """A running ``jupyter lab``: where it serves, its token, the copy of the course it serves, its log."""

    base: str
    token: str
    root: Path
    log: Path
    process: subprocess.Popen

    def url(self, path: str) -> str:
        """The address of ``path`` on this server, with the token."""
        return f"{self.base}{path}?token={self.token}"

    def api(self, path: str, method: str = "GET"):
        """Call the server's REST API at ``path``; the decoded JSON answer (None when empty)."""
        request = urllib.request.Request(self.url(path), method=method)
        with _loopback.open(request, timeout=10) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the server's log."""
        return self.log.read_text(encoding="utf-8", errors="replace")[-chars:]


# no proxy from the environment: the server is on loopback
_loopback = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def student_env(root: Path, home: Path) -> dict[str, str]:
    """The environment of a student's ``jupyter lab``: this one without the suite's settings, with Jupyter's
    and IPython's folders and the course's result cache empty, in ``home``, and the course at ``root``
    first on the kernel's path."""
    env = {k: v for k, v in os.environ.items() if k not in NOT_A_STUDENTS}
    for name, sub in (
        ("JUPYTER_CONFIG_DIR", "jupyter-config"),
        ("JUPYTER_DATA_DIR", "jupyter-data"),
        ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"),
        ("IPYTHONDIR", "ipython"),
        ("COURSE_CACHE_DIR", "course-cache"),
    ):
        (home / sub).mkdir(parents=True, exist_ok=True)
        env[name] = str(home / sub)
    env["PATH"] = os.pathsep.join([str(JUPYTER.parent), env.get("PATH", "")])
    env["PYTHONPATH"] = str(root)  # the copy's helpers, not the repository's editable install
    return env


def start_lab(root: Path, home: Path) -> Lab:
    """Start ``jupyter lab`` serving ``root`` (a process group of its own) and wait until it answers."""
    port, token = free_port(), secrets.token_hex(16)
    cmd = [
        str(JUPYTER), "lab", "--no-browser", f"--port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.token={token}", "--ServerApp.ip=127.0.0.1", f"--ServerApp.root_dir={root}",
    ]  # fmt: skip
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = home / "jupyter-lab.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            cmd, cwd=root, env=student_env(root, home), stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    lab = Lab(f"http://127.0.0.1:{port}/", token, root, log, process)
    end = time.monotonic() + SERVER_TIMEOUT_S
    while True:
        if process.poll() is not None:
            pytest.fail(f"jupyter lab exited with status {process.returncode}; its log:\n{lab.log_tail()}")
        with contextlib.suppress(OSError, ValueError):
            if "started" in lab.api("api/status"):
                return lab
        if time.monotonic() > end:
            stop_lab(lab)
            pytest.fail(
                f"jupyter lab did not answer {lab.base}api/status within {SERVER_TIMEOUT_S} s; its log:\n"
                + lab.log_tail()
            )
        time.sleep(0.5)


def stop_lab(lab: Lab) -> None:
    """Shut the server's kernels down, then terminate its process group (killed if it lingers)."""
    with contextlib.suppress(Exception):
        for kernel in lab.api("api/kernels"):
            lab.api(f"api/kernels/{kernel['id']}", method="DELETE")
    with contextlib.suppress(ProcessLookupError):
        os.killpg(lab.process.pid, signal.SIGTERM)
    try:
        lab.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(lab.process.pid, signal.SIGKILL)
        lab.process.wait(timeout=10)


# --------------------------------------------------------------------------------------------------------
# What the page shows (one script, returns JSON)

_STATE_JS = r"""
const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
const nb = panel && panel.querySelector('.jp-Notebook');
const indicator = panel && panel.querySelector('.jp-Notebook-ExecutionIndicator');
const chrome = [...document.querySelectorAll('#jp-main-statusbar, .jp-NotebookPanel-toolbar, .jp-Dialog, '
                                             + '.Toastify__toast')];
const out = {
  loaded: !!nb,
  kernel: indicator ? indicator.getAttribute('data-status') : null,
  dirty: [...document.querySelectorAll('.jp-mod-dirty')].map(e => e.className.replace(/\s+/g, ' ').trim()),
  dialogs: [...document.querySelectorAll('.jp-Dialog')].map(e => e.innerText.replace(/\s+/g, ' ').trim()),
  notices: [...document.querySelectorAll('.Toastify__toast')].map(e => e.innerText.replace(/\s+/g, ' ').trim()),
  trust: (document.querySelector('.jp-StatusItem-trust') || {}).title || null,
  trust_prompts: chrome.map(e => e.innerText).join(' ').match(/[^.\n]*(not trusted|untrusted|trust this)[^.\n]*/gi)
    || [],
  text: (document.body.innerText || '').replace(/\s+/g, ' ').trim().slice(0, 600),
  cells: [],
};
for (const cell of nb ? nb.querySelectorAll('.jp-Cell') : []) {
  const kind = cell.classList.contains('jp-CodeCell') ? 'code'
    : cell.classList.contains('jp-MarkdownCell') ? 'markdown' : 'raw';
  const prompt = cell.querySelector('.jp-InputArea-prompt');
  const outputs = [...cell.querySelectorAll('.jp-OutputArea-output')].map(o => ({
    mime: o.getAttribute('data-mime-type') || (o.querySelector('.jupyter-widgets') ? 'widget' : ''),
    text: (o.textContent || '').replace(/[^\S\n]+/g, ' ').slice(-2000),
  }));
  const bars = [...cell.querySelectorAll('.widget-hprogress, .widget-vprogress')].map(p => {
    const own = p.querySelector('.widget-label');
    const left = p.parentElement ? p.parentElement.querySelector('.widget-html-content') : null;
    const fill = p.querySelector('.progress-bar');
    return {label: ((own ? own.textContent : '') + ' ' + (left ? left.textContent : '')).replace(/\s+/g, ' ').trim(),
            style: fill ? fill.className : ''};
  });
  const line = cell.querySelector('.jp-InputArea-editor .cm-line');
  out.cells.push({kind, prompt: prompt ? prompt.textContent.trim() : '', source: line ? line.textContent : '',
                  outputs, bars});
}
return JSON.stringify(out);
"""


@dataclass
class State:
    """One reading of the page (see ``_STATE_JS``)."""

    loaded: bool
    kernel: str | None
    dirty: list[str]
    dialogs: list[str]
    notices: list[str]
    trust: str | None  # the status bar's trust indicator: "Notebook not trusted: 0 of 5 code cells trusted."
    trust_prompts: list[str]  # what the status bar, toolbar, dialogs or notifications say about trust
    text: str
    cells: list[dict]

    @property
    def prompts(self) -> list[str]:
        """The execution prompt of every code cell: "[3]:", "[*]:" (running or queued), "[ ]:" (not run)."""
        return [c["prompt"] for c in self.cells if c["kind"] == "code"]

    @property
    def running(self) -> bool:
        """Whether a code cell is running or queued."""
        return any("*" in p for p in self.prompts)

    @property
    def bars(self) -> list[dict]:
        """Every progress bar on the page, with the index of its cell."""
        return [{**bar, "cell": i} for i, c in enumerate(self.cells) for bar in c["bars"]]

    def describe(self) -> str:
        """What the page shows, for a failure message."""
        lines = [f"kernel status: {self.kernel}; {len(self.cells)} cells shown"]
        if self.cells:
            lines.append("code cell prompts: " + " ".join(self.prompts))
            code = [i for i, c in enumerate(self.cells) if c["kind"] == "code"]
            busy = [i for i in code if "*" in self.cells[i]["prompt"]]
            done = [i for i in code if re.search(r"\d", self.cells[i]["prompt"])]
            if busy or done:
                at = busy[0] if busy else done[-1]
                cell = self.cells[at]
                tail = " | ".join(o["text"].strip()[-300:] for o in cell["outputs"][-2:])
                lines.append(
                    f"{'running' if busy else 'last run'}: cell #{at} {cell['prompt']} {cell['source'][:80]!r}, "
                    f"its output ends: {tail!r}"
                )
        if self.dialogs:
            lines.append(f"dialogs: {self.dialogs}")
        if self.notices:
            lines.append(f"notifications: {self.notices}")
        lines.append(f"page text: {self.text[:400]!r}")
        return "\n  ".join(lines)


def read_state(driver) -> State:
    """Read what the page shows now."""
    return State(**json.loads(driver.execute_script(_STATE_JS)))


def wait_for(driver, what: str, done, timeout_s: float, poll_s: float = POLL_S) -> State:
    """Read the page every ``poll_s`` seconds until ``done(state)`` holds; the state it held in. After
    ``timeout_s`` seconds, fail with ``what`` was awaited and what the page showed."""
    end = time.monotonic() + timeout_s
    while True:
        state = read_state(driver)
        if done(state):
            return state
        if time.monotonic() > end:
            pytest.fail(f"waited {timeout_s:.0f} s for {what}; the page shows:\n  {state.describe()}", pytrace=False)
        time.sleep(poll_s)


def bar_description(label: str) -> str:
    """What a progress bar's label says it counts: "training 2-layer 64-wide GPT: 100%" -> "training 2-layer
    64-wide GPT"."""
    return _BAR_LABEL.match(label)["desc"].strip()


# --------------------------------------------------------------------------------------------------------
# Fixtures: the server, the browser with the chapter open, the run of every cell


@dataclass(repr=False)
class Opened:
    """The chapter open in JupyterLab: the browser, the notebook as saved, and the page just after it
    loaded and once its kernel was idle."""

    session: browser.Browser
    root: Path  # the copy of the course the server serves
    notebook: dict
    at_load: State
    at_idle: State
    out: Path

    @property
    def driver(self):
        """The Selenium driver."""
        return self.session.driver


@dataclass(repr=False)
class Run:
    """Run All Cells, done: how long it took, the page and the saved notebook afterwards, and every progress
    bar description seen while it ran."""

    seconds: float
    state: State
    saved: dict  # the notebook as File > Save wrote it afterwards (into the copy)
    labels_seen: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """``jupyter lab`` serving a copy of the working tree, as a student would start it; stopped afterwards."""
    missing = browser.missing_binaries()
    if missing:
        pytest.skip(
            f"JupyterLab browser checks skipped: {' and '.join(missing)} not installed; run `make browser` "
            "(apt-get install -y chromium chromium-driver)"
        )
    missing = browser.missing_python_packages()
    if missing:
        pytest.skip(
            f"JupyterLab browser checks skipped: Python package {', '.join(missing)} missing; install requirements.txt"
        )
    if not JUPYTER.exists():
        pytest.skip(f"JupyterLab browser checks skipped: {JUPYTER} not found; install requirements.txt")
    root = copy_working_tree(tmp_path_factory.mktemp("course-copy"))
    server = start_lab(root, tmp_path_factory.mktemp("student-home"))
    try:
        yield server
    finally:
        stop_lab(server)


@pytest.fixture(scope="module")
def opened(lab, tmp_path_factory) -> Opened:
    """Headless Chromium with the chapter open in JupyterLab and its kernel idle."""
    notebook = json.loads((lab.root / CHAPTER).read_text(encoding="utf-8"))
    n_cells = len(notebook["cells"])
    session = browser.Browser()
    try:
        # JupyterLab's scripts are large and the same on every load: let the browser cache them
        session.driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": False})
        session.driver.get(lab.url(f"lab/tree/{CHAPTER}"))
        at_load = wait_for(
            session.driver,
            f"JupyterLab to show all {n_cells} cells of {CHAPTER}",
            lambda s: len(s.cells) == n_cells,
            OPEN_TIMEOUT_S,
            poll_s=0.25,
        )
        wait_for(session.driver, "the notebook's kernel to start", lambda s: s.kernel == "idle", KERNEL_TIMEOUT_S)
        time.sleep(2 * POLL_S)  # anything JupyterLab writes into the notebook once its kernel is there
        at_idle = read_state(session.driver)
        yield Opened(session, lab.root, notebook, at_load, at_idle, tmp_path_factory.mktemp("lab-screenshots"))
    finally:
        _report_console(session)
        session.close()


@pytest.fixture(scope="module")
def ran(opened: Opened) -> Run:
    """Run > Run All Cells, clicked in the menu bar; waits until every cell has run, then File > Save."""
    driver = opened.driver
    before = read_state(driver).prompts
    _menu(driver, "Run", "runmenu:run-all")
    start = time.perf_counter()
    started = lambda s: s.prompts != before
    wait_for(driver, "Run All Cells to start (a cell prompt to change)", started, START_TIMEOUT_S, poll_s=0.2)
    labels: list[str] = []
    settled = 0

    def finished(state: State) -> bool:
        nonlocal settled
        for bar in state.bars:
            if bar_description(bar["label"]) not in labels:
                labels.append(bar_description(bar["label"]))
        settled = settled + 1 if not state.running and state.kernel == "idle" else 0
        return settled >= 2  # idle twice in a row: not the pause between two cells

    state = wait_for(driver, "Run All Cells to finish (no [*] prompt, kernel idle)", finished, RUN_ALL_TIMEOUT_S)
    seconds = time.perf_counter() - start
    shot = opened.out / "after-run-all.png"
    driver.save_screenshot(str(shot))
    print(f"\nRun All Cells of {CHAPTER}: {seconds:.0f} s; screenshot {shot}")
    # JupyterLab shows a traceback as stderr (data-mime-type application/vnd.jupyter.stderr, like a warning):
    # the saved notebook tells them apart (output_type "error")
    _menu(driver, "File", "docmanager:save")
    wait_for(
        driver, "File > Save Notebook to finish (the modified mark to go)", lambda s: not s.dirty, WIDGET_TIMEOUT_S
    )
    saved = json.loads((opened.root / CHAPTER).read_text(encoding="utf-8"))
    for i, cell in enumerate(saved["cells"]):
        for o in cell.get("outputs", []):
            if o.get("name") == "stderr":
                print(f"  stderr of cell #{i} [{cell['execution_count']}]: {_text(o['text'])[:300]!r}")
    return Run(seconds, state, saved, labels)


def _menu(driver, menu: str, command: str) -> None:
    """Click ``menu`` in JupyterLab's menu bar, then its item that runs ``command``."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.XPATH, f"//div[contains(@class, 'lm-MenuBar-itemLabel') and text()='{menu}']").click()
    driver.find_element(By.CSS_SELECTOR, f"li.lm-Menu-item[data-command='{command}']").click()


def _report_console(session: browser.Browser) -> None:
    """Print the browser's SEVERE console entries, for the record (they fail no test)."""
    with contextlib.suppress(Exception):
        severe = [e["message"] for e in session.driver.get_log("browser") if e["level"] == "SEVERE"]
        if severe:
            print(f"\nbrowser console: {len(severe)} SEVERE entries, the first: " + " | ".join(severe[:5]))


def _text(value) -> str:
    return "".join(value) if isinstance(value, list) else value


def _source(cell: dict) -> str:
    return _text(cell["source"])


def _first_line(cell: dict) -> str:
    return next((line for line in _source(cell).splitlines() if line.strip()), "")[:100]


# --------------------------------------------------------------------------------------------------------


def _fail_if(problems: list[str], header: str) -> None:
    """Fail with the header and one problem a line when there are problems (no traceback: the message says
    it all)."""
    if problems:
        pytest.fail("\n  ".join([header, *problems]), pytrace=False)


def _notebook_cells(driver) -> list:
    """The cells of the open notebook, as elements, in order."""
    from selenium.webdriver.common.by import By

    return driver.find_elements(By.CSS_SELECTOR, ".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")


def test_the_chapter_opens_unmodified_with_nothing_to_trust_or_confirm(opened: Opened):
    """Opening the chapter marks nothing modified, before or after its kernel starts; no dialog or prompt
    about trust is shown, and every saved output is displayed although the notebook is not trusted yet (a
    fresh clone never is: JupyterLab trusts what it has run itself)."""
    print(f"\ntrust indicator at load: {opened.at_load.trust!r}; once the kernel was idle: {opened.at_idle.trust!r}")
    problems = []
    for when, state in (("right after it loaded", opened.at_load), ("once its kernel was idle", opened.at_idle)):
        if state.dirty:
            problems.append(f"{when}, the notebook is marked modified (.jp-mod-dirty on: {state.dirty})")
        if state.dialogs:
            problems.append(f"{when}, a dialog is open: {state.dialogs}")
        if state.trust_prompts:
            problems.append(f"{when}, JupyterLab asks about trust: {state.trust_prompts}")
    for i, (saved, shown) in enumerate(zip(opened.notebook["cells"], opened.at_idle.cells)):
        if saved.get("outputs") and not shown["outputs"]:
            problems.append(f"cell #{i} ({_first_line(saved)!r}) has {len(saved['outputs'])} saved outputs, none shown")
    _fail_if(problems, f"opening {CHAPTER} in JupyterLab:")


def test_run_all_cells_runs_every_cell_without_an_error(ran: Run):
    """Run > Run All Cells runs every code cell, and none ends in an error (a traceback) or shows a widget
    that failed to display."""
    cells = ran.saved["cells"]
    problems = [
        f"cell #{i} [{c['execution_count']}] ({_first_line(c)!r}) raised {o['ename']}: {o['evalue']}\n"
        + _ANSI.sub("", "\n".join(o["traceback"]))[-1500:]
        for i, c in enumerate(cells)
        for o in c.get("outputs", [])
        if o["output_type"] == "error"
    ]
    problems += [
        f"cell #{i} {c['prompt']} shows: {o['text'].strip()[-300:]!r}"
        for i, c in enumerate(ran.state.cells)
        for o in c["outputs"]
        if "Error displaying widget" in o["text"]
    ]
    not_run = [
        f"#{i} ({_first_line(c)!r})"
        for i, c in enumerate(cells)
        if c["cell_type"] == "code" and not c["execution_count"]
    ]
    if not_run:
        problems.append(f"{len(not_run)} code cells were left unrun: {', '.join(not_run)}")
    _fail_if(problems, f"Run All Cells of {CHAPTER} in a student's JupyterLab:")


def test_progress_bars_are_widgets_that_say_what_they_train(opened: Opened, ran: Run):
    """The live training cells show tqdm widgets (no COURSE_BATCH in a student's kernel), each labelled with
    what it trains, not a bare "training:", and none ended in tqdm's error style."""
    from selenium.webdriver.common.by import By

    bars = ran.state.bars
    print(f"\nprogress bars after the run: {[(b['cell'], b['label']) for b in bars]}")
    if not bars:
        pytest.fail(
            "no progress-bar widget (.widget-hprogress) in the notebook after Run All Cells; bars seen while it "
            f"ran: {ran.labels_seen}",
            pytrace=False,
        )
    bar = opened.driver.find_element(By.CSS_SELECTOR, ".jp-NotebookPanel:not(.lm-mod-hidden) .widget-hprogress")
    opened.driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", bar)
    shot = opened.out / "progress-bar.png"
    opened.driver.save_screenshot(str(shot))
    print(f"first progress bar: screenshot {shot}")
    problems = [
        f"cell #{b['cell']}: {b['label']!r} does not say what it trains"
        for b in bars
        if bar_description(b["label"]) in ("", "training")
    ]
    problems += [
        f"cell #{b['cell']}: {b['label']!r} ended in the error style (interrupted or failed: {b['style']})"
        for b in bars
        if "danger" in b["style"]
    ]
    _fail_if(problems, "progress bars after Run All Cells:")


def test_the_attention_head_explorer_redraws_when_a_menu_changes(opened: Opened, ran: Run):
    """Choosing another head, then another layer, in the explorer's menus redraws its image."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    cells = opened.notebook["cells"]
    found = [i for i, c in enumerate(cells) if c["cell_type"] == "code" and EXPLORER_CALL in _source(c)]
    if not found:
        pytest.fail(f"no code cell of {CHAPTER} calls {EXPLORER_CALL!r}", pytrace=False)
    index = found[0]
    where = f"cell #{index} ({_first_line(cells[index])!r})"
    if not ran.saved["cells"][index].get("execution_count"):
        pytest.fail(f"the explorer's {where} did not run (see the Run All test)", pytrace=False)
    driver = opened.driver

    def controls() -> tuple[dict, str | None]:
        cell = _notebook_cells(driver)[index]
        menus = {}
        for box in cell.find_elements(By.CSS_SELECTOR, ".jp-OutputArea .widget-dropdown"):
            label = box.find_element(By.CSS_SELECTOR, "label").get_attribute("textContent").strip()
            menus[label] = box.find_element(By.CSS_SELECTOR, "select")
        images = cell.find_elements(By.CSS_SELECTOR, ".jp-OutputArea .jupyter-widgets img")
        ready = images and driver.execute_script("return arguments[0].complete && arguments[0].naturalWidth", images[0])
        return menus, images[0].get_attribute("src") if ready else None

    def await_(what: str, ok) -> tuple[dict, str | None]:
        end = time.monotonic() + WIDGET_TIMEOUT_S
        while True:
            menus, src = controls()
            if ok(menus, src):
                return menus, src
            if time.monotonic() > end:
                shown = _notebook_cells(driver)[index].get_attribute("textContent").strip()[-600:]
                pytest.fail(
                    f"waited {WIDGET_TIMEOUT_S} s for {what} in {where}; menus shown: {sorted(menus)}, image src: "
                    f"{(src or 'none')[:80]}; the cell shows: {shown!r}",
                    pytrace=False,
                )
            time.sleep(0.25)

    menus, src = await_(
        "the explorer's layer and head menus and its image", lambda m, s: {"layer", "head"} <= set(m) and s
    )
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", _notebook_cells(driver)[index])
    seen = {src}
    for name in ("head", "layer"):
        menu = Select(menus[name])
        before = menu.first_selected_option.get_attribute("value")
        choice = next(o.get_attribute("value") for o in menu.options if o.get_attribute("value") != before)
        menu.select_by_value(choice)
        menus, src = await_(
            f"the image to redraw after choosing {name} {choice} (was {before})", lambda m, s: s and s not in seen
        )
        now = Select(menus[name]).first_selected_option.get_attribute("value")
        assert now == choice, f"the {name} menu of {where} shows {now} after choosing {choice}"
        seen.add(src)
    size = driver.execute_script(
        "const i = arguments[0]; return [i.naturalWidth, i.naturalHeight, i.clientWidth, i.clientHeight]",
        _notebook_cells(driver)[index].find_element(By.CSS_SELECTOR, ".jp-OutputArea .jupyter-widgets img"),
    )
    shot = opened.out / "head-explorer.png"
    driver.save_screenshot(str(shot))
    print(
        f"\nhead explorer redrew for a new head and a new layer; its image is {size[0]}x{size[1]} px, shown at "
        f"{size[2]}x{size[3]} px; screenshot {shot}"
    )
