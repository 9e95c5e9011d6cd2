"""``swegc publish``: a build, a trajectory dataset (RUNS) or a checkpoint, to the Hub.

For a build: check (refuse with every problem listed) -> push images to the registry (what it
holds is not sent again) -> pin each row's image columns to ``name@sha256:digest`` ->
read the previous release back from the Hub -> stage parquet, card and locks -> one commit ->
tag ``vN``. Trajectories and checkpoints follow the same path without images. Nothing is sent
before the check passes, and ``--dry-run`` stops before the first write.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swegc import __version__
from swegc.build_layout import BuildLayout
from swegc.errors import DockerUnavailableError, Problem, SwegcError
from swegc.funnel import read_funnel
from swegc.hub import cards, hubapi
from swegc.hub.changelog import Changelog, diff_rows
from swegc.hub.checks import PublishCheckError, check_rows, read_instances, secret_shapes
from swegc.hub.folders import TRAIN_META_FILE, PublishFolder, dataset_splits, detect
from swegc.hub.images import BuildImage, PushReport, build_images, local_problem, pin_rows
from swegc.hub.stats import rollout_stats, validation_stats
from swegc.nesting import loads
from swegc.records import Instance

Echo = Callable[[str], None]
TEXT_SUFFIXES = (".md", ".json", ".jsonl", ".txt", ".jinja", ".yaml", ".yml", ".py", ".model")


@dataclass(frozen=True)
class PublishOptions:
    """What ``swegc publish`` was asked to do; every field is a command-line option."""

    repo_id: str
    """ORG/NAME of the Hub repository (a dataset for builds and RUNS, a model for checkpoints)."""
    private: bool = False
    """Create the repository private (an existing repository keeps its visibility)."""
    registry: str | None = None
    """HOST[:PORT]/NAMESPACE to push a build's images to; without it rows keep local references."""
    dry_run: bool = False
    """Check and stage only: nothing is pushed, created or committed."""
    dataset: str | None = None
    """For RUNS and checkpoints: the dataset (ORG/NAME@REV) the runs ran on / were trained on."""
    evaluation: str | None = None
    """For checkpoints: an eval.json written by ``swegc metrics --out`` for the model card."""


@dataclass
class PublishResult:
    kind: str
    repo_id: str
    commit: str | None = None
    tag: str | None = None
    changelog: Changelog | None = None
    pushes: PushReport | None = None
    staged: Path | None = None
    rows: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


def publish(path: Path | str, options: PublishOptions, echo: Echo = print) -> PublishResult:
    """Publishes the folder at ``path`` according to its kind (build, runs or checkpoint)."""
    hubapi.check_repo_id(options.repo_id)
    folder = detect(path)
    echo(f"{folder.path}: a {folder.kind} folder")
    run = {"build": _publish_build, "runs": _publish_runs, "checkpoint": _publish_checkpoint}[folder.kind]
    return run(folder, options, echo)


# -- builds ------------------------------------------------------------------------------------

def _docker() -> Any | None:
    from swegc.docker_client import docker_client

    try:
        return docker_client()
    except DockerUnavailableError:
        return None


