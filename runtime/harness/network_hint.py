"""Tests that fail on both sides because they could not download: said, not left silent.

Validation runs without the network unless ``tests.network`` is true. A test that fetches data
(a dataset, a model, a URL it checks) then fails before and after the fix alike, and so is in
neither FAIL_TO_PASS nor PASS_TO_PASS; when it was the one that mattered, the instance is
rejected with ``no_fail_to_pass``. Its log shows why, in a few well-known shapes: those are
read here, so that the warning or the rejection can point at the setting.

Without a network every name lookup and connect fails at once (no route, no resolver), so a
download never hangs by itself; what hangs is a retry loop around it (urllib3's ``Retry``,
a hub client's backoff, a test's own ``while True``), until the run's time limit. To say so
rather than a bare "timed out", pytest runs dump their stacks when one test has run half the limit
(``hang_dump_option``: pytest's own faulthandler), and a timed-out run whose dump stands in a
network or retry frame, or whose output shows failed downloads, is said to be waiting on the
network (``timeout_hint``). Validation stops an instance at its first timed-out run, so the
limit is waited out once, not once per run.
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
    r"requests\.exceptions\.ConnectionError|ConnectionError: HTTPS?ConnectionPool|"
    r"socket\.gaierror|NewConnectionError|MaxRetryError|ConnectTimeout")
# Frames of a faulthandler dump that stand in a download or its retries: the standard
# library's and the common clients' files.
_NETWORK_FRAME = re.compile(
    r'^\s*File "[^"]*(?:/socket\.py|/ssl\.py|/http/client\.py|/urllib/request\.py|'
    r"/urllib3/|/requests/|/httpx/|/httpcore/|/aiohttp/|/huggingface_hub/|/pooch/|"
    r'/fsspec/implementations/http|/datasets/download/|/retry\.py|/tenacity/|/backoff/)[^"]*", '
    r"line \d+ in \w+", re.MULTILINE)
_DUMP = re.compile(r"Timeout \(\d+:\d\d:\d\d\)!$", re.MULTILINE)
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


def hang_dump_option(timeout_s: int) -> str:
    """pytest's option to dump every thread's stack when one test runs long: at half the
    run's own limit, so that a run killed there says where it was waiting (the dump counts
    from the test's start, after startup and collection, which take what they take)."""
    return f"-o faulthandler_timeout={max(1, timeout_s // 2)}"


def waiting_on_network(output: str) -> str | None:
    """The line that shows a timed-out run was waiting on the network: a frame of its stack
    dump in a network client or a retry loop, else a failed download; None otherwise."""
    dump = _DUMP.search(output)
    if dump:
        frame = _NETWORK_FRAME.search(output, dump.end())
        if frame:
            return frame.group(0).strip()[:MAX_SHOWN]
    downloads = failed_downloads([output])
    return downloads[0] if downloads else None


def timeout_hint(network: bool, output: str) -> str | None:
    """Why a run ran out of time, when it was waiting on a network it has not got."""
    if network:
        return None
    evidence = waiting_on_network(output)
    if evidence is None:
        return None
    return (f"it was waiting on the network ({evidence}): validation runs without the network, "
            "where a download fails at once and only its retries go on; if the tests need it, "
            "set tests.network: true in the spec (or give them their data in the image)")
