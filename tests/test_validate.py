"""Validation in real containers: time limits, runners that do not run, unittest suites."""

from __future__ import annotations

import pytest

from swegc.test_settings import TestSettings
from swegc.runtime.harness.validation import ValidationPlan, validate
from swegc.git import GitRepo
from swegc.images.builder import EnvRecipe, ImageBuilder, InstanceRecipe
from swegc.images.network import BuildNetwork

pytestmark = pytest.mark.docker

TEST_PATCH = """\
diff --git a/test_calc.py b/test_calc.py
new file mode 100644
--- /dev/null
+++ b/test_calc.py
@@ -0,0 +1,13 @@
+import os
+import time
+import unittest
+
+from calc import double
+
+
+class TestDouble(unittest.TestCase):
+    def test_double(self):
+        if os.environ.get("HANG"):
+            time.sleep(60)
+        self.assertEqual(double(2), 4)
+
"""
PATCH = """\
diff --git a/calc.py b/calc.py
--- a/calc.py
+++ b/calc.py
@@ -1,2 +1,2 @@
 def double(x):
-    return x + 1
+    return x * 2
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory, docker_engine):
    """The instance image and its base commit."""
    from conftest import GitBuilder

    g = GitBuilder(tmp_path_factory.mktemp("v") / "repo")
    base = g.commit("calc", {"calc.py": "def double(x):\n    return x + 1\n"})
    builder = ImageBuilder(GitRepo.open(g.path), BuildNetwork.resolve({}),
                           tmp_path_factory.mktemp("logs"))
    env = builder.env_image(EnvRecipe(repo="acme/calc", base_image="swegc-base:bookworm",
                                      env_commit=base, upgrade_pip=False))
    inst = builder.instance_image(InstanceRecipe("acme__calc-1", base), env, base)
    yield inst.name, base
    for name in (inst.name, env.name):
        docker_engine.images.remove(name, force=True)


def plan(built, command="python -m unittest -v test_calc", test_patch=TEST_PATCH, patch=PATCH,
         **settings):
    image, base = built
    values = {"test_command": command, "test_directives": (), "parser": "unittest",
              "timeout_s": 60, **settings}
    return ValidationPlan(instance_id="acme__calc-1", image=image, base_commit=base,
                          test_patch=test_patch, patch=patch, settings=TestSettings(**values),
                          runs=2)


def test_a_unittest_suite_is_validated_with_its_dotted_test_ids(built, tmp_path):
    # The fix keeps calc.py's size; applied within the second of the before runs, only
    # PYTHONDONTWRITEBYTECODE (set by validate, whatever the image) keeps the old .pyc away.
    verdict = validate(plan(built), tmp_path)
    assert verdict.status == "valid", verdict.detail
    assert verdict.judgement.FAIL_TO_PASS == ["test_calc.TestDouble.test_double"]
    assert [r["side"] for r in verdict.runs] == ["before", "before", "after", "after"]
    assert (tmp_path / "acme__calc-1" / "after-2.log").is_file()


def test_a_run_past_the_time_limit_is_rejected_as_a_timeout(built, tmp_path):
    verdict = validate(plan(built, timeout_s=3, env={"HANG": "1"}), tmp_path)
    assert verdict.status == "rejected" and verdict.reason == "timeout"
    assert sum(r["duration_s"] for r in verdict.runs) < 30  # killed, not waited for


def test_a_test_command_whose_runner_is_missing_is_a_suite_that_did_not_run(built, tmp_path):
    # pytest is not installed in this env: the command fails before any test runs.
    verdict = validate(plan(built, command="python -m pytest -rA", parser="pytest"), tmp_path)
    assert verdict.status == "rejected"
    assert verdict.reason == "suite_did_not_run"
    assert "No module named pytest" in (tmp_path / "acme__calc-1" / "before-1.log").read_text()


def test_a_test_patch_that_does_not_apply_is_rejected_before_any_test_runs(built, tmp_path):
    broken = TEST_PATCH.replace("+++ b/test_calc.py", "+++ b/test_calc.py").replace(
        "--- /dev/null", "--- a/test_calc.py").replace("new file mode 100644\n", "")
    verdict = validate(plan(built, test_patch=broken), tmp_path)
    assert verdict.reason == "test_patch_does_not_apply"
    assert verdict.runs == []


def test_the_after_side_starts_from_fresh_test_files_as_a_graded_patch_does(built, tmp_path):
    # tests.prepare appends to a file the test_patch adds. Before the after runs, the files the
    # test_patch touches are put back and the test_patch applied again (as in grading), so
    # each side's prepare sees the test_patch's version: the test passes on both sides.
    test_patch = TEST_PATCH.replace("@@ -0,0 +1,13 @@", "@@ -0,0 +1,17 @@") + (
        "+    def test_prepared_once_per_side(self):\n"
        "+        with open('data.txt') as f:\n"
        "+            self.assertEqual(f.read(), 'start\\nx\\n')\n"
        "+\n"
        "diff --git a/data.txt b/data.txt\nnew file mode 100644\n--- /dev/null\n+++ b/data.txt\n"
        "@@ -0,0 +1 @@\n+start\n")
    verdict = validate(plan(built, test_patch=test_patch, prepare=("echo x >> data.txt",)),
                       tmp_path)
    assert verdict.status == "valid", verdict.detail
    assert verdict.judgement.FAIL_TO_PASS == ["test_calc.TestDouble.test_double"]
    assert verdict.judgement.PASS_TO_PASS == ["test_calc.TestDouble.test_prepared_once_per_side"]
    assert (tmp_path / "acme__calc-1" / "prepare-after.log").is_file()
