"""Build reports (what happened to every instance and environment) and the ``swegc status`` text.

The dataset only holds the valid instances; the reports hold all of them, with the reason each
one was rejected, skipped or failed, so a user can see what the spec cost (time, disk) and what
to fix. They are JSONL under ``reports/``, sorted and written deterministically, so that an
unchanged rebuild leaves them byte-identical and two builds can be diffed.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from swegc.build_reports import read_reports  # noqa: F401 - part of this module's API
from swegc.build_layout import BuildLayout
from swegc.errors import InputError
from swegc.reasons import meaning

REPORT_SCHEMA_VERSION = 1
INSTANCE_STATUSES = ("valid", "rejected", "skipped", "error")
ENV_STATUSES = ("built", "failed")
MAX_FLAKY_SHOWN = 5  # tests listed per instance in the summary; the report has them all
MAX_DETAIL_LINES = 8  # last lines of a failed env's error shown by the summary
MAX_WARNINGS_SHOWN = 20  # instances whose warnings the summary lists; the report has them all

INSTANCE_FIELDS: dict[str, Any] = {
    "instance_id": None, "repo": None, "status": None, "reason": None, "detail": None, "version": None,
    "env_key": None, "image": None, "FAIL_TO_PASS": 0, "PASS_TO_PASS": 0, "flaky_tests": [],
    "validation_s": 0.0, "build_s": 0.0, "warnings": [], "stage": None, "build_cpu_s": 0.0,
    "validation_cpu_s": 0.0, "layer_bytes": 0,
}
ENV_FIELDS: dict[str, Any] = {
    "env_key": None, "repo": None, "versions": None, "python": None, "image": None, "status": None,
    "reason": None, "detail": None, "build_s": 0.0, "size_bytes": 0, "instances": 0, "log": None,
    "resolution_lag": [], "cpu_s": 0.0, "layer_bytes": 0,
}


def _normalize(row: dict[str, Any], defaults: dict[str, Any], key: str, statuses: tuple[str, ...],
               what: str) -> dict[str, Any]:
    """The row with every documented field present (extra fields kept) and its status checked."""
    if not row.get(key):
        raise InputError(f"{what} report row has no {key!r}: {row!r}")
    if row.get("status") not in statuses:
        raise InputError(f"{what} report {row[key]}: status {row.get('status')!r} is not one of "
                         f"{', '.join(statuses)}")
    return {**defaults, **row, "schema_version": REPORT_SCHEMA_VERSION}


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    from swegc.dataset import write_jsonl

    write_jsonl(path, rows)


def write_reports(out_dir: Path, instances: list[dict[str, Any]], envs: list[dict[str, Any]]) -> None:
    """Writes ``reports/instances.jsonl`` and ``reports/envs.jsonl``, sorted by id.

    Instance rows: instance_id, repo, status (valid | rejected | skipped | error), reason
    (snake_case code), detail, version, env_key, image, FAIL_TO_PASS and PASS_TO_PASS (counts),
    flaky_tests, validation_s, build_s, warnings (changed tests that did not run), stage (the
    funnel stage where it left; valid ones: valid), build_cpu_s and validation_cpu_s (CPU
    seconds of the containers that built its image and validated it) and layer_bytes (the
    instance image's own layer). Env rows: env_key, repo, versions, python, image, status
    (built | failed), reason, detail, build_s, cpu_s (the build container's CPU seconds),
    size_bytes, layer_bytes (what the build added to its base image), instances, log (a failed
    build's log), resolution_lag (under pip_date: a warning per package that resolved far
    behind the date, naming what held it back). Extra fields are kept; every row gets
    schema_version.

    Also ``reports/funnel.json``: the stages made from these rows (``funnel_rows``).
    """
    from swegc.compiler.funnel_rows import disk_per_valid, funnel
    from swegc.funnel import write_funnel

    layout = BuildLayout(out_dir)
    inst = [_normalize(r, INSTANCE_FIELDS, "instance_id", INSTANCE_STATUSES, "instance") for r in instances]
    env = [_normalize(r, ENV_FIELDS, "env_key", ENV_STATUSES, "environment") for r in envs]
    _write_jsonl(layout.instances_report, sorted(inst, key=lambda r: str(r["instance_id"])))
    _write_jsonl(layout.envs_report, sorted(env, key=lambda r: str(r["env_key"])))
    write_funnel(layout.funnel_report, funnel(inst, env), kind="compile",
                 disk_per_valid=disk_per_valid(inst, env))


def human_bytes(size: float) -> str:
    """Decimal units, as ``docker images`` shows them."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(size) < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def human_seconds(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def table(headers: list[str], rows: list[list[Any]], indent: str = "  ", left: int = 1) -> list[str]:
    """Aligned columns: the first ``left`` (text) left-aligned, the others (numbers) right-aligned."""
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))]
        lines.append((indent + "  ".join(parts)).rstrip())
    return lines