def _publish_build(folder: PublishFolder, options: PublishOptions, echo: Echo) -> PublishResult:
    from swegc.build_reports import read_reports
    from swegc.dataset import read_dataset
    from swegc.images.reference import ImageRef
    from swegc.images.registry import Registry, check_registry, existing_reference

    result = PublishResult("build", options.repo_id)
    rows_by_split = {split: read_dataset(folder.path, split) for split in folder.splits}
    all_rows = [r for rows in rows_by_split.values() for r in rows]
    instances_by_split, problems = read_instances(rows_by_split)
    instances = [i for split in instances_by_split.values() for i in split]
    reports, envs = read_reports(folder.path)
    registry = Registry.parse(options.registry) if options.registry else None
    if registry is not None:
        check_registry(registry)
    client = _docker()
    images = build_images(all_rows, reports, envs)
    by_instance = {img.instance_ids[0]: img for img in images if img.role == "instance"}

    def image_problem(instance: Instance) -> str | None:
        try:
            ImageRef.from_row(instance.to_json())
        except SwegcError as exc:  # it names no image id
            return str(exc)
        image = by_instance[instance.instance_id]
        if image.published:
            if registry is None or existing_reference(registry, image.published) is None:
                return f"image {image.published} is not in the registry given with --registry"
            return None
        return local_problem(client, image, registry)

    problems += check_rows(instances_by_split, image_problem, _secrets())
    if problems:
        raise PublishCheckError(str(folder.path), problems)
    echo(f"check passed: {len(all_rows)} instance(s) in split(s) {', '.join(folder.splits)}")
    hf = _hub(options)
    previous = _previous(hf, options.repo_id, "dataset")

    pushes = None
    if registry is not None and not options.dry_run:
        start = time.monotonic()
        from swegc.hub.images import push_build_images

        pushes = push_build_images(client, images, registry, echo)
        result.seconds["push"] = time.monotonic() - start
        result.pushes = pushes
        echo(f"images: {len(pushes.pushed) - pushes.skipped} pushed ({pushes.bytes_sent / 1e6:,.1f} MB "
             f"of layers sent), {pushes.skipped} already in {registry}")
    elif registry is not None:
        echo(f"dry run: would push {len(images)} image(s) to {registry}")
    else:
        echo("warning: no --registry: images are not pushed and rows keep their local references "
             "(the card says so); give --registry HOST/NAMESPACE to pin them by digest")
    references = pushes.references if pushes else {}
    new_rows = {split: pin_rows(rows, references) for split, rows in rows_by_split.items()}

    old_rows = _old_rows(hf, options.repo_id, "dataset", previous) if previous else {}
    changelog = diff_rows(previous.tag if previous else None, previous.commit if previous else None,
                          old_rows, new_rows)
    result.changelog = changelog
    tag = _next_tag(previous)
    columns = _schema_names(folder.path, folder.splits[0])
    facts = cards.BuildFacts(
        repo_id=options.repo_id, tag=tag, splits={s: len(r) for s, r in new_rows.items()},
        instances=instances, stats=validation_stats(reports, instances),
        images=_image_lines(client, images, pushes), registry=str(registry) if pushes else None,
        changelog=changelog, swegc_version=__version__, columns=columns,
        funnel=read_funnel(BuildLayout(folder.path).funnel_report))
    stage = _stage_dir(options)
    _write_instances(stage, new_rows, columns, facts)
    if (folder.path / "locks").is_dir():
        shutil.copytree(folder.path / "locks", stage / "locks", dirs_exist_ok=True)
    return _commit(hf, stage, options, "dataset", result, len(all_rows),
                   f"swegc publish: {len(all_rows)} instances", changelog, previous, echo)


def _image_lines(client: Any, images: list[BuildImage], pushes: PushReport | None) -> list[cards.ImageLine]:
    from swegc.docker_client import image_exists

    pushed = {p.source: p for p in pushes.pushed} if pushes else {}
    lines = []
    for img in images:
        found = image_exists(client, img.local) if client is not None and not img.published else None
        size = int(found.attrs.get("Size") or 0) if found is not None else 0
        reference = pushed[img.local].reference if img.local in pushed else (img.published or f"{img.name}:{img.tag}")
        lines.append(cards.ImageLine(img.role, img.name, size, reference, len(img.instance_ids)))
    return lines


def _schema_names(folder: Path, split: str) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.read_schema(folder / "data" / f"{split}-00000-of-00001.parquet").names)


def _write_instances(stage: Path, rows_by_split: dict[str, list[dict[str, Any]]], columns: list[str],
                     facts: cards.BuildFacts) -> None:
    from swegc.dataset import COLUMN_DOCS, write_dataset
    from swegc.images.reference import RUN_COLUMNS

    count = sum(len(r) for r in rows_by_split.values())
    docs = dict(COLUMN_DOCS)
    if facts.registry:
        pinned = f"The image pushed to `{facts.registry}`, pinned by digest (`name@sha256:...`)."
        docs |= {c: pinned for c in RUN_COLUMNS if c in columns}
    repos = sorted({r["repo"] for rows in rows_by_split.values() for r in rows})
    for split, rows in rows_by_split.items():
        write_dataset(stage, rows, split=split, pretty_name=facts.repo_id.split("/")[1],
                      description=f"{count} software-engineering task instances from {len(repos)} "
                                  f"repositor{'y' if len(repos) == 1 else 'ies'} ({', '.join(repos)}), "
                                  "compiled and validated by swegc. Rows follow SWE-bench's schema.",
                      features_order=columns, column_docs=docs, about=cards.build_about(facts))


# -- trajectories ------------------------------------------------------------------------------

