"""helpers: the one shared package behind every chapter of the course.

Modules, one per concept: ``model`` (the GPT), ``tokenizer``, ``data`` (corpora, split, batches),
``train`` (the trainer, device, schedule, checkpoints), ``cache`` (the result cache),
``generate`` (sampling), ``exercises`` (checkers), ``plots`` (figure style), ``bench`` (throughput).
"""

__version__ = "0.1.0"
