"""The one rule set of what a patch under test may not change, and how it is put back.

A patch is graded by the instance's tests, so what decides how those tests run is not the
patch's to change. Both graders run this one program, in ``/testbed`` after the candidate patch
was applied and before the test_patch: ``swegc evaluate`` and rollouts through
``guard.put_back`` (which writes it into the sandbox and reads the paths it reports), and the
row's ``eval_script`` (which embeds it) under SWE-bench 5.x, SkyRL and the like. It decides from
the files in ``/testbed`` alone, never from the patch text (the eval_script never sees it), so
both graders put back the same files. Standard library only, any Python 3 from 3.6 on (the
image's own ``python3``, which may be an old project's), run with
``python3 -I -S``: nothing the repository under test ships is imported.

What is put back (reset to ``base_commit``, or removed when ``base_commit`` lacks it) when it
differs from ``base_commit``, each named on a report line:

- ``.gitignore`` files, first: an added ignore rule cannot hide an added file from the rest;
- the files the test_patch touches (reset silently when the patch left them alone), the files
  of the graded tests (``FAIL_TO_PASS``/``PASS_TO_PASS`` ids), files named like tests
  (``test_*.py``, ``*_test.py``, ``tests.py``) and files matching the spec's test globs
  (``tests.files``, gitignore style);
- pytest's hooks and settings (``conftest.py``, ``pytest.ini``, ``.pytest.ini``,
  ``pytest.toml``, ``.pytest.toml``) and Python's start-up hooks (``sitecustomize.py``,
  ``usercustomize.py``, ``*.pth``);
- ``setup.cfg``, ``tox.ini`` and ``pyproject.toml``, whole, but only when their test-runner part
  changed: a section whose header names pytest (``[tool:pytest]``, ``[pytest]``,
  ``[tool.pytest.ini_options]``, ``[project.entry-points.pytest11]``) or, elsewhere, an entry
  that names ``pytest11`` (the entry-point group pytest loads plugins from). A fix's packaging
  change (a dependency line, another entry point, a version) survives when that part did not
  change. A file whose runner part changed goes back whole, packaging changes in it included:
  splicing one section back into a TOML or INI file could leave a file no tool reads;
- bytecode and compiled modules, which can be imported instead of their sources (``*.pyc``,
  ``*.pyo``, ``*.so``, ``*.pyd``, ``*.dylib``), ``*.egg-link``, installed metadata
  (``*.egg-info``/``*.dist-info``), caches (``__pycache__``, ``.pytest_cache``) and modules named
  like the test runner at the top of the repository (``pytest.py``, ``py.py``, ``_pytest/``,
  ``pytest/``, ``pluggy/``, which ``python -m pytest`` would import instead of the real ones).

What counts as changed: a tracked file that differs from ``base_commit`` (or is gone), and an
untracked file that neither ``base_commit``'s ignore rules nor the image's own record of what
its install left (``.git/info/exclude``, written when the image was sealed) hide. Untracked
bytecode and pytest caches are removed wherever they are, hidden or not (a cache: removing
one never changes a result). Other hidden untracked files (a C extension built in place, an
egg-info folder) are left as they are by both graders: nothing records what the image had
there, and an agent's own rebuild of them must survive.

The reference fix (the row's ``patch``): its test infrastructure (every guarded kind above but
test files) is put in as it has it, after the candidate's was put back (a candidate's file that
already is the fix's version is left, and not named), so that every candidate is judged with the same test infrastructure as the fix it is compared with (a fix that needs a
conftest change, or a new pytest setting, keeps it). Only a packaging file whose runner part
the fix changes counts, so its dependency line is not handed to every candidate; nor is a
test-named file of the fix's (the test_patch holds its tests): that would hand out the fix.

Usage: python3 -I -S protected_files.py SETTINGS_JSON [REFERENCE_DIFF]
SETTINGS_JSON: {"base": commit, "test_files": [...], "test_id_files": [...], "test_globs": [...]};
REFERENCE_DIFF: the reference fix's diff for the files these rules may guard (``by_name``).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Set

REPORT_PREFIX = "swegc-eval: "
REPORT_MARK = " changed by the patch, reset: "
WHOLE_FILES = frozenset({"conftest.py", "pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml",
                         "sitecustomize.py", "usercustomize.py"})
PACKAGING_FILES = frozenset({"setup.cfg", "tox.ini", "pyproject.toml"})
COMPILED_SUFFIXES = (".pth", ".pyc", ".pyo", ".so", ".pyd", ".dylib", ".egg-link")
# At the top only: there they shadow the runner when the working folder is on sys.path
# (``python -m pytest``); deeper (pytest's own src/_pytest) they are ordinary code.
TOP_LEVEL_RUNNER = re.compile(r"^(pytest\.py|py\.py|_pytest/|pytest/|pluggy/)")
METADATA_OR_CACHE = re.compile(r"(^|/)(__pycache__|\.pytest_cache)/|"
                               r"(^|/)[^/]+\.(egg-info|dist-info)(/|$)")
TEST_NAME = re.compile(r"^(test_.*\.py|.*_test\.py|tests\.py)$")
RUNNER_ENTRY_GROUP = "pytest11"
TOML_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})")


class Settings:
    """What the rules need to know of one instance (SETTINGS_JSON)."""

    def __init__(self, data: dict) -> None:
        self.base = str(data["base"])
        self.test_files = frozenset(data.get("test_files") or ())
        self.test_id_files = frozenset(data.get("test_id_files") or ())
        self.test_globs = list(data.get("test_globs") or ())


def by_name(path: str, settings: Optional["Settings"] = None) -> Optional[str]:
    """Why ``path`` is guarded whatever its content, ``"packaging"`` when that depends on its
    test-runner part (``runner_part``), or None: not the rules' business."""
    path = path[2:] if path.startswith("./") else path
    name = path.rsplit("/", 1)[-1]
    if settings is not None and (path in settings.test_files or path in settings.test_id_files
                                 or is_test_file(path, settings.test_globs)):
        return "test file"
    if name == ".gitignore":
        return "test infrastructure"
    if name in PACKAGING_FILES:
        return "packaging"
    if (name in WHOLE_FILES or name.endswith(COMPILED_SUFFIXES) or METADATA_OR_CACHE.search(path)
            or TOP_LEVEL_RUNNER.match(path)):
        return "test infrastructure"
    if TEST_NAME.match(name):
        return "test file"
    return None


