"""What a probe compile's build folder says went wrong, as typed ``Failure`` records.

``swegc draft --probe`` compiles a few pull requests per environment and repairs the spec from
what failed. The compiler already says *that* something failed (a ``Reason`` per instance and
environment); the repair needs *what* failed: the module a test could not import, the header a C
extension could not find, the Python a package refused. Those are read here, from the reports
(``reports/envs.jsonl``, ``reports/instances.jsonl``) and the logs they point at, so that the
rules (``repair.py``) are plain functions of a record and never parse logs themselves.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from swegc.build_layout import BuildLayout

TAIL_CHARS = 4000  # of a failing log, what a record keeps (and a policy is shown)


class Kind(StrEnum):
    """What failed, as far as a log shows it."""

    MISSING_MODULE_BUILD = "missing_module_build"  # the install imported a module it lacks
    MISSING_MODULE_TESTS = "missing_module_tests"  # a test file imported a module it lacks
    MISSING_HEADER = "missing_header"  # a C compiler: fatal error: foo.h: No such file
    MISSING_LIBRARY = "missing_library"  # the linker: cannot find -lfoo
    MISSING_TOOL = "missing_tool"  # gcc, make, pkg-config, a Fortran compiler not found
    SOURCE_BUILD = "source_build"  # a package had no wheel and did not build from source
    PYTHON_UNSUPPORTED = "python_unsupported"  # a package requires another Python
    UNRESOLVABLE = "unresolvable"  # the resolver found no version (under the date cap?)
    MISSING_PLUGIN = "missing_plugin"  # the runner's config or tests use a plugin's option/fixture
    OLD_API = "old_api"  # a test imports what a newer release of a dependency removed
    NOSE_SETUP = "nose_setup"  # pytest 8 no longer calls nose-style setup()/teardown()
    STALE_EXTENSION = "stale_extension"  # the fix changed a compiled module the image built
    RESOLUTION_LAG = "resolution_lag"  # a package held back far behind pip_date
    NO_TESTS = "no_tests"  # the suite ran no test
    TIMEOUT = "timeout"
    NETWORK = "network"  # tests failed downloading while validation had no network
    OTHER = "other"  # failed, and no reader above recognises why


@dataclass(frozen=True)
class Failure:
    """One thing that went wrong in one environment, with the evidence.

    ``subject`` is what the rules key on: a module, header, library, tool, package or (for
    ``python_unsupported``) the requirement's Python specifier. ``instances`` are the probed
    pull requests it hit (none for an env build, which hits them all).
    """

    kind: Kind
    env_index: int | None  # the spec's environment, where the reports say which
    subject: str = ""
    evidence: str = ""  # the log line it was read from
    instances: tuple[str, ...] = ()
    reason: str | None = None  # the compiler's Reason
    log_tail: str = ""  # the end of the log, for a policy
    extra: dict[str, str] = field(default_factory=dict)  # what a rule needs besides the subject

    def key(self) -> tuple[str, int | None, str]:
        """Two records of one failure (two instances missing one module) share a key."""
        return (self.kind, self.env_index, self.subject)


# ---- readers: log text -> (kind, subject, evidence, extra) --------------------------------

_MODULE = re.compile(r"(?:ModuleNotFoundError: No module named|ImportError: No module named) "
                     r"'?(?P<name>[A-Za-z_][\w.]*)'?")
_HEADER = re.compile(r"fatal error: (?P<name>[\w./+-]+\.h(?:pp)?): No such file or directory")
_LIBRARY = re.compile(r"(?:ld|collect2)[^\n]*cannot find -l(?P<name>[\w.+-]+)")
_TOOL = re.compile(
    r"(?:error: command '(?P<cmd>[\w+.-]+)' failed(?:: No such file or directory| with exit "
    r"status 1: No such file)|(?P<sh>[\w+.-]+): (?:command )?not found$|"
    r"(?P<toolchain>Broken toolchain: cannot link a simple C program)|"
    r"(?P<fortran>No Fortran compiler found|need_fortran|Could not locate executable g?fortran)|"
    r"(?P<pkgconfig>Did not find pkg-config|pkg-config: not found)|"
    r"(?P<rust>can't find Rust compiler|Cargo, the Rust package manager, is not installed))",
    re.MULTILINE)
_BUILD = re.compile(
    r"(?:Failed to build `?(?P<uv>[A-Za-z0-9_.-]+)(?:==[^\s`]+)?`?|"
    r"Building wheel for (?P<pip>[A-Za-z0-9_.-]+) \([^)]*\) did not run successfully|"
    r"ERROR: Failed building wheel for (?P<old>[A-Za-z0-9_.-]+)|"
    r"Failed to build (?P<list>[A-Za-z0-9_.-]+)$)", re.MULTILINE)
_PYTHON = re.compile(
    r"(?:(?:Package '(?P<pkg>[\w.-]+)' )?requires a different Python: [\d.]+ not in "
    r"'(?P<pip>[^']+)'|the (?:current|requested) Python version \([\d.]+\) does not satisfy "
    r"Python(?P<uv>[<>=!~][^ ,]*(?:,[<>=!~][^ ,]+)*)(?: and (?P<uvpkg>[\w.-]+)(?:==\S+)? "
    r"depends on)?)")
_UNRESOLVABLE = re.compile(
    r"(?:No matching distribution found for (?P<pip>[A-Za-z0-9_.-]+)|"
    r"Because there (?:is|are) no versions? of (?P<uv>[A-Za-z0-9_.-]+)(?:==(?P<pinned>[^\s,]+))?|"
    r"Because (?P<uv2>[A-Za-z0-9_.-]+) was not found in the package registry|"
    r"only (?P<only>[A-Za-z0-9_.-]+)[<>=]+[^ ]+ (?:is|are) available)")
# An import a newer release removed: (pattern, package, pin, why). The pin is the release line
# before the removal, so tests written against the older API run as their authors ran them.
OLD_APIS: tuple[tuple[str, str, str, str], ...] = (
    (r"No module named 'pkg_resources'", "setuptools", "setuptools<81",
     "setuptools 81 dropped pkg_resources, which the code imports"),
    (r"cannot import name 'soft_unicode' from 'markupsafe'", "markupsafe", "markupsafe<2.1",
     "markupsafe 2.1 removed soft_unicode"),
    (r"cannot import name '(?:escape|Markup|contextfunction|environmentfilter)' from 'jinja2'",
     "jinja2", "jinja2<3.1", "jinja2 3.1 removed escape/Markup and the context decorators"),
    (r"module 'numpy' has no attribute '(?:float|int|bool|object|complex|str)'", "numpy",
     "numpy<1.24", "numpy 1.24 removed the np.float/np.int aliases"),
    (r"cannot import name 'url_quote' from 'werkzeug", "werkzeug", "werkzeug<2.3",
     "werkzeug 2.3 removed url_quote"),
    (r"cannot import name 'json' from 'itsdangerous'", "itsdangerous", "itsdangerous<2.1",
     "itsdangerous 2.1 removed its json module"),
    (r"No module named 'distutils'", "setuptools", "setuptools<70",
     "Python 3.12 dropped distutils; setuptools before 70 still provides it"),
)
# What a newer Python removed, that old code still uses: (pattern, the Pythons that have it).
PYTHON_REMOVALS: tuple[tuple[str, str], ...] = (
    (r"cannot import name '(?:Mapping|MutableMapping|Sequence|Callable|Iterable|OrderedDict)' "
     r"from 'collections'|module 'collections' has no attribute '(?:Mapping|MutableMapping|"
     r"Sequence|Callable|Iterable)'", "<3.10"),
    (r"cannot import name '(?:formatargspec|getargspec)' from 'inspect'|module 'inspect' has "
     r"no attribute '(?:formatargspec|getargspec)'", "<3.11"),
    (r"No module named '(?:imp|asynchat|asyncore|smtpd)'", "<3.12"),
    (r"No module named '(?:cgi|cgitb|crypt|nntplib|pipes|telnetlib|sndhdr|imghdr|audioop)'",
     "<3.13"),
)
# A compiled module of the repository that lacks what the fix added to its sources.
_STALE = re.compile(r"ImportError: (?:cannot import name '\w+' from '(?P<module>[\w.]+)' "
                    r"\(/testbed/[^)]+\.so\)|/testbed/[^:]+\.so: undefined symbol)")
# pytest's complaints about a plugin it has not got: an option its configuration passes, or a
# fixture a test asks for.
_UNRECOGNIZED = re.compile(r"error: unrecognized arguments: (?P<args>.*)$", re.MULTILINE)
_FIXTURE = re.compile(r"fixture '(?P<name>\w+)' not found")
_ASYNC = re.compile(r"async def functions are not natively supported")
_NO_TESTS = re.compile(r"(?:^collected 0 items|no tests ran in|^Ran 0 tests in)", re.MULTILINE)
_PYTEST8 = re.compile(r"platform \S+ -- Python \S+, pytest-8\.")
_ATTRIBUTE = re.compile(r"AttributeError: '\w+' object has no attribute '\w+'")
_LAG_EXEMPT = re.compile(r"add pip_date_exempt: \[(?P<names>[^\]]+)\]")


def read_log(text: str, *, building: bool) -> list[tuple[Kind, str, str, dict[str, str]]]:
    """Each recognised failure in a log: (kind, subject, the evidence line, extra).

    ``building``: the log is an image build's (a missing module there is the install's, not a
    test's)."""
    found: list[tuple[Kind, str, str, dict[str, str]]] = []
    for pattern, package, pin, why in OLD_APIS:
        match = re.search(pattern, text)
        if match:
            found.append((Kind.OLD_API, package, _line(text, match), {"pin": pin, "why": why}))
    for match in _UNRECOGNIZED.finditer(text):
        for option in re.findall(r"(?:^|\s)(--?[\w-]+)", match["args"]):
            found.append((Kind.MISSING_PLUGIN, option, _line(text, match), {}))
    for match in _FIXTURE.finditer(text):
        found.append((Kind.MISSING_PLUGIN, match["name"], _line(text, match), {}))
    match = _ASYNC.search(text)
    if match:
        found.append((Kind.MISSING_PLUGIN, "async", _line(text, match), {}))
    for pattern, pythons in PYTHON_REMOVALS:
        match = re.search(pattern, text)
        if match:
            found.append((Kind.PYTHON_UNSUPPORTED, pythons, _line(text, match),
                          {"package": "the code (it uses what a later Python removed)"}))
    stale = None if building else _STALE.search(text)
    if stale:
        found.append((Kind.STALE_EXTENSION, stale["module"] or "", _line(text, stale), {}))
    removed = {"imp", "asynchat", "asyncore", "smtpd", "cgi", "cgitb", "crypt", "nntplib",
               "pipes", "telnetlib", "sndhdr", "imghdr", "audioop"}
    for match in _MODULE.finditer(text):
        name = match["name"]
        if name in removed:
            continue  # the standard library's: an older Python (PYTHON_REMOVALS)
        if name in _PINNED_MODULES:
            continue  # a pin (OLD_APIS), not a package to add
        kind = Kind.MISSING_MODULE_BUILD if building else Kind.MISSING_MODULE_TESTS
        found.append((kind, name.split(".")[0], _line(text, match), {}))
    for match in _HEADER.finditer(text):
        found.append((Kind.MISSING_HEADER, match["name"], _line(text, match), {}))
    for match in _LIBRARY.finditer(text):
        found.append((Kind.MISSING_LIBRARY, match["name"], _line(text, match), {}))
    for match in _TOOL.finditer(text):
        tool = ("cc" if match["toolchain"] else "gfortran" if match["fortran"] else
                "cargo" if match["rust"] else
                "pkg-config" if match["pkgconfig"] else match["cmd"] or match["sh"] or "")
        if tool in _KNOWN_TOOLS:
            found.append((Kind.MISSING_TOOL, tool, _line(text, match), {}))
    for match in _PYTHON.finditer(text):
        spec = match["pip"] or match["uv"] or ""
        found.append((Kind.PYTHON_UNSUPPORTED, spec, _line(text, match),
                      {"package": match["pkg"] or match["uvpkg"] or ""}))
    for match in _UNRESOLVABLE.finditer(text):
        name = match["pip"] or match["uv"] or match["uv2"] or match["only"]
        extra = {"absent": "yes"} if match["uv2"] else \
            {"pinned": match["pinned"]} if match["pinned"] else {}
        found.append((Kind.UNRESOLVABLE, name, _line(text, match), extra))
    compiled = {k for k, *_ in found} & {Kind.MISSING_HEADER, Kind.MISSING_LIBRARY,
                                         Kind.MISSING_TOOL}
    if not compiled:  # a source build that failed for a reason named above is that reason
        for match in _BUILD.finditer(text):
            name = match["uv"] or match["pip"] or match["old"] or match["list"]
            found.append((Kind.SOURCE_BUILD, name, _line(text, match), {}))
    if not building and _PYTEST8.search(text) and _ATTRIBUTE.search(text):
        match = _ATTRIBUTE.search(text)
        assert match is not None
        found.append((Kind.NOSE_SETUP, "pytest", _line(text, match), {}))
    return _unique(found)


