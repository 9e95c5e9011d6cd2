"""Spec files to checked, typed ``RepoSpec`` objects, or every problem with its file and line.

Stages, each on all files before anything is raised: read and parse YAML (keeping lines),
merge ``extends`` layers under each file, validate the merged document against
``specs/schema.json``, run the semantic checks (``spec.checks``), then build the dataclasses
of ``spec.py``. One ``SpecError`` lists every problem of every file, because fixing specs one
error per run is slow and the user wants to see them all.
"""

from __future__ import annotations

import copy
import importlib.resources
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from swegc.compiler.spec import checks as spec_checks
from swegc.compiler.spec.model import (BuildSpec, CaseDirectives, EnvironmentSpec, Filters,
                                       GithubSource, GitSource, InstanceOverride, NodeSpec,
                                       PackageIndex, RepoSpec, SourceSpec, TestsSpec, VersionSpec)
from swegc.compiler.spec.checks import ShellFragment, did_you_mean
from swegc.compiler.spec.yaml_lines import YamlSyntaxError, dotted, join, label, load_yaml
from swegc.errors import Problem, SpecError
from swegc.hashing import content_hash

BUILTIN_PREFIX = "swegc:"
SPEC_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class Origin:
    """Where one value was written: the file (real path and how to show it) and the line."""

    file: Path
    display: str
    line: int = 0
    raw: str | None = None  # source text of a non-string scalar (3.10 for the float 3.1)

    def __str__(self) -> str:
        return f"{self.display}:{self.line}" if self.line else self.display


Origins = dict[str, Origin]  # dotted path -> origin


@dataclass
class _Layer:
    """A file with its own ``extends`` already merged in: plain values and their origins."""

    doc: dict[str, Any]
    origins: Origins


def load_specs(paths: Sequence[str | Path]) -> list[RepoSpec]:
    """Load, merge, check and type every spec under ``paths`` (files, or folders of
    ``*.yaml``/``*.yml`` whose names do not start with ``_``). Raises ``SpecError`` with all
    problems of all files if there is any."""
    problems: list[Problem] = []
    files = _spec_files(paths, problems)
    resolver = _Resolver()
    checked: list[tuple[Path, _Layer]] = []
    fragments: list[ShellFragment] = []
    per_file: list[list[Problem]] = []
    for path in files:
        file_problems: list[Problem] = []
        layer = resolver.resolve(path, (), file_problems, extends_at=None)
        if layer is not None:
            where = _locator(layer, path)
            schema_problems, broken = _check_schema(layer, where)
            file_problems += schema_problems
            file_problems += spec_checks.check_document(layer.doc, where, broken)
            fragments += spec_checks.shell_fragments(layer.doc, where, broken)
            if not file_problems:
                checked.append((path, layer))
        per_file.append(file_problems)
    problems += [p for group in per_file for p in group]
    problems += spec_checks.check_shell(fragments)
    problems += _check_unique_repos(checked)
    if problems:
        raise SpecError(sorted(_unique(problems), key=_line_order))
    return [_build(path, layer) for path, layer in checked]


# ---- finding files -----------------------------------------------------------------------

def _spec_files(paths: Sequence[str | Path], problems: list[Problem]) -> list[Path]:
    files: list[Path] = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix in SPEC_SUFFIXES
                           and not p.name.startswith("_") and p.is_file())
            if not found:
                problems.append(Problem(str(given), "no spec files (*.yaml, *.yml) in this folder"))
            files += [p.resolve() for p in found]
        elif path.is_file():
            files.append(path.resolve())
        else:
            problems.append(Problem(str(given), "no such file or folder"))
    return list(dict.fromkeys(files))


