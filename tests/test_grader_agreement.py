"""Both graders give every patch the same verdict: ``swegc evaluate`` (``grade_patch``, in
process) and the row's own ``eval_script`` run as SWE-bench 5.x runs it (a plain ``docker run``
of the instance image, the patch applied in /testbed, the script's exit status read).

Every cheat of the suite must be unresolved by both, every attack on the pytest process or on
unittest's own runner (read by the unittest or the Django parser) refused by both as tampered (``swegc evaluate``'s grade says ``tampered`` with the evidence,
the script's log says TAMPERED), a compiled module shadowing the code refused by both, a
caller-frame sniffer (no run can tell) graded the same by both, and fixes that also change packaging files
(a dependency line, ``install_requires``, a console-script entry point) resolved by both, with
their packaging change kept: each such case adds a test that reads the packaging file, as a
project's own packaging tests do, so a grader that put the whole file back would fail it.
"""

from __future__ import annotations

import io
import subprocess
import tarfile

import pytest

from cheat_fixtures import (ATTACKS, CHEATS, SHADOW_NAME, SNIFFER, UNITTEST_ATTACKS, UNITTEST_F2P,
                            UNITTEST_MODULE, UNITTEST_RUNNER_TESTS, UNITTEST_TEST, clone_example,
                            make_patch, shadow_extension)
from swegc.dataset import read_dataset
from swegc.runtime.harness.grading import grade_patch
from swegc.runtime.harness.peer_columns import peer_columns
from swegc.runtime.harness.test_spec import TestSpec

pytestmark = pytest.mark.docker

INSTANCE = "example__calc-2"
APPLY_FAILED = 90  # the exit status of the container when the candidate patch does not apply

READS_PYPROJECT = '''import tomllib
from pathlib import Path

PROJECT = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]
'''
PACKAGING_FIXES = {
    # name: (files the fix adds or changes besides its code, the test that reads them)
    "adds a dependency line to pyproject.toml": (
        lambda base: {"pyproject.toml": base.replace('dependencies = []',
                                                     'dependencies = ["more-itertools>=10"]')},
        READS_PYPROJECT + '\n\ndef test_packaging():\n'
                          '    assert PROJECT["dependencies"] == ["more-itertools>=10"]\n'),
    "adds a console-script entry point to pyproject.toml": (
        lambda base: {"pyproject.toml": base + '\n[project.scripts]\ncalc-median = "calc.stats:median"\n'},
        READS_PYPROJECT + '\n\ndef test_packaging():\n'
                          '    assert PROJECT["scripts"] == {"calc-median": "calc.stats:median"}\n'),
    "adds install_requires in a new setup.cfg": (
        lambda base: {"setup.cfg": "[options]\ninstall_requires =\n    more-itertools>=10\n"},
        "import configparser\nfrom pathlib import Path\n\n\ndef test_packaging():\n"
        "    config = configparser.ConfigParser()\n"
        "    config.read(Path(__file__).parents[1] / 'setup.cfg')\n"
        "    assert config['options']['install_requires'].split() == ['more-itertools>=10']\n"),
}


@pytest.fixture(scope="module")
def rows(example_compile):
    out, _ = example_compile
    return {row["instance_id"]: row for row in read_dataset(out)}


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    return clone_example(tmp_path_factory.mktemp("calc"))


def with_packaging_test(row: dict, clone, name: str) -> dict:
    """``row`` whose fix also makes the packaging change ``name`` and whose test_patch adds a
    test (a FAIL_TO_PASS one) that reads it; its eval_script made again from it."""
    change, test = PACKAGING_FIXES[name]
    base = row["base_commit"]
    pyproject = subprocess.run(["git", "show", f"{base}:pyproject.toml"], cwd=clone, check=True,
                               capture_output=True, text=True).stdout
    variant = dict(row)
    variant["patch"] = row["patch"] + make_patch(clone, base, change(pyproject))
    variant["test_patch"] = row["test_patch"] + make_patch(clone, base, {"tests/test_packaging.py": test})
    variant["FAIL_TO_PASS"] = [*row["FAIL_TO_PASS"], "tests/test_packaging.py::test_packaging"]
    variant["test_command"] = row["test_command"] + " tests/test_packaging.py"
    variant["test_directives"] = [*row["test_directives"], "tests/test_packaging.py"]
    variant.update(peer_columns(variant))
    return variant


