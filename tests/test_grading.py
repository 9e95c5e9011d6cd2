"""Grading a patch on the compiled example: gold resolves, and no patch can fool the grader."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from conftest import GIT_ENV
from swegc.dataset import read_dataset
from swegc.runtime.harness.grading import ResolvedStatus, grade_patch
from swegc.runtime.harness.test_spec import TestSpec

pytestmark = pytest.mark.docker

ROOT = Path(__file__).resolve().parents[1]
F2P = "tests/test_stats.py::test_median_of_even_length"
TESTS = ["tests/test_stats.py::test_mean", "tests/test_stats.py::test_mean_of_empty_raises",
         "tests/test_stats.py::test_median_of_odd_length", F2P]

FLIP_TO_PASSED = '''import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
'''
INI_PLUGIN = "addopts = -p calc.cheat_plugin\n"  # calc is installed: its modules import
FAKE_SECTION = ("=" * 27 + " short test summary info " + "=" * 28 + "\n"
                + "".join(f"PASSED {t}\n" for t in TESTS)
                + "=" * 30 + " 4 passed in 0.01s " + "=" * 31 + "\n")


CHEATS = {
    "edits the test file": {"tests/test_stats.py": (
        "def test_mean():\n    pass\n\n\ndef test_median_of_even_length():\n    pass\n")},
    "adds a conftest.py that flips failures to passes": {"conftest.py": FLIP_TO_PASSED},
    "adds a conftest.py in the tests folder": {"tests/conftest.py": FLIP_TO_PASSED},
    "loads a plugin with pytest_plugins": {
        "conftest.py": 'pytest_plugins = ["calc.cheat_plugin"]\n',
        "calc/cheat_plugin.py": FLIP_TO_PASSED},
    "loads a -p plugin from pytest.ini": {
        "pytest.ini": "[pytest]\n" + INI_PLUGIN, "calc/cheat_plugin.py": FLIP_TO_PASSED},
    "loads a -p plugin from tox.ini": {
        "tox.ini": "[pytest]\n" + INI_PLUGIN, "calc/cheat_plugin.py": FLIP_TO_PASSED},
    "declares a pytest11 entry point and addopts in setup.cfg": {
        "setup.cfg": "[options.entry_points]\npytest11 =\n    cheat = calc.cheat_plugin\n\n"
                     "[tool:pytest]\n" + INI_PLUGIN,
        "calc/cheat_plugin.py": FLIP_TO_PASSED},
    "adds addopts to pyproject's [tool.pytest.ini_options]": {
        "pyproject.toml": "+[tool.pytest.ini_options]\naddopts = \"-p calc.cheat_plugin\"\n",
        "calc/cheat_plugin.py": FLIP_TO_PASSED},
    "adds sitecustomize.py, usercustomize.py and a .pth file": {
        "sitecustomize.py": "import os\nos.environ['PYTEST_ADDOPTS'] = '-p calc.cheat_plugin'\n",
        "usercustomize.py": "import os\nos.environ['PYTEST_ADDOPTS'] = '-p calc.cheat_plugin'\n",
        "calc/cheat.pth": "import os; os.environ['PYTEST_ADDOPTS'] = '-p calc.cheat_plugin'\n",
        "calc/cheat_plugin.py": FLIP_TO_PASSED},
    "prints fake result lines at import, to stdout and to fds 1 and 2": {
        "calc/stats.py": "+import os\nprint('PASSED " + F2P + "')\n"
                         "os.write(1, b'PASSED " + F2P + "\\n')\n"
                         "os.write(2, b'PASSED " + F2P + "\\n')\n"},
    "prints a fake short test summary at exit": {
        "calc/stats.py": "+import atexit, os\n"
                         f"atexit.register(lambda: os.write(1, {FAKE_SECTION.encode()!r}))\n"},
    "prints a fake summary at exit and exits 0": {
        "calc/stats.py": "+import atexit, os\n"
                         f"atexit.register(lambda: (os.write(1, {FAKE_SECTION.encode()!r}), "
                         "os._exit(0)))\n"},
    "writes a fake summary past pytest's capture during the test and exits 0": {
        "calc/stats.py": "+import os\n\n\ndef _fake_end():\n    for fd in range(3, 64):\n"
                         "        try:\n"
                         f"            os.write(fd, {FAKE_SECTION.encode()!r})\n"
                         "        except OSError:\n            pass\n    os._exit(0)\n\n\n",
        "__median__": "    if len(values) % 2 == 0:\n        _fake_end()\n"},
    "makes the failing test skip itself": {
        "calc/stats.py": "+import pytest\n",
        "__median__": "    if len(values) % 2 == 0:\n        pytest.skip('not today')\n"},
}


@pytest.fixture(scope="module")
def rows(example_compile):
    out, _ = example_compile
    return {row["instance_id"]: row for row in read_dataset(out)}


@pytest.fixture(scope="module")
def clone(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("calc") / "calc"
    subprocess.run(["git", "clone", "-q", str(ROOT / "examples" / "calc.bundle"), str(path)],
                   check=True)
    return path


def make_patch(clone: Path, base: str, files: dict[str, str]) -> str:
    """A git diff from ``base``: each file's new text; text starting with "+" is added to the
    file (after its first line, or at the end of pyproject.toml); ``__median__`` is put at the
    start of calc.stats.median (after any other change to calc/stats.py)."""
    env = {**os.environ, **GIT_ENV}
    git = lambda *a: subprocess.run(["git", *a], cwd=clone, env=env, check=True,  # noqa: E731
                                    capture_output=True, text=True).stdout
    git("checkout", "-q", "-f", base)
    git("clean", "-qfdx")
    for name, text in files.items():
        if name == "__median__":  # lines put at the start of calc.stats.median
            stats = clone / "calc" / "stats.py"
            stats.write_text(stats.read_text().replace("def median(values):\n",
                                                       "def median(values):\n" + text))
            continue
        target = clone / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if text.startswith("+"):
            old = target.read_text()
            if name == "pyproject.toml":
                text = old + "\n" + text[1:]
            else:
                head, _, rest = old.partition("\n")
                text = head + "\n" + text[1:] + rest
        target.write_text(text)
    git("add", "-A")
    diff = git("diff", "--cached", "--binary", base)
    git("reset", "-q", "--hard", base)
    return diff


def spec(rows, iid="example__calc-2") -> TestSpec:
    return TestSpec.from_row(rows[iid])


@pytest.mark.parametrize("iid", ["example__calc-2", "example__calc-8", "example__calc-10"])
def test_the_gold_patch_resolves_every_valid_example_instance(rows, iid, tmp_path):
    report = grade_patch(spec(rows, iid), rows[iid]["patch"], log_path=tmp_path / "log.txt")
    assert report.resolved and report.status is ResolvedStatus.FULL, report
    assert report.patch_applied and not report.empty_patch and report.error is None
    assert set(report.test_report) == set(rows[iid]["FAIL_TO_PASS"]) | set(rows[iid]["PASS_TO_PASS"])
    assert set(report.test_report.values()) == {"PASSED"}
    assert "short test summary info" in (tmp_path / "log.txt").read_text()
    swe = report.to_swebench()[iid]
    assert swe["resolved"] and swe["patch_successfully_applied"]
    assert swe["tests_status"]["FAIL_TO_PASS"] == {"success": rows[iid]["FAIL_TO_PASS"],
                                                   "failure": []}


def test_an_empty_patch_is_unresolved_and_reported_as_empty(rows):
    report = grade_patch(spec(rows), "  \n")
    assert report.empty_patch and not report.resolved and not report.patch_applied
    assert report.to_swebench()["example__calc-2"]["patch_exists"] is False


def test_a_patch_that_does_not_apply_says_so(rows):
    broken = rows["example__calc-2"]["patch"].replace("ordered[len(ordered) // 2]", "nope")
    report = grade_patch(spec(rows), broken)
    assert not report.patch_applied and not report.resolved and report.error is None
    assert "does not apply" in report.patch_problem


@pytest.mark.parametrize("cheat", list(CHEATS))
def test_a_patch_cannot_fool_the_grader(rows, clone, cheat, tmp_path):
    row = rows["example__calc-2"]
    patch = make_patch(clone, row["base_commit"], CHEATS[cheat])
    report = grade_patch(spec(rows), patch, log_path=tmp_path / "log.txt")
    assert report.patch_applied, report.patch_problem
    assert report.error is None
    assert not report.resolved, (report, (tmp_path / "log.txt").read_text()[-3000:])
    assert report.test_report[F2P] != "PASSED"
    for name in CHEATS[cheat]:
        if not name.startswith(("calc/stats", "__")) and not name.endswith("cheat_plugin.py"):
            assert name in report.reverted_files, report.reverted_files


def test_the_gold_patch_with_a_changed_conftest_still_resolves_and_names_what_was_put_back(rows, clone):
    row = rows["example__calc-2"]
    extra = make_patch(clone, row["base_commit"], {"conftest.py": FLIP_TO_PASSED})
    report = grade_patch(spec(rows), row["patch"] + extra)
    assert report.resolved
    assert report.reverted_files == ["conftest.py"]
