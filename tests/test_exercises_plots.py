import matplotlib

from helpers.exercises import Exercise
from helpers.plots import STYLE, new_figure, use_style

matplotlib.use("Agg")


def test_exercise_verdicts(capsys):
    ex = Exercise("1.1 perplexity", expected=4.0, hint="exponentiate the loss", rtol=1e-2)
    assert ex.check(None) is False
    assert "not attempted" in capsys.readouterr().out
    assert ex.check(4.01) is True
    assert "[pass]" in capsys.readouterr().out
    assert ex.check(5) is False
    assert "exponentiate the loss" in capsys.readouterr().out
    assert ex.check("four") is False and ex.check(float("nan")) is False
    assert Exercise("list", expected=[1, 2.0], hint="").check([1, 2.0001], quiet=True)
    assert not Exercise("list", expected=[1, 2.0], hint="").check([1], quiet=True)
    assert Exercise("text", expected="abc", hint="").check("abc", quiet=True)


def test_plot_style():
    use_style()
    assert matplotlib.rcParams["axes.grid"] is True
    fig, axes = new_figure(2)
    assert len(axes) == 2 and fig.get_figwidth() == STYLE["figure.figsize"][0]
