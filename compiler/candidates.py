"""Where candidates come from (a spec's ``source``) and which of them the filters keep.

Four sources give the same ``Candidate`` records: a local clone's history (``git``), records
written earlier by ``swegc mine`` or by hand (``jsonl``), published SWE-bench-style instances
(``instances``: re-validate a dataset), and the GitHub API (``github``, in ``mining``). Then the
spec's filters run; a candidate a filter drops is returned as a ``Rejection`` with its
``Reason`` (described in ``swegc.reasons``) and a detail, never silently lost, so that the
build report can say why a pull request did not become an instance.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

from swegc.compiler.mining.links import keyword_references, pattern_references
from swegc.compiler.patches import PatchError, Split, read_diff, split_patch
from swegc.compiler.selection import Selection
from swegc.compiler.spec.model import Filters, RepoSpec
from swegc.dates import instant
from swegc.errors import InputError
from swegc.git import GitError, GitRepo, LogEntry
from swegc.nesting import loads
from swegc.reasons import Reason
from swegc.records import Candidate, Expected, LinkedIssue, read_jsonl
from swegc.redact import redact
from swegc.store import BuildStore

log = logging.getLogger(__name__)

_MERGE_SUBJECT = re.compile(r"^Merge pull request #(\d+) from (\S+)")
# "Title (#N)": a squash commit's subject, and a merge commit's where GitHub keeps the pull
# request's title instead of "Merge pull request #N" (its merge queue, and the repository
# setting "default commit message: pull request title"; 231 of click's recent merges).
_TITLED_SUBJECT = re.compile(r"^(.*\S)\s+\(#(\d+)\)$")
_INSTANCE_NUMBER = re.compile(r"-(\d+)$")


@dataclass(frozen=True)
class Rejection:
    """A candidate that will not become an instance: which, its reason, and why.

    A reason read back as a string (a plan kept in the build store) becomes the ``Reason`` it
    names; one that is not a ``Reason`` is refused here, where it is made.
    """

    instance_id: str
    reason: Reason
    detail: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "reason", Reason(self.reason))


def load_candidates(spec: RepoSpec, store: BuildStore | None = None,
                    splits: dict[str, Split] | None = None,
                    selection: Selection | None = None) -> tuple[list[Candidate], list[Rejection]]:
    """The spec's candidates that pass its filters, sorted by number, and the rejected ones.

    ``splits``, when given, receives each kept candidate's split diff (see ``apply_filters``).
    """
    repo_cache: list[GitRepo] = []

    def repo() -> GitRepo:
        if not repo_cache:
            if spec.source.clone is None:
                raise InputError(f"{spec.where('source')}: source.clone is needed to read the "
                                 "pull requests' commits, and it is not set")
            try:
                repo_cache.append(GitRepo.open(_local(spec, spec.source.clone)))
            except GitError as exc:
                raise InputError(f"{spec.where('source.clone')}: {exc}") from None
        return repo_cache[0]

    kind = spec.source.kind
    if kind == "git":
        candidates, warnings = git_candidates(spec, repo())
        for warning in warnings:
            log.warning("%s", warning)
    elif kind == "jsonl":
        candidates = jsonl_candidates(spec)
    elif kind == "instances":
        candidates = instance_candidates(spec)
    elif kind == "github":
        from swegc.compiler.mining.miner import mine_candidates  # lazy: PyGithub and the network
        candidates = list(mine_candidates(spec, store))
    else:
        raise InputError(f"{spec.where('source')}: unknown source kind {kind!r}")
    return apply_filters(spec, _first_of_each_id(candidates), repo, splits, selection)


def _first_of_each_id(candidates: list[Candidate]) -> list[Candidate]:
    """One candidate per instance id. Record files refuse duplicates when read; a history can
    hold a pull request twice (reverted and landed again): the first met, the newest, wins."""
    seen: set[str] = set()
    kept = []
    for candidate in candidates:
        if candidate.instance_id in seen:
            log.warning("%s appears more than once; keeping the most recent", candidate.instance_id)
            continue
        seen.add(candidate.instance_id)
        kept.append(candidate)
    return kept


def _refuse_duplicates(rows: list[tuple[str, Candidate]]) -> list[Candidate]:
    """The candidates, or an InputError naming both places of a repeated instance id."""
    first: dict[str, str] = {}
    for where, candidate in rows:
        if candidate.instance_id in first:
            raise InputError(f"{where}: {candidate.instance_id} is already at "
                             f"{first[candidate.instance_id]}; each instance may appear once")
        first[candidate.instance_id] = where
    return [candidate for _, candidate in rows]


def _local(spec: RepoSpec, path: Path | str) -> Path:
    """A path from the spec, relative to the spec file's folder unless absolute."""
    path = Path(path).expanduser()
    return path if path.is_absolute() else spec.path.parent / path