def _publish_runs(folder: PublishFolder, options: PublishOptions, echo: Echo) -> PublishResult:
    from swegc.dataset import read_dataset, write_dataset
    from swegc.records import Trajectory
    from swegc.trajectory_dataset import (ABOUT, TRAJECTORY_COLUMNS, TRAJECTORY_DOCS,
                                          TRAJECTORY_JSON_COLUMNS)

    result = PublishResult("runs", options.repo_id)
    rows_by_split: dict[str, list[dict[str, Any]]] = {}
    problems: list[Problem] = []
    secrets = _secrets()
    for split in folder.splits:
        rows = []
        for index, row in enumerate(read_dataset(folder.path, split)):
            where = f"{split}:{row.get('run_id') or index}"
            try:
                rows.append(Trajectory.from_json(row, where=where).to_json())
            except SwegcError as exc:
                problems.append(Problem(where, str(exc)))
                continue
            for column, value in row.items():
                text = value if isinstance(value, str) else json.dumps(value, default=str)
                problems += [Problem(where, f"column {column} holds {shape}") for shape in secret_shapes(text, secrets)]
        rows_by_split[split] = rows
    if problems:
        raise PublishCheckError(str(folder.path), problems)
    all_rows = [r for rows in rows_by_split.values() for r in rows]
    if not all_rows:
        raise PublishCheckError(str(folder.path), [Problem("", "no trajectories to publish")])
    echo(f"check passed: {len(all_rows)} trajectories")
    hf = _hub(options)
    previous = _previous(hf, options.repo_id, "dataset")
    old_rows = _old_rows(hf, options.repo_id, "dataset", previous) if previous else {}
    changelog = diff_rows(previous.tag if previous else None, previous.commit if previous else None,
                          old_rows, rows_by_split, id_columns=("instance_id", "run_id"), noisy=frozenset({"wall_time_s"}))
    result.changelog = changelog
    policies = list({json.dumps(r["policy"], sort_keys=True): r["policy"] for r in all_rows}.values())
    facts = cards.RunsFacts(options.repo_id, _next_tag(previous), rollout_stats(all_rows), policies,
                            options.dataset, len({r["image"] for r in all_rows}), changelog)
    stage = _stage_dir(options)
    for split, rows in rows_by_split.items():
        write_dataset(stage, rows, split=split, pretty_name=options.repo_id.split("/")[1],
                      description=f"{len(all_rows)} agent rollouts on {facts.stats.instances} task "
                                  f"instances; resolve rate {facts.stats.resolve_rate:.1%}.",
                      features_order=list(TRAJECTORY_COLUMNS), json_columns=TRAJECTORY_JSON_COLUMNS,
                      column_docs=TRAJECTORY_DOCS, about=ABOUT + "\n" + cards.runs_about(facts),
                      tags=["code", "software-engineering", "agent-trajectories", "swegc"],
                      sort_key=lambda r: (r["instance_id"], r["sample"], r["run_id"]))
    return _commit(hf, stage, options, "dataset", result, len(all_rows),
                   f"swegc publish: {len(all_rows)} trajectories", changelog, previous, echo)


# -- checkpoints -------------------------------------------------------------------------------

SKIP_IN_CHECKPOINT = ("trainer/", "README.md", ".git/")


