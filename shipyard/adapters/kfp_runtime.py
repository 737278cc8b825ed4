"""Importing shipyard's components from inside a running KFP task.

A KFP executor imports ``kfp.dsl`` with ``_KFP_RUNTIME=true`` (the task's command sets it), which
leaves out the decorators (``dsl.component``, ``dsl.pipeline``...) that shipyard's component
modules run at import. A task that calls other components' Python functions (a segment's delivery,
shipyard/components/segment_flow.py) loads ``kfp.dsl`` again in full first: the project image has
the whole SDK. Only the components' Python functions are called; nothing is compiled or submitted.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType


def training_components() -> ModuleType:
    """``shipyard.components``, importable whether or not this process is a KFP task."""
    from kfp import dsl

    if not hasattr(dsl, "component"):
        previous = os.environ.get("_KFP_RUNTIME")
        os.environ["_KFP_RUNTIME"] = "false"
        try:
            importlib.reload(dsl)
        finally:
            if previous is None:
                os.environ.pop("_KFP_RUNTIME", None)
            else:
                os.environ["_KFP_RUNTIME"] = previous
    return importlib.import_module("shipyard.components")
