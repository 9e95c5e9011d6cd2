"""The records that cross stage boundaries: candidates, instances and trajectories.

Each record is a plain frozen dataclass with ``to_json``/``from_json`` so that it can be kept
in the build store, written as JSONL, and read back by a later stage or another process (a
worker of the local pool or of a Ray cluster). Every serialized record carries
``schema_version`` so that a reader can refuse what it does not understand.

An ``Instance`` is what every stage after compile reads: a dataset row, however it was read
(``read_dataset``, ``datasets.load_dataset``, a JSONL line, an older schema), becomes one with
``Instance.from_row``, so that readers use typed fields instead of string keys.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import date, datetime
from typing import Any, ClassVar

from swegc.errors import InputError
from swegc.nesting import loads
from swegc.reasons import ExitStatus
from swegc.test_settings import TestSettings, setting_columns

CANDIDATE_SCHEMA_VERSION = 1
# 2: the test settings' columns (parser_options, test_timeout_s, ...). 3: the columns the field's
# tools read (image_name, docker_image, eval_script, eval_type; `image` an immutable reference,
# `log_parser` SWE-bench's parser name, swegc's own in swegc_log_parser/swegc_parser_options).
# 4: spec_version and env_commit, swegc's own choices, beside the published version and
# environment_setup_commit that a rebuilt instance keeps.
# 5: test_prepare. 6: eval_script puts back what harness/protected_files.py says (the rule set
# `swegc evaluate` uses too): a packaging file only when its test-runner part changed.
# 7: eval_script loads the run's guard into pytest (harness/pytest_guard.py) and exits 0 only
# when the run was not tampered with; older rows' scripts still run, without the guard.
# 8: difficulty_* (swegc.difficulty); an older row's are computed from its patch when read.
# 9: origin ("real", or how `swegc synthesize` made the task) and synthesis (what it changed);
# older rows read as real tasks.
INSTANCE_SCHEMA_VERSION = 9
READABLE_INSTANCE_VERSIONS = (1, 2, 3, 4, 5, 6, 7, 8, 9)  # 1: rows without test settings, graded with the defaults
TRAJECTORY_SCHEMA_VERSION = 3
# Version 1 rows (no image, sample, cost, error, grade or swegc_version) are still read.
# 3: suspicious (the reward-hack scan's findings); older rows read as unscanned ([]).
READABLE_TRAJECTORY_VERSIONS = (1, 2, 3)


ORIGIN_REAL = "real"  # the ``origin`` of a task made from a merged pull request


def instance_id_for(repo: str, pull_number: int) -> str:
    """SWE-bench's instance id: ``owner__name-PR``."""
    owner, _, name = repo.partition("/")
    return f"{owner}__{name}-{pull_number}"


