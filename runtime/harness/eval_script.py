"""A row's ``eval_script``: the bash script that SWE-bench 5.x and SkyRL run to grade a patch.

Those harnesses start a container of the instance image, apply a candidate patch in
``/testbed``, run the script, and then either read its log with the row's ``log_parser``
(SWE-bench 5.x) or take its exit status as the verdict (SkyRL, rLLM). So the script must be
right both ways: it exits 0 only when the instance is resolved (every FAIL_TO_PASS and
PASS_TO_PASS test passes), and its log, read by SWE-bench's parser, says the same.

What the script does, in order:

1. resets the test infrastructure the candidate changed (``eval_reset.py``: conftest files,
   pytest settings, sitecustomize/usercustomize, .pth, bytecode) to ``base_commit``, and the
   test files too when the row has ``test_file_globs`` (the spec's ``tests.files``);
2. resets every file the test_patch touches to ``base_commit`` (deleting the files it creates),
   then applies the test_patch, and the gold patch's part for infrastructure files if any;
3. runs the row's ``test_prepare`` commands, if any (a failure: not resolved), then
   ``test_command`` (directives included) between SWE-bench's start and end markers,
   with pytest writing junit XML to a folder made for this run;
4. judges (``eval_judge.py``) from a channel the tested code does not print into (junit XML,
   or the runner's own summary checked against its exit code), prints the statuses last in
   the line style of the row's SWE-bench parser, and exits 0 only when resolved.

The script runs under SWE-bench 5.x's ``set -uxo pipefail`` (5.x strips and re-adds that
header). The line just before the end marker is the verdict's test (``test "$v" = 0``), so that
the exit code 5.x records after that marker is the verdict too. The embedded text never
contains 5.x's end marker, so 5.x's rewrite of the script finds only ours.
"""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path
from typing import Any, Mapping

from swegc.errors import InputError

START_MARKER = ">>>>> Start Test Output"
END_MARKER = ">>>>> End Test Output"
# Lines SWE-bench 5.x drops from an eval_script wherever they are (it re-adds them on top).
_STRIPPED_BY_SWEBENCH = ("#!/bin/bash", "set -uxo pipefail")
_HERE = Path(__file__).resolve().parent
PROTECTED_NAMES = frozenset({"conftest.py", "pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml",
                             "sitecustomize.py", "usercustomize.py", "setup.cfg", "tox.ini",
                             "pyproject.toml", ".gitignore"})


