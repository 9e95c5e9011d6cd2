"""The ``swegc`` command line.

Subcommands live next to the code they drive and are imported only when invoked, so that
``swegc --help`` stays fast (no docker, datasets or torch at start-up).
"""

from __future__ import annotations

import importlib
import sys

import click

from swegc import __version__
from swegc.errors import SwegcError

# name -> (module, attribute, one-line help). A package's click commands live in its commands.py.
COMMANDS: dict[str, tuple[str, str, str]] = {
    "check": ("swegc.compiler.commands", "check", "Check specs: every problem with its file and line."),
    "compile": ("swegc.compiler.commands", "compile_cmd", "Compile specs into validated task instances."),
    "draft": ("swegc.compiler.draft.commands", "draft",
              "Draft a spec from a clone's own files and history (--probe: compile and repair it)."),
    "status": ("swegc.compiler.commands", "status", "Summarize a build folder."),
    "curate": ("swegc.hub.commands", "curate_cmd", "Add a policy's resolve rate to a build's rows (difficulty)."),
    "images": ("swegc.images.commands", "images", "Build base images, list or remove swegc images."),
    "mine": ("swegc.compiler.mining.commands", "mine", "Mine a repository's pull requests into candidates."),
    "train": ("swegc.train.commands", "train", "Fine-tune a policy (RFT) or a verifier on trajectories."),
    "rollout": ("swegc.runtime.commands", "rollout", "Run agent rollouts in instance images and grade them."),
    "rerank": ("swegc.train.commands", "rerank", "Score trajectories with a verifier and pick the best."),
    "metrics": ("swegc.train.commands", "metrics", "Resolve rate, pass@k and best@k of rollouts."),
    "evaluate": ("swegc.runtime.commands", "evaluate",
                 "Grade predictions (or gold) against a dataset, SWE-bench's way."),
    "synthesize": ("swegc.compiler.synthesis.commands", "synthesize",
                   "Make validated synthetic tasks (bugs the tests catch) from a build."),
    "publish": ("swegc.hub.commands", "publish", "Publish a build, RUNS or a checkpoint to the Hub (images by digest)."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        module_name, attr, _ = entry
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            missing = exc.name or ""
            if missing.startswith("swegc"):
                raise
            hint = {"torch": "train", "trl": "train", "transformers": "train", "peft": "train",
                    "ray": "ray", "vllm": "serve"}.get(missing.split(".")[0])
            extra = f" (pip install 'swegc[{hint}]')" if hint else ""
            raise click.ClickException(
                f"'swegc {cmd_name}' needs the Python package {missing!r}{extra}") from None
        return getattr(module, attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup)
@click.version_option(__version__, prog_name="swegc")
def cli() -> None:
    """swegc: compile SWE task datasets from specs, run agents in them, train, publish."""


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="swegc", standalone_mode=False)
    except SwegcError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