def _check_keys(kind: str, data: dict[str, Any], cls: type, where: str) -> None:
    known = {f.name for f in fields(cls)} | {"schema_version"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InputError(f"{where}: unknown {kind} field(s) {', '.join(unknown)}; "
                         f"known fields are {', '.join(sorted(known))}")


@dataclass(frozen=True)
class LinkedIssue:
    """An issue a pull request resolves; its text becomes the problem statement."""

    number: int
    title: str
    body: str
    url: str | None = None
    created_at: str | None = None

    @property
    def text(self) -> str:
        return f"{self.title}\n{self.body}".rstrip() + "\n"


@dataclass(frozen=True)
class Expected:
    """What a published dataset said about an instance, kept to compare after re-validation."""

    instance_id: str
    version: str | None = None
    environment_setup_commit: str | None = None
    FAIL_TO_PASS: tuple[str, ...] = ()
    PASS_TO_PASS: tuple[str, ...] = ()
    patch: str | None = None
    test_patch: str | None = None


@dataclass(frozen=True)
class Candidate:
    """A merged pull request that may become a task instance.

    This is also the JSONL record format that ``swegc mine`` writes and that a spec's
    ``source.jsonl`` reads: ``number`` is the pull request number. Either ``diff`` is given, or
    ``merge_commit`` is, and the diff is computed from the local clone (first parent of the
    merge, or ``base_commit``, to ``merge_commit``). When the split into patch and test_patch
    is already known (a published SWE-bench instance), ``patch``/``test_patch`` are given and
    kept as they are.
    """

    repo: str
    number: int
    base_commit: str
    title: str = ""
    body: str = ""
    merge_commit: str | None = None
    diff: str | None = None
    patch: str | None = None
    test_patch: str | None = None
    created_at: str = ""
    merged_at: str | None = None
    base_branch: str | None = None
    labels: tuple[str, ...] = ()
    issues: tuple[LinkedIssue, ...] = ()
    hints_text: str = ""
    commit_messages: tuple[str, ...] = ()
    source: str = "jsonl"
    expected: Expected | None = None
    # Issues the pull request resolves, also those whose text is unknown (``issues`` has the
    # ones with text); a published row's ``issue_numbers``.
    issue_numbers: tuple[int, ...] = ()

    @property
    def resolved_issues(self) -> list[str]:
        """The ``issue_numbers`` column: every resolved issue, in order, once."""
        numbers = [issue.number for issue in self.issues] + list(self.issue_numbers)
        return [str(n) for n in dict.fromkeys(numbers)]

    @property
    def instance_id(self) -> str:
        return self.expected.instance_id if self.expected else instance_id_for(self.repo, self.number)

    @property
    def problem_statement(self) -> str:
        """Linked issues' text when there are any, else the pull request's title and body."""
        if self.issues:
            return "".join(issue.text for issue in self.issues)
        if not self.title:  # a published instance's statement, kept as it was
            return self.body
        return f"{self.title}\n{self.body}".rstrip() + "\n"

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        data["commit_messages"] = list(self.commit_messages)
        data["issue_numbers"] = list(self.issue_numbers)
        if not self.issue_numbers:  # records (and the plans keyed by them) stay as they were
            del data["issue_numbers"]
        data["issues"] = [asdict(i) for i in self.issues]
        if self.expected is not None:
            exp = asdict(self.expected)
            exp["FAIL_TO_PASS"] = list(self.expected.FAIL_TO_PASS)
            exp["PASS_TO_PASS"] = list(self.expected.PASS_TO_PASS)
            data["expected"] = exp
        return {"schema_version": CANDIDATE_SCHEMA_VERSION, **data}

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "candidate") -> Candidate:
        data = dict(data)
        version = data.pop("schema_version", CANDIDATE_SCHEMA_VERSION)
        if version != CANDIDATE_SCHEMA_VERSION:
            raise InputError(f"{where}: candidate schema_version {version} is not supported "
                             f"(this swegc reads {CANDIDATE_SCHEMA_VERSION})")
        _check_keys("candidate", data, cls, where)
        for required in ("repo", "number", "base_commit"):
            if data.get(required) in (None, ""):
                raise InputError(f"{where}: candidate has no {required!r}")
        if not data.get("diff") and not data.get("merge_commit") and not data.get("patch"):
            raise InputError(f"{where}: candidate #{data['number']} has neither 'diff' nor "
                             "'merge_commit' (nor 'patch'); give one so the change can be read")
        try:
            data["issues"] = tuple(LinkedIssue(**i) for i in data.get("issues") or ())
            data["labels"] = tuple(data.get("labels") or ())
            data["commit_messages"] = tuple(data.get("commit_messages") or ())
            data["issue_numbers"] = tuple(int(n) for n in data.get("issue_numbers") or ())
            if data.get("expected"):
                exp = dict(data["expected"])
                exp["FAIL_TO_PASS"] = tuple(exp.get("FAIL_TO_PASS") or ())
                exp["PASS_TO_PASS"] = tuple(exp.get("PASS_TO_PASS") or ())
                data["expected"] = Expected(**exp)
            data["number"] = int(data["number"])
        except (TypeError, ValueError) as exc:
            raise InputError(f"{where}: malformed candidate: {exc}") from None
        return cls(**data)


@dataclass(frozen=True)
class TestRun:
    """One run of the test command on one side (before/after) of an instance."""

    side: str  # "before" | "after"
    attempt: int
    exit_code: int
    duration_s: float
    statuses: dict[str, str]  # test id -> PASSED | FAILED | ERROR | SKIPPED | XFAIL | XPASS
    log_path: str | None = None


