"""One environment's install recipe, from what the project's files say at the era's first commit.

The recipe installs the repository the way its own files ask (an editable install with its test
extras, its test and development requirement files, its build system's build requirements),
then what the tests need that no file says: the test runner and its plugins, the Debian headers
of dependencies that may build from source (``apt_rules``), Node for a JavaScript part. Each
key's reason names the file it was read from.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from swegc.compiler.draft.apt_rules import apt_for
from swegc.compiler.draft.metadata import TEST_EXTRAS, Metadata, Reader
from swegc.compiler.draft.pythons import PythonChoice
from swegc.compiler.draft.testing import TestPlan

ALL_EXTRAS = ("all", "complete", "full")
# Folders whose package.json builds a web site or documentation, not something the tests use.
_NOT_FOR_TESTS = re.compile(r"^(docs?|website|site|www|documentation)$")
# Node's long-term releases by the date they became current: an era gets the one of its time.
_NODE_BY_DATE = (("2018-04-24", "10"), ("2019-04-23", "12"), ("2020-04-21", "14"),
                 ("2021-04-20", "16"), ("2022-04-19", "18"), ("2023-04-18", "20"),
                 ("2024-04-24", "22"))


@dataclass
class Recipe:
    """An environment entry without its ``versions``, and why each key says what it says."""

    env: dict[str, Any]
    why: dict[str, str] = field(default_factory=dict)  # env key -> reason
    names: set[str] = field(default_factory=set)  # every package name the install brings
    base_image: str | None = None  # the image of a Python this machine does not build
    node_floor: str | None = None  # the Node package.json's engines asks for at least

    def signature(self) -> str:
        """What makes two eras need different environments: the Python, the install lines,
        the build, Node. Not the Debian packages or the extra pip packages: a range takes the
        union of its eras' (one more header package costs less than one more environment)."""
        env = {k: v for k, v in self.env.items() if k not in ("apt", "pip")}
        if "node" in env:  # the folders and what engines asks, not the date's LTS
            env["node"] = [env["node"]["install"], self.node_floor]
        return json.dumps(env, sort_keys=True)


def make_recipe(meta: Metadata, files: tuple[str, ...], read: Reader, python: PythonChoice,
                tests: TestPlan, commit_date: str) -> Recipe:
    recipe = Recipe({"python": python.version}, {"python": python.why},
                    base_image=python.base_image)
    recipe.names = meta.all_names(read)
    install, install_why = _install_lines(meta, read, recipe)
    apt, apt_reasons = apt_for(recipe.names)
    if meta.extensions:
        apt = ["build-essential", *[p for p in apt if p != "build-essential"]]
        apt_reasons.insert(0, "the project compiles C/Cython extensions")
    if "cmake" in " ".join(meta.build_requires).lower() or "CMakeLists.txt" in files:
        apt.append("cmake")
        apt_reasons.append("CMakeLists.txt / cmake in the build requirements")
    if any(f.endswith(".g4") for f in files):
        apt.append("openjdk-17-jre-headless")
        apt_reasons.append("ANTLR grammars (*.g4) are generated with Java at install time")
    if apt:
        recipe.env["apt"] = list(dict.fromkeys(apt))
        recipe.why["apt"] = "; ".join(apt_reasons)
    pip = [p for p in tests.pip if _bare(p) not in recipe.names or "<" in p]
    pip_why = [tests.pip_why] if pip else []
    if recipe.env.get("pip"):  # a group's, tox's or a conda environment's packages
        pip = [*recipe.env["pip"], *(p for p in pip if _bare(p) not in recipe.env["pip"])]
        pip_why = [recipe.why["pip"], *pip_why]
    build = _build_requirements(meta)
    if build:
        pip = [*build, *pip]
        pip_why.insert(0, f"the build requirements of {meta.sources.get('backend', 'the build')}, "
                          "installed first since the editable install does not isolate the build")
    if pip:
        recipe.env["pip"] = pip
        recipe.why["pip"] = "; ".join(pip_why)
    recipe.env["pip_date"] = "commit"
    recipe.why["pip_date"] = ("packages resolve as they were on the env commit's date, so old "
                              "pins meet the releases they were written against")
    node = _node(files, read, commit_date)
    if node is not None:
        recipe.env["node"], recipe.why["node"] = node
        recipe.node_floor = recipe.env["node"].pop("_floor")
    recipe.env["install"] = install
    recipe.why["install"] = install_why
    if meta.extensions or meta.backend == "meson":
        _compiled(meta, files, recipe)
    if meta.scm_version == "setuptools_scm":
        recipe.env["env"] = {"SETUPTOOLS_SCM_PRETEND_VERSION": "0.0.0"}
        recipe.why["env"] = ("setuptools_scm reads the version from tags, which an image's "
                             "checkout may lack; a pretend version lets the install run")
    return recipe


