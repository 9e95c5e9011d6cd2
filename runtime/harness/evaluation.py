"""``swegc evaluate``: grade a predictions file against a dataset, SWE-bench's way.

Predictions are SWE-bench's: JSONL, a JSON list, or a JSON object keyed by instance id, each
with ``instance_id``, ``model_name_or_path`` and ``model_patch``; ``gold`` means every
instance's own patch. Each patch is graded by ``grade_patch`` from the row alone. Output, in
SWE-bench's layout: ``OUT/<instance_id>/report.json`` (with ``test_output.txt``, ``patch.diff``
and swegc's fuller ``grade.json``) and the run's ``OUT/report.json``.

A patch that cannot be a diff to apply (over ``MAX_PATCH_BYTES``, with NUL bytes, not UTF-8)
is refused before any container starts: graded unresolved with the reason, the file's other
predictions graded as usual. The file itself is read as bytes, so a non-UTF-8 patch does not
stop the others from being read.

Resumable: a grade is kept in ``OUT/store.sqlite`` under a hash of the row and the patch, so a
rerun grades only what is new or changed; infrastructure errors are not kept, so a rerun tries
them again.
"""

from __future__ import annotations

import difflib
import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swegc.dataset import load_rows
from swegc.errors import InputError
from swegc.hashing import content_hash
from swegc.nesting import loads
from swegc.runtime.harness.grading import GradeReport, grade, grade_patch
from swegc.runtime.harness.hack_policy import with_hack_policy
from swegc.runtime.harness.test_spec import TestSpec

GRADE_FORMAT = 2  # 2: grades carry the reward-hack scan's findings
SUMMARY_SCHEMA_VERSION = 2  # SWE-bench's run report schema_version
GOLD = "gold"
# Far above any real fix (SWE-bench's gold patches are at most a few hundred KiB); a larger
# "patch" is generated or vendored content, and applying it would only tie up a container.
MAX_PATCH_BYTES = 10 * 2**20
REFUSED = "refused before grading: "


@dataclass(frozen=True)
class Prediction:
    instance_id: str
    model_name_or_path: str
    model_patch: str | None  # None: SWE-bench's "patch_is_None"


@dataclass(frozen=True)
class EvaluationSummary:
    """SWE-bench's run report (``report.json``), every key with its meaning unchanged."""

    total_instances: int
    submitted_ids: list[str]
    completed_ids: list[str]
    incomplete_ids: list[str]
    empty_patch_ids: list[str]
    resolved_ids: list[str]
    unresolved_ids: list[str]
    error_ids: list[str]
    reports: dict[str, GradeReport] = field(default_factory=dict)
    # Errors whose image is gone (in error_ids too): no rerun grades them until it is back.
    image_gone_ids: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "total_instances": self.total_instances,
            "submitted_instances": len(self.submitted_ids),
            "completed_instances": len(self.completed_ids),
            "resolved_instances": len(self.resolved_ids),
            "unresolved_instances": len(self.unresolved_ids),
            "empty_patch_instances": len(self.empty_patch_ids),
            "error_instances": len(self.error_ids),
            "completed_ids": self.completed_ids, "incomplete_ids": self.incomplete_ids,
            "empty_patch_ids": self.empty_patch_ids, "submitted_ids": self.submitted_ids,
            "resolved_ids": self.resolved_ids, "unresolved_ids": self.unresolved_ids,
            "error_ids": self.error_ids, "schema_version": SUMMARY_SCHEMA_VERSION,
            # swegc's addition: why each refused patch (counted unresolved) was not run
            "refused_patches": {iid: report.patch_problem for iid, report in
                                sorted(self.reports.items()) if _refused(report)},
            "image_gone_ids": self.image_gone_ids,  # swegc's: errors that a rerun cannot fix
        }