@dataclass(frozen=True)
class Instance:
    """A validated task instance: SWE-bench's columns with the same names, plus provenance."""

    instance_id: str
    repo: str
    base_commit: str
    patch: str
    test_patch: str
    problem_statement: str
    hints_text: str
    created_at: str
    version: str  # SWE-bench's; a rebuilt published instance keeps the published value
    environment_setup_commit: str  # likewise
    FAIL_TO_PASS: list[str]
    PASS_TO_PASS: list[str]
    pull_number: int
    issue_numbers: list[str]
    image: str  # immutable: name@sha256:digest once pushed, else the local image id
    image_id: str
    spec_hash: str
    # How the tests run: one value from the spec to the row (swegc.test_settings), written as
    # its own columns (test_command, test_directives, swegc_log_parser, test_timeout_s, ...).
    tests: TestSettings
    log_parser: str  # SWE-bench 5.x's parser for eval_script's log
    flaky_tests: list[str]
    validation: dict[str, Any]
    swegc_version: str
    # swegc's own choices: the version its spec found (which picked the environment) and the
    # commit the env image was built at. Equal to version/environment_setup_commit unless the
    # instance was rebuilt from a published row that said otherwise.
    spec_version: str = ""
    env_commit: str = ""
    # What peer harnesses read: the image columns from the one ImageRef
    # (swegc.images.reference), the script from swegc.runtime.harness.peer_columns.
    image_tag: str = ""
    image_name: str = ""
    docker_image: str = ""
    eval_script: str = ""
    eval_type: str = ""
    # Difficulty signals (swegc.difficulty): the gold patch's files, hunks and changed lines and
    # the FAIL_TO_PASS count (-1: computed from patch and FAIL_TO_PASS when made); the resolve
    # rate of a policy, from `swegc curate --runs` (None until then).
    difficulty_files: int = -1
    difficulty_hunks: int = -1
    difficulty_lines: int = -1
    difficulty_fail_to_pass: int = -1
    difficulty_resolve_rate: float | None = None
    difficulty_resolve_runs: int = 0
    difficulty_resolve_policy: str = ""
    # How the task was made: "real" (a merged pull request), or by `swegc synthesize`:
    # "mutation:<kind>", "pr_revert", "combined", "policy"; ``synthesis`` says what it changed
    # (files, functions, the source instance, the strategy's own facts), empty for real tasks.
    origin: str = ORIGIN_REAL
    synthesis: dict[str, Any] = field(default_factory=dict)
    schema_version: int = INSTANCE_SCHEMA_VERSION

    def __post_init__(self) -> None:
        if min(self.difficulty_files, self.difficulty_hunks, self.difficulty_lines,
               self.difficulty_fail_to_pass) < 0:
            from swegc.difficulty import Difficulty

            computed = Difficulty.of(self.patch, self.FAIL_TO_PASS)
            for name in ("files", "hunks", "lines", "fail_to_pass"):
                object.__setattr__(self, f"difficulty_{name}", getattr(computed, name))

    def to_json(self) -> dict[str, Any]:
        """The row: every column in ``instance_columns`` order, the test settings as their own
        columns."""
        data = {**asdict(self), **self.tests.row_columns()}
        return {column: data[column] for column in instance_columns()}

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "instance") -> Instance:
        version = data.get("schema_version", INSTANCE_SCHEMA_VERSION)
        if version not in READABLE_INSTANCE_VERSIONS:
            raise InputError(f"{where}: instance schema_version {version} is not supported "
                             f"(this swegc reads {', '.join(map(str, READABLE_INSTANCE_VERSIONS))})")
        if version < 3:  # swegc's parser was `log_parser`, its options `parser_options`
            data = dict(data)
            data["swegc_log_parser"] = data.pop("log_parser", "")
            data["log_parser"] = ""
            data["swegc_parser_options"] = data.pop("parser_options", None)
        tests = TestSettings.from_row(data, where, partial=True)
        data = {k: v for k, v in data.items() if k not in setting_columns()}
        _check_keys("instance", {**data, "tests": tests}, cls, where)
        return cls(**data, tests=tests)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], where: str = "row",
                 require: tuple[str, ...] = ()) -> Instance:
        """An instance from a dataset row, however it was read.

        Rows come from ``read_dataset`` (JSON columns decoded), ``datasets.load_dataset``
        (nested columns as JSON strings, lists maybe as JSON text as in SWE-bench's older
        datasets, a version as a number), a JSONL line, or an older schema version: a missing
        column takes its default (before version 3, swegc's parser was ``log_parser``, its
        options ``parser_options``), and columns swegc does not know (another tool's) are left
        out. ``instance_id`` and the columns in ``require`` must have a value; a column of the
        wrong type is an ``InputError`` that names the row and the column.
        """
        return _RowReader(row, where).instance(require)


# SWE-bench's own test columns stand where its datasets have them; the other test settings
# follow swegc_version.
_LEADING_SETTINGS = ("test_command", "test_directives")


def instance_columns() -> tuple[str, ...]:
    """An instance row's columns in order: ``Instance``'s fields, with ``tests`` written as the
    test settings' own columns (``swegc.test_settings``), so a new setting is a new column here
    and in the dataset's schema without an edit to either."""
    settings = list(setting_columns())
    columns: list[str] = []
    for spec in fields(Instance):
        if spec.name == "tests":
            columns += [c for c in settings if c in _LEADING_SETTINGS]
        else:
            columns.append(spec.name)
        if spec.name == "swegc_version":
            columns += [c for c in settings if c not in _LEADING_SETTINGS]
    return tuple(columns)


