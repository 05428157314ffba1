import warnings

import numpy as np
import pytest
import torch

from mmcourse import checks


def test_close_passes_and_fails_with_a_helpful_message():
    a = torch.tensor([1.0, 2.0, 3.0])
    assert checks.close(a, a.clone()) == 0.0
    with pytest.raises(checks.CheckFailed, match="relative error .*worst at flat index 2"):
        checks.close(a, torch.tensor([1.0, 2.0, 4.0]), name="loss")
    with pytest.raises(checks.CheckFailed, match=r"shape is \(2,\), expected \(3,\)"):
        checks.close(a[:2], a)
    with pytest.raises(checks.CheckFailed, match="forget to return"):
        checks.close(None, a)


def test_shape_and_param_count():
    checks.shape(np.zeros((2, 5)), (2, None))
    with pytest.raises(checks.CheckFailed, match=r"expected \(3, \*\)"):
        checks.shape(np.zeros((2, 5)), (3, None))
    checks.param_count(torch.nn.Linear(3, 2), 8)
    with pytest.raises(checks.CheckFailed, match="has 8 trainable parameters, expected 6"):
        checks.param_count(torch.nn.Linear(3, 2), 6)


def _check_double(answer):
    """A check in the style of the lessons' check_* functions: calls the answer on its own input."""
    got = answer(torch.tensor([1.0, 2.0]))
    checks.close(got, torch.tensor([2.0, 4.0]), name="double(x)")
    return got


def _correct(x):
    return 2 * x


def _wrong(x):
    return x + 2


def _unsolved(x):
    raise NotImplementedError()


def _crashes(x):
    return x.no_such_method()


@pytest.fixture
def not_grading(monkeypatch):
    monkeypatch.delenv(checks.GRADING_ENV, raising=False)


def test_run_correct_answer_passes_and_keeps_the_check_value(capsys, not_grading):
    result = checks.run("1. double", _check_double, _correct)
    assert result.status == "passed" and result.passed and result.message == ""
    assert torch.equal(result.value, torch.tensor([2.0, 4.0]))
    assert capsys.readouterr().out == "✅ 1. double: all checks passed\n"
    assert checks.results()["1. double"] is result


def test_run_wrong_answer_prints_the_message_and_goes_on(capsys, not_grading):
    result = checks.run("2. double", _check_double, _wrong)
    assert result.status == "failed" and not result.passed and result.value is None
    assert result.message.startswith("double(x): relative error")
    out = capsys.readouterr().out
    assert out.startswith("❌ 2. double: double(x): relative error") and "got 3, expected 2" in out


def test_run_unsolved_says_not_implemented(capsys, not_grading):
    result = checks.run("3. double", _check_double, _unsolved)
    assert result.status == "not implemented"
    assert capsys.readouterr().out == "⏳ 3. double: not implemented yet\n"


def test_run_reports_an_exception_of_the_learners_code_with_a_short_traceback(capsys, not_grading):
    result = checks.run("4. double", _check_double, _crashes)
    assert result.status == "failed"
    assert result.message == "your code raised AttributeError: 'Tensor' object has no attribute 'no_such_method'"
    out = capsys.readouterr().out
    assert out.startswith("❌ 4. double: your code raised AttributeError")
    assert "in _crashes" in out and "mmcourse/checks.py" not in out


def test_run_cannot_be_bypassed_by_an_answer_that_is_not_a_function(capsys, not_grading):
    assert checks.run("5. double", _check_double, None).status == "failed"
    assert "your code raised TypeError" in capsys.readouterr().out


@pytest.mark.parametrize("answer, status", [(_wrong, "failed"), (_unsolved, "not implemented"), (_crashes, "failed")])
def test_grading_mode_raises_after_printing(capsys, monkeypatch, answer, status):
    monkeypatch.setenv(checks.GRADING_ENV, "1")
    with pytest.raises(checks.CheckFailed, match="^6. double: "):
        checks.run("6. double", _check_double, answer)
    assert checks.results()["6. double"].status == status
    assert "6. double:" in capsys.readouterr().out  # printed before raising


def test_grading_mode_lets_a_correct_answer_pass(monkeypatch):
    monkeypatch.setenv(checks.GRADING_ENV, "1")
    assert checks.run("7. double", _check_double, _correct).passed


def test_run_validates_its_arguments():
    with pytest.raises(ValueError, match="name"):
        checks.run("", _check_double, _correct)
    with pytest.raises(ValueError, match="check"):
        checks.run("8. double", "not a function", _correct)


def test_the_old_context_manager_is_gone():
    assert not hasattr(checks, "exercise")


def test_warnings_raised_during_a_check_go_to_stdout(capsys, not_grading):
    def warns(x):
        warnings.warn("this is slow", UserWarning)
        return 2 * x

    assert checks.run("9. double", _check_double, warns).passed
    captured = capsys.readouterr()
    assert "⚠️ UserWarning: this is slow" in captured.out and captured.err == ""