# Modules that come with a build tool of some release, which OLD_APIS pins.
_PINNED_MODULES = frozenset({"pkg_resources", "distutils"})
# What a "not found" tool is, for the tool readers (anything else "not found" is not ours).
_KNOWN_TOOLS = frozenset({"gcc", "g++", "cc", "c++", "make", "cmake", "pkg-config", "gfortran",
                          "swig", "cython", "rustc", "cargo", "git", "patch", "autoreconf"})


def _line(text: str, match: re.Match[str]) -> str:
    start = text.rfind("\n", 0, match.start()) + 1
    end = text.find("\n", match.end())
    return text[start:end if end >= 0 else len(text)].strip()[:300]


def _unique(found: Iterable[tuple[Kind, str, str, dict[str, str]]]
            ) -> list[tuple[Kind, str, str, dict[str, str]]]:
    seen: dict[tuple[Kind, str], tuple[Kind, str, str, dict[str, str]]] = {}
    for item in found:
        seen.setdefault((item[0], item[1]), item)
    return list(seen.values())


# ---- the build folder -----------------------------------------------------------------------

def read_failures(out: Path, environments: Sequence[dict[str, Any]], *,
                  only: Sequence[str] = ()) -> list[Failure]:
    """The failures a compile into ``out`` reports (its ``partial/`` reports when the compile
    selected instances), each placed in the spec's environment (``environments``: the spec's
    entries, matched by their ``versions``). ``only``: instances to read (empty: all)."""
    layout = BuildLayout(out)
    reports = layout.partial if (layout.partial.instances_report).exists() else layout
    envs = _jsonl(reports.envs_report)
    instances = [r for r in _jsonl(reports.instances_report)
                 if not only or r["instance_id"] in only]
    index_of = {e["env_key"]: _env_index(e.get("versions"), environments) for e in envs}
    failures: list[Failure] = []
    for env in envs:
        if env.get("status") == "failed":
            failures += _env_failures(layout, env, index_of[env["env_key"]])
        for message in env.get("resolution_lag") or []:
            match = _LAG_EXEMPT.search(message)
            if match:
                for name in (n.strip() for n in match["names"].split(",")):
                    failures.append(Failure(Kind.RESOLUTION_LAG, index_of[env["env_key"]], name,
                                            message[:300]))
    for row in instances:
        if row.get("reason") in _NOT_OURS:
            continue
        found = _instance_failures(layout, row, index_of.get(row.get("env_key")))
        if row["status"] == "valid":  # tests that error on both sides for want of a package
            found = [f for f in found if f.kind in _LOST_TESTS]
        failures += found
    return merge(failures)