def swegc_parser(row: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """swegc's parser name and options of a row, before or after ``peer_columns`` was merged."""
    name = row.get("swegc_log_parser") or row.get("log_parser")
    if not name or str(name).startswith("parse_log_"):
        raise InputError(f"{row.get('instance_id', '?')}: the row names no swegc log parser "
                         "(swegc_log_parser); rows compiled by swegc have one")
    options = row.get("swegc_parser_options", row.get("parser_options"))
    if isinstance(options, str):
        options = json.loads(options) if options else None
    if name == "regex" and not (options and options.get("pattern")):
        raise InputError(f"{row.get('instance_id', '?')}: a regex-parsed row needs "
                         "swegc_parser_options with a 'pattern'")
    return str(name), options


def _heredoc(command: str, content: str, tag: str, then: str = "") -> str:
    """``command`` fed ``content`` on stdin, ``then`` after it on the same line (``|| ...``).

    The text goes in as it is, or base64-encoded when it could upset the script's readers (a
    line SWE-bench 5.x strips, its end marker, the delimiter itself).
    """
    delimiter = f"SWEGC_{tag}_{hashlib.sha256(content.encode()).hexdigest()[:12]}"
    lines = content.split("\n")
    risky = (delimiter in lines or END_MARKER in content
             or any(line in _STRIPPED_BY_SWEBENCH for line in lines))
    if risky:
        import base64

        encoded = base64.encodebytes(content.encode("utf-8")).decode("ascii")
        return f"base64 -d <<'{delimiter}' | {command}{then}\n{encoded}{delimiter}"
    body = content if content.endswith("\n") else content + "\n"
    return f"{command} <<'{delimiter}'{then}\n{body}{delimiter}"


def _touched(patch: str) -> tuple[list[str], list[str]]:
    """(paths the patch changes that exist before it, paths it creates), from its diff headers."""
    from unidiff import PatchSet

    existing: list[str] = []
    created: list[str] = []
    for patched in PatchSet(patch):
        source = patched.source_file[2:] if patched.source_file.startswith("a/") else None
        target = patched.target_file[2:] if patched.target_file.startswith("b/") else None
        if patched.is_added_file:
            created.append(patched.path)
            continue
        if source:
            existing.append(source)
        if target and target != source:
            created.append(target)  # a rename's new name
    return sorted(set(existing)), sorted(set(created) - set(existing))


def _infrastructure_part(patch: str) -> tuple[str, list[str]]:
    """The gold patch's diff for infrastructure files (``PROTECTED_NAMES``, ``*.pth``), and their paths."""
    from unidiff import PatchSet

    parts, paths = [], []
    for patched in PatchSet(patch):
        name = patched.path.rsplit("/", 1)[-1]
        if name in PROTECTED_NAMES or name.endswith(".pth"):
            parts.append(str(patched))
            paths.append(patched.path)
    return "".join(parts), paths


def _embedded(name: str) -> str:
    """A helper script's source without its module docstring (which swegc's source keeps)."""
    source = (_HERE / name).read_text(encoding="utf-8")
    if source.startswith('"""'):
        source = source.split('"""', 2)[2].lstrip("\n")
    return f"# swegc's runtime/harness/{name} (its docstring there says what it does)\n{source}"


def eval_script(row: Mapping[str, Any]) -> str:
    """The bash script that grades the patch already applied in ``/testbed`` (exit 0 = resolved)."""
    from swegc.runtime.harness.peer_columns import swebench_parser

    parser, options = swegc_parser(row)
    base = str(row["base_commit"])
    existing, created = _touched(str(row["test_patch"]))
    gold_part, gold_paths = _infrastructure_part(str(row.get("patch") or ""))
    test_globs = [str(glob) for glob in row.get("test_file_globs") or []]
    expected = {"parser": parser, "parser_options": options,
                "line_style": "django" if swebench_parser(row) == "parse_log_django" else "pytest",
                "FAIL_TO_PASS": list(row["FAIL_TO_PASS"]), "PASS_TO_PASS": list(row["PASS_TO_PASS"])}
    reset, judge = _embedded("eval_reset.py"), _embedded("eval_judge.py")
    q = shlex.quote
    lines = [
        "#!/bin/bash",
        "set -uxo pipefail",
        f"# swegc eval_script for {row.get('instance_id', '?')}: exits 0 only when the instance is resolved.",
        "# Run it in /testbed of the instance image after applying a candidate patch.",
        "# Whatever stops this script early (an error, a cut), it exits with the verdict: 1 until judged.",
        "swegc_verdict=1",
        "trap 'exit \"$swegc_verdict\"' EXIT",
        "cd /testbed || exit 1",
        "swegc_tmp=$(mktemp -d)",
        "# 1. Test infrastructure (and test files, by the spec's globs) the patch changed: back to base_commit.",
        _heredoc(f"python3 -I -S - {q(base)} {q(json.dumps(gold_paths))} {q(json.dumps(test_globs))}",
                 reset, "RESET"),
        "# 2. The test files: back to base_commit, then the test_patch.",
    ]
    if existing:
        lines.append(f"git checkout -q {q(base)} -- {' '.join(q(p) for p in existing)}")
    if created:
        lines.append(f"rm -rf -- {' '.join(q(p) for p in created)}")
    lines.append(_heredoc("git apply --verbose -", str(row["test_patch"]), "TEST_PATCH",
                          " || { echo 'swegc-eval: the test_patch does not apply'; exit 1; }"))
    if gold_part:
        lines.append(_heredoc("git apply --verbose -", gold_part, "GOLD_INFRA",
                              " || { echo 'swegc-eval: the reference infrastructure does not apply'; exit 1; }"))
    for index, command in enumerate(row.get("test_prepare") or [], start=1):
        if index == 1:
            lines.append("# 2b. The spec's tests.prepare commands (what the patch changes the "
                         "sources of, built again); one that fails: not resolved.")
        lines += [_heredoc(f'cat > "$swegc_tmp/prepare-{index}.sh"', str(command), "PREPARE"),
                  f'(cd /testbed && bash "$swegc_tmp/prepare-{index}.sh") < /dev/null'
                  f" || {{ echo 'swegc-eval: tests.prepare command {index} failed'; exit 1; }}"]
    lines += [
        "# 3. The tests, between SWE-bench's markers; pytest writes its own junit XML.",
        _heredoc('cat > "$swegc_tmp/expected.json"', json.dumps(expected, sort_keys=True), "EXPECTED"),
        'export PYTEST_ADDOPTS="${PYTEST_ADDOPTS:-} --junitxml=$swegc_tmp/junit.xml"',
        f"echo '{START_MARKER}'",
        "{", str(row["test_command"]), '} 2>&1 | tee "$swegc_tmp/test.log"',
        "swegc_exit=${PIPESTATUS[0]}",
        "# 4. The verdict, from the runner's own result, never from printed lines.",
        _heredoc('python3 -I -S - "$swegc_tmp" "$swegc_exit"', judge, "JUDGE"),
        "swegc_verdict=$?",
        'test "$swegc_verdict" = 0',
        f"echo '{END_MARKER}'",
        'rm -rf "$swegc_tmp"',
        'exit "$swegc_verdict"',
    ]
    return "\n".join(lines) + "\n"
