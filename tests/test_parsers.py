"""The log parsers, on logs captured from real pytest and unittest runs of generated tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from swegc.runtime.harness.parsers.pytest_log import split_node_id
from swegc.runtime.harness.parsers import PARSERS, PASSING, ParseResult, get_parser
from swegc.errors import SwegcError

PYTEST_TESTS = '''
import pytest

def test_pass():
    print("PASSED tests/test_fake.py::test_nope")

def test_fail():
    assert 1 == 2, "boom - with dash"

@pytest.mark.parametrize("x", ["a - b", "1-2", "x::y", "é ü", "[q]", "c - d]"])
def test_param(x):
    assert x not in ("1-2", "c - d]")

@pytest.mark.xfail(reason="known")
def test_xf():
    assert 0

@pytest.mark.xfail(reason="known")
def test_xp():
    pass

@pytest.mark.skip(reason="not today")
def test_skip():
    pass

class TestC:
    @pytest.mark.parametrize("v", ["x::y"])
    def test_z(self, v):
        pass

@pytest.fixture
def broken():
    raise RuntimeError("fixture broke")

def test_err(broken):
    pass
'''

UNITTEST_TESTS = '''
import sys
import unittest

class Alpha(unittest.TestCase):
    def test_ok(self):
        pass

    def test_doc(self):
        """Docstring first line ... with dots.

        More text.
        """

    def test_print(self):
        print("some output from the test")
        print("... ok fake")

    def test_fail(self):
        self.assertEqual(1, 2)

    def test_error(self):
        raise RuntimeError("bad")

    @unittest.skip("not today")
    def test_skip(self):
        pass

    @unittest.expectedFailure
    def test_xfail(self):
        self.fail("x")

    @unittest.expectedFailure
    def test_xpass(self):
        pass

    def test_stderr(self):
        sys.stderr.write("warning on stderr\\n")

    def test_sub(self):
        for i in range(2):
            with self.subTest(i=i):
                self.assertEqual(i, 0)

class Broken(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise RuntimeError("no class")

    def test_never(self):
        pass
'''

UNITTEST_NAMES = ["test_doc", "test_error", "test_fail", "test_ok", "test_print", "test_skip",
                  "test_stderr", "test_sub", "test_xfail", "test_xpass"]
UNITTEST_STATUSES = ["PASSED", "ERROR", "FAILED", "PASSED", "PASSED", "SKIPPED",
                     "PASSED", "FAILED", "XFAIL", "XPASS"]


def run(args: list[str], cwd: Path, python: str = sys.executable) -> tuple[int, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "PY_COLORS"))}
    env["COLUMNS"] = "80"
    proc = subprocess.run([python, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          encoding="utf-8", timeout=120)
    return proc.returncode, proc.stdout + proc.stderr


@pytest.fixture
def pytest_project(tmp_path: Path) -> Path:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text(PYTEST_TESTS, encoding="utf-8")
    (tmp_path / "tests" / "test_bad.py").write_text("import nonexistent_module\n\ndef test_never():\n    pass\n")
    return tmp_path


PYTEST_EXPECTED = {
    "tests/test_a.py::test_pass": "PASSED",
    "tests/test_a.py::test_fail": "FAILED",
    "tests/test_a.py::test_param[a - b]": "PASSED",
    "tests/test_a.py::test_param[1-2]": "FAILED",
    "tests/test_a.py::test_param[x::y]": "PASSED",
    "tests/test_a.py::test_param[\\xe9 \\xfc]": "PASSED",
    "tests/test_a.py::test_param[[q]]": "PASSED",
    "tests/test_a.py::test_param[c - d]]": "FAILED",
    "tests/test_a.py::test_xf": "XFAIL",
    "tests/test_a.py::test_xp": "XPASS",
    "tests/test_a.py::TestC::test_z[x::y]": "PASSED",
    "tests/test_a.py::test_err": "ERROR",
}


def test_pytest_summary_lines_give_every_id_whole(pytest_project: Path) -> None:
    code, log = run(["-m", "pytest", "-rA", "-p", "no:cacheprovider", "tests/test_a.py"], pytest_project)
    assert code == 1, log
    result = get_parser("pytest").parse(log)
    # the skipped test's summary line names a file:line, not a node id, so it is absent
    assert result == ParseResult(PYTEST_EXPECTED, (), True)


def test_pytest_verbose_and_summary_lines_merge(pytest_project: Path) -> None:
    code, log = run(["-m", "pytest", "-rA", "-v", "-p", "no:cacheprovider", "tests/test_a.py"], pytest_project)
    assert code == 1, log
    result = get_parser("pytest").parse(log)
    assert result.statuses == {**PYTEST_EXPECTED, "tests/test_a.py::test_skip": "SKIPPED"}
    assert result.summary_seen and result.collection_errors == ()


def test_pytest_unescaped_unicode_ids_come_out_whole(pytest_project: Path) -> None:
    code, log = run(["-m", "pytest", "-rA", "-v", "-p", "no:cacheprovider", "-o",
                     "disable_test_id_escaping_and_forfeit_all_rights_to_community_support=true",
                     "tests/test_a.py::test_param"], pytest_project)
    assert code == 1, log
    statuses = get_parser("pytest").parse(log).statuses
    assert statuses["tests/test_a.py::test_param[é ü]"] == "PASSED"
    assert len(statuses) == 6


def test_pytest_collection_error_interrupts_and_is_reported(pytest_project: Path) -> None:
    code, log = run(["-m", "pytest", "-rA", "-p", "no:cacheprovider", "tests"], pytest_project)
    assert code == 2, log
    assert "Interrupted: 1 error during collection" in log
    assert get_parser("pytest").parse(log) == ParseResult(
        {"tests/test_bad.py": "ERROR"}, ("tests/test_bad.py",), True)


def test_pytest_collection_error_with_continue_keeps_other_results(pytest_project: Path) -> None:
    code, log = run(["-m", "pytest", "-rA", "-p", "no:cacheprovider", "--continue-on-collection-errors",
                     "tests"], pytest_project)
    assert code == 1, log
    result = get_parser("pytest").parse(log)
    assert result.statuses == {**PYTEST_EXPECTED, "tests/test_bad.py": "ERROR"}
    assert result.collection_errors == ("tests/test_bad.py",)


def test_pytest_colour_codes_are_stripped(pytest_project: Path) -> None:
    code, log = run(["-m", "pytest", "-rA", "-v", "--color=yes", "-p", "no:cacheprovider",
                     "tests/test_a.py"], pytest_project)
    assert "\x1b[" in log
    assert get_parser("pytest").parse(log).statuses["tests/test_a.py::test_param[a - b]"] == "PASSED"


def test_pytest_run_that_dies_has_no_summary() -> None:
    log = ("tests/t.py::test_a PASSED                                        [ 50%]\n"
           "tests/t.py::test_b \n+++++++++++ Timeout +++++++++++\n")
    assert get_parser("pytest").parse(log) == ParseResult({"tests/t.py::test_a": "PASSED"}, (), False)


def test_pytest_no_tests_ran_is_a_summary_and_exit_5_is_broken(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    code, log = run(["-m", "pytest", "-rA", "-p", "no:cacheprovider", "empty"], tmp_path)
    parser = get_parser("pytest")
    assert parser.parse(log) == ParseResult({}, (), True)
    assert parser.broken_exit(code) == "pytest collected no tests"
    assert parser.broken_exit(1) is None and parser.broken_exit(0) is None
    assert "usage" in (parser.broken_exit(4) or "") and "internal" in (parser.broken_exit(3) or "")


def test_pytest_older_summary_forms_are_read() -> None:
    log = textwrap.dedent("""\
        =========================== short test summary info ============================
        XFAIL tests/t.py::test_xf
          reason: known
        ERROR tests/t_bad.py - ModuleNotFoundError: No module named 'x'
        FAILED tests/t.py::test_b[a] - assert [1] == [2] - x
        SKIPPED [1] tests/t.py::test_s: no reason
        [gw0] [ 50%] PASSED tests/t.py::test_c[p - q]
        !!!!!!!!!!!!!!!!!!!! Interrupted: 1 error during collection !!!!!!!!!!!!!!!!!!!!
        ========== 1 failed, 1 xfailed, 1 error in 0.12 seconds ==========
        """)
    assert get_parser("pytest").parse(log) == ParseResult(
        {"tests/t.py::test_xf": "XFAIL", "tests/t_bad.py": "ERROR", "tests/t.py::test_b[a]": "FAILED",
         "tests/t.py::test_s": "SKIPPED", "tests/t.py::test_c[p - q]": "PASSED"},
        ("tests/t_bad.py",), True)


def test_pytest_error_at_teardown_wins_over_passed() -> None:
    log = ("=== short test summary info ===\nPASSED t.py::test_a\n"
           "ERROR t.py::test_a - RuntimeError: teardown\n=== 1 passed, 1 error in 0.01s ===\n")
    assert get_parser("pytest").parse(log).statuses == {"t.py::test_a": "ERROR"}


@pytest.mark.parametrize("line, known, expected", [
    ("t.py::test_x[a - b] - AssertionError: x - y", set(), "t.py::test_x[a - b]"),
    ("t.py::test_y[1-2]", set(), "t.py::test_y[1-2]"),
    ("t.py::TestC::test_z[x::y] - E", set(), "t.py::TestC::test_z[x::y]"),
    ("t.py::test_u[é ü] - assert [1] - [2]", set(), "t.py::test_u[é ü]"),
    ("t.py::test_plain - boom - again", set(), "t.py::test_plain"),
    ("t.py::test_open[[ - x] - msg", set(), "t.py::test_open[[ - x]"),
    ("t.py::test_open[[] - msg", {"t.py::test_open[[]"}, "t.py::test_open[[]"),
])
def test_node_ids_are_cut_only_at_the_message_separator(line: str, known: set[str], expected: str) -> None:
    assert split_node_id(line, known) == expected


@pytest.fixture
def unittest_project(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "test_mod.py").write_text(UNITTEST_TESTS, encoding="utf-8")
    (tmp_path / "pkg" / "test_bad.py").write_text("import nonexistent_module\n")
    return tmp_path


def _pythons() -> list[str]:
    """This interpreter, and an older one (< 3.11, the other id format) when the machine has one."""
    found = [sys.executable]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for name in ("3.10", "3.9", "3.8"):
        candidates = [shutil.which(f"python{name}"), *sorted(map(str, pyenv.glob(f"{name}.*/bin/python")))]
        for path in filter(None, candidates):
            try:
                subprocess.run([path, "-c", "import unittest"], check=True, capture_output=True, timeout=30)
            except (subprocess.SubprocessError, OSError):
                continue
            return [*found, path]
    return found


@pytest.mark.parametrize("python", _pythons())
def test_unittest_verbose_run_gives_dotted_ids(unittest_project: Path, python: str) -> None:
    code, log = run(["-m", "unittest", "-v", "pkg.test_mod"], unittest_project, python)
    assert code == 1, log
    expected = {f"pkg.test_mod.Alpha.{n}": s for n, s in zip(UNITTEST_NAMES, UNITTEST_STATUSES)}
    expected["pkg.test_mod.Broken.setUpClass"] = "ERROR"
    assert get_parser("unittest").parse(log) == ParseResult(expected, ("pkg.test_mod.Broken",), True)


@pytest.mark.parametrize("python", _pythons())
def test_django_parser_reads_the_same_log_with_swebench_ids(unittest_project: Path, python: str) -> None:
    code, log = run(["-m", "unittest", "-v", "pkg.test_mod"], unittest_project, python)
    expected = {f"{n} (pkg.test_mod.Alpha)": s for n, s in zip(UNITTEST_NAMES, UNITTEST_STATUSES)}
    expected["setUpClass (pkg.test_mod.Broken)"] = "ERROR"
    assert get_parser("django").parse(log) == ParseResult(expected, ("pkg.test_mod.Broken",), True)


def test_unittest_module_that_does_not_import_is_a_collection_error(unittest_project: Path) -> None:
    code, log = run(["-m", "unittest", "discover", "-v", "-s", ".", "-p", "test_*.py"], unittest_project)
    result = get_parser("unittest").parse(log)
    assert result.collection_errors == ("pkg.test_bad", "pkg.test_mod.Broken")
    assert result.statuses["pkg.test_bad"] == "ERROR"
    assert result.statuses["pkg.test_mod.Alpha.test_ok"] == "PASSED"
    assert result.summary_seen


def test_unittest_without_closing_lines_has_no_summary() -> None:
    log = "test_a (pkg.mod.C.test_a) ... ok\ntest_b (pkg.mod.C.test_b) ... "
    assert get_parser("unittest").parse(log) == ParseResult({"pkg.mod.C.test_a": "PASSED"}, (), False)


def test_django_runtests_log_variants() -> None:
    log = textwrap.dedent("""\
        Testing against Django installed in '/testbed/django' with up to 8 processes
        Importing application admin_views
        Found 5 test(s).
        Operations to perform:
          Apply all migrations: admin, sites
        Running migrations:
          Applying admin.0001_initial... OK
        System check identified no issues (0 silenced).
        test_a (admin_views.tests.AdminViewTests) ... ok
        test_b (admin_views.tests.AdminViewTests.test_b)
        Regression test for #123 ... FAIL
        test_c (admin_views.tests.AdminViewTests) ... output without newline ok
        test_d (admin_views.tests.AdminViewTests) ... skipped 'Database doesn't support feature(s): x'
        test_e (admin_views.tests.AdminViewTests) ... printed
        more
        ERROR

        ======================================================================
        FAIL: test_b (admin_views.tests.AdminViewTests.test_b)
        Regression test for #123
        ----------------------------------------------------------------------
        AssertionError: 1 != 2

        ----------------------------------------------------------------------
        Ran 5 tests in 0.120s

        FAILED (failures=1, errors=1, skipped=1)
        Destroying test database for alias 'default'...
        """)
    parser = get_parser("django")
    assert parser.parse(log) == ParseResult({
        "test_a (admin_views.tests.AdminViewTests)": "PASSED",
        "test_b (admin_views.tests.AdminViewTests)": "FAILED",
        "test_c (admin_views.tests.AdminViewTests)": "PASSED",
        "test_d (admin_views.tests.AdminViewTests)": "SKIPPED",
        "test_e (admin_views.tests.AdminViewTests)": "ERROR",
    }, (), True)
    assert parser.directive_style == "modules" and parser.broken_exit(1) is None


def test_regex_parser_maps_raw_statuses_and_reads_the_summary() -> None:
    parser = get_parser("regex", {"pattern": r"^(?P<status>ok|not ok) \d+ - (?P<test>.+)$",
                                  "status_map": {"ok": "PASSED", "not ok": "FAILED"},
                                  "summary": r"^# tests \d+", "broken_exit": {3: "tap harness crashed"}})
    log = "ok 1 - suite a - b\nnot ok 2 - suite [c]\nrandom\n# tests 2\n"
    assert parser.parse(log) == ParseResult({"suite a - b": "PASSED", "suite [c]": "FAILED"}, (), True)
    assert parser.parse("ok 1 - x\n").summary_seen is False
    assert parser.broken_exit(3) == "tap harness crashed" and parser.broken_exit(1) is None
    assert parser.directive_style == "paths"


@pytest.mark.parametrize("options, message", [
    (None, "needs options"),
    ({"pattern": "(?P<test>.+)"}, "(?P<status>...)"),
    ({"pattern": "(?P<test>.+) (?P<status>.+)", "stauts_map": {}}, "unknown option(s) stauts_map"),
    ({"pattern": "(?P<test>.+) (?P<status>.+)", "status_map": {"ok": "GOOD"}}, "status_map values"),
    ({"pattern": "(?P<test>[)"}, "not a valid regular expression"),
])
def test_regex_parser_rejects_bad_options(options: dict | None, message: str) -> None:
    with pytest.raises(SwegcError) as info:
        get_parser("regex", options)
    assert message in str(info.value)


def test_registry_names_and_unknown_name_lists_valid_ones() -> None:
    assert sorted(PARSERS) == ["django", "pytest", "regex", "unittest"]
    assert PASSING == {"PASSED", "XFAIL"}
    assert {p.directive_style for p in PARSERS.values()} <= {"paths", "modules"}
    with pytest.raises(SwegcError, match="valid parsers are django, pytest, regex, unittest"):
        get_parser("nose")
    with pytest.raises(SwegcError, match="takes no options"):
        get_parser("pytest", {"pattern": "x"})
