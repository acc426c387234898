"""Rebuild ``data/corpora/kjv.txt.gz``, the course's default corpus, from Debian's Bible package.

The King James Version (1611) is in the public domain. Debian ships it, compressed in its own
format, in the package ``bible-kjv-text``; the ``bible`` program from ``bible-kjv`` decodes it.

    apt-get install bible-kjv          # as root, on Debian/Ubuntu
    python data/build_kjv.py           # writes data/corpora/kjv.txt.gz and prints its SHA-256

The output is plain UTF-8 text: a heading line per chapter ("Genesis 1") followed by one verse
per line, verse numbers dropped (digits would only add noise to a character-level model).
The gzip stream is written with a fixed mtime so that rebuilding gives identical bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "corpora" / "kjv.txt.gz"
VERSE = re.compile(r"^\s*\d+\s+(.*)$")


def dump_bible() -> str:
    """Return the whole KJV text as printed by Debian's ``bible`` program, one verse per line."""
    if shutil.which("bible") is None:
        sys.exit("error: the `bible` program is missing; install it with `apt-get install bible-kjv`.")
    out = subprocess.run(["bible", "-l100000", "gen1:1-rev22:21"], check=True, capture_output=True, text=True).stdout
    return out


def clean(raw: str) -> str:
    """Keep chapter headings and verse texts; drop verse numbers and blank lines."""
    lines = []
    for line in raw.splitlines():
        if not line.strip():
            continue
        m = VERSE.match(line)
        if m:
            lines.append(m.group(1).strip())
        else:  # a chapter heading such as "Genesis 1"
            if lines:
                lines.append("")
            lines.append(line.strip())
    return "\n".join(lines) + "\n"


def main() -> None:
    text = clean(dump_bible())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with open(OUT, "wb") as f, gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz:
        gz.write(text.encode("utf-8"))
    digest = hashlib.sha256(OUT.read_bytes()).hexdigest()
    print(f"wrote {OUT.name}: {len(text):,} characters, sha256 {digest}")


if __name__ == "__main__":
    main()
