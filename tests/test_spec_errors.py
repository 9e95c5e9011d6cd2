"""Broken specs: every problem is reported, with its file, line and a message a user can act on."""

from __future__ import annotations

import textwrap
import time
from pathlib import Path

import pytest

from swegc.compiler.spec.checks import ShellFragment, check_shell
from swegc.compiler.spec.loader import load_specs
from swegc.errors import SpecError

# Line numbers matter: tests below point at them.
VALID = r"""
repo: acme/widgets
source:
  clone: ../widgets.bundle
  git: {branch: main}
tests:
  files: ["tests/**"]
  command: pytest -rA
  parser: pytest
  directives: paths
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
    install: ["pip install -e ."]
instances:
  acme__widgets-7: {skip: flaky}
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def problems(*paths: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_specs(list(paths))
    return [str(p) for p in info.value.problems]


def spec_with(tmp_path: Path, old: str, new: str, name: str = "w.yaml") -> str:
    assert old in VALID, old
    write(tmp_path, name, VALID.replace(old, new, 1))
    return name


@pytest.fixture(autouse=True)
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_base_spec_of_these_tests_is_valid(tmp_path: Path) -> None:
    write(tmp_path, "w.yaml", VALID)
    assert load_specs(["w.yaml"])[0].repo == "acme/widgets"


# ---- files and YAML --------------------------------------------------------------------

def test_a_missing_file_or_folder_is_a_problem_not_a_traceback(tmp_path: Path) -> None:
    assert problems("nope.yaml", "nodir") == ["nodir: no such file or folder",
                                              "nope.yaml: no such file or folder"]


def test_a_folder_without_specs_is_a_problem(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert problems("empty") == ["empty: no spec files (*.yaml, *.yml) in this folder"]


def test_bad_yaml_syntax_names_the_line(tmp_path: Path) -> None:
    name = spec_with(tmp_path, "  command: pytest -rA", "  command: [pytest")
    [problem] = problems(name)
    assert problem.startswith("w.yaml:8: invalid YAML")


def test_a_key_given_twice_is_reported_with_both_lines(tmp_path: Path) -> None:
    name = spec_with(tmp_path, "  parser: pytest", "  parser: pytest\n  command: pytest")
    assert problems(name) == [
        "w.yaml:9: tests.command: key given twice (first at line 7); remove one"]


def test_a_spec_that_is_not_a_mapping_is_a_problem(tmp_path: Path) -> None:
    write(tmp_path, "w.yaml", "- a\n- b\n")
    assert problems("w.yaml") == ["w.yaml:1: expected a mapping of spec keys (repo:, source:, "
                                  "...), got a list"]


# ---- schema ------------------------------------------------------------------------------

def test_an_unknown_key_suggests_the_close_one(tmp_path: Path) -> None:
    name = spec_with(tmp_path, "  command: pytest -rA", "  comand: pytest -rA")
    assert problems(name) == [
        "w.yaml:5: tests: missing required key 'command' (shell command run with bash in "
        "/testbed)",
        "w.yaml:7: tests: unknown key 'comand' (did you mean 'command'?)"]


def test_an_unknown_key_without_a_close_match_lists_the_known_keys(tmp_path: Path) -> None:
    name = spec_with(tmp_path, "repo: acme/widgets", "repo: acme/widgets\nzzz: 1")
    [problem] = problems(name)
    assert problem.startswith("w.yaml:2: unknown key 'zzz' (known keys: build, environments,")


def test_an_unquoted_python_version_is_reported_with_how_to_quote_it(tmp_path: Path) -> None:
    name = spec_with(tmp_path, '    python: "3.11"', "    python: 3.10")
    assert problems(name) == [
        'w.yaml:19: environments[1].python: expected a string like "3.11" (got 3.1: YAML '
        'reads 3.10 as a number, so write "3.10" in quotes)']


def test_a_wrong_type_says_what_was_expected_and_what_was_given(tmp_path: Path) -> None:
    name = spec_with(tmp_path, "  files: [\"tests/**\"]", "  files: tests/**\n  runs: two")
    assert problems(name) == ["w.yaml:6: tests.files: expected a list (got 'tests/**')",
                              "w.yaml:7: tests.runs: expected a whole number (got 'two')"]


def test_a_branch_that_is_neither_a_name_nor_a_list_of_names_says_what_is_expected(
        tmp_path: Path) -> None:
    name = spec_with(tmp_path, "  git: {branch: main}", "  git: {branch: 5}")
    assert problems(name) == ["w.yaml:4: source.git.branch: expected a branch name or a list of "
                              "branch names (got 5)"]


def test_a_missing_required_section_is_reported_at_the_file(tmp_path: Path) -> None:
    write(tmp_path, "w.yaml", VALID.split("version:")[0])
    assert problems("w.yaml") == [
        "w.yaml: missing required key 'version' (how the version of an instance (which picks "
        "its environment) is found)",
        "w.yaml: missing required key 'environments' (how to install the repository, one "
        "entry per version range)"]


def test_a_value_outside_a_choice_lists_the_choices(tmp_path: Path) -> None:
    name = spec_with(tmp_path, "  directives: paths", "  directives: path")
    assert problems(name) == ["w.yaml:9: tests.directives: expected one of paths, modules, none "
                              "(got 'path') (did you mean 'paths'?)"]


def test_a_repo_that_is_not_owner_slash_name_is_reported(tmp_path: Path) -> None:
    name = spec_with(tmp_path, "repo: acme/widgets", "repo: widgets")
    [problem, *_] = problems(name)
    assert problem == "w.yaml:1: repo: expected owner/name (got 'widgets')"


# ---- semantic checks -----------------------------------------------------------------------

def test_a_shell_fragment_that_does_not_parse_is_reported_at_its_line(tmp_path: Path) -> None:
    name = spec_with(tmp_path, '    install: ["pip install -e ."]\n  - versions: ">=2.0"',
                     '    install: ["pip install -e .", "if true; then"]\n'
                     '  - versions: ">=2.0"')
    write(tmp_path, "x.yaml", VALID.replace("  command: pytest -rA", '  command: pytest -k "a')
          .replace("acme/widgets", "acme/x").replace("acme__widgets", "acme__x"))
    found = problems(name, "x.yaml")
    assert ("w.yaml:17: environments[0].install[1]: not valid bash: syntax error: "
            "unexpected end of file") in found
    assert ("x.yaml:7: tests.command: not valid bash: unexpected EOF while looking for "
            "matching '\"'") in found
    assert len(found) == 2


def test_many_shell_fragments_are_checked_in_well_under_a_second() -> None:
    fragments = [ShellFragment(f"s.yaml:{i}", f"f{i}", f"echo {i} && ls | wc -l")
                 for i in range(200)]
    start = time.perf_counter()
    assert check_shell(fragments) == []
    assert time.perf_counter() - start < 1.0


def test_a_multiline_fragment_error_says_which_line_of_the_command(tmp_path: Path) -> None:
    name = spec_with(tmp_path, '    install: ["pip install -e ."]\n  - versions: ">=2.0"',
                     '    install:\n      - |\n        echo a\n        echo )\n'
                     '  - versions: ">=2.0"')
    assert problems(name) == ["w.yaml:18: environments[0].install[0]: not valid bash: syntax "
                              "error near unexpected token ')' (line 2 of the command)"]


def test_a_version_pattern_must_compile_and_capture(tmp_path: Path) -> None:
    bad = spec_with(tmp_path, r"""'__version__ = "(?P<version>\d+\.\d+)'""", "'v(('")
    assert problems(bad)[0].startswith("w.yaml:13: version.pattern: not a valid regex: ")
    spec_with(tmp_path, r"""'__version__ = "(?P<version>\d+\.\d+)'""", r"'v\d+'")
    assert problems("w.yaml") == [r"w.yaml:13: version.pattern: needs a group that captures "
                                  r"the version, like (?P<version>\d+\.\d+)"]


def test_an_issue_pattern_must_compile_and_capture_the_issue_number(tmp_path: Path) -> None:
    spec_with(tmp_path, "git: {branch: main}", "git: {branch: main, issue_pattern: 'FIX-#(('}")
    assert problems("w.yaml")[0].startswith("w.yaml:4: source.git.issue_pattern: not a valid "
                                            "regex: ")
    spec_with(tmp_path, "git: {branch: main}", r"git: {branch: main, issue_pattern: 'FIX-#\d+'}")
    assert problems("w.yaml") == [r"w.yaml:4: source.git.issue_pattern: needs a group that "
                                  r"captures the issue number, like ^FIX-#(?P<issue>\d+):"]


def test_an_index_needs_a_url_and_the_packages_it_serves(tmp_path: Path) -> None:
    spec_with(tmp_path, '    python: "3.9"\n', '    python: "3.9"\n    indexes: [{url: '
              '"download.pytorch.org/whl/cpu", packages: []}, {url: "https://x.org/simple", '
              'packages: [torch], extra: 1}]\n')
    assert problems("w.yaml") == [
        "w.yaml:17: environments[0].indexes[0].packages: needs at least 1 item(s)",
        "w.yaml:17: environments[0].indexes[0].url: expected a string matching ^https?:// "
        "(got 'download.pytorch.org/whl/cpu')",
        "w.yaml:17: environments[0].indexes[1]: unknown key 'extra' (known keys: packages, url)"]


def test_each_version_strategy_needs_its_own_fields_and_no_others(tmp_path: Path) -> None:
    name = spec_with(tmp_path, "  from: file\n  path: widgets/__init__.py",
                     "  from: command\n  path: widgets/__init__.py")
    assert problems(name) == [
        "w.yaml:10: version: from: command needs 'command'",
        "w.yaml:12: version.path: 'path' is not used with from: command (only with from: file)"]


def test_a_fixed_version_without_a_value_is_reported(tmp_path: Path) -> None:
    name = spec_with(tmp_path, "  from: file\n  path: widgets/__init__.py\n", "  from: fixed\n\n")
    assert problems(name) == [
        "w.yaml:10: version: from: fixed needs 'value'",
        "w.yaml:13: version.pattern: 'pattern' is not used with from: fixed (only with from: "
        "file or command or git-describe)"]


def test_an_invalid_version_specifier_is_reported(tmp_path: Path) -> None:
    name = spec_with(tmp_path, '  - versions: ">=2.0"', '  - versions: "=>2.0"')
    assert problems(name) == ["w.yaml:18: environments[1].versions: not a PEP 440 version "
                              "specifier set (got '=>2.0'); write e.g. '>=2.0,<3'"]


def test_overlapping_environments_name_both_and_a_version_they_share(tmp_path: Path) -> None:
    name = spec_with(tmp_path, '  - versions: ">=2.0"', '  - versions: ">=1.5"')
    assert problems(name) == ["w.yaml:18: environments[1].versions: overlaps environments[0] "
                              "(w.yaml:15): both serve version 1.5"]


def test_a_gap_between_environments_names_an_uncovered_version(tmp_path: Path) -> None:
    name = spec_with(tmp_path, '  - versions: ">=2.0"', '  - versions: ">=2.1"')
    assert problems(name) == ["w.yaml:14: environments: no environment serves version 2.0, "
                              "though versions below and above it are served (close the gap "
                              "between the version ranges)"]


def test_an_environment_for_every_version_must_be_the_only_one(tmp_path: Path) -> None:
    name = spec_with(tmp_path, '  - versions: "<2.0"\n', "  - versions: ''\n")
    assert problems(name) == ["w.yaml:15: environments[0].versions: empty, so it serves every "
                              "version; then it must be the only environment (give it a range "
                              "like '>=2.0')"]


def test_a_python_without_a_base_image_says_how_to_provide_one(tmp_path: Path) -> None:
    name = spec_with(tmp_path, '    python: "3.9"', '    python: "3.10"')
    assert problems(name) == ['w.yaml:16: environments[0].python: no base image for Python '
                              '"3.10": images exist for 3.9, 3.11, 3.13; set '
                              'environments[0].base_image, or build.base_images["3.10"] (such '
                              'as python:3.10-slim where a registry is reachable; once for all '
                              'specs in a shared file they extend)']
    spec_with(tmp_path, '    python: "3.9"', '    python: "3.10"\n    base_image: my/py:3.10')
    assert load_specs(["w.yaml"])[0].environments[0].base_image == "my/py:3.10"
    write(tmp_path, "w.yaml", VALID.replace('"3.9"', '"3.10"') +
          'build:\n  base_images: {"3.10": my/py:3.10}\n')
    assert load_specs(["w.yaml"])[0].build.base_images == {"3.10": "my/py:3.10"}


def test_an_unknown_parser_lists_the_registered_ones(tmp_path: Path) -> None:
    name = spec_with(tmp_path, "  parser: pytest", "  parser: pytst")
    [problem] = problems(name)
    assert problem.startswith("w.yaml:8: tests.parser: unknown parser 'pytst' (did you mean "
                              "'pytest'?); known parsers: ")
    assert "unittest" in problem and "django" in problem


def test_a_source_needs_exactly_one_kind(tmp_path: Path) -> None:
    name = spec_with(tmp_path, "  git: {branch: main}", "  git: {branch: main}\n  jsonl: p.jsonl")
    assert problems(name) == ["w.yaml:5: source.jsonl: set only one of git, jsonl, instances or "
                              "github; found git (w.yaml:4) and jsonl (w.yaml:5)"]
    spec_with(tmp_path, "  git: {branch: main}", "")
    assert problems("w.yaml") == ["w.yaml:2: source: set one of git, jsonl, instances or github "
                                  "(where pull requests come from)"]


def test_a_local_source_needs_a_clone(tmp_path: Path) -> None:
    name = spec_with(tmp_path, "  clone: ../widgets.bundle\n", "")
    assert problems(name) == ["w.yaml:2: source: missing 'clone' (a local clone or git bundle "
                              "of the repository, relative to the spec file); a git source "
                              "needs one"]


def test_an_instance_override_must_belong_to_this_repository(tmp_path: Path) -> None:
    name = spec_with(tmp_path, "  acme__widgets-7: {skip: flaky}",
                     "  other__repo-7: {skip: flaky}\n  acme__widgets-8: {version: '9'}")
    assert problems(name) == [
        "w.yaml:22: instances.other__repo-7: not an instance id of acme/widgets (expected "
        "acme__widgets-<pull number>)"]


def test_an_instance_version_no_environment_serves_is_reported(tmp_path: Path) -> None:
    text = VALID.replace('">=2.0"', '">=2.0,<3"').replace("{skip: flaky}", "{version: '9'}")
    write(tmp_path, "w.yaml", text)
    assert problems("w.yaml") == [
        "w.yaml:22: instances.acme__widgets-7.version: no environment serves version 9"]


def test_the_same_repository_in_two_specs_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "specs/a.yaml", VALID)
    write(tmp_path, "specs/b.yaml", VALID)
    assert problems("specs") == ["specs/b.yaml:1: repo: acme/widgets is also specified in "
                                 "specs/a.yaml; one spec per repository"]


# ---- extends -----------------------------------------------------------------------------

def test_extends_of_a_missing_file_or_unknown_builtin_is_reported(tmp_path: Path) -> None:
    name = spec_with(tmp_path, "repo: acme/widgets",
                     "extends: [_nope.yaml, swegc:pytst]\nrepo: acme/widgets")
    found = problems(name)
    assert found[0] == "w.yaml:1: extends: no such file '_nope.yaml' (looked for _nope.yaml)"
    assert found[1].startswith("w.yaml:1: extends: no built-in defaults 'swegc:pytst' (did you "
                               "mean 'swegc:pytest'?); built-in: swegc:pytest")


def test_an_extends_cycle_is_reported(tmp_path: Path) -> None:
    write(tmp_path, "_a.yaml", "extends: _b.yaml\n")
    write(tmp_path, "_b.yaml", "tests: {runs: 3}\nextends: _a.yaml\n")
    spec_with(tmp_path, "repo: acme/widgets", "extends: _a.yaml\nrepo: acme/widgets")
    assert problems("w.yaml") == ["_b.yaml:2: extends: cycle _a.yaml -> _b.yaml -> _a.yaml"]


def test_a_problem_in_an_extended_file_points_into_that_file(tmp_path: Path) -> None:
    write(tmp_path, "_shared.yaml", "# shared\ntests:\n  timeout: soon\n  runz: 3\n")
    spec_with(tmp_path, "repo: acme/widgets", "extends: _shared.yaml\nrepo: acme/widgets")
    assert problems("w.yaml") == [
        "_shared.yaml:3: tests.timeout: expected a whole number (got 'soon')",
        "_shared.yaml:4: tests: unknown key 'runz' (did you mean 'runs'?)"]


# ---- all together ------------------------------------------------------------------------

def test_problems_in_several_files_are_all_reported_at_once(tmp_path: Path) -> None:
    write(tmp_path, "specs/a.yaml", VALID.replace("  parser: pytest", "  parser: nope"))
    write(tmp_path, "specs/b.yaml", VALID.replace("acme/widgets", "acme/b")
          .replace("acme__widgets", "acme__b").replace('"3.11"', "3.11")
          .replace("  command: pytest -rA", "  command: pytest )"))
    write(tmp_path, "specs/c.yaml", "repo: [\n")
    with pytest.raises(SpecError) as info:
        load_specs(["specs", "missing"])
    text = str(info.value)
    assert text.startswith("5 problems in specs:\n")
    wheres = [p.where for p in info.value.problems]
    assert wheres == ["missing", "specs/a.yaml:8", "specs/b.yaml:7", "specs/b.yaml:19",
                      "specs/c.yaml:2"]


def test_a_version_command_needs_a_base_image_for_its_python(tmp_path: Path) -> None:
    name = spec_with(tmp_path, "  from: file\n  path: widgets/__init__.py",
                     "  from: command\n  command: python setup.py --version\n  python: '3.7'")
    assert problems(name) == [
        'w.yaml:13: version.python: no base image for Python "3.7" to run the version command: '
        'images exist for 3.9, 3.11, 3.13; add build.base_images["3.7"]']


def test_a_yaml_alias_bomb_is_refused_quickly_with_its_line(tmp_path: Path) -> None:
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(8):
        prev, name = chr(97 + i), chr(98 + i)
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    (tmp_path / "bomb.yaml").write_text("\n".join(lines) + "\n")
    start = time.monotonic()
    [problem] = problems("bomb.yaml")
    assert time.monotonic() - start < 1.0
    assert problem.startswith("bomb.yaml:") and "alias bomb" in problem
