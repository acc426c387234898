"""Headless Chromium, driven by Selenium, that loads every page of the built book and measures it.

Used by ``tests/test_browser.py``. The browser is Debian's ``chromium`` with its matching ``chromium-driver``
(``make browser`` installs both); Selenium is pointed at ``/usr/bin/chromedriver`` explicitly, so Selenium
Manager never runs and nothing is downloaded.

The browser gets no network beyond loopback: every host name except ``127.0.0.1`` fails to resolve
(``--host-resolver-rules``), whether or not the machine is online, so the measurements are the same
everywhere. A page's requests to other hosts (MathJax from its CDN) therefore fail; those failures are
kept apart from real console errors (see ``Visit.tolerated``).

One ``Browser`` visits each page once per window width and keeps a ``Visit`` with everything the tests
check: console entries, the bytes loaded, what overflows, widget controls and images.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")  # Debian's chromium
CHROMEDRIVER = Path("/usr/bin/chromedriver")  # Debian's chromium-driver, the same version
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
BUILD_TIMEOUT_S = 600
PAGE_TIMEOUT_S = 60
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# "https://cdn.example/x.js - Failed to load resource: net::ERR_NAME_NOT_RESOLVED", or "... - Failed to load
# resource: the server responded with a status of 404 (File not found)"
_FAILED_LOAD = re.compile(r"^(?P<url>\S+) - Failed to load resource: (?P<why>.+)$")


def missing_binaries() -> list[str]:
    """The browser binaries that are not installed, as paths (empty when both are there)."""
    return [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not (path.is_file() and os.access(path, os.X_OK))]


def missing_python_packages() -> list[str]:
    """Python packages the browser test needs that this environment lacks."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return ["selenium"]
    return []


def book_pages() -> list[str]:
    """Every page of _toc.yml (the root first), as written there: "intro", "chapters/02_scaling_laws"."""
    import yaml

    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    found = [toc["root"]]

    def walk(node):
        if isinstance(node, dict):
            if "file" in node:
                found.append(node["file"])
            for key, value in node.items():
                if key != "root":
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(toc)
    return list(dict.fromkeys(found))


def png_dpi(path: Path) -> float | None:
    """The resolution a PNG says it was saved at (its pHYs chunk, which matplotlib writes), or None."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind == b"pHYs" and length == 9:
            x_per_m, _, unit = struct.unpack(">IIB", data[pos + 8 : pos + 17])
            return x_per_m * 0.0254 if unit == 1 else None
        if kind in (b"IDAT", b"IEND"):
            return None
        pos += 12 + length
    return None


# --------------------------------------------------------------------------------------------------------
# Building and serving the book


@dataclass
class Build:
    """The result of one ``jupyter-book build``: where the HTML is, the exit status and the log."""

    html: Path
    returncode: int | None  # None: the build ran past BUILD_TIMEOUT_S
    log: str
    seconds: float


def build_book(out: Path) -> Build:
    """Build the book from the repository's sources into ``out`` (the repository's ``_build`` is left alone),
    with the flags CI uses: every warning is an error, but ``--keep-going`` still writes every page."""
    cmd = [
        str(JUPYTER_BOOK),
        "build",
        str(ROOT),
        "--path-output",
        str(out),
        "--warningiserror",
        "--nitpick",
        "--keep-going",
        "--builder",
        "html",
    ]
    env = {**os.environ, "NO_COLOR": "1"}
    env.pop("FORCE_COLOR", None)
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT_S)
        returncode, parts = proc.returncode, (proc.stdout, proc.stderr)
    except subprocess.TimeoutExpired as exc:  # it carries bytes whatever text= says
        returncode = None
        parts = [p.decode("utf-8", "replace") if isinstance(p, bytes) else (p or "") for p in (exc.stdout, exc.stderr)]
    log = _ANSI.sub("", "\n".join(parts))
    (out / "build.log").write_text(log, encoding="utf-8")
    return Build(out / "_build" / "html", returncode, log, time.perf_counter() - start)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - the signature of the method it overrides
        pass


@contextlib.contextmanager
def serve(directory: Path):
    """Serve ``directory`` over http on 127.0.0.1 (a free port) from a thread; yields the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="book-http", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------------------------------------
# What one visit records


