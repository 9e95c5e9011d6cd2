"""The str_replace_editor tool in a real container: each command as OpenHands' editor does it."""

from __future__ import annotations

import pytest

from swegc.runtime.agent.editor import Editor
from swegc.runtime.sandbox import open_sandbox
from tests.agent_fixtures import repo_image

pytestmark = pytest.mark.docker

OPS = "/testbed/calc/ops.py"


@pytest.fixture(scope="module")
def box(docker_engine):
    sandbox = open_sandbox(repo_image(docker_engine))
    yield sandbox
    sandbox.close()


@pytest.fixture
def editor(box):
    box.execute("git reset -q --hard && git clean -qfd")
    return Editor(box)


def text(box, path):
    return box.read_file(path).decode()


def test_view_of_a_file_numbers_its_lines(editor):
    out = editor({"command": "view", "path": OPS})
    assert out.startswith(f"Here's the result of running `cat -n` on {OPS}:\n")
    assert "     1\tdef add(a, b):\n     2\t    return a - b\n" in out


def test_view_range_shows_those_lines_and_minus_one_reads_to_the_end(editor):
    out = editor({"command": "view", "path": OPS, "view_range": [5, -1]})
    assert "     5\tdef mul(a, b):\n     6\t    return a * b" in out and "add" not in out
    assert "ERROR" in editor({"command": "view", "path": OPS, "view_range": [50, 60]})


def test_view_of_a_folder_lists_two_levels_without_hidden_items(editor):
    out = editor({"command": "view", "path": "/testbed"})
    assert "up to 2 levels deep in /testbed" in out
    assert "/testbed/calc/ops.py" in out and "/testbed/README.md" in out
    assert ".git" not in out


def test_create_writes_a_new_file_and_refuses_an_existing_one(editor, box):
    out = editor({"command": "create", "path": "/testbed/calc/new/mod.py", "file_text": "X = 1\n"})
    assert out == "File created successfully at: /testbed/calc/new/mod.py"
    assert text(box, "/testbed/calc/new/mod.py") == "X = 1\n"
    again = editor({"command": "create", "path": OPS, "file_text": ""})
    assert "File already exists at: /testbed/calc/ops.py" in again
    assert "calc/new/mod.py" in box.diff()


def test_str_replace_needs_a_unique_match_and_says_how_many_matched(editor, box):
    editor({"command": "create", "path": "/testbed/twice.py", "file_text": "x = 1\nx = 1\n"})
    out = editor({"command": "str_replace", "path": "/testbed/twice.py", "old_str": "x = 1",
                  "new_str": "x = 2"})
    assert "No replacement was performed" in out and "matched 2 times, in lines [1, 2]" in out
    missing = editor({"command": "str_replace", "path": OPS, "old_str": "a ** b", "new_str": ""})
    assert "did not appear verbatim" in missing
    done = editor({"command": "str_replace", "path": OPS, "old_str": "a - b", "new_str": "a + b"})
    assert f"The file {OPS} has been edited." in done and "     2\t    return a + b" in done
    assert "return a + b" in text(box, OPS)


def test_str_replace_without_new_str_deletes_the_text(editor, box):
    editor({"command": "str_replace", "path": OPS, "old_str": "\n\ndef mul(a, b):\n    return a * b\n"})
    assert text(box, OPS) == "def add(a, b):\n    return a - b\n"


def test_insert_puts_the_text_after_the_given_line(editor, box):
    out = editor({"command": "insert", "path": OPS, "insert_line": 1, "new_str": '    """Sum."""'})
    assert "     2\t    \"\"\"Sum.\"\"\"" in out
    assert text(box, OPS).startswith('def add(a, b):\n    """Sum."""\n    return a - b\n')
    editor({"command": "insert", "path": OPS, "insert_line": 0, "new_str": "import math"})
    assert text(box, OPS).startswith("import math\ndef add")
    assert "Invalid `insert_line`" in editor({"command": "insert", "path": OPS, "insert_line": 99,
                                              "new_str": "x"})


def test_undo_edit_reverts_edits_one_at_a_time_per_file(editor, box):
    original = text(box, OPS)
    editor({"command": "str_replace", "path": OPS, "old_str": "a - b", "new_str": "a + b"})
    editor({"command": "insert", "path": OPS, "insert_line": 0, "new_str": "# top"})
    editor({"command": "create", "path": "/testbed/other.py", "file_text": "y = 2\n"})
    assert "undone successfully" in editor({"command": "undo_edit", "path": OPS})
    assert text(box, OPS) == original.replace("a - b", "a + b")
    editor({"command": "undo_edit", "path": OPS})
    assert text(box, OPS) == original
    assert "No edit history found" in editor({"command": "undo_edit", "path": OPS})
    editor({"command": "undo_edit", "path": "/testbed/other.py"})  # undoing a create removes it
    assert box.diff() == ""


def test_an_edit_keeps_an_executable_file_executable(editor, box):
    editor({"command": "str_replace", "path": "/testbed/run.sh", "old_str": "echo run",
            "new_str": "echo ran"})
    patch = box.diff()
    assert "+echo ran" in patch and "mode" not in patch


def test_relative_and_missing_paths_are_explained(editor):
    relative = editor({"command": "view", "path": "calc/ops.py"})
    assert "not an absolute path" in relative and "/testbed/calc/ops.py" in relative
    assert "does not exist" in editor({"command": "view", "path": "/testbed/nope.py"})
    folder = editor({"command": "str_replace", "path": "/testbed/calc", "old_str": "x"})
    assert "only the `view` command" in folder
    assert "`file_text` is required" in editor({"command": "create", "path": "/testbed/z.py"})
