"""shipyard pipelines: DAGs that do not know where they run.

``PIPELINES`` maps each pipeline's CLI name to its function; ``shipyard compile`` writes each one's
IR YAML, and the committed copies in ``compiled/`` are checked by a golden test.
"""

from __future__ import annotations

from collections.abc import Callable


def pipelines() -> dict[str, Callable]:
    """Name → pipeline function, imported on demand (kfp.dsl costs about a second to import)."""
    from shipyard.pipelines.monitoring import monitoring_pipeline
    from shipyard.pipelines.segments import segmented_training_pipeline
    from shipyard.pipelines.training import training_pipeline

    return {"training": training_pipeline, "monitoring": monitoring_pipeline, "segments": segmented_training_pipeline}
