"""The shared vocabulary: task kinds and the CLI's --task choices."""

from __future__ import annotations

import pytest

from shipyard.errors import ConfigError
from shipyard.vocabulary import TASK_CHOICES, TASKS, TaskKind, check_task


def test_task_kinds_and_choices():
    assert TASKS == ("classification", "regression")
    assert TASK_CHOICES == ("auto", "classification", "regression")
    assert check_task(TaskKind.REGRESSION) == "regression" and check_task("classification") == "classification"
    with pytest.raises(ConfigError, match=r"data contract 'task' must be one of \['classification', 'regression'\]"):
        check_task("clustering", "data contract 'task'")
