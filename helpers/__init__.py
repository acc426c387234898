"""helpers: the one shared package behind every chapter of the course.

Modules, one per concept: ``model`` (the GPT), ``tokenizer``, ``data`` (corpora, split, batches),
``train`` (the trainer, device, schedule, checkpoints), ``cache`` (the result cache),
``generate`` (sampling), ``metrics`` (losses and answer scores), ``tasks`` (synthetic arithmetic),
``transfer`` (pretraining mixes with program traces, then fine-tuning), ``icl`` (in-context learning toy
worlds), ``rl`` (learning from human preferences), ``recipes`` (named configurations), ``sweep`` (cached grids
of runs), ``scaling`` (scaling-law fits), ``exercises`` (checkers), ``plots`` (figure style),
``report`` (tables), ``widgets`` (interactive views), ``papers`` (published numbers), ``bench``
(throughput).
"""

__version__ = "0.1.0"
