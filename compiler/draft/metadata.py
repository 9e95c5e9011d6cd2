"""What a project's own files say about installing it, read at one commit.

setup.py is Python, not data: it is read with regexes for the few things a spec needs
(python_requires, classifiers, extras names, C extensions), never executed; a draft may miss
what a clever setup.py computes, and the probe then finds it. pyproject.toml, setup.cfg and
tox.ini are parsed properly. Each fact keeps the file it came from, so the comment above a drafted
line can say where it was read.
"""

from __future__ import annotations

import configparser
import re
import tomllib
from dataclasses import dataclass, field
from typing import Any, Callable

Reader = Callable[[str], "str | None"]  # path at this commit -> text, None when absent

# Extras and dependency groups that hold what the tests need, best first.
TEST_EXTRAS = ("test", "tests", "testing", "dev", "develop", "development")
# Requirement files (besides these, any *.txt under requirements/) that name test tools.
_REQ_FILE = re.compile(r"(?i)(^|/)((test|tests|testing|dev|development)[-_]requirements|"
                       r"requirements[-_.]?(test|tests|testing|dev|development|ci))\.(txt|in)$")
_REQ_DIR_FILE = re.compile(r"(?i)^requirements/(test|tests|testing|dev|development|ci)[^/]*\.txt$")
_TESTS_FILE = re.compile(r"(?i)(^|[-_.])(test|tests|testing)([-_.]|$)")
_DEV_FILE = re.compile(r"(?i)(^|[-_.])(dev|development|ci)([-_.]|$)")
_SIBLING = re.compile(r"(^|/)requirements[\w.-]*\.txt$")
_NOT_TEST_TOOLS = re.compile(r"(?i)doc|lint|release|build|bench|typing|mypy|style|osx|mac|darwin|win")
_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
# A Python string literal, closed by the quote that opened it: a requirement's marker quotes
# with the other kind ("dataclasses; python_version < '3.7'"), and a pattern that let either
# quote close it read the marker's '3.7' as a package.
_STRINGS = re.compile(r"""(?:"([^"\n]*)"|'([^'\n]*)')""")
_PY_CLASSIFIER = re.compile(r"Programming Language :: Python :: (\d\.\d+)")
_PY_VERSION = re.compile(r"(?<![\d.])(3\.\d{1,2})(?![\d.])")


@dataclass
class Metadata:
    """The install and test facts of one commit; ``sources`` says which file gave each."""

    name: str | None = None  # the project's own distribution name
    requires_python: str | None = None
    declared_pythons: set[str] = field(default_factory=set)
    dependencies: dict[str, str] = field(default_factory=dict)  # name -> requirement as written
    extras: dict[str, list[str]] = field(default_factory=dict)  # extra -> requirement names
    groups: dict[str, list[str]] = field(default_factory=dict)  # poetry/PEP 735 groups
    requirement_files: list[str] = field(default_factory=list)  # test/dev requirement files
    base_requirements: str | None = None  # requirements.txt when present
    environment_file: str | None = None  # a conda environment file (environment.yml)
    environment_names: list[str] = field(default_factory=list)  # what it lists, pip-installable
    backend: str | None = None  # setuptools, poetry, hatch, flit, pdm, meson, scikit-build
    build_requires: list[str] = field(default_factory=list)
    has_project: bool = False  # pip can install the repository itself
    extensions: bool = False  # C, C++ or Cython extensions compiled at install time
    scm_version: str | None = None  # setuptools_scm / versioneer / hatch-vcs: needs tags
    tox_deps: list[str] = field(default_factory=list)
    pytest_config: str | None = None  # the file holding pytest's configuration
    pytest_addopts: str = ""
    nose: bool = False
    sources: dict[str, str] = field(default_factory=dict)  # fact -> file it was read from

    def test_names(self) -> set[str]:
        """Names of every package the project lists for tests or development."""
        names = {n for extra in TEST_EXTRAS for n in self.extras.get(extra, [])}
        names |= {n for group in TEST_EXTRAS for n in self.groups.get(group, [])}
        return names | {_name(d) for d in self.tox_deps if _name(d)}

    def all_names(self, read: Reader) -> set[str]:
        names = set(self.dependencies) | self.test_names()
        names |= {n for values in self.extras.values() for n in values}
        for path in [*self.requirement_files, *filter(None, [self.base_requirements])]:
            names |= set(requirement_names(read, path))
        names |= set(self.environment_names)
        return {n.lower().replace("_", "-") for n in names}