def display(path: Path) -> str:
    """A path as a user reads it: relative to the working folder when it is inside it."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def builtin_defaults() -> dict[str, Path]:
    """``swegc:NAME`` -> file, for every shipped defaults file (``specs/defaults/NAME.yaml``)."""
    folder = importlib.resources.files("swegc.specs").joinpath("defaults")
    return {f"{BUILTIN_PREFIX}{Path(item.name).stem}": Path(str(item))
            for item in folder.iterdir() if item.name.endswith(".yaml")}


# ---- reading and merging -----------------------------------------------------------------

class _Resolver:
    """Reads files once (a shared partial may be extended by many specs) and merges layers."""

    def __init__(self) -> None:
        self.cache: dict[Path, _Layer | None] = {}
        self.cache_problems: dict[Path, list[Problem]] = {}

    def resolve(self, path: Path, stack: tuple[Path, ...], problems: list[Problem],
                extends_at: Origin | None) -> _Layer | None:
        if path in stack:
            chain = " -> ".join(display(p) for p in (*stack[stack.index(path):], path))
            assert extends_at is not None
            problems.append(Problem(str(extends_at), f"extends: cycle {chain}"))
            return None
        if path not in self.cache:
            found: list[Problem] = []
            self.cache[path] = self._resolve(path, (*stack, path), found)
            self.cache_problems[path] = found
        problems += self.cache_problems[path]
        return self.cache[path]

    def _resolve(self, path: Path, stack: tuple[Path, ...],
                 problems: list[Problem]) -> _Layer | None:
        own = _read(path, problems)
        if own is None:
            return None
        merged = _Layer({}, {})
        for target, origin in self._extends(own, path, problems):
            base = self.resolve(target, stack, problems, extends_at=origin)
            if base is not None:
                _merge(merged, base, "")
        own.doc.pop("extends", None)
        for key in [k for k in own.origins if k == "extends" or k.startswith("extends.")]:
            del own.origins[key]
        _merge(merged, own, "")
        merged.origins[""] = own.origins[""]
        return merged

    def _extends(self, own: _Layer, path: Path,
                 problems: list[Problem]) -> list[tuple[Path, Origin]]:
        value = own.doc.get("extends")
        if value is None:
            return []
        entries = value if isinstance(value, list) else [value]
        found = []
        for index, entry in enumerate(entries):
            key = join("extends", index) if isinstance(value, list) else "extends"
            origin = own.origins.get(key, own.origins["extends"])
            if not isinstance(entry, str) or not entry:
                problems.append(Problem(str(origin), f"{label(tuple(key.split('.')))}: expected "
                                        f"a file name or swegc:NAME (got {entry!r})"))
                continue
            target = self._target(entry, path, origin, problems)
            if target is not None:
                found.append((target, origin))
        return found

    @staticmethod
    def _target(entry: str, path: Path, origin: Origin, problems: list[Problem]) -> Path | None:
        if entry.startswith(BUILTIN_PREFIX):
            builtins = builtin_defaults()
            if entry in builtins:
                return builtins[entry]
            problems.append(Problem(str(origin), f"extends: no built-in defaults '{entry}'"
                                    f"{did_you_mean(entry, sorted(builtins))}; built-in: "
                                    f"{', '.join(sorted(builtins))}"))
            return None
        target = (path.parent / Path(entry).expanduser()).resolve()
        if not target.is_file():
            problems.append(Problem(str(origin), f"extends: no such file '{entry}' (looked for "
                                    f"{display(target)})"))
            return None
        return target


def _read(path: Path, problems: list[Problem]) -> _Layer | None:
    shown = display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(shown, f"cannot read the file: {exc}"))
        return None
    try:
        loaded = load_yaml(text)
    except YamlSyntaxError as exc:
        problems.append(Problem(f"{shown}:{exc.line}" if exc.line else shown, exc.message))
        return None
    for dup_path, line, first in loaded.duplicates:
        problems.append(Problem(f"{shown}:{line}", f"{label(tuple(dup_path.split('.')))}: "
                                f"key given twice (first at line {first}); remove one"))
    data = {} if loaded.data is None else loaded.data
    if not isinstance(data, dict):
        problems.append(Problem(f"{shown}:{loaded.lines.get('', 1)}", "expected a mapping of "
                                f"spec keys (repo:, source:, ...), got {_describe(data, None)}"))
        return None
    origins = {key: Origin(path, shown, line, loaded.raw.get(key))
               for key, line in loaded.lines.items()}
    origins[""] = Origin(path, shown)
    return _Layer(data, origins)


def _merge(into: _Layer, over: _Layer, path: str) -> None:
    """Deep merge ``over`` onto ``into``: mappings key by key, anything else (lists too)
    replaced whole, with the origins of replaced values replaced alongside."""
    target = _at(into.doc, path)
    source = _at(over.doc, path)
    for key, value in source.items():
        child = join(path, key)
        if isinstance(target.get(key), dict) and isinstance(value, dict):
            if child in over.origins:
                into.origins[child] = over.origins[child]
            _merge(into, over, child)
            continue
        target[key] = copy.deepcopy(value)
        prefix = child + "."
        for old in [k for k in into.origins if k == child or k.startswith(prefix)]:
            del into.origins[old]
        into.origins.update({k: o for k, o in over.origins.items()
                             if k == child or k.startswith(prefix)})


def _at(doc: dict[str, Any], path: str) -> dict[str, Any]:
    node = doc
    for key in path.split(".") if path else []:
        node = node[key]
    return node


# ---- checking ----------------------------------------------------------------------------

@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The JSON Schema of a spec file (``specs/schema.json``, shipped as package data)."""
    text = importlib.resources.files("swegc.specs").joinpath("schema.json").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator  # a noticeable import: only when checking

    return Draft202012Validator(schema())


