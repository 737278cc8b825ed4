"""Benchmark: the registry of a model trained per segment, 10 segments × 10 versions vs 1,000 × 100 (not a test).

    .venv/bin/python bench/segments_registry.py --sizes 10x10 1000x2 1000x100

A model trained with ``--segment-by`` is one registry model per segment, ``NAME--SUFFIX``, and an
index of them under ``models/NAME/segments/`` (shipyard.stages.segments). For each size this builds
that registry on the local directory store and on a ``moto_server``-like S3 server, then measures,
through the real ``ModelRegistry``:

- ``list_segments`` first page, 10 and 100 segments (``models segments`` reads one of these);
- ``models segments NAME --json`` (100 a page): the command itself, with each segment's production
  and staging aliases;
- ``find_segment`` of a known value (what ``--segment VALUE`` costs before the command), and of an
  unknown one (the error names the first 10 known segments);
- ``resolve production`` of one segment model, and ``versions_page`` of it (10 a page, so both
  sizes fill the page);
- the listing of the index alone (``store.list``), which tells moto's listing cost apart (below).

How the registry is built (not measured, and not by registering): one segment model is laid out
for real in a throwaway directory (``fill_history``'s layout, 4 keys per version and the latest
hint, then ``set_alias`` moves production to the newest version from the one before and points
staging at it), and its keys are copied under every segment model's name; the index is written by
``record_segments``. Registering 100,000 versions one by one would take hours on moto and measure
nothing these rows show. On the local store the copies are written as files (in ``--dir``, by
default ``/dev/shm``); on S3 they are put straight into the S3 server's memory before it starts
serving: the server is moto's, run in a subprocess of this script (``--serve``) so that 400,000
objects take seconds instead of an hour of PUTs over HTTP.

Counts: on the local store, calls to the store (``r`` read, ``l`` list, ``e`` exists); on S3, the
HTTP requests the ``minio`` client sends (``L`` a list page, ``G`` another GET, ``H`` HEAD). Times
are the median of ``--repeat`` calls; counts are those of the first. Note that moto lists a prefix
by scanning every key in the bucket, so on moto a list request gets slower as the bucket grows
(400,000 keys at 1,000 × 100, 9,000 at 1,000 × 2: the middle size shows it); S3 itself lists by
prefix, so there only the count matters.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.store.counting import CountingHTTP, CountingStore, count_http, fill_history  # noqa: E402

MODEL = "churn"
COLUMN = "region"
TEMPLATE = "template-segment"
BUCKET_PREFIX = "registry"


def parse_size(text: str) -> tuple[int, int]:
    segments, _, versions = text.partition("x")
    if not (segments.isdigit() and versions.isdigit() and int(segments) >= 1 and int(versions) >= 2):
        raise argparse.ArgumentTypeError(f"a size is SEGMENTSxVERSIONS, versions at least 2: {text!r}")
    return int(segments), int(versions)


def segment_value(index: int) -> str:
    return f"r{index:04d}"


def registry_objects(segments: int, versions: int) -> Iterator[tuple[str, bytes]]:
    """Every key of MODEL's segments registry: the index, then each segment model (copied from one real one)."""
    from shipyard.stages.segments import PlannedSegment, SegmentPlan, record_segments, segment_model_name
    from shipyard.store.local import LocalStore
    from shipyard.store.registry import ModelRegistry

    with tempfile.TemporaryDirectory(prefix="shipyard-bench-template-") as tmp:
        store = LocalStore(Path(tmp))
        fill_history(store, TEMPLATE, versions, threads=1)
        registry = ModelRegistry(store)
        registry.set_alias(TEMPLATE, "production", versions - 1)
        registry.set_alias(TEMPLATE, "production", versions)  # one step of history: rollback can go back
        registry.set_alias(TEMPLATE, "staging", versions)
        template = {key: store.read(key) for key in store.list(f"models/{TEMPLATE}/")}
    plan = SegmentPlan(
        MODEL,
        COLUMN,
        tuple(
            PlannedSegment(segment_value(i), segment_model_name(MODEL, segment_value(i)), 100) for i in range(segments)
        ),
        (),
    )
    index: dict[str, bytes] = {}

    class Collect:  # what record_segments writes through
        def create(self, key: str, data: bytes) -> bool:
            index[key] = data
            return True

    class Holder:
        store = Collect()

    record_segments(Holder(), plan)
    yield from index.items()
    old_prefix, old_name = f"models/{TEMPLATE}/", f'"{TEMPLATE}"'.encode()
    for segment in plan.planned:
        new_prefix, new_name = f"models/{segment.model}/", f'"{segment.model}"'.encode()
        for key, data in template.items():
            yield new_prefix + key[len(old_prefix) :], data.replace(old_name, new_name)


def fill_directory(root: Path, segments: int, versions: int) -> int:
    count = 0
    made: set[Path] = set()
    for key, data in registry_objects(segments, versions):
        path = root.joinpath(*key.split("/"))
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_bytes(data)
        count += 1
    return count


