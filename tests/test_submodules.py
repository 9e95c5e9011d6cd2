"""`source.submodules`: a submodule's files, at the commit each instance's tree pins, from a
local clone of it (Docker).

The repository reads data from a submodule (as mypy read typeshed before 0.900). Pull request
#2 is based on a commit that pins the submodule's first commit, #3 on a later one that pins
its second: each instance's tests pass only with its own pinned files.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import GitBuilder

pytestmark = pytest.mark.docker

APP = 'def value():\n    return open("lib/stubs/data.txt").read().strip()\n'
SPEC = '''extends: swegc:pytest
repo: acme/pinned
source:
  clone: {clone}
  jsonl: {records}
  submodules: {{lib/stubs: {stubs}}}
version: {{from: fixed, value: "1.0"}}
environments:
  - python: "3.11"
    pip: ["pytest==8.3.3"]
'''


def pin(repo: GitBuilder, sha: str) -> None:
    """Point the submodule at ``sha`` without fetching it (git only records the commit)."""
    (repo.path / "lib" / "stubs").mkdir(parents=True, exist_ok=True)  # unpopulated, as cloned
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{sha},lib/stubs")


@pytest.fixture(scope="module")
def pinned(tmp_path_factory):
    root = tmp_path_factory.mktemp("pinned")
    stubs = GitBuilder(root / "stubs")
    first_stub = stubs.commit("one", {"data.txt": "one\n"})
    second_stub = stubs.commit("two", {"data.txt": "two\n"})
    repo = GitBuilder(root / "pinned")
    repo.write({".gitmodules": '[submodule "stubs"]\n\tpath = lib/stubs\n'
                               "\turl = https://example.invalid/stubs\n",
                "app.py": APP, "conftest.py": "", "tests/test_app.py": "def test_nothing():\n    pass\n"})
    pin(repo, first_stub)
    base2 = repo.commit("first")
    merge2 = repo.commit("shout (#2)", {
        "app.py": APP + "\n\ndef shout():\n    return value().upper()\n",
        "tests/test_app.py": "from app import shout\n\n\ndef test_shout():\n    assert shout() == 'ONE'\n"})
    pin(repo, second_stub)
    base3 = repo.commit("stubs: two")
    merge3 = repo.commit("whisper (#3)", {
        "app.py": APP + "\n\ndef shout():\n    return value().upper()\n\n\n"
                        "def whisper():\n    return value() + '...'\n",
        "tests/test_app.py": "from app import whisper\n\n\ndef test_whisper():\n"
                             "    assert whisper() == 'two...'\n"})
    records = root / "records.jsonl"
    records.write_text("".join(json.dumps({"repo": "acme/pinned", "number": n, "base_commit": b,
                                           "merge_commit": m, "title": f"#{n}"}) + "\n"
                               for n, b, m in [(2, base2, merge2), (3, base3, merge3)]))
    specs = root / "specs"
    specs.mkdir()
    (specs / "pinned.yaml").write_text(SPEC.format(clone=repo.path, records=records,
                                                   stubs=stubs.path))
    return specs, stubs, (first_stub, second_stub)


def compile_specs(specs, out):
    return subprocess.run([sys.executable, "-m", "swegc.cli", "compile", str(specs), "--out",
                           str(out)], capture_output=True, text=True, timeout=1200)


def test_each_instance_gets_the_submodule_files_its_commit_pins(pinned, tmp_path, docker_engine):
    specs, _, (first_stub, second_stub) = pinned
    result = compile_specs(specs, tmp_path / "out")
    assert result.returncode == 0, result.stderr[-3000:]
    reports = {r["instance_id"]: r for r in map(json.loads, (tmp_path / "out" / "reports" /
                                                             "instances.jsonl").read_text().splitlines())}
    assert {i: (r["status"], r["reason"]) for i, r in reports.items()} == {
        "acme__pinned-2": ("valid", None), "acme__pinned-3": ("valid", None)}

    def run(image: str, command: str) -> str:
        return docker_engine.containers.run(image, ["bash", "-c", command], remove=True,
                                            working_dir="/testbed").decode()

    assert run(reports["acme__pinned-2"]["image"], "cat lib/stubs/data.txt") == "one\n"
    assert run(reports["acme__pinned-3"]["image"], "cat lib/stubs/data.txt") == "two\n"
    # A submodule as `git submodule update --init` leaves it: initialized, at its pin (a
    # leading space), so that a build that asks git about it (mypy's setup.py) goes on.
    status = run(reports["acme__pinned-3"]["image"], "git submodule status")
    assert status.startswith(f" {second_stub} lib/stubs"), status
    # The submodule's history ends at the pin: no later commit of it is in the image.
    assert run(reports["acme__pinned-2"]["image"],
               f"git -C lib/stubs cat-file -t {second_stub} 2>&1 || true").strip() != "commit"
    # Its files are not the agent's changes: git sees a clean tree.
    assert run(reports["acme__pinned-3"]["image"], "git status --porcelain") == ""


def test_a_submodule_clone_that_lacks_the_pinned_commit_is_a_clear_error(pinned, tmp_path,
                                                                         docker_engine):
    specs, stubs, _ = pinned
    shallow = GitBuilder(tmp_path / "other-stubs")
    shallow.commit("unrelated", {"data.txt": "x\n"})
    spec = specs / "pinned.yaml"
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "pinned.yaml").write_text(
        spec.read_text().replace(str(stubs.path), str(shallow.path)))
    result = compile_specs(tmp_path / "specs", tmp_path / "out")
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "the clone of submodule lib/stubs" in result.stderr
    assert f"git -C {shallow.path} fetch origin" in result.stderr
