import pytest

from helpers.book.exercises import Exercise, resolution

HINTS = ("think about what the loss measures", "exponentiate it")


def test_resolution_is_half_a_unit_of_the_last_digit():
    assert resolution(4.3) == pytest.approx(0.05)
    assert resolution(2.12) == pytest.approx(0.005)
    assert resolution(4.5e12) == pytest.approx(5e10)
    assert resolution(7.0) == pytest.approx(0.5)
    assert resolution(0.0) == 0.0


def test_verdicts_and_hints(capsys, monkeypatch):
    monkeypatch.delenv("COURSE_BATCH", raising=False)
    ex = Exercise("1.1 perplexity", expected=4.348, hints=HINTS)
    ex.check(None)
    assert "not attempted" in capsys.readouterr().out and not ex.passed(None)
    ex.check(4.35)
    assert "[pass]" in capsys.readouterr().out
    ex.check(5.0)
    out = capsys.readouterr().out
    assert "[try again]" in out and HINTS[0] in out and HINTS[1] not in out and "ex1.hint()" in out
    ex.hint()
    assert HINTS[1] in capsys.readouterr().out
    assert "4.348" not in repr(ex), "the expected answer is not shown"


def test_an_answer_as_precise_as_the_printed_one_passes():
    ex = Exercise("1.1 perplexity and bits", expected=[4.348, 2.1203], hints=HINTS)
    assert ex.passed((4.3, 2.12)) and ex.passed([4.35, 2.12]) and ex.passed((4.348, 2.1203))
    assert not ex.passed((4.2, 2.12)), "4.2 does not round 4.348"
    assert not ex.passed((4.0, 2.12)), "one significant digit is too coarse"
    assert not ex.passed((4.3,)) and not ex.passed(4.3)


def test_types_tolerances_and_strings():
    assert not Exercise("x", expected=4.0, hints=HINTS).passed("four")
    assert not Exercise("x", expected=4.0, hints=HINTS).passed(float("nan"))
    assert Exercise("x", expected=100.0, hints=HINTS, rtol=0.05).passed(104)
    assert not Exercise("x", expected=10, hints=HINTS).passed(11)
    assert Exercise("x", expected=10, hints=HINTS, atol=1).passed(11)
    assert Exercise("x", expected="abc", hints=HINTS).passed("abc")
    assert not Exercise("x", expected=True, hints=HINTS).passed(1.0)


def test_batch_run_raises_on_a_wrong_answer(monkeypatch):
    monkeypatch.setenv("COURSE_BATCH", "1")
    ex = Exercise("2.1 compute", expected=4.5e12, hints=HINTS)
    ex.check(None)  # not attempted is fine
    ex.check(4.5e12)
    with pytest.raises(AssertionError, match="2.1 compute"):
        ex.check(5e12)


def test_hints_are_required():
    with pytest.raises(ValueError, match="two non-empty strings"):
        Exercise("x", expected=1, hints=("only one",))
