"""Every page of the built book, opened in a real browser, is whole, light, quiet and legible.

The book is built from the repository's sources into a temporary folder (as in tests/test_book.py), served
over http on 127.0.0.1, and loaded in headless Chromium (Debian's ``chromium`` and ``chromium-driver``;
``make browser`` installs them, and without them every test here skips, saying so). One browser session
visits each page of ``_toc.yml`` at window widths of 1400 px and 400 px. The generated ``genindex.html`` and
``search.html`` are left out: they hold no content of the book (the index is empty), and the search page's
only content is the theme's own search form.

The browser has no network beyond loopback (see tests/browser.py): MathJax, which the book loads from a CDN,
cannot load, so maths shows as TeX source here, and the failed request is tolerated and listed in the
browser report printed at the end of the run, apart from real console errors.

The checks, one parametrized test each:

1. no console errors (SEVERE entries of the browser log), at both widths;
2. each page loads at most 2 MB (document plus every resource, Resource Timing API);
3. nothing is cut off, at both widths: the page does not scroll sideways, and no ``pre``, cell output, table,
   maths or image in the article is wider than its box unless a box around it scrolls;
4. no widget controls in the article (the notebooks keep no widget state, so a widget would be inert);
5. every figure has alt text, and its smallest text (the 8 pt legend of helpers/book/plots.py's STYLE)
   renders at 9 px or more at 1400 px.

Run it alone with ``pytest tests/test_browser.py`` (or ``pytest -m browser``).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from urllib.parse import urljoin, urlsplit

import browser
import pytest

from helpers.book.plots import STYLE

# "book" keeps these out of `make test-unit` (-m "not book"); `pytest -m browser` runs the browser checks alone.
pytestmark = [pytest.mark.book, pytest.mark.browser]

PAGES = browser.book_pages()
WIDTHS = (1400, 400)
FIGURE_WIDTH = 1400  # the width the figure text is measured at (a laptop)
MAX_PAGE_BYTES = 2_000_000
MIN_TEXT_PX = 9.0
# The smallest font of the course's figure style (the legend) and the resolution figures are saved at.
SMALLEST_FONT_PT = min(v for k, v in STYLE.items() if k.endswith("size") and isinstance(v, (int, float)))
DEFAULT_DPI = STYLE["savefig.dpi"]


# Console errors whose cause is known, with a pointer to the fix.
KNOWN_CAUSES = {
    "THEBE_JS_URL": (
        "\n    cause: Sphinx 7.4 writes inline scripts added after the builder starts twice (sphinx-thebe's"
        " `const THEBE_JS_URL`); the book does not use thebe: drop sphinx_thebe from the extensions"
    ),
}


@dataclass
class Book:
    """The built book and every page's visit, keyed by (page, width)."""

    html: Path
    visits: dict[tuple[str, int], browser.Visit | None]


class _Report:
    """Prints the browser report at the end of the pytest run (a plugin registered by the fixture)."""

    def __init__(self, text: str):
        self.text = text

    def pytest_terminal_summary(self, terminalreporter):
        """Write the report below the test results."""
        terminalreporter.write_sep("-", "browser report (tests/test_browser.py)")
        terminalreporter.write_line(self.text)


@pytest.fixture(scope="session")
def book(tmp_path_factory, request) -> Book:
    """Build the book, then visit every page at every width in one headless Chromium session."""
    missing = browser.missing_binaries()
    if missing:
        pytest.skip(
            f"browser checks skipped: {' and '.join(missing)} not installed; run `make browser` "
            "(apt-get install -y chromium chromium-driver)"
        )
    missing = browser.missing_python_packages()
    if missing:
        pytest.skip(f"browser checks skipped: Python package {', '.join(missing)} missing; install requirements.txt")

    out = tmp_path_factory.mktemp("browser-book")
    build = browser.build_book(out)
    if not (build.html / "index.html").exists():
        pytest.fail(f"the book build wrote no {build.html / 'index.html'}; log at {out / 'build.log'}", pytrace=False)

    start = time.perf_counter()
    visits: dict[tuple[str, int], browser.Visit | None] = {}
    session = browser.Browser()
    try:
        with browser.serve(build.html) as base:
            for width in WIDTHS:
                session.set_width(width)
                for page in PAGES:
                    built = (build.html / f"{page}.html").exists()
                    visits[page, width] = session.visit(page, f"{base}{page}.html") if built else None
    finally:
        session.close()
    seconds = time.perf_counter() - start

    report = _report_text(build, visits, seconds)
    (out / "browser-report.txt").write_text(report + "\n", encoding="utf-8")
    request.config.pluginmanager.register(_Report(report), "course-browser-report")
    return Book(build.html, visits)