def _dataset_lines(out_dir: Path) -> list[str]:
    layout = BuildLayout(out_dir)
    shards = sorted(layout.data_dir.glob("*.parquet"))
    if not shards:
        return ["dataset: none written yet"]
    import pyarrow.parquet as pq

    card = layout.card
    size = sum(s.stat().st_size for s in shards) + (card.stat().st_size if card.is_file() else 0)
    splits = ", ".join(f"{s.name.split('-')[0]} {pq.read_metadata(s).num_rows}" for s in shards)
    rows = sum(pq.read_metadata(s).num_rows for s in shards)
    return [f"dataset: {rows} row{'s' if rows != 1 else ''} ({splits}), {human_bytes(size)} on disk "
            f"in {out_dir}/data and README.md"]


def _repo_lines(instances: list[dict[str, Any]]) -> list[str]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for row in instances:
        counts[row.get("repo") or "?"][row["status"]] += 1
    total: Counter[str] = Counter()
    rows = []
    for repo in sorted(counts):
        total.update(counts[repo])
        rows.append([repo, *(counts[repo][s] for s in INSTANCE_STATUSES), sum(counts[repo].values())])
    if len(counts) > 1:
        rows.append(["total", *(total[s] for s in INSTANCE_STATUSES), sum(total.values())])
    return table(["repo", *INSTANCE_STATUSES, "total"], rows)


def _reason_lines(instances: list[dict[str, Any]]) -> list[str]:
    """Instances by status and reason, most frequent first, each reason with its meaning (the
    one text swegc.reasons holds; the README's table says what to do)."""
    lines: list[str] = []
    for status in INSTANCE_STATUSES[1:]:
        reasons = Counter(r.get("reason") or "unknown" for r in instances if r["status"] == status)
        if reasons:
            ranked = sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))
            counted = table(["reason", "instances"], [[k, v] for k, v in ranked])
            meanings = ["meaning", *(meaning(k) for k, _ in ranked)]
            lines += ["", f"{status} by reason"]
            lines += [f"{line}  {text}".rstrip() for line, text in zip(counted, meanings)]
    return lines


def _flaky_lines(instances: list[dict[str, Any]]) -> list[str]:
    flaky = [(r["instance_id"], r.get("flaky_tests") or []) for r in instances if r.get("flaky_tests")]
    if not flaky:
        return ["", "flaky tests: none"]
    total = sum(len(tests) for _, tests in flaky)
    lines = ["", f"flaky tests: {total} in {len(flaky)} instance{'s' if len(flaky) != 1 else ''} "
                 "(kept out of FAIL_TO_PASS and PASS_TO_PASS)"]
    for instance_id, tests in flaky:
        lines.append(f"  {instance_id}")
        lines += [f"    {test}" for test in tests[:MAX_FLAKY_SHOWN]]
        if len(tests) > MAX_FLAKY_SHOWN:
            lines.append(f"    ... and {len(tests) - MAX_FLAKY_SHOWN} more (reports/instances.jsonl)")
    return lines


def _env_lines(envs: list[dict[str, Any]]) -> list[str]:
    built = [e for e in envs if e["status"] == "built"]
    failed = [e for e in envs if e["status"] == "failed"]
    lines = ["", f"environments: {len(built)} built, {len(failed)} failed"]
    if envs:
        lines += table(["env", "repo", "python", "status", "instances", "build", "size"],
                       [[e["env_key"], e.get("repo") or "?", e.get("python") or "?", e["status"],
                         e.get("instances") or 0, human_seconds(float(e.get("build_s") or 0)),
                         human_bytes(int(e.get("size_bytes") or 0))] for e in envs], left=4)
    for env in failed:
        detail = [line for line in (env.get("detail") or "").strip().splitlines() if line.strip()]
        lines.append(f"  failed {env['env_key']}: {env.get('reason') or 'unknown'}")
        # pip's last line ("ERROR: ... failed") rarely says why: the lines before it do.
        lines += [f"    {line.rstrip()[:200]}" for line in detail[-MAX_DETAIL_LINES:]]
        if env.get("log"):
            lines.append(f"    log: {env['log']}")
    for env in envs:
        for message in env.get("resolution_lag") or []:
            lines.append(f"  warning {env['env_key']}: {message}")
    return lines


