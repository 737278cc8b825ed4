"""Serving one registry version from a directory, as KServe's storage initializer downloads it.

An InferenceService's ``storageUri`` is a registry version directory
(``s3://BUCKET/PREFIX/models/NAME/VERSION/``); KServe copies it to /mnt/models before the server
starts. The directory holds the same files the registry wrote (``metadata.json``, ``model.joblib``,
extra files), so it is opened as a one-version registry: the model is loaded by the same
:func:`~shipyard.serving.model.load_version` as ``shipyard serve NAME``, with its sha256 checked
against ``metadata.json`` before anything is unpickled. It never follows an alias: on a cluster,
another version is another storageUri, i.e. a new KServe revision.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from shipyard.errors import RegistryError
from shipyard.store.registry import METADATA_FILE, ModelRegistry, ModelVersion


def open_version_dir(model_dir: str | Path) -> tuple[ModelRegistry, ModelVersion]:
    """A read-only registry holding just the version in ``model_dir``, and that version.

    Raises:
        RegistryError: ``model_dir`` is not a registry version directory (no or bad metadata.json).
    """
    source = Path(model_dir).resolve()
    try:
        document = json.loads((source / METADATA_FILE).read_text(encoding="utf-8"))
        name, version = str(document["name"]), int(document["version"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise RegistryError(
            f"{source} is not a registry version directory (models/NAME/VERSION/ with {METADATA_FILE}): {exc}"
        ) from None
    root = Path(tempfile.mkdtemp(prefix="shipyard-model-dir-"))
    (root / "models" / name).mkdir(parents=True)
    (root / "models" / name / str(version)).symlink_to(source, target_is_directory=True)
    registry = ModelRegistry.from_uri(str(root))
    return registry, registry.get_version(name, version)
