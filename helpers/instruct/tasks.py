"""Chapter 8's instruction tasks: many small, exactly-scored tasks in the seed's four kinds, grouped into clusters.

Each ``Task`` makes ``(input, answer)`` pairs from a random generator and carries several instruction
``templates``, the ways a person might ask for it. Tasks are grouped into ``CLUSTERS`` of one kind of skill
(as FLAN groups its datasets); experiments hold out whole clusters, so a held-out task shares no task and
no instruction with training, only the world its inputs come from.

Beside them, ``field_task(key)`` is a family of look-up tasks whose instruction names the field to read from
a record of ``FIELDS_PER_RECORD`` fields (``FIELD_KEYS``); its members are named ``field:<key>``, so that
``task`` finds them too. It tests Zhang et al. 2024's claim at toy size: a model tuned on a few keys can
memorise them, and only one tuned on many has reason to read the key in the instruction, which it must do to
answer for keys it was never asked about.

The kinds follow the seed: question answering over a short passage (``qa``), classification with the
options listed (``classify``), information extraction from a small record (``extract``) and structured
generation in a fixed format (``format``); plus string, list and number operations. Answers are short,
never contain a newline, and are scored by exact match; a ``format`` task also says whether an output
parses (``Task.parses``), whatever its content.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

NAMES = ("Ann", "Bob", "Cy", "Dan", "Eve", "Fay", "Gus", "Hal", "Ivy", "Jon", "Kim", "Lee", "Max", "Ned", "Ola", "Pat")
CITIES = ("Rome", "Oslo", "Lima", "Pune", "Kyiv", "Baku", "Doha", "Riga", "Bonn", "Nice", "Cork", "Graz")
COLOURS = ("red", "blue", "green", "white", "black", "gold", "grey", "pink")
# short words a model pretrained on the King James Bible has read many times
WORDS = (
    "light", "water", "earth", "bread", "stone", "house", "river", "field", "king", "lamb", "city", "gate",
    "fire", "wind", "sea", "tree", "word", "night", "day", "hand", "heart", "voice", "gold", "wine", "seed",
)  # fmt: skip
GOOD = ("glad", "kind", "joy", "peace", "love", "good", "bright", "sweet")
BAD = ("sad", "cruel", "fear", "war", "evil", "dark", "bitter", "wrath")


@dataclass(frozen=True)
class Task:
    """One task: ``make(rng)`` returns ``(input, answer)``; ``templates`` are its instructions (at least 3);
    ``options``, for a classification task, the answers it may have (listed in its input);
    ``pattern``, for a structured-generation task, the regular expression a well-formed output matches."""

    name: str
    cluster: str
    templates: tuple[str, ...]
    make: Callable[[np.random.Generator], tuple[str, str]]
    options: tuple[str, ...] = ()
    pattern: str | None = None

    def __post_init__(self):
        if len(self.templates) < 3 or len(set(self.templates)) != len(self.templates):
            raise ValueError(f"task {self.name!r}: needs at least 3 distinct instruction templates")

    def parses(self, output: str) -> bool:
        """Whether ``output`` has this structured task's format (``ValueError`` for a task without one)."""
        if self.pattern is None:
            raise ValueError(f"task {self.name!r} is not a structured-generation task: it has no format")
        return re.fullmatch(self.pattern, output.strip()) is not None


def _pick(rng, pool, k: int | None = None):
    """One item of ``pool``, or ``k`` distinct ones in random order."""
    if k is None:
        return pool[int(rng.integers(len(pool)))]
    return [pool[i] for i in rng.choice(len(pool), size=k, replace=False)]


def _items(rng, lo: int = 3, hi: int = 5) -> list[str]:
    return _pick(rng, WORDS, int(rng.integers(lo, hi + 1)))


def _residents(rng) -> tuple[list[str], list[str], str]:
    names, cities = _pick(rng, NAMES, 3), _pick(rng, CITIES, 3)
    return names, cities, " ".join(f"{n} lives in {c}." for n, c in zip(names, cities))


def _record(rng) -> dict[str, str]:
    return {"name": _pick(rng, NAMES), "age": str(int(rng.integers(18, 90))), "city": _pick(rng, CITIES)}


def _record_text(record: dict[str, str]) -> str:
    return "; ".join(f"{k}: {v}" for k, v in record.items())


