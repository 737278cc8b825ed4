"""A model whose unpickling takes a while: lets a test see `shipyard serve` before its model is loaded.

Imported by the server process too (the tests put the repository root on its PYTHONPATH).
"""

from __future__ import annotations

import time
from typing import Any


class SlowToLoad:
    """Wraps a fitted pipeline; ``joblib.load`` of it sleeps ``delay`` seconds."""

    def __init__(self, pipeline: Any, delay: float) -> None:
        self.pipeline = pipeline
        self.delay = delay

    def __setstate__(self, state: dict[str, Any]) -> None:
        time.sleep(state["delay"])
        self.__dict__.update(state)

    @property
    def classes_(self) -> Any:
        return self.pipeline.classes_

    def predict(self, frame: Any) -> Any:
        return self.pipeline.predict(frame)

    def predict_proba(self, frame: Any) -> Any:
        return self.pipeline.predict_proba(frame)
