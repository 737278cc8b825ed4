"""The small vocabularies every layer shares, each defined once: task kinds and alias names.

Cheap to import (no pandas, no kfp): the CLI builds its choices from here.
"""

from __future__ import annotations

from enum import Enum

from shipyard.errors import ConfigError


class TaskKind(str, Enum):
    """What a model predicts: a class label or a number."""

    CLASSIFICATION = "classification"
    REGRESSION = "regression"


#: The task names, in a stable order, as configuration, contracts and the CLI spell them.
TASKS: tuple[str, ...] = tuple(kind.value for kind in TaskKind)
#: What ``--task`` accepts: a task, or ``auto`` to decide from the target column.
TASK_CHOICES: tuple[str, ...] = ("auto", *TASKS)


def check_task(task: object, what: str = "task") -> str:
    """Returns ``task`` if it names a task kind, else raises a ConfigError naming ``what``."""
    if isinstance(task, TaskKind):
        return task.value
    if task not in TASKS:
        raise ConfigError(f"{what} must be one of {list(TASKS)}, got {task!r}")
    return str(task)


#: The alias a gate compares with and a server serves: the champion.
PRODUCTION = "production"
#: The alias a new version is smoke-tested under before production moves.
STAGING = "staging"
