"""The check before anything is published: every problem, with its instance, listed together.

``swegc publish`` refuses while this finds a problem, so that a half-right dataset never reaches
the Hub: rows must have the schema this swegc writes, SWE-bench's columns, a FAIL_TO_PASS test,
an image that exists (locally or in the registry), and no string that looks like a secret.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from swegc.errors import Problem, SwegcError
from swegc.records import INSTANCE_SCHEMA_VERSION
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


def check_rows(rows_by_split: Mapping[str, list[dict[str, Any]]],
               image_exists: Callable[[dict[str, Any]], str | None],
               secrets: Iterable[str] = ()) -> list[Problem]:
    """Every problem of the instance rows; ``image_exists(row)`` returns a problem text or None."""
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    secrets = list(secrets)
    for split, rows in rows_by_split.items():
        if not rows:
            problems.append(Problem(f"split {split}", "has no rows"))
        for index, row in enumerate(rows):
            iid = str(row.get("instance_id") or f"row {index}")
            where = f"{split}:{iid}"
            if iid in seen:
                problems.append(Problem(where, f"instance_id also in split {seen[iid]}"))
            seen[iid] = split
            version = row.get("schema_version")
            if version != INSTANCE_SCHEMA_VERSION:
                problems.append(Problem(where, f"schema_version {version!r}; this swegc publishes "
                                               f"version {INSTANCE_SCHEMA_VERSION} (recompile with it)"))
            missing = [c for c in REQUIRED_COLUMNS if row.get(c) in (None, "")]
            if missing:
                problems.append(Problem(where, f"no value in column(s) {', '.join(missing)}"))
            f2p = row.get("FAIL_TO_PASS")
            if not isinstance(f2p, list) or not f2p:
                problems.append(Problem(where, "FAIL_TO_PASS is empty: nothing would tell a fix from no fix"))
            if row.get("image") or row.get("image_id"):
                trouble = image_exists(row)
                if trouble:
                    problems.append(Problem(where, trouble))
            for column, value in row.items():
                text = value if isinstance(value, str) else json.dumps(value, default=str)
                for shape in secret_shapes(text, secrets):
                    problems.append(Problem(where, f"column {column} holds {shape}; remove it from "
                                                   "the source (issue text, patch) before publishing"))
    return problems
