"""shipyard: CI/CD for machine-learning models as Kubeflow Pipelines components.

The core (stages, store, adapters) never imports kfp; components/ and pipelines/ are the thin
KFP layer, and cli/ drives it. Importing this package has no side effects.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _dist_version

try:
    __version__ = _dist_version("shipyard-mlops")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