def _install_lines(meta: Metadata, read: Reader, recipe: Recipe) -> tuple[list[str], str]:
    reasons: list[str] = []
    files = list(meta.requirement_files)
    extras = [e for e in TEST_EXTRAS[:3] if e in meta.extras][:1] or \
        [e for e in TEST_EXTRAS[3:] if e in meta.extras][:1]
    # The tests of a project's optional parts import those parts' packages: an extra that
    # gathers every optional dependency comes along (moto's all, dask's complete).
    everything = [e for e in ALL_EXTRAS if e in meta.extras][:1]
    if everything:
        reasons.append(f"the '{everything[0]}' extra holds every optional dependency, which "
                       "the tests of the optional parts import")
        extras = [*everything, *extras]
    groups = [g for g in TEST_EXTRAS if g in meta.groups and meta.groups[g]][:1]
    parts: list[str] = []
    lines_before: list[str] = []  # filters run before the install (a file pinning the project)
    if files:
        parts.append(" ".join(f"-r {_without_self(meta, read, f, lines_before)}" for f in files))
        reasons.append(f"{', '.join(files)} list{'s' if len(files) == 1 else ''} the test and "
                       "development requirements")
    if not meta.has_project and meta.base_requirements:
        parts.insert(0, f"-r {meta.base_requirements}")
        reasons.append("requirements.txt lists the dependencies (nothing to pip install itself)")
    # Package lists written in the project's files (not files pip reads) go to the env's pip:
    # a list that gains a package does not need an environment of its own.
    if groups:
        names = meta.groups[groups[0]]
        recipe.env["pip"] = list(names)
        recipe.why["pip"] = (f"the '{groups[0]}' dependency group (pyproject.toml) names the "
                             "test and development packages")
    elif not files and not extras and meta.environment_names:
        recipe.env["pip"] = list(meta.environment_names)
        recipe.why["pip"] = (f"{meta.environment_file} (a conda environment) is the only list "
                             "of development packages: its conda and pip packages by their PyPI "
                             "names, toolchain and system packages left out")
    elif not files and not extras and meta.tox_deps:
        recipe.env["pip"] = list(meta.tox_deps)
        recipe.why["pip"] = "tox.ini [testenv] deps are the only list of test requirements"
    lines: list[str] = list(lines_before)
    if lines_before:
        reasons.append(f"lines pinning {meta.name} itself are left out of the requirement files "
                       "(a lock file's pin would fight the editable install)")
    compiled = meta.extensions or meta.backend == "meson"
    target = f"'.[{','.join(extras)}]'" if extras else "."
    if meta.has_project:
        if extras[len(everything):]:
            reasons.insert(0, f"the '{extras[-1]}' extra holds the test requirements")
        if compiled:
            if parts:
                lines.append("pip install " + " ".join(parts))
            lines.append(_compiled_install(meta, target))
            reasons.append("the build runs without isolation, against the packages above")
        else:
            lines.append(" ".join(["pip install -e", target, *parts]))
            reasons.insert(0, f"an editable install of the project "
                              f"({meta.sources.get('backend', 'setup.py')})")
    elif parts:
        lines.append("pip install " + " ".join(parts))
    if not lines:
        lines.append("true")
        reasons.append("nothing to install was found: the probe will say what is missing")
    return lines, "; ".join(reasons)


def _without_self(meta: Metadata, read: Reader, path: str, lines_before: list[str]) -> str:
    """``path``, or a copy without the line that pins the project itself (pallets' pip-compiled
    requirements/dev.txt pins click==8.0.3 inside click), made by a line in ``lines_before``."""
    name = meta.name
    if not name:
        return path
    pattern = rf"^\s*{re.escape(name)}\s*([=<>~!\[;]|$)"
    if not re.search(pattern, read(path) or "", re.IGNORECASE | re.MULTILINE):
        return path
    copy = f"/tmp/swegc-{path.replace('/', '-')}"
    lines_before.append(f"grep -ivE '^\\s*{re.escape(name)}\\s*([=<>~!\\[;]|$)' {path} > {copy}")
    return copy


