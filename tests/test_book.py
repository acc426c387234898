"""The Jupyter Book builds with every warning treated as an error, and renders what it promises.

The book is built once per test session from the repository's own sources into a temporary
folder (the repository's `_build/` is left alone), with the jupyter-book installed beside the
Python running the tests. The build executes no code and uses no network: notebooks are rendered
from their committed outputs (`execute_notebooks: "off"`), and no intersphinx inventory is
configured. The checks after the build are:

- the landing page exists and carries the bibliography;
- every page named in `_toc.yml` exists as a source file and was rendered;
- every chapter notebook renders with at least one figure from its own outputs and at least one
  citation that links to an entry of the bibliography.

Run it alone with `pytest -m book`.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.book

ROOT = Path(__file__).resolve().parents[1]
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"
LOG_TAIL_LINES = 80
SOURCE_SUFFIXES = (".ipynb", ".md")


def _toc_files() -> list[str]:
    """Every `file:` entry of _toc.yml (root included), as written: no suffix."""
    import browser

    return browser.book_pages()


def _source_of(entry: str) -> Path | None:
    for suffix in SOURCE_SUFFIXES:
        path = ROOT / f"{entry}{suffix}"
        if path.exists():
            return path
    return None


def _fail(message: str):
    """Fail with the message alone: a traceback through this fixture would only hide it."""
    pytest.fail(message, pytrace=False)


def _log_tail(log: str) -> str:
    lines = log.splitlines()
    warnings = [line for line in lines if "WARNING" in line or "ERROR" in line]
    return (
        "warnings and errors:\n"
        + ("\n".join(warnings) or "(none reported)")
        + f"\n\nlast {LOG_TAIL_LINES} lines of the build log:\n"
        + "\n".join(lines[-LOG_TAIL_LINES:])
    )


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """Build the book once; return the folder holding index.html."""
    if not JUPYTER_BOOK.exists():
        _fail(
            f"jupyter-book is not installed beside this Python ({JUPYTER_BOOK} is missing); "
            "install requirements.txt into the environment that runs the tests"
        )
    missing = [entry for entry in _toc_files() if _source_of(entry) is None]
    if missing:
        _fail(
            "_toc.yml lists pages that do not exist (looked for "
            + ", ".join(SOURCE_SUFFIXES)
            + "): "
            + ", ".join(missing)
            + ". Add the file or remove its entry from _toc.yml."
        )

    import browser

    build = browser.build_book(tmp_path_factory.mktemp("book"))
    if build.returncode is None:
        _fail(f"the book build took longer than {browser.BUILD_TIMEOUT_S} s\n{_log_tail(build.log)}")
    print(f"book built in {build.seconds:.1f} s; log at {build.html.parents[1] / 'build.log'}")
    if build.returncode != 0:
        _fail(f"the book build exited with {build.returncode} (warnings are errors)\n{_log_tail(build.log)}")
    return build.html


def test_config_keeps_the_build_offline_and_unexecuted():
    """Guards the two promises the build relies on: it runs no code and fetches nothing."""
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert str(config["execute"]["execute_notebooks"]) in {"off", "False"}, (
        'the book renders committed, nbval-checked outputs: set execute.execute_notebooks to "off"'
    )
    sphinx_config = (config.get("sphinx") or {}).get("config") or {}
    assert not sphinx_config.get("intersphinx_mapping"), (
        "intersphinx inventories are fetched over the network at build time; keep "
        "sphinx.config.intersphinx_mapping empty"
    )


def test_book_builds_with_warnings_as_errors(built_book: Path):
    index = built_book / "index.html"
    assert index.exists(), f"{index} was not written"
    intro = (built_book / "intro.html").read_text(encoding="utf-8")
    assert 'role="doc-biblioentry"' in intro, "the landing page has no bibliography entries"


@pytest.mark.parametrize("entry", _toc_files())
def test_toc_page_is_rendered(built_book: Path, entry: str):
    assert (built_book / f"{entry}.html").exists(), f"{entry} is in _toc.yml but {entry}.html was not built"


def _chapter_notebooks() -> list[str]:
    """Notebooks under chapters/ that the toc lists, plus chapter 1 whenever its notebook exists
    (so a chapter 1 dropped from the toc fails here instead of silently vanishing from the book)."""
    found = [entry for entry in _toc_files() if entry.startswith("chapters/") and (ROOT / f"{entry}.ipynb").exists()]
    if (ROOT / "chapters" / "01_tiny_lm.ipynb").exists() and "chapters/01_tiny_lm" not in found:
        found.append("chapters/01_tiny_lm")
    return found


CHAPTER_NOTEBOOKS = _chapter_notebooks()


@pytest.mark.parametrize("entry", CHAPTER_NOTEBOOKS)
def test_chapter_shows_a_figure_and_cites_the_bibliography(built_book: Path, entry: str):
    page_path = built_book / f"{entry}.html"
    assert page_path.exists(), f"{entry}.html was not built (is the chapter listed in _toc.yml?)"
    page = page_path.read_text(encoding="utf-8")

    # Figures from the notebook's outputs are copied to _images/; the launch-button logos that
    # every page carries live in _static/ and do not count.
    figures = re.findall(r'<img[^>]*\bsrc="[^"]*_images/[^"]+"', page)
    assert figures, f"{entry}.html shows no figure from the notebook's outputs"

    intro = (built_book / "intro.html").read_text(encoding="utf-8")
    entries = set(re.findall(r'<div class="citation" id="([^"]+)" role="doc-biblioentry"', intro))
    cited = set(re.findall(r'href="(?:\.\./)*intro\.html#([^"]+)"', page))
    assert cited & entries, (
        f"{entry}.html has no citation that links to an entry of the bibliography on the landing page"
    )


@pytest.mark.parametrize("entry", [e for e in _toc_files() if e.startswith("chapters/")])
def test_chapter_titles_carry_their_course_number(entry):
    """The toc is not auto-numbered (chapters land out of order), so each title carries the number of the
    course map: chapters/06_emergence starts with "# 6. "."""
    import json

    number = int(Path(entry).name.split("_")[0])
    cells = json.loads(_source_of(entry).read_text(encoding="utf-8"))["cells"]
    assert "".join(cells[0]["source"]).startswith(f"# {number}. "), entry


def test_bibliography_labels_read_like_the_citations(built_book: Path):
    """Entries are labelled "Kaplan et al. 2020" (``_ext/course_bibstyle.py``), never "KMH+20", and the
    text cites with round brackets: "Kaplan et al. (2020)" or "(Kaplan et al., 2020)"."""
    intro = (built_book / "intro.html").read_text(encoding="utf-8")
    labels = re.findall(r'<span class="label"><span class="fn-bracket">\[</span><a[^>]*>([^<]+)</a>', intro)
    assert labels, "no bibliography labels found on the landing page"
    bad = [label for label in labels if not re.fullmatch(r"[A-Z][^\d]* (\d{4}[a-z]?|n\.d\.)", label)]
    assert not bad, f"bibliography labels that are not author-year: {bad}"
    page = re.sub(r"<[^>]+>", "", (built_book / "chapters" / "02_scaling_laws.html").read_text(encoding="utf-8"))
    assert "Kaplan et al. (2020)" in page and "[2020]" not in page


@pytest.mark.parametrize("entry", _toc_files())
def test_pages_cite_with_an_explicit_role(entry):
    """``{cite:t}`` where the authors are the subject, ``{cite:p}`` otherwise: a bare ``{cite}`` renders in
    brackets after a name the sentence already gives ("Kaplan et al. [Kaplan et al., 2020]")."""
    text = _source_of(entry).read_text(encoding="utf-8")
    assert "{cite}`" not in text, f"{entry} uses a bare {{cite}}: write {{cite:t}} or {{cite:p}}"
    doubled = re.findall(r"([A-Z][a-z]+ et al\.)\s+\{cite:p\}", text)
    assert not doubled, f"{entry}: names the authors and then cites them in brackets: {doubled}"


def test_every_glossary_term_is_in_chinese_too_and_linked_from_a_chapter():
    """glossary.md holds each term in English and Chinese, and some chapter links to it with {term}."""
    text = (ROOT / "glossary.md").read_text(encoding="utf-8")
    block = text.split("```{glossary}", 1)[1].split("```", 1)[0]
    lines = block.splitlines()
    terms = {
        line: lines[i + 1].strip()
        for i, line in enumerate(lines)
        if line and not line.startswith((" ", ":")) and i + 1 < len(lines)
    }
    assert len(terms) >= 20, f"the glossary lists only {len(terms)} terms"
    untranslated = [t for t, first in terms.items() if not re.search(r"[\u4e00-\u9fff]", first.split(".")[0])]
    assert not untranslated, f"glossary terms whose definition does not open with the Chinese term: {untranslated}"
    chapters = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "chapters").glob("*.ipynb"))
    linked = set(re.findall(r"\{term\}`(?:[^`<]*<)?([^`>]+)>?`", chapters))
    missing = sorted(set(terms) - linked)
    assert not missing, f"glossary terms no chapter links to with {{term}}: {missing}"


@pytest.mark.parametrize("entry", CHAPTER_NOTEBOOKS)
def test_notebooks_carry_the_kernelspec_jupyterlab_writes(entry):
    """Otherwise opening a notebook in JupyterLab rewrites its metadata and marks it modified."""
    import json

    spec = json.loads(_source_of(entry).read_text(encoding="utf-8"))["metadata"]["kernelspec"]
    assert spec == {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}, spec
