import ipywidgets as widgets
import matplotlib
import numpy as np
import pytest

from helpers.widgets import AllocationRule, allocation_rows, compute_budget_explorer, plot_allocation

matplotlib.use("Agg")

RULES = [
    AllocationRule("20 tokens per parameter", lambda C: np.sqrt(C / 120)),
    AllocationRule("fixed loss", lambda C: np.sqrt(C / 6), loss=lambda C: 1.5 + 0 * C),
]


def test_allocation_rows():
    rows = allocation_rows(RULES, 1.2e13)
    assert rows[0] == ["20 tokens per parameter", "3.16e+05", "6.32e+06", "20", "—"]
    assert rows[1][3] == "1" and rows[1][4] == "1.500"
    with pytest.raises(ValueError, match="compute budget"):
        allocation_rows(RULES, -1.0)


def test_plot_allocation_draws_each_rule():
    ax = plot_allocation(RULES, 1e12, (1e10, 1e14))
    assert len(ax.get_lines()) == 2 * len(RULES) + 1  # a line and a marker per rule, and the budget
    assert "FLOPs" in ax.get_xlabel()


def test_explorer_redraws_when_the_budget_moves():
    box = compute_budget_explorer(RULES, (1e10, 1e14), value=1e12)
    slider, image, table = box.children
    assert isinstance(slider, widgets.FloatLogSlider) and slider.value == pytest.approx(1e12)
    assert slider.min == pytest.approx(10) and slider.max == pytest.approx(14)
    assert bytes(image.value[:8]) == b"\x89PNG\r\n\x1a\n" and "9.13e+04" in table.value  # N = sqrt(1e12 / 120)
    before = bytes(image.value)
    slider.value = 1.2e13
    assert bytes(image.value) != before and "3.16e+05" in table.value and "<td>20</td>" in table.value