def read_metadata(read: Reader, files: tuple[str, ...]) -> Metadata:
    """The facts of one commit, from the files ``read`` returns (``files``: its whole tree)."""
    meta = Metadata()
    pyproject = _toml(read("pyproject.toml"))
    setup_cfg = _ini(read("setup.cfg"))
    setup_py = read("setup.py")
    tox = _ini(read("tox.ini"))
    _from_pyproject(meta, pyproject)
    _from_setup_cfg(meta, setup_cfg)
    if setup_py is not None:
        _from_setup_py(meta, setup_py)
    _from_tox(meta, tox)
    _pytest_config(meta, read, pyproject, setup_cfg, tox)
    _requirement_files(meta, files)
    _environment_file(meta, read, files)
    _ci_pythons(meta, read, files)
    meta.extensions = meta.extensions or any(
        f.endswith((".pyx", ".pxd")) and "/tests/" not in f for f in files)
    if "meson.build" in files and meta.backend in (None, "setuptools"):
        meta.backend = meta.backend or "meson"
    return meta


def declared_names(read: Reader) -> dict[str, str]:
    """The runtime and test packages a commit declares (name -> requirement as written), read
    from its packaging files and conventional requirement files only (no tree listing): cheap
    enough to compare a pull request's merge with its parent."""
    meta = Metadata()
    _from_pyproject(meta, _toml(read("pyproject.toml")))
    _from_setup_cfg(meta, _ini(read("setup.cfg")))
    setup_py = read("setup.py")
    if setup_py is not None:
        _from_setup_py(meta, setup_py)
    names = dict(meta.dependencies)
    names.update({n: n for n in meta.test_names() if n not in names})
    for path in _CONVENTIONAL_FILES:
        names.update({n: n for n in requirement_names(read, path) if n not in names})
    return {name.lower().replace("_", "-"): req for name, req in names.items()}


_CONVENTIONAL_FILES = ("requirements.txt", "requirements-dev.txt", "requirements-test.txt",
                       "requirements-tests.txt", "requirements_dev.txt", "test-requirements.txt",
                       "dev-requirements.txt")


# ---- pyproject.toml ---------------------------------------------------------------------

_BACKENDS = {"setuptools": "setuptools", "poetry": "poetry", "hatchling": "hatch",
             "flit": "flit", "pdm": "pdm", "mesonpy": "meson", "scikit_build": "scikit-build",
             "maturin": "maturin"}


def _from_pyproject(meta: Metadata, doc: dict[str, Any]) -> None:
    if not doc:
        return
    build = doc.get("build-system", {})
    backend = str(build.get("build-backend", ""))
    meta.backend = next((name for key, name in _BACKENDS.items() if key in backend), None)
    meta.build_requires = [str(r) for r in build.get("requires", [])]
    if meta.backend:
        meta.has_project = True
        meta.sources["backend"] = "pyproject.toml [build-system]"
    tool = doc.get("tool", {})
    if "setuptools_scm" in tool or any("setuptools_scm" in r or "hatch-vcs" in r
                                       for r in meta.build_requires):
        meta.scm_version = "setuptools_scm"
    project = doc.get("project", {})
    if project:
        meta.has_project = True
        meta.name = meta.name or (str(project["name"]) if project.get("name") else None)
        if project.get("requires-python"):
            meta.requires_python = str(project["requires-python"])
            meta.sources["requires_python"] = "pyproject.toml requires-python"
        for req in project.get("dependencies", []) or []:
            if _name(req):
                meta.dependencies[_name(req)] = str(req)
        for extra, reqs in (project.get("optional-dependencies") or {}).items():
            meta.extras[extra] = [n for n in map(_name, reqs or []) if n]
        _classifiers(meta, project.get("classifiers", []), "pyproject.toml classifiers")
    for group, reqs in (doc.get("dependency-groups") or {}).items():
        meta.groups[group] = [n for n in map(_name, [r for r in reqs if isinstance(r, str)]) if n]
    poetry = tool.get("poetry", {})
    if poetry:
        meta.has_project = True
        deps = dict(poetry.get("dependencies", {}))
        python = deps.pop("python", None)
        if isinstance(python, str) and not meta.requires_python:
            meta.requires_python = _caret(python)
            meta.sources["requires_python"] = "pyproject.toml [tool.poetry.dependencies] python"
        meta.dependencies.update({n: n for n in deps})
        for extra, names in (poetry.get("extras") or {}).items():
            meta.extras[extra] = list(names)
        dev = poetry.get("dev-dependencies") or {}
        if dev:
            meta.groups["dev"] = list(dev)
        for group, body in (poetry.get("group") or {}).items():
            meta.groups[group] = list((body or {}).get("dependencies", {}))
        _classifiers(meta, poetry.get("classifiers", []), "pyproject.toml classifiers")
    pytest = tool.get("pytest", {}).get("ini_options")
    if isinstance(pytest, dict):
        meta.pytest_config = "pyproject.toml [tool.pytest.ini_options]"
        addopts = pytest.get("addopts", "")
        meta.pytest_addopts = " ".join(addopts) if isinstance(addopts, list) else str(addopts)