# -- git -------------------------------------------------------------------------------------

def git_candidates(spec: RepoSpec, repo: GitRepo) -> tuple[list[Candidate], list[str]]:
    """Merged pull requests in the first-parent history of a local clone, and warnings.

    With several branches (a project that keeps its previous major release on a branch of its
    own), each branch's history is read in the order given; a pull request met on an earlier
    branch (the history the branches share) is kept from there.
    """
    source = spec.source.git
    if source is None:
        raise InputError(f"{spec.where('source.git')}: source kind is git but source.git is "
                         "not set")
    refs = list(source.branches) or ["HEAD"]
    issues = _read_issues(_local(spec, source.issues)) if source.issues else None
    warnings: list[str] = []
    found: dict[int, Candidate] = {}
    for ref in refs:
        branch = ref if source.branches else _current_branch(repo)
        if source.branches and not repo.has_commit(ref):
            raise InputError(f"{spec.where('source.git.branch')}: the clone {repo.path} has no "
                             f"branch or ref {ref!r} (fetch it, or correct source.git.branch)")
        _read_branch(spec, repo, ref, branch, issues, found, warnings)
    return [found[n] for n in sorted(found)], warnings


MAX_SHOWN = 5  # examples named in a warning that sums up many


def _read_branch(spec: RepoSpec, repo: GitRepo, ref: str, branch: str | None,
                 issues: dict[int, LinkedIssue] | None, found: dict[int, Candidate],
                 warnings: list[str]) -> None:
    """Add the pull requests of one branch's first-parent history to ``found``."""
    source = spec.source.git
    assert source is not None
    unknown: list[tuple[int, int]] = []  # (pull request, issue) whose issue text is unknown
    # Pull requests whose commit is in the history more than once (mypy re-applies the same
    # typeshed commits at every sync): how often, said once each.
    repeats: dict[int, int] = {}
    for pull in pull_request_commits(repo, ref, merges=source.merges, squash=source.squash):
        if pull.number in found:  # history shared with an earlier branch
            continue
        candidate = read_pull_request(spec.repo, repo, pull.entry, branch)
        if candidate is None:
            continue
        if pull.times > 1:
            repeats[pull.number] = pull.times
        messages = [candidate.title, candidate.body, *candidate.commit_messages]
        linked = keyword_references(spec.repo, messages)
        if source.issue_pattern:
            linked += [n for n in pattern_references(source.issue_pattern, messages)
                       if n not in linked and n != candidate.number]
        texts = []
        for number in linked:
            issue = issues.get(number) if issues is not None else None
            if issue is None:
                unknown.append((candidate.number, number))
                continue
            texts.append(issue)
        found[candidate.number] = replace(candidate, issues=tuple(texts),
                                          issue_numbers=tuple(linked))
    for number, times in repeats.items():
        said = "twice" if times == 2 else f"{times} times"
        warnings.append(f"{repo.name}: pull request #{number} appears {said} in the history of "
                        f"{ref}; keeping {found[number].merge_commit}")
    if unknown:  # one warning, not one per pull request: real histories have thousands
        where = (f"not in {source.issues}" if issues is not None
                 else "source.git.issues is not set")
        shown = ", ".join(f"#{pr} resolves #{issue}" for pr, issue in unknown[:MAX_SHOWN])
        more = f", and {len(unknown) - MAX_SHOWN} more" if len(unknown) > MAX_SHOWN else ""
        on = f"{ref}: " if source.branches else ""
        warnings.append(f"{on}{len(unknown)} linked issue(s) whose text is unknown ({where}) "
                        f"are dropped from their pull requests: {shown}{more}")


