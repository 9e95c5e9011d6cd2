"""A row's ``eval_script``: the bash script that SWE-bench 5.x and SkyRL run to grade a patch.

Those harnesses start a container of the instance image, apply a candidate patch in
``/testbed``, run the script, and then either read its log with the row's ``log_parser``
(SWE-bench 5.x) or take its exit status as the verdict (SkyRL, rLLM). So the script must be
right both ways: it exits 0 only when the instance is resolved (every FAIL_TO_PASS and
PASS_TO_PASS test passes), and its log, read by SWE-bench's parser, says the same.

What the script does, in order:

1. puts back what the candidate may not change (``protected_files.py``, the one rule set,
   which ``swegc evaluate`` runs too through ``guard.put_back``): test files, test
   infrastructure, the test-runner part of packaging files and every file the test_patch
   touches, as at ``base_commit``; then puts in the gold patch's own version of the files those
   rules guard, so every candidate has the test infrastructure its reference fix had;
2. applies the test_patch;
3. runs the row's ``test_prepare`` commands, if any (a failure: not resolved), then
   ``test_command`` (directives included) between SWE-bench's start and end markers,
   with pytest writing junit XML to a folder made for this run;
   for pytest, unittest and Django's runner, with the run's guard (``pytest_guard.py``, or
   ``unittest_guard.py`` loaded at start-up) loaded first under a name, in a folder and with a
   key the script draws at run time;
4. judges (``eval_judge.py``) from a channel the tested code does not print into (junit XML,
   or the runner's own summary checked against its exit code) and from the guard's results
   (a tampered run is not resolved), prints the statuses last in the line
   style of the row's SWE-bench parser, and exits 0 only when resolved.

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

from swegc.runtime.harness.guard import Protected
from swegc.runtime.harness.parser_names import swebench_parser, swegc_parser
from swegc.runtime.harness.tamper import (GUARD_SOURCES, RESULT_NAME, RUNNER_OF_PARSER, site_hook,
                                          site_unhook, start_up_hook)
from swegc.runtime.harness.test_spec import patch_paths
from swegc.test_settings import RowColumns

START_MARKER = ">>>>> Start Test Output"
END_MARKER = ">>>>> End Test Output"
# Lines SWE-bench 5.x drops from an eval_script wherever they are (it re-adds them on top).
_STRIPPED_BY_SWEBENCH = ("#!/bin/bash", "set -uxo pipefail")
_HERE = Path(__file__).resolve().parent


def protected_of(row: Mapping[str, Any]) -> Protected:
    """What the row's eval_script protects: its test_patch's files, its graded tests' files,
    its test globs, and its own fix (whose test infrastructure every candidate gets). Lists are
    read as every row column is (``RowColumns``: also JSON text, nesting bounded, a bad value
    named with its instance and column)."""
    iid = str(row.get("instance_id", "row"))
    get = RowColumns(row, iid)
    return Protected(base_commit=str(row["base_commit"]),
                     test_files=patch_paths(str(row.get("test_patch") or ""), iid),
                     test_ids=(*get.strings("FAIL_TO_PASS"), *get.strings("PASS_TO_PASS")),
                     test_globs=get.strings("test_file_globs", default=()),
                     gold_patch=str(row.get("patch") or ""))


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


def _embedded(name: str) -> str:
    """A helper script's source without its module docstring (which swegc's source keeps)."""
    source = (_HERE / name).read_text(encoding="utf-8")
    if source.startswith('"""'):
        source = source.split('"""', 2)[2].lstrip("\n")
    return f"# swegc's runtime/harness/{name} (its docstring there says what it does)\n{source}"