def _locator(layer: _Layer, spec_path: Path) -> spec_checks.Where:
    def where(parts: tuple[str | int, ...]) -> str:
        key = dotted(parts)
        while True:
            if key in layer.origins:
                return str(layer.origins[key])
            if not key:
                return display(spec_path)
            key = key.rpartition(".")[0]
    return where


def _check_schema(layer: _Layer, where: spec_checks.Where) -> tuple[list[Problem], set[str]]:
    """Schema problems, and the top-level sections they make unfit for semantic checks."""
    errors = sorted(_validator().iter_errors(layer.doc), key=lambda e: list(map(str, e.path)))
    broken: set[str] = set()
    for error in errors:
        if error.path:
            broken.add(str(error.path[0]))
        elif error.validator == "required":
            broken.update(error.validator_value)
    return [p for error in errors for p in _translate(error, layer, where)], broken


def _line_order(problem: Problem) -> tuple[str, int]:
    file, _, line = problem.where.rpartition(":")
    return (file, int(line)) if line.isdigit() else (problem.where, 0)


def _translate(error: Any, layer: _Layer, where: spec_checks.Where) -> list[Problem]:
    """A jsonschema error as the sentences a user can act on (one per key involved)."""
    parts = tuple(error.absolute_path)
    prefix = f"{label(parts)}: " if parts else ""
    kind, value, sub = error.validator, error.validator_value, error.schema
    instance = error.instance
    if "propertyNames" in error.relative_schema_path:
        expected = sub.get("x-expected") or sub.get("description", "a valid name")
        return [Problem(where((*parts, instance)), f"{prefix}key '{instance}' is not valid: "
                        f"expected {expected[0].lower() + expected[1:].rstrip('.')}")]
    if kind == "additionalProperties":
        known = sorted(sub.get("properties", {}))
        extras = [k for k in instance if k not in known]
        return [Problem(where((*parts, key)), f"{prefix}unknown key '{key}'"
                        f"{did_you_mean(key, known) or ' (known keys: ' + ', '.join(known) + ')'}")
                for key in extras]
    if kind == "required":
        return [Problem(where(parts), f"{prefix}missing required key '{key}' "
                        f"({_short(sub['properties'][key].get('description', ''))})")
                for key in value if key not in instance]
    raw = layer.origins.get(dotted(parts))
    got = _describe(instance, raw.raw if raw else None,
                    wants_string="string" in ([value] if isinstance(value, str) else value)
                    if kind == "type" else False)
    if kind == "type":
        types = [value] if isinstance(value, str) else value
        expected = " or ".join(_TYPE_WORDS[t] for t in types)
        if "examples" in sub and "string" in types:
            expected += f' like "{sub["examples"][0]}"'
        return [Problem(where(parts), f"{prefix}expected {expected} (got {got})")]
    if kind == "enum":
        hint = did_you_mean(str(instance), [str(v) for v in value])
        return [Problem(where(parts), f"{prefix}expected one of {', '.join(map(str, value))} "
                        f"(got {got}){hint}")]
    if kind in ("oneOf", "anyOf") and isinstance(instance, (dict, str)):
        # A mapping where a mapping is one of the choices (a string where a list of names is):
        # that choice's own problems say more than "none of the choices".
        branch = next((i for i, choice in enumerate(value)
                       if (choice.get("type") == "object" if isinstance(instance, dict)
                           else "enum" in choice)), None)
        inner = [e for e in error.context if e.relative_schema_path
                 and e.relative_schema_path[0] == branch]
        if inner:
            return [p for e in inner for p in _translate(e, layer, where)]
    if kind in ("oneOf", "anyOf") and "x-expected" in sub:
        return [Problem(where(parts), f"{prefix}expected {sub['x-expected']} (got {got})")]
    if kind == "pattern":
        expected = sub.get("x-expected") or (f'a string like "{sub["examples"][0]}"'
                                             if "examples" in sub else f"a string matching {value}")
        return [Problem(where(parts), f"{prefix}expected {expected} (got {got})")]
    messages = {"minLength": "must not be empty", "minItems": f"needs at least {value} item(s)",
                "minimum": f"must be at least {value} (got {got})",
                "maximum": f"must be at most {value} (got {got})"}
    return [Problem(where(parts), prefix + messages.get(kind, error.message))]


