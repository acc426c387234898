import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from helpers.book.plots import STYLE, attention_heatmap, hline, log_axes, new_figure, use_style

matplotlib.use("Agg")


def test_plot_style():
    use_style()
    assert matplotlib.rcParams["axes.grid"] is True
    fig, axes = new_figure(2)
    assert len(axes) == 2 and fig.get_figwidth() == STYLE["figure.figsize"][0]


def test_hline_labels_a_reference():
    fig, ax = new_figure()
    hline(ax, 2.5, "baseline")
    assert ax.lines[0].get_ydata()[0] == 2.5 and ax.texts[0].get_text() == "baseline"


def test_log_axes_label_plain_numbers():
    fig, ax = new_figure()
    ax.plot([1e3, 1e5], [1.2, 1.8])
    log_axes(ax)
    fig.canvas.draw()
    assert ax.get_xscale() == ax.get_yscale() == "log"
    labels = [t.get_text() for t in ax.get_yticklabels(minor=True) if t.get_text()]
    assert "1.5" in labels and not any("10" in t for t in labels)
    assert not any(t.get_text() for t in ax.get_xticklabels(minor=True))
    log_axes(ax, x=False, y=False)  # nothing to do is not an error


def test_attention_heatmap_draws_the_pattern_with_labelled_axes():
    _, ax = plt.subplots()
    attention_heatmap(ax, np.tril(np.ones((5, 5))) / np.arange(1, 6)[:, None], "a head")
    (image,) = ax.get_images()
    assert image.get_array().shape == (5, 5) and image.get_clim() == (0, 1)
    assert "key" in ax.get_xlabel() and "query" in ax.get_ylabel() and ax.get_title() == "a head"
    plt.close("all")


def test_no_figure_helper_writes_text_below_the_styles_smallest_font():
    """Every explicit font size in helpers/ is at least the style's smallest (the browser test's floor)."""
    import re
    from pathlib import Path

    smallest = min(v for k, v in STYLE.items() if k.endswith(("size", "fontsize")) and isinstance(v, (int, float)))
    too_small = [
        f"{path.name}:{n}: {line.strip()}"
        for path in (Path(__file__).parents[1] / "helpers").rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for size in re.findall(r"fontsize=(\d+(?:\.\d+)?)", line)
        if float(size) < smallest
    ]
    assert smallest == 8 and not too_small, too_small