def _publish_checkpoint(folder: PublishFolder, options: PublishOptions, echo: Echo) -> PublishResult:
    result = PublishResult("checkpoint", options.repo_id)
    meta_path = folder.path / TRAIN_META_FILE
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise PublishCheckError(str(folder.path), [Problem(str(meta_path), f"unreadable: {exc}")]) from None
    problems = []
    if meta.get("schema_version") != 1:
        problems.append(Problem(str(meta_path), f"schema_version {meta.get('schema_version')!r}; this swegc reads 1"))
    if meta.get("kind") not in ("rft", "verifier"):
        problems.append(Problem(str(meta_path), f"kind {meta.get('kind')!r}: expected rft or verifier"))
    layout = meta.get("layout") or {}
    weights = ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin"]
    if "weights" in layout and not any((folder.path / w).is_file() for w in weights):
        problems.append(Problem(str(folder.path), "no model weights (model.safetensors) although "
                                                  "swegc_train.json says full weights were written"))
    if "weights" not in layout and not (folder.path / "adapter_model.safetensors").is_file():
        problems.append(Problem(str(folder.path), "no adapter_model.safetensors for a LoRA checkpoint"))
    files = sorted(p for p in folder.path.rglob("*") if p.is_file()
                   and not any(p.relative_to(folder.path).as_posix().startswith(s) for s in SKIP_IN_CHECKPOINT))
    secrets = _secrets()
    for path in files:
        if path.suffix in TEXT_SUFFIXES and path.stat().st_size < 50 * 2**20:
            for shape in secret_shapes(path.read_text(encoding="utf-8", errors="replace"), secrets):
                problems.append(Problem(str(path), f"holds {shape}"))
    evaluation = None
    eval_path = Path(options.evaluation) if options.evaluation else folder.path / "eval.json"
    if options.evaluation or eval_path.is_file():
        try:
            evaluation = loads(eval_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            problems.append(Problem(str(eval_path), f"cannot read the evaluation: {exc}"))
    if problems:
        raise PublishCheckError(str(folder.path), problems)
    echo(f"check passed: a {meta['kind']} checkpoint ({len(files)} files)")
    hf = _hub(options)
    previous = _previous(hf, options.repo_id, "model")
    stage = _stage_dir(options)
    for path in files:
        target = stage / path.relative_to(folder.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(path.resolve(), target)  # weights are not copied
    (stage / "README.md").write_text(cards.model_card(options.repo_id, meta, dataset=options.dataset,
                                                      evaluation=evaluation, swegc_version=__version__),
                                     encoding="utf-8")
    return _commit(hf, stage, options, "model", result, 0, f"swegc publish: {meta['kind']} checkpoint",
                   Changelog(previous.tag if previous else None, previous.commit if previous else None),
                   previous, echo)


# -- shared ------------------------------------------------------------------------------------

def _secrets() -> list[str]:
    from swegc.docker_client import PASSWORD_VARIABLE

    token = hubapi.hub_token()
    password = os.environ.get(PASSWORD_VARIABLE)
    return [s for s in (token, password) if s and len(s) >= 8]


def _hub(options: PublishOptions) -> Any:
    if not options.dry_run and not hubapi.hub_token():
        raise hubapi.HubError("no Hugging Face token: set HF_TOKEN (a token with write access) or "
                              "run `huggingface-cli login`; nothing was published")
    return hubapi.api()


def _previous(hf: Any, repo_id: str, repo_type: str) -> hubapi.Release | None:
    with hubapi.hub_errors(f"reading the releases of {repo_id}"):
        return hubapi.latest_release(hf, repo_id, repo_type)


def _next_tag(previous: hubapi.Release | None) -> str:
    return f"v{previous.number + 1 if previous else 1}"


def _old_rows(hf: Any, repo_id: str, repo_type: str, previous: hubapi.Release) -> dict[str, list[dict[str, Any]]]:
    from swegc.dataset import read_dataset

    with hubapi.temporary_folder("swegc-previous-") as tmp:
        folder = hubapi.download_files(hf, repo_id, repo_type, previous.commit, ("data/*.parquet",), Path(tmp))
        return {split: read_dataset(folder, split) for split in dataset_splits(folder)}


def _stage_dir(options: PublishOptions) -> Path:
    import tempfile

    return Path(tempfile.mkdtemp(prefix="swegc-publish-"))


def _check_staged(stage: Path) -> None:
    """A last look at what is about to leave: no file may hold a token."""
    secrets = _secrets()
    problems = []
    for path in sorted(stage.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.suffix in TEXT_SUFFIXES:
            problems += [Problem(str(path.relative_to(stage)), f"holds {shape}")
                         for shape in secret_shapes(path.read_text(encoding="utf-8", errors="replace"), secrets)]
    if problems:
        raise PublishCheckError("staged files", problems)


def _commit(hf: Any, stage: Path, options: PublishOptions, repo_type: str, result: PublishResult, rows: int,
            message: str, changelog: Changelog, previous: hubapi.Release | None, echo: Echo) -> PublishResult:
    _check_staged(stage)
    result.rows = rows
    if options.dry_run:
        result.staged = stage
        echo(f"dry run: nothing sent; the files that would be committed are in {stage}")
        echo(changelog.markdown())
        return result
    start = time.monotonic()
    try:
        description = changelog.markdown()
        result.commit = hubapi.commit_folder(hf, options.repo_id, repo_type, stage, private=options.private,
                                             message=message, description=description)
        result.tag = hubapi.tag_release(hf, options.repo_id, repo_type, result.commit, previous, message)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    result.seconds["commit"] = time.monotonic() - start
    if result.tag is None:
        echo(f"nothing changed since {previous.tag if previous else '?'}: {options.repo_id} is at "
             f"{result.commit[:12]}; no new tag")
    else:
        echo(f"published {options.repo_id} at {result.commit[:12]}, tagged {result.tag}")
    echo(changelog.markdown())
    return result
