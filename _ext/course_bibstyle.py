"""Citations that read the same in the text and in the list: "Kaplan et al. (2020)", "Kaplan et al. 2020".

sphinxcontrib-bibtex renders in-text citations author-year (``bibtex_reference_style: author_year``
in _config.yml), but labels each bibliography entry with its formatting style's label style, which
for the built-in styles is alphanumeric ("KMH+20"). This module registers ``authoryear``, the
built-in ``unsrt`` formatting with author-year labels sorted by author, year and title, so that a
reader who sees "Kaplan et al., 2020" in a chapter finds the same words in the list. It also
registers ``author_year_round``: sphinxcontrib-bibtex's author-year referencing with round brackets,
"Kaplan et al. (2020)" for ``{cite:t}`` and "(Kaplan et al., 2020)" for ``{cite:p}``, as in the papers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sphinxcontrib.bibtex.plugin
from pybtex.plugin import register_plugin
from pybtex.style.formatting.unsrt import Style as UnsrtStyle
from pybtex.style.labels import BaseLabelStyle
from sphinxcontrib.bibtex.style.referencing import BracketStyle
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle


def author_year_label(entry) -> str:
    """'Surname YEAR', 'Surname and Surname YEAR' or 'Surname et al. YEAR' from the first persons
    of the entry (authors, else editors); the organisation name or title word when there are none."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    surnames = [" ".join(p.prelast_names + p.last_names) for p in people]
    if not surnames:
        who = entry.fields.get("organization") or entry.fields.get("title", "Anon").split()[0]
    elif len(surnames) == 1:
        who = surnames[0]
    elif len(surnames) == 2:
        who = f"{surnames[0]} and {surnames[1]}"
    else:
        who = f"{surnames[0]} et al."
    return f"{who} {entry.fields.get('year', 'n.d.')}".replace("{", "").replace("}", "")


class AuthorYearLabels(BaseLabelStyle):
    """Labels 'Kaplan et al. 2020'; a second work with the same label gets 'a', 'b', ... appended."""

    def format_labels(self, sorted_entries):
        entries = list(sorted_entries)
        labels = [author_year_label(e) for e in entries]
        counts = {label: labels.count(label) for label in labels}
        seen: dict[str, int] = {}
        for label in labels:
            if counts[label] > 1:
                seen[label] = seen.get(label, 0) + 1
                label += "abcdefghijklmnopqrstuvwxyz"[seen[label] - 1]
            yield label


class AuthorYearStyle(UnsrtStyle):
    """pybtex's ``unsrt`` formatting, author-year labels, entries sorted by author, year, title."""

    default_label_style = "authoryear"
    default_sorting_style = "author_year_title"


def _round() -> BracketStyle:
    return BracketStyle(left="(", right=")")


@dataclass
class RoundAuthorYearReferenceStyle(AuthorYearReferenceStyle):
    """Author-year in-text citations with round brackets."""

    bracket_parenthetical: BracketStyle = field(default_factory=_round)
    bracket_textual: BracketStyle = field(default_factory=_round)
    bracket_author: BracketStyle = field(default_factory=_round)
    bracket_label: BracketStyle = field(default_factory=_round)
    bracket_year: BracketStyle = field(default_factory=_round)


register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabels)
register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
sphinxcontrib.bibtex.plugin.register_plugin(
    "sphinxcontrib.bibtex.style.referencing", "author_year_round", RoundAuthorYearReferenceStyle
)


def setup(app):
    """Sphinx entry point: the plugins are registered on import; nothing else to set up."""
    return {"parallel_read_safe": True, "parallel_write_safe": True}