# --- the S3 server: moto, filled in its own memory, then serving ------------------------------


def bucket_for(segments: int, versions: int) -> str:
    return f"bench-segments-{segments}x{versions}"


def serve(port: int, sizes: list[tuple[int, int]]) -> None:
    """``--serve``: puts each size's registry into moto's memory, then serves S3 on ``port`` until killed."""
    import logging

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.s3.models import s3_backends

    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    for segments, versions in sizes:
        bucket = bucket_for(segments, versions)
        backend.create_bucket(bucket, "us-east-1")
        started, count = time.perf_counter(), 0
        for key, data in registry_objects(segments, versions):
            backend.put_object(bucket, f"{BUCKET_PREFIX}/{key}", data, disable_notification=True)
            count += 1
        print(f"{segments}x{versions}: {count} objects {time.perf_counter() - started:.1f} s", flush=True)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    print("serving", flush=True)
    while True:
        time.sleep(3600)


def start_server(sizes: list[tuple[int, int]]) -> tuple[subprocess.Popen[str], str, dict[str, float]]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    process = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(port), "--sizes", *(f"{s}x{v}" for s, v in sizes)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    fills: dict[str, float] = {}
    for line in process.stdout:
        if line.strip() == "serving":
            return process, f"http://127.0.0.1:{port}", fills
        size, _, rest = line.partition(": ")
        fills[size] = float(rest.split()[-2])
        print(f"  s3 server filled {line.strip()}", file=sys.stderr, flush=True)
    raise SystemExit(f"the S3 server exited ({process.wait()}) before serving")


# --- measuring ---------------------------------------------------------------------------------


_COUNTING = threading.Lock()  # `models segments` reads aliases from several threads


class CountingS3(CountingHTTP):
    """HTTP requests by method, list pages (a GET with ``list-type``) counted apart as ``LIST``."""

    def urlopen(self, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        with _COUNTING:
            self.counts["LIST" if method == "GET" and "list-type=" in url else method] += 1
        return self._inner.urlopen(method, url, *args, **kwargs)


class LockedCountingStore(CountingStore):
    """tests.store.counting.CountingStore, safe to call from several threads at once."""

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr) or name.startswith("_") or name in ("uri_for",):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            with _COUNTING:
                self.counts[name] += 1
            return attr(*args, **kwargs)

        return call


def count_s3(store: Any) -> CountingS3:
    counter = count_http(store)
    store._client._http = CountingS3(counter._inner)
    return store._client._http


def measure(counts: Counter[str], call: Callable[[], object], repeat: int) -> tuple[Counter[str], float]:
    """Requests of the first call and the median wall time of ``repeat`` calls, in ms."""
    times, first = [], None
    for _ in range(repeat):
        counts.clear()
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
        if first is None:
            first = Counter(counts)
    assert first is not None
    return first, statistics.median(times)


