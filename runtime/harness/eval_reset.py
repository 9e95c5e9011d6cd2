"""Puts back the test infrastructure a candidate patch changed; part of every ``eval_script``.

Embedded in the script (see ``eval_script.py``) and run in the repository with
``python3 -I -S``: standard library only, Python 3.9+. A patch must not be able to change how
the tests run, so every file of these kinds that differs from ``base_commit`` is reset to it, or
deleted when ``base_commit`` does not have it:

- pytest hooks and settings: ``conftest.py``, ``pytest.ini``, ``.pytest.ini``, ``pytest.toml``,
  and the pytest section of ``setup.cfg``, ``tox.ini`` and ``pyproject.toml`` (those three files
  are reset only when that section changed: they also hold packaging settings);
- what Python runs at start-up: ``sitecustomize.py``, ``usercustomize.py``, ``*.pth``;
- compiled bytecode (``*.pyc``, ``*.pyo``): an unchecked-hash .pyc is imported without its source.

The same goes for the test files themselves when the row gives the spec's test globs
(``tests.files``, gitignore style): a changed tracked file, or an untracked one git does not
ignore, that matches them (a helper module, fixture data) is reset or deleted. ``.gitignore``
files go back first, so that a patch cannot hide a file it adds from that listing.

GOLD_FILES are the infrastructure files the gold patch changes (a fix that really needs a
conftest change): they are reset too, and the script applies the gold patch's part for them
afterwards, so that every candidate is judged with the same infrastructure.

Usage: python3 -I -S eval_reset.py BASE_COMMIT GOLD_FILES_JSON TEST_GLOBS_JSON
"""

import json
import os
import re
import shutil
import subprocess
import sys

NAMES = {"conftest.py", "pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml",
         "sitecustomize.py", "usercustomize.py"}
CONFIGS = {"setup.cfg", "tox.ini", "pyproject.toml"}
SUFFIXES = (".pth", ".pyc", ".pyo")
PYTEST_HEADER = re.compile(r"^\[\s*(?:tool:pytest|pytest|tool\.pytest[\w.]*)\s*\]")


def git(*args):
    return subprocess.run(("git",) + args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL).stdout


def glob_regex(glob):
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


def is_test_file(path, globs):
    """gitignore rules: the last glob that matches decides; ``!glob`` takes a path back out."""
    verdict = False
    for glob in globs:
        if glob_regex(glob.lstrip("!")).match(path):
            verdict = not glob.startswith("!")
    return verdict


def pytest_section(text):
    """The lines of a config file's pytest section(s), headers included."""
    kept, inside = [], False
    for line in text.decode("utf-8", "replace").splitlines():
        if line.startswith("["):
            inside = PYTEST_HEADER.match(line) is not None
        if inside:
            kept.append(line.rstrip())
    return kept


def main():
    base, gold, globs = sys.argv[1], set(json.loads(sys.argv[2])), json.loads(sys.argv[3])
    listed = git("diff", "--name-only", "-z", base, "--") + git("ls-files", "--others", "-z")
    for raw in set(listed.split(b"\0")):
        if os.path.basename(os.fsdecode(raw)) == ".gitignore":
            print("swegc-eval: test infrastructure changed by the patch, reset: " + os.fsdecode(raw))
            reset(base, os.fsdecode(raw))
    changed = git("diff", "--name-only", "-z", base, "--").split(b"\0")
    unignored = git("ls-files", "--others", "--exclude-standard", "-z").split(b"\0")
    untracked = git("ls-files", "--others", "-z").split(b"\0")
    test_paths = {os.fsdecode(raw) for raw in changed + unignored if raw}
    for raw in sorted(set(changed + untracked) - {b""}):
        path = os.fsdecode(raw)
        name = os.path.basename(path)
        is_test = path in test_paths and is_test_file(path, globs)
        if not (is_test or name in NAMES or name in CONFIGS or name.endswith(SUFFIXES) or path in gold):
            continue
        at_base = subprocess.run(["git", "cat-file", "-e", "%s:%s" % (base, path)],
                                 stderr=subprocess.DEVNULL).returncode == 0
        if name in CONFIGS and path not in gold and not is_test:
            old = git("show", "%s:%s" % (base, path)) if at_base else b""
            new = open(path, "rb").read() if os.path.isfile(path) else b""
            if pytest_section(old) == pytest_section(new):
                continue
        if is_test:
            print("swegc-eval: test file changed by the patch, reset: " + path)
        elif not name.endswith((".pyc", ".pyo")):
            print("swegc-eval: test infrastructure changed by the patch, reset: " + path)
        reset(base, path, at_base)


def reset(base, path, at_base=None):
    """``path`` as ``base`` has it, or gone when ``base`` does not have it."""
    if at_base is None:
        at_base = subprocess.run(["git", "cat-file", "-e", "%s:%s" % (base, path)],
                                 stderr=subprocess.DEVNULL).returncode == 0
    if at_base:
        subprocess.run(["git", "checkout", "-q", base, "--", path], check=True)
    elif os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    elif os.path.lexists(path):
        os.remove(path)


if __name__ == "__main__":
    main()
