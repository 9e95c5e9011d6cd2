"""`swegc draft --probe`: a drafted spec is compiled on a few pull requests, its failures read,
repaired by rules (a policy where no rule answers), and compiled again until it yields."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import GitBuilder
from swegc.compiler.draft.failures import Failure, Kind, read_failures
from swegc.compiler.draft.model import Draft
from swegc.compiler.draft.policy_edit import parse_edit
from swegc.compiler.draft.repair import Context, apply, edits_for, split_at, split_point

SWEGC = [sys.executable, "-m", "swegc.cli"]


def _build_folder(root: Path, env_log: str, instance_logs: dict[str, str],
                  reasons: dict[str, str]) -> Path:
    """A build folder as a probe compile leaves it: reports and logs (no image needed)."""
    reports = root / "partial" / "reports"
    reports.mkdir(parents=True)
    (root / "logs" / "images").mkdir(parents=True)
    log = root / "logs" / "images" / "env-k1.log"
    log.write_text(f"# build of x\n# script:\napt-get install libxml2-dev\n# output:\n{env_log}")
    envs = [{"env_key": "k1", "versions": "<2", "status": "failed" if env_log else "built",
             "reason": "env_build_failed" if env_log else None, "detail": env_log[-200:],
             "log": str(log)},
            {"env_key": "k2", "versions": ">=2", "status": "built", "resolution_lag": [
                "pytest resolved to 3.5.1 (...): it needs atomicwrites (first upload 2022-07-08),"
                " with no release uploaded by the date; add pip_date_exempt: [atomicwrites] to "
                "resolve it without the cap"]}]
    (reports / "envs.jsonl").write_text("".join(json.dumps(e) + "\n" for e in envs))
    rows = []
    for iid, text in instance_logs.items():
        (root / "logs" / iid).mkdir(parents=True)
        (root / "logs" / iid / "after-1.log").write_text(text)
        rows.append({"instance_id": iid, "status": "rejected", "reason": reasons[iid],
                     "env_key": "k2", "version": "2.0", "detail": "see the log"})
    (reports / "instances.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return root


def test_failures_read_from_a_build_folder_become_the_edits_that_repair_them(tmp_path):
    env_log = ("  src/lxml/etree.c:96:10: fatal error: libxml/xmlversion.h: No such file or "
               "directory\n  error: command '/usr/bin/gcc' failed with exit code 1\n")
    collection = ("ImportError while importing test module '/testbed/tests/test_io.py'.\n"
                  "E   ModuleNotFoundError: No module named 'yaml'\n")
    old = ("platform linux -- Python 3.11.2, pytest-8.3.3\n"
           "E   ModuleNotFoundError: No module named 'pkg_resources'\n")
    out = _build_folder(tmp_path / "out", env_log, {"acme__x-1": collection, "acme__x-2": old},
                        {"acme__x-1": "after_collection_error", "acme__x-2": "suite_did_not_run"})
    draft = Draft({"environments": [{"versions": "<2", "python": "3.11"},
                                    {"versions": ">=2", "python": "3.11", "pip_date": "commit",
                                     "pip": ["pytest", "setuptools"]}]})
    failures = read_failures(out, draft.spec["environments"])
    kinds = {(f.kind, f.env_index, f.subject) for f in failures}
    assert (Kind.MISSING_HEADER, 0, "libxml/xmlversion.h") in kinds
    assert (Kind.MISSING_MODULE_TESTS, 1, "yaml") in kinds
    assert (Kind.OLD_API, 1, "setuptools") in kinds
    assert (Kind.RESOLUTION_LAG, 1, "atomicwrites") in kinds
    assert not any(f.subject == "pkg_resources" for f in failures)  # a pin, not a package
    for failure in failures:
        for edit in edits_for(failure, draft, Context()):
            draft = apply(draft, edit)
    assert draft.get("environments.0.apt") == ["libxml2-dev"]
    assert draft.get("environments.1.pip") == ["pytest", "setuptools<81", "PyYAML"]
    assert draft.get("environments.1.pip_date_exempt") == ["atomicwrites"]
    assert "tests import yaml" in draft.why["environments.1.pip"]
    assert "setuptools 81 dropped pkg_resources" in draft.why["environments.1.pip"]


def test_a_range_splits_where_failures_start_and_only_the_failing_side_is_edited():
    assert split_point(["2.1", "2.3"], ["1.0", "1.9"]) == ("above", "2.1")
    assert split_point(["1.0"], ["2.0", "2.5"]) == ("below", "2.0")
    assert split_point(["1.0", "2.5"], ["2.0"]) is None
    draft = Draft({"environments": [{"versions": ">=1.0", "python": "3.11", "pip": ["pytest"]}]})
    draft, lower, upper = split_at(draft, 0, "2.1", "numpy 1.24 removed np.float from 2.1")
    assert draft.get("environments.0.versions") == ">=1.0,<2.1"
    assert draft.get(f"environments.{upper}") == {"versions": ">=1.0,>=2.1", "python": "3.11",
                                                  "pip": ["pytest"]}
    assert "split off at 2.1" in draft.to_yaml()


def test_a_policy_edit_must_name_a_key_the_spec_language_has():
    def said(content):
        return parse_edit({"role": "assistant", "content": content})

    edit = said('Try: {"path": "tests.env.MODE", "value": "x", "why": "tests read MODE"}')
    assert (edit.path, edit.value) == ("tests.env.MODE", "x")
    assert said('{"path": "environments.0.rm_rf", "value": 1}') is None
    assert said("no idea") is None
    called = parse_edit({"role": "assistant", "content": None, "tool_calls": [
        {"id": "1", "type": "function", "function": {
            "name": "edit_spec",
            "arguments": json.dumps({"path": "environments.0.apt", "value": ["libpq-dev"],
                                     "why": "libpq"})}}]})
    assert called.value == ["libpq-dev"]


def _history(path: Path) -> Path:
    """Tests that import yaml, which nothing installs; #3's test also reads CALC_SCALE."""
    repo = GitBuilder(path)
    test = ("import yaml\nimport calc\n\n\ndef test_loads():\n"
            "    assert yaml.safe_load('a: 1') == {'a': 1}\n")
    repo.commit("base", {"calc.py": "def double(x):\n    return x\n\n\ndef scale(x):\n"
                                    "    return x\n",
                         "pytest.ini": "[pytest]\npythonpath = .\n",
                         "tests/test_calc.py": test})
    repo.commit("Fix double (#2)", {
        "calc.py": "def double(x):\n    return 2 * x\n\n\ndef scale(x):\n    return x\n",
        "tests/test_calc.py": test + "\n\ndef test_double():\n    assert calc.double(2) == 4\n"})
    repo.commit("Scale by CALC_SCALE (#3)", {
        "calc.py": "import os\n\n\ndef double(x):\n    return 2 * x\n\n\ndef scale(x):\n"
                   "    return x * int(os.environ['CALC_SCALE'])\n",
        "tests/test_scale.py": "import yaml\nimport calc\n\n\ndef test_scale():\n"
                               "    assert calc.scale(2) == 4\n"})
    return repo.path


