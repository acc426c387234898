from dataclasses import replace

from helpers.cache import ResultCache
from helpers.model import GPTConfig
from helpers.progress import FinalLineBar, batch_run, progress_bar
from helpers.train import TrainConfig, train


def test_batch_run_follows_the_environment(monkeypatch):
    monkeypatch.setenv("COURSE_BATCH", "1")
    assert batch_run() and isinstance(progress_bar(total=3), FinalLineBar)
    for off in ("", "0"):
        monkeypatch.setenv("COURSE_BATCH", off)
        bar = progress_bar(total=3, disable=True)
        assert not batch_run() and not isinstance(bar, FinalLineBar)


def test_final_line_bar_prints_once_on_close(capsys):
    bar = FinalLineBar(total=4, desc="training a thing", mininterval=0.1)
    for _ in range(4):
        bar.update(1)
    assert capsys.readouterr().out == "", "nothing while it runs"
    bar.close()
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith("training a thing: 100%") and "4/4" in out
    bar.close()
    assert capsys.readouterr().out == "", "closing twice prints nothing more"


def test_bars_name_the_model_and_a_cache_hit_says_so(corpus, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_BATCH", "1")
    model_cfg = GPTConfig(vocab_size=corpus.vocab_size, context=16, n_layer=1, n_head=1, d_model=8)
    train_cfg = TrainConfig(steps=5, batch_size=4, warmup_steps=1, eval_every=0)
    cache = ResultCache(tmp_path)
    train(model_cfg, train_cfg, corpus, cache=cache)
    first = capsys.readouterr().out
    assert "training 1-layer 8-wide GPT: 100%" in first and "loaded from the result cache" not in first
    train(model_cfg, train_cfg, corpus, cache=cache)
    again = capsys.readouterr().out
    assert (
        again.startswith("1-layer 8-wide GPT: loaded from the result cache, not retrained (5 steps")
        and "100%" not in again
    )
    train(model_cfg, replace(train_cfg, progress=False), corpus, cache=cache)
    assert capsys.readouterr().out == "", "progress=False keeps a cache hit quiet too"