def _caret(poetry: str) -> str:
    """Poetry's ``^3.8`` / ``~3.8`` / ``>=3.8,<4`` as a PEP 440 specifier set."""
    text = poetry.strip()
    match = re.match(r"^[\^~]\s*(\d+)\.(\d+)", text)
    if match:
        return f">={match.group(1)}.{match.group(2)}"
    return ",".join(p.strip() for p in re.split(r"[,\s]+(?=[<>=!~])", text) if p.strip())


# ---- setup.cfg and setup.py -------------------------------------------------------------

def _from_setup_cfg(meta: Metadata, cfg: configparser.ConfigParser | None) -> None:
    if cfg is None:
        return
    if cfg.has_section("metadata") or cfg.has_section("options"):
        meta.has_project = meta.has_project or cfg.has_option("metadata", "name")
        if cfg.has_option("metadata", "name"):
            meta.name = meta.name or cfg.get("metadata", "name").strip()
    if cfg.has_option("options", "python_requires") and not meta.requires_python:
        meta.requires_python = cfg.get("options", "python_requires").strip()
        meta.sources["requires_python"] = "setup.cfg python_requires"
    if cfg.has_option("options", "install_requires"):
        for req in _lines(cfg.get("options", "install_requires")):
            if _name(req):
                meta.dependencies.setdefault(_name(req), req)
    if cfg.has_section("options.extras_require"):
        for extra, value in cfg.items("options.extras_require"):
            meta.extras.setdefault(extra, [n for n in map(_name, _lines(value)) if n])
    if cfg.has_option("metadata", "classifiers"):
        _classifiers(meta, _lines(cfg.get("metadata", "classifiers")), "setup.cfg classifiers")
    if cfg.has_option("options", "setup_requires") and "setuptools_scm" in cfg.get(
            "options", "setup_requires"):
        meta.scm_version = "setuptools_scm"
    for section in ("tool:pytest", "pytest"):
        if cfg.has_section(section) and meta.pytest_config is None:
            meta.pytest_config = f"setup.cfg [{section}]"
            meta.pytest_addopts = cfg.get(section, "addopts", fallback="")
    if cfg.has_section("nosetests"):
        meta.nose = True
    if cfg.has_section("versioneer"):
        meta.scm_version = meta.scm_version or "versioneer"


def _from_setup_py(meta: Metadata, text: str) -> None:
    meta.has_project = True
    meta.backend = meta.backend or "setuptools"
    meta.sources.setdefault("backend", "setup.py")
    named = re.search(r"\bname\s*=\s*['\"]([A-Za-z0-9][\w.-]*)['\"]", text)
    if named:
        meta.name = meta.name or named.group(1)
    match = re.search(r"python_requires\s*=\s*['\"]([^'\"]+)['\"]", text)
    if match and not meta.requires_python:
        meta.requires_python = match.group(1)
        meta.sources["requires_python"] = "setup.py python_requires"
    _classifiers(meta, _PY_CLASSIFIER.findall(text), "setup.py classifiers", raw=True)
    if re.search(r"\b(Extension|cythonize|Pybind11Extension|add_extension)\(", text):
        meta.extensions = True
    if "setuptools_scm" in text or "use_scm_version" in text:
        meta.scm_version = "setuptools_scm"
    elif "versioneer" in text:
        meta.scm_version = meta.scm_version or "versioneer"
    block = _braced(text, r"extras_require\s*=\s*")
    if not block:
        name = re.search(r"extras_require\s*=\s*(\w+)", text)
        if name:
            block = _braced(text, rf"\b{name.group(1)}\s*=\s*")
    for key in re.findall(r"['\"]([A-Za-z][\w.-]*)['\"]\s*:", _top_level(block)):
        meta.extras.setdefault(key, [])
    # Extras added one by one: extras_require["complete"] = sorted(...) (dask's setup.py).
    for key in re.findall(r"(?i)\b\w*extras\w*\[['\"]([A-Za-z][\w.-]*)['\"]\]\s*=", text):
        meta.extras.setdefault(key, [])
    install = re.search(r"install_requires\s*=\s*\[(.*?)\]", text, re.S)
    for double, single in _STRINGS.findall(install.group(1) if install else ""):
        req = double or single
        if _name(req):
            meta.dependencies.setdefault(_name(req), req)


