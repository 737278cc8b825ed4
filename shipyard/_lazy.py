"""Modules loaded on first use, so a pipeline task pays only for the libraries it touches.

Every KFP task is a fresh Python process. A task that only moves an alias imports the stage
modules that define the types it reads (``ModelFacts``, ``DriftSettings`` through the config), and
those modules use numpy, pandas or scipy in their functions. Binding those names with
:func:`lazy_module` keeps ``import shipyard.stages.train`` at the cost of shipyard's own code; the
library is imported the first time one of its attributes is read (the recipe in the importlib
docs, "Implementing lazy imports"). Write ``if TYPE_CHECKING: import pandas as pd`` beside it so
type checkers see the real module.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType


def lazy_module(name: str) -> ModuleType:
    """The module ``name``, loaded when one of its attributes is first read.

    A module already imported is returned as it is. Only top-level packages and modules whose
    parent is already imported may be named: finding a submodule imports its parent.
    """
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named '{name}'", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module