_MAPPING_COLUMNS = frozenset({"validation", "synthesis"})
_NUMBER_AT_END = re.compile(r"-(\d+)$")


class _RowReader:
    """Typed reads of one row's columns for ``Instance.from_row``."""

    def __init__(self, row: Mapping[str, Any], where: str):
        self.row, self.where = dict(row), where

    def instance(self, require: tuple[str, ...]) -> Instance:
        iid = self.row.get("instance_id")
        if not isinstance(iid, str) or not iid:
            raise InputError(f"{self.where}: the row has no 'instance_id' (a non-empty string)")
        if iid not in self.where:  # errors name the instance
            self.where = f"{self.where} ({iid})"
        version = self.row.get("schema_version")
        version = INSTANCE_SCHEMA_VERSION if version is None else self._integer("schema_version", 0)
        if version not in READABLE_INSTANCE_VERSIONS:
            raise InputError(f"{self.where}: instance schema_version {version} is not supported "
                             f"(this swegc reads {', '.join(map(str, READABLE_INSTANCE_VERSIONS))})")
        if version < 3:  # swegc's parser was `log_parser`, its options `parser_options`
            self.row["swegc_log_parser"] = self.row.pop("log_parser", "")
            self.row["swegc_parser_options"] = self.row.pop("parser_options", None)
        for column in require:
            if self.row.get(column) in (None, ""):
                raise InputError(f"{self.where}: column {column!r} has no value")
        values: dict[str, Any] = {"instance_id": iid, "schema_version": version}
        values["tests"] = TestSettings.from_row(self.row, self.where, partial=True)
        for spec in fields(Instance):
            if spec.name not in values:
                values[spec.name] = self._column(spec.name, spec.type)
        return Instance(**values)

    def _column(self, name: str, kind: Any) -> Any:
        if name == "pull_number":
            match = _NUMBER_AT_END.search(str(self.row.get("instance_id")))
            return self._integer(name, int(match.group(1)) if match else 0)
        if str(kind) == "int":  # a difficulty count; absent in older rows: computed (-1)
            return self._integer(name, -1 if name.startswith("difficulty_") and
                                 name != "difficulty_resolve_runs" else 0)
        if str(kind) == "float | None":
            return self._number(name)
        if name in _MAPPING_COLUMNS:
            return self._mapping(name, {})
        if name == "origin":
            return self._text(name) or ORIGIN_REAL
        if str(kind).startswith("list"):
            return self._strings(name)
        return self._text(name)

    def _wrong(self, name: str, expected: str, value: Any) -> InputError:
        return InputError(f"{self.where}: column {name!r} should be {expected}, "
                          f"got {type(value).__name__} {str(value)[:80]!r}")

    def _text(self, name: str) -> str:
        value = self.row.get(name)
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        if isinstance(value, (datetime, date)):
            return value.isoformat()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # a version that a reader took for a number
        raise self._wrong(name, "a string", value)

    def _integer(self, name: str, default: int) -> int:
        value = self.row.get(name)
        if value is None or value == "":
            return default
        if isinstance(value, str) and value.strip().isdigit():
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise self._wrong(name, "a whole number", value)
        return value

    def _number(self, name: str) -> float | None:
        value = self.row.get(name)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self._wrong(name, "a number", value)
        return float(value)

    def _decoded(self, name: str, expected: str) -> Any:
        value = self.row.get(name)
        if isinstance(value, str) and value.strip():
            try:
                return loads(value)
            except json.JSONDecodeError:
                raise self._wrong(name, f"{expected} (or its JSON)", value) from None
        return None if isinstance(value, str) else value

    def _strings(self, name: str) -> list[str]:
        value = self._decoded(name, "a list of strings")
        if value is None:
            return []
        if not isinstance(value, (list, tuple)):
            raise self._wrong(name, "a list of strings", value)
        if not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
            raise self._wrong(name, "a list of strings", value)
        return [str(v) for v in value]

    def _mapping(self, name: str, default: dict[str, Any] | None) -> dict[str, Any] | None:
        value = self._decoded(name, "an object")
        if value is None:
            return default
        if not isinstance(value, Mapping):
            raise self._wrong(name, "an object", value)
        return dict(value)


