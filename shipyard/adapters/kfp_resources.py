"""Compute per pipeline step: CPU/memory requests and limits, node selectors and tolerations.

The pipelines name their tasks and nothing about where they run; they hand their tasks to
:func:`apply_resources`, which looks each task's component up in a resources table
(``shipyard/defaults/resources.yaml``, optionally merged with a user's file) and sets it with
kfp's own calls (``set_cpu_request`` … and kfp-kubernetes for node selectors and tolerations), so
the values are compiled into the IR. kfp.local ignores them.

kfp builds a pipeline's spec when ``@dsl.pipeline`` decorates it, so the table in force is the
one active at that moment: :func:`using_resources` sets it, and
:func:`shipyard.adapters.kfp_compile.compile_all` rebuilds the pipelines inside it.
"""

from __future__ import annotations

import contextlib
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from shipyard.config import merge_yaml, parse_yaml
from shipyard.errors import ConfigError

_FIELDS = ("cpu_request", "cpu_limit", "memory_request", "memory_limit")
_CPU = re.compile(r"^(?P<num>\d+(\.\d+)?)(?P<unit>m?)$")
_MEMORY = re.compile(r"^(?P<num>\d+(\.\d+)?)(?P<unit>E|P|T|G|M|K|Ei|Pi|Ti|Gi|Mi|Ki)?$")
_MEMORY_FACTOR = {
    "": 1,
    **{u: 1000**i for i, u in enumerate(("K", "M", "G", "T", "P", "E"), start=1)},
    **{u: 1024**i for i, u in enumerate(("Ki", "Mi", "Gi", "Ti", "Pi", "Ei"), start=1)},
}
_TOLERATION_KEYS = {"key", "operator", "value", "effect", "toleration_seconds"}


@dataclass(frozen=True)
class Toleration:
    """One Kubernetes toleration, as ``kubernetes.add_toleration`` takes it."""

    key: str | None = None
    operator: str | None = None
    value: str | None = None
    effect: str | None = None
    toleration_seconds: int | None = None


@dataclass(frozen=True)
class StepResources:
    """What one step's pod asks for (requests) and may use (limits), and where it may run."""

    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    node_selector: Mapping[str, str] = field(default_factory=dict)
    tolerations: tuple[Toleration, ...] = ()


@dataclass(frozen=True)
class ResourceTable:
    """Component name (as KFP names it, e.g. ``train-model``) → its resources; ``default`` for the rest."""

    default: StepResources
    components: Mapping[str, StepResources]

    def for_component(self, name: str) -> StepResources:
        return self.components.get(name, self.default)


def default_resources_text() -> str:
    """The shipped table, comments included (``shipyard/defaults/resources.yaml``)."""
    return resources.files("shipyard").joinpath("defaults/resources.yaml").read_text(encoding="utf-8")


def load_resources(path: str | Path | None = None) -> ResourceTable:
    """The shipped table, with the file at ``path`` merged over it key by key.

    A file that only says ``components: {train-model: {memory_limit: 4Gi}}`` keeps every other
    value. Raises ConfigError naming the key for unknown keys, components or malformed quantities.
    """
    data = parse_yaml(default_resources_text(), "shipyard/defaults/resources.yaml")
    if path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read resources file {path}: {exc.strerror or exc}") from exc
        data = merge_yaml(data, parse_yaml(text, f"resources file {path}"))
    return _table(data)


_ACTIVE: ContextVar[ResourceTable | None] = ContextVar("shipyard_resources", default=None)


@contextlib.contextmanager
def using_resources(table: ResourceTable) -> Iterator[ResourceTable]:
    """Makes ``table`` the one :func:`apply_resources` uses while pipelines are built inside this block."""
    token = _ACTIVE.set(table)
    try:
        yield table
    finally:
        _ACTIVE.reset(token)


def active_resources() -> ResourceTable:
    return _ACTIVE.get() or load_resources()


def apply_resources(*tasks: Any) -> None:
    """Sets each kfp task's requests, limits, node selector and tolerations from the active table."""
    from kfp import kubernetes

    table = active_resources()
    for task in tasks:
        step = table.for_component(task.component_spec.name)
        _in_a_short_stack(_set_requests_and_limits, task, step)
        for label, value in step.node_selector.items():
            kubernetes.add_node_selector(task, label_key=label, label_value=value)
        for toleration in step.tolerations:
            kubernetes.add_toleration(
                task,
                key=toleration.key,
                operator=toleration.operator,
                value=toleration.value,
                effect=toleration.effect,
                toleration_seconds=toleration.toleration_seconds,
            )


