"""Benchmark: the local training pipeline against the same components called in one process (not a test).

    .venv/bin/python bench/orchestration.py --rows 10000 100000

For each N, a churn-like classification table of N rows (numeric and categorical columns, a few
percent missing; :func:`shipyard.data.synthetic.make_demo_dataset` with ``--seed``) is written as
CSV, then run twice, each in a fresh store and a fresh Python process:

- ``pipeline``: ``shipyard run training --json`` (kfp.local, one subprocess per task), timed from
  the outside, start-up of the command included. Per task: wall time from kfp.local's log (task
  started → finished, so interpreter start, imports, the work and exit) and the body alone (the
  task record's start/end, written inside the component).
- ``in-process``: the same ten components' Python functions, called in order in one process on
  the same files (ingest → … → promote, then the exit handler's record_outcome). Every module the
  components import is imported first and timed separately (``imports``); each component is then
  timed on its own. The smoke test starts its `shipyard serve` subprocess on both sides.

Both sides run with ``OMP_NUM_THREADS=--threads`` (default 1): scikit-learn's histogram gradient
boosting fits with OpenMP threads, which on a shared 2-core machine under load turn a 2 s fit into a
minute; one thread keeps the two sides comparable.

Ratios are pipeline total / in-process total, where the in-process total is the imports paid once
plus the work: the cost of one process doing the whole run. ``pipeline / work`` also leaves the
imports out. ``--profile`` adds a per-task breakdown of the pipeline run (interpreter start and
kfp import, imports inside the body by top-level package from ``-X importtime``, the rest of the
body, exit); importtime's own overhead makes that run slower, so it is a separate run whose
totals are not used for the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

SHIPYARD = str(Path(sys.executable).parent / "shipyard")
TARGET = "churned"
MODEL = "churn"

#: kfp task name -> what `shipyard run training` calls it, in pipeline order.
TASKS = {
    "ingest-data": "ingest",
    "validate-data": "validate",
    "train-model": "train",
    "evaluate-model": "evaluate",
    "gate-challenger": "gate",
    "register-model": "register",
    "deploy-staging": "deploy to staging",
    "smoke-test": "smoke test",
    "promote-production": "promote",
    "record-outcome": "record outcome",
}

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_START = re.compile(r"^(\d\d):(\d\d):(\d\d\.\d+) - INFO - Executing task '([\w.-]+)'")
_END = re.compile(r"^(\d\d):(\d\d):(\d\d\.\d+) - INFO - Task '([\w.-]+)' finished")
_EXECUTOR = re.compile(r"\[KFP Executor \S+ (\d\d):(\d\d):(\d\d),(\d+) INFO\]: (Looking for|Wrote executor output)")


# --------------------------------------------------------------------------- in-process side
def in_process(csv: str, store: str, workdir: str) -> dict[str, Any]:
    """Runs the ten components' python functions in this process; returns seconds per task."""
    started = time.perf_counter()
    # Every module the component bodies import, so the clock below times the work alone.
    import joblib  # noqa: F401
    import pandas  # noqa: F401
    import sklearn.compose  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.impute  # noqa: F401
    import sklearn.metrics  # noqa: F401
    import sklearn.pipeline  # noqa: F401
    import sklearn.preprocessing  # noqa: F401
    from kfp import dsl

    import shipyard.adapters.kserve_cluster  # noqa: F401
    import shipyard.config  # noqa: F401
    import shipyard.serving.process  # noqa: F401
    import shipyard.stages.champion  # noqa: F401
    import shipyard.stages.deploy  # noqa: F401
    import shipyard.stages.evaluate  # noqa: F401
    import shipyard.stages.ingest  # noqa: F401
    import shipyard.stages.notify  # noqa: F401
    import shipyard.stages.reference  # noqa: F401
    import shipyard.stages.register  # noqa: F401
    import shipyard.stages.split  # noqa: F401
    import shipyard.stages.train  # noqa: F401
    import shipyard.stages.validate  # noqa: F401
    import shipyard.store.registry  # noqa: F401
    from shipyard.components import (
        deploy_staging,
        evaluate_model,
        gate_challenger,
        ingest_data,
        promote_production,
        record_outcome,
        register_model,
        smoke_test,
        train_model,
        validate_data,
    )
    from shipyard.stages.register import code_version

    imports = time.perf_counter() - started
    work = Path(workdir)

    def artifact(kind: type, name: str) -> Any:
        return kind(name=name, uri=str(work / name), metadata={})

    seconds: dict[str, float] = {}

    def timed(name: str, component: Any, /, **kwargs: Any) -> Any:
        begin = time.perf_counter()
        result = component.python_func(**kwargs)
        seconds[name] = time.perf_counter() - begin
        return result

    run_id = "bench-in-process"
    dataset = artifact(dsl.Dataset, "dataset")
    ingested = timed("ingest-data", ingest_data, data_uri=csv, run_id=run_id, pipeline_job_id="", dataset=dataset)
    contract = artifact(dsl.Artifact, "contract")
    validated = timed(
        "validate-data",
        validate_data,
        dataset=dataset,
        target=TARGET,
        task="auto",
        model_name=MODEL,
        store_uri=store,
        contract_uri="",
        config_yaml="",
        run_id=run_id,
        contract=contract,
        report=artifact(dsl.Markdown, "validation.md"),
        report_json=artifact(dsl.Artifact, "validation.json"),
    )
    model, holdout, reference = (
        artifact(dsl.Model, "model"),
        artifact(dsl.Dataset, "holdout"),
        artifact(dsl.Dataset, "reference"),
    )
    timed(
        "train-model",
        train_model,
        dataset=dataset,
        target=TARGET,
        task=validated.task,
        config_yaml="",
        model=model,
        holdout=holdout,
        reference=reference,
    )
    metrics = artifact(dsl.Metrics, "metrics")
    timed(
        "evaluate-model",
        evaluate_model,
        model=model,
        holdout=holdout,
        target=TARGET,
        task=validated.task,
        metrics=metrics,
        classification_metrics=artifact(dsl.ClassificationMetrics, "classification_metrics"),
    )
    verdict = artifact(dsl.Artifact, "verdict")
    blessed = timed(
        "gate-challenger",
        gate_challenger,
        model=model,
        metrics=metrics,
        holdout=holdout,
        target=TARGET,
        task=validated.task,
        model_name=MODEL,
        store_uri=store,
        config_yaml="",
        run_id=run_id,
        verdict=verdict,
        report=artifact(dsl.Markdown, "gate.md"),
    )
    if not blessed:
        raise SystemExit("in-process run: the gate did not bless the model, so the runs are not comparable")
    registered = timed(
        "register-model",
        register_model,
        model=model,
        metrics=metrics,
        contract=contract,
        verdict=verdict,
        reference=reference,
        model_name=MODEL,
        store_uri=store,
        data_uri=csv,
        data_hash=ingested.data_hash,
        code_version=code_version(),
        run_id=run_id,
        pipeline_job_name=run_id,
    )
    common = dict(model_name=MODEL, store_uri=store, version=registered.version, run_id=run_id)
    timed("deploy-staging", deploy_staging, **common, config_yaml="")
    timed(
        "smoke-test",
        smoke_test,
        **common,
        holdout=holdout,
        target=TARGET,
        task=validated.task,
        config_yaml="",
        report=artifact(dsl.Markdown, "smoke.md"),
    )
    timed("promote-production", promote_production, **common, verdict=verdict, config_yaml="")
    status = dsl.PipelineTaskFinalStatus(
        state="SUCCEEDED",
        pipeline_job_resource_name=run_id,
        pipeline_task_name="train-and-deliver",
        error_code=None,
        error_message=None,
    )
    timed(
        "record-outcome",
        record_outcome,
        status=status,
        model_name=MODEL,
        store_uri=store,
        run_id=run_id,
        pipeline_job_id="",
        pipeline_job_name=run_id,
    )
    return {"imports": imports, "tasks": seconds}