# Reasons a repair of the environments cannot answer: the pull request, or the filters.
_NOT_OURS = frozenset({"env_build_failed", "skipped", "not_selected", "outside_dates",
                       "other_base_branch", "label_not_selected", "excluded_label",
                       "no_linked_issue", "too_large", "no_test_change", "only_tests_changed",
                       "commit_missing", "patch_not_representable", "unparseable_diff",
                       "empty_patch", "test_patch_does_not_apply", "patch_does_not_apply"})


# What a valid instance's logs can still show: tests it lost (erroring on both sides, so in
# neither FAIL_TO_PASS nor PASS_TO_PASS) because the environment lacks something.
_LOST_TESTS = frozenset({Kind.MISSING_MODULE_TESTS, Kind.MISSING_PLUGIN, Kind.OLD_API})


def _env_failures(layout: BuildLayout, env: dict[str, Any], index: int | None) -> list[Failure]:
    log = env.get("log")
    text = (_read(Path(log).parent, Path(log).name) or _read(layout.image_logs, Path(log).name)
            if log else "") or env.get("detail") or ""
    tail = (env.get("detail") or text)[-TAIL_CHARS:]
    output = _output_part(text)
    found = read_log(output, building=True)
    # How far the build script got (its "+++ step" lines): a repair that gets a build further
    # is progress even where it still fails.
    steps = {"steps": str(output.count("\n+++ ") + output.startswith("+++ "))}
    if not found:
        return [Failure(Kind.OTHER, index, "", _last_line(tail), (), env.get("reason"), tail,
                        steps)]
    return [Failure(kind, index, subject, evidence, (), env.get("reason"), tail,
                    {**extra, **steps}) for kind, subject, evidence, extra in found]


