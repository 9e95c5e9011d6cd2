"""Tests that fail on both sides because they could not download: said, not left silent.

Validation runs without the network unless ``tests.network`` is true. A test that fetches data
(a dataset, a model, a URL it checks) then fails before and after the fix alike, and so is in
neither FAIL_TO_PASS nor PASS_TO_PASS; when it was the one that mattered, the instance is
rejected with ``no_fail_to_pass``. Its log shows why, in a few well-known shapes: those are
read here, so that the warning or the rejection can point at the setting.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from swegc.runtime.harness.parsers import ERROR, FAILED, log_lines
from swegc.runtime.harness.trust import ObservedRun

# What Python, urllib, requests, urllib3, curl and git print when a name cannot be resolved or
# no route leads out ("Connection refused" is left out: local test servers refuse, too).
_SIGNATURES = re.compile(
    r"Temporary failure in name resolution|Name or service not known|Network is unreachable|"
    r"No address associated with hostname|nodename nor servname provided|getaddrinfo failed|"
    r"Failed to establish a new connection|Could not resolve host|urlopen error|"
    r"requests\.exceptions\.ConnectionError|ConnectionError: HTTPS?ConnectionPool")
MAX_SHOWN = 200  # characters of the log line quoted


def failed_downloads(logs: Sequence[str]) -> list[str]:
    """Distinct log lines that show a failed download, in order."""
    found: dict[str, None] = {}
    for log in logs:
        for line in log_lines(log):
            if _SIGNATURES.search(line):
                found.setdefault(line.strip()[:MAX_SHOWN], None)
    return list(found)


def failing_on_both_sides(before: Sequence[ObservedRun], after: Sequence[ObservedRun]) -> list[str]:
    """Tests that fail (or error) in every run of both sides."""
    runs = [*before, *after]
    if not before or not after:
        return []
    tests = set.intersection(*(set(run.parsed.statuses) for run in runs))
    return sorted(t for t in tests if all(run.parsed.statuses[t] in (FAILED, ERROR) for run in runs))


def network_hint(network: bool, before: Sequence[ObservedRun], after: Sequence[ObservedRun],
                 after_logs: Sequence[str]) -> str | None:
    """Why tests failed on both sides, when it looks like the network they had no access to;
    None when validation had the network, no test failed on both sides, or no log says so."""
    if network:
        return None
    failing = failing_on_both_sides(before, after)
    downloads = failed_downloads(after_logs) if failing else []
    if not downloads:
        return None
    return (f"{len(failing)} test(s) fail before and after the fix (e.g. {failing[0]}) and the "
            f"log shows failed downloads ({downloads[0]}): validation runs without the network; "
            "if the tests need it, set tests.network: true in the spec (or give them their "
            "data in the image)")
