"""helpers: the one shared package behind every chapter of the course.

The **core** imports no chapter: ``model`` (the GPT), ``tokenizer``, ``data`` (corpora, splits, batches),
``config`` (how configs check themselves), ``fit`` (the one training path: device, seeds, optimizer, the
update step, history, the cached result), ``train`` (language-model training on it), ``cache`` (the result
cache), ``sweep`` (the generic sweep runner), ``scaling`` (scaling-law fits), ``metrics``, ``generate`` and
``claims`` (live runs checked against their cached twins within a measured seed spread).

The **worlds** are the toy problems the chapters study: ``tasks`` (synthetic arithmetic), ``transfer``
(program traces and pretraining mixes), ``icl`` (in-context learning) and ``rl`` (learning from preferences).

Each **chapter room** ``chNN`` holds that chapter's recipes, grids, datasets, evaluators and runners and
registers them with ``sweep``. ``book`` holds what the book shows beside the science (plots, widgets, tables,
exercises, published numbers); ``bench`` measures training throughput.
"""

__version__ = "0.1.0"
