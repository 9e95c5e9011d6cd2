"""The verdict of a row's ``eval_script``: exit 0 only when the instance is resolved.

This file is embedded in every ``eval_script`` (see ``eval_script.py``) and runs inside the
instance image with ``python3 -I -S`` after the tests ran: standard library only, Python 3.9+,
nothing imported from the repository under test. It reads

- ``expected.json``: parser, its options, FAIL_TO_PASS, PASS_TO_PASS and the line style of
  the SWE-bench parser named in the row (``pytest``: ``PASSED id``; ``django``: ``id ... ok``);
- the test runner's result: pytest's own junit XML (``--junitxml`` at a path made for this run,
  never printed lines); for unittest and django, the runner's closing summary, its ``FAIL:`` /
  ``ERROR:`` sections and its per-test lines, checked against its exit code; for regex, the log;
- the test command's exit code (argument 2);
- for pytest, unittest and Django, the results of the run's guard (``pytest_guard.py`` or
  ``unittest_guard.py``: argument 3, its file, one line per guarded process; argument 4, the
  key the script chose for this run).

A test passes when its status is PASSED or XFAIL (SWE-bench's rule). The instance is resolved
when every FAIL_TO_PASS and PASS_TO_PASS test passes, the runner's exit code agrees with
what its result says, and the run was not tampered with: the guard's results are there with
this run's key, it found no tampering, and no test the junit XML (pytest) or the log (unittest,
Django) says passed did not pass for it (the rule ``swegc evaluate`` applies, ``tamper.guard_problems``). The statuses are then printed once more, last, in the line style of the
row's SWE-bench parser, so that a harness reading the log (SWE-bench 5.x) sees the verdict that
the exit code gives; when the log holds SWE-bench's own markers printed by the tests, an
unresolved verdict also prints SWE-bench's "tests errored" marker so that no forged marker can
move the part of the log that such a harness reads.

Usage: python3 -I -S eval_judge.py FOLDER TEST_EXIT_CODE [GUARD_RESULT KEY]
(FOLDER holds the files above)
"""

import json
import os
import re
import sys
import xml.etree.ElementTree as ET

PASSING = ("PASSED", "XFAIL")
RANK = {"PASSED": 0, "XFAIL": 0, "SKIPPED": 1, "FAILED": 2, "ERROR": 2}


def worse(old, new):
    return new if old is None or RANK[new] >= RANK[old] else old


def junit_key(node_id):
    """(classname, name) under which pytest's junitxml records ``node_id`` (mangle_test_address)."""
    path, bracket, params = node_id.partition("[")
    names = path.split("::")
    names[0] = re.sub(r"\.py$", "", names[0].replace("/", "."))
    names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


def junit_status(found, node_id):
    """The status of ``node_id``; printed ids are relative to the folder pytest ran in and junit's
    to its rootdir, so when they differ the id's leading folders are dropped one by one."""
    path, sep, rest = node_id.partition("::")
    parts = path.split("/")
    for start in range(len(parts)):
        key = junit_key("/".join(parts[start:]) + sep + rest)
        if key in found:
            return found[key]
    return None


def junit_cases(folder):
    """(classname, name) -> status of every testcase in the run's junit XML (raises OSError or
    ParseError when there is none)."""
    root = ET.parse(os.path.join(folder, "junit.xml")).getroot()
    found = {}
    for case in root.iter("testcase"):
        tags = {child.tag: child for child in case}
        if "failure" in tags:
            status = "FAILED"
        elif "error" in tags:
            status = "ERROR"
        elif "skipped" in tags:
            status = "XFAIL" if tags["skipped"].get("type") == "pytest.xfail" else "SKIPPED"
        else:
            status = "PASSED"
        key = (case.get("classname") or "", case.get("name") or "")
        found[key] = worse(found.get(key), status)
    return found


def pytest_statuses(folder, code, expected):
    try:
        found = junit_cases(folder)
    except (OSError, ET.ParseError) as exc:
        return None, "pytest wrote no readable junit XML (%s): the run did not finish" % exc
    failing = sum(status in ("FAILED", "ERROR") for status in found.values())
    if code not in (0, 1):
        return None, "pytest exited with %d: the run did not complete" % code
    if (code == 0) != (failing == 0):
        return None, "pytest's exit code %d disagrees with its junit XML (%d failing)" % (code, failing)
    return {test: junit_status(found, test) for test in expected}, None


