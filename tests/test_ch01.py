"""Chapter 1's table builders (``helpers.ch01``): the run beside nanoGPT's published recipes and Shannon."""

from helpers import ch01
from helpers.book.papers import PUBLISHED
from helpers.model import GPTConfig, non_embedding_params


def test_recipe_params_counts_a_published_recipe_as_the_course_gpt():
    # nanoGPT's CPU recipe is the chapter's own shape, so its N is the chapter's
    cpu = ch01.recipe_params(PUBLISHED["nanogpt_cpu"], vocab_size=73, n_head=4)
    assert cpu == non_embedding_params(GPTConfig(vocab_size=73, context=64, n_layer=4, n_head=4, d_model=128))
    gpu = ch01.recipe_params(PUBLISHED["nanogpt_gpu"], vocab_size=73, n_head=6)
    assert abs(gpu / (12 * 6 * 384**2) - 1) < 0.02 and gpu > 10 * cpu


def test_reference_table_sets_our_run_beside_the_references():
    lines = ch01.reference_table(1.4697, 1_433_600).data.splitlines()
    assert lines[0] == "| model | corpus | tokens seen | val loss (nats/char) | bits/char |"
    assert len(lines) == 2 + 4
    assert lines[2] == "| ours: 4 x 128, ctx 64 | King James Bible | 1.43e+06 | 1.47 | 2.12 |"
    assert lines[4].endswith("| TinyShakespeare | <= 8.19e+07 | 1.47 | 2.12 |")  # 5,000 steps of 64 x 256
    assert lines[5] == "| Shannon's estimate for English | English text | a lifetime | - | 0.6-1.3 |"