def _compiled_install(meta: Metadata, target: str) -> str:
    if meta.backend == "meson":
        return f"pip install --no-build-isolation -ve {target} -Ceditable-verbose=true"
    return f"pip install --no-build-isolation -e {target}"


def _compiled(meta: Metadata, files: tuple[str, ...], recipe: Recipe) -> None:
    if meta.backend == "meson":
        recipe.env["build_outputs"] = ["build/"]
        recipe.why["build_outputs"] = ("meson's build folder is kept from the env image, so each "
                                       "instance rebuilds only what its commit changed")
        package = _top_package(files)
        recipe.env["prepare"] = [f"python -c 'import {package}'"] if package else []
        recipe.why["prepare"] = ("an editable meson install rebuilds on import: importing once "
                                 "after the patch builds what it changed")
        return
    recipe.env["build_outputs"] = ["build/", "**/*.so"]
    recipe.why["build_outputs"] = ("compiled extensions are kept from the env image, so each "
                                   "instance rebuilds only what its commit changed")
    recipe.env["prepare"] = ["python setup.py build_ext --inplace"] if "setup.py" in files else []
    recipe.why["prepare"] = ("a patch to an extension's source must be compiled before the tests "
                             "run, as SWE-bench's eval script installs again")


def _build_requirements(meta: Metadata) -> list[str]:
    if not (meta.extensions or meta.backend == "meson"):
        return []
    reqs = [r for r in meta.build_requires if not r.startswith("wheel")]
    return reqs or ["setuptools", "wheel", "cython"]


def _node(files: tuple[str, ...], read: Reader, commit_date: str) -> tuple[dict[str, Any], str] | None:
    folders = sorted(f.rpartition("/")[0] or "." for f in files
                     if f.endswith("package.json") and f.count("/") <= 1
                     and "node_modules" not in f)
    chosen = []
    engines = None
    for folder in folders:
        try:
            doc = json.loads(read(f"{folder}/package.json" if folder != "." else "package.json")
                             or "{}")
        except json.JSONDecodeError:
            continue
        if _NOT_FOR_TESTS.match(folder) or not _built_by_python(folder, files, read):
            continue
        if doc.get("dependencies") or "build" in (doc.get("scripts") or {}):
            chosen.append(folder)
            engines = engines or (doc.get("engines") or {}).get("node")
    if not chosen:
        return None
    current = next((v for d, v in reversed(_NODE_BY_DATE) if d <= commit_date), "10")
    match = re.search(r"(\d+)", str(engines or ""))
    floor = match.group(1) if match else None
    version = max(current, floor or current, key=int)
    source = (f"package.json engines.node ({engines}) asks for {floor} at least"
              if floor and int(floor) > int(current) else f"the Node LTS current on {commit_date}")
    return ({"version": version, "install": chosen, "_floor": floor},
            f"{', '.join(chosen)} has a package.json with dependencies or a build script; "
            f"Node {version} from {source}")


def _built_by_python(folder: str, files: tuple[str, ...], read: Reader) -> bool:
    """Whether the Python build uses this npm folder: pyproject.toml or a top-level Python file
    (setup.py, its helpers) names it (bokeh's setup.py builds bokehjs), or runs npm for the root
    one. A package.json the Python build ignores (a web UI) is not the tests' business."""
    sources = ["pyproject.toml", *(f for f in files if "/" not in f and f.endswith(".py"))]
    text = "".join(read(path) or "" for path in sources)
    if folder == ".":
        return bool(re.search(r"\b(npm|node|yarn)\b", text))
    return re.search(rf"['\"/]{re.escape(folder)}['\"/]", text) is not None


def _top_package(files: tuple[str, ...]) -> str | None:
    inits = sorted((f for f in files if f.endswith("/__init__.py") and f.count("/") == 1
                    and not f.startswith(("test", "doc"))), key=len)
    return inits[0].split("/")[0] if inits else None


def _bare(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower()


def _quote(requirement: str) -> str:
    return f"'{requirement}'" if re.search(r"[<>=!~\[ ;*]", requirement) else requirement