UT_NAME = r"(?P<name>[A-Za-z_][\w.]*) \((?P<target>[A-Za-z_]\w*(?:\.\w+)+)\)"
UT_LINE = re.compile(r"^\s*" + UT_NAME + r"(?P<sub> \(.*?\))?(?: \.\.\. ?(?P<rest>.*))?$")
UT_SECTION = re.compile(r"^(?:FAIL|ERROR|UNEXPECTED SUCCESS): " + UT_NAME)
UT_WORDS = {"ok": "PASSED", "FAIL": "FAILED", "ERROR": "ERROR", "skipped": "SKIPPED",
            "expected failure": "XFAIL", "unexpected success": "FAILED"}


def ut_word(text):
    """The status word a unittest progress line ends with, or None."""
    text = text.strip()
    if text.startswith("skipped"):
        return "skipped"
    return text if text in UT_WORDS else None


def unittest_id(match, django):
    name, target = match.group("name"), match.group("target")
    if django:
        if target.endswith("." + name):
            target = target[: -len(name) - 1]
        return "%s (%s)" % (name, target)
    return target if target.endswith("." + name) else "%s.%s" % (target, name)


def unittest_statuses(log, code, expected, django):
    """Per-test lines, overruled by the FAIL/ERROR sections; the summary must agree with the exit code."""
    statuses, closing = unittest_log(log, django)
    if closing is None:
        return None, "the runner printed no closing 'Ran N tests' summary: the run did not finish"
    ok = re.match(r"^OK(?: \(.*\))?$", closing) is not None
    if not ok and not re.match(r"^FAILED \(.*\)$", closing):
        return None, "the runner's closing line %r is neither OK nor FAILED" % closing
    if ok != (code == 0):
        return None, "the runner's exit code %d disagrees with its summary %r" % (code, closing)
    return {test: statuses.get(test) for test in expected}, None


def unittest_log(log, django):
    """(test -> status of every test the log names, the line after the last 'Ran N tests')."""
    statuses, pending, closing = {}, None, None
    lines = log.replace("\r", "\n").split("\n")
    for index, line in enumerate(lines):
        if re.match(r"^Ran \d+ tests? in [\d.]+s$", line):
            after = [l for l in lines[index + 1:] if l.strip()]
            closing = after[0] if after else ""
            continue
        section = UT_SECTION.match(line)
        if section:
            test = unittest_id(section, django)
            statuses[test] = worse(statuses.get(test), "FAILED")
            continue
        match = UT_LINE.match(line)
        if match:  # "test_a (pkg.mod.Class) ... ok", or its name alone, output following
            word = ut_word(match.group("rest") or "")
            test = unittest_id(match, django)
            pending = None if word or match.group("sub") else test
            if word and (not match.group("sub") or word in ("FAIL", "ERROR")):
                statuses[test] = worse(statuses.get(test), UT_WORDS[word])
        elif pending and ut_word(line.split(" ... ")[-1]):  # the result after the test's output
            statuses[pending] = worse(statuses.get(pending), UT_WORDS[ut_word(line.split(" ... ")[-1])])
            pending = None
    return statuses, closing


def regex_statuses(log, code, expected, options):
    pattern = re.compile(options["pattern"])
    status_map = options.get("status_map") or {}
    broken = {int(k): v for k, v in (options.get("broken_exit") or {}).items()}
    if code in broken or code in (126, 127):
        return None, "the test runner failed (exit %d): %s" % (code, broken.get(code, "not runnable"))
    if options.get("summary") and not re.search(options["summary"], log, re.M):
        return None, "the runner's summary line was not printed: the run did not finish"
    statuses = {}
    for line in log.splitlines():
        match = pattern.search(line)
        if match and match.group("test"):
            raw = match.group("status") or ""
            status = status_map.get(raw, raw.upper())
            if status in RANK:
                statuses[match.group("test")] = status
    return {test: statuses.get(test) for test in expected}, None


def guard_key(test):
    """A test id as the guards record it: Django's ``test_a (pkg.mod.Class)`` becomes
    unittest's dotted ``pkg.mod.Class.test_a`` (``tamper.guard_key``)."""
    found = DJANGO_ID.match(test) if "::" not in test else None
    if found is None:
        return test
    name, target = found.group("name"), found.group("target")
    return target if target.endswith("." + name) else "%s.%s" % (target, name)


