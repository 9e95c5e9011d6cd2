"""Semantic checks of a merged spec: what a JSON Schema cannot say.

They run on the plain merged document after it passed the schema (so shapes are right) and
return every problem found, each located through ``where`` at the file and line the value
came from. Shell fragments are checked separately (``check_shell``) so that the loader can
send the fragments of all spec files to a single ``bash -n``.
"""

from __future__ import annotations

import difflib
import re
import subprocess
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from swegc.compiler.spec.model import CASE_NAME_GROUP, DEFAULT_BASE_IMAGES, SOURCE_KINDS
from swegc.compiler.spec.yaml_lines import label
from swegc.errors import Problem

Path_ = tuple[str | int, ...]
Where = Callable[[Path_], str]

# Which version keys each strategy needs and which it may take (the rest are mistakes).
_VERSION_NEEDS = {"file": {"path", "pattern"}, "command": {"command"}, "git-describe": set(),
                  "fixed": {"value"}, "published": set()}
_VERSION_TAKES = {"file": {"path", "pattern"}, "command": {"command", "pattern", "python"},
                  "git-describe": {"pattern"}, "fixed": {"value"}, "published": set()}


def did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean 'x'?)`` for a close match, else ``""``."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def check_document(doc: Mapping[str, Any], where: Where,
                   broken: Collection[str] = ()) -> list[Problem]:
    """Every semantic problem of one merged spec, except shell syntax. A check runs only
    when the top-level sections it reads passed the schema (are not in ``broken``), so a
    file with schema errors still gets the checks of its healthy parts."""
    def ok(*sections: str) -> bool:
        return all(s in doc and s not in broken for s in sections)

    problems: list[Problem] = []
    if ok("source"):
        problems += _check_source(doc["source"], where)
    if ok("tests"):
        problems += _check_parser(doc["tests"]["parser"], where, doc["tests"].get("parser_options"))
        problems += _check_case_directives(doc["tests"].get("directives"), where)
    if ok("version"):
        problems += _check_version(doc["version"], where)
        if ok("source") and doc["version"]["from"] == "published" and \
                "instances" not in doc["source"]:
            kind = next((k for k in SOURCE_KINDS if k in doc["source"]), "none")
            problems.append(_problem(where, ("version", "from"), "published takes each "
                                     "instance's version from its published row, so it needs "
                                     f"source.instances (this spec's source is {kind})"))
        if "python" in doc["version"] and "build" not in broken:
            problems += _check_version_python(doc["version"]["python"], doc.get("build", {}),
                                              where)
    if ok("environments") and "build" not in broken:
        problems += _check_environments(doc["environments"], doc.get("build", {}), where)
    if ok("repo", "environments") and "instances" not in broken:
        problems += _check_instances(doc.get("instances", {}), doc, where)
    return problems


def _problem(where: Where, parts: Path_, message: str) -> Problem:
    return Problem(where(parts), f"{label(parts)}: {message}" if parts else message)


def _check_source(source: Mapping[str, Any], where: Where) -> list[Problem]:
    kinds = [kind for kind in SOURCE_KINDS if kind in source]
    problems = []
    if not kinds:
        problems.append(_problem(where, ("source",), "set one of git, jsonl, instances or "
                                 "github (where pull requests come from)"))
    elif len(kinds) > 1:
        found = " and ".join(f"{kind} ({where(('source', kind))})" for kind in kinds)
        problems.append(_problem(where, ("source", kinds[1]),
                                 f"set only one of git, jsonl, instances or github; found {found}"))
    if "clone" not in source and kinds and "github" not in kinds:
        problems.append(_problem(where, ("source",), f"missing 'clone' (a local clone or git "
                                 f"bundle of the repository, relative to the spec file); a "
                                 f"{kinds[0]} source needs one"))
    pattern = source.get("git", {}).get("issue_pattern")
    if isinstance(pattern, str):
        problems += _check_issue_pattern(pattern, where)
    filters = source.get("filters", {})
    since, until = filters.get("since"), filters.get("until")
    if since and until and since[:10] >= until[:10]:
        problems.append(_problem(where, ("source", "filters", "until"),
                                 f"must be after since ({since}), got {until}"))
    return problems


