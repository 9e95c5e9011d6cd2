"""The cheat suite: patches that try to make the example's tests pass without fixing the code.

Shared by the grading tests (``swegc evaluate`` must not resolve any of them) and the test
that runs them through both graders (``swegc evaluate`` and the row's ``eval_script``).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from conftest import GIT_ENV

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


def clone_example(folder: Path) -> Path:
    """A clone of the example repository (the bundle compile reads) in ``folder``."""
    path = folder / "calc"
    subprocess.run(["git", "clone", "-q", str(ROOT / "examples" / "calc.bundle"), str(path)],
                   check=True)
    return path