# --------------------------------------------------------------------------- pipeline side
def _seconds(h: str, m: str, s: str) -> float:
    return int(h) * 3600 + int(m) * 60 + float(s)


def task_times(log: Path) -> dict[str, dict[str, float]]:
    """Per task, from kfp.local's log: wall (started → finished), start (→ executor's first line), exit."""
    times: dict[str, dict[str, float]] = {}
    current = None
    for raw in log.read_text(encoding="utf-8", errors="replace").splitlines():
        line = _ANSI.sub("", raw)
        if match := _START.match(line):
            current = match[4]
            times[current] = {"started": _seconds(*match.groups()[:3])}
        elif match := _END.match(line):
            times[match[4]]["ended"] = _seconds(*match.groups()[:3])
        elif current and (match := _EXECUTOR.search(line)):
            key = "executor_started" if match[5] == "Looking for" else "executor_ended"
            times[current][key] = _seconds(match[1], match[2], f"{match[3]}.{match[4]}")
    return times


def run_pipeline(csv: str, store: str, *, importtime: bool = False) -> dict[str, Any]:
    env = dict(os.environ)
    if importtime:  # read at interpreter start: the CLI sets nothing, every task subprocess inherits it
        env["PYTHONPROFILEIMPORTTIME"] = "1"
    command = [
        SHIPYARD,
        "run",
        "training",
        "--data",
        csv,
        "--target",
        TARGET,
        "--model",
        MODEL,
        "--store",
        store,
        "--json",
    ]
    begin = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - begin
    if done.returncode != 0:
        raise SystemExit(f"shipyard run training failed ({done.returncode}): {done.stdout[-2000:]}")
    summary = json.loads(done.stdout)
    log = Path(summary["log"])
    records = {
        path.stem: json.loads(path.read_text(encoding="utf-8")) for path in (log.parent / "task-records").glob("*.json")
    }
    times = task_times(log)
    tasks = {}
    for task in TASKS:
        t, record = times.get(task, {}), records.get(task, {})
        tasks[task] = {
            "wall": t.get("ended", float("nan")) - t.get("started", float("nan")),
            "start": t.get("executor_started", float("nan")) - t.get("started", float("nan")),
            "exit": t.get("ended", float("nan")) - t.get("executor_ended", float("nan")),
            "body": float(record.get("ended", float("nan"))) - float(record.get("started", float("nan"))),
        }
    return {"wall": wall, "tasks": tasks, "log": str(log), "version": summary.get("version")}


