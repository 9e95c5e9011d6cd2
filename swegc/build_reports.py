"""Reading a build folder's reports: shared by `swegc status` and `swegc images rm`.

The compiler writes ``reports/instances.jsonl`` and ``reports/envs.jsonl``; this reader lives in
the core so that the runtime's commands can read them without importing the compiler.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from swegc.build_layout import BuildLayout
from swegc.errors import InputError, SwegcError
from swegc.nesting import loads


def not_a_build(out_dir: Path, lacking: str) -> SwegcError:
    """The error for a path given as a build folder that is none: missing, a file, or a folder
    without ``lacking`` (the report the reader needs)."""
    make = f"make one with `swegc compile SPECS --out {out_dir}`"
    if not Path(out_dir).exists():
        return SwegcError(f"{out_dir}: no such build folder; give the --out folder of a swegc "
                          f"compile, or {make}")
    if not Path(out_dir).is_dir():
        return SwegcError(f"{out_dir} is a file, not a build folder; give the --out folder of a "
                          f"swegc compile, or {make}")
    return SwegcError(f"{out_dir} is not a swegc build folder (no {lacking}); {make}")


def read_reports(out_dir: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Instance and env report rows of a build folder; a SwegcError if it is not one."""
    layout = BuildLayout(out_dir)
    path = layout.instances_report
    if not path.is_file():
        raise not_a_build(out_dir, str(path.relative_to(out_dir)))

    def load(file: Path, required: tuple[str, ...]) -> list[dict[str, Any]]:
        if not file.is_file():
            return []
        rows = []
        for lineno, raw in enumerate(file.read_bytes().splitlines(), 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"{file}:{lineno}: not UTF-8 text (byte {exc.start + 1} of the "
                                 "line); rerun `swegc compile` to rewrite the reports") from None
            if line.strip():
                try:
                    row = loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"{file}:{lineno}: not valid JSON ({exc.msg}); rerun "
                                     "`swegc compile` to rewrite the reports") from None
                missing = [k for k in required if not isinstance(row, dict) or k not in row]
                if missing:
                    raise InputError(f"{file}:{lineno}: a report row without "
                                     f"{', '.join(missing)}; rerun `swegc compile` to rewrite "
                                     "the reports")
                wrong = [k for k in required if not isinstance(row[k], str)]
                if wrong:
                    raise InputError(f"{file}:{lineno}: {', '.join(wrong)} of a report row must be "
                                     "text; rerun `swegc compile` to rewrite the reports")
                rows.append(row)
        return rows

    return (load(path, ("instance_id", "repo", "status")),
            load(layout.envs_report, ("env_key", "repo", "status")))
