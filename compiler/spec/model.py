"""The typed form of a repository spec (what ``spec.loader`` builds from checked YAML).

Each value that came from a file remembers where (``file:line``) through ``RepoSpec.where``,
so later stages can point back at the spec when something about it fails at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from swegc.naming import DEBIAN_SUITES, DEFAULT_BASE_IMAGES  # noqa: F401 - re-exported
from swegc.test_settings import TEST_ENV, TestSettings

SOURCE_KINDS = ("git", "jsonl", "instances", "github")
# The one default of ``tests.directive_files``: every changed Python test file, as SWE-bench
# passes every file its test_patch touches. conftest.py and __init__.py hold no tests of their
# own (and pytest given a package's __init__.py may collect the whole package).
DEFAULT_DIRECTIVE_FILES = ("**/*.py", "!**/conftest.py", "!**/__init__.py")
VERSION_STRATEGIES = ("file", "command", "git-describe", "fixed", "published")
DIRECTIVE_STYLES = ("paths", "modules", "none")
CASE_NAME_GROUP = "name"  # the named group of tests.directives.cases that is the case's name


@dataclass(frozen=True)
class GitSource:
    """Pull requests read from the history of a local clone."""

    branches: tuple[str, ...] = ()  # histories of these refs, in order (empty: the clone's HEAD)
    merges: bool = True  # merge commits "Merge pull request #N from ..." or "Title (#N)"
    squash: bool = True  # one-parent (squash-merged) commits whose subject ends with "(#N)"
    issues: Path | None = None  # JSONL of {number, title, body}: text for linked issues
    # A project's own way of naming the issue a pull request resolves in its commit messages
    # (modin's "FIX-#1234: ..."), besides GitHub's closing keywords: group "issue" or group 1.
    issue_pattern: str | None = None


@dataclass(frozen=True)
class GithubSource:
    """Pull requests mined through the GitHub API (see ``swegc mine``)."""

    api_url: str = "https://api.github.com"
    per_page: int = 100


@dataclass(frozen=True)
class Filters:
    """Which candidates to keep; applied to every source."""

    since: str | None = None  # ISO date: created_at >= since
    until: str | None = None  # ISO date: created_at < until
    base_branch: str | None = None
    labels: tuple[str, ...] = ()  # keep only PRs with one of these labels
    exclude_labels: tuple[str, ...] = ()
    require_linked_issue: bool = False
    must_touch_tests: bool = True
    must_touch_code: bool = True
    max_files: int | None = None
    max_lines: int | None = None
    numbers: tuple[int, ...] = ()  # keep only these pull requests (empty: all)


@dataclass(frozen=True)
class SourceSpec:
    kind: str  # one of SOURCE_KINDS
    clone: Path | None  # local clone or git bundle of the repository
    git: GitSource | None = None
    jsonl: Path | None = None
    instances: str | None = None  # a JSONL path, a dataset folder, or "hub:org/name[:split]"
    github: GithubSource | None = None
    filters: Filters = field(default_factory=Filters)
    submodules: dict[str, Path] = field(default_factory=dict)  # path -> clone of the submodule


@dataclass(frozen=True)
class CaseDirectives:
    """Directives that are test-case names, for suites whose tests are cases in data files
    (mypy's ``[case testFoo]`` blocks in ``test-data/unit/*.test``) selected by name.

    The names are read from the files of the test patch that match ``tests.directive_files``
    (``compiler.case_directives`` says which cases a change belongs to), joined into one
    argument and appended after ``option``: ``pytest -k 'testFoo or testBar'``.
    """

    __test__ = False  # not a pytest test class

    cases: str  # regex matched against each line; its group "name" is a case's name
    join: str = " or "  # what goes between the names in the one argument
    option: str | None = None  # an argument put before the names ("-k"); none: names only


@dataclass(frozen=True)
class TestsSpec:
    files: tuple[str, ...]  # gitignore-style globs: changed files that go to test_patch
    command: str  # run in /testbed with bash; directives are appended
    parser: str  # a name in swegc.runtime.harness.parsers.PARSERS
    parser_options: dict[str, Any] | None = None  # what the parser needs (regex: pattern, ...)
    # How changed tests are passed: paths | modules | none (changed test files), or the names
    # of the changed cases (CaseDirectives).
    directives: str | CaseDirectives = "paths"
    directive_files: tuple[str, ...] = DEFAULT_DIRECTIVE_FILES  # changed files passed to it
    timeout: int = 900  # seconds for one run of the test command
    runs: int = 2  # runs per side (before/after) to catch flaky tests
    network: bool = False  # whether tests may reach the network
    env: dict[str, str] = field(default_factory=dict)
    prepare: tuple[str, ...] = ()  # shell after the patches, before the tests (each run side)

    @property
    def directive_kind(self) -> str:
        """``cases`` when the directives are test-case names, else ``files``."""
        return "cases" if isinstance(self.directives, CaseDirectives) else "files"

    def settings(self, *, command: str, directives: tuple[str, ...], timeout: int,
                 env: dict[str, str], prepare: tuple[str, ...]) -> TestSettings:
        """One instance's test settings: these, with what planning decided for the instance
        (its command with directives, and the overrides of timeout, env and prepare). The
        environment holds TEST_ENV under the spec's, as the instance image does."""
        return TestSettings(test_command=command, test_directives=directives, parser=self.parser,
                            parser_options=self.parser_options, timeout_s=timeout,
                            network=self.network, env={**TEST_ENV, **env}, prepare=prepare,
                            file_globs=self.files)


@dataclass(frozen=True)
class VersionSpec:
    strategy: str  # one of VERSION_STRATEGIES
    path: str | None = None  # file: the file read at base_commit
    pattern: str | None = None  # regex whose group "version" (or group 1) is the version
    command: str | None = None  # command: run in the base image on a checkout of base_commit
    value: str | None = None  # fixed: the version of every instance
    python: str | None = None  # command: which base image runs it (default: first environment)


@dataclass(frozen=True)
class NodeSpec:
    """Node for an environment, and the folders whose npm packages are installed with it."""

    version: str  # "18", "18.20" or "18.20.4": the newest matching release in the registry
    npm: str | None = None  # same forms; None: the newest npm whose engines accept that Node
    install: tuple[str, ...] = ()  # folders under /testbed with a package.json ("." the root)
    date: str | None = None  # "commit" or an ISO date for `npm install --before`; None: pip_date

    def inputs(self) -> dict[str, Any]:
        return {"version": self.version, "npm": self.npm, "install": list(self.install),
                "date": self.date}


@dataclass(frozen=True)
class PackageIndex:
    """Packages installed from another index than the build's, such as PyTorch's CPU wheels
    (PyPI's Linux torch carries CUDA: gigabytes an env does not need to run tests on a CPU)."""

    url: str
    packages: tuple[str, ...]


@dataclass(frozen=True)
class EnvironmentSpec:
    versions: str  # PEP 440 specifier set ("" = every version)
    python: str  # "3.11"; picks the base image unless base_image is set
    where: str = ""  # file:line of this entry
    base_image: str | None = None
    apt: tuple[str, ...] = ()
    pre_install: tuple[str, ...] = ()  # shell, env layer, before pip
    pip: tuple[str, ...] = ()  # requirement strings, env layer
    install: tuple[str, ...] = ()  # shell in /testbed: env layer (deps) and instance layer
    post_install: tuple[str, ...] = ()  # shell in /testbed after install (instance layer)
    env: dict[str, str] = field(default_factory=dict)
    pip_date: str | None = None  # "commit" or an ISO date: resolve packages as of that date
    pip_date_exempt: tuple[str, ...] = ()  # packages resolved without the pip_date cap
    upgrade_pip: bool = True
    build_outputs: tuple[str, ...] = ()  # untracked build outputs kept from env to instances
    prepare: tuple[str, ...] | None = None  # replaces tests.prepare for this env's instances
    node: NodeSpec | None = None  # Node and npm packages (see images/node.py)
    indexes: tuple[PackageIndex, ...] = ()  # packages from another index (PyTorch's CPU one)

    def npm_date(self) -> str | None:
        """The date npm resolves as of where a folder has no lockfile: node.date, else pip_date."""
        if self.node is None:
            return None
        return self.node.date if self.node.date is not None else self.pip_date

    def specifier(self) -> SpecifierSet:
        return SpecifierSet(self.versions)

    def covers(self, version: str) -> bool:
        if not self.versions.strip():
            return True
        try:
            return Version(version) in self.specifier()
        except (InvalidVersion, InvalidSpecifier):
            return False

    def image_inputs(self) -> dict[str, Any]:
        """What goes into the env image (and so into its content-addressed tag)."""
        return {"python": self.python, "base_image": self.base_image, "apt": list(self.apt),
                "pre_install": list(self.pre_install), "pip": list(self.pip),
                "install": list(self.install), "env": dict(sorted(self.env.items())),
                "pip_date": self.pip_date, "upgrade_pip": self.upgrade_pip,
                **({"pip_date_exempt": list(self.pip_date_exempt)} if self.pip_date_exempt else {}),
                **({"build_outputs": list(self.build_outputs)} if self.build_outputs else {}),
                **({"node": self.node.inputs()} if self.node else {}),
                **({"indexes": [[i.url, list(i.packages)] for i in self.indexes]}
                   if self.indexes else {})}


@dataclass(frozen=True)
class InstanceOverride:
    skip: str | None = None  # a reason: the instance is not built
    version: str | None = None  # force the version (and so the environment)
    test_command: str | None = None
    timeout: int | None = None
    env: dict[str, str] = field(default_factory=dict)
    where: str = ""


@dataclass(frozen=True)
class BuildSpec:
    """How images reach package indexes; each value may also come from the environment."""

    ca_bundle: str | None = None  # host path; mounted at build time, never baked into images
    http_proxy: str | None = None
    https_proxy: str | None = None
    no_proxy: str | None = None
    pip_index_url: str | None = None
    pip_extra_index_url: str | None = None
    npm_registry: str | None = None  # npm registry for builds (Node itself comes from it too)
    base_images: dict[str, str] = field(default_factory=dict)  # python version -> image




@dataclass(frozen=True)
class RepoSpec:
    path: Path  # the spec file
    repo: str  # owner/name
    source: SourceSpec
    tests: TestsSpec
    version: VersionSpec
    environments: tuple[EnvironmentSpec, ...]
    build: BuildSpec = field(default_factory=BuildSpec)
    instances: dict[str, InstanceOverride] = field(default_factory=dict)
    spec_hash: str = ""  # content hash of the merged, checked spec
    locations: dict[str, str] = field(default_factory=dict)  # "tests.command" -> "file:line"

    def where(self, dotted: str) -> str:
        """``file:line`` of a spec value by its dotted path, or of the nearest parent."""
        key = dotted
        while key:
            if key in self.locations:
                return self.locations[key]
            key = key.rpartition(".")[0]
        return str(self.path)

    def environment_for(self, version: str) -> EnvironmentSpec | None:
        for env in self.environments:
            if env.covers(version):
                return env
        return None

    def base_image_for(self, env: EnvironmentSpec) -> str:
        if env.base_image:
            return env.base_image
        images = {**DEFAULT_BASE_IMAGES, **self.build.base_images}
        return images[env.python]