# --------------------------------------------------------------------------- import profile
def import_profile(log: Path) -> dict[str, dict[str, float]]:
    """Per task: seconds spent importing inside the component body, by top-level package (self times)."""
    per_task: dict[str, dict[str, float]] = {}
    current = None
    in_body = False
    for raw in log.read_text(encoding="utf-8", errors="replace").splitlines():
        line = _ANSI.sub("", raw)
        if match := _START.match(line):
            current, in_body = match[4], False
            per_task[current] = {}
            continue
        if current is not None and "Got executor_input" in line:  # the executor calls the function next
            in_body = True
            continue
        if not in_body or "import time:" not in line or "self [us]" in line:
            continue
        own, _, module = line.split("import time:", 1)[1].split("|")
        package = module.strip().split(".")[0]  # each module's own time, to the package it belongs to
        per_task[current][package] = per_task[current].get(package, 0.0) + int(own) / 1e6
    return per_task


# --------------------------------------------------------------------------- report
def print_table(rows: int, pipeline: dict[str, Any], inproc: dict[str, Any]) -> None:
    work = sum(inproc["tasks"].values())
    limit = work + inproc["imports"]
    task_sum = sum(t["wall"] for t in pipeline["tasks"].values())
    print(f"\n{rows:,} rows")
    print(f"{'task':<18} {'pipeline s':>10} {'(body s)':>9} {'in-process s':>13}")
    for task, label in TASKS.items():
        p = pipeline["tasks"][task]
        print(f"{label:<18} {p['wall']:>10.2f} {p['body']:>9.2f} {inproc['tasks'].get(task, float('nan')):>13.2f}")
    print(f"{'imports (once)':<18} {'':>10} {'':>9} {inproc['imports']:>13.2f}")
    print(f"{'outside the tasks':<18} {pipeline['wall'] - task_sum:>10.2f}")
    print(f"{'total':<18} {pipeline['wall']:>10.2f} {'':>9} {limit:>13.2f}")
    print(f"ratio pipeline / in-process (imports once + work): {pipeline['wall'] / limit:.2f}x")
    print(f"ratio pipeline / in-process work alone:            {pipeline['wall'] / work:.2f}x")