def _check_issue_pattern(pattern: str, where: Where) -> list[Problem]:
    at = ("source", "git", "issue_pattern")
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        return [_problem(where, at, f"not a valid regex: {exc}")]
    if compiled.groups == 0:
        return [_problem(where, at, r"needs a group that captures the issue number, like "
                                    r"^FIX-#(?P<issue>\d+):")]
    return []


def _check_parser(name: str, where: Where, options: Mapping[str, Any] | None = None) -> list[Problem]:
    from swegc.runtime.harness.parsers import PARSERS, get_parser  # imported here: the registry may be heavy
    from swegc.errors import SwegcError

    if name in PARSERS:
        try:  # the parser itself says what its options need (regex: a pattern, a status map)
            get_parser(name, dict(options) if options is not None else None)
        except SwegcError as exc:
            return [_problem(where, ("tests", "parser_options") if options is not None
                             else ("tests", "parser"), str(exc))]
        return []
    known = ", ".join(sorted(PARSERS))
    return [_problem(where, ("tests", "parser"),
                     f"unknown parser '{name}'{did_you_mean(name, sorted(PARSERS))}; known "
                     f"parsers: {known}")]


def _check_case_directives(directives: Any, where: Where) -> list[Problem]:
    """``tests.directives.cases`` must compile and name the case with the group ``name``."""
    if not isinstance(directives, Mapping) or "cases" not in directives:
        return []
    parts = ("tests", "directives", "cases")
    try:
        compiled = re.compile(directives["cases"])
    except re.error as exc:
        return [_problem(where, parts, f"not a valid regex: {exc}")]
    if CASE_NAME_GROUP not in compiled.groupindex:
        return [_problem(where, parts, f"needs a group named '{CASE_NAME_GROUP}' that captures "
                         r"a case's name, like ^\[case (?P<name>[A-Za-z0-9_]+)")]
    return []


def _check_version(version: Mapping[str, Any], where: Where) -> list[Problem]:
    strategy = version["from"]
    problems = []
    for key in sorted(_VERSION_NEEDS[strategy] - set(version)):
        problems.append(_problem(where, ("version",), f"from: {strategy} needs '{key}'"))
    for key in sorted(set(version) - _VERSION_TAKES[strategy] - {"from"}):
        users = [name for name, keys in _VERSION_TAKES.items() if key in keys]
        problems.append(_problem(where, ("version", key), f"'{key}' is not used with from: "
                                 f"{strategy} (only with from: {' or '.join(users)})"))
    if "pattern" in version:
        try:
            compiled = re.compile(version["pattern"])
        except re.error as exc:
            problems.append(_problem(where, ("version", "pattern"), f"not a valid regex: {exc}"))
        else:
            if compiled.groups == 0:
                problems.append(_problem(where, ("version", "pattern"), "needs a group that "
                                         r"captures the version, like (?P<version>\d+\.\d+)"))
    return problems


def _check_version_python(python: str, build: Mapping[str, Any], where: Where) -> list[Problem]:
    images = {**DEFAULT_BASE_IMAGES, **build.get("base_images", {})}
    if python in images:
        return []
    known = ", ".join(sorted(images, key=_version_key))
    return [_problem(where, ("version", "python"), f'no base image for Python "{python}" to '
                     f'run the version command: images exist for {known}; add '
                     f'build.base_images["{python}"]')]


def _check_environments(envs: Sequence[Mapping[str, Any]], build: Mapping[str, Any],
                        where: Where) -> list[Problem]:
    problems = []
    images = {**DEFAULT_BASE_IMAGES, **build.get("base_images", {})}
    specifiers: list[tuple[int, SpecifierSet]] = []
    for index, env in enumerate(envs):
        text = env.get("versions", "")
        try:
            specifiers.append((index, SpecifierSet(text)))
        except InvalidSpecifier:
            problems.append(_problem(where, ("environments", index, "versions"),
                                     f"not a PEP 440 version specifier set (got {text!r}); "
                                     "write e.g. '>=2.0,<3'"))
        if not env.get("base_image") and env["python"] not in images:
            built_in = ", ".join(sorted(images, key=_version_key))
            problems.append(_problem(where, ("environments", index, "python"),
                                     f'no base image for Python "{env["python"]}": images exist '
                                     f"for {built_in}; set environments[{index}].base_image, or "
                                     f'build.base_images["{env["python"]}"] (such as '
                                     f'python:{env["python"]}-slim where a registry is reachable; '
                                     "once for all specs in a shared file they extend)"))
        if isinstance(env.get("node"), Mapping):
            problems += _check_node_folders(env["node"].get("install", []), index, where)
    if len(specifiers) == len(envs):
        problems += _check_coverage(specifiers, envs, where)
    return problems