def _current_branch(repo: GitRepo) -> str | None:
    try:
        return repo.run("symbolic-ref", "--quiet", "--short", "HEAD").strip() or None
    except GitError:
        return None


@dataclass(frozen=True)
class PullCommit:
    """The first-parent commit a pull request landed with, and how many name it.

    ``times`` is above 1 when the history holds the pull request more than once: re-applied
    (mypy's typeshed syncs), or squashed and then its branch merged as well (pydantic's #697).
    """

    number: int
    entry: LogEntry
    times: int = 1


def pull_number(entry: LogEntry, *, merges: bool = True, squash: bool = True) -> int | None:
    """The pull request a first-parent commit landed, or None.

    ``merges`` covers merge commits, "Merge pull request #N from ..." and "Title (#N)" alike:
    both are read the same way (the diff against the first parent), so one switch turns both
    off. ``squash`` covers one-parent commits "Title (#N)".
    """
    if len(entry.parents) >= 2:
        if not merges:
            return None
        merge = _MERGE_SUBJECT.match(entry.subject)
        if merge is not None:
            return int(merge.group(1))
    elif len(entry.parents) != 1 or not squash:
        return None
    titled = _TITLED_SUBJECT.match(entry.subject)
    return int(titled.group(2)) if titled is not None else None


def pull_request_commits(repo: GitRepo, ref: str, *, merges: bool = True,
                         squash: bool = True) -> list[PullCommit]:
    """The pull requests of ``ref``'s first-parent history, newest first, once each.

    A pull request met more than once is kept from its newest commit that changes the tree:
    a later re-merge wins, but not one that changes nothing (a branch merged after its squash
    commit had landed leaves an empty merge, and a pull request read from it has no diff).
    Only the subjects are read here; callers read the commits they keep
    (``read_pull_request``), so a caller that stops early reads no more than it needs.
    """
    entries = repo.first_parent_log(ref)
    landed: dict[int, list[LogEntry]] = {}
    for entry in entries:
        number = pull_number(entry, merges=merges, squash=squash)
        if number is not None:
            landed.setdefault(number, []).append(entry)
    repeated = [entry for commits in landed.values() if len(commits) > 1 for entry in commits]
    empty = _changing_nothing(repo, repeated)
    order = {entry.sha: index for index, entry in enumerate(entries)}
    kept = [PullCommit(number, next((c for c in commits if c.sha not in empty), commits[0]),
                       len(commits)) for number, commits in landed.items()]
    return sorted(kept, key=lambda pull: order[pull.entry.sha])


def _changing_nothing(repo: GitRepo, entries: list[LogEntry]) -> set[str]:
    """The commits among ``entries`` whose tree is their first parent's (one git call)."""
    if not entries:
        return set()
    revs = [rev for entry in entries for rev in (f"{entry.sha}^{{tree}}",
                                                  f"{entry.parents[0]}^{{tree}}")]
    trees = repo.run("rev-parse", *revs).split()
    return {entry.sha for entry, mine, base in zip(entries, trees[::2], trees[1::2])
            if mine == base}


def read_pull_request(slug: str, repo: GitRepo, entry: LogEntry,
                      branch: str | None) -> Candidate | None:
    """The pull request a first-parent commit landed, as a candidate, or None for a commit
    that names none (see ``pull_number``).

    Its base is the first parent and its diff the commit's against it, for merge and squash
    commits alike. ``compile`` (``source.git``) and the revert generator both read history
    with this, so that a pull request means the same to both.
    """
    if len(entry.parents) >= 2:
        return _from_merge(slug, repo, entry, branch)
    if len(entry.parents) == 1:
        return _from_squash(slug, entry, branch)
    return None