def runner_part(text: bytes) -> List[str]:
    """The lines of a setup.cfg, tox.ini or pyproject.toml that decide how pytest runs.

    Sections whose header names pytest, whole; elsewhere each entry (a line at the margin with
    the indented lines continuing it) that names the ``pytest11`` entry-point group. TOML's
    ``\\u`` escapes are read first, so a key cannot spell those names in escapes.
    """
    decoded = TOML_ESCAPE.sub(unescaped, text.decode("utf-8", "replace"))
    kept = []  # type: List[str]
    header, in_runner = "", False
    entry = []  # type: List[str]

    def close_entry() -> None:
        if entry and any(RUNNER_ENTRY_GROUP in line for line in entry):
            kept.extend([header] + entry)

    for line in decoded.splitlines():
        stripped = line.strip()
        # An indented "[" line inside a pytest section may continue an INI value: it stays in
        # the section unless it names pytest itself.
        if stripped.startswith("[") and (not in_runner or not line[:1].isspace()
                                         or "pytest" in stripped.lower()):
            close_entry()
            entry = []
            header, in_runner = stripped, "pytest" in stripped.lower()
            if in_runner:
                kept.append(stripped)
            continue
        if in_runner:
            kept.append(line.rstrip())
        elif line[:1].isspace() and entry:
            entry.append(line.rstrip())
        else:
            close_entry()
            entry = [line.rstrip()] if stripped else []
    close_entry()
    return kept