_TYPE_WORDS = {"string": "a string", "integer": "a whole number", "number": "a number",
               "boolean": "true or false", "array": "a list", "object": "a mapping",
               "null": "nothing"}


def _short(description: str) -> str:
    first = description.split("; ")[0].split(". ")[0].rstrip(".")
    return first[:1].lower() + first[1:]


def _describe(value: Any, raw: str | None, wants_string: bool = False) -> str:
    """How a wrong value reads in a message; for a number or boolean where a string was
    wanted, say that YAML read it so and how to quote it."""
    if value is None:
        text = "nothing"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = str(value)
    elif isinstance(value, dict):
        return "a mapping"
    elif isinstance(value, list):
        return "a list"
    else:
        return f"'{value}'"
    if wants_string and raw is not None:
        read = "as a number" if isinstance(value, (int, float)) and not isinstance(value, bool) \
            else f"as {text}"
        if raw != text or read != "as a number":
            return f"{text}: YAML reads {raw} {read}, so write \"{raw}\" in quotes"
        return f"{text}: a number to YAML, so write \"{raw}\" in quotes"
    return text


def _check_unique_repos(checked: list[tuple[Path, _Layer]]) -> list[Problem]:
    first: dict[str, Path] = {}
    problems = []
    for path, layer in checked:
        repo = layer.doc["repo"]
        if repo in first:
            problems.append(Problem(str(layer.origins["repo"]), f"repo: {repo} is also specified "
                                    f"in {display(first[repo])}; one spec per repository"))
        first.setdefault(repo, path)
    return problems


def _unique(problems: list[Problem]) -> list[Problem]:
    return list(dict.fromkeys(problems))


# ---- building the typed spec -------------------------------------------------------------