def _from_merge(slug: str, repo: GitRepo, entry: LogEntry, branch: str | None) -> Candidate | None:
    merge = _MERGE_SUBJECT.match(entry.subject)
    titled = None if merge else _TITLED_SUBJECT.match(entry.subject)
    if merge is not None:  # the title is the body's first line
        number = int(merge.group(1))
        title, _, body = entry.body.partition("\n")
    elif titled is not None:  # the subject is the title, the body the description
        number, title, body = int(titled.group(2)), titled.group(1), entry.body
    else:
        return None
    base, head = entry.parents[0], entry.parents[1]
    commits = list(reversed(repo.log(f"{base}..{head}")))  # oldest first
    created = min((c.author_date for c in commits), default=entry.author_date)
    return Candidate(repo=slug, number=number, base_commit=base, title=title.strip(),
                     body=body.strip("\n").rstrip(), merge_commit=entry.sha,
                     created_at=created, merged_at=entry.committer_date, base_branch=branch,
                     commit_messages=tuple(c.message for c in commits), source="git")


def _from_squash(slug: str, entry: LogEntry, branch: str | None) -> Candidate | None:
    match = _TITLED_SUBJECT.match(entry.subject)
    if match is None:
        return None
    return Candidate(repo=slug, number=int(match.group(2)), base_commit=entry.parents[0],
                     title=match.group(1), body=entry.body, merge_commit=entry.sha,
                     created_at=entry.author_date, merged_at=entry.committer_date,
                     base_branch=branch, commit_messages=(entry.message,), source="git")


def _read_issues(path: Path) -> dict[int, LinkedIssue]:
    """``{number, title, body}`` rows (url, created_at optional; other keys ignored)."""
    issues: dict[int, LinkedIssue] = {}
    for where, row in read_jsonl(str(path), "issue"):
        try:
            number = int(row["number"])
        except (KeyError, TypeError, ValueError):
            raise InputError(f"{where}: an issue needs an integer 'number'") from None
        issues[number] = LinkedIssue(number=number, title=str(row.get("title") or ""),
                                     body=str(row.get("body") or ""), url=row.get("url"),
                                     created_at=row.get("created_at"))
    return issues


# -- jsonl -----------------------------------------------------------------------------------

def jsonl_candidates(spec: RepoSpec) -> list[Candidate]:
    """Candidate records (``swegc mine`` output, or written by hand), checked row by row."""
    if spec.source.jsonl is None:
        raise InputError(f"{spec.where('source')}: source kind is jsonl but no file is given")
    candidates = []
    for where, row in read_jsonl(str(_local(spec, spec.source.jsonl)), "candidate"):
        candidate = Candidate.from_json(row, where)
        if candidate.repo.lower() != spec.repo.lower():
            raise InputError(f"{where}: candidate #{candidate.number} is for {candidate.repo}, "
                             f"but the spec {spec.path} is for {spec.repo}")
        candidates.append((where, candidate))
    return _refuse_duplicates(candidates)


# -- instances -------------------------------------------------------------------------------

def instance_candidates(spec: RepoSpec) -> list[Candidate]:
    """SWE-bench-style rows of this spec's repository, with their patches and expectations.

    The problem statement goes to ``body`` (``title`` stays empty): published instances keep
    only the statement, not the pull request's title or the issue's number.
    """
    location = spec.source.instances
    if not location:
        raise InputError(f"{spec.where('source')}: source kind is instances but none are given")
    rows = list(_instance_rows(spec, location))
    candidates = _refuse_duplicates([(where, candidate_from_instance(row, where))
                                     for where, row in rows
                                     if str(row.get("repo", "")).lower() == spec.repo.lower()])
    if rows and not candidates:
        repos = sorted({str(row.get("repo")) for _, row in rows})
        raise InputError(f"{spec.where('source.instances')}: no instance of {spec.repo} in "
                         f"{location} (it has {', '.join(repos[:10])})")
    return candidates