def _braced(text: str, prefix: str) -> str:
    """The ``{...}`` literal after ``prefix`` (a regex), braces balanced; "" where none."""
    match = re.search(prefix + r"\{", text)
    if match is None:
        return ""
    depth = 0
    for index in range(match.end() - 1, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[match.end() - 1:index + 1]
    return ""


def _top_level(block: str) -> str:
    """A dict literal's text with nested brackets removed: only its own keys remain."""
    inner, depth = [], 0
    for char in block[1:-1]:
        if char in "[({":
            depth += 1
        elif char in "])}":
            depth -= 1
        elif depth == 0:
            inner.append(char)
    return "".join(inner)


def _classifiers(meta: Metadata, values: Any, source: str, raw: bool = False) -> None:
    found = set(values) if raw else {m for v in values or [] for m in _PY_CLASSIFIER.findall(str(v))}
    if found:
        meta.declared_pythons |= found
        meta.sources.setdefault("declared_pythons", source)


# ---- tox.ini, pytest configuration, requirement files, CI -------------------------------

def _from_tox(meta: Metadata, tox: configparser.ConfigParser | None) -> None:
    if tox is None:
        return
    envlist = tox.get("tox", "envlist", fallback="") if tox.has_section("tox") else ""
    found = {f"{m[0]}.{m[1:]}" for m in re.findall(r"py(\d{2,3})", _expand_braces(envlist))}
    if found:
        meta.declared_pythons |= found
        meta.sources.setdefault("declared_pythons", "tox.ini envlist")
    if tox.has_section("testenv"):
        meta.tox_deps = [d for d in _lines(tox.get("testenv", "deps", fallback=""))
                         if not d.startswith(("-", "{", ".")) and ":" not in d.split()[0]]
        if "nosetests" in tox.get("testenv", "commands", fallback=""):
            meta.nose = True


def _expand_braces(text: str) -> str:
    """tox's ``py{37,38}-django{2,3}`` as the names it stands for."""
    match = re.search(r"\{([^{}]*)\}", text)
    if not match:
        return text
    head, tail = text[:match.start()], text[match.end():]
    start = max(head.rfind(","), head.rfind("\n"), head.rfind(" ")) + 1
    prefix = head[start:]
    end_match = re.search(r"[,\s]", tail)
    end = end_match.start() if end_match else len(tail)
    words = ",".join(prefix + option + tail[:end] for option in match.group(1).split(","))
    return _expand_braces(head[:start] + words + tail[end:])


def _pytest_config(meta: Metadata, read: Reader, pyproject: dict[str, Any],
                   setup_cfg: configparser.ConfigParser | None,
                   tox: configparser.ConfigParser | None) -> None:
    ini = _ini(read("pytest.ini"))
    if ini is not None and ini.has_section("pytest"):
        meta.pytest_config = "pytest.ini"
        meta.pytest_addopts = ini.get("pytest", "addopts", fallback="")
    elif meta.pytest_config is None and tox is not None and tox.has_section("pytest"):
        meta.pytest_config = "tox.ini [pytest]"
        meta.pytest_addopts = tox.get("pytest", "addopts", fallback="")


def _requirement_files(meta: Metadata, files: tuple[str, ...]) -> None:
    for path in files:
        if path.count("/") > 2:
            continue
        if _REQ_FILE.search(path) or _REQ_DIR_FILE.match(path):
            if path.endswith(".in") and path[:-3] + ".txt" in files:
                continue
            meta.requirement_files.append(path)
    # A package folder's other requirement files name what its parts' tests import
    # (conan's conans/requirements_server.txt beside requirements_dev.txt).
    for folder in {p.rpartition("/")[0] for p in meta.requirement_files if "/" in p}:
        for path in files:
            if (path.rpartition("/")[0] == folder and _SIBLING.search(path)
                    and not _NOT_TEST_TOOLS.search(path.rpartition("/")[2])
                    and path not in meta.requirement_files):
                meta.requirement_files.append(path)
    # A tests file where there is one: a dev file adds the developers' own tools (linters,
    # docs, pip-tools, pre-commit), heavy and brittle to resolve, which no test imports.
    testing = [p for p in meta.requirement_files if _TESTS_FILE.search(p.rpartition("/")[2])]
    if testing:
        meta.requirement_files = [p for p in meta.requirement_files
                                  if not _DEV_FILE.search(p.rpartition("/")[2]) or p in testing]
    if "requirements.txt" in files:
        meta.base_requirements = "requirements.txt"


# Conda packages that are not PyPI packages of the same name (or are the toolchain itself).
_CONDA_ONLY = {"python", "pip", "c-compiler", "cxx-compiler", "compilers", "make", "cmake",
               "ninja", "pkg-config", "git", "nodejs", "libgcc", "gxx-linux-64", "gcc-linux-64",
               "yaml", "libiconv", "ripgrep", "firefox", "geckodriver", "chromedriver",
               "conda-build", "conda-verify", "openjdk", "graphviz", "hdf5", "blas", "mkl",
               "libblas", "liblapack", "cudatoolkit", "libpq", "zlib", "openssl", "curl", "tk",
               "gdal", "proj", "geos", "libxml2", "libxslt", "snappy", "boost", "fortran-compiler"}
# Conda names whose PyPI package is called otherwise.
_CONDA_TO_PYPI = {"opencv": "opencv-python", "pytables": "tables", "pyqt": "pyqt5",
                  "matplotlib-base": "matplotlib", "pytorch": "torch", "msgpack-python": "msgpack",
                  "python-graphviz": "graphviz", "psycopg2": "psycopg2-binary"}


def _environment_file(meta: Metadata, read: Reader, files: tuple[str, ...]) -> None:
    """A conda environment file's packages (its conda list and its pip list), for projects
    that list their development packages there and nowhere else."""
    import yaml

    # The development environment, not one for building the package or its documentation.
    chosen = sorted((f for f in files if re.match(r"^(environment|ci/[\w.-]*env[\w.-]*)"
                                                  r"([-_.](dev|test)[\w.-]*)?\.ya?ml$", f)
                     and not re.search(r"(?i)build|doc|release|bench", f)), key=len)
    for path in chosen:
        try:
            doc = yaml.safe_load(read(path) or "")
        except yaml.YAMLError:
            continue
        if not isinstance(doc, dict) or not isinstance(doc.get("dependencies"), list):
            continue
        names: list[str] = []
        for item in doc["dependencies"]:
            if isinstance(item, str):
                name = _name(item.split("::")[-1].split("=")[0])
                if name and name not in _CONDA_ONLY and not name.startswith("r-"):
                    names.append(_CONDA_TO_PYPI.get(name, name))
            elif isinstance(item, dict):
                names += [n for n in map(_name, item.get("pip") or []) if n]
        if names:
            meta.environment_file, meta.environment_names = path, list(dict.fromkeys(names))
            return


def _ci_pythons(meta: Metadata, read: Reader, files: tuple[str, ...]) -> None:
    """Pythons a CI matrix tests: ``python-version: [3.8, "3.9"]`` or its list lines."""
    found: set[str] = set()
    for path in files:
        if not (path.startswith(".github/workflows/") or path in (".travis.yml",
                                                                  "azure-pipelines.yml")):
            continue
        text = read(path) or ""
        listing = False
        for line in text.splitlines():
            if re.search(r"(?i)python[-_]?version|^\s*-?\s*python\s*:|toxenv", line):
                found |= set(_PY_VERSION.findall(line))
                found |= {f"{m[0]}.{m[1:]}" for m in re.findall(r"\bpy(3\d{1,2})\b", line)}
                listing = True
            elif listing and re.match(r"^\s*-\s*['\"]?(3\.\d+)", line):
                found |= set(_PY_VERSION.findall(line))
            else:
                listing = False
    if found:
        meta.declared_pythons |= found
        meta.sources.setdefault("declared_pythons", "CI workflow matrices")


def requirement_names(read: Reader, path: str, depth: int = 0) -> list[str]:
    """Package names a requirements file lists, following ``-r other.txt`` once or twice."""
    text = read(path)
    if text is None:
        return []
    names: list[str] = []
    folder = path.rpartition("/")[0]
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        include = re.match(r"^(?:-r|--requirement)\s*(\S+)", line)
        if include and depth < 2:
            target = f"{folder}/{include.group(1)}" if folder else include.group(1)
            names += requirement_names(read, target, depth + 1)
        elif line and not line.startswith("-") and _name(line):
            names.append(_name(line))
    return names


# ---- small parsers ----------------------------------------------------------------------

def _name(requirement: Any) -> str:
    if not isinstance(requirement, str) or "://" in requirement:
        return ""
    match = _NAME.match(requirement)
    return match.group(1).lower().replace("_", "-") if match else ""


def _lines(value: str) -> list[str]:
    return [line.split("#", 1)[0].strip() for line in value.splitlines()
            if line.split("#", 1)[0].strip()]


def _toml(text: str | None) -> dict[str, Any]:
    if not text:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}


def _ini(text: str | None) -> configparser.ConfigParser | None:
    if text is None:
        return None
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return None
    return parser