def _guard_lines(runner: str) -> list[str]:
    """Bash that writes the run's guard (``pytest_guard.py``, or ``unittest_guard.py`` and the
    ``sitecustomize.py`` that loads it) under a random module name in a fresh folder, with a
    random key, and loads it first; the names are drawn when the script runs, so that a
    published script tells the code under test nothing."""
    random = "$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \\n')"
    template = GUARD_SOURCES[runner].read_text(encoding="utf-8")
    lines = [
        f"# 3a. The run's guard ({GUARD_SOURCES[runner].name}), loaded before the code under "
        "test, its name,",
        "#     folder and key drawn now; it records each test's outcome from the call itself.",
        'swegc_guard=$(mktemp -d)',
        f'swegc_name="_{random}"',
        f'swegc_key="{random}"',
        _heredoc(f'sed -e "s|@RESULT_PATH@|$swegc_guard/{RESULT_NAME}|" -e "s|@KEY@|$swegc_key|" '
                 '-e "s|@PLUGIN_ARG@|-p $swegc_name|" > "$swegc_guard/$swegc_name.py"', template,
                 "GUARD"),
        'export PYTHONPATH="$swegc_guard${PYTHONPATH:+:$PYTHONPATH}"',
    ]
    if runner == "pytest":
        lines.append('export PYTEST_ADDOPTS="-p $swegc_name $PYTEST_ADDOPTS"')
    else:
        lines.append(_heredoc('sed -e "s|@NAME@|$swegc_name|g" > "$swegc_guard/sitecustomize.py"',
                              start_up_hook("@NAME@"), "HOOK"))
    return [*lines, "# 3b. Its folder on sys.path also from site-packages, for a command that sets PYTHONPATH.",
            site_hook("$swegc_guard", "$swegc_name", runner)]


def eval_script(row: Mapping[str, Any]) -> str:
    """The bash script that grades the patch already applied in ``/testbed`` (exit 0 = resolved)."""
    parser, options = swegc_parser(row)
    protected = protected_of(row)
    reference = protected.reference_diff()
    expected = {"parser": parser, "parser_options": options,
                "line_style": "django" if swebench_parser(row) == "parse_log_django" else "pytest",
                "FAIL_TO_PASS": list(row["FAIL_TO_PASS"]), "PASS_TO_PASS": list(row["PASS_TO_PASS"])}
    rules, judge = _embedded("protected_files.py"), _embedded("eval_judge.py")
    runner = RUNNER_OF_PARSER.get(parser)
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
        "# 1. What the patch may not change (tests, test infrastructure): back to base_commit;",
        "#    then the reference fix's own version of those files, where it changes any.",
    ]
    put_back = f"python3 -I -S - {q(protected.settings_json())}"
    if reference:
        lines.append(_heredoc('cat > "$swegc_tmp/reference.diff"', reference, "REFERENCE"))
        put_back += ' "$swegc_tmp/reference.diff"'
    lines += [
        _heredoc(put_back, rules, "PUT_BACK",
                 " || { echo 'swegc-eval: could not put back the test files'; exit 1; }"),
    ]
    if str(row["test_patch"]).strip():
        lines += ["# 2. The test_patch.",
                  _heredoc("git apply --verbose -", str(row["test_patch"]), "TEST_PATCH",
                           " || { echo 'swegc-eval: the test_patch does not apply'; exit 1; }")]
    else:  # a synthetic task: its tests are already in the tree
        lines.append("# 2. No test_patch: the tests are in the tree as it is.")
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
        *(_guard_lines(runner) if runner else []),
        f"echo '{START_MARKER}'",
        "{", str(row["test_command"]), '} 2>&1 | tee "$swegc_tmp/test.log"',
        "swegc_exit=${PIPESTATUS[0]}",
        "# 4. The verdict, from the runner's own result (and the guard's), never from printed lines.",
        _heredoc('python3 -I -S - "$swegc_tmp" "$swegc_exit"'
                 + (f' "$swegc_guard/{RESULT_NAME}" "$swegc_key"' if runner else ""), judge,
                 "JUDGE"),
        "swegc_verdict=$?",
        'test "$swegc_verdict" = 0',
        f"echo '{END_MARKER}'",
        *([site_unhook("$swegc_guard")] if runner else []),
        'rm -rf "$swegc_tmp"' + (' "$swegc_guard"' if runner else ""),
        'exit "$swegc_verdict"',
    ]
    return "\n".join(lines) + "\n"
