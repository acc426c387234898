"""The course's repository URL: one setting, and every place that must agree with it.

The setting is ``[project.urls] Repository`` in ``pyproject.toml``. The places that use it:
``_config.yml`` (``repository.url``, which the book's source and launch buttons point at), the README's
Colab link, and the Colab set-up cell at the top of every chapter notebook (``setup_cell``), which
cannot read any setting because it runs before the course is installed.

    python tests/repo_url.py                # check: exit 1 and list every place that disagrees
    python tests/repo_url.py --set URL      # write URL to the setting and to every place (a fork does this)
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUP_TAG = "colab-setup"
SETUP_LINE = "# In Colab only: fetch the course and install its helpers (elsewhere: nothing)"


def repository_url(root: Path = ROOT) -> str:
    """The setting: ``[project.urls] Repository`` of ``pyproject.toml`` (read without a TOML parser, which
    Python 3.10 lacks: the one ``Repository = "..."`` line)."""
    text = (root / "pyproject.toml").read_text(encoding="utf-8")
    match = re.search(r'^Repository = "([^"]+)"$', text, re.M)
    if match is None:
        raise SystemExit('pyproject.toml has no [project.urls] line Repository = "https://..."')
    return match.group(1)


def setup_cell(url: str) -> str:
    """The source of a chapter's first code cell: in Colab (and only there) it clones the course from ``url``
    into /content/course, installs ``helpers`` from it and moves into its ``chapters`` folder."""
    return "\n".join(
        [
            SETUP_LINE,
            "import importlib.util",
            "import sys",
            "",
            f'COURSE = "{url}"',
            'colab = importlib.util.find_spec("google") and importlib.util.find_spec("google.colab")',
            'if colab and not importlib.util.find_spec("helpers"):',
            "    !git clone -q --depth 1 {COURSE} /content/course",
            "    %pip install -q -e /content/course",
            '    sys.path.insert(0, "/content/course")',
            "    %cd /content/course/chapters",
        ]
    )


def copy_working_tree(dest: Path, root: Path = ROOT) -> Path:
    """Copy the repository's working tree as it stands (tracked and new, not ignored, files) to ``dest``:
    what a clone would hold once the work is committed (the launch and JupyterLab tests start from it)."""
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, capture_output=True, text=True, check=True,
    ).stdout.split("\0")  # fmt: skip
    for name in filter(None, files):
        if (root / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(root / name, dest / name)
    return dest


def _notebooks(root: Path) -> list[Path]:
    return sorted((root / "chapters").glob("*.ipynb"))


def _setup_index(cells: list[dict]) -> int | None:
    return next((i for i, c in enumerate(cells) if SETUP_TAG in c.get("metadata", {}).get("tags", [])), None)


def mismatches(root: Path = ROOT) -> list[str]:
    """Every place that does not agree with the setting, in words (empty when all agree)."""
    url = repository_url(root)
    found = []
    config = (root / "_config.yml").read_text(encoding="utf-8")
    if not re.search(rf"^\s+url:\s*{re.escape(url)}\s*(#.*)?$", config, re.M):
        found.append(f"_config.yml: repository.url is not {url}")
    readme = (root / "README.md").read_text(encoding="utf-8")
    others = set(re.findall(r"https://github\.com/[\w.-]+/[\w.-]+", readme)) - {url}
    course_links = {u for u in others if "nbval" not in u}
    if url not in readme or course_links:
        found.append(f"README.md: links {sorted(course_links) or 'nothing'} instead of {url}")
    for path in _notebooks(root):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        i = _setup_index(cells)
        if i is None:
            found.append(f"{path.name}: no Colab set-up cell (tag {SETUP_TAG!r})")
        elif "".join(cells[i]["source"]) != setup_cell(url):
            found.append(f"{path.name}: the Colab set-up cell differs from setup_cell({url!r})")
        elif i != next(k for k, c in enumerate(cells) if c["cell_type"] == "code"):
            found.append(f"{path.name}: the Colab set-up cell is not the first code cell")
    return found


def _set_source(cell: dict, text: str) -> None:
    lines = text.split("\n")
    cell["source"] = [line + "\n" for line in lines[:-1]] + [lines[-1]]


def set_url(url: str, root: Path = ROOT) -> None:
    """Write ``url`` to the setting and to every place that uses it (adding missing set-up cells)."""
    old = repository_url(root)
    for name in ("pyproject.toml", "_config.yml", "README.md"):
        path = root / name
        path.write_text(path.read_text(encoding="utf-8").replace(old, url), encoding="utf-8")
    for path in _notebooks(root):
        nb = json.loads(path.read_text(encoding="utf-8"))
        i = _setup_index(nb["cells"])
        if i is None:
            first_code = next(k for k, c in enumerate(nb["cells"]) if c["cell_type"] == "code")
            cell = {"cell_type": "code", "execution_count": None, "id": "colab-setup", "outputs": []}
            cell["metadata"] = {"tags": ["remove-cell", SETUP_TAG]}
            nb["cells"].insert(first_code, cell)
            i = first_code
        _set_source(nb["cells"][i], setup_cell(url))
        path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", metavar="URL", help="write URL everywhere")
    args = parser.parse_args()
    if args.set:
        set_url(args.set.rstrip("/"))
    problems = mismatches()
    for line in problems:
        print(line)
    print(f"repository URL: {repository_url()}; " + ("all places agree" if not problems else "see above"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