def unescaped(match: "re.Match[str]") -> str:
    """A TOML ``\\uXXXX``/``\\UXXXXXXXX`` escape as its character (left as it is when it
    names no character: the file is then no TOML any tool reads)."""
    code = int(match.group(1) or match.group(2), 16)
    return chr(code) if code <= sys.maxunicode else match.group(0)


def glob_regex(glob: str) -> "re.Pattern[str]":
    """A gitignore-style glob as a regex over repository paths (a folder matches what it holds)."""
    body = glob.strip("/")
    out, i = "", 0
    while i < len(body):
        if body.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif body.startswith("**", i):
            out, i = out + ".*", i + 2
        elif body[i] in "*?":
            out, i = out + ("[^/]*" if body[i] == "*" else "[^/]"), i + 1
        else:
            out, i = out + re.escape(body[i]), i + 1
    return re.compile(("" if "/" in body else "(?:.*/)?") + out + "(?:/.*)?$")


def is_test_file(path: str, globs: List[str]) -> bool:
    """gitignore rules: the last glob that matches decides; ``!glob`` takes a path back out."""
    verdict = False
    for glob in globs:
        if glob_regex(glob.lstrip("!")).match(path):
            verdict = not glob.startswith("!")
    return verdict


def graded_test_files(test_ids: List[str]) -> Set[str]:
    """Files named by pytest-style test ids (``tests/t.py::test_x`` -> ``tests/t.py``)."""
    return {test.split("::", 1)[0] for test in test_ids if "::" in test
            and test.split("::", 1)[0].endswith(".py")}


def report_line(kind: str, path: str) -> str:
    """The line naming a path the patch changed that was put back (``reported_paths`` reads it);
    a path with a line break or a quote is written as JSON."""
    shown = json.dumps(path) if ("\n" in path or path.startswith('"')) else path
    return REPORT_PREFIX + kind + REPORT_MARK + shown


def reported_paths(output: str) -> List[str]:
    """The paths named by ``report_line`` lines in the program's output, in order."""
    paths = []  # type: List[str]
    for line in output.splitlines():
        if line.startswith(REPORT_PREFIX) and REPORT_MARK in line:
            shown = line.split(REPORT_MARK, 1)[1]
            path = json.loads(shown) if shown.startswith('"') else shown
            if path not in paths:
                paths.append(path)
    return paths


# -- in /testbed --------------------------------------------------------------------------------

def git(*args: str, env: Optional[Dict[str, str]] = None) -> bytes:
    return subprocess.run(("git",) + args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          env=env).stdout


def paths_of(listing: bytes) -> List[str]:
    return sorted({os.fsdecode(raw) for raw in listing.split(b"\0") if raw})


def at_commit(commit: str, path: str) -> Optional[bytes]:
    """``path``'s bytes at ``commit``, or None when it has no such file."""
    found = subprocess.run(["git", "cat-file", "-e", "%s:%s" % (commit, path)],
                           stderr=subprocess.DEVNULL).returncode == 0
    return git("show", "%s:%s" % (commit, path)) if found else None


def in_worktree(path: str) -> Optional[bytes]:
    """``path``'s bytes; empty when it is gone; None when it is not a plain file (a link)."""
    if not os.path.lexists(path):
        return b""
    if os.path.islink(path) or not os.path.isfile(path):
        return None
    with open(path, "rb") as handle:
        return handle.read()


def reset(base: str, path: str) -> None:
    """``path`` as ``base`` has it, or gone when ``base`` does not have it."""
    if at_commit(base, path) is not None:
        remove(path)
        subprocess.run(["git", "checkout", "-q", base, "--", path], check=True)
    else:
        remove(path)


def remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


def guarded(path: str, settings: "Settings", old: Optional[bytes],
            new: Optional[bytes]) -> Optional[str]:
    """Why a change of ``path`` from ``old`` (None: absent) to ``new`` (None: a link, whose
    target nobody checked) is put back, or None."""
    kind = by_name(path, settings)
    if kind == "packaging":
        changed = new is None or runner_part(old or b"") != runner_part(new)
        return "test infrastructure" if changed else None
    return kind


