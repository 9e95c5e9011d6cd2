"""The options every command that runs units shares: where the units run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from swegc.executors import EXECUTORS


def executor_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--executor local|ray`` and ``--ray-address``."""
    command = click.option(
        "--ray-address", default=None, metavar="ADDRESS",
        help="Ray cluster to run on (HOST:PORT of `ray start --head`, or auto); without it "
             "--executor ray starts a cluster on this machine.")(command)
    return click.option(
        "--executor", type=click.Choice(EXECUTORS), default="local", show_default=True,
        help="Where units run: threads here, or tasks on a Ray cluster (pip install "
             "'swegc[ray]').")(command)
