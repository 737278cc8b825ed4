"""The `shipyard` command: run pipelines locally, manage the model registry, compile, demo."""

from __future__ import annotations

import click

from shipyard import __version__
from shipyard.cli.compile import compile_command
from shipyard.cli.data import data
from shipyard.cli.demo import demo
from shipyard.cli.models import models
from shipyard.cli.run import run
from shipyard.cli.runs import runs
from shipyard.cli.schedule import schedule
from shipyard.cli.serve import serve
from shipyard.cli.submit import submit, upload


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="shipyard")
def main() -> None:
    """CI/CD for machine-learning models on Kubeflow Pipelines.

    \b
    Examples:
      shipyard demo                                  # train, gate, register, deploy a demo model
      shipyard run training --data churn.csv --target churned --model churn
      shipyard models list
      shipyard models show churn --json
      shipyard data validate --data new.csv --target churned --model churn
      shipyard compile --out compiled/
    """


for command in (run, models, compile_command, demo, data, serve, upload, submit, runs, schedule):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
