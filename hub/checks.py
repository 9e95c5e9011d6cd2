"""The check before anything is published: every problem, with its instance, listed together.

``swegc publish`` refuses while this finds a problem, so that a half-right dataset never reaches
the Hub: rows must read as instances (``Instance.from_row``) of the schema this swegc writes,
with SWE-bench's columns, a FAIL_TO_PASS test, an image that exists (locally or in the
registry), and no string that looks like a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from swegc.errors import InputError, Problem, SwegcError
from swegc.records import INSTANCE_SCHEMA_VERSION, ORIGIN_REAL, Instance
from swegc.redact import TOKEN_PATTERNS, environment_secrets

REQUIRED_COLUMNS = ("instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement",
                    "version", "environment_setup_commit", "FAIL_TO_PASS", "PASS_TO_PASS", "image",
                    "image_id", "schema_version")
# Shapes of credentials besides the GitHub and Hub tokens swegc.redact knows.
EXTRA_SECRET_PATTERNS = (
    re.compile(r"AKIA[0-9A-Z]{16}"),  # AWS access key id
    re.compile(r"sk-(?:proj-)?[A-Za-z0-9_-]{20,}"),  # OpenAI-style API keys
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    re.compile(r"xox[baprs]-[A-Za-z0-9-]{10,}"),  # Slack
)


class PublishCheckError(SwegcError):
    """The folder is not fit to publish; every problem is listed."""

    def __init__(self, what: str, problems: list[Problem]):
        self.problems = list(problems)
        count = len(self.problems)
        head = (f"{what}: {count} problem{'s' if count != 1 else ''}; nothing was published. "
                "Fix them (recompile, or remove the instances) and publish again:")
        super().__init__("\n".join([head, *(f"  {p}" for p in self.problems)]))


def secret_shapes(text: str, secrets: Iterable[str] = ()) -> list[str]:
    """Names of the kinds of secret found in ``text`` (never the secret itself)."""
    found = []
    for secret in {*environment_secrets(), *secrets}:
        if secret and secret in text:
            found.append("the value of a secret environment variable")
            break
    for pattern in (*TOKEN_PATTERNS, *EXTRA_SECRET_PATTERNS):
        match = pattern.search(text)
        if match:
            found.append(f"a token shaped like {match.group(0)[:4]}...")
    return found


def read_instances(rows_by_split: Mapping[str, list[dict[str, Any]]]
                   ) -> tuple[dict[str, list[Instance]], list[Problem]]:
    """Each split's rows as ``Instance`` values, and a problem for each row that cannot be read
    as one (a schema version this swegc does not read, a column of the wrong type)."""
    instances: dict[str, list[Instance]] = {}
    problems: list[Problem] = []
    for split, rows in rows_by_split.items():
        instances[split] = []
        for index, row in enumerate(rows):
            where = f"{split}:{row.get('instance_id') or f'row {index}'}"
            try:
                instances[split].append(Instance.from_row(row, where=where))
            except InputError as exc:
                problems.append(Problem("", str(exc)))
    return instances, problems


def check_rows(instances_by_split: Mapping[str, list[Instance]],
               image_exists: Callable[[Instance], str | None],
               secrets: Iterable[str] = ()) -> list[Problem]:
    """Every problem of the instances; ``image_exists(instance)`` returns a problem text or None."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    secrets = list(secrets)
    for split, instances in instances_by_split.items():
        if not instances:
            problems.append(Problem(f"split {split}", "has no rows"))
        for instance in instances:
            iid = instance.instance_id
            where = f"{split}:{iid}"
            if iid in seen:
                problems.append(Problem(where, f"instance_id also in split {seen[iid]}"))
            seen[iid] = split
            version = instance.schema_version
            if version != INSTANCE_SCHEMA_VERSION:
                problems.append(Problem(where, f"schema_version {version!r}; this swegc publishes "
                                               f"version {INSTANCE_SCHEMA_VERSION} (recompile with it)"))
            columns = instance.to_json()
            # a synthetic task's tests are in its image's tree: it has no test_patch
            required = REQUIRED_COLUMNS if instance.origin == ORIGIN_REAL else \
                tuple(c for c in REQUIRED_COLUMNS if c != "test_patch")
            missing = [c for c in required if columns.get(c) in (None, "")]
            if missing:
                problems.append(Problem(where, f"no value in column(s) {', '.join(missing)}"))
            if not instance.FAIL_TO_PASS:
                problems.append(Problem(where, "FAIL_TO_PASS is empty: nothing would tell a fix from no fix"))
            if instance.image or instance.image_id:
                trouble = image_exists(instance)
                if trouble:
                    problems.append(Problem(where, trouble))
            for column, value in columns.items():
                text = value if isinstance(value, str) else json.dumps(value, default=str)
                for shape in secret_shapes(text, secrets):
                    problems.append(Problem(where, f"column {column} holds {shape}; remove it from "
                                                   "the source (issue text, patch) before publishing"))
    return problems
