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


def test_exercise_outcomes(capsys):
    with checks.exercise("ok") as result:
        checks.true(True, "fine")
    assert result.passed and "all checks passed" in capsys.readouterr().out

    with checks.exercise("todo") as result:
        raise NotImplementedError("use torch.fft.rfft")
    assert result.status == "not implemented"
    assert "not implemented yet. Hint: use torch.fft.rfft" in capsys.readouterr().out

    with pytest.raises(checks.CheckFailed, match="bad: values differ"):
        with checks.exercise("bad"):
            checks.true(False, "values differ")
    assert checks.results()["bad"].status == "failed"
