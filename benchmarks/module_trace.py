"""How many of swegc's modules one pull request and one grade pass through.

A reader following a pull request from spec to row, or a patch from prediction to verdict, has
to open every module whose code runs on the way. This script counts them: it traces function
calls (``sys.setprofile`` and ``threading.setprofile``, so the local pool's worker threads are
seen) while

1. ``swegc compile`` compiles one pull request of the bundled example (``--instance``) into a
   fresh folder (env images already built are reused, as on any second compile), and
2. the gold patch of that instance is graded in-process (``TestSpec.from_row`` + ``grade_patch``),

and prints the swegc modules whose functions ran (code run at import time is not counted),
and how many swegc modules the compile imported.

    .venv/bin/python benchmarks/module_trace.py [--instance example__calc-2] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"swegc": "swegc", "compiler": "swegc.compiler", "images": "swegc.images",
            "runtime": "swegc.runtime", "train": "swegc.train", "hub": "swegc.hub",
            "specs": "swegc.specs"}


def module_of(filename: str) -> str | None:
    """The swegc module a source file belongs to, or None for anything else."""
    try:
        relative = Path(filename).resolve().relative_to(ROOT)
    except ValueError:
        return None
    parts = list(relative.with_suffix("").parts)
    if not parts or parts[0] not in PACKAGES:
        return None
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join([PACKAGES[parts[0]], *parts[1:]])


def traced(work: Callable[[], Any]) -> tuple[Any, set[str], set[str]]:
    """Run ``work`` while recording modules whose functions were called; also the swegc
    modules imported by the end (the import closure)."""
    seen: set[str] = set()
    before = set(sys.modules)

    def profile(frame: Any, event: str, arg: Any) -> None:
        if event == "call" and frame.f_code.co_name != "<module>":  # not import-time code
            module = module_of(frame.f_code.co_filename)
            if module:
                seen.add(module)

    threading.setprofile(profile)
    sys.setprofile(profile)
    try:
        result = work()
    finally:
        sys.setprofile(None)
        threading.setprofile(None)  # type: ignore[arg-type]
    imported = {name for name in set(sys.modules) - before if name.startswith("swegc")}
    return result, seen, imported


def compile_one(instance: str, out: Path) -> None:
    from swegc.cli import cli

    try:
        cli.main(["compile", str(ROOT / "examples" / "specs"), "--out", str(out),
                  "--instance", instance], standalone_mode=False)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise


def grade_gold(row: dict[str, Any]) -> Any:
    from swegc.runtime.harness.grading import grade_patch
    from swegc.runtime.harness.test_spec import TestSpec

    spec = TestSpec.from_row(row)
    return grade_patch(spec, spec.gold_patch)


def read_row(instance: str, build: Path) -> dict[str, Any]:
    from swegc.dataset import read_dataset

    # A compile of chosen instances writes its rows under partial/ (the full dataset is kept).
    folder = build / "partial" if (build / "partial").exists() else build
    return {row["instance_id"]: row for row in read_dataset(folder)}[instance]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instance", default="example__calc-2")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    args = parser.parse_args()
    if not (ROOT / "examples" / "repo").exists():
        subprocess.run([sys.executable, str(ROOT / "examples" / "make_example_repo.py")], check=True)
    with tempfile.TemporaryDirectory(prefix="swegc-trace-") as tmp:
        out = Path(tmp) / "build"
        _, compiled, compile_imported = traced(lambda: compile_one(args.instance, out))
        row = read_row(args.instance, out)
        report, graded, _ = traced(lambda: grade_gold(row))
    figures = {"instance": args.instance,
               "compile": {"modules_run": sorted(compiled), "imported": len(compile_imported)},
               "grade": {"modules_run": sorted(graded), "resolved": getattr(report, "resolved", None)}}
    print(f"compile of one pull request: {len(compiled)} swegc modules ran "
          f"({len(compile_imported)} imported)")
    print("  " + " ".join(sorted(compiled)))
    print(f"grading one patch (from its row): "
          f"{len(graded)} swegc modules ran; resolved={figures['grade']['resolved']}")
    print("  " + " ".join(sorted(graded)))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
