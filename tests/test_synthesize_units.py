"""Synthesis's parts that need no container: the call map, the problem statement, the options."""

from __future__ import annotations

import subprocess
import sys

from swegc.compiler.synthesis.coverage import CallMap, covered_targets
from swegc.compiler.synthesis.statement import problem_statement
from swegc.test_settings import TestSettings

SOURCE = '''\
import functools


def plain(a):
    return a + 1


@functools.lru_cache()
def cached(a):
    return a * 2


class Box:
    def get(self):
        def inner():
            return 1
        return inner()
'''


def test_only_functions_that_passing_tests_call_are_targets_and_test_files_never_are():
    calls = CallMap({"tests/test_m.py::test_a": (("m.py", 8), ("tests/test_m.py", 1)),
                     "tests/test_m.py::test_b": (("m.py", 4),),
                     "tests/test_m.py::test_c": (("m.py", 14),)})
    sources = {"m.py": SOURCE, "tests/test_m.py": "def test_a():\n    pass\n"}
    targets = covered_targets(sources, calls, {"tests/test_m.py::test_a", "tests/test_m.py::test_b"},
                              ("tests/**",))
    # a decorated function is known by its first decorator's line, as its code object says
    assert [(t.qualname, t.first_line, t.covering_tests) for t in targets] == [
        ("plain", 4, ("tests/test_m.py::test_b",)), ("cached", 8, ("tests/test_m.py::test_a",))]


LOG = """\
=================================== FAILURES ===================================
___________________________________ test_add ___________________________________

    def test_add():
>       assert add(2, 3) == 5

tests/test_ops.py:7: 
_ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ 

a = 2, b = 3

    def add(a, b):
>       return a - b
E       TypeError: unsupported operand

calc/ops.py:5: TypeError
=========================== short test summary info ============================
FAILED tests/test_ops.py::test_add - TypeError: unsupported operand
FAILED tests/test_ops.py::test_sum - assert 1 == 2
========================= 2 failed, 3 passed in 0.05s ==========================
"""
BUG = """\
diff --git a/calc/ops.py b/calc/ops.py
--- a/calc/ops.py
+++ b/calc/ops.py
@@ -4,2 +4,2 @@
 def add(a, b):
-    return a + b
+    return a - b
"""


def test_the_statement_quotes_test_code_and_messages_and_hides_the_changed_code():
    text = problem_statement(["tests/test_ops.py::test_sum", "tests/test_ops.py::test_add"],
                             LOG, BUG, ["calc/ops.py"])
    assert text.startswith("test_add fails (and 1 more)\n")
    assert "- `tests/test_ops.py::test_add`" in text and "- `tests/test_ops.py::test_sum`" in text
    assert ">       assert add(2, 3) == 5" in text and "TypeError: unsupported operand" in text
    assert "assert 1 == 2" in text  # from the summary, where no section says more
    assert "return a - b" not in text and "return a + b" not in text
    assert "calc/ops.py" not in text
    assert text == problem_statement(["tests/test_ops.py::test_add", "tests/test_ops.py::test_sum"],
                                     LOG, BUG, ["calc/ops.py"])  # deterministic


def test_the_suite_command_is_the_row_command_without_its_directives():
    from swegc.compiler.synthesis.pipeline import base_command

    settings = TestSettings("pytest -rA tests/test_a.py 'tests/b c.py'",
                            ("tests/test_a.py", "tests/b c.py"), "pytest")
    assert base_command(settings) == "pytest -rA"


def test_an_unknown_strategy_is_a_clear_error_before_anything_runs(tmp_path):
    result = subprocess.run([sys.executable, "-m", "swegc.cli", "synthesize", str(tmp_path),
                             "--out", str(tmp_path / "s"), "--strategies", "mutation,bogus"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "unknown strategy bogus" in result.stderr and "pr_revert" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_scripted_policy_given_by_name_rewrites_a_covered_function(tmp_path):
    from swegc.compiler.synthesis.bugs import FunctionTarget
    from swegc.compiler.synthesis.generators import Context, STRATEGIES
    from swegc.compiler.synthesis.pipeline import SynthOptions, Synthesizer
    from swegc.records import Instance
    from swegc.runtime.policies.scripted import call

    (tmp_path / "m.py").write_text(SOURCE)
    rewrite = "def plain(a):\n    return a - 1\n"
    options = SynthOptions(build=tmp_path / "build", out=tmp_path / "out", strategies=("policy",),
                           policy="scripted",
                           policy_options={"script": [call("replace_function", source=rewrite,
                                                           explanation="off by two")]})
    source = Instance.from_row({"instance_id": "acme__m-1", "repo": "acme/m"})
    policy = Synthesizer(options)._policy(source)
    target = FunctionTarget("m.py", "plain", 4, 5, ("tests/test_m.py::test_b",))
    [candidate] = STRATEGIES["policy"](Context(source, tmp_path, [target], 0, 5, policy=policy))
    assert candidate.origin == "policy" and candidate.functions == ("m.py:plain",)
    assert "-    return a + 1\n+    return a - 1" in candidate.bug_patch
    assert candidate.extra["prompt"][1]["content"].count("def plain") == 1  # kept with the row


def test_the_policy_strategy_without_a_policy_is_a_clear_error(tmp_path):
    import pytest

    from swegc.compiler.synthesis.pipeline import SynthOptions, Synthesizer
    from swegc.errors import SwegcError

    with pytest.raises(SwegcError, match="needs --policy NAME"):
        Synthesizer(SynthOptions(build=tmp_path, out=tmp_path / "o", strategies=("policy",)))
