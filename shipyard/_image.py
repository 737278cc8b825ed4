"""The one container image every shipyard component runs in.

The tag follows the package version, so a pipeline compiled by shipyard X.Y.Z runs the image
built from X.Y.Z. ``SHIPYARD_IMAGE`` overrides it for a private registry or a dev build; the
override is read when a component is defined, never baked into the committed golden YAML.
"""

from __future__ import annotations

import os

from shipyard import __version__

IMAGE_REPOSITORY = "ghcr.io/shipyard-mlops/shipyard"


def default_image() -> str:
    """``ghcr.io/shipyard-mlops/shipyard:<package version>`` (the build's local part dropped)."""
    return f"{IMAGE_REPOSITORY}:{__version__.split('+')[0]}"


def project_image() -> str:
    """The image components run in: ``$SHIPYARD_IMAGE`` or the default for this version."""
    return os.environ.get("SHIPYARD_IMAGE") or default_image()