def _warning_lines(instances: list[dict[str, Any]]) -> list[str]:
    """Instances whose changed tests did not all run (directives), each warning in full."""
    warned = [(r["instance_id"], r["warnings"]) for r in instances if r.get("warnings")]
    if not warned:
        return []
    lines = ["", f"warnings: {sum(len(w) for _, w in warned)} in {len(warned)} "
                 f"instance{'s' if len(warned) != 1 else ''}"]
    for instance_id, warnings in warned[:MAX_WARNINGS_SHOWN]:
        lines += [f"  {instance_id}: {warning}" for warning in warnings]
    if len(warned) > MAX_WARNINGS_SHOWN:
        lines.append(f"  ... and {len(warned) - MAX_WARNINGS_SHOWN} more instances "
                     "(reports/instances.jsonl)")
    return lines


def _published_lines(instances: list[dict[str, Any]]) -> list[str]:
    """For re-validated published instances: which still hold as published."""
    compared = [r for r in instances if r.get("published")]
    if not compared:
        return []
    counts: dict[str, int] = {}
    for row in compared:
        counts[row["published"]["agreement"]] = counts.get(row["published"]["agreement"], 0) + 1
    lines = ["", f"published instances re-validated: {len(compared)} "
                 f"({', '.join(f'{n} {k}' for k, n in sorted(counts.items()))})"]
    if counts.get("not_rebuilt"):
        lines.append("  not_rebuilt: swegc could not build or run them (its side, not the "
                     "published instance's); see the reason")
    truncated = sum(len(row["published"].get("truncated") or ()) for row in compared)
    if truncated:
        lines.append(f"  {truncated} of swegc's test ids were published cut at a space "
                     "(SWE-bench's log parser splits on whitespace) and were matched by their "
                     "cut (one cut id can stand for several ids)")
    for row in compared:
        pub = row["published"]
        if pub["agreement"] == "same":
            continue
        missing = pub["FAIL_TO_PASS_missing"] + pub["PASS_TO_PASS_missing"]
        extra = pub["FAIL_TO_PASS_extra"] + pub["PASS_TO_PASS_extra"]
        why = row.get("reason") if pub["agreement"] in ("no_longer_valid", "not_rebuilt") else \
            f"{len(missing)} published test(s) not confirmed, {len(extra)} new"
        lines.append(f"  {row['instance_id']}: {pub['agreement']} ({why})")
    return lines