DJANGO_ID = re.compile(r"^(?P<name>[A-Za-z_][\w.]*) \((?P<target>[A-Za-z_][\w.]*)\)$")


def guard_results(guard_path, key):
    """Every guarded process's line merged: (test -> its worst status, tampering found), or
    the one piece of evidence that they cannot be believed."""
    try:
        with open(guard_path, encoding="utf-8") as handle:
            raw = handle.read()
    except OSError:
        raw = ""
    if not raw.strip():
        return "the guard wrote no results: the test process ended before its runner did, " \
               "or they were removed"
    tests, found = {}, []
    for line in raw.splitlines():
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except ValueError:
            return "the guard's results cannot be read"
        if not isinstance(data, dict) or data.get("key") != key or data.get("complete") is not True:
            return "the guard's results do not carry this run's key"
        found += [str(item) for item in data.get("tampering") or [] if str(item) not in found]
        for test, status in (data.get("tests") or {}).items():
            tests[test] = worse(tests.get(test), status if status in RANK else "ERROR")
    return tests, found


def tampering(folder, guard_path, key, parser, log):
    """The evidence that the run was tampered with, or []: the guards' own findings, results
    missing or not this run's, or a test the junit XML (pytest) or the log (unittest, Django)
    says passed that no guard saw pass."""
    merged = guard_results(guard_path, key)
    if not isinstance(merged, tuple):
        return [merged]
    tests, found = merged
    if parser != "pytest":
        reported, _ = unittest_log(log, parser == "django")
        for test, status in sorted(reported.items()):
            seen = tests.get(guard_key(test))
            if status in PASSING and seen not in PASSING:
                found.append("%s: reported %s, but the guard saw %s"
                             % (test, status, seen or "no call of it"))
        return found
    seen = {}
    for node_id, status in tests.items():
        seen[junit_key(node_id)] = status
    try:
        cases = junit_cases(folder)
    except (OSError, ET.ParseError):
        return found
    for case, status in sorted(cases.items()):
        if status in PASSING and seen.get(case) not in PASSING:
            found.append("%s::%s: reported %s, but the guard saw %s"
                         % (case[0], case[1], status, seen.get(case) or "no call of it"))
    return found


def main():
    folder, code = sys.argv[1], int(sys.argv[2])
    with open(os.path.join(folder, "expected.json"), encoding="utf-8") as handle:
        spec = json.load(handle)
    with open(os.path.join(folder, "test.log"), encoding="utf-8", errors="replace") as handle:
        log = handle.read()
    expected = list(spec["FAIL_TO_PASS"]) + list(spec["PASS_TO_PASS"])
    parser = spec["parser"]
    if parser == "pytest":
        statuses, problem = pytest_statuses(folder, code, expected)
    elif parser in ("unittest", "django"):
        statuses, problem = unittest_statuses(log, code, expected, parser == "django")
    else:
        statuses, problem = regex_statuses(log, code, expected, spec.get("parser_options") or {})
    tampered = tampering(folder, sys.argv[3], sys.argv[4], parser, log) if len(sys.argv) > 4 else []
    if tampered:
        statuses, problem = {}, "the run was tampered with: " + "; ".join(tampered)
        print("swegc-eval: TAMPERED: " + "; ".join(tampered))
    statuses = statuses or {}
    failing = [t for t in expected if statuses.get(t) not in PASSING]
    resolved = problem is None and not failing
    source = {"pytest": "pytest's junit XML"}.get(parser, "the runner's own summary")
    print("swegc-eval: test statuses read from %s, checked against exit code %d" % (source, code))
    for test in expected:
        passed = statuses.get(test) in PASSING
        if spec["line_style"] == "django":
            print("%s ... %s" % (test, "ok" if passed else "FAIL"))
        else:
            print("%s %s" % ("PASSED" if passed else "FAILED", test))
    if resolved:
        print("swegc-eval: RESOLVED (%d tests passed)" % len(expected))
        return 0
    why = problem or "%d of %d tests did not pass, first %s: %s" % (
        len(failing), len(expected), failing[0], statuses.get(failing[0]) or "not run")
    print("swegc-eval: NOT RESOLVED: " + why)
    if ">" * 5 + " " in log:  # SWE-bench markers printed by the tests themselves
        print(">" * 5 + " Tests Errored: the tests printed evaluation markers")
    return 1


if __name__ == "__main__":
    sys.exit(main())
