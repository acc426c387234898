import matplotlib

from helpers.exercises import Exercise
from helpers.plots import STYLE, hline, new_figure, use_style

matplotlib.use("Agg")


def test_exercise_verdicts(capsys):
    ex = Exercise("1.1 perplexity", expected=4.0, hint="exponentiate the loss", rtol=1e-2)
    ex.check(None)
    assert "not attempted" in capsys.readouterr().out and not ex.passed(None)
    ex.check(4.01)
    assert "[pass]" in capsys.readouterr().out and ex.passed(4.01)
    ex.check(5)
    assert "exponentiate the loss" in capsys.readouterr().out and not ex.passed(5)
    assert not ex.passed("four") and not ex.passed(float("nan"))
    assert Exercise("list", expected=[1, 2.0], hint="").passed([1, 2.0001])
    assert not Exercise("list", expected=[1, 2.0], hint="").passed([1])
    assert Exercise("text", expected="abc", hint="").passed("abc")
    assert not Exercise("exact", expected=10, hint="", rtol=0).passed(11)


def test_plot_style():
    use_style()
    assert matplotlib.rcParams["axes.grid"] is True
    fig, axes = new_figure(2)
    assert len(axes) == 2 and fig.get_figwidth() == STYLE["figure.figsize"][0]


def test_hline_labels_a_reference():
    fig, ax = new_figure()
    hline(ax, 2.5, "baseline")
    assert ax.lines[0].get_ydata()[0] == 2.5 and ax.texts[0].get_text() == "baseline"
