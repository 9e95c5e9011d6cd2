"""Loading valid specs: the typed values, extends merging, locations and the spec hash."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from swegc.compiler.spec.loader import builtin_defaults, load_specs
from swegc.compiler.spec.yaml_lines import label, load_yaml

# Line numbers matter: tests below point at them.
VALID = r"""
repo: acme/widgets
source:
  clone: ../widgets.bundle
  git: {branch: main, issues: issues.jsonl}
  filters: {since: 2023-01-01, labels: [bug], max_files: 20}
tests:
  files: ["tests/**", "**/test_*.py"]
  command: pytest -rA
  parser: pytest
  env: {PYTHONHASHSEED: 0}
version:
  from: file
  path: widgets/__init__.py
  pattern: '__version__ = "(?P<version>\d+\.\d+)'
environments:
  - versions: "<2.0"
    python: "3.9"
    install: ["pip install -e ."]
  - versions: ">=2.0"
    python: "3.11"
    apt: [libxml2-dev]
    pip: ["pytest==7.4.4"]
    install: ["pip install -e ."]
    pip_date: commit
build:
  base_images: {"3.10": "my/py310:latest"}
instances:
  acme__widgets-123: {skip: needs network}
  acme__widgets-7: {version: "2.1", timeout: 60, env: {A: b}}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_a_valid_spec_becomes_a_repo_spec_with_the_values_written(tmp_path: Path) -> None:
    write(tmp_path, "specs/widgets.yaml", VALID)
    [spec] = load_specs(["specs/widgets.yaml"])
    assert spec.path == tmp_path / "specs" / "widgets.yaml"
    assert spec.repo == "acme/widgets"
    assert spec.source.kind == "git"
    assert spec.source.clone == tmp_path / "widgets.bundle"
    assert spec.source.git is not None and spec.source.git.branches == ("main",)
    assert spec.source.git.issues == tmp_path / "specs" / "issues.jsonl"
    assert spec.source.filters.since == "2023-01-01"
    assert spec.source.filters.labels == ("bug",)
    assert spec.source.filters.max_files == 20
    assert spec.source.filters.must_touch_tests is True
    assert spec.tests.files == ("tests/**", "**/test_*.py")
    assert spec.tests.command == "pytest -rA"
    assert spec.tests.runs == 2 and spec.tests.timeout == 900
    assert spec.tests.env == {"PYTHONHASHSEED": "0"}
    assert spec.version.strategy == "file"
    assert spec.version.path == "widgets/__init__.py"
    old, new = spec.environments
    assert (old.versions, old.python, old.where) == ("<2.0", "3.9", "specs/widgets.yaml:16")
    assert new.apt == ("libxml2-dev",) and new.pip == ("pytest==7.4.4",)
    assert new.pip_date == "commit" and new.upgrade_pip is True
    assert spec.environment_for("2.3") is new and spec.environment_for("1.9") is old
    assert spec.build.base_images == {"3.10": "my/py310:latest"}
    assert spec.instances["acme__widgets-123"].skip == "needs network"
    seven = spec.instances["acme__widgets-7"]
    assert (seven.version, seven.timeout, seven.env) == ("2.1", 60, {"A": "b"})
    assert seven.where == "specs/widgets.yaml:29"
    assert spec.where("environments.1.python") == "specs/widgets.yaml:20"
    assert spec.where("tests.command") == "specs/widgets.yaml:8"
    assert len(spec.spec_hash) == 16


def test_a_folder_loads_every_yaml_file_but_not_partials_starting_with_underscore(
        tmp_path: Path) -> None:
    write(tmp_path, "specs/a.yaml", VALID)
    write(tmp_path, "specs/b.yml", VALID.replace("acme/widgets", "acme/gadgets")
          .replace("acme__widgets", "acme__gadgets"))
    write(tmp_path, "specs/_partial.yaml", "tests: {runs: 3}\n")
    write(tmp_path, "specs/notes.txt", "not a spec")
    specs = load_specs(["specs"])
    assert [s.repo for s in specs] == ["acme/widgets", "acme/gadgets"]


