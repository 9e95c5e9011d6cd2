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

Files named after ``--`` are the ones the gold patch changes among these (a fix that really
needs a conftest change): they are reset too, and the script applies the gold patch's part for
them afterwards, so that every candidate is judged with the same infrastructure.

Usage: python3 -I -S eval_reset.py BASE_COMMIT [-- GOLD_FILE...]
"""

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
    base, gold = sys.argv[1], set(sys.argv[3:])
    listed = git("diff", "--name-only", "-z", base, "--") + git("ls-files", "--others", "-z")
    for raw in sorted(set(listed.split(b"\0")) - {b""}):
        path = os.fsdecode(raw)
        name = os.path.basename(path)
        if not (name in NAMES or name in CONFIGS or name.endswith(SUFFIXES) or path in gold):
            continue
        at_base = subprocess.run(["git", "cat-file", "-e", "%s:%s" % (base, path)],
                                 stderr=subprocess.DEVNULL).returncode == 0
        if name in CONFIGS and path not in gold:
            old = git("show", "%s:%s" % (base, path)) if at_base else b""
            new = open(path, "rb").read() if os.path.isfile(path) else b""
            if pytest_section(old) == pytest_section(new):
                continue
        if not name.endswith((".pyc", ".pyo")):
            print("swegc-eval: test infrastructure changed by the patch, reset: " + path)
        if at_base:
            subprocess.run(["git", "checkout", "-q", base, "--", path], check=True)
        elif os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.remove(path)


if __name__ == "__main__":
    main()
