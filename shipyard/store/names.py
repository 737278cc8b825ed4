"""Names users choose (models, aliases) and ids pipelines pass (run ids, record sections).

They become parts of store keys and of Kubernetes/KServe object names, so they are checked
before anything is read or written: no path traversal, no slashes or dots, nothing a
shell, a URL or the API server would read differently.
"""

from __future__ import annotations

import hashlib
import re

from shipyard.errors import RegistryError

_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
_NAME_RULE = (
    "use 1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit (no '/', '.', spaces or uppercase)"
)
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,127}")
_ID_RULE = "use 1-128 letters, digits, '.', '-' or '_', starting with a letter or digit (no '/' or '..')"


def _check(kind: str, value: object, pattern: re.Pattern[str], rule: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value) or ".." in value:
        raise RegistryError(f"invalid {kind} {value!r}: {rule}")
    return value


def validate_model_name(name: object) -> str:
    """Returns ``name`` if it is a valid model name, else raises RegistryError stating the rule."""
    return _check("model name", name, _NAME, _NAME_RULE)


def validate_alias(alias: object) -> str:
    """Returns ``alias`` if it is a valid alias name (same rule as model names)."""
    return _check("alias name", alias, _NAME, _NAME_RULE)


def validate_run_id(run_id: object) -> str:
    """Run ids as KFP/Argo produce them (UUIDs, workflow names) or a caller's own label."""
    return _check("run id", run_id, _ID, _ID_RULE)


def validate_section(section: object) -> str:
    """The name of one part of a run record (``validation``, ``gate``, ``outcome``...)."""
    return _check("run record section", section, _ID, _ID_RULE)


def to_k8s_name(name: str) -> str:
    """A DNS-1035 label (what KServe InferenceService names must be) derived from a model name.

    ``_`` becomes ``-`` and a leading digit gets an ``m-`` prefix; if that makes the label
    longer than 63 characters it is cut and suffixed with a short hash, so the result is
    deterministic. Distinct model names such as ``a_b`` and ``a-b`` map to the same label.
    """
    validate_model_name(name)
    label = name.replace("_", "-")
    if not label[0].isalpha():
        label = "m-" + label
    label = label.rstrip("-")
    if len(label) > 63:
        label = label[:54].rstrip("-") + "-" + hashlib.sha256(name.encode()).hexdigest()[:8]
    return label