def with_unittest_test(row: dict, clone) -> dict:
    """``row`` whose test_patch also adds a unittest-style FAIL_TO_PASS test (run by pytest)."""
    variant = dict(row)
    variant["test_patch"] = row["test_patch"] + make_patch(
        clone, row["base_commit"], {"tests/test_stats_unittest.py": UNITTEST_TEST})
    variant["FAIL_TO_PASS"] = [*row["FAIL_TO_PASS"], UNITTEST_F2P]
    variant["test_command"] = row["test_command"] + " tests/test_stats_unittest.py"
    variant["test_directives"] = [*row["test_directives"], "tests/test_stats_unittest.py"]
    variant.update(peer_columns(variant))
    return variant


def with_unittest_runner(row: dict, clone, parser: str) -> dict:
    """``row`` whose tests unittest's own runner runs (``python -m unittest -v``), read by
    ``parser`` (unittest or django): a test module its test_patch adds, one FAIL_TO_PASS test
    and one PASS_TO_PASS test; its eval_script made again from it."""
    variant = dict(row)
    variant["test_patch"] = row["test_patch"] + make_patch(
        clone, row["base_commit"], {UNITTEST_MODULE.replace(".", "/") + ".py": UNITTEST_RUNNER_TESTS})
    variant["test_command"] = f"python -m unittest -v {UNITTEST_MODULE}"
    variant["test_directives"] = [UNITTEST_MODULE]
    named = ((lambda test: f"{test} ({UNITTEST_MODULE}.MedianTest)") if parser == "django"
             else (lambda test: f"{UNITTEST_MODULE}.MedianTest.{test}"))
    variant["FAIL_TO_PASS"] = [named("test_median_of_even_length")]
    variant["PASS_TO_PASS"] = [named("test_median_of_odd_length")]
    variant["swegc_log_parser"], variant["swegc_parser_options"] = parser, None
    variant.update(peer_columns(variant))
    return variant


def with_own_pythonpath(row: dict) -> dict:
    """``row`` whose test command sets PYTHONPATH itself, as some projects' commands do (the
    guard's folder is not on it then: it comes in through site-packages)."""
    variant = dict(row)
    variant["test_command"] = "PYTHONPATH=/testbed " + row["test_command"]
    variant.update(peer_columns(variant))
    return variant