def test_the_probe_repairs_a_missing_test_dependency_by_rule_and_the_rest_by_a_policy(
        tmp_path, docker_engine):
    from swegc.compiler.draft.probe import ProbeLog, probe_and_repair
    from swegc.runtime.policies.scripted import ScriptedPolicy

    clone = _history(tmp_path / "calc")
    draft = Draft({"extends": "swegc:pytest", "repo": "acme/calc",
                   "source": {"clone": str(clone), "git": {}},
                   "version": {"from": "fixed", "value": "1.0"},
                   "environments": [{"python": "3.11", "pip": ["pytest==8.3.3"]}]},
                  {"environments.0.pip": "the test runner"})
    # No rule knows that #3's code reads CALC_SCALE: the scripted policy says so, once.
    policy = ScriptedPolicy([{"role": "assistant", "content": json.dumps(
        {"path": "tests.env.CALC_SCALE", "value": "2", "why": "scale() reads CALC_SCALE"})}])
    lines: list[str] = []
    spec = tmp_path / "specs" / "acme__calc.yaml"
    spec.parent.mkdir()
    log = ProbeLog()
    final = probe_and_repair(draft, spec, probes=2, budget_s=600, policies=[policy],
                             echo=lines.append, out=tmp_path / "probe", log=log)
    said = "\n".join(lines)
    assert "round 1: 0/2 valid" in said, said
    assert "round 2: 1/2 valid (+1)" in said and "PyYAML" in said, said
    assert "round 3: 2/2 valid (+1)" in said and "CALC_SCALE" in said, said
    assert final.get("environments.0.pip") == ["pytest==8.3.3", "PyYAML"]
    assert final.get("tests.env") == {"CALC_SCALE": "2"}
    text = spec.read_text()
    assert text == final.to_yaml()
    assert "# the test runner; PyYAML: the tests import yaml" in text
    assert "# scale() reads CALC_SCALE (a policy's edit)" in text
    checked = subprocess.run([*SWEGC, "check", str(spec)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert [r["valid"] for r in log.rounds] == [0, 1, 2]


def test_code_that_uses_what_a_later_python_removed_gets_the_newest_python_that_has_it():
    from swegc.compiler.draft.failures import read_log

    log = ("E   ModuleNotFoundError: No module named 'imp'\n"
           "E   ImportError: cannot import name 'Mapping' from 'collections' (/usr/lib/x.py)\n"
           "E   ImportError: cannot import name 'fast' from 'calc._speed' "
           "(/testbed/calc/_speed.cpython-311-x86_64-linux-gnu.so)\n")
    draft = Draft({"environments": [{"python": "3.11", "install": ["pip install -e ."]}]})
    for kind, subject, evidence, extra in read_log(log, building=False):
        failure = Failure(kind, 0, subject, evidence, extra=extra)
        for edit in edits_for(failure, draft, Context()):
            draft = apply(draft, edit)
    assert draft.get("environments.0.python") == "3.9"
    assert draft.get("environments.0.prepare") == [
        "pip install --no-deps --no-build-isolation -e ."]
    assert "calc._speed" in draft.why["environments.0.prepare"]


def test_pytest_options_and_fixtures_of_a_missing_plugin_add_the_plugin():
    from swegc.compiler.draft.failures import read_log

    log = ("pytest: error: unrecognized arguments: --benchmark-columns min --benchmark-disable "
           "tests/test_utils.py\n  inifile: /testbed/pyproject.toml\n"
           "E       fixture 'mocker' not found\n")
    draft = Draft({"environments": [{"python": "3.11", "pip": ["pytest"]}]})
    for kind, subject, evidence, extra in read_log(log, building=False):
        for edit in edits_for(Failure(kind, 0, subject, evidence, extra=extra), draft, Context()):
            draft = apply(draft, edit)
    assert draft.get("environments.0.pip") == ["pytest", "pytest-benchmark", "pytest-mock"]
    assert "the option --benchmark-columns" in draft.why["environments.0.pip"]


@pytest.mark.parametrize("log, path, value", [
    ("ERROR: Package 'bar' requires a different Python: 3.11.2 not in '<3.10,>=3.6'",
     "environments.0.python", "3.9"),
    ("  ╰─▶ Because the current Python version (3.11.2) does not satisfy Python>=3.12 and "
     "foo==1.0 depends on Python>=3.12, we can conclude that foo==1.0 cannot be used.",
     "environments.0.python", "3.13"),
    ("error: can't find Rust compiler", "environments.0.apt", ["cargo"]),
    ("/usr/bin/ld: cannot find -lxslt: No such file or directory", "environments.0.apt",
     ["libxslt1-dev"]),
    ("  ╰─▶ Because there is no version of swegc-late==2.0 and you require swegc-late==2.0, "
     "we can conclude that your requirements are unsatisfiable.",
     "environments.0.pip_date_exempt", ["swegc-late"]),
    ("  × Failed to build `swegc-old==0.1`", "environments.0.python", "3.9"),
    ("  × Failed to build `lxml==4.2.6`", "environments.0.apt",
     ["build-essential", "libxml2-dev", "libxslt1-dev"]),
    ("  cause: Because 3-7 was not found in the package registry and you require 3-7, we can "
     "conclude that your requirements are unsatisfiable.", "environments.0.pip", ["pytest"]),
    ("  cause: Because there is no version of moto==1.3.16.dev122 and dvc[tests]==2.0.0a2 "
     "depends on moto==1.3.16.dev122, we can conclude that dvc[tests]==2.0.0a2 cannot be used.",
     "environments.0.install", ["printf 'moto==1.3.16\\n' > /tmp/swegc-overrides.txt && "
                                "UV_OVERRIDE=/tmp/swegc-overrides.txt pip install -e '.[tests]'"]),
])
def test_an_env_build_log_becomes_the_edit_a_user_would_make(log, path, value):
    from swegc.compiler.draft.failures import read_log

    draft = Draft({"environments": [{"python": "3.11", "pip_date": "commit",
                                     "pip": ["pytest", "3.7"],
                                     "install": ["pip install -e '.[tests]'"]}]})
    for kind, subject, evidence, extra in read_log(log, building=True):
        for edit in edits_for(Failure(kind, 0, subject, evidence, extra=extra), draft, Context()):
            draft = apply(draft, edit)
    assert draft.get(path) == value


def test_a_python_without_a_base_image_here_is_probed_with_the_nearest_that_has_one():
    from swegc.compiler.draft.probe import base_image_edits

    draft = Draft({"environments": [{"python": "3.6"}, {"python": "3.11"}, {"python": "3.13"}]})
    edits = {e.path: e for e in base_image_edits(draft, ["3.9", "3.11"])}
    assert edits["environments.0.python"].value == "3.9"
    assert edits["environments.2.python"].value == "3.11"
    assert "swegc images base --python 3.13" in edits["environments.2.python"].why
    assert "environments.1.python" not in edits


def test_a_probe_says_the_dropped_linked_issues_warning_once(tmp_path, docker_engine, caplog):
    """The sampling and the round's compile both read the candidates; the warning about
    linked issues without text is one fact, said once."""
    from swegc.compiler.draft.probe import probe_and_repair

    repo = GitBuilder(tmp_path / "calc")
    repo.commit("base", {"calc.py": "def double(x):\n    return x\n",
                         "pytest.ini": "[pytest]\npythonpath = .\n",
                         "tests/test_calc.py": "import calc\n"})
    repo.commit("Fix double, fixes #9 (#2)", {
        "calc.py": "def double(x):\n    return 2 * x\n",
        "tests/test_calc.py": "import calc\n\n\ndef test_double():\n"
                              "    assert calc.double(2) == 4\n"})
    draft = Draft({"extends": "swegc:pytest", "repo": "acme/calc",
                   "source": {"clone": str(repo.path), "git": {},
                              "filters": {"require_linked_issue": False}},
                   "version": {"from": "fixed", "value": "1.0"},
                   "environments": [{"python": "3.11", "pip": ["pytest==8.3.3"]}]})
    spec = tmp_path / "specs" / "acme__calc.yaml"
    spec.parent.mkdir()
    lines: list[str] = []
    with caplog.at_level("WARNING"):
        probe_and_repair(draft, spec, probes=1, budget_s=600, echo=lines.append,
                         out=tmp_path / "probe")
    said = [r.getMessage() for r in caplog.records if "linked issue(s)" in r.getMessage()]
    assert "round 1: 1/1 valid" in "\n".join(lines), lines
    assert len(said) == 1 and "#2 resolves #9" in said[0], said