@dataclass(frozen=True)
class Trajectory:
    """One agent rollout on one instance; what runtime/ writes and train/ reads.

    ``messages`` are OpenAI chat messages; an assistant message may carry ``tool_calls``
    (``[{"id", "type": "function", "function": {"name", "arguments"}}]``) whose ``arguments``
    are kept as a JSON string, and tool results are ``{"role": "tool", "tool_call_id", ...}``.
    ``policy`` holds the model name, sampling parameters and seed. ``test_report`` maps every
    FAIL_TO_PASS and PASS_TO_PASS test to its status after the rollout's patch was applied.
    ``image`` is the reference the rollout ran in; ``sample`` is its index among the samples of
    the instance; ``grade`` is SWE-bench's FULL / PARTIAL / NO (empty when not graded) and
    ``error`` says what failed when exit_status is ``error`` or grading could not run.
    ``suspicious`` lists what the patch's non-test code uses that looks like reward hacking
    (``{"file", "line", "rule", "detail"}`` each, from swegc.runtime.harness.hack_scan):
    training leaves such a trajectory out unless asked.
    """

    instance_id: str
    run_id: str
    policy: dict[str, Any]
    messages: list[dict[str, Any]]
    tools: list[dict[str, Any]] = field(default_factory=list)
    exit_status: ExitStatus = ExitStatus.SUBMITTED
    patch: str = ""
    n_steps: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    wall_time_s: float = 0.0
    resolved: bool = False
    test_report: dict[str, str] = field(default_factory=dict)
    image: str = ""
    sample: int = 0
    cost: float = 0.0
    grade: str = ""
    error: str | None = None
    swegc_version: str = ""
    suspicious: list[dict[str, Any]] = field(default_factory=list)
    schema_version: int = TRAJECTORY_SCHEMA_VERSION

    EXIT_STATUSES: ClassVar[tuple[str, ...]] = tuple(status.value for status in ExitStatus)

    def __post_init__(self) -> None:
        object.__setattr__(self, "exit_status", ExitStatus(self.exit_status))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any], where: str = "trajectory") -> Trajectory:
        data = dict(data)
        if "messages" not in data and ("FAIL_TO_PASS" in data or "problem_statement" in data):
            raise InputError(f"{where}: a task instance row (a dataset's), not a trajectory; give "
                             "the rollouts (the folder `swegc rollout --out` wrote)")
        version = data.get("schema_version", TRAJECTORY_SCHEMA_VERSION)
        if version not in READABLE_TRAJECTORY_VERSIONS:
            raise InputError(f"{where}: trajectory schema_version {version} is not supported "
                             f"(this swegc reads {TRAJECTORY_SCHEMA_VERSION})")
        _check_keys("trajectory", data, cls, where)
        missing = [f.name for f in fields(cls) if f.name not in data
                   and f.default is MISSING and f.default_factory is MISSING]
        if missing:
            raise InputError(f"{where}: trajectory has no {', '.join(missing)}; is it a "
                             "trajectory file (`swegc rollout --out`)?")
        for name, kind, word in (("instance_id", str, "text"), ("run_id", str, "text"),
                                 ("policy", dict, "an object"), ("messages", list, "a list")):
            if not isinstance(data[name], kind):
                raise InputError(f"{where}: trajectory {name} must be {word}, not "
                                 f"{type(data[name]).__name__}")
        if data.get("exit_status", "submitted") not in cls.EXIT_STATUSES:
            raise InputError(f"{where}: exit_status {data.get('exit_status')!r} is not one of "
                             f"{', '.join(cls.EXIT_STATUSES)}")
        return cls(**data)


def read_jsonl(path: str, what: str) -> list[tuple[str, dict[str, Any]]]:
    """Rows of a JSONL file, each with its ``file:line`` for error messages."""
    rows: list[tuple[str, dict[str, Any]]] = []
    try:
        handle = open(path, "rb")  # split at b"\n" only, decoded line by line: a bad line is named
    except OSError as exc:
        raise InputError(f"{path}: cannot read {what}: {exc.strerror}") from None
    with handle:
        for lineno, raw in enumerate(handle, 1):
            where = f"{path}:{lineno}"
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise InputError(f"{where}: not UTF-8 text (byte {exc.start + 1} of the line); "
                                 f"write the {what} records in UTF-8") from None
            if not line.strip():
                continue
            try:
                row = loads(line)
            except json.JSONDecodeError as exc:
                raise InputError(f"{where}: not valid JSON ({exc.msg}); each line must be one "
                                 f"{what} record") from None
            if not isinstance(row, dict):
                raise InputError(f"{where}: expected a JSON object per line for {what}")
            rows.append((where, row))
    return rows
