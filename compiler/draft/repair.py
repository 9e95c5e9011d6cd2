"""Rules that turn a probe's ``Failure`` into edits of the drafted spec, each with its reason.

A rule is a plain function of a failure and the draft as it stands: it says which key to set to
what, and why (the reason becomes the key's comment in the written spec, so a user reading the
spec later sees "PyYAML: tests/test_io.py imports yaml" rather than a line nobody explains).
The tables (``repair_tables.py``) are the knowledge: which pip package provides an import name,
which Debian package a header or library comes from, which plugin gives a pytest option.
Nothing here runs anything; ``probe.py`` applies the edits and compiles again to see if they
helped, and drops those that did not.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from swegc.compiler.draft.failures import Failure, Kind
from swegc.compiler.draft.model import Draft
from swegc.compiler.draft.repair_tables import (HEADER_APT, LIBRARY_APT, MODULE_PACKAGES,
                                                PLUGINS, TOOLS)

MAX_TIMEOUT_S = 3600


@dataclass(frozen=True)
class Edit:
    """Set the key at ``path`` (dotted, list items by index) to ``value``, because ``why``."""

    path: str
    value: Any
    why: str

    def signature(self) -> str:
        """What the edit does, to tell one tried before (a reverted edit is not tried again)."""
        return f"{self.path}={self.value!r}"

    def describe(self) -> str:
        """The edit on one line for the round's echo: ``environments[0].pip += PyYAML``."""
        return f"{self.path} = {self.value!r}"


@dataclass(frozen=True)
class Context:
    """What the rules need besides the failure and the draft."""

    pythons: tuple[str, ...] = ("3.9", "3.11", "3.13")  # Pythons the machine can build
    own_modules: frozenset[str] = frozenset()  # top-level packages of the repository itself
    tried: frozenset[str] = field(default_factory=frozenset)  # signatures of reverted edits


Rule = Callable[[Failure, Draft, int, Context], list[Edit]]


def edits_for(failure: Failure, draft: Draft, context: Context) -> list[Edit]:
    """The edits a rule proposes for ``failure`` (none where no rule answers), for its own
    environment or, where the reports did not say which, for each one; edits tried before and
    edits that change nothing are left out."""
    rule = RULES.get(failure.kind)
    if rule is None:
        return []
    envs = draft.get("environments") or []
    indexes = [failure.env_index] if failure.env_index is not None else range(len(envs))
    edits: list[Edit] = []
    for index in indexes:
        for edit in rule(failure, draft, index, context):
            if edit.signature() not in context.tried and draft.get(edit.path) != edit.value:
                edits.append(edit)
    return edits


def apply(draft: Draft, edit: Edit) -> Draft:
    """The draft with ``edit`` made; the key's earlier reason is kept before the new one."""
    before = draft.why.get(edit.path, "")
    why = f"{before}; {edit.why}" if before and edit.why not in before else edit.why
    return draft.with_edit(edit.path, edit.value, why)


# ---- the rules -----------------------------------------------------------------------------

def _missing_module(failure: Failure, draft: Draft, env: int, context: Context) -> list[Edit]:
    module = failure.subject
    where = "the install" if failure.kind is Kind.MISSING_MODULE_BUILD else "the tests"
    if module in context.own_modules:
        install = list(draft.get(f"environments.{env}.install") or [])
        if any("pip install" in line and " -e" in line for line in install):
            return []
        return [Edit(f"environments.{env}.install", [*install, "pip install -e ."],
                     f"{where} import the repository's own {module}, which was not installed")]
    package = MODULE_PACKAGES.get(module, module.replace("_", "-"))
    if not package:
        return []
    pip = list(draft.get(f"environments.{env}.pip") or [])
    if _requirement_named(pip, package) is not None:
        if failure.kind is Kind.MISSING_MODULE_BUILD:
            return _no_build_isolation(draft, env, module)
        return []
    return [Edit(f"environments.{env}.pip", [*pip, package],
                 f"{package}: {where} import {module} ({failure.evidence[:80]})")]