def _instance_failures(layout: BuildLayout, row: dict[str, Any], index: int | None
                       ) -> list[Failure]:
    iid, reason = row["instance_id"], row.get("reason") or "valid"
    detail = row.get("detail") or ""
    if reason == "install_failed":
        log = _read(layout.image_logs, f"instance-{iid}.log") or detail
        text, building = _output_part(log), True
    else:
        logs = sorted(layout.instance_logs(iid).glob("*.log")) \
            if layout.instance_logs(iid).is_dir() else []
        text = "\n".join(p.read_text(errors="replace") for p in logs) + "\n" + detail
        building = False
    tail = _tail(layout, iid, reason) or detail[-TAIL_CHARS:]
    found = read_log(text, building=building)
    network = "tests.network" in detail or any("tests.network" in w
                                               for w in row.get("warnings") or [])
    if network:
        found.insert(0, (Kind.NETWORK, "tests.network", _network_line(detail, row), {}))
    if reason == "timeout" and not network:
        found.append((Kind.TIMEOUT, "tests.timeout", detail[:300], {}))
    if not found and reason == "suite_did_not_run" and _NO_TESTS.search(text):
        found.append((Kind.NO_TESTS, "", _last_line(detail), {}))
    if not found:
        return [Failure(Kind.OTHER, index, "", _last_line(detail), (iid,), reason, tail)]
    return [Failure(kind, index, subject, evidence, (iid,), reason, tail, extra)
            for kind, subject, evidence, extra in found]