def test_extends_merges_mappings_key_by_key_and_replaces_lists(tmp_path: Path) -> None:
    write(tmp_path, "_shared.yaml", """
        tests:
          files: ["shared/**"]
          command: pytest -x
          parser: unittest
          timeout: 100
          env: {A: "1", B: "2"}
        """)
    spec_text = VALID.replace("repo: acme/widgets", "extends: _shared.yaml\nrepo: acme/widgets")
    write(tmp_path, "w.yaml", spec_text.replace("  env: {PYTHONHASHSEED: 0}", "  env: {B: x}"))
    [spec] = load_specs(["w.yaml"])
    assert spec.tests.files == ("tests/**", "**/test_*.py")  # list replaced, not appended
    assert spec.tests.command == "pytest -rA"  # the spec wins
    assert spec.tests.timeout == 100  # inherited
    assert spec.tests.env == {"A": "1", "B": "x"}  # mappings merged
    assert spec.where("tests.timeout") == "_shared.yaml:5"
    assert spec.where("tests.env.A") == "_shared.yaml:6"
    assert spec.where("tests.env.B") == "w.yaml:11"
    assert spec.where("tests.files") == "w.yaml:8"
    assert "extends" not in spec.locations


def test_extends_a_builtin_default_by_name(tmp_path: Path) -> None:
    text = VALID.replace("repo: acme/widgets", "extends: swegc:pytest\nrepo: acme/widgets")
    text = text.replace("  command: pytest -rA\n", "").replace("  parser: pytest\n", "")
    write(tmp_path, "w.yaml", text)
    [spec] = load_specs(["w.yaml"])
    assert spec.tests.command == "pytest -rA -p no:cacheprovider"
    assert spec.tests.parser == "pytest"
    assert spec.tests.files == ("tests/**", "**/test_*.py")
    pytest_defaults = builtin_defaults()["swegc:pytest"]
    file, _, line = spec.where("tests.command").rpartition(":")
    assert Path(file).resolve() == pytest_defaults.resolve()
    assert "command:" in pytest_defaults.read_text().splitlines()[int(line) - 1]


def test_builtin_defaults_ship_pytest_and_unittest() -> None:
    assert {"swegc:pytest", "swegc:unittest"} <= set(builtin_defaults())


def test_extends_lists_apply_in_order_and_chains_are_followed(tmp_path: Path) -> None:
    write(tmp_path, "parts/_base.yaml", "tests: {timeout: 1, runs: 5}\n")
    write(tmp_path, "parts/_mid.yaml", "extends: _base.yaml\ntests: {timeout: 2}\n")
    write(tmp_path, "_last.yaml", "tests: {timeout: 3}\n")
    write(tmp_path, "w.yaml", VALID.replace(
        "repo: acme/widgets", "extends: [parts/_mid.yaml, _last.yaml]\nrepo: acme/widgets"))
    [spec] = load_specs(["w.yaml"])
    assert spec.tests.timeout == 3
    assert spec.tests.runs == 5
    assert spec.where("tests.runs") == "parts/_base.yaml:1"


def test_paths_are_relative_to_the_file_that_wrote_them(tmp_path: Path) -> None:
    write(tmp_path, "shared/_source.yaml", "source: {clone: ../repos/w.bundle}\n")
    write(tmp_path, "specs/w.yaml", VALID.replace(
        "repo: acme/widgets", "extends: ../shared/_source.yaml\nrepo: acme/widgets")
        .replace("  clone: ../widgets.bundle\n", ""))
    [spec] = load_specs(["specs/w.yaml"])
    assert spec.source.clone == tmp_path / "repos" / "w.bundle"


def test_instances_source_keeps_hub_names_and_resolves_local_paths(tmp_path: Path) -> None:
    base = VALID.replace("  git: {branch: main, issues: issues.jsonl}\n", "")
    write(tmp_path, "a.yaml", base.replace("source:\n", "source:\n  instances: hub:org/ds:test\n"))
    write(tmp_path, "sub/b.yaml", base.replace("source:\n", "source:\n  instances: d.jsonl\n")
          .replace("acme/widgets", "acme/b").replace("acme__widgets", "acme__b"))
    a, b = load_specs(["a.yaml", "sub/b.yaml"])
    assert a.source.kind == "instances" and a.source.instances == "hub:org/ds:test"
    assert b.source.instances == str(tmp_path / "sub" / "d.jsonl")


