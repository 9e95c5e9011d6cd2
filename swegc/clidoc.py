"""The README's CLI reference, generated from the click commands so it cannot drift.

``python -m swegc.clidoc README.md`` rewrites the part between the markers; a test checks
that the README is up to date.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click

START, END = "<!-- cli-reference:start -->", "<!-- cli-reference:end -->"


def _walk(command: click.Command, path: list[str], parent: click.Context | None) -> list[str]:
    sub = click.Context(command, info_name=path[-1], parent=parent, terminal_width=100,
                        max_content_width=100)
    blocks = [f"### `{' '.join(path)}`\n", "```text", command.get_help(sub).rstrip(), "```\n"]
    if isinstance(command, click.Group):
        for name in command.list_commands(sub):
            child = command.get_command(sub, name)
            if child is not None and not child.hidden:
                blocks.extend(_walk(child, [*path, name], sub))
    return blocks


def render() -> str:
    from swegc.cli import cli

    return "\n".join(_walk(cli, ["swegc"], None)).rstrip() + "\n"


def update(readme: Path) -> bool:
    """Rewrite the reference in ``readme``; returns whether anything changed."""
    from swegc.readme_blocks import replace_block

    return replace_block(readme, START, END, render())


if __name__ == "__main__":
    changed = update(Path(sys.argv[1] if len(sys.argv) > 1 else "README.md"))
    print("updated" if changed else "up to date")
