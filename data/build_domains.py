"""Rebuild chapter 4's three extra text domains from pinned Debian packages.

Chapter 4 mixes four real domains that nobody on the team wrote: English prose (the bundled King James
Bible, ``build_kjv.py``) and the three built here:

- ``code``: Python source, every other top-level module of CPython 3.11's standard library in name order
  (package ``libpython3.11-stdlib``; PSF licence), each file preceded by a ``# file: name.py`` line;
- ``docs``: technical documentation, the reStructuredText sources of Python 3.11's tutorial, HOWTOs and
  FAQ (package ``python3.11-doc``; PSF licence);
- ``poems``: classical Chinese verse, the Tang and Song anthologies of ``fortunes-zh`` (the poems are
  8th-13th century and in the public domain), colour codes and fortune separators removed.

    python data/build_domains.py          # downloads the three .deb files with apt-get, writes
                                          # data/corpora/{code,docs,poems}.txt.gz, prints their SHA-256,
                                          # and copies CPython's licence to data/corpora/LICENSE-PSF.txt

Each package is pinned by version and SHA-256; a mismatch stops the build. Debian's mirrors drop
superseded versions: when ``apt-get download`` cannot find one, fetch the same file from
https://snapshot.debian.org and pass its directory with ``--debs DIR``. The gzip streams carry a fixed
mtime, so a rebuild gives identical bytes.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

OUT = Path(__file__).resolve().parent / "corpora"
PACKAGES = {  # name: (version, file name, SHA-256 of the .deb)
    "libpython3.11-stdlib": (
        "3.11.2-6+deb12u8",
        "libpython3.11-stdlib_3.11.2-6+deb12u8_amd64.deb",
        "890b3540dad8a1ccc0deeca025db735bcc82629a76adacbe3b50fcc06ed528ca",
    ),
    "python3.11-doc": (
        "3.11.2-6+deb12u8",
        "python3.11-doc_3.11.2-6+deb12u8_all.deb",
        "50eb63e7f636c4281e9ce1b8f10386f1def42159eddce34fc1f41c46261df71b",
    ),
    "fortunes-zh": (
        "2.98",
        "fortunes-zh_2.98_all.deb",
        "211c5ddee59d0ae74ce01cbfd02f7c8714740bae1835d5661eb2254edd739105",
    ),
}
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def fetch_debs(dest: Path) -> dict[str, Path]:
    """Download every pinned package into ``dest`` (unless already there) and check its SHA-256."""
    paths = {}
    for name, (version, filename, sha) in PACKAGES.items():
        path = dest / filename
        if not path.exists():
            if shutil.which("apt-get") is None:
                sys.exit(f"error: {filename} is not in {dest} and apt-get is missing; download it by hand")
            got = subprocess.run(["apt-get", "download", f"{name}={version}"], cwd=dest, capture_output=True, text=True)
            if got.returncode != 0:
                sys.exit(
                    f"error: apt-get could not download {name}={version} ({got.stderr.strip()}); fetch "
                    f"{filename} from https://snapshot.debian.org and rerun with --debs <its folder>"
                )
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        if digest != sha:
            sys.exit(f"error: {path} has SHA-256 {digest}, expected {sha}; it is not the pinned package")
        paths[name] = path
    return paths


def unpack(deb: Path, dest: Path) -> Path:
    """Extract ``deb`` into ``dest`` with ``dpkg-deb`` and return ``dest``."""
    subprocess.run(["dpkg-deb", "-x", str(deb), str(dest)], check=True)
    return dest


def code_text(root: Path) -> str:
    """Every other top-level standard-library module, in name order, each after a ``# file:`` line."""
    files = sorted((root / "usr/lib/python3.11").glob("*.py"))[::2]
    return "".join(f"# file: {f.name}\n{f.read_text(encoding='utf-8')}\n" for f in files)


def docs_text(root: Path) -> str:
    """The tutorial, HOWTO and FAQ sources, directory by directory, files in name order."""
    src = root / "usr/share/doc/python3.11/html/_sources"
    files = [f for part in ("tutorial", "howto", "faq") for f in sorted((src / part).glob("*.rst.txt"))]
    return "".join(f.read_text(encoding="utf-8").rstrip("\n") + "\n\n" for f in files)


def poems_text(root: Path) -> str:
    """The Tang and Song anthologies: title, author and verse lines, one blank line between poems."""
    games = root / "usr/share/games/fortunes"
    poems = []
    for name in ("tang300", "song100"):
        for entry in (games / name).read_text(encoding="utf-8").split("\n%\n"):
            lines = [ANSI.sub("", line).strip() for line in entry.strip("%\n").splitlines()]
            if any(lines):
                poems.append("\n".join(line for line in lines if line))
    return "\n\n".join(poems) + "\n"


def write(name: str, text: str) -> None:
    """Write ``text`` to ``data/corpora/<name>.txt.gz`` (fixed mtime) and print its size and SHA-256."""
    path = OUT / f"{name}.txt.gz"
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, compresslevel=9) as f:
        f.write(text.encode("utf-8"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    print(f"{path.name}: {len(text):,} characters, {len(text.encode()):,} bytes, gzip {path.stat().st_size:,} B")
    print(f"  SHA-256 {digest}")


def main(argv=None) -> None:
    """Download (or take from ``--debs``), check, unpack and build the three domains."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--debs", type=Path, help="a folder holding the pinned .deb files (default: download)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        debs = fetch_debs(args.debs or Path(tmp))
        roots = {name: unpack(path, Path(tmp) / name) for name, path in debs.items()}
        write("code", code_text(roots["libpython3.11-stdlib"]))
        write("docs", docs_text(roots["python3.11-doc"]))
        write("poems", poems_text(roots["fortunes-zh"]))
        licence = roots["libpython3.11-stdlib"] / "usr/lib/python3.11/LICENSE.txt"
        shutil.copyfile(licence, OUT / "LICENSE-PSF.txt")  # the PSF licence asks that its text travel along
        print(f"LICENSE-PSF.txt: copied from the package's {licence.name}")


if __name__ == "__main__":
    main()
