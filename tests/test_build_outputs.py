"""`environments[].build_outputs`: what the env's install built is kept for the instances, so an
instance's install rebuilds only what its commit changed (Docker).

The repository "compiles" each `src/*.txt` into `out/*.bin` when the output is missing or
older than its source, as make, ninja and setuptools' build_ext decide, and logs what it built.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from conftest import GitBuilder

pytestmark = pytest.mark.docker

BUILD = '''"""Builds out/NAME.bin from each src/NAME.txt that is newer than it; logs what it built."""
import os
os.makedirs("out", exist_ok=True)
for name in sorted(os.listdir("src")):
    source, target = f"src/{name}", f"out/{name[:-4]}.bin"
    if os.path.exists(target) and os.path.getmtime(target) >= os.path.getmtime(source):
        continue
    open(target, "w").write(open(source).read().upper())
    open("out/built.log", "a").write(name + "\\n")
'''
TEST = 'def test_{name}():\n    assert open("out/{name}.bin").read() == "{value}"\n'
SPEC = '''extends: swegc:pytest
repo: acme/outputs
source: {{clone: {clone}, jsonl: {records}}}
tests: {{prepare: ["python build.py"]}}
version: {{from: fixed, value: "1.0"}}
environments:
  - python: "3.11"
    pip: ["pytest==8.3.3"]
    install: ["python build.py"]
    build_outputs: {outputs}
'''


STRICT_BUILD = BUILD.replace('os.makedirs("out", exist_ok=True)\n', """os.makedirs("out", exist_ok=True)
FORMAT = "2"
if os.path.exists("out/built.log") and (not os.path.exists("out/format")
                                        or open("out/format").read() != FORMAT):
    raise SystemExit("out/ holds outputs of another format: remove it and build again")
open("out/format", "w").write(FORMAT)
""")


def compile_outputs(tmp_path, outputs: list[str], third_build: str | None = None) -> dict:
    """Compiles #2 (a changes) and #3 (b changes, based on #2's merge): the env is built at the
    first commit, so #3's checkout changes src/a.txt and its install must rebuild a.
    ``third_build``: a commit between them (no pull request) changes build.py to that, so
    #3's base has it."""
    repo = GitBuilder(tmp_path / "outputs")
    first = repo.commit("first", {
        "build.py": BUILD, "src/a.txt": "a", "src/b.txt": "b", ".gitignore": "/out/\n",
        "tests/test_a.py": TEST.format(name="a", value="A"),
        "tests/test_b.py": TEST.format(name="b", value="B")})
    second = repo.commit("a becomes ay (#2)", {
        "src/a.txt": "ay", "tests/test_a.py": TEST.format(name="a", value="AY")})
    base = repo.commit("a new build", {"build.py": third_build}) if third_build else second
    third = repo.commit("b becomes bee (#3)", {
        "src/b.txt": "bee", "tests/test_b.py": TEST.format(name="b", value="BEE")})
    records = tmp_path / "records.jsonl"
    records.write_text("".join(json.dumps({"repo": "acme/outputs", "number": n, "base_commit": b,
                                           "merge_commit": m, "title": t}) + "\n"
                               for n, b, m, t in [(2, first, second, "ay"),
                                                  (3, base, third, "bee")]))
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "outputs.yaml").write_text(SPEC.format(clone=repo.path, records=records,
                                                    outputs=json.dumps(outputs)))
    out = tmp_path / "out"
    result = subprocess.run([sys.executable, "-m", "swegc.cli", "compile", str(specs), "--out",
                             str(out)], capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    reports = [json.loads(line) for line in
               (out / "reports" / "instances.jsonl").read_text().splitlines()]
    assert [r["status"] for r in reports] == ["valid", "valid"], reports
    return next(r for r in reports if r["instance_id"] == "acme__outputs-3")


def in_image(docker_engine, image: str, command: str) -> str:
    return docker_engine.containers.run(image, ["bash", "-c", command], remove=True,
                                        working_dir="/testbed").decode()


def test_an_instance_keeps_the_envs_build_outputs_and_rebuilds_only_what_changed(
        tmp_path, docker_engine):
    report = compile_outputs(tmp_path, ["out/"])
    # The env built a and b; #3's install found them and built again only a, which its
    # checkout changed.
    assert in_image(docker_engine, report["image"], "cat out/built.log").split() == [
        "a.txt", "b.txt", "a.txt"]
    # (a newline after it: the engine may drop a last line without one from a log)
    assert in_image(docker_engine, report["image"], "cat out/a.bin; echo") == "AY\n"
    assert in_image(docker_engine, report["image"], "git status --porcelain") == ""


def test_without_build_outputs_every_instance_builds_everything_again(tmp_path, docker_engine):
    report = compile_outputs(tmp_path, [])
    assert in_image(docker_engine, report["image"], "cat out/built.log").split() == [
        "a.txt", "b.txt"]


def test_an_install_that_fails_on_the_envs_outputs_is_tried_again_from_a_clean_tree(
        tmp_path, docker_engine):
    # #3's build refuses the outputs the env's older build left (as a build system whose
    # dependency tracking missed a change fails on stale outputs): the instance is built from
    # scratch instead of being rejected as install_failed: its outputs are all new (a and b
    # built once, by the new build).
    report = compile_outputs(tmp_path, ["out/"], third_build=STRICT_BUILD)
    assert in_image(docker_engine, report["image"], "cat out/built.log").split() == [
        "a.txt", "b.txt"]
    assert in_image(docker_engine, report["image"], "cat out/format out/a.bin; echo") == "2AY\n"
    assert in_image(docker_engine, report["image"], "git status --porcelain") == ""
