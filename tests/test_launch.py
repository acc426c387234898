"""Launching the course elsewhere: the repository URL is one setting, Colab's set-up cell installs helpers,
and Binder's configuration does too. Both launches are simulated as far as an offline machine allows:

- **Colab**: chapter 1's set-up cell runs in IPython, in a fresh virtual environment without ``helpers``,
  with a stand-in ``google.colab`` package on the path and the repository URL replaced by a local
  ``file://`` clone URL (and ``/content`` by a temporary folder); afterwards ``import helpers`` must load
  the fresh clone. Without the stand-in the same cell must do nothing.
- **Binder**: ``binder/requirements.txt`` must put PyTorch's CPU index in front of ``requirements.txt``;
  ``binder/postBuild`` runs in a fresh environment and ``helpers`` must then import from any folder.

The fresh environments see the course's installed dependencies (torch, IPython, ...) through a ``.pth``
line, but not its ``helpers``; pip runs with ``PIP_NO_INDEX`` and without build isolation, so nothing is
downloaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from repo_url import SETUP_TAG, copy_working_tree, mismatches, repository_url  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def test_the_repository_url_is_one_setting_that_every_place_agrees_with():
    assert not mismatches(), "run `python tests/repo_url.py` for the list; `--set URL` to fix"


def _fresh_env(path: Path) -> Path:
    """A new venv (with pip) that sees this environment's packages but not its editable helpers. The
    setuptools that ``ensurepip`` bundles is removed: it predates the one pyproject.toml's build needs,
    which a real Colab or Binder has (or fetches) and which this environment provides."""
    venv.EnvBuilder(with_pip=True).create(path)
    python = path / "bin" / "python"
    subprocess.run([str(python), "-m", "pip", "uninstall", "-q", "-y", "setuptools"], check=True, env=_offline_env())
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    Path(site, "course-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _offline_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(PIP_NO_INDEX="1", PIP_NO_BUILD_ISOLATION="0", PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


@pytest.fixture(scope="module")
def course_repo(tmp_path_factory) -> Path:
    """A git repository holding this working tree as it stands (tracked and new, not ignored, files), so
    that what is cloned is what would be committed."""
    repo = copy_working_tree(tmp_path_factory.mktemp("course-src"))
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@localhost"]
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(["git", "add", "-A"], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "snapshot"], cwd=repo, check=True)
    return repo


@pytest.fixture
def fresh_python(tmp_path) -> Path:
    python = _fresh_env(tmp_path / "venv")
    probe = subprocess.run(
        [str(python), "-c", "import importlib.util as u; print(u.find_spec('helpers'), u.find_spec('torch'))"],
        capture_output=True, text=True, cwd="/", env=_offline_env(),
    )  # fmt: skip
    assert probe.stdout.startswith("None") and "torch" in probe.stdout, probe.stdout + probe.stderr
    return python


def _setup_source() -> str:
    cells = json.loads((ROOT / "chapters" / "01_tiny_lm.ipynb").read_text(encoding="utf-8"))["cells"]
    (cell,) = [c for c in cells if SETUP_TAG in c["metadata"].get("tags", [])]
    return "".join(cell["source"])


RUN_CELL = """
import os, sys
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
result = shell.run_cell(open(sys.argv[1]).read())
assert result.success, result.error_in_exec or result.error_before_exec
import importlib.util
spec = importlib.util.find_spec("helpers")
print("HELPERS", spec.origin if spec else None)
print("CWD", os.getcwd())
if spec:
    from helpers.ch01 import tiny_lm
    print("IMPORTED", tiny_lm.__module__)
"""


def _run_setup_cell(python: Path, repo: Path, tmp: Path, colab: bool) -> str:
    content = tmp / "content"
    content.mkdir()
    source = _setup_source().replace(repository_url(), f"file://{repo}").replace("/content", str(content))
    (tmp / "cell.py").write_text(source)
    (tmp / "run.py").write_text(RUN_CELL)
    path = []
    if colab:  # the stand-in: an importable, empty google.colab
        (tmp / "standin" / "google" / "colab").mkdir(parents=True)
        (tmp / "standin" / "google" / "__init__.py").write_text("")
        (tmp / "standin" / "google" / "colab" / "__init__.py").write_text("")
        path = [str(tmp / "standin")]
    out = subprocess.run(
        [str(python), str(tmp / "run.py"), str(tmp / "cell.py")],
        capture_output=True, text=True, cwd=tmp, timeout=600, env=_offline_env(PYTHONPATH=os.pathsep.join(path)),
    )  # fmt: skip
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout


def test_colab_setup_cell_fetches_the_course_and_installs_helpers(fresh_python, course_repo, tmp_path):
    out = _run_setup_cell(fresh_python, course_repo, tmp_path, colab=True)
    clone = tmp_path / "content" / "course"
    assert f"HELPERS {clone / 'helpers' / '__init__.py'}" in out, out
    assert f"CWD {clone / 'chapters'}" in out and "IMPORTED helpers.ch01" in out, out


def test_colab_setup_cell_does_nothing_outside_colab(fresh_python, course_repo, tmp_path):
    out = _run_setup_cell(fresh_python, course_repo, tmp_path, colab=False)
    assert "HELPERS None" in out and not (tmp_path / "content" / "course").exists(), out


def test_binder_installs_the_cpu_torch_and_helpers(course_repo, tmp_path):
    lines = (ROOT / "binder" / "requirements.txt").read_text().split("\n")
    active = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert active[0] == "--extra-index-url https://download.pytorch.org/whl/cpu", active
    assert "-r ../requirements.txt" in active, active
    assert "torch==2.13.0" in (ROOT / "requirements.txt").read_text(), "Binder relies on the pinned CPU wheel version"
    clone = tmp_path / "course"
    subprocess.run(["git", "clone", "-q", f"file://{course_repo}", str(clone)], check=True)
    python = _fresh_env(tmp_path / "venv")
    env = _offline_env(PATH=f"{python.parent}{os.pathsep}{os.environ['PATH']}")
    build = subprocess.run(["bash", "binder/postBuild"], cwd=clone, capture_output=True, text=True, env=env)
    assert build.returncode == 0, build.stdout + build.stderr
    probe = subprocess.run(
        [str(python), "-c", "import helpers, helpers.ch01; print(helpers.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert probe.stdout.strip() == str(clone / "helpers" / "__init__.py"), probe.stdout + probe.stderr