@dataclass
class Visit:
    """Everything measured on one page at one window width."""

    page: str
    width: int
    url: str
    console: list[dict] = field(default_factory=list)  # the browser log, every level
    resources: list[dict] = field(default_factory=list)  # {"name", "bytes", "type"} for the document and each
    layout: dict = field(default_factory=dict)  # page-level widths
    wide: list[dict] = field(default_factory=list)  # what makes the page wider than the window
    overflows: list[dict] = field(default_factory=list)  # elements cut off (see _MEASURE_JS)
    controls: list[dict] = field(default_factory=list)  # widget controls inside the article
    images: list[dict] = field(default_factory=list)  # every img inside the article

    @property
    def weight(self) -> int:
        """Bytes of the document and every resource it loaded (transfer size, or body size if larger)."""
        return sum(r["bytes"] for r in self.resources)

    @property
    def tolerated(self) -> list[tuple[str, str]]:
        """SEVERE console entries that are not the book's fault, each with the reason it is tolerated."""
        return [(e["message"], why) for e in self.console if (why := _tolerated(e))]

    @property
    def errors(self) -> list[str]:
        """SEVERE console entries that are not tolerated: real errors."""
        return [e["message"] for e in self.console if e["level"] == "SEVERE" and not _tolerated(e)]


def _tolerated(entry: dict) -> str:
    """Why a console entry is not an error of the book ("" when it is one, or is no error at all).

    - a request to a host other than loopback failed: the test browser has no network, so the CDN copy of
      MathJax cannot load (a reader online gets it);
    - the browser's own request for /favicon.ico at the server root: the book declares no favicon, and
      browsers ask for one whatever the page says.
    """
    match = _FAILED_LOAD.match(entry["message"])
    if entry["level"] != "SEVERE" or not match:
        return ""
    url = urlsplit(match["url"])
    if (url.hostname or "") not in LOOPBACK_HOSTS:
        return f"external request blocked: the test browser has no network ({match['why']})"
    if url.path == "/favicon.ico":
        return "the browser's own request for /favicon.ico (the book declares no favicon)"
    return ""


# --------------------------------------------------------------------------------------------------------
# In-page measurements (one script, returns JSON)

_MEASURE_JS = r"""
const root = document.querySelector('.bd-article') || document.querySelector('article')
  || document.querySelector('main');
const de = document.documentElement;
const out = {layout: {innerWidth: window.innerWidth, clientWidth: de.clientWidth, scrollWidth: de.scrollWidth,
                      root: root ? root.className : null},
             wide: [], overflows: [], controls: [], images: [], resources: []};

function describe(el) {
  const text = (el.innerText || el.getAttribute('alt') || el.textContent || '').replace(/\s+/g, ' ').trim();
  let path = [];
  for (let e = el; e && e !== root && path.length < 4; e = e.parentElement) {
    path.unshift(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
      + (e.classList.length ? '.' + [...e.classList].slice(0, 3).join('.') : ''));
  }
  let section = el.closest('section[id]');
  return {tag: el.tagName.toLowerCase(), cls: el.className && el.className.baseVal === undefined ? el.className : '',
          path: path.join(' > '), section: section ? section.id : '', text: text.slice(0, 80)};
}
function scrolls(el) {
  const o = getComputedStyle(el).overflowX;
  return o === 'auto' || o === 'scroll';
}
// the nearest box from el up to (not including) the article root that scrolls sideways, or null: the
// article root itself does not count, or a whole article that scrolls sideways would pass
function scroller(el) {
  for (let e = el; e && e !== root; e = e.parentElement) {
    if (scrolls(e)) return e;
  }
  return null;
}

// What makes the page wider than the window: the outermost elements that reach past its right edge, are
// shown, and sit in no box that scrolls or clips sideways and in no fixed box.
if (de.scrollWidth > de.clientWidth + 1) {
  const past = new Set();
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= de.clientWidth + 1) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden' || style.position === 'fixed') continue;  // a drawer off screen
    let inside = false;
    for (let e = el.parentElement; e && e !== document.body; e = e.parentElement) {
      const s = getComputedStyle(e);
      if (s.overflowX !== 'visible' || s.position === 'fixed') { inside = true; break; }
    }
    if (!inside) past.add(el);
  }
  for (const el of past) {
    if (past.has(el.parentElement)) continue;
    out.wide.push({...describe(el), left: Math.round(el.getBoundingClientRect().left),
                   right: Math.round(el.getBoundingClientRect().right)});
  }
}

if (root) {
  const rootBox = root.getBoundingClientRect();
  out.layout.articleWidth = Math.round(rootBox.width);
  for (const el of root.querySelectorAll('pre, .cell_output, table, .math, mjx-container, img')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // not displayed (a collapsed block)
    const sc = scroller(el);
    if (sc) continue;  // it, or a box around it inside the article, scrolls sideways
    const style = getComputedStyle(el);
    // 1. the element's own content is wider than its box
    if (el.scrollWidth > el.clientWidth + 1) {
      out.overflows.push({...describe(el), why: 'content wider than its box, and no box around it scrolls',
                          scrollWidth: el.scrollWidth, clientWidth: el.clientWidth, overflowX: style.overflowX,
                          whiteSpace: style.whiteSpace});
    // 2. the element's box sticks out of the article column
    } else if (box.right > rootBox.right + 1 || box.left < rootBox.left - 1) {
      out.overflows.push({...describe(el), why: 'box extends past the edge of the article column',
                          boxLeft: Math.round(box.left), boxRight: Math.round(box.right),
                          columnLeft: Math.round(rootBox.left), columnRight: Math.round(rootBox.right),
                          width: Math.round(box.width), overflowX: style.overflowX});
    }
  }
  const controlSelector = 'input, select, textarea, .jupyter-widgets, .widget-slider, .widget-dropdown, '
    + '.widget-button, script[type^="application/vnd.jupyter.widget"]';
  for (const el of root.querySelectorAll(controlSelector)) {
    if (el.tagName === 'INPUT' && el.type === 'hidden') continue;
    out.controls.push({...describe(el), type: el.getAttribute('type') || ''});
  }
  // an ipywidgets widget saved without its state renders as its repr: "VBox(children=(FloatSlider(..."
  const widgetRepr = new RegExp('^\\s*(VBox|HBox|Box|GridBox|Tab|Accordion|interactive|'
    + '[A-Z]\\w*(Slider|Dropdown|Button|Text|Select|Picker|Progress|Checkbox|Toggle\\w*))\\(');
  for (const el of root.querySelectorAll('.cell_output pre')) {
    if (widgetRepr.test(el.textContent)) {
      out.controls.push({...describe(el), type: 'widget repr printed as text'});
    }
  }
  let index = 0;
  for (const img of root.querySelectorAll('img')) {
    const box = img.getBoundingClientRect();
    out.images.push({index: index++, src: img.getAttribute('src'), alt: img.getAttribute('alt'),
                     complete: img.complete, naturalWidth: img.naturalWidth, naturalHeight: img.naturalHeight,
                     width: box.width, height: box.height, section: describe(img).section});
  }
}
for (const e of performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))) {
  out.resources.push({name: e.name, type: e.initiatorType || e.entryType,
                      bytes: Math.max(e.transferSize || 0, e.encodedBodySize || 0)});
}
return JSON.stringify(out);
"""