class Reference:
    """The reference fix's test infrastructure: its version of each file these rules guard
    (every guarded kind but test files; None where it deletes the file), staged in an index of
    its own so that files go in with their modes."""

    def __init__(self, settings: Settings, diff_path: Optional[str], folder: str) -> None:
        self.env = dict(os.environ, GIT_INDEX_FILE=os.path.join(folder, "index"))
        self.versions = {}  # type: Dict[str, Optional[bytes]]
        if not diff_path or not os.path.getsize(diff_path):
            return
        subprocess.run(["git", "read-tree", settings.base], env=self.env, check=True)
        applied = subprocess.run(["git", "apply", "--cached", diff_path], env=self.env,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if applied.returncode != 0:
            sys.stderr.write("swegc-eval: the reference fix's test infrastructure does not apply "
                             "to the base commit: %s\n" % applied.stdout.decode("utf-8", "replace"))
            sys.exit(1)
        for path in paths_of(git("diff", "--cached", "--name-only", "--no-renames", "-z",
                                 settings.base, env=self.env)):
            if path in settings.test_files:
                continue  # the test_patch's file: the test_patch puts it in
            staged = subprocess.run(["git", "cat-file", "-e", ":%s" % path], env=self.env,
                                    stderr=subprocess.DEVNULL).returncode == 0
            new = git("show", ":%s" % path, env=self.env) if staged else None
            # A test-named file of the fix's own (a source module named like a test) is not
            # handed to every candidate: that would hand out part of the fix.
            if guarded(path, settings, at_commit(settings.base, path), new or b"") \
                    == "test infrastructure":
                self.versions[path] = new

    def holds(self, path: str) -> bool:
        """Whether ``path`` in the worktree is the reference's own version of it."""
        if path not in self.versions:
            return False
        want = self.versions[path]
        if want is None:
            return not os.path.lexists(path)
        return in_worktree(path) == want

    def put_in(self) -> None:
        for path in sorted(self.versions):
            if self.holds(path):
                continue
            remove(path)
            if self.versions[path] is not None:
                subprocess.run(["git", "checkout-index", "-f", "--", path], env=self.env,
                               check=True)
            print("swegc-eval: the reference fix's test infrastructure, put in: " + path)


def put_back(settings: Settings, reference: Reference) -> None:
    """Every guarded file the patch changed, back to the base commit, named on a report line;
    a file that is already the reference fix's version of it stays."""
    base = settings.base
    for path in paths_of(git("diff", "--name-only", "--no-renames", "-z", base, "--")
                         + git("ls-files", "--others", "-z", "--", "*.gitignore")):
        if path.rsplit("/", 1)[-1] == ".gitignore" and not reference.holds(path):
            print(report_line("test infrastructure", path))
            reset(base, path)
    changed = paths_of(git("diff", "--name-only", "--no-renames", "-z", base, "--")
                       + git("ls-files", "--others", "--exclude-standard", "-z"))
    for path in changed:
        kind = guarded(path, settings, at_commit(base, path), in_worktree(path))
        if kind and not reference.holds(path):
            print(report_line(kind, path))
            reset(base, path)
    for path in sorted(settings.test_files - set(changed)):
        reset(base, path)  # unchanged by the patch: a no-op unless the image differs
    caches = paths_of(git("ls-files", "--others", "-z", "--", "*.pyc", "*.pyo", "*.pytest_cache/*"))
    for path in caches:
        remove(path)
    if caches:
        print("swegc-eval: %d untracked bytecode or pytest cache files removed" % len(caches))


def main() -> int:
    settings = Settings(json.loads(sys.argv[1]))
    with tempfile.TemporaryDirectory(prefix="swegc-reference-") as folder:
        reference = Reference(settings, sys.argv[2] if len(sys.argv) > 2 else None, folder)
        put_back(settings, reference)
        reference.put_in()
    return 0


if __name__ == "__main__":
    sys.exit(main())
