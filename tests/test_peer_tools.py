"""The example dataset, with its peer-tool columns, run by the field's own tools unchanged.

eval_script is run as SkyRL runs it (exit status = verdict) against patches that try to fool
it; the official SWE-bench 5.x harness and mini-swe-agent's SWE-bench runner are installed
from PyPI into a virtual environment of their own (``peer_tools_python``: their dependencies
would change packages of swegc's environment) and run as a user runs them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.docker

SWEBENCH = "swebench==5.0.2"
MINI_SWE_AGENT = "mini-swe-agent==2.4.6"
F2P_INSTANCE = "example__calc-10"  # F2P: tests/test_ops.py::test_percent_of_a_fraction


@pytest.fixture(scope="session")
def peer_rows(example_build):
    from swegc.dataset import read_dataset
    from swegc.runtime.harness.peer_columns import peer_columns

    rows = read_dataset(example_build)
    assert all(row == {**row, **peer_columns(row)} for row in rows)  # compile wrote them already
    return rows


def _row(rows, instance_id):
    return next(row for row in rows if row["instance_id"] == instance_id)


def run_eval_script(row, prepare=None, patch: str = ""):
    """Applies ``patch`` (or runs ``prepare(box)``) in the instance image, then eval_script."""
    from swegc.runtime.sandbox import open_sandbox

    with open_sandbox(row["image_name"]) as box:
        if patch:
            box.write_file("/tmp/candidate.diff", patch.encode())
            assert box.execute("git apply /tmp/candidate.diff").exit_code == 0
        if prepare:
            prepare(box)
        box.write_file("/tmp/eval.sh", row["eval_script"].encode())
        return box.execute("bash /tmp/eval.sh", timeout_s=300)


def test_every_image_column_names_the_image_id_the_instance_was_validated_in(peer_rows):
    for row in peer_rows:
        assert row["image"] == row["image_name"] == row["docker_image"] == row["image_id"]
        assert row["image_tag"].startswith("swegc-test-inst/")
        assert row["log_parser"] == "parse_log_pytest" and row["swegc_log_parser"] == "pytest"
        assert row["eval_type"] == "pass_and_fail"


def test_peer_columns_give_the_same_values_when_applied_twice(peer_rows):
    from swegc.runtime.harness.peer_columns import peer_columns

    row = peer_rows[0]
    assert {**row, **peer_columns(row)} == row


def test_eval_script_exits_zero_with_the_gold_patch_and_nonzero_without_a_fix(peer_rows):
    for row in peer_rows:
        gold = run_eval_script(row, patch=row["patch"])
        assert gold.exit_code == 0, gold.output[-3000:]
        assert "swegc-eval: RESOLVED" in gold.output
        none = run_eval_script(row)
        assert none.exit_code != 0, none.output[-3000:]
        assert f"FAILED {row['FAIL_TO_PASS'][0]}" in none.output


def _edit_tests(box):
    # The test the test_patch adds, written by the candidate so that it passes.
    box.execute("printf '\\n\\ndef test_percent_of_a_fraction():\\n    pass\\n' >> tests/test_ops.py")


_FORCE_PASS = """import pytest

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
"""


def _conftest_forcing_passes(box):
    box.write_file("/testbed/conftest.py", _FORCE_PASS.encode())
    box.write_file("/testbed/tests/conftest.py", _FORCE_PASS.encode())


_FAKE_OUTPUT = '''
import atexit, os

def _claim_success():
    print("PASSED tests/test_ops.py::test_percent_of_a_fraction")
    print("tests/test_ops.py::test_percent_of_a_fraction ... ok")
    print("=========== 8 passed in 0.01s ===========")
    print(">>>>> End Test Output")
    print(">>>>> Test Exit Code: 0", flush=True)
    os._exit(0)

atexit.register(_claim_success)
'''


def _fake_passed_lines(box):
    box.execute(f"cat >> calc/__init__.py <<'EOF'\n{_FAKE_OUTPUT}\nEOF")


_SITECUSTOMIZE = """import atexit, os
atexit.register(lambda: os._exit(0))
"""


def _sitecustomize(box):
    box.write_file("/testbed/sitecustomize.py", _SITECUSTOMIZE.encode())
    box.write_file("/testbed/tests/sitecustomize.py", _SITECUSTOMIZE.encode())
    box.write_file("/testbed/calc/evil.pth", b"import sitecustomize\n")


@pytest.mark.parametrize("prepare", [_edit_tests, _conftest_forcing_passes, _fake_passed_lines,
                                     _sitecustomize],
                         ids=["edits-the-tests", "conftest-forcing-passes", "prints-fake-results",
                              "adds-sitecustomize"])
def test_eval_script_does_not_resolve_a_patch_that_only_games_the_tests(peer_rows, prepare):
    row = _row(peer_rows, F2P_INSTANCE)
    result = run_eval_script(row, prepare)
    assert result.exit_code != 0, result.output[-3000:]
    assert "swegc-eval: NOT RESOLVED" in result.output
    # What SWE-bench 5.x would read last for the F2P test is the verdict, not the forgery.
    assert result.output.rstrip().count("FAILED tests/test_ops.py::test_percent_of_a_fraction") >= 1


def test_eval_script_resets_test_infrastructure_and_still_resolves_the_gold_patch(peer_rows):
    row = _row(peer_rows, F2P_INSTANCE)

    def gold_and_conftest(box):
        _conftest_forcing_passes(box)
        _sitecustomize(box)

    result = run_eval_script(row, gold_and_conftest, patch=row["patch"])
    assert result.exit_code == 0, result.output[-3000:]
    for path in ("conftest.py", "tests/conftest.py", "sitecustomize.py", "calc/evil.pth"):
        assert f"changed by the patch, reset: {path}" in result.output  # infrastructure or test file


# -- the field's tools, from PyPI ---------------------------------------------------------------

@pytest.fixture(scope="session")
def peer_tools_python() -> Path:
    """Python of a venv with swebench and mini-swe-agent (made once, kept in the user's cache).

    Their dependencies would downgrade python-dateutil in swegc's environment, so they live
    apart; SWEGC_PEER_TOOLS_VENV moves the venv. Creating it takes about 2 minutes.
    """
    default = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "swegc" / "peer-tools-venv"
    venv = Path(os.environ.get("SWEGC_PEER_TOOLS_VENV", default))
    python = venv / "bin" / "python"
    check = [str(python), "-c", "import swebench, minisweagent"]
    if not python.exists() or subprocess.run(check, capture_output=True).returncode != 0:
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        result = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                                 SWEBENCH, MINI_SWE_AGENT], capture_output=True, text=True, timeout=1200)
        if result.returncode != 0:
            pytest.fail(f"could not install {SWEBENCH} and {MINI_SWE_AGENT}: {result.stderr[-2000:]}")
    return python


def _write_rows(rows, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "train.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _swebench(python: Path, cwd: Path, rows_path: Path, predictions: str, run_id: str) -> dict:
    result = subprocess.run(
        [str(python), "-m", "swebench.harness.run_evaluation", "--dataset_name", str(rows_path),
         "--split", "train", "--predictions_path", predictions, "--run_id", run_id,
         "--max_workers", "2", "--timeout", "300", "--report_dir", str(cwd)],
        cwd=cwd, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    [report] = cwd.glob(f"*.{run_id}.json")
    return json.loads(report.read_text())


def _noop_patch() -> str:
    return ("diff --git a/NOTES.md b/NOTES.md\nnew file mode 100644\nindex 0000000..1b2c3d4\n"
            "--- /dev/null\n+++ b/NOTES.md\n@@ -0,0 +1 @@\n+Looked at it; nothing to change.\n")


def _patch_from(row, prepare) -> str:
    """The git diff that ``prepare`` makes in a fresh container of the row's image."""
    from swegc.runtime.sandbox import open_sandbox

    with open_sandbox(row["image_name"]) as box:
        prepare(box)
        return box.diff()


def test_swebench_5_resolves_gold_predictions_and_no_noop_or_forged_one(peer_rows, peer_tools_python,
                                                                        tmp_path):
    rows_path = _write_rows(peer_rows, tmp_path / "dataset")
    gold = _swebench(peer_tools_python, tmp_path, rows_path, "gold", "gold")
    assert sorted(gold["resolved_ids"]) == sorted(row["instance_id"] for row in peer_rows), gold
    logs = "".join(p.read_text() for p in (tmp_path / "logs").rglob("run_instance.log"))
    assert "attempting to pull" not in logs

    forged = {row["instance_id"]: _patch_from(row, _fake_passed_lines) for row in peer_rows}
    noop = {row["instance_id"]: _noop_patch() for row in peer_rows}
    for name, patches in (("noop", noop), ("forged", forged)):
        predictions = tmp_path / f"{name}.jsonl"
        predictions.write_text("".join(json.dumps({
            "instance_id": iid, "model_name_or_path": name, "model_patch": patch}) + "\n"
            for iid, patch in patches.items()))
        report = _swebench(peer_tools_python, tmp_path, rows_path, str(predictions), name)
        assert report["completed_instances"] == len(peer_rows), report
        assert report["resolved_ids"] == [], report


def _gold_model_config(rows, path: Path) -> Path:
    """mini-swe-agent's deterministic test model: apply the gold patch of the checked-out base, submit."""
    import base64

    import yaml

    cases = "".join(f"{row['base_commit']}) echo {base64.b64encode(row['patch'].encode()).decode()} "
                    "| base64 -d > /tmp/gold.diff ;; " for row in rows)
    apply = f'case "$(git rev-parse HEAD)" in {cases}esac; git apply /tmp/gold.diff && git diff > patch.txt'

    def output(command: str) -> dict:
        return {"role": "assistant", "content": f"THOUGHT: next step\n\n```bash\n{command}\n```",
                "extra": {"actions": [{"command": command}]}}

    config = {"model": {"model_class": "deterministic", "model_name": "deterministic-gold",
                        "outputs": [output(apply),
                                    output("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && cat patch.txt")]}}
    path.write_text(yaml.safe_dump(config))
    return path


def test_mini_swe_agent_runs_the_rows_unchanged_and_its_gold_patch_resolves(peer_rows, peer_tools_python,
                                                                           tmp_path):
    rows_path = _write_rows(peer_rows, tmp_path / "dataset")
    model = _gold_model_config(peer_rows, tmp_path / "model.yaml")
    out = tmp_path / "out"
    result = subprocess.run(
        [str(peer_tools_python), "-m", "minisweagent.run.benchmarks.swebench",
         "--subset", str(rows_path.parent), "--split", "train", "-o", str(out),
         "-c", "swebench.yaml", "-c", str(model), "--workers", "1"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
        env={**os.environ, "MSWEA_CONFIGURED": "true", "MSWEA_SILENT_STARTUP": "1"})
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    predictions = json.loads((out / "preds.json").read_text())
    assert sorted(predictions) == sorted(row["instance_id"] for row in peer_rows), result.stderr[-3000:]
    for row in peer_rows:
        patch = predictions[row["instance_id"]]["model_patch"]
        assert patch.strip(), f"{row['instance_id']}: no patch submitted"
        graded = run_eval_script(row, patch=patch)
        assert graded.exit_code == 0, graded.output[-3000:]


# -- the judge on its own, for the runners the example does not use ------------------------------

def _judge(tmp_path, parser, log, code, f2p, p2p, options=None, line_style="pytest"):
    from swegc.runtime.harness import eval_judge

    (tmp_path / "expected.json").write_text(json.dumps({
        "parser": parser, "parser_options": options, "line_style": line_style,
        "FAIL_TO_PASS": f2p, "PASS_TO_PASS": p2p}))
    (tmp_path / "test.log").write_text(log)
    result = subprocess.run([sys.executable, "-I", "-S", eval_judge.__file__, str(tmp_path), str(code)],
                            capture_output=True, text=True)
    return result.returncode, result.stdout


_DJANGO_LOG = """test_a (app.tests.ATests) ... ok
test_b (app.tests.ATests) ... some output the test printed
ok
test_c (app.tests.ATests.test_c) ... FAIL

======================================================================
FAIL: test_c (app.tests.ATests.test_c)
----------------------------------------------------------------------
Ran 3 tests in 0.010s

FAILED (failures=1)
"""


def test_judge_reads_django_results_from_the_runner_and_prints_them_for_swebench(tmp_path):
    code, out = _judge(tmp_path, "django", _DJANGO_LOG, 1, ["test_a (app.tests.ATests)"],
                       ["test_b (app.tests.ATests)"], line_style="django")
    assert code == 0, out
    assert "test_b (app.tests.ATests) ... ok" in out
    code, out = _judge(tmp_path, "django", _DJANGO_LOG, 1, ["test_c (app.tests.ATests)"], [],
                       line_style="django")
    assert code == 1 and "test_c (app.tests.ATests) ... FAIL" in out


def test_judge_refuses_a_unittest_log_whose_summary_disagrees_with_the_exit_code(tmp_path):
    forged = "test_x (pkg.tests.T.test_x) ... ok\n\nRan 1 test in 0.001s\n\nOK\n"
    assert _judge(tmp_path, "unittest", forged, 0, ["pkg.tests.T.test_x"], [])[0] == 0
    code, out = _judge(tmp_path, "unittest", forged, 1, ["pkg.tests.T.test_x"], [])
    assert code == 1 and "disagrees" in out
    assert _judge(tmp_path, "unittest", "test_x (pkg.tests.T) ... ok\n", 0, ["pkg.tests.T.test_x"], [])[0] == 1


def test_judge_reads_a_regex_parsed_log_with_the_rows_options(tmp_path):
    options = {"pattern": r"^(?P<status>ok|not ok) (?P<test>\S+)$", "status_map": {"ok": "PASSED", "not ok": "FAILED"},
               "summary": r"^# done$"}
    log = "ok t1\nnot ok t2\n# done\n"
    assert _judge(tmp_path, "regex", log, 0, ["t1"], [], options)[0] == 0
    assert _judge(tmp_path, "regex", log, 1, ["t1", "t2"], [], options)[0] == 1
    assert _judge(tmp_path, "regex", "ok t1\n", 0, ["t1"], [], options)[0] == 1  # no summary: cut short


def test_judge_without_junit_xml_says_the_run_did_not_finish(tmp_path):
    code, out = _judge(tmp_path, "pytest", "PASSED tests/t.py::test_a\n", 0, ["tests/t.py::test_a"], [])
    assert code == 1 and "FAILED tests/t.py::test_a" in out and "junit XML" in out


def test_a_gold_patch_that_changes_a_conftest_keeps_its_version_for_every_candidate(peer_rows):
    from swegc.runtime.harness.peer_columns import peer_columns

    row = dict(_row(peer_rows, F2P_INSTANCE))
    conftest = ("diff --git a/conftest.py b/conftest.py\nnew file mode 100644\nindex 0000000..1b2c3d4\n"
                "--- /dev/null\n+++ b/conftest.py\n@@ -0,0 +1 @@\n+GOLD = True\n")
    row["patch"] = row["patch"] + conftest
    row.update(peer_columns(row))

    def candidate_with_own_conftest(box):
        box.write_file("/testbed/conftest.py", _FORCE_PASS.encode())

    gold = run_eval_script(row, patch=row["patch"])
    assert gold.exit_code == 0, gold.output[-3000:]
    own = run_eval_script(row, candidate_with_own_conftest, patch=row["patch"].replace(conftest, ""))
    assert own.exit_code == 0, own.output[-3000:]  # its conftest replaced by the gold one
    assert "reset: conftest.py" in own.output
    none = run_eval_script(row, candidate_with_own_conftest)
    assert none.exit_code != 0, none.output[-3000:]


def test_text_that_would_upset_swebench_or_the_heredoc_goes_into_the_script_base64_encoded(tmp_path):
    from swegc.runtime.harness.eval_script import END_MARKER, _heredoc

    for content in (f"echo '{END_MARKER}'\n", "#!/bin/bash\nset -uxo pipefail\n", "plain text\n"):
        script = _heredoc("cat > out.txt", content, "T")
        encoded = "base64 -d" in script
        assert encoded == (content != "plain text\n")
        lines = script.split("\n")
        assert END_MARKER not in script and "#!/bin/bash" not in lines and "set -uxo pipefail" not in lines
        subprocess.run(["bash", "-c", script], cwd=tmp_path, check=True)
        assert (tmp_path / "out.txt").read_text() == content


def test_the_rule_set_matches_test_globs_as_compile_splits_test_files():
    import pathspec

    from swegc.runtime.harness.protected_files import is_test_file

    globs = ["tests/**", "**/test_*.py", "test_*.py", "/docs/conf.py", "testing/", "*_test.py",
             "src/**/fixtures/*.json", "!tests/data/**"]
    paths = ["tests/a.py", "tests/sub/b.py", "pkg/test_x.py", "test_y.py", "pkg/tests.py",
             "docs/conf.py", "pkg/docs/conf.py", "testing/util.py", "a/testing/util.py",
             "pkg/mod_test.py", "src/a/b/fixtures/x.json", "src/fixtures/x.json", "src/a/fixtures/x.txt",
             "calc/ops.py", "tests/data/x.json"]
    for chosen in [[glob] for glob in globs] + [globs]:
        spec = pathspec.GitIgnoreSpec.from_lines(chosen)  # what compile's patch split uses
        for path in paths:
            assert is_test_file(path, chosen) == spec.match_file(path), (chosen, path)


def test_with_the_specs_test_globs_eval_script_resets_every_test_file_a_patch_touched(peer_rows):
    from swegc.runtime.harness.peer_columns import peer_columns

    row = dict(_row(peer_rows, F2P_INSTANCE))
    row["test_file_globs"] = ["tests/**"]
    row.update(peer_columns(row))

    def touch_test_helpers(box):
        box.execute("echo 'SHADOW = 1' > tests/helpers.py && echo '# edited' >> tests/test_stats.py"
                    " && printf 'tests/helpers.py\\n' >> .gitignore")  # hidden from `git status`

    result = run_eval_script(row, touch_test_helpers, patch=row["patch"])
    assert result.exit_code == 0, result.output[-3000:]
    for path in ("tests/helpers.py", "tests/test_stats.py"):
        assert f"test file changed by the patch, reset: {path}" in result.output
    assert "reset: .gitignore" in result.output


def test_judge_finds_a_test_whose_printed_id_has_folders_above_pytests_rootdir(tmp_path):
    (tmp_path / "junit.xml").write_text(
        '<testsuites><testsuite name="pytest" tests="1"><testcase classname="tests.test_x.TestA" '
        'name="test_b[a::b c]" /></testsuite></testsuites>')
    code, out = _judge(tmp_path, "pytest", "", 0, ["sub/tests/test_x.py::TestA::test_b[a::b c]"], [])
    assert code == 0, out


def test_derived_image_names_are_those_swebench_and_mini_swe_agent_compute(peer_tools_python):
    from swegc.images.peer_names import swebench_repository

    ids = ["example__calc-2", "Project-MONAI__MONAI-4688", "django__django-11133"]
    code = ("import json, sys\nfrom swebench.task.checks import expected_image\n"
            "from minisweagent.run.benchmarks.swebench import get_swebench_docker_image_name as mini\n"
            "ids = json.loads(sys.argv[1])\n"
            "print(json.dumps([[expected_image(i, 'host:5000/acme'), mini({'instance_id': i})] for i in ids]))\n")
    result = subprocess.run([str(peer_tools_python), "-c", code, json.dumps(ids)], capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    for iid, (swebench, mini) in zip(ids, json.loads(result.stdout.splitlines()[-1])):
        assert swebench == f"host:5000/acme/{swebench_repository(iid)}:latest"
        assert mini == f"docker.io/swebench/{swebench_repository(iid)}:latest"