def _report_text(build: browser.Build, visits: dict, seconds: float) -> str:
    lines = [
        f"book built in {build.seconds:.0f} s (exit status {build.returncode}"
        + ("" if build.returncode == 0 else "; warnings are errors: see tests/test_book.py")
        + f"); {len(visits)} page visits in {seconds:.0f} s",
        f"page weight at {WIDTHS[0]} px (limit {MAX_PAGE_BYTES / 1e6:.1f} MB):",
    ]
    for page in PAGES:
        visit = visits.get((page, WIDTHS[0]))
        if visit:
            top = max(visit.resources, key=lambda r: r["bytes"])
            lines.append(
                f"  {page:34} {visit.weight / 1e6:5.2f} MB in {len(visit.resources):3} requests"
                f" (largest: {_short(top['name'])}, {top['bytes'] / 1e3:.0f} kB)"
            )
    tolerated: dict[tuple[str, str], set[str]] = {}
    for (page, width), visit in visits.items():
        for message, why in visit.tolerated if visit else ():
            tolerated.setdefault((message, why), set()).add(f"{page}@{width}")
    lines.append("tolerated console errors:" if tolerated else "tolerated console errors: none")
    for (message, why), where in tolerated.items():
        lines.append(f"  {message}\n    why: {why}; on {len(where)} of {len(visits)} page visits")
    return "\n".join(lines)


def _short(url: str) -> str:
    return PurePosixPath(urlsplit(url).path).name or url


def _visit(book: Book, page: str, width: int) -> browser.Visit:
    visit = book.visits.get((page, width))
    if visit is None:
        pytest.fail(f"{page}.html was not built (is {page} in _toc.yml and its source present?)", pytrace=False)
    return visit


def _fail_if(problems: list[str], header: str, notes: list[str] = ()) -> None:
    """Fail with the header, one problem a line and any notes, when there are problems (no traceback: the
    message says it all)."""
    if problems:
        pytest.fail("\n  ".join([header, *problems, *notes]), pytrace=False)


def _where(item: dict) -> str:
    """An element as a reader could find it: tag and classes, its section, a text snippet."""
    cls = f".{'.'.join(item['cls'].split())}" if item.get("cls") else ""
    section = f" in section #{item['section']}" if item.get("section") else ""
    text = f' "{item["text"]}"' if item.get("text") else ""
    return f"<{item['tag']}{cls}>{section}{text}"


# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", PAGES)
def test_no_console_errors(book: Book, page: str, width: int):
    """The browser logs no SEVERE entry, beyond requests that fail only because the test has no network."""
    visit = _visit(book, page, width)
    problems = [error + "".join(hint for key, hint in KNOWN_CAUSES.items() if key in error) for error in visit.errors]
    tolerated = [f"(tolerated: {message}: {why})" for message, why in visit.tolerated]
    _fail_if(problems, f"{page}.html at {width} px logs {len(problems)} console error(s):", tolerated)