def _with_options(text: str, options) -> str:
    return f"{text} Options: {', '.join(options)}."


def _where(rng):
    names, cities, passage = _residents(rng)
    i = int(rng.integers(3))
    return f"{passage} Question: where does {names[i]} live?", cities[i]


def _who(rng):
    names, cities, passage = _residents(rng)
    i = int(rng.integers(3))
    return f"{passage} Question: who lives in {cities[i]}?", names[i]


def _colour(rng):
    names, colours = _pick(rng, NAMES, 3), _pick(rng, COLOURS, 3)
    i = int(rng.integers(3))
    passage = " ".join(f"{n} has a {c} coat." for n, c in zip(names, colours))
    return f"{passage} Question: what colour is the coat of {names[i]}?", colours[i]


def _parity(rng):
    n = int(rng.integers(10, 1000))
    return _with_options(str(n), ("even", "odd")), ("even", "odd")[n % 2]


def _member(rng):
    items = _items(rng)
    word = _pick(rng, items) if rng.random() < 0.5 else _pick(rng, [w for w in WORDS if w not in items])
    return _with_options(f"{' '.join(items)} | {word}", ("yes", "no")), "yes" if word in items else "no"


def _mood(rng):
    good = rng.random() < 0.5
    words = _pick(rng, GOOD if good else BAD, 2) + [_pick(rng, WORDS)]
    rng.shuffle(words)
    return _with_options(" ".join(words), ("happy", "unhappy")), "happy" if good else "unhappy"


def _field(key: str):
    def make(rng):
        record = _record(rng)
        return _record_text(record), record[key]

    return make


def _as_pairs(rng):
    record = _record(rng)
    return " ".join(record.values()), ";".join(f"{k}={v}" for k, v in record.items())


def _as_list(rng):
    items = _items(rng)
    return ", ".join(items), "[" + "|".join(items) + "]"


def _as_tag(rng):
    record = _record(rng)
    name, age, city = record.values()
    return f"{name}, {age}, from {city}", f"<{name.lower()}@{city.lower()}:{age}>"


def _letters(rng) -> str:
    """A random lower-case string of 3 to 6 letters (more inputs than any word list)."""
    return "".join(chr(97 + int(i)) for i in rng.integers(26, size=int(rng.integers(3, 7))))


def _word_op(op: Callable[[str], str]):
    def make(rng):
        word = _letters(rng)
        return word, op(word)

    return make


def _list_op(op: Callable[[list[str]], str]):
    def make(rng):
        items = _items(rng)
        return " ".join(items), op(items)

    return make


def _add(rng):
    a, b = (int(x) for x in rng.integers(1, 50, size=2))
    return f"{a} {b}", str(a + b)


def _larger(rng):
    a, b = _pick(rng, range(1, 100), 2)
    return f"{a} {b}", str(max(a, b))


def _next(rng):
    n = int(rng.integers(1, 999))
    return str(n), str(n + 1)