def read_predictions(source: str | Path, rows: Mapping[str, Mapping[str, Any]]) -> list[Prediction]:
    """Predictions from a file (JSONL, JSON list or JSON object keyed by id), or ``gold``."""
    if str(source) == GOLD:
        return [Prediction(iid, GOLD, str(row.get("patch") or "")) for iid, row in rows.items()]
    path = Path(source)
    try:
        # Bytes that are not UTF-8 stay in the text as surrogates: the one patch that holds
        # them is refused (``patch_refusal``), every other prediction is read as usual.
        text = path.read_bytes().decode("utf-8", errors="surrogateescape")
    except OSError as exc:
        raise InputError(f"{path}: cannot read predictions: {exc.strerror}") from None
    records: list[tuple[str, Any]]
    stripped = text.lstrip()
    # A .jsonl file is lines whatever its first line looks like (as SWE-bench reads it): one
    # prediction on one line is also a JSON object, which must not be read as keyed by id.
    if path.suffix != ".jsonl" and stripped.startswith(("[", "{")) and not _is_jsonl(stripped):
        try:
            data = loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{exc.lineno}: not valid JSON ({exc.msg})") from None
        if isinstance(data, dict) and isinstance(data.get("instance_id"), str):
            records = [(str(path), data)]  # one prediction, not keyed by id
        elif isinstance(data, dict):
            records = [(f"{path} [{key!r}]", {"instance_id": key, **value}
                        if isinstance(value, dict) else value) for key, value in data.items()]
        else:
            records = [(f"{path} [{i}]", value) for i, value in enumerate(data)]
    else:
        records = []
        # "\n" only: str.splitlines also splits at U+2028 and the like, legal inside a string
        for lineno, line in enumerate(text.split("\n"), 1):
            if line.strip():
                try:
                    records.append((f"{path}:{lineno}", loads(line)))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{lineno}: not valid JSON ({exc.msg}); each line "
                                     "must be one prediction") from None
    predictions: dict[str, Prediction] = {}
    for where, record in records:
        prediction = _prediction(record, where)
        if prediction.instance_id in predictions:
            raise InputError(f"{where}: a second prediction for {prediction.instance_id}")
        if prediction.instance_id not in rows:
            close = difflib.get_close_matches(prediction.instance_id, list(rows), n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise InputError(f"{where}: instance {prediction.instance_id!r} is not in the "
                             f"dataset{hint}")
        predictions[prediction.instance_id] = prediction
    return list(predictions.values())


def _is_jsonl(text: str) -> bool:
    """A JSONL file of objects also starts with "{": it has more than one top-level value."""
    try:
        loads(text)
    except json.JSONDecodeError as exc:
        return exc.msg.startswith("Extra data")
    return False


def _prediction(record: Any, where: str) -> Prediction:
    if not isinstance(record, dict):
        raise InputError(f"{where}: a prediction must be an object with instance_id, "
                         "model_name_or_path and model_patch")
    iid = record.get("instance_id")
    if not isinstance(iid, str) or not iid:
        raise InputError(f"{where}: the prediction has no instance_id")
    patch = record.get("model_patch")
    if patch is not None and not isinstance(patch, str):
        raise InputError(f"{where} ({iid}): model_patch must be a string (a diff)")
    return Prediction(iid, str(record.get("model_name_or_path") or ""), patch)


def patch_refusal(patch: str | None) -> str | None:
    """Why ``patch`` is refused before grading (``None``: grade it). Text with NUL bytes or
    bytes that are not UTF-8 is no diff ``git apply`` takes, and no real fix needs over
    ``MAX_PATCH_BYTES``: grading these would only start a container and copy them into it."""
    if not patch:
        return None
    size = len(patch.encode("utf-8", errors="surrogatepass"))
    if size > MAX_PATCH_BYTES:
        return (f"{REFUSED}the patch is {size:,} bytes, over the limit of "
                f"{MAX_PATCH_BYTES // 2**20} MiB for one patch; leave generated or vendored files "
                "out of it")
    if "\0" in patch:
        return (f"{REFUSED}the patch holds NUL bytes (line {_line_of(patch, patch.index(chr(0)))} "
                "of the patch): binary data, not a diff; a binary file belongs in a diff as "
                "`git diff --binary` writes it")
    try:
        patch.encode("utf-8")
    except UnicodeEncodeError as exc:
        return (f"{REFUSED}the patch is not UTF-8 text (line {_line_of(patch, exc.start)} of the "
                "patch); write the predictions file in UTF-8")
    return None


def _line_of(text: str, index: int) -> int:
    return text.count("\n", 0, index) + 1


def _refused(report: GradeReport) -> bool:
    return (report.patch_problem or "").startswith(REFUSED)


@dataclass(frozen=True)
class GradeJob:
    """One prediction to grade, with all a worker needs: the instance's test settings, the
    patch, and the driver's path of the log (its name)."""

    spec: TestSpec
    prediction: Prediction
    log_path: str


@dataclass(frozen=True)
class Graded:
    report: GradeReport
    logs: dict[str, str]


def grade_unit(job: GradeJob) -> Graded:
    """Grade one prediction; a failure of the infrastructure raises ``Transient`` (retried by
    the executor, never stored). A plain function: it runs in a thread or on a Ray worker."""
    import tempfile
    from dataclasses import replace

    from swegc.executors import Transient
    from swegc.docker_client import ensure_runnable
    from swegc.errors import RegistryError

    try:  # a node without a published row's image pulls it; a gone image is no Transient
        ensure_runnable(job.spec.image)
    except RegistryError as exc:
        raise Transient("registry", str(exc)) from None
    with tempfile.TemporaryDirectory(prefix="swegc-grade-") as tmp:
        log = Path(tmp) / "test_output.txt"
        report = grade_patch(job.spec, job.prediction.model_patch or "", log_path=log, attempts=1)
        text = log.read_text(errors="replace") if log.exists() else None
    if report.error:
        raise Transient("grading", report.error)
    report = replace(report, log_path=job.log_path if report.log_path else None)
    return Graded(report, {job.log_path: text} if text is not None else {})


def grade_key(row: Mapping[str, Any], patch: str) -> str:
    """What a stored grade depends on: the whole row and the patch."""
    return content_hash("grade", GRADE_FORMAT, dict(row), patch)


def evaluate(predictions: str | Path, dataset: Path, out: Path, *, jobs: int = 1,
             instance_ids: Sequence[str] = (), attempts: int = 3,
             echo: Callable[[str], None] = print, executor: Any = None,
             hack_policy: str = "flag") -> EvaluationSummary:
    """Grade every prediction (of ``instance_ids`` only, when given); write SWE-bench's reports.

    ``executor`` runs the grading units (a local pool of ``jobs`` threads when not given);
    infrastructure failures are tried ``attempts`` times in all. ``hack_policy`` says what a
    suspicious patch gets (``hack_policy.with_hack_policy``); grades are stored before it.
    """
    from swegc.errors import ImageGoneError
    from swegc.executors import LocalPool, Resources, RetryPolicy, Transient, write_logs
    from swegc.store import BuildStore

    with_hack_policy(GradeReport("", False, None, False, False), hack_policy)  # a bad name fails now

    every_row = load_rows(dataset)
    unknown = [iid for iid in instance_ids if iid not in every_row]
    if unknown:
        raise InputError(f"--instance: {', '.join(unknown)} not in the dataset {dataset}")
    rows = {iid: every_row[iid] for iid in instance_ids} if instance_ids else every_row
    chosen = [p for p in read_predictions(predictions, every_row) if p.instance_id in rows]
    specs = {p.instance_id: TestSpec.from_row(rows[p.instance_id], where=str(dataset))
             for p in chosen}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    store = BuildStore(out / "store.sqlite")
    reports: dict[str, GradeReport] = {}
    todo: list[Prediction] = []
    reused = 0
    for prediction in chosen:
        patch = prediction.model_patch or ""
        refusal = patch_refusal(patch)
        stored = None if refusal else store.get("grade", grade_key(rows[prediction.instance_id],
                                                                   patch))
        if refusal is not None:  # unresolved without a container; nothing to store
            report = grade(specs[prediction.instance_id], {}, patch_applied=False,
                           empty_patch=False, patch_problem=refusal)
            echo(f"{prediction.instance_id}: {_verdict(report)}")
        elif stored is not None:  # stored before the hack policy, which applies now
            report = with_hack_policy(GradeReport.from_json(stored), hack_policy)
            reused += 1
        else:
            todo.append(prediction)
            continue
        reports[prediction.instance_id] = report
        _write_instance(out, prediction, report)
    if reused:
        echo(f"{reused} prediction(s) graded before, reused; {len(todo)} to grade")
    start = time.monotonic()

    pool = executor or LocalPool(jobs, RetryPolicy(attempts=attempts))
    grading = [GradeJob(specs[p.instance_id], p, str(out / p.instance_id / "test_output.txt"))
               for p in todo]
    outcomes = pool.map_unordered(grade_unit, grading, resources=Resources(cpus=1.0),
                                  locality=lambda job: job.spec.image)
    gone: list[str] = []
    for n, outcome in enumerate(outcomes, 1):
        prediction = outcome.item.prediction
        if isinstance(outcome.error, Transient):  # counted as an error, never stored
            report = GradeReport(instance_id=prediction.instance_id, resolved=False, status=None,
                                 patch_applied=False, empty_patch=False,
                                 error=f"after {outcome.attempts} attempts: {outcome.error.detail}",
                                 attempts=outcome.attempts)
        elif isinstance(outcome.error, ImageGoneError):  # an error apart: not tried again
            gone.append(prediction.instance_id)
            report = GradeReport(instance_id=prediction.instance_id, resolved=False, status=None,
                                 patch_applied=False, empty_patch=False,
                                 error=str(outcome.error), attempts=outcome.attempts)
            echo(f"[{n}/{len(todo)}] {prediction.instance_id}: error: image "
                 f"{outcome.error.reference} is gone ({outcome.error.why}; not tried again)")
        elif outcome.error is not None:
            raise outcome.error
        else:
            assert outcome.result is not None
            report = outcome.result.report
            write_logs(outcome.result.logs)
        if report.error is None:
            store.put("grade", grade_key(rows[prediction.instance_id],
                                         prediction.model_patch or ""), report.to_json())
        report = with_hack_policy(report, hack_policy)
        reports[prediction.instance_id] = report
        _write_instance(out, prediction, report)
        if prediction.instance_id not in gone:
            echo(f"[{n}/{len(todo)}] {prediction.instance_id}: {_verdict(report)} "
                 f"({report.duration_s:.1f}s, {time.monotonic() - start:.0f}s elapsed)")
    store.close()
    summary = _summary(rows, chosen, reports, gone)
    (out / "report.json").write_text(json.dumps(summary.to_json(), indent=2) + "\n",
                                     encoding="utf-8")
    return summary


def _verdict(report: GradeReport) -> str:
    if report.error:
        return f"error: {report.error[:200]}"
    if report.empty_patch:
        return "empty patch"
    if _refused(report):
        return f"unresolved, {report.patch_problem}"
    if not report.patch_applied:
        return "patch does not apply"
    note = f" ({report.run_problem})" if report.run_problem else ""
    reverted = f"; put back {', '.join(report.reverted_files)}" if report.reverted_files else ""
    flagged = (f"; suspicious: {', '.join(map(str, report.suspicious[:3]))}"
               + (f" and {len(report.suspicious) - 3} more" if len(report.suspicious) > 3 else "")
               if report.suspicious else "")
    return ("resolved" if report.resolved else "unresolved") + note + reverted + flagged


def _write_instance(out: Path, prediction: Prediction, report: GradeReport) -> None:
    folder = out / prediction.instance_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "patch.diff").write_bytes(_as_written(prediction.model_patch or ""))
    (folder / "grade.json").write_text(json.dumps(report.to_json(), indent=2) + "\n",
                                       encoding="utf-8")
    body = report.to_swebench()
    body[prediction.instance_id]["patch_is_None"] = prediction.model_patch is None
    if _refused(report):  # swegc's addition: why it was not run
        body[prediction.instance_id]["patch_problem"] = report.patch_problem
    if report.error is None:
        (folder / "report.json").write_text(json.dumps(body, indent=4) + "\n", encoding="utf-8")
    else:  # as in SWE-bench, an instance that could not be run has no report.json
        (folder / "report.json").unlink(missing_ok=True)


