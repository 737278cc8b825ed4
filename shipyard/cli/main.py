"""The `shipyard` command: run pipelines locally, manage the model registry, compile, demo."""

from __future__ import annotations

import os
import signal
import sys
from typing import Any

import click

from shipyard import __version__
from shipyard.cli.compile import compile_command
from shipyard.cli.data import data
from shipyard.cli.demo import demo
from shipyard.cli.feedback import feedback
from shipyard.cli.models import models
from shipyard.cli.run import run
from shipyard.cli.runs import runs
from shipyard.cli.schedule import schedule
from shipyard.cli.serve import serve
from shipyard.cli.submit import submit, upload


class ShipyardGroup(click.Group):
    """The command group, ending the process the way command-line tools do on a signal or a closed pipe.

    - Ctrl-C outside a pipeline run (which handles it itself, see ``shipyard run``): one line and
      exit status 130, not click's ``Aborted!`` and 1.
    - stdout closed by its reader (``shipyard models list | head``): no message and exit status 141
      (128 + SIGPIPE), what a shell reports for a tool the pipe stopped, instead of
      ``error: Broken pipe`` and 1.
    """

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            click.echo("\nerror: interrupted by SIGINT", err=True)
            sys.exit(128 + signal.SIGINT)
        except BrokenPipeError:
            _silence_stdout()
            sys.exit(128 + signal.SIGPIPE)


def _silence_stdout() -> None:
    """Points stdout at /dev/null, so the interpreter's last flush does not fail on the closed pipe again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass


@click.group(
    cls=ShipyardGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
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
      shipyard feedback churn --labels outcomes.csv  # true outcomes of served requests
      shipyard compile --out compiled/
    """


for command in (run, models, compile_command, demo, data, serve, upload, submit, runs, schedule, feedback):
    main.add_command(command)


if __name__ == "__main__":  # pragma: no cover
    main()
