"""The README tells the truth: its CLI reference and quickstart match the project."""

from __future__ import annotations

from pathlib import Path

from swegc.clidoc import END, START, render

README = Path(__file__).resolve().parents[1] / "README.md"


def test_the_readme_cli_reference_is_generated_from_the_current_commands():
    text = README.read_text()
    reference = text.split(START, 1)[1].split(END, 1)[0]
    assert reference.strip() == render().strip(), "run: python -m swegc.clidoc README.md"


def test_the_quickstart_runs_the_example_and_the_tests_with_commands_that_exist():
    text = README.read_text()
    assert "bash .ci/setup && .venv/bin/swegc compile examples/specs --out build/" in text
    assert ".venv/bin/python -m pytest -q" in text
    root = README.parent
    assert (root / ".ci" / "setup").is_file() and (root / "examples" / "specs").is_dir()
    assert ".venv/bin/python -m pytest -q" in (root / ".ci" / "run").read_text()


def test_the_readme_rejection_reasons_are_generated_from_swegc_reasons():
    from swegc.reasons import README_END, README_START, reasons_markdown

    text = README.read_text()
    table = text.split(README_START, 1)[1].split(README_END, 1)[0]
    assert table.strip() == reasons_markdown().strip(), "run: python -m swegc.reasons README.md"