def _as_written(patch: str) -> bytes:
    """The patch's bytes as they were in the predictions file (non-UTF-8 ones included)."""
    try:
        return patch.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate written as a JSON escape ("\\ud800")
        return patch.encode("utf-8", errors="backslashreplace")


def _summary(rows: Mapping[str, Any], predictions: list[Prediction],
             reports: dict[str, GradeReport], gone: Sequence[str] = ()) -> EvaluationSummary:
    """SWE-bench's make_run_report: instances without a prediction are incomplete, empty
    patches are counted apart, graded ones are resolved or not, the rest are errors."""
    by_id = {p.instance_id: p for p in predictions}
    completed, incomplete, empty, resolved, unresolved, errors = [], [], [], [], [], []
    for iid in sorted(rows):
        report = reports.get(iid)
        if iid not in by_id:
            incomplete.append(iid)
        elif not (by_id[iid].model_patch or "").strip():
            empty.append(iid)
        elif report is None or report.error is not None:
            errors.append(iid)
        else:
            completed.append(iid)
            (resolved if report.resolved else unresolved).append(iid)
    return EvaluationSummary(total_instances=len(rows), submitted_ids=sorted(by_id),
                             completed_ids=completed, incomplete_ids=incomplete,
                             empty_patch_ids=empty, resolved_ids=resolved,
                             unresolved_ids=unresolved, error_ids=errors, reports=reports,
                             image_gone_ids=sorted(gone))