def eval_script_verdict(row: dict, patch: str) -> tuple[bool, str]:
    """(resolved, output) of the row's eval_script, run as SWE-bench 5.x runs it."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        for name, text in (("patch.diff", patch), ("eval.sh", row["eval_script"])):
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    command = ("mkdir /swegc-in && tar -x -C /swegc-in && cd /testbed && "
               f"{{ git apply --verbose /swegc-in/patch.diff || exit {APPLY_FAILED}; }} && "
               "/bin/bash /swegc-in/eval.sh")
    result = subprocess.run(["docker", "run", "-i", "--rm", "--network", "none", row["image"],
                             "bash", "-c", command], input=archive.getvalue(),
                            capture_output=True, timeout=600)
    output = (result.stdout + result.stderr).decode("utf-8", "replace")
    assert result.returncode != APPLY_FAILED, output[-3000:]
    return result.returncode == 0, output


SHADOW = "attack: a compiled module that shadows calc/stats.py"
UNITTEST_ATTACK = "attack on unittest's runner: "
UNITTEST_GOLD = "example__calc-2's own fix under unittest's runner"
OWN_PYTHONPATH = "with a test command that sets PYTHONPATH, "
OWN_PYTHONPATH_CASES = [(f"{UNITTEST_GOLD}, read by the unittest parser", True),
                        ("attack: wraps TestReport.from_item_and_call at import so a failed test "
                         "reports passed", False)]
SNIFF = "a caller-frame sniffer that answers right only under the failing test"


def cases() -> list[tuple[str, bool | None]]:
    """(case, resolved by both); None: whatever the verdict, the same from both."""
    return ([(f"cheat: {name}", False) for name in CHEATS]
            + [(f"attack: {name}", False) for name in ATTACKS] + [(SHADOW, False), (SNIFF, None)]
            + [(f"attack on unittest's runner: {name}", False) for name in UNITTEST_ATTACKS]
            + [(f"{OWN_PYTHONPATH}{name}", resolved) for name, resolved in OWN_PYTHONPATH_CASES]
            + [(f"{UNITTEST_GOLD}, read by the {parser} parser", True)
               for parser in ("unittest", "django")]
            + [("example__calc-8's own fix (adds a dependency to pyproject.toml)", True)]
            + [(f"a fix that {name}", True) for name in PACKAGING_FIXES])


def case_row_and_patch(case: str, rows: dict, clone) -> tuple[dict, str]:
    if case.startswith(OWN_PYTHONPATH):
        row, patch = case_row_and_patch(case.removeprefix(OWN_PYTHONPATH), rows, clone)
        return with_own_pythonpath(row), patch
    if case.startswith(UNITTEST_ATTACK):
        files = UNITTEST_ATTACKS[case.removeprefix(UNITTEST_ATTACK)]
        row = with_unittest_runner(rows[INSTANCE], clone,
                                   "django" if "__django__" in files else "unittest")
        return row, make_patch(clone, row["base_commit"], files)
    if case.startswith(UNITTEST_GOLD):
        row = with_unittest_runner(rows[INSTANCE], clone, case.split()[-2])
        return row, row["patch"]
    if case.startswith("cheat: "):
        row = rows[INSTANCE]
        return row, make_patch(clone, row["base_commit"], CHEATS[case.removeprefix("cheat: ")])
    if case == SHADOW:
        compiled = shadow_extension(clone.parent)
        if compiled is None:
            pytest.skip("no C compiler or Python 3.11 headers to build the shadowing module")
        row = rows[INSTANCE]
        return row, make_patch(clone, row["base_commit"], {SHADOW_NAME: compiled})
    if case.startswith("attack: "):
        files = ATTACKS[case.removeprefix("attack: ")]
        row = with_unittest_test(rows[INSTANCE], clone) if "__unittest__" in files else rows[INSTANCE]
        return row, make_patch(clone, row["base_commit"], files)
    if case == SNIFF:
        row = rows[INSTANCE]
        return row, make_patch(clone, row["base_commit"], SNIFFER)
    if case.startswith("example__calc-8"):
        return rows["example__calc-8"], rows["example__calc-8"]["patch"]
    row = with_packaging_test(rows[INSTANCE], clone, case.removeprefix("a fix that "))
    return row, row["patch"]


@pytest.mark.parametrize("case, resolves", cases(), ids=[case for case, _ in cases()])
def test_swegc_evaluate_and_the_rows_eval_script_give_the_same_verdict(rows, clone, case,
                                                                       resolves, tmp_path):
    row, patch = case_row_and_patch(case, rows, clone)
    report = grade_patch(TestSpec.from_row(row), patch, log_path=tmp_path / "log.txt")
    assert report.error is None and report.patch_applied, report
    script_resolved, output = eval_script_verdict(row, patch)
    log = (tmp_path / "log.txt").read_text()[-3000:]
    plain = case.removeprefix(OWN_PYTHONPATH)
    if plain.startswith(("attack: ", UNITTEST_ATTACK)) and case != SHADOW:  # what the guard saw
        assert report.tampered and report.tamper_evidence, (report, log)
        assert report.to_swebench()[row["instance_id"]]["tampered"] is True
        assert "swegc-eval: TAMPERED: " in output, output[-3000:]
    elif not plain.startswith("cheat: "):  # a cheat that kills pytest leaves no guard results
        assert not report.tampered, report.tamper_evidence
        assert "TAMPERED" not in output, output[-3000:]
    if resolves is None:
        assert report.resolved == script_resolved, (report, output[-3000:])
        return
    assert report.resolved == resolves, (report.test_report, log)
    assert script_resolved == resolves, output[-3000:]


PUT_BACK_CASES = [case for case, _ in cases()
                  if not case.startswith(("attack: ", UNITTEST_ATTACK, UNITTEST_GOLD, OWN_PYTHONPATH))
                  or case == SHADOW]


@pytest.mark.parametrize("case", PUT_BACK_CASES, ids=PUT_BACK_CASES)
def test_put_back_names_the_files_the_rows_eval_script_puts_back(rows, clone, case):
    from swegc.runtime.harness.eval_script import protected_of
    from swegc.runtime.harness.guard import put_back
    from swegc.runtime.harness.protected_files import reported_paths
    from swegc.runtime.sandbox import open_sandbox

    row, patch = case_row_and_patch(case, rows, clone)
    with open_sandbox(row["image"]) as box:
        box.write_file("/tmp/swegc/model.patch", patch.encode())
        assert box.execute("git apply /tmp/swegc/model.patch").exit_code == 0
        in_process = put_back(box, protected_of(row), "/tmp/swegc/model.patch")
        left = box.execute("git status --porcelain --untracked-files=all").output
    _, output = eval_script_verdict(row, patch)
    assert in_process == reported_paths(output)
    changed_by_name = {name for name in CHEATS.get(case.removeprefix("cheat: "), {})
                       if name.endswith(("conftest.py", ".ini", ".cfg", ".toml", "customize.py",
                                         ".pth"))}
    assert changed_by_name <= set(in_process), (changed_by_name, in_process)
    if case == SHADOW:
        assert SHADOW_NAME in in_process
    if not case.startswith(("cheat: ", "attack: ")):  # a fix's packaging change is its own
        assert not {"pyproject.toml", "setup.cfg"} & set(in_process), in_process
    assert all(path.split()[-1] not in in_process for path in left.splitlines())