def _build(path: Path, layer: _Layer) -> RepoSpec:
    doc, origins = layer.doc, layer.origins

    def local(key: str, value: str | None = None) -> Path:
        """A path written in a spec file is relative to the file it is written in.

        ``value``: the path itself, for keys that are not dotted names (a submodule path).
        """
        origin = origins.get(key)
        base = origin.file.parent if origin else path.parent
        written = doc_at(key) if value is None else value
        return Path(os.path.normpath(base / Path(written).expanduser()))

    def doc_at(key: str) -> Any:
        head, _, last = key.rpartition(".")
        return _at(doc, head)[last]

    return RepoSpec(
        path=path, repo=doc["repo"], source=_source(doc["source"], local),
        tests=_tests(doc["tests"]), version=_version(doc["version"]),
        environments=tuple(_environment(env, str(origins[f"environments.{i}"]))
                           for i, env in enumerate(doc["environments"])),
        build=BuildSpec(**{k: v for k, v in doc.get("build", {}).items()}),
        instances={key: InstanceOverride(**{**value, "env": _env(value.get("env", {}))},
                                         where=str(origins[f"instances.{key}"]))
                   for key, value in doc.get("instances", {}).items()},
        spec_hash=content_hash(doc),
        locations={key: str(o) for key, o in origins.items() if key and o.line})


def _source(source: dict[str, Any], local: Any) -> SourceSpec:
    kind = next(k for k in ("git", "jsonl", "instances", "github") if k in source)
    git = source.get("git")
    instances = source.get("instances")
    if instances is not None and not instances.startswith("hub:"):
        instances = str(local("source.instances"))
    filters = dict(source.get("filters", {}))
    for key in ("labels", "exclude_labels", "numbers"):
        if key in filters:
            filters[key] = tuple(filters[key])
    return SourceSpec(
        kind=kind, clone=local("source.clone") if "clone" in source else None,
        git=_git_source(git, local) if git is not None else None,
        jsonl=local("source.jsonl") if "jsonl" in source else None,
        instances=instances,
        github=GithubSource(**source["github"]) if "github" in source else None,
        filters=Filters(**filters),
        submodules={name: local("source.submodules", clone)
                    for name, clone in source.get("submodules", {}).items()})


def _git_source(git: dict[str, Any], local: Any) -> GitSource:
    values = dict(git)
    branch = values.pop("branch", None)
    branches = () if branch is None else (branch,) if isinstance(branch, str) else tuple(branch)
    issues = local("source.git.issues") if "issues" in values else None
    return GitSource(**{**values, "branches": branches, "issues": issues})


def _tests(tests: dict[str, Any]) -> TestsSpec:
    # Every list becomes a tuple (the typed spec is immutable): a new list setting needs no line here.
    values = {key: tuple(value) if isinstance(value, list) else value for key, value in tests.items()}
    values["env"] = _env(values.get("env", {}))
    if isinstance(values.get("directives"), dict):
        values["directives"] = CaseDirectives(**values["directives"])
    return TestsSpec(**values)


def _version(version: dict[str, Any]) -> VersionSpec:
    values = dict(version)
    return VersionSpec(strategy=values.pop("from"), **values)


def _environment(env: dict[str, Any], where: str) -> EnvironmentSpec:
    values = dict(env)
    for key in ("apt", "pre_install", "pip", "install", "post_install", "pip_date_exempt",
                "build_outputs", "prepare"):
        if key in values:
            values[key] = tuple(values[key])
    values["env"] = _env(values.get("env", {}))
    values.setdefault("versions", "")
    if values.get("node") is not None:
        node = dict(values["node"])
        node["install"] = tuple(node.get("install", ()))
        values["node"] = NodeSpec(**node)
    values["indexes"] = tuple(PackageIndex(url=i["url"], packages=tuple(i["packages"]))
                              for i in values.get("indexes", []))
    return EnvironmentSpec(where=where, **values)


def _env(values: dict[str, Any]) -> dict[str, str]:
    return {str(k): str(v) for k, v in values.items()}