TASKS: tuple[Task, ...] = (
    Task("where", "qa", ("Read the passage and answer the question.", "Answer the question about the text.",
                         "Use the passage to answer.", "What does the text say? Answer briefly."), _where),
    Task("who", "qa", ("Read the passage and answer the question.", "Find the person the question asks for.",
                       "Answer with a name from the passage."), _who),
    Task("colour", "qa", ("Read the passage and answer the question.", "Answer with a colour from the text.",
                          "Which colour? Use the passage."), _colour),
    Task("parity", "classify", ("Is the number even or odd?", "Classify the number by parity.",
                                "Say whether this number is even or odd."), _parity, ("even", "odd")),
    Task("member", "classify", ("Is the word after the bar in the list?", "Does the list contain the last word?",
                                "Answer yes if the word is one of the list, else no."), _member, ("yes", "no")),
    Task("mood", "classify", ("Is this phrase happy or unhappy?", "Classify the mood of the words.",
                              "What feeling do these words carry?"), _mood, ("happy", "unhappy")),
    Task("name", "extract", ("What is the name in the record?", "Extract the name.",
                             "Give the value of the name field."), _field("name")),
    Task("age", "extract", ("How old is the person in the record?", "Extract the age.",
                            "Give the value of the age field."), _field("age")),
    Task("city", "extract", ("Which city is in the record?", "Extract the city.",
                             "Give the value of the city field."), _field("city")),
    Task("pairs", "format", ("Write the values as name=..;age=..;city=..", "Format as key=value pairs.",
                             "Turn these into a name, age and city record."), _as_pairs,
         pattern=r"name=[A-Za-z]+;age=\d+;city=[A-Za-z]+"),
    Task("brackets", "format", ("Write the items as [a|b|c].", "Put the list in brackets, split by bars.",
                                "Format the items as a bracketed list."), _as_list, pattern=r"\[[a-z]+(\|[a-z]+)*\]"),
    Task("tag", "format", ("Write a tag <name@city:age> in lower case.", "Make a lower-case tag from it.",
                           "Format as <person@place:years>."), _as_tag, pattern=r"<[a-z]+@[a-z]+:\d+>"),
    Task("reverse", "strings", ("Spell the letters backwards.", "Reverse the letters.",
                                "Write the letters from the last to the first."), _word_op(lambda w: w[::-1])),
    Task("upper", "strings", ("Write the letters as capitals.", "Make it upper case.",
                              "Capitalise every letter."), _word_op(str.upper)),
    Task("double", "strings", ("Write the letters twice.", "Repeat the string.",
                               "Say it two times, without a space."), _word_op(lambda w: w + w)),
    Task("first", "lists", ("What is the first item?", "Give the item at the start of the list.",
                            "Which word comes first?"), _list_op(lambda xs: xs[0])),
    Task("last", "lists", ("What is the last item?", "Give the item at the end of the list.",
                           "Which word comes last?"), _list_op(lambda xs: xs[-1])),
    Task("sort", "lists", ("Sort the words alphabetically.", "Put the items in A to Z order.",
                           "List the words in dictionary order."), _list_op(lambda xs: " ".join(sorted(xs)))),
    Task("add", "numbers", ("Add the two numbers.", "What is their sum?", "Give the total of the numbers."), _add),
    Task("larger", "numbers", ("Which number is larger?", "Give the bigger of the two.",
                               "Pick the greater number."), _larger),
    Task("next", "numbers", ("What number comes next?", "Add one to the number.",
                             "Give the number after this one."), _next),
)  # fmt: skip

CLUSTERS: dict[str, tuple[str, ...]] = {}
for _task in TASKS:
    CLUSTERS.setdefault(_task.cluster, ())
    CLUSTERS[_task.cluster] += (_task.name,)
BY_NAME: dict[str, Task] = {t.name: t for t in TASKS}


FIELD_KEYS = (
    "hat", "pet", "tool", "cup", "car", "boat", "bird", "tree", "song", "game", "dish", "gem",
    "coin", "lamp", "ship", "horse", "vase", "bell", "book", "ring", "bag", "shoe", "door", "flag",
)  # fmt: skip
FIELD_TEMPLATES = ("Give the {}.", "What is the {}?", "Extract the {}.")
FIELDS_PER_RECORD = 4  # so a model that copies a random value of the record is right 1 time in 4


def _lookup(key: str):
    def make(rng):
        keys = [key] + _pick(rng, [k for k in FIELD_KEYS if k != key], FIELDS_PER_RECORD - 1)
        rng.shuffle(keys)
        values = _pick(rng, WORDS, FIELDS_PER_RECORD)
        return "; ".join(f"{k}: {v}" for k, v in zip(keys, values)), values[keys.index(key)]

    return make


@functools.cache
def field_task(key: str) -> Task:
    """The look-up task ``field:<key>``: the input is a record of ``FIELDS_PER_RECORD`` fields, ``key`` among
    them, in random order, with distinct values from ``WORDS``; the answer is the value of ``key``."""
    if key not in FIELD_KEYS:
        raise KeyError(f"no field {key!r}; the fields are {', '.join(FIELD_KEYS)}")
    return Task(f"field:{key}", "fields", tuple(t.format(key) for t in FIELD_TEMPLATES), _lookup(key))


def task(name: str) -> Task:
    """The task called ``name``, one of ``TASKS`` or ``field:<key>`` (``KeyError`` naming the known tasks
    otherwise)."""
    if name.startswith("field:"):
        return field_task(name.removeprefix("field:"))
    if name not in BY_NAME:
        raise KeyError(f"no task {name!r}; the tasks are {', '.join(BY_NAME)}")
    return BY_NAME[name]