def _instance_rows(spec: RepoSpec, location: str) -> Iterable[tuple[str, dict[str, Any]]]:
    if location.startswith("hub:"):
        name, _, split = location[4:].partition(":")
        dataset = _load_hub_dataset(spec, name.strip(), split.strip() or "test")
        return ((f"{location}[{i}]", dict(row)) for i, row in enumerate(dataset))
    path = _local(spec, location)
    if path.is_file() and path.suffix in (".jsonl", ".json"):
        return read_jsonl(str(path), "instance")
    if not path.exists():
        raise InputError(f"{spec.where('source.instances')}: {path} does not exist")
    import datasets  # lazy: heavy
    if path.is_file():
        loaded: Any = datasets.load_dataset(path.suffix.lstrip("."), data_files=str(path))
    elif (path / "dataset_dict.json").exists() or (path / "state.json").exists():
        loaded = datasets.load_from_disk(str(path))
    else:
        loaded = datasets.load_dataset(str(path))
    if isinstance(loaded, datasets.DatasetDict):
        splits = list(loaded)
        split = "test" if "test" in loaded else splits[0] if len(splits) == 1 else None
        if split is None:
            raise InputError(f"{path}: several splits ({', '.join(splits)}) and none is 'test'; "
                             "give one file or folder per split")
        loaded = loaded[split]
    return ((f"{path}[{i}]", dict(row)) for i, row in enumerate(loaded))


def _load_hub_dataset(spec: RepoSpec, name: str, split: str) -> Any:
    """``load_dataset(name, split=split)``, with the client's failures said as what to fix.

    A wrong name, a missing split, a private dataset without a token or an unreachable Hub are
    the user's to fix, so they become an ``InputError`` naming the spec line and the dataset
    (never a traceback); anything else is a bug and keeps its traceback. The message is redacted:
    the endpoint may carry credentials and client messages may echo a token.
    """
    where = spec.where("source.instances")
    if not name:
        raise InputError(f"{where}: no dataset id after 'hub:'; write hub:org/name or hub:org/name:split")
    import datasets  # lazy: heavy
    from datasets.exceptions import DatasetNotFoundError, DatasetsError
    from huggingface_hub.errors import HfHubHTTPError, HFValidationError, LocalEntryNotFoundError
    from huggingface_hub.utils import httpx as hub_httpx  # huggingface_hub's HTTP client

    endpoint = re.sub(r"//[^/@]*@", "//", datasets.config.HF_ENDPOINT)  # no user:password@
    head = f"{where}: cannot load dataset {name!r} (split {split!r}) from the Hub at {endpoint}"
    private = ("for a private or gated dataset set HF_TOKEN to a token that can read it, and for a "
               "mirror or a private Hub set HF_ENDPOINT")
    try:
        return datasets.load_dataset(name, split=split)
    except HFValidationError as exc:
        advice = f"{exc}; write hub:org/name or hub:org/name:split"
    except DatasetNotFoundError as exc:
        advice = f"{exc} Check the dataset id; {private}"
    except (ConnectionError, LocalEntryNotFoundError, hub_httpx.TransportError) as exc:
        advice = (f"the Hub could not be reached ({exc}). Check the network, or set HF_ENDPOINT to "
                  "a Hub or mirror that can be reached (HF_HUB_OFFLINE=1 uses only the local cache)")
    except HfHubHTTPError as exc:
        status = exc.response.status_code if exc.response is not None else None
        advice = f"the Hub answered HTTP {status}: {str(exc).splitlines()[0]}"
        if status in (401, 403):
            advice += f"; {private}"
    except ValueError as exc:
        if "Unknown split" not in str(exc):
            raise
        advice = f"{exc} Give the split after the name: hub:{name}:<split>"
    except (DatasetsError, FileNotFoundError) as exc:
        advice = f"{exc} Check the dataset id; {private}"
    raise InputError(redact(f"{head}: {advice}")) from None