def known_components() -> set[str]:
    """KFP names of shipyard's components: the only keys ``components:`` accepts."""
    import shipyard.components as components

    return {getattr(components, name).component_spec.name for name in components.__all__}


def cpu_cores(quantity: str) -> float:
    """A Kubernetes CPU quantity ('500m', '2', '0.5') in cores."""
    match = _CPU.match(quantity)
    if not match:
        raise ValueError(f"'{quantity}' is not a CPU quantity like 500m or 2")
    return float(match["num"]) / (1000 if match["unit"] else 1)


def memory_bytes(quantity: str) -> float:
    """A Kubernetes memory quantity ('512Mi', '2Gi', '1G') in bytes."""
    match = _MEMORY.match(quantity)
    if not match:
        raise ValueError(f"'{quantity}' is not a memory quantity like 512Mi or 2Gi")
    return float(match["num"]) * float(_MEMORY_FACTOR[match["unit"] or ""])


def _table(data: dict[str, Any]) -> ResourceTable:
    unknown = set(data) - {"default", "components"}
    if unknown:
        raise ConfigError(f"unknown resources key(s): {', '.join(sorted(unknown))} (expected default, components)")
    default = _step(data.get("default"), "default", base=None)
    components = data.get("components") or {}
    if not isinstance(components, Mapping):
        raise ConfigError("resources key 'components' must be a mapping of component name → resources")
    known = known_components()
    table: dict[str, StepResources] = {}
    for name, value in components.items():
        if name not in known:
            raise ConfigError(
                f"resources key 'components.{name}': no such component (one of: {', '.join(sorted(known))})"
            )
        table[name] = _step(value, f"components.{name}", base=default)
    return ResourceTable(default=default, components=table)


def _step(value: Any, where: str, base: StepResources | None) -> StepResources:
    if not isinstance(value, Mapping):
        raise ConfigError(f"resources key '{where}' must be a mapping")
    unknown = set(value) - {*_FIELDS, "node_selector", "tolerations"}
    if unknown:
        raise ConfigError(f"unknown resources key(s) in '{where}': {', '.join(sorted(unknown))}")
    fields: dict[str, str] = {}
    for name in _FIELDS:
        raw = value.get(name, getattr(base, name) if base else None)
        if raw is None:
            raise ConfigError(f"resources key '{where}.{name}' is required")
        fields[name] = str(raw)
        try:
            (cpu_cores if name.startswith("cpu") else memory_bytes)(fields[name])
        except ValueError as exc:
            raise ConfigError(f"resources key '{where}.{name}': {exc}") from exc
    for kind, parse in (("cpu", cpu_cores), ("memory", memory_bytes)):
        if parse(fields[f"{kind}_request"]) > parse(fields[f"{kind}_limit"]):
            raise ConfigError(f"resources key '{where}': {kind}_request is above {kind}_limit")
    selector = value.get("node_selector", dict(base.node_selector) if base else {}) or {}
    if not isinstance(selector, Mapping) or not all(isinstance(v, str) for v in selector.values()):
        raise ConfigError(f"resources key '{where}.node_selector' must map label → string value")
    tolerations = value.get("tolerations")
    parsed = base.tolerations if base and tolerations is None else _tolerations(tolerations or [], where)
    return StepResources(**fields, node_selector=dict(selector), tolerations=parsed)


def _tolerations(value: Any, where: str) -> tuple[Toleration, ...]:
    if not isinstance(value, list):
        raise ConfigError(f"resources key '{where}.tolerations' must be a list")
    parsed = []
    for i, item in enumerate(value):
        if not isinstance(item, Mapping) or set(item) - _TOLERATION_KEYS:
            raise ConfigError(
                f"resources key '{where}.tolerations[{i}]' must be a mapping of {', '.join(sorted(_TOLERATION_KEYS))}"
            )
        parsed.append(Toleration(**item))
    return tuple(parsed)


def _set_requests_and_limits(task: Any, step: StepResources) -> None:
    task.set_cpu_request(step.cpu_request).set_cpu_limit(step.cpu_limit)
    task.set_memory_request(step.memory_request).set_memory_limit(step.memory_limit)


def _in_a_short_stack(call: Callable[..., object], *args: Any) -> None:
    """Runs ``call(*args)`` on a fresh thread, whose stack is a few frames deep.

    kfp's resource setters call ``inspect.stack()`` just to name themselves in an error message; it
    reads the source of every frame on the stack, and under the CLI (click, kfp.local, the
    pipeline decorator) that cost ~0.25 s per call: 10 of the 11 s it took to define the training
    pipeline on a busy machine (bench/orchestration.py). The setters need nothing thread-local.
    """
    failure: list[BaseException] = []

    def run() -> None:
        try:
            call(*args)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="kfp-resources")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]