def _no_build_isolation(draft: Draft, env: int, module: str) -> list[Edit]:
    """The module is in the env and the install still lacks it: pip builds in isolation."""
    install = list(draft.get(f"environments.{env}.install") or [])
    changed = [line.replace("pip install ", "pip install --no-build-isolation ", 1)
               if line.startswith("pip install") and "--no-build-isolation" not in line
               else line for line in install]
    if changed == install:
        return []
    return [Edit(f"environments.{env}.install", changed,
                 f"the build imports {module} (in the env's pip) outside its isolated build "
                 "environment: build without isolation")]


def _apt(package: str, what: str) -> Callable[[Draft, int], list[Edit]]:
    def edit(draft: Draft, env: int) -> list[Edit]:
        apt = list(draft.get(f"environments.{env}.apt") or [])
        if package in apt:
            return []
        return [Edit(f"environments.{env}.apt", [*apt, package], f"{package}: {what}")]
    return edit


def _missing_header(failure: Failure, draft: Draft, env: int, context: Context) -> list[Edit]:
    package = HEADER_APT.get(failure.subject)
    if package is None:
        return []
    tools = _apt("build-essential", "a C compiler for the extensions")(draft, env) \
        if failure.subject == "Python.h" else []
    return _apt(package, f"the build includes {failure.subject}")(draft, env) + tools


def _missing_library(failure: Failure, draft: Draft, env: int, context: Context) -> list[Edit]:
    package = LIBRARY_APT.get(failure.subject, f"lib{failure.subject}-dev")
    return _apt(package, f"the build links -l{failure.subject}")(draft, env)


def _missing_tool(failure: Failure, draft: Draft, env: int, context: Context) -> list[Edit]:
    where, package = TOOLS.get(failure.subject, ("", ""))
    if where == "apt":
        return _apt(package, f"the build runs {failure.subject}")(draft, env)
    if where == "pip":
        return _pip_set(draft, env, package, f"{package}: the build runs {failure.subject}")
    return []


def _source_build(failure: Failure, draft: Draft, env: int, context: Context) -> list[Edit]:
    """No wheel for this Python at this date, and no build from source: the Debian packages
    its build needs where the draft's rules table knows them, else an older Python."""
    from swegc.compiler.draft.apt_rules import RULES as APT_RULES

    rule = APT_RULES.get(re.sub(r"[-_.]+", "-", failure.subject).lower())
    apt = list(draft.get(f"environments.{env}.apt") or [])
    if rule is not None and any(p not in apt for p in rule.packages):
        return [Edit(f"environments.{env}.apt", [*apt, *(p for p in rule.packages if p not in apt)],
                     f"{rule.why} ({failure.subject} had no wheel and built from source)")]
    current = str(draft.get(f"environments.{env}.python") or "")
    if draft.get(f"environments.{env}.base_image"):
        return []
    older = [p for p in context.pythons if _version(p) < _version(current)]
    if not older:
        return []
    return [Edit(f"environments.{env}.python", older[-1],
                 f"{failure.subject} has no wheel for Python {current} at this date and did "
                 "not build from source")]


def _python_unsupported(failure: Failure, draft: Draft, env: int, context: Context) -> list[Edit]:
    try:
        allowed = SpecifierSet(failure.subject)
    except InvalidSpecifier:
        return []
    current = str(draft.get(f"environments.{env}.python") or "")
    if draft.get(f"environments.{env}.base_image") or \
            (current and allowed.contains(f"{current}.0", prereleases=True)):
        return []
    fits = [p for p in context.pythons if allowed.contains(f"{p}.0", prereleases=True)]
    if not fits:
        return []
    what = failure.extra.get("package") or "a requirement"
    return [Edit(f"environments.{env}.python", fits[-1],
                 f"{what} requires Python {failure.subject}")]


def _unresolvable(failure: Failure, draft: Draft, env: int, context: Context) -> list[Edit]:
    if failure.extra.get("absent"):  # no such package on the index: a requirement misread
        pip = list(draft.get(f"environments.{env}.pip") or [])
        at = _requirement_named(pip, failure.subject)
        if at is None:
            return []
        return [Edit(f"environments.{env}.pip", pip[:at] + pip[at + 1:],
                     f"{pip[at]} removed: no package of that name is on the index")]
    if not draft.get(f"environments.{env}.pip_date"):
        return []
    pinned = failure.extra.get("pinned", "")
    overridden = _override(draft, env, failure.subject, pinned) if pinned else []
    return overridden or _exempt(draft, env, failure.subject,
                   f"{failure.subject} has no release the resolver could use by pip_date")