class Browser:
    """One headless Chromium session, reused for every page and width."""

    def __init__(self):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        self._profile = tempfile.mkdtemp(prefix="course-chromium-")
        options = webdriver.ChromeOptions()
        options.binary_location = str(CHROMIUM)
        for arg in (
            "--headless=new",
            "--no-sandbox",  # the suite often runs as root in a container
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--hide-scrollbars",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
            f"--user-data-dir={self._profile}",
            "--window-size=1400,1000",
        ):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(executable_path=str(CHROMEDRIVER), log_output=subprocess.DEVNULL)
        self.driver = webdriver.Chrome(service=service, options=options)
        self.driver.set_page_load_timeout(PAGE_TIMEOUT_S)
        # every page loads everything afresh, so each page's weight counts the assets it shares with others
        self.driver.execute_cdp_cmd("Network.enable", {})
        self.driver.execute_cdp_cmd("Network.setCacheDisabled", {"cacheDisabled": True})
        self.driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument",
            {"source": "performance.setResourceTimingBufferSize(100000);"},
        )
        self.width = None

    def set_width(self, width: int, height: int = 1000) -> None:
        """Lay pages out in a viewport ``width`` CSS pixels wide (device pixel ratio 1, desktop)."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        self.width = width

    def visit(self, page: str, url: str) -> Visit:
        """Load ``url``, wait until it and its late assets have loaded, and measure it."""
        self.driver.get_log("browser")  # drop what earlier pages logged
        self.driver.get(url)
        self._settle()
        data = json.loads(self.driver.execute_script(_MEASURE_JS))
        console = [
            {"level": e["level"], "message": e["message"], "source": e.get("source", "")}
            for e in self.driver.get_log("browser")
        ]
        return Visit(
            page=page,
            width=self.width,
            url=url,
            console=console,
            resources=data["resources"],
            layout=data["layout"],
            wide=data["wide"],
            overflows=data["overflows"],
            controls=data["controls"],
            images=data["images"],
        )

    def _settle(self, quiet_s: float = 0.4, timeout_s: float = 15) -> None:
        """Wait for the load event, then until no new resource has arrived for ``quiet_s`` seconds (scripts
        with ``defer``/``async`` fetch more after load: fonts, lazily created elements)."""
        end = time.monotonic() + timeout_s
        count = -1
        while time.monotonic() < end:
            state, n = self.driver.execute_script(
                "return [document.readyState, performance.getEntriesByType('resource').length]"
            )
            if state == "complete" and n == count:
                return
            count = n
            time.sleep(quiet_s)

    def close(self) -> None:
        """Quit the browser and remove its profile."""
        with contextlib.suppress(Exception):
            self.driver.quit()
        shutil.rmtree(self._profile, ignore_errors=True)