def _test_list(value: Any, where: str, column: str) -> tuple[str, ...]:
    """SWE-bench stores test lists as JSON strings; other datasets as native lists."""
    if value is None or value == "":
        return ()
    if isinstance(value, str):
        try:
            value = loads(value)
        except json.JSONDecodeError:
            raise InputError(f"{where}: {column} is neither a list nor a JSON list") from None
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
        raise InputError(f"{where}: {column} must be a list of test ids")
    return tuple(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


def _published_issues(row: dict[str, Any], repo: str, statement: str,
                      where: str) -> tuple[int, ...]:
    """The issues a published instance resolves: its ``issue_numbers`` column (SWE-bench's
    collected task instances have one; its published splits dropped it), else the issues of
    ``repo`` that closing keywords in the statement name ("fixes #12"). A bare link is not
    taken: in an issue's text it points at another, related issue."""
    value = row.get("issue_numbers")
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = loads(value)
        except json.JSONDecodeError:
            raise InputError(f"{where}: issue_numbers is neither a list nor a JSON list") from None
    if value is not None and value != "":
        items = value if isinstance(value, (list, tuple)) else [value]
        try:
            return tuple(int(str(n).lstrip("#")) for n in items)
        except ValueError:
            raise InputError(f"{where}: issue_numbers must be issue numbers, got {value!r}") from None
    return tuple(keyword_references(repo, [statement]))


def candidate_from_instance(row: dict[str, Any], where: str) -> Candidate:
    """One SWE-bench-format row as a candidate whose patches and expectations are preset."""
    for column in ("instance_id", "repo", "base_commit", "patch"):
        if not row.get(column):
            raise InputError(f"{where}: instance has no {column!r}")
    instance_id = str(row["instance_id"])
    match = _INSTANCE_NUMBER.search(instance_id)
    number = row.get("pull_number") or (match.group(1) if match else None)
    if number is None:
        raise InputError(f"{where}: cannot read a pull request number from instance_id "
                         f"{instance_id!r} (expected owner__name-NUMBER)")
    expected = Expected(
        instance_id=instance_id, version=_text(row.get("version")) or None,
        environment_setup_commit=row.get("environment_setup_commit") or None,
        FAIL_TO_PASS=_test_list(row.get("FAIL_TO_PASS"), where, "FAIL_TO_PASS"),
        PASS_TO_PASS=_test_list(row.get("PASS_TO_PASS"), where, "PASS_TO_PASS"),
        patch=row["patch"], test_patch=row.get("test_patch") or "")
    statement = _text(row.get("problem_statement"))
    return Candidate(repo=str(row["repo"]), number=int(number), base_commit=str(row["base_commit"]),
                     title="", body=statement, patch=row["patch"],
                     test_patch=row.get("test_patch") or "",
                     created_at=_text(row.get("created_at")),
                     hints_text=_text(row.get("hints_text")), source="instances",
                     expected=expected,
                     issue_numbers=_published_issues(row, str(row["repo"]), statement, where))


# -- filters ---------------------------------------------------------------------------------

def _cheap_rejection(filters: Filters, c: Candidate) -> tuple[Reason, str] | None:
    """Filters that need no diff: checked first, so that no diff is read for nothing."""
    if filters.numbers and c.number not in filters.numbers:
        return Reason.NOT_SELECTED, f"#{c.number} is not in source.filters.numbers"
    if filters.since or filters.until:
        created = instant(c.created_at, lenient=True)
        since = instant(filters.since, lenient=True)
        until = instant(filters.until, lenient=True)
        if created is None:
            return Reason.OUTSIDE_DATES, f"created_at {c.created_at!r} is not a date"
        if since and created < since:
            return Reason.OUTSIDE_DATES, f"created {c.created_at}, before {filters.since}"
        if until and created >= until:
            return Reason.OUTSIDE_DATES, f"created {c.created_at}, not before {filters.until}"
    if filters.base_branch and c.base_branch != filters.base_branch:
        return Reason.OTHER_BASE_BRANCH, f"merged into {c.base_branch or 'an unknown branch'}"
    if filters.labels and not set(c.labels) & set(filters.labels):
        return (Reason.LABEL_NOT_SELECTED,
                f"labels {list(c.labels)} include none of {list(filters.labels)}")
    excluded = sorted(set(c.labels) & set(filters.exclude_labels))
    if excluded:
        return Reason.EXCLUDED_LABEL, f"labelled {', '.join(excluded)}"
    if filters.require_linked_issue and not c.issues:
        return Reason.NO_LINKED_ISSUE, "resolves no issue whose text is known"
    return None


def candidate_split(spec: RepoSpec, c: Candidate, repo: Callable[[], GitRepo]) -> Split:
    """The candidate's change cut into code and tests (preset patches are taken as they are)."""
    if c.patch is not None and c.test_patch is not None:
        code = split_patch(c.patch, ["!*"]) if c.patch.strip() else Split("", "", (), ())
        tests = (split_patch(c.test_patch, ["*"]) if c.test_patch.strip()
                 else Split("", "", (), ()))
        return Split(c.patch, c.test_patch, tests.test_files, code.code_files,
                     code.code_lines, tests.test_lines)
    diff = c.diff
    if not diff:
        assert c.merge_commit is not None  # Candidate.from_json guarantees diff or merge_commit
        diff = read_diff(repo(), c.base_commit, c.merge_commit)
    return split_patch(diff, spec.tests.files)


def _diff_rejection(filters: Filters, split: Split) -> tuple[Reason, str] | None:
    files = len(split.code_files) + len(split.test_files)
    lines = split.code_lines + split.test_lines
    if filters.max_files is not None and files > filters.max_files:
        return Reason.TOO_LARGE, f"{files} files changed (max_files {filters.max_files})"
    if filters.max_lines is not None and lines > filters.max_lines:
        return Reason.TOO_LARGE, f"{lines} lines changed (max_lines {filters.max_lines})"
    if filters.must_touch_tests and not split.test_files:
        return Reason.NO_TEST_CHANGE, f"changes no test file ({', '.join(split.code_files)})"
    if filters.must_touch_code and not split.code_files:
        return Reason.ONLY_TESTS_CHANGED, f"changes only test files ({', '.join(split.test_files)})"
    return None


def apply_filters(spec: RepoSpec, candidates: Iterable[Candidate], repo: Callable[[], GitRepo],
                  splits: dict[str, Split] | None = None,
                  selection: Selection | None = None) -> tuple[list[Candidate], list[Rejection]]:
    """Candidates that pass ``spec.source.filters`` (and the command line's ``selection``,
    checked first: an excluded candidate's diff is never read) and, for the rest, why not.

    Filtering reads and splits each diff the cheap filters leave; ``splits``, when given,
    receives those splits by instance id, so that planning (``plan_candidate(split=...)``)
    uses them instead of reading and splitting the same diff again.
    """
    filters = spec.source.filters
    kept: list[Candidate] = []
    rejected: list[tuple[int, Rejection]] = []
    for c in candidates:
        verdict = (selection.rejection(c) if selection else None) or _cheap_rejection(filters, c)
        if verdict is None:
            try:
                split = candidate_split(spec, c, repo)
                verdict = _diff_rejection(filters, split)
                if verdict is None and splits is not None:
                    splits[c.instance_id] = split
            except PatchError as exc:
                verdict = Reason(exc.reason), exc.detail or str(exc)
            except GitError as exc:
                verdict = Reason.COMMIT_MISSING, str(exc)
        if verdict is None:
            kept.append(c)
        else:
            rejected.append((c.number, Rejection(c.instance_id, *verdict)))
    kept.sort(key=lambda c: (c.number, c.instance_id))
    rejected.sort(key=lambda item: (item[0], item[1].instance_id))
    return kept, [r for _, r in rejected]
