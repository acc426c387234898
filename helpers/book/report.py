"""Tables for the book: a Markdown table that renders in JupyterLab, Colab and the built book."""

from __future__ import annotations

from IPython.display import Markdown


def fmt(x, digits: int = 3) -> str:
    """A number for a table: ``digits`` significant figures, scientific notation when very large or small."""
    if isinstance(x, str):
        return x
    if isinstance(x, int) and abs(x) < 1e6:
        return f"{x:,}"
    if x != 0 and (abs(x) >= 1e6 or abs(x) < 1e-3):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def md_table(headers: list[str], rows: list[list]) -> Markdown:
    """A Markdown table from ``headers`` and ``rows``; numbers are formatted with ``fmt``."""
    if any(len(r) != len(headers) for r in rows):
        raise ValueError(f"every row needs {len(headers)} cells, one per header")
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(c) for c in r) + " |" for r in rows]
    return Markdown("\n".join(lines))