def _check_node_folders(folders: Sequence[str], index: int, where: Where) -> list[Problem]:
    """Each folder of node.install once, inside the repository, written in one way."""
    problems, seen = [], set()
    for j, folder in enumerate(folders):
        parts = folder.rstrip("/").split("/")
        clean = "/".join(p for p in parts if p not in ("", ".")) or "."
        at = ("environments", index, "node", "install", j)
        if ".." in parts:
            problems.append(_problem(where, at, f"{folder!r} leaves the repository; name a "
                                     "folder inside it, relative to its root"))
        elif clean != folder:
            problems.append(_problem(where, at, f"write {clean!r} (got {folder!r})"))
        elif clean in seen:
            problems.append(_problem(where, at, f"{folder!r} is named twice"))
        seen.add(clean)
    return problems


def _check_coverage(specifiers: list[tuple[int, SpecifierSet]], envs: Sequence[Mapping[str, Any]],
                    where: Where) -> list[Problem]:
    """No version is served by two environments, and none between the bounds by none."""
    everything = [i for i, env in enumerate(envs) if not env.get("versions", "").strip()]
    if everything and len(envs) > 1:
        i = everything[0]
        return [_problem(where, ("environments", i, "versions"), "empty, so it serves every "
                         "version; then it must be the only environment (give it a range like "
                         "'>=2.0')")]
    bounds = sorted({v for _, s in specifiers for v in _bounds(s)})
    if not bounds:
        return []
    problems = []
    reported: set[tuple[int, int]] = set()
    probes = _probes(bounds)
    served: list[Version] = []
    unserved: list[Version] = []
    for probe in probes:
        covering = [i for i, s in specifiers if s.contains(probe, prereleases=True)]
        (served if covering else unserved).append(probe)
        for a, b in zip(covering, covering[1:]):
            if (a, b) not in reported:
                reported.add((a, b))
                other = where(("environments", a))
                problems.append(_problem(where, ("environments", b, "versions"),
                                         f"overlaps environments[{a}] ({other}): both serve "
                                         f"version {probe}"))
    holes = [v for v in unserved if served and served[0] < v < served[-1]]
    if holes:
        example = min(holes, key=lambda v: (v not in bounds, v))
        problems.append(_problem(where, ("environments",), f"no environment serves version "
                                 f"{example}, though versions below and above it are served "
                                 "(close the gap between the version ranges)"))
    return problems


def _bounds(specifiers: SpecifierSet) -> Iterator[Version]:
    for spec in specifiers:
        if spec.operator == "===":
            continue
        text = spec.version.removesuffix(".*")
        version = Version(text)
        yield version
        if spec.operator == "~=" or spec.version.endswith(".*"):
            release = version.release[:-1] if spec.operator == "~=" else version.release
            yield Version(".".join(map(str, (*release[:-1], release[-1] + 1))))


def _probes(bounds: list[Version]) -> list[Version]:
    """Each bound, a hair above it and a hair below it, in order (bounds themselves first)."""
    probes = set(bounds)
    for version in bounds:
        release = version.release
        probes.add(Version(".".join(map(str, (*release, 0, 0, 1)))))
        nonzero = [i for i, part in enumerate(release) if part]
        if nonzero:
            i = nonzero[-1]
            below = (*release[:i], release[i] - 1, 99999)
            probes.add(Version(".".join(map(str, below))))
    return sorted(probes)


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split(".") if part.isdigit())