def print_profile(pipeline: dict[str, Any], imports: dict[str, dict[str, float]]) -> None:
    groups = {
        "pandas+numpy": ("pandas", "numpy"),
        "sklearn": ("sklearn",),
        "scipy": ("scipy",),
        "pyarrow": ("pyarrow",),
        "pydantic": ("pydantic", "pydantic_core"),
        "shipyard": ("shipyard",),
    }
    print("\nprofile of one more pipeline run, under -X importtime (which slows imports; not the run timed above)")
    header = f"{'task':<18} {'wall':>6} {'start':>6} {'imports':>8} " + " ".join(f"{g:>12}" for g in groups)
    print(header + f" {'other':>6} {'rest':>6} {'exit':>6}")
    for task, label in TASKS.items():
        p, imp = pipeline["tasks"][task], imports.get(task, {})
        total = sum(imp.values())
        cells = [sum(imp.get(package, 0.0) for package in packages) for packages in groups.values()]
        other = total - sum(cells)
        row = " ".join(f"{cell:>12.2f}" for cell in cells)
        print(
            f"{label:<18} {p['wall']:>6.2f} {p['start']:>6.2f} {total:>8.2f} {row} {other:>6.2f} "
            f"{p['body'] - total:>6.2f} {p['exit']:>6.2f}"
        )
    print("start: task started -> the executor's first line (interpreter start, kfp.dsl import). imports: importing")
    print("inside the component body, each module's own time counted to its package. rest: the body minus its")
    print("imports (the work). exit: the executor's last line -> task finished (interpreter exit, kfp.local).")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", action="store_true", help="also one run per size under -X importtime")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="OMP_NUM_THREADS for both sides (default 1: OpenMP threads on a busy shared machine make fits erratic)",
    )
    parser.add_argument("--in-process", nargs=3, metavar=("CSV", "STORE", "WORKDIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.in_process:  # the child: one process, every component once
        print(json.dumps(in_process(*args.in_process)))
        return

    from shipyard.data.synthetic import write_demo_dataset

    print("command: " + " ".join([Path(sys.executable).name, "bench/orchestration.py", *sys.argv[1:]]))
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # inherited by both sides' processes
    print(f"OMP_NUM_THREADS={args.threads} on both sides")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}  (nproc {os.cpu_count()})")
    with tempfile.TemporaryDirectory(prefix="shipyard-bench-") as tmp:
        for rows in args.rows:
            csv = str(write_demo_dataset(Path(tmp) / f"churn-{rows}.csv", n_rows=rows, seed=args.seed))
            workdir = Path(tmp) / f"in-process-{rows}"
            workdir.mkdir()
            child = subprocess.run(
                [sys.executable, __file__, "--in-process", csv, str(Path(tmp) / f"store-in-{rows}"), str(workdir)],
                capture_output=True,
                text=True,
                check=False,
            )
            if child.returncode != 0:
                raise SystemExit(f"in-process run failed: {child.stderr[-2000:]}")
            inproc = json.loads(child.stdout.strip().splitlines()[-1])
            pipeline = run_pipeline(csv, str(Path(tmp) / f"store-pipe-{rows}"))
            print_table(rows, pipeline, inproc)
            if args.profile:
                profiled = run_pipeline(csv, str(Path(tmp) / f"store-prof-{rows}"), importtime=True)
                print_profile(profiled, import_profile(Path(profiled["log"])))
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
