"""Cards people read instead of logs: for instance datasets, trajectory datasets and checkpoints.

Each card says how to use what was published, what is in it, where it came from (specs' hashes,
swegc version, the data a model was trained on) and, for datasets, what changed since the last
release. The figures come from the folder itself (reports, rows, swegc_train.json); tokens never
reach a card (the publisher checks the final text).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from swegc.funnel import funnel_markdown
from swegc.hub.changelog import Changelog
from swegc.hub.stats import RolloutStats, ValidationStats
from swegc.reasons import exit_status_meaning, meaning
from swegc.records import Instance


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


@dataclass(frozen=True)
class ImageLine:
    role: str
    name: str
    size_bytes: int
    reference: str
    instances: int


@dataclass(frozen=True)
class BuildFacts:
    """Everything the card of an instance dataset states."""

    repo_id: str
    tag: str | None
    splits: dict[str, int]
    instances: list[Instance]
    stats: ValidationStats
    images: list[ImageLine]
    registry: str | None
    changelog: Changelog
    swegc_version: str
    columns: list[str] = field(default_factory=list)
    funnel: dict[str, Any] | None = None  # reports/funnel.json as swegc.funnel.read_funnel reads it


def build_about(facts: BuildFacts) -> str:
    """The card's body after the column table (``swegc.dataset.write_dataset``'s ``about``)."""
    first = next(iter(facts.splits), "train")
    revision = f', revision="{facts.tag}"' if facts.tag else ""
    has = set(facts.columns)
    per_repo: dict[str, Counter[str]] = defaultdict(Counter)
    hashes: dict[str, set[str]] = defaultdict(set)
    versions: set[str] = set()
    for instance in facts.instances:
        per_repo[instance.repo]["instances"] += 1
        per_repo[instance.repo]["FAIL_TO_PASS"] += len(instance.FAIL_TO_PASS)
        hashes[instance.repo].add(instance.spec_hash)
        versions.add(instance.swegc_version)
    repo_rows = [(f"[{repo}](https://github.com/{repo})", c["instances"], c["FAIL_TO_PASS"],
                  ", ".join(f"`{h}`" for h in sorted(hashes[repo]) if h),
                  f"see [{repo}](https://github.com/{repo}) (not recorded in the spec)")
                 for repo, c in sorted(per_repo.items())]
    s = facts.stats
    rejection_rows = [(f"`{reason}`", n, meaning(reason)) for reason, n in s.rejections.items()] \
        or [("(none)", 0, "")]
    runs = ", ".join(f"{n} run(s) per side for {count} instance(s)" for n, count in sorted(s.runs.items())) or "n/a"
    image_rows = [(img.role, f"`{img.name}`", _mb(img.size_bytes), img.instances, f"`{img.reference}`")
                  for img in facts.images]
    where = (f"pushed to `{facts.registry}`, pinned by digest: every image column of a row names "
             "`name@sha256:...`, which no later build can move." if facts.registry else
             "not pushed to a registry: rows name local images; rebuild them with `swegc compile` "
             "from the specs (hashes above) before running instances elsewhere.")
    image_column = "image_name" if "image_name" in has else "image"
    eval_hint = ("Each row carries `eval_script`, `eval_type` and a `log_parser` SWE-bench knows, "
                 "so SWE-bench 5.x runs it unchanged:" if "eval_script" in has else
                 "SWE-bench-style harnesses read `image` for the environment:")
    sections = [
        "## Load and run",
        f"```python\nfrom datasets import load_dataset\n\nds = load_dataset(\"{facts.repo_id}\", "
        f"split=\"{first}\"{revision})\nrow = ds[0]\nprint(row[\"instance_id\"], row[\"{image_column}\"], "
        "row[\"FAIL_TO_PASS\"])\n```",
        f"Run an agent on it with mini-swe-agent's SWE-bench runner, which reads the image from "
        f"`{'image_name' if 'image_name' in has else 'image_name (else docker_image)'}`:",
        f"```bash\nmini-extra swebench --subset {facts.repo_id} --split {first} --model MODEL --output runs/\n```",
        eval_hint,
        f"```bash\npython -m swebench.harness.run_evaluation --dataset_name {facts.repo_id} --split {first} \\\n"
        "    --predictions_path gold --run_id check-gold\n```",
        "Or with swegc itself: `swegc rollout` and `swegc evaluate` read the dataset as it is.",
        "## Repositories",
        _table(("repository", "instances", "FAIL_TO_PASS tests", "spec hash", "licence"), repo_rows),
        "Check each repository's licence before redistributing its code or tests.",
        "## Validation",
        f"Every instance was run before and after its gold patch: {runs}. A test whose status "
        "changed between runs of the same side is flaky and kept out of both test lists.",
        _table(("", ""), [("candidate pull requests", s.candidates), ("valid instances", s.valid),
                          ("FAIL_TO_PASS tests", s.fail_to_pass), ("PASS_TO_PASS tests", s.pass_to_pass),
                          ("flaky tests (excluded)", f"{s.flaky_tests} in {s.instances_with_flaky} instance(s)"),
                          ("validation time", f"{s.validation_seconds:.1f} s")]),
        "Rejected candidates, by reason:",
        _table(("reason", "candidates", "meaning"), rejection_rows),
        *(["## Funnel and cost", funnel] if (funnel := funnel_markdown(facts.funnel)) else []),
        "## Images",
        f"Images are {where}",
        _table(("role", "image", "size", "instances", "reference"), image_rows) if image_rows else "(none)",
        *_peer_names_section(facts),
        "## Provenance",
        f"Compiled by swegc {', '.join(sorted(v for v in versions if v)) or 'unknown'} from declarative "
        f"repository specs (hashes per repository above); published by swegc {facts.swegc_version}. "
        "`locks/` holds the resolved package set of each environment, to rebuild it the same way.",
        "## Changelog",
        facts.changelog.markdown(),
    ]
    return "\n\n".join(sections) + "\n"


def _peer_names_section(facts: BuildFacts) -> list[str]:
    """Where tools that derive an image from the instance id find it (``swegc.images.peer_names``):
    said only when the images were pushed, under those names, by this publish."""
    from swegc.images.peer_names import openhands_repository, swebench_repository

    if not facts.registry or not facts.instances:
        return []
    example = facts.instances[0].instance_id
    prefix = facts.registry
    return [
        "### Images by instance id",
        "Some tools derive the image from the instance id instead of reading a column. Every "
        "instance image is also in the registry under the names they derive, with the same digest "
        "as the row's `image`:",
        _table(("tool", "set", "image of " + f"`{example}`"), [
            ("OpenHands (`evaluation/benchmarks/swe_bench/run_infer.py`)",
             f"`EVAL_DOCKER_IMAGE_PREFIX={prefix}` (with `USE_INSTANCE_IMAGE=true`)",
             f"`{prefix}/{openhands_repository(example)}:latest`"),
            ("SWE-bench 5.x naming (`ImageSpec.name`, mini-swe-agent's fallback)",
             f"namespace `{prefix}`",
             f"`{prefix}/{swebench_repository(example)}:latest`"),
        ]),
        "`__` in an id becomes `_s_` (OpenHands) or `_1776_` (SWE-bench), all in lower case. These "
        "tags are `latest` and a later publish to the same prefix moves them; the rows' digests do "
        "not move.",
    ]


@dataclass(frozen=True)
class RunsFacts:
    repo_id: str
    tag: str | None
    stats: RolloutStats
    policies: list[dict[str, Any]]
    dataset: str | None
    images: int
    changelog: Changelog


def runs_about(facts: RunsFacts) -> str:
    s = facts.stats
    policy_text = "\n".join(f"```json\n{json.dumps(p, indent=2, sort_keys=True)}\n```" for p in facts.policies)
    pass_rows = [(k, f"{p:.2%}") for k, p in enumerate(s.pass_at, 1)]
    status_rows = [(f"`{k}`", v, exit_status_meaning(k))
                   for k, v in sorted(s.exit_statuses.items(), key=lambda kv: -kv[1])]
    samples = f"{s.samples_min}" if s.samples_min == s.samples_max else f"{s.samples_min}-{s.samples_max}"
    revision = f', revision="{facts.tag}"' if facts.tag else ""
    sections = [
        "## Policy and sampling", policy_text or "(not recorded)",
        "## Results",
        _table(("", ""), [("trajectories", s.trajectories), ("instances", s.instances),
                          ("samples per instance", samples), ("resolved", s.resolved),
                          ("resolve rate", f"{s.resolve_rate:.2%}")]),
        "pass@k (unbiased estimator, averaged over instances):",
        _table(("k", "pass@k"), pass_rows) if pass_rows else "(no trajectories)",
        "Exit statuses:", _table(("exit status", "trajectories", "meaning"), status_rows),
        "## Task instances",
        (f"The rollouts ran on `{facts.dataset}`" if facts.dataset else
         "The dataset the rollouts ran on was not given (`swegc publish RUNS --dataset ORG/NAME@REV`)")
        + f"; each row's `image` names the image it ran in ({facts.images} distinct).",
        "## Load",
        f"```python\nfrom datasets import load_dataset\n\nruns = load_dataset(\"{facts.repo_id}\", split=\"train\"{revision})\n```",
        "## Changelog", facts.changelog.markdown(),
    ]
    return "\n\n".join(sections) + "\n"


def _public(value: Any) -> Any:
    """A value fit for a public card: a local path becomes its last part (no home folders on the Hub)."""
    if isinstance(value, str) and (value.startswith(("/", "./", "../", "~")) or Path(value).is_absolute()):
        return f"local: {Path(value).name}"
    return value


def model_card(repo_id: str, meta: Mapping[str, Any], *, dataset: str | None, evaluation: Mapping[str, Any] | None,
               swegc_version: str) -> str:
    """README.md of a published checkpoint, from its swegc_train.json (and eval.json when given)."""
    kind = str(meta.get("kind") or "rft")
    config = dict(meta.get("config") or {})
    layout = dict(meta.get("layout") or {})
    base = str(_public(config.get("base_model") or ""))
    adapter_only = "weights" not in layout
    header: dict[str, Any] = {
        "library_name": "peft" if adapter_only else "transformers",
        "pipeline_tag": "text-generation",
        "tags": ["swegc", "swe-agent", "trl", "sft", "rft" if kind == "rft" else "verifier"],
    }
    if base and not base.startswith("local: "):
        header["base_model"] = base
    if dataset and "/" in dataset and not dataset.startswith(("/", ".")):
        header["datasets"] = [dataset.split("@")[0]]
    what = ("Policy trained by capped rejection-sampling fine-tuning (RFT) on resolved agent "
            "trajectories, loss on assistant turns only (as in SWE-Gym, arXiv 2412.21139)."
            if kind == "rft" else
            "Outcome verifier: given an issue, an agent trajectory and its final diff, it answers YES "
            "(resolved) or NO; score = P(YES) / (P(YES) + P(NO)). Use it with `swegc rerank`.")
    hyper = dict(config.get("hyper") or {})
    capping = dict(meta.get("selection") or meta.get("examples") or {})
    result = dict(meta.get("result") or {})
    settings = {k: _public(v) for k, v in config.items() if k not in ("hyper", "out_dir", "base_model")}
    load = ("```python\nfrom peft import AutoPeftModelForCausalLM\n\n"
            f"model = AutoPeftModelForCausalLM.from_pretrained(\"{repo_id}\")\n```" if adapter_only else
            "```python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n\n"
            f"model = AutoModelForCausalLM.from_pretrained(\"{repo_id}\")\n"
            f"tokenizer = AutoTokenizer.from_pretrained(\"{repo_id}\")\n```")
    sections = [
        f"# {repo_id}", what,
        f"Base model: `{base}`. Weights: {'LoRA adapter' if adapter_only else 'full weights'}"
        + (f" (adapter also in `{layout['adapter']}/`)" if layout.get("adapter") not in (None, ".") and not adapter_only else "")
        + f". Trained with `swegc train {kind}` (swegc {meta.get('swegc_version', '?')}); published by swegc {swegc_version}.",
        "## Load", load,
        "## Training data",
        (f"Trajectories: `{dataset}`." if dataset else "Trajectories: local runs (no Hub dataset was named "
         "with `--dataset ORG/NAME@REV`)."),
        _table(("setting", "value"), sorted((k, f"`{v}`") for k, v in settings.items())) if settings else "",
        "## Capping and selection" if kind == "rft" else "## Examples",
        _table(("", "trajectories" if kind == "rft" else "examples"), sorted(capping.items())) if capping else "(not recorded)",
        "## Hyperparameters",
        _table(("", ""), sorted(hyper.items())) if hyper else "(not recorded)",
        "## Training",
        _table(("", ""), sorted(result.items())) if result else "(not recorded)",
        "## Evaluation",
        _evaluation(evaluation),
    ]
    front = yaml.safe_dump(header, sort_keys=False)
    return f"---\n{front}---\n\n" + "\n\n".join(s for s in sections if s) + "\n"


def _evaluation(evaluation: Mapping[str, Any] | None) -> str:
    if not evaluation:
        return "No evaluation was given (`swegc metrics RUNS --out DIR` writes `eval.json`; publish with `--eval DIR/eval.json`)."
    rows = [(k, f"{v:.2%}" if isinstance(v, float) else v) for k, v in sorted(evaluation.items())
            if isinstance(v, (int, float, str)) and k != "schema_version"]
    curves = []
    for name in ("pass_at", "best_at"):
        values = evaluation.get(name) or []
        if values:
            curves.append(_table(("k", name.replace("_at", "@k")), [(k, f"{v:.2%}") for k, v in enumerate(values, 1)]))
    return "\n\n".join([_table(("metric", "value"), rows), *curves])
