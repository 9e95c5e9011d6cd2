"""``draft_spec``: a spec for the repository in a clone, read from its own files across history.

The steps, each its own module: the history (``history``: files at commits, no checkout), the
version source (``versionsource``), what each version's first commit says about installing
(``metadata`` -> ``recipe``, with the Python of ``pythons`` and the Debian packages of
``apt_rules``), the test runner (``testing``), and versions grouped into environments (``eras``).
Nothing here builds or runs anything; ``draft.probe`` compiles the result and repairs it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from swegc.compiler.draft.eras import Range, VersionEra, group_eras, what_changed
from swegc.compiler.draft.history import DEPENDENCY_PATHSPECS, Commit, History
from swegc.compiler.draft.metadata import Metadata, Reader, declared_names, read_metadata
from swegc.compiler.draft.model import Draft
from swegc.compiler.draft.pythons import choose_python, present_pythons
from swegc.compiler.draft.recipe import make_recipe
from swegc.compiler.draft.testing import TestPlan, plan_tests
from swegc.compiler.draft.versionsource import find_version_source
from swegc.errors import SwegcError
from swegc.git import GitError

# Commits whose version is read: a long history is sampled evenly (plus every commit that
# changes a dependency file), which finds every version that lasted more than a few days.
SAMPLE = 1200
_REPO = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")  # a spec's repo (specs/schema.json)


class DraftError(SwegcError):
    """The clone cannot be drafted (not a repository, no commits); the message says why."""


def draft_spec(clone: Path, *, repo: str | None = None, out_name: str | None = None,
               jsonl: str | None = None, instances: str | None = None,
               official_pythons: bool = False) -> Draft:
    """A drafted spec for the repository in ``clone`` (a work tree or a bare repository).

    ``repo``: owner/name (default: from the clone's origin URL). ``out_name``: where the spec
    will be written, so that paths in it (the clone) are relative to it. ``jsonl`` /
    ``instances``: pull requests from these instead of the history's merge and squash commits.
    ``official_pythons``: a Python this machine does not build (3.8, 3.10, 3.12) comes from an
    official image (``build.base_images``) instead of the nearest built-in one above it.
    """
    clone = Path(clone).expanduser().resolve()
    if not clone.exists():
        raise DraftError(f"{clone}: no such clone (give a git clone or a bare repository)")
    if repo is not None and not _REPO.match(repo):
        raise DraftError(f"--repo {repo!r}: expected owner/name as on GitHub (acme/widgets)")
    spec_dir = Path(out_name).expanduser().resolve().parent if out_name else Path.cwd()
    for option, value in (("--jsonl", jsonl), ("--instances", instances)):
        if value and not value.startswith("hub:") and not (spec_dir / value).exists():
            raise DraftError(f"{option} {value}: no such file or folder at {spec_dir / value}; "
                             "the spec names it relative to itself, so give the path from the "
                             "spec's folder")
    with History(clone) as history:
        reader = _Reader(history, clone, repo, out_name, jsonl, instances)
        reader.official = official_pythons
        return reader.draft()


class _Reader:
    def __init__(self, history: History, clone: Path, repo: str | None, out_name: str | None,
                 jsonl: str | None, instances: str | None):
        self.history, self.clone, self.repo_name = history, clone, repo
        self.out = Path(out_name).expanduser().resolve() if out_name else None
        self.jsonl, self.instances = jsonl, instances
        self.why: dict[str, str] = {}
        self.present = present_pythons()
        self.official = False
        self._commits: list[Commit] | None = None
        self._changes: list[Commit] | None = None

    def draft(self) -> Draft:
        history = self.history
        try:
            history.head()
        except GitError:
            raise DraftError(f"{self.clone}: HEAD names no commit (an empty repository?); "
                             "clone the repository with its history, then draft") from None
        commits = self._history()
        head = commits[-1]
        head_files = history.files(head.sha)
        pulls = [c for c in commits if c.pull is not None]
        window = self._window(commits, pulls)
        sample = self._sample(window)
        source = find_version_source(history, head_files, sample)
        read_head = self._reader(head.sha)
        head_meta = read_metadata(read_head, head_files)
        tests = plan_tests(head_files, head_meta, read_head)
        eras = self._eras(sample, source.versions, tests)
        ranges = group_eras(eras)
        spec: dict[str, Any] = {"repo": self._repo(head_meta),
                                "source": self._source(pulls, window),
                                "tests": self._tests(tests),
                                "version": source.section}
        self.why["version"] = source.why
        spec["environments"] = [self._environment(index, r, ranges)
                                for index, r in enumerate(ranges)]
        images = {env["python"]: image for env, r in zip(spec["environments"], ranges)
                  if (image := r.recipe.base_image)}
        if images:
            spec["build"] = {"base_images": dict(sorted(images.items()))}
            self.why["build.base_images"] = (
                "Pythons this machine does not build come from the official images "
                "(a machine that reaches Docker Hub pulls them; elsewhere name your own)")
        self.why[""] = self._header(head, pulls, head_files)
        return Draft(spec, self.why)

    # ---- history ---------------------------------------------------------------------------

    @staticmethod
    def _window(commits: list[Commit], pulls: list[Commit]) -> list[Commit]:
        """The commits pull requests were based on: from the first one's base to HEAD."""
        if not pulls:
            return commits
        start = commits.index(pulls[0])
        return commits[max(start - 1, 0):]

    def _sample(self, window: list[Commit]) -> list[Commit]:
        if len(window) <= SAMPLE:
            return window
        step = len(window) / SAMPLE
        chosen = {window[int(i * step)].sha for i in range(SAMPLE)} | {window[-1].sha}
        touching = {c.sha for c in self._touching()}
        return [c for c in window if c.sha in chosen or c.sha in touching]

    def _lasting(self, first: Commit, last: Commit) -> tuple[Metadata, tuple[str, ...]]:
        """What the version's first commit says, kept to what its last commit still has.

        Every instance of a range runs the range's install at its own base commit, anywhere
        in the range: a requirement file, an npm folder or an extra that a later commit
        removes (pydantic-core's package.json, gone within 2.14) would fail those instances.
        """
        meta, files = self._metadata(first)
        if last.sha == first.sha:
            return meta, files
        later, later_files = self._metadata(last)
        kept = set(later_files)
        common = tuple(f for f in files if f in kept)
        meta = read_metadata(self._reader(first.sha), common)
        meta.extras = {k: v for k, v in meta.extras.items() if k in later.extras}
        return meta, common

    def _history(self) -> list[Commit]:
        """HEAD's first-parent history, oldest first (read once)."""
        if self._commits is None:
            self._commits = self.history.first_parent()
        return self._commits

    def _touching(self) -> list[Commit]:
        """The commits of that history that change a dependency file (read once)."""
        if self._changes is None:
            self._changes = self.history.first_parent(*DEPENDENCY_PATHSPECS)
        return self._changes

    def _reader(self, sha: str) -> Reader:
        return lambda path: self.history.read(sha, path)

    def _metadata(self, commit: Commit) -> tuple[Metadata, tuple[str, ...]]:
        files = self.history.files(commit.sha)
        return read_metadata(self._reader(commit.sha), files), files

    def _eras(self, sample: list[Commit], versions: dict[str, str],
              tests: TestPlan) -> list[VersionEra]:
        by_version: dict[str, list[Commit]] = {}
        for commit in sample:
            if commit.sha in versions:
                by_version.setdefault(versions[commit.sha], []).append(commit)
        added = self._added_by_pulls(versions)
        eras = []
        for version, commits in by_version.items():
            meta, files = self._lasting(commits[0], commits[-1])
            python = choose_python(meta.requires_python, meta.declared_pythons, commits[0].date,
                                   meta.sources.get("declared_pythons"), self.present,
                                   self.official)
            recipe = make_recipe(meta, files, self._reader(commits[0].sha), python, tests,
                                 commits[0].date)
            era = VersionEra(version, commits[0], commits[-1], recipe)
            era.later = added.get(version, {})
            eras.append(era)
        return eras

    def _added_by_pulls(self, versions: dict[str, str]) -> dict[str, dict[str, tuple[str, int]]]:
        """Packages a pull request's own merge declares (version -> name -> (requirement, PR)).

        The instance of that pull request installs its base commit, where the package is not
        declared yet, and its patch is applied after the install: so the environment itself
        must hold it. Packages declared by a commit before a pull request's base are installed
        by the instance's own install, which runs again at its base commit.
        """
        everything = self._history()
        index = {c.sha: i for i, c in enumerate(everything)}
        found: dict[str, dict[str, tuple[str, int]]] = {}
        ordered = [c for c in self._touching() if c.pull is not None and index.get(c.sha, 0) > 0]
        for commit in ordered:
            position = index[commit.sha]
            parent = everything[position - 1]
            version = versions.get(commit.sha) or versions.get(parent.sha) or \
                self._nearest_version(everything, position, versions)
            if version is None:
                continue
            before = declared_names(self._reader(parent.sha))
            after = declared_names(self._reader(commit.sha))
            for name in after.keys() - before.keys():
                found.setdefault(version, {}).setdefault(name, (after[name], commit.pull or 0))
        return found

    @staticmethod
    def _nearest_version(everything: list[Commit], position: int,
                         versions: dict[str, str]) -> str | None:
        for back in range(position, -1, -1):
            if everything[back].sha in versions:
                return versions[everything[back].sha]
        return None

    # ---- sections --------------------------------------------------------------------------

    def _repo(self, meta: Metadata) -> str:
        if self.repo_name:
            self.why["repo"] = "given with --repo"
            return self.repo_name
        url = self.history.remote_url() or ""
        match = re.search(r"github\.com[:/]([\w.-]+)/([\w.-]+?)(?:\.git)?/?$", url)
        if match:
            self.why["repo"] = f"the clone's origin is {url}"
            return f"{match.group(1)}/{match.group(2)}"
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", self.clone.name.removesuffix(".git")) or "repo"
        self.why["repo"] = ("the clone has no GitHub origin: instance ids are owner__name-N, "
                            "so set the real owner/name (or pass --repo)")
        return f"local/{name}"

    def _source(self, pulls: list[Commit], window: list[Commit]) -> dict[str, Any]:
        clone = str(self.clone)
        if self.out is not None:
            relative = os.path.relpath(self.clone, self.out.parent)
            clone = relative if not relative.startswith("../../..") else clone
        source: dict[str, Any] = {"clone": clone}
        self.why["source.clone"] = ("the clone this was drafted from"
                                    + (", relative to this file" if self.out else ""))
        if self.instances:
            source["instances"] = self.instances
            self.why["source.instances"] = "given with --instances: rebuild these published rows"
        elif self.jsonl:
            source["jsonl"] = self.jsonl
            self.why["source.jsonl"] = "given with --jsonl: candidates as `swegc mine` wrote them"
        else:
            merges = sum(1 for c in pulls if c.kind == "merge")
            squashes = sum(1 for c in pulls if c.kind == "squash")
            source["git"] = {"merges": merges > 0, "squash": squashes > 0}
            self.why["source.git"] = (
                f"the first-parent history holds {merges} pull request "
                f"merge{'s' if merges != 1 else ''} ('Merge pull request #N' or '... (#N)') "
                f"and {squashes} squash commit{'s' if squashes != 1 else ''} '... (#N)' "
                f"({window[0].date} to {window[-1].date}): each is a candidate")
        source["filters"] = {"require_linked_issue": False}
        self.why["source.filters.require_linked_issue"] = (
            "offline there are no issue texts: the pull request's own message is the problem "
            "statement; set true with git.issues (a JSONL of issues) for issue-backed tasks")
        return source

    def _tests(self, tests: TestPlan) -> dict[str, Any]:
        section = {**tests.section, "env": {"PYTHONDONTWRITEBYTECODE": "1"}}
        self.why.update(tests.why)
        self.why["tests.env"] = "no .pyc files written during runs, so runs leave the tree as it was"
        return section

    def _environment(self, index: int, current: Range, ranges: list[Range]) -> dict[str, Any]:
        recipe = current.recipe
        env: dict[str, Any] = {}
        if current.versions or len(ranges) > 1:
            env["versions"] = current.versions
        env.update(recipe.env)
        prefix = f"environments.{index}"
        first, last = current.eras[0], current.eras[-1]
        for key in ("apt", "pip"):
            if current.union(key):
                env[key] = current.union(key)
        if "SETUPTOOLS_SCM_PRETEND_VERSION" in env.get("env", {}):
            # The range's first version: code that compares its own version sees a real one.
            env["env"] = {**env["env"], "SETUPTOOLS_SCM_PRETEND_VERSION": f"{first.version}.0"}
        span = (first.version if first is last else f"{first.version} to {last.version}")
        reason = (f"versions {span}: commits {first.first.sha[:10]} ({first.first.date}) to "
                  f"{last.last.sha[:10]} ({last.last.date})")
        if index:
            reason += f"; split from the previous range where {what_changed(ranges[index - 1].recipe, recipe)} changed"
        self.why[prefix] = reason
        for key, text in recipe.why.items():
            self.why[f"{prefix}.{key}"] = text
        for key in ("apt", "pip"):
            if key in env:
                self.why[f"{prefix}.{key}"] = current.union_why(key)
        later = current.added_later()
        if later:
            have = {_bare(p) for p in env.get("pip", [])}
            # Names only: a pin a later pull request wrote may name a release newer than the
            # env commit's date, which pip_date cannot resolve; the date picks the release.
            extra = [name for name in sorted(later) if name not in have]
            env["pip"] = [*env.get("pip", []), *extra]
            pulls = ", ".join(f"#{later[name][1]} adds {name}" for name in sorted(later))
            added = (f"{pulls}: its instance installs its base commit, before that, and the "
                     "patch that needs it comes after the install (names only: the date picks "
                     "the release)")
            old = self.why.get(f"{prefix}.pip")
            self.why[f"{prefix}.pip"] = f"{old}; {added}" if old else added
        return env

    def _header(self, head: Commit, pulls: list[Commit], files: tuple[str, ...]) -> str:
        lines = [f"Drafted by `swegc draft` from {self.clone} at {head.sha[:12]} ({head.date}), "
                 f"{len(pulls)} merged pull requests in its first-parent history. Each line's "
                 "reason is the comment above it: adjust what it got wrong, then run "
                 "`swegc check` and `swegc compile`."]
        modules = self.history.read(head.sha, ".gitmodules") or ""
        paths = re.findall(r"path\s*=\s*(\S+)", modules)
        if paths:
            lines.append(f"Submodules ({', '.join(paths)}): clone each and name it under "
                         "source.submodules if the tests need its files.")
        return " ".join(lines)


def _bare(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower().replace("_", "-")