OVERRIDES = "/tmp/swegc-overrides.txt"
_OVERRIDDEN = re.compile(r"^printf '(?P<lines>[^']*)' > \S+ && UV_OVERRIDE=\S+ (?P<rest>.*)$")


def _override(draft: Draft, env: int, name: str, pinned: str) -> list[Edit]:
    """A requirement pins a build the index never had (``moto==1.3.16.dev122`` in a setup.py
    extra): uv's override file (``UV_OVERRIDE``; under pip_date ``pip`` runs uv) replaces it
    with the release it led to, as SWE-Gym edited setup.py. The file is written by each
    install line itself: it must exist in the env image and again in every instance layer
    (a file ``pre_install`` writes does too, now that the build runs no uv before it; this
    keeps each line whole on its own)."""
    try:
        release = Version(pinned).base_version
    except InvalidVersion:
        return []
    if release == pinned:
        return []
    install = list(draft.get(f"environments.{env}.install") or [])
    changed = []
    for line in install:
        if "pip install" not in line:
            changed.append(line)
            continue
        known = _OVERRIDDEN.match(line)
        entries = [e for e in (known["lines"].split("\\n") if known else [])
                   if e and not e.startswith(f"{name}==")] + [f"{name}=={release}"]
        body = "\\n".join(entries)
        changed.append(f"printf '{body}\\n' > {OVERRIDES} && UV_OVERRIDE={OVERRIDES} "
                       f"{known['rest'] if known else line}")
    if changed == install:
        return []
    return [Edit(f"environments.{env}.install", changed,
                 f"{name}=={pinned} is pinned by the project and was never on the index: "
                 f"{release} instead, through uv's override file")]


def _resolution_lag(failure: Failure, draft: Draft, env: int, context: Context) -> list[Edit]:
    return _exempt(draft, env, failure.subject,
                   f"{failure.subject} has no release uploaded by pip_date and held others back")


def _exempt(draft: Draft, env: int, name: str, why: str) -> list[Edit]:
    exempt = list(draft.get(f"environments.{env}.pip_date_exempt") or [])
    if name in exempt:
        return []
    return [Edit(f"environments.{env}.pip_date_exempt", [*exempt, name], why)]


def _missing_plugin(failure: Failure, draft: Draft, env: int, context: Context) -> list[Edit]:
    subject = failure.subject
    package = PLUGINS.get(subject) or next(
        (p for option, p in PLUGINS.items() if option.startswith("--") and p
         and subject.startswith(option)), "")
    if not package or _requirement_named(draft.get(f"environments.{env}.pip") or [],
                                         package) is not None:
        return []
    what = f"the fixture {subject}" if not subject.startswith("-") else \
        f"the option {subject} (in the pytest configuration's addopts?)"
    return _pip_set(draft, env, package, f"{package}: the tests use {what}")


def _old_api(failure: Failure, draft: Draft, env: int, context: Context) -> list[Edit]:
    pin = failure.extra.get("pin", "")
    return _pip_set(draft, env, pin, f"{pin}: {failure.extra.get('why', failure.evidence)}")


def _nose_setup(failure: Failure, draft: Draft, env: int, context: Context) -> list[Edit]:
    return _pip_set(draft, env, "pytest<8", "pytest<8: pytest 8 no longer calls nose-style "
                    "setup()/teardown(), and tests fail on attributes they set")


def _stale_extension(failure: Failure, draft: Draft, env: int, context: Context) -> list[Edit]:
    """The image built the extensions at the base commit; a fix to their sources needs them
    built again after the patch, as SWE-bench's eval scripts reinstall."""
    if draft.get(f"environments.{env}.prepare"):
        return []
    return [Edit(f"environments.{env}.prepare",
                 ["pip install --no-deps --no-build-isolation -e ."],
                 f"the fix changes compiled sources ({failure.subject or 'an extension'}): "
                 "build them again after the patches")]


