"""Tests that fail on both sides because validation has no network: the warning or the
rejection says so and points at tests.network, also when a download's retries run the tests
out of time (Docker, a generated repository)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import GitBuilder

pytestmark = pytest.mark.docker

SWEGC = [sys.executable, "-m", "swegc.cli"]
RETRYING = ("import requests\nfrom requests.adapters import HTTPAdapter\n"
            "from urllib3.util.retry import Retry\n\n\ndef test_table_with_retries():\n"
            "    session = requests.Session()\n"
            "    session.mount('http://', HTTPAdapter(max_retries=Retry(total=50, "
            "backoff_factor=0.2)))\n"
            "    session.get('http://data.swegc-example.org/table.csv', timeout=5)\n")
DOWNLOAD = ("import urllib.request\n\n\ndef test_table_from_the_web():\n"
            "    urllib.request.urlopen('http://data.swegc-example.org/table.csv', timeout=5)\n")


def history(path: Path) -> Path:
    repo = GitBuilder(path)
    repo.commit("base", {"calc.py": "def double(x):\n    return x\n",
                         "pytest.ini": "[pytest]\npythonpath = .\n",
                         "tests/test_calc.py": "def test_nothing():\n    pass\n"})
    # #2 fixes double and adds a test of it, and a test that needs data from the web.
    repo.commit("Fix double (#2)", {
        "calc.py": "def double(x):\n    return 2 * x\n",
        "tests/test_calc.py": "import calc\n\n\ndef test_double():\n    assert calc.double(2) == 4\n",
        "tests/test_data.py": DOWNLOAD})
    # #3 changes code and only a test that needs the web: nothing goes from failing to passing.
    repo.commit("Tidy double (#3)", {
        "calc.py": "def double(x):\n    return x * 2\n",
        "tests/test_data.py": DOWNLOAD.replace("table.csv", "other.csv")})
    # #4: a client that retries a failed download with backoff; without the network each try
    # fails at once, and the retries go on until the run's time limit (20 s for this one).
    repo.commit("Triple (#4)", {
        "calc.py": "def double(x):\n    return x * 2\n\n\ndef triple(x):\n    return 3 * x\n",
        "tests/test_calc.py": "import calc\n\n\ndef test_triple():\n    assert calc.triple(1) == 3\n",
        "tests/test_retries.py": RETRYING})
    return repo.path


@pytest.fixture(scope="module")
def compiled(tmp_path_factory, docker_engine):
    """The history compiled once: (reports by instance id, the compile's stderr, the build
    folder)."""
    tmp_path = tmp_path_factory.mktemp("network")
    clone = history(tmp_path / "calc")
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "calc.yaml").write_text(f"""\
extends: swegc:pytest
repo: acme/calc
source: {{clone: {clone}, git: {{}}}}
version: {{from: fixed, value: "1.0"}}
environments: [{{python: "3.11", pip: ["pytest==8.3.3", "requests==2.32.3"]}}]
instances: {{acme__calc-4: {{timeout: 20}}}}
""")
    out = tmp_path / "out"
    result = subprocess.run([*SWEGC, "compile", str(specs), "--out", str(out), "--runs", "1"],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    reports = {json.loads(line)["instance_id"]: json.loads(line)
               for line in (out / "reports" / "instances.jsonl").read_text().splitlines()}
    return reports, result.stderr, out


def test_tests_that_fail_on_both_sides_for_want_of_the_network_are_said_to(compiled):
    reports, stderr, _ = compiled
    hint = ("1 test(s) fail before and after the fix (e.g. "
            "tests/test_data.py::test_table_from_the_web) and the log shows failed downloads (")
    setting = "validation runs without the network; if the tests need it, set tests.network: true"
    valid = reports["acme__calc-2"]
    assert valid["status"] == "valid"
    (warning,) = valid["warnings"]
    assert warning.startswith(hint) and setting in warning
    assert "Temporary failure in name resolution" in warning
    assert f"warning: acme__calc-2: {hint}" in stderr
    rejected = reports["acme__calc-3"]
    assert (rejected["status"], rejected["reason"]) == ("rejected", "no_fail_to_pass")
    assert hint in rejected["detail"] and setting in rejected["detail"]


def test_a_run_that_times_out_retrying_a_download_is_said_to_wait_on_the_network(compiled):
    reports, _, out = compiled
    report = reports["acme__calc-4"]
    assert (report["status"], report["reason"]) == ("rejected", "timeout")
    assert report["detail"].startswith("before run 1 exceeded 20s; it was waiting on the "
                                       "network (File \""), report["detail"]
    assert "urllib3" in report["detail"] and "set tests.network: true" in report["detail"]
    assert not (out / "logs" / "acme__calc-4" / "after-1.log").exists()  # waited out once