def _check_instances(instances: Mapping[str, Any], doc: Mapping[str, Any],
                     where: Where) -> list[Problem]:
    prefix = doc["repo"].replace("/", "__") + "-"
    pattern = re.compile(re.escape(prefix) + r"[1-9][0-9]*")
    problems = []
    for key, override in instances.items():
        if not pattern.fullmatch(key):
            problems.append(_problem(where, ("instances", key), f"not an instance id of "
                                     f"{doc['repo']} (expected {prefix}<pull number>)"))
        version = override.get("version")
        if version is not None:
            problems += _check_forced_version(version, doc["environments"],
                                              ("instances", key, "version"), where)
    return problems


def _check_forced_version(version: str, envs: Sequence[Mapping[str, Any]], parts: Path_,
                          where: Where) -> list[Problem]:
    try:
        Version(version)
    except InvalidVersion:
        return [_problem(where, parts, f"not a PEP 440 version (got {version!r})")]
    for env in envs:
        try:
            if not env.get("versions", "").strip() or SpecifierSet(env["versions"]).contains(
                    version, prereleases=True):
                return []
        except InvalidSpecifier:
            return []  # already reported at the environment
    return [_problem(where, parts, f"no environment serves version {version}")]


# ---- shell fragments --------------------------------------------------------------------

@dataclass(frozen=True)
class ShellFragment:
    """One piece of shell from a spec, with where it is and its path for messages."""

    where: str
    path: str  # e.g. environments[0].install[1]
    text: str


def shell_fragments(doc: Mapping[str, Any], where: Where,
                    broken: Collection[str] = ()) -> list[ShellFragment]:
    """Every shell fragment (the commands bash will run) in the sections that passed the
    schema."""
    def ok(section: str) -> bool:
        return section in doc and section not in broken

    found: list[tuple[Path_, str]] = []
    if ok("tests"):
        found.append((("tests", "command"), doc["tests"]["command"]))
        found += [(("tests", "prepare", j), text)
                  for j, text in enumerate(doc["tests"].get("prepare", []))]
    if ok("version") and "command" in doc["version"]:
        found.append((("version", "command"), doc["version"]["command"]))
    for i, env in enumerate(doc["environments"] if ok("environments") else []):
        for key in ("pre_install", "install", "post_install", "prepare"):
            found += [(("environments", i, key, j), text)
                      for j, text in enumerate(env.get(key, []))]
    for key, override in (doc["instances"] if ok("instances") else {}).items():
        if "test_command" in override:
            found.append((("instances", key, "test_command"), override["test_command"]))
    return [ShellFragment(where(parts), label(parts), text) for parts, text in found]


_BASH_LINE = re.compile(r"^bash: (?:-c: )?line (\d+): (.*)$")


def check_shell(fragments: Sequence[ShellFragment]) -> list[Problem]:
    """``bash -n`` on every fragment: one bash for all of them, and one per fragment only
    when that batch fails (bash stops at the first error, and every error must be named)."""
    if not fragments:
        return []
    script = "".join(f"__swegc_{i}() {{\n{f.text}\n}}\n" for i, f in enumerate(fragments))
    if _bash_n(script) is None:
        return []
    with ThreadPoolExecutor(max_workers=8) as pool:
        errors = list(pool.map(lambda f: _bash_n(f.text), fragments))
    return [Problem(f.where, f"{f.path}: not valid bash: {error}")
            for f, error in zip(fragments, errors) if error is not None]


def _bash_n(script: str) -> str | None:
    """bash's complaint about ``script`` (syntax only, nothing runs), or None if it parses."""
    done = subprocess.run(["bash", "-n"], input=script, capture_output=True, text=True,
                          env={"LC_ALL": "C", "PATH": "/usr/bin:/bin"}, check=False)
    if done.returncode == 0:
        return None
    lines = [line for line in done.stderr.splitlines() if "warning:" not in line]
    multi_line = "\n" in script.strip()
    for line in lines:
        match = _BASH_LINE.match(line)
        if match:
            where = f" (line {match.group(1)} of the command)" if multi_line else ""
            return match.group(2).replace("`", "'") + where
        if line.startswith("bash: "):
            return line.removeprefix("bash: ").replace("`", "'")
    return (lines[0] if lines else f"bash -n exited with {done.returncode}").replace("`", "'")