def _timeout(failure: Failure, draft: Draft, env: int, context: Context) -> list[Edit]:
    current = int(draft.get("tests.timeout") or 900)
    if current >= MAX_TIMEOUT_S:
        return []
    return [Edit("tests.timeout", min(current * 2, MAX_TIMEOUT_S),
                 f"runs of {', '.join(failure.instances[:2]) or 'the tests'} hit "
                 f"{current}s")]


def _network(failure: Failure, draft: Draft, env: int, context: Context) -> list[Edit]:
    return [Edit("tests.network", True,
                 "tests download data (their logs show failed downloads without the network)")]


def _pip_set(draft: Draft, env: int, requirement: str, why: str) -> list[Edit]:
    """The env's pip with ``requirement`` replacing any requirement of the same package."""
    pip = list(draft.get(f"environments.{env}.pip") or [])
    at = _requirement_named(pip, _name(requirement))
    if at is not None and pip[at] == requirement:
        return []
    if at is None:
        pip.append(requirement)
    else:
        pip[at] = requirement
    return [Edit(f"environments.{env}.pip", pip, why)]


RULES: dict[Kind, Rule] = {
    Kind.MISSING_MODULE_BUILD: _missing_module, Kind.MISSING_MODULE_TESTS: _missing_module,
    Kind.MISSING_HEADER: _missing_header, Kind.MISSING_LIBRARY: _missing_library,
    Kind.MISSING_TOOL: _missing_tool, Kind.SOURCE_BUILD: _source_build,
    Kind.PYTHON_UNSUPPORTED: _python_unsupported, Kind.UNRESOLVABLE: _unresolvable,
    Kind.RESOLUTION_LAG: _resolution_lag, Kind.MISSING_PLUGIN: _missing_plugin, Kind.OLD_API: _old_api, Kind.NOSE_SETUP: _nose_setup,
    Kind.STALE_EXTENSION: _stale_extension, Kind.TIMEOUT: _timeout, Kind.NETWORK: _network,
}


# ---- splitting a version range ----------------------------------------------------------------

def split_at(draft: Draft, env: int, at: str, why: str) -> tuple[Draft, int, int]:
    """The draft with environment ``env`` split at version ``at``: the entry keeps the versions
    below, a copy (appended) serves ``at`` and above. Returns the draft and the indexes of the
    lower and upper entries. An edit that only the versions from ``at`` on need then goes to
    the upper entry, and the lower ones keep what already worked for them."""
    entry = dict(draft.get(f"environments.{env}") or {})
    versions = str(entry.get("versions") or "")
    lower = ",".join(filter(None, [versions, f"<{at}"]))
    upper = ",".join(filter(None, [versions, f">={at}"]))
    count = len(draft.get("environments") or [])
    draft = draft.with_edit(f"environments.{env}.versions", lower,
                            f"versions before {at}; {why}")
    draft = draft.with_edit(f"environments.{count}", {**entry, "versions": upper},
                            f"split off at {at}: {why}")
    return draft, env, count


def split_point(failing: Sequence[str], passing: Sequence[str]) -> tuple[str, str] | None:
    """Where a range splits so that the versions of ``failing`` instances and those of
    ``passing`` ones fall on either side: ("above", V) when every failing version is >= V
    and every passing one below it, ("below", V) for the reverse; None when they interleave
    or a version does not parse."""
    try:
        bad = sorted({Version(v) for v in failing})
        good = sorted({Version(v) for v in passing})
    except InvalidVersion:
        return None
    if not bad or not good:
        return None
    if bad[0] > good[-1]:
        return ("above", str(bad[0]))
    if bad[-1] < good[0]:
        return ("below", str(good[0]))
    return None


def _version(text: str) -> Version:
    try:
        return Version(text)
    except InvalidVersion:
        return Version("0")


_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _name(requirement: str) -> str:
    match = _NAME.match(requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else requirement.lower()


def _requirement_named(pip: Sequence[str], name: str) -> int | None:
    wanted = _name(name)
    for index, requirement in enumerate(pip):
        if _name(requirement) == wanted:
            return index
    return None