def _network_line(detail: str, row: dict[str, Any]) -> str:
    for text in [detail, *(row.get("warnings") or [])]:
        if "tests.network" in text:
            return text[:300]
    return ""


def _tail(layout: BuildLayout, iid: str, reason: str | None) -> str:
    """The end of the log a user would open first for this instance."""
    if reason == "install_failed":
        return (_read(layout.image_logs, f"instance-{iid}.log") or "")[-TAIL_CHARS:]
    folder = layout.instance_logs(iid)
    for name in ("after-1.log", "before-1.log", "prepare-after.log", "prepare-before.log"):
        text = _read(folder, name)
        if text:
            return text[-TAIL_CHARS:]
    return ""


def merge(failures: Iterable[Failure]) -> list[Failure]:
    """One record per failure: the instances of records that share a key joined, in order."""
    merged: dict[tuple[str, int | None, str], Failure] = {}
    for failure in failures:
        known = merged.get(failure.key())
        if known is None:
            merged[failure.key()] = failure
        else:
            joined = tuple(dict.fromkeys([*known.instances, *failure.instances]))
            merged[failure.key()] = Failure(known.kind, known.env_index, known.subject,
                                            known.evidence, joined, known.reason, known.log_tail,
                                            known.extra)
    return list(merged.values())


def _env_index(versions: str | None, environments: Sequence[dict[str, Any]]) -> int | None:
    for index, env in enumerate(environments):
        if (env.get("versions") or "") == (versions or ""):
            return index
    return None


def _output_part(log: str) -> str:
    """A build log without its script (which names packages and headers it only asks for)."""
    marker = "\n# output:\n"
    return log.split(marker, 1)[1] if marker in log else log


def _read(folder: Path, name: str | None) -> str:
    if not name:
        return ""
    path = Path(name) if Path(name).is_absolute() else folder / name
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