def run_size(uri: str, segments: int, versions: int, repeat: int) -> dict[str, tuple[Counter[str], float]]:
    from click.testing import CliRunner

    import shipyard.cli.models as models_cli
    import shipyard.stages.segments as segments_module
    from shipyard.cli.main import main
    from shipyard.errors import RegistryError
    from shipyard.stages.segments import find_segment, list_segments, segment_model_name
    from shipyard.store import open_store
    from shipyard.store.registry import ModelRegistry

    inner = open_store(uri)
    counter: Counter[str]
    if uri.startswith("s3://"):
        counter = count_s3(inner).counts
        registry = ModelRegistry(inner)
    else:
        counting = LockedCountingStore(inner)
        counter = counting.counts
        registry = ModelRegistry(counting)  # type: ignore[arg-type]
    value = segment_value(segments // 2)
    model = segment_model_name(MODEL, value)
    list_segments(registry, MODEL, limit=1)  # warms the client (the bucket check)

    def cli_page() -> None:
        models_cli._registry = lambda store: registry  # the command's own reads, counted
        result = CliRunner().invoke(main, ["models", "segments", MODEL, "--limit", "100", "--json", "--store", uri])
        assert result.exit_code == 0, result.output

    def unknown() -> None:
        try:
            find_segment(registry, MODEL, "nowhere")
        except RegistryError:
            return
        raise AssertionError("an unknown segment was found")

    rows: dict[str, tuple[Counter[str], float]] = {}
    index = segments_module._index_prefix(MODEL)
    rows["the index's listing alone"] = measure(counter, lambda: registry.store.list(index), repeat)
    rows["list_segments, first page of 10"] = measure(counter, lambda: list_segments(registry, MODEL, limit=10), repeat)
    rows["list_segments, first page of 100"] = measure(
        counter, lambda: list_segments(registry, MODEL, limit=100), repeat
    )
    rows["models segments --json (100)"] = measure(counter, cli_page, repeat)
    rows["find_segment (--segment VALUE)"] = measure(counter, lambda: find_segment(registry, MODEL, value), repeat)
    rows["find_segment, unknown value"] = measure(counter, unknown, repeat)
    rows["resolve production (1 segment)"] = measure(
        counter, lambda: registry.resolve_alias(model, "production"), repeat
    )
    rows["versions_page of 10 (1 segment)"] = measure(counter, lambda: registry.versions_page(model, limit=10), repeat)
    page = list_segments(registry, MODEL, limit=100)
    assert page.total == segments and len(page.segments) == min(100, segments), page.total
    resolved = registry.resolve_alias(model, "production")
    assert resolved is not None and resolved.version == versions
    assert [v.version for v in registry.versions_page(model, limit=10).versions] == list(
        range(versions, max(versions - 10, 0), -1)
    )
    return rows


ABBREVIATIONS = {"LIST": "L", "GET": "G", "HEAD": "H", "PUT": "P", "read": "r", "list": "l", "exists": "e"}


def shown(counts: Counter[str]) -> str:
    total = sum(counts.values())
    detail = " ".join(f"{n}{ABBREVIATIONS.get(m, m)}" for m, n in sorted(counts.items(), key=lambda i: -i[1]) if n)
    return f"{total} ({detail})" if detail else str(total)


def print_table(title: str, sizes: list[tuple[int, int]], results: dict[tuple[int, int], dict[str, Any]]) -> None:
    print(title)
    label_width = 34
    names = [f"{s:,} seg x {v:,} ver" for s, v in sizes]
    header = f"{'operation':<{label_width}}" + "".join(f"{name:>28}" for name in names)
    if len(sizes) > 1:
        header += f"{'ratio last/first':>24}"
    print(header)
    for label in results[sizes[0]]:
        line = f"{label:<{label_width}}"
        for size in sizes:
            counts, ms = results[size][label]
            line += f"{shown(counts):>18} {ms:7.1f} ms"
        if len(sizes) > 1:
            (small, small_ms), (big, big_ms) = results[sizes[0]][label], results[sizes[-1]][label]
            line += f"{sum(big.values()) / sum(small.values()):>10.2f}x req {big_ms / small_ms:6.2f}x t"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=parse_size, nargs="+", default=[(10, 10), (1000, 2), (1000, 100)])
    parser.add_argument("--stores", nargs="+", choices=["local", "s3"], default=["local", "s3"])
    parser.add_argument("--repeat", type=int, default=5, help="calls per timed operation (median)")
    parser.add_argument(
        "--dir",
        default="/dev/shm" if Path("/dev/shm").is_dir() else None,
        help="where the local store's directories go (default /dev/shm: memory, so 400,000 files are "
        "written and removed in seconds; on this machine's disk removing them ran past 15 minutes)",
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    sizes: list[tuple[int, int]] = args.sizes
    if args.serve:
        serve(args.serve, sizes)
        return

    fills: list[str] = []
    if "local" in args.stores:
        local: dict[tuple[int, int], dict[str, Any]] = {}
        for segments, versions in sizes:
            with tempfile.TemporaryDirectory(prefix="shipyard-bench-segments-", dir=args.dir) as tmp:
                started = time.perf_counter()
                count = fill_directory(Path(tmp), segments, versions)
                fills.append(f"local {segments}x{versions}: {count:,} files {time.perf_counter() - started:.1f} s")
                print(f"  {fills[-1]}", file=sys.stderr, flush=True)
                local[(segments, versions)] = run_size(tmp, segments, versions, args.repeat)
                print(f"  local {segments}x{versions} measured; removing its files", file=sys.stderr, flush=True)
        print_table(
            f"registry on the local directory store; store calls per call (r=read l=list e=exists), "
            f"median ms of {args.repeat}",
            sizes,
            local,
        )
        print()
    if "s3" in args.stores:
        process, endpoint, filled = start_server(sizes)
        fills += [f"s3 {size}: {seconds:.1f} s" for size, seconds in filled.items()]
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_ACCESS_KEY_ID": "bench",
                "AWS_SECRET_ACCESS_KEY": "bench-secret",
                "AWS_REGION": "us-east-1",
            }
        )
        try:
            remote = {(s, v): run_size(f"s3://{bucket_for(s, v)}/{BUCKET_PREFIX}", s, v, args.repeat) for s, v in sizes}
        finally:
            process.terminate()
            process.wait(timeout=60)
        print_table(
            f"registry on moto (S3 protocol over HTTP); HTTP requests per call (L=list page G=GET H=HEAD), "
            f"median ms of {args.repeat}",
            sizes,
            remote,
        )
        print()
    print("building the registries (not measured above): " + "; ".join(fills))
    load = os.getloadavg()
    print(
        f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end"
    )
    print("command: " + shlex.join([Path(sys.executable).name, *sys.argv]))


if __name__ == "__main__":
    main()