def test_git_branch_is_one_ref_or_a_list_of_refs(tmp_path: Path) -> None:
    write(tmp_path, "one.yaml", VALID)
    write(tmp_path, "two.yaml", VALID.replace("acme/widgets", "acme/two").replace("acme__widgets", "acme__two").replace(
        "branch: main", "branch: [develop2, develop]"))
    write(tmp_path, "head.yaml", VALID.replace("acme/widgets", "acme/head").replace("acme__widgets", "acme__head").replace(
        "branch: main, ", ""))
    one, two, head = load_specs(["one.yaml", "two.yaml", "head.yaml"])
    assert one.source.git.branches == ("main",)
    assert two.source.git.branches == ("develop2", "develop")
    assert head.source.git.branches == ()


def test_a_github_source_needs_no_clone(tmp_path: Path) -> None:
    text = VALID.replace("  clone: ../widgets.bundle\n  git: {branch: main, issues: issues.jsonl}",
                         "  github: {per_page: 50}\n")
    write(tmp_path, "w.yaml", text)
    [spec] = load_specs(["w.yaml"])
    assert spec.source.kind == "github" and spec.source.clone is None
    assert spec.source.github is not None and spec.source.github.per_page == 50


def test_one_environment_with_no_versions_serves_every_version(tmp_path: Path) -> None:
    text = VALID.split("environments:")[0] + 'environments:\n  - python: "3.11"\n'
    write(tmp_path, "w.yaml", text)
    [spec] = load_specs(["w.yaml"])
    assert spec.environments[0].versions == ""
    assert spec.environment_for("0.1") is spec.environments[0]


def test_spec_hash_changes_with_a_value_but_not_with_comments_or_key_order(
        tmp_path: Path) -> None:
    write(tmp_path, "a/w.yaml", VALID)
    reordered = VALID.replace("  command: pytest -rA\n  parser: pytest\n",
                              "  parser: pytest  # the log parser\n  command: pytest -rA\n")
    write(tmp_path, "b/w.yaml", "# a comment\n" + reordered)
    write(tmp_path, "c/w.yaml", VALID.replace("pytest -rA", "pytest -rA -x"))
    [a], [b], [c] = (load_specs([f"{d}/w.yaml"]) for d in "abc")
    assert a.spec_hash == b.spec_hash
    assert a.spec_hash != c.spec_hash


def test_yaml_lines_records_the_line_of_every_key_and_item() -> None:
    loaded = load_yaml("a: 1\nlist:\n  - x\n  - {python: 3.10}\n3.10: img\nwhen: 2023-01-01\n")
    assert loaded.data == {"a": 1, "list": ["x", {"python": 3.1}], "3.10": "img",
                           "when": "2023-01-01"}
    assert loaded.lines["list.1"] == 4 and loaded.lines["list.1.python"] == 4
    assert loaded.lines["3.10"] == 5
    assert loaded.raw["list.1.python"] == "3.10"


def test_yaml_lines_applies_merge_keys_with_local_keys_winning() -> None:
    loaded = load_yaml("base: &b {k: 1, j: 2}\nm:\n  <<: *b\n  k: 3\n")
    assert loaded.data["m"] == {"k": 3, "j": 2}
    assert loaded.lines["m.k"] == 4


def test_labels_read_like_the_paths_users_write() -> None:
    assert label(("environments", 2, "python")) == "environments[2].python"
    assert label(("build", "base_images", "3.10")) == 'build.base_images["3.10"]'


def test_an_environment_prepare_replaces_the_tests_prepare_for_its_instances(tmp_path: Path) -> None:
    from swegc.compiler.plan import prepare_commands

    text = VALID.replace("  env: {PYTHONHASHSEED: 0}\n",
                         "  env: {PYTHONHASHSEED: 0}\n  prepare: [\"python setup.py build_ext -i\"]\n")
    text = text.replace('    python: "3.11"\n', '    python: "3.11"\n    prepare: []\n'
                        '    build_outputs: ["build/", "*.so"]\n')
    write(tmp_path, "w.yaml", text)
    [spec] = load_specs(["w.yaml"])
    assert spec.tests.prepare == ("python setup.py build_ext -i",)
    assert spec.environments[1].build_outputs == ("build/", "*.so")
    old, new = (prepare_commands(spec, i) for i in (0, 1))
    assert old == ("python setup.py build_ext -i",)  # the first environment inherits it
    assert new == ()  # the second runs none