@pytest.mark.parametrize("page", PAGES)
def test_page_weight(book: Book, page: str):
    """The document and everything it loads (scripts, styles, fonts, figures) add up to at most 2 MB."""
    visit = _visit(book, page, WIDTHS[0])
    if not any(r["type"] == "navigation" and r["bytes"] > 0 for r in visit.resources):
        pytest.fail(f"{page}.html: the browser reports no size for the document itself", pytrace=False)
    largest = sorted(visit.resources, key=lambda r: -r["bytes"])[:8]
    if visit.weight > MAX_PAGE_BYTES:
        _fail_if(
            [f"{r['bytes'] / 1e3:8.0f} kB  {r['type']:10} {_short(r['name'])}" for r in largest],
            f"{page}.html loads {visit.weight / 1e6:.2f} MB in {len(visit.resources)} requests "
            f"(limit {MAX_PAGE_BYTES / 1e6:.1f} MB); the largest:",
        )


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("page", PAGES)
def test_nothing_is_cut_off(book: Book, page: str, width: int):
    """The page never scrolls sideways, and nothing in the article is wider than its box unless it scrolls."""
    visit = _visit(book, page, width)
    problems = []
    layout = visit.layout
    if layout["scrollWidth"] > layout["clientWidth"] + 1:
        problems.append(
            f"the page scrolls sideways: it is {layout['scrollWidth']} px wide in a {layout['clientWidth']} px"
            " window; what reaches past the right edge:"
            + "".join(f"\n    {_where(w)}: from x={w['left']} to x={w['right']} px" for w in visit.wide[:6])
        )
    for item in visit.overflows:
        if "scrollWidth" in item:
            sizes = (
                f"content {item['scrollWidth']} px wide in a {item['clientWidth']} px box "
                f"(overflow-x: {item['overflowX']}, white-space: {item['whiteSpace']})"
            )
        else:
            sizes = (
                f"box from x={item['boxLeft']} to x={item['boxRight']} px, the article column from "
                f"x={item['columnLeft']} to x={item['columnRight']} px"
            )
        problems.append(f"{_where(item)}: {item['why']}: {sizes}")
    _fail_if(problems, f"{page}.html at {width} px cuts content off:")


@pytest.mark.parametrize("page", PAGES)
def test_no_inert_widget_controls(book: Book, page: str):
    """The article shows no widget controls: with no widget state saved, the book could not run them."""
    visit = _visit(book, page, WIDTHS[0])
    _fail_if(
        [f"{_where(c)} ({c['type']})" if c["type"] else _where(c) for c in visit.controls],
        f"{page}.html shows {len(visit.controls)} widget control(s) a reader of the book cannot use:",
        ["an explorer's output in the book should be one line of text that says to run the cell"],
    )


_FILE_NAME = re.compile(r"\.(png|jpe?g|gif|svg|webp)$", re.IGNORECASE)


@pytest.mark.parametrize(
    "page",
    PAGES,
)
def test_figures_have_alt_text(book: Book, page: str):
    """Every image in the article has alt text that describes it: not empty, and not its file name (which
    docutils writes when a notebook output carries no alt text)."""
    visit = _visit(book, page, FIGURE_WIDTH)
    bad = []
    for img in visit.images:
        alt = (img["alt"] or "").strip()
        src = img["src"] or ""
        if not alt or alt == src or alt == PurePosixPath(src).name or _FILE_NAME.search(alt):
            bad.append(f"image {img['index']} ({_short(src)}, section #{img['section']}): alt={img['alt']!r}")
    _fail_if(bad, f"{page}.html has {len(bad)} image(s) without alt text:")


@pytest.mark.parametrize(
    "page",
    PAGES,
)
def test_figure_text_is_legible(book: Book, page: str):
    """At 1400 px, each figure's smallest text (an 8 pt legend) renders at 9 px or more: 8 pt at the PNG's dpi,
    times displayed width / natural width."""
    visit = _visit(book, page, FIGURE_WIDTH)
    bad = []
    for img in visit.images:
        name = _short(img["src"] or "")
        where = f"image {img['index']} ({name}, section #{img['section']})"
        if not img["complete"] or not img["naturalWidth"]:
            bad.append(f"{where}: did not load")
            continue
        if not img["width"]:
            continue  # not displayed (in a collapsed block): nothing to measure
        path = book.html / urlsplit(urljoin(f"http://book/{page}.html", img["src"])).path.lstrip("/")
        dpi = browser.png_dpi(path) or DEFAULT_DPI
        scale = img["width"] / img["naturalWidth"]
        px = SMALLEST_FONT_PT * dpi / 72 * scale
        if px < MIN_TEXT_PX:
            bad.append(
                f"{where}: natural {img['naturalWidth']}x{img['naturalHeight']} px at {dpi:.0f} dpi, displayed "
                f"{img['width']:.0f}x{img['height']:.0f} px (x{scale:.2f}): {SMALLEST_FONT_PT} pt text renders at "
                f"{px:.1f} px (needs {MIN_TEXT_PX:.0f}; natural width at most "
                f"{img['width'] * SMALLEST_FONT_PT * dpi / 72 / MIN_TEXT_PX:.0f} px, or a larger font)"
            )
    _fail_if(bad, f"{page}.html at {FIGURE_WIDTH} px has {len(bad)} figure(s) with text too small:")