def funnel_lines(data: dict[str, Any] | None) -> list[str]:
    """The funnel as ``reports/funnel.json`` holds it (``swegc.funnel.read_funnel``), whoever
    wrote it: one line per stage (how many were still in, how many left, CPU, wall time,
    bytes), why they left, and the cost per valid item."""
    if data is None:
        return ["", "funnel: not recorded (a build by an older swegc: compile it again, which "
                    "runs nothing that is stored, to record it)"]
    stages = data["stages"]
    rows, before = [], None
    for stage in stages:
        left = "" if before is None else before - stage.count
        rows.append([stage.stage, stage.count, left, _cpu_seconds(stage.cpu_s),
                     human_seconds(stage.wall_s), human_bytes(stage.bytes)])
        before = stage.count
    lines = ["", "funnel (CPU: the containers' own CPU time; wall: the units' own time, added up)"]
    lines += table(["stage", "count", "left", "CPU", "wall", "written"], rows)
    for stage in stages:
        if stage.reasons:
            ranked = sorted(stage.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
            lines.append(f"  left at {stage.stage}: " + ", ".join(f"{k} {v}" for k, v in ranked))
    valid = data.get("valid") or 0
    if valid:
        disk = data.get("disk_per_valid")
        lines.append(f"  per valid instance: {data['cpu_h_per_valid']:.4f} CPU-hours, "
                     f"{human_bytes(int(data['bytes_per_valid'] or 0))} written"
                     + (f", {human_bytes(int(disk))} on disk (env share + own layer)"
                        if disk is not None else "")
                     + f"; in all {human_seconds(float(data['cpu_s']))} CPU for {valid} valid")
    else:
        lines.append(f"  nothing valid; in all {human_seconds(float(data.get('cpu_s') or 0))} CPU")
    return lines


def _cpu_seconds(seconds: float) -> str:
    """CPU time to the hundredth under 10 s (applying patches costs a few hundredths)."""
    return f"{seconds:.2f} s" if seconds < 10 else human_seconds(seconds)


def _status_root(out_dir: Path) -> Path:
    """The folder ``swegc status`` reads: ``partial/`` when only a compile of some instances
    wrote the build folder."""
    layout = BuildLayout(out_dir)
    if (not layout.instances_report.is_file() and not layout.funnel_report.is_file()
            and layout.partial.reports_dir.is_dir()):
        return layout.partial.root
    return Path(out_dir)


def status_json(out_dir: Path) -> dict[str, Any]:
    """``swegc status --json``: the funnel (``funnel``: ``{stage, count, cpu_s, wall_s, bytes,
    reasons}`` in order, counts never growing), its totals and costs per valid item
    (``cpu_h_per_valid``, ``bytes_per_valid``, ``disk_per_valid``) and, where there are reports,
    instances by status."""
    from swegc.build_reports import not_a_build
    from swegc.funnel import read_funnel

    root = _status_root(Path(out_dir))
    layout = BuildLayout(root)
    data = read_funnel(layout.funnel_report)
    has_reports = layout.instances_report.is_file()
    if data is None and not has_reports:
        raise not_a_build(out_dir, "reports/funnel.json or reports/instances.jsonl")
    result: dict[str, Any] = {"build": str(root), "partial": root != Path(out_dir)}
    if data is None:
        result.update(funnel=[], cpu_h_per_valid=None, disk_per_valid=None,
                      note="funnel not recorded: a build by an older swegc")
    else:
        result.update({k: v for k, v in data.items() if k != "stages"})
        result["disk_per_valid"] = data.get("disk_per_valid")
    if has_reports:
        instances, _ = read_reports(root)
        result["statuses"] = dict(sorted(Counter(r["status"] for r in instances).items()))
    return result


def summarize(out_dir: Path) -> str:
    """The text a user reads after ``swegc compile`` (and with ``swegc status``).

    A folder that only a compile of some instances (``--instance``, ``--limit``) wrote holds its
    reports in ``partial/``: those are summarized, and the summary says so.
    """
    out_dir = Path(out_dir)
    layout = BuildLayout(out_dir)
    if not layout.instances_report.is_file() and layout.partial.instances_report.is_file():
        return (f"{out_dir} holds only a compile of some instances (--instance or --limit), "
                f"in {layout.partial.root}; a compile without them writes the full build\n\n"
                + summarize(layout.partial.root))
    from swegc.funnel import read_funnel

    funnel = read_funnel(layout.funnel_report)
    if funnel is not None and not layout.instances_report.is_file():
        # a run that records only its funnel (synthesize, say)
        return "\n".join([f"swegc build {out_dir}", *funnel_lines(funnel)])
    instances, envs = read_reports(out_dir)
    envs = sorted(envs, key=lambda e: str(e["env_key"]))
    instances = sorted(instances, key=lambda r: str(r["instance_id"]))
    validation_s = sum(float(r.get("validation_s") or 0) for r in instances)
    build_s = sum(float(e.get("build_s") or 0) for e in envs) + sum(float(r.get("build_s") or 0)
                                                                   for r in instances)
    env_bytes = sum(int(e.get("size_bytes") or 0) for e in envs)
    layer_bytes = sum(int(r.get("layer_bytes") or 0) for r in instances)
    lines = [f"swegc build {out_dir}", ""]
    lines += _repo_lines(instances) if instances else ["  no instances"]
    lines += _reason_lines(instances)
    lines += _flaky_lines(instances)
    lines += _warning_lines(instances)
    lines += _published_lines(instances)
    lines += _env_lines(envs)
    lines += funnel_lines(funnel)
    lines += ["",
              f"time: validation {human_seconds(validation_s)}, image builds {human_seconds(build_s)}",
              f"images: {human_bytes(env_bytes + layer_bytes)} (environments {human_bytes(env_bytes)}, "
              f"instance layers {human_bytes(layer_bytes)})"]
    lines += _dataset_lines(out_dir)
    if layout.partial.instances_report.is_file():
        lines.append(f"a compile of some instances is in {layout.partial.root} "
                     f"(swegc status {layout.partial.root})")
    return "\n".join(lines)
