"""The dataset on disk in Hugging Face Hub layout: Parquet shards under ``data/`` and a card.

The layout is what ``datasets.load_dataset`` and the Hub viewer read without a loading script:
``data/{split}-00000-of-00001.parquet`` plus ``README.md`` whose YAML front matter declares the
configs, features and split sizes. The files are written deterministically (rows sorted by
instance id, an explicit schema, no timestamps, no statistics) so that an unchanged build gives
byte-identical files: a rebuild then shows up as "nothing changed" in git, on the Hub and in
content hashes.

Column types are fixed rather than inferred, so that an empty list or a missing value can never
change the schema between two builds. The nested ``validation`` column (its keys vary with the
runs) is stored as a JSON string, marked as such in the field's metadata, and decoded again by
``read_dataset``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from swegc.atomic_files import atomic_write
from swegc.build_layout import BuildLayout
from swegc.errors import InputError
from swegc.nesting import loads
from swegc.records import Instance, instance_columns, read_jsonl
from swegc.test_settings import setting_columns

# The test settings' columns (test_command, swegc_log_parser, test_timeout_s, ...) come from
# swegc.test_settings.TestSettings, with their types and docs: a new setting needs no edit here.
_SETTINGS = setting_columns()
INSTANCE_COLUMNS = instance_columns()


def _setting_kind(kind: str) -> frozenset[str]:
    return frozenset(c for c, spec in _SETTINGS.items() if spec["kind"] == kind)


LIST_COLUMNS = frozenset({"FAIL_TO_PASS", "PASS_TO_PASS", "issue_numbers", "flaky_tests"}) | \
    _setting_kind("list")
INT_COLUMNS = frozenset({"pull_number", "schema_version", "difficulty_files", "difficulty_hunks",
                         "difficulty_lines", "difficulty_fail_to_pass", "difficulty_resolve_runs"}) | \
    _setting_kind("int")
FLOAT_COLUMNS = frozenset({"difficulty_resolve_rate"})
BOOL_COLUMNS = _setting_kind("bool")
JSON_COLUMNS = frozenset({"validation", "synthesis"}) | _setting_kind("json")
_JSON_MARK = {b"swegc.encoding": b"json"}

COLUMN_DOCS = {
    "instance_id": "`owner__repo-PR`, unique per row (SWE-bench's id).",
    "repo": "`owner/name` of the GitHub repository.",
    "base_commit": "Commit the pull request was based on; the task starts from it.",
    "patch": "The gold patch: the pull request's changes outside test files.",
    "test_patch": "The pull request's changes to test files, applied before the tests run.",
    "problem_statement": "Text of the linked issue(s), or the pull request's title and body.",
    "hints_text": "Issue comments made before the fix was first committed.",
    "created_at": "When the pull request was created (ISO 8601).",
    "version": "SWE-bench's version (which groups instances by environment). Rebuilt from a "
               "published dataset (`source.instances`): the published value, kept as it was; "
               "otherwise the version the spec found (`spec_version`).",
    "environment_setup_commit": "SWE-bench's environment setup commit. Rebuilt from a published "
                                "dataset: the published value, kept as it was; otherwise the "
                                "commit the env image was built at (`env_commit`).",
    "FAIL_TO_PASS": "Tests that fail before the patch and pass after it, in every run.",
    "PASS_TO_PASS": "Tests that pass both before and after the patch, in every run.",
    "pull_number": "The pull request's number.",
    "issue_numbers": "Numbers of the issues the pull request resolves.",
    "image": "Immutable reference of the image the instance was validated in: `name@sha256:digest` "
             "once pushed, else the local image id (`sha256:...`). SWE-bench 5.x reads it.",
    "image_id": "Local image id of that image.",
    "spec_hash": "Hash of the repository spec the instance was compiled from.",
    "log_parser": "SWE-bench 5.x parser that reads eval_script's log (`parse_log_pytest`, "
                  "`parse_log_pytest_v2` or `parse_log_django`).",
    "flaky_tests": "Tests whose status differed between repeated runs; in neither list above.",
    "validation": "JSON: the validation runs (statuses, durations, exit codes) behind the lists.",
    "swegc_version": "Version of swegc that compiled the instance.",
    "spec_version": "The version swegc's spec found at base_commit (its `version:` block, or "
                    "the published row with `from: published`); it picked the environment.",
    "env_commit": "The commit the env image holds the repository and its dependencies at: the "
                  "common ancestor of the base commits of the instances that share the env.",
    "image_tag": "The image's `name:tag` (a tag can move: run `image`, not this).",
    "image_name": "Same reference as `image`; mini-swe-agent, SkyRL, rLLM and R2E-Gym read it.",
    "docker_image": "Same reference as `image`, under the name some harnesses read instead.",
    "eval_script": "Bash script to run in /testbed after applying a candidate patch: resets the "
                   "test files and test infrastructure, applies test_patch, runs the tests and "
                   "exits 0 only when every FAIL_TO_PASS and PASS_TO_PASS test passes (the "
                   "verdict comes from pytest's JUnit report or the runner's own summary, never "
                   "from printed lines). Its log ends with the statuses in `log_parser`'s format.",
    "eval_type": "How SWE-bench 5.x grades the log: `pass_and_fail` (every listed test must be "
                 "found passing).",
    "difficulty_files": "Difficulty: files the gold patch changes.",
    "difficulty_hunks": "Difficulty: hunks of the gold patch.",
    "difficulty_lines": "Difficulty: lines the gold patch adds or removes.",
    "difficulty_fail_to_pass": "Difficulty: tests the fix makes pass (FAIL_TO_PASS's length).",
    "difficulty_resolve_rate": "Difficulty: the fraction of `difficulty_resolve_policy`'s rollouts "
                               "that resolved the instance (`swegc curate --runs`); empty until "
                               "then.",
    "difficulty_resolve_runs": "How many rollouts `difficulty_resolve_rate` counts.",
    "difficulty_resolve_policy": "The policy (model) whose rollouts gave the resolve rate.",
    "origin": "How the task was made: `real` (a merged pull request), or by `swegc synthesize`: "
              "`mutation:<kind>`, `pr_revert`, `combined` or `policy`.",
    "synthesis": "JSON: what a synthetic task changed (files, functions), the instance it was "
                 "made from and the strategy's own facts; `{}` for real tasks.",
    "schema_version": "Version of this row format.",
} | {column: spec["doc"] for column, spec in _SETTINGS.items()}


def _arrow_type(column: str, values: list[Any]) -> Any:
    """The Parquet type of a column: fixed for known columns, inferred only for extra ones."""
    import pyarrow as pa

    if column in LIST_COLUMNS:
        return pa.list_(pa.string())
    if column in INT_COLUMNS:
        return pa.int64()
    if column in BOOL_COLUMNS:
        return pa.bool_()
    if column in FLOAT_COLUMNS:
        return pa.float64()
    if column in JSON_COLUMNS:
        return pa.string()
    sample = next((v for v in values if v is not None), "")
    if isinstance(sample, bool):
        return pa.bool_()
    if isinstance(sample, int):
        return pa.int64()
    if isinstance(sample, float):
        return pa.float64()
    if isinstance(sample, (list, tuple)):
        return pa.list_(pa.string())
    return pa.string()


def _json_column(column: str, values: list[Any], json_columns: frozenset[str] = JSON_COLUMNS) -> bool:
    return column in json_columns or any(isinstance(v, dict) for v in values)


def _columns(rows: list[dict[str, Any]], features_order: list[str] | None) -> list[str]:
    columns = list(features_order or INSTANCE_COLUMNS)
    for index, row in enumerate(rows):
        unknown = sorted(set(row) - set(columns))
        missing = [c for c in columns if c not in row]
        if unknown or missing:
            where = f"row {index} ({row.get('instance_id', '?')})"
            raise InputError(f"{where}: " + "; ".join(filter(None, [
                f"unknown column(s) {', '.join(unknown)}" if unknown else "",
                f"missing column(s) {', '.join(missing)}" if missing else ""]))
                + "; every row must have exactly the dataset's columns")
    return columns


def _table(rows: list[dict[str, Any]], columns: list[str],
           json_columns: frozenset[str] = JSON_COLUMNS) -> Any:
    import pyarrow as pa

    arrays, fields = [], []
    for column in columns:
        values = [row[column] for row in rows]
        if _json_column(column, values, json_columns):
            values = [None if v is None else json.dumps(v, sort_keys=True, ensure_ascii=False)
                      for v in values]
            field = pa.field(column, pa.string(), metadata=_JSON_MARK)
        else:
            field = pa.field(column, _arrow_type(column, values))
            if pa.types.is_list(field.type):
                values = [None if v is None else [str(x) for x in v] for v in values]
        arrays.append(pa.array(values, type=field.type))
        fields.append(field)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def shard_path(out_dir: Path, split: str) -> Path:
    return BuildLayout(out_dir).shard(split)


def write_dataset(out_dir: Path, rows: list[dict[str, Any]], *, split: str = "train", pretty_name: str,
                  description: str, features_order: list[str] | None = None, license: str = "other",
                  tags: list[str] | None = None, json_columns: frozenset[str] = JSON_COLUMNS,
                  column_docs: dict[str, str] | None = None, about: str | None = None,
                  sort_key: Any = None, appendix: str | None = None) -> Path:
    """Writes ``rows`` as split ``split`` of the dataset in ``out_dir``; returns the Parquet path.

    Splits already in ``out_dir/data`` are kept and listed in the card beside this one. The
    defaults describe instance datasets; a trajectory dataset passes its own ``json_columns``
    (nested columns kept as JSON strings), ``column_docs``, ``about`` (the card's body) and
    ``sort_key``; ``appendix`` is markdown added at the end of the card (compile's funnel).
    """
    import pyarrow.parquet as pq

    if not split.replace("_", "").isalnum():
        raise InputError(f"split name {split!r}: use letters, digits and underscores only")
    columns = _columns(rows, features_order)
    ordered = sorted(rows, key=sort_key or (lambda r: str(r.get("instance_id", ""))))
    table = _table(ordered, columns, json_columns)
    path = shard_path(out_dir, split)
    atomic_write(path, lambda tmp: pq.write_table(
        table, tmp, compression="zstd", write_statistics=False, use_dictionary=False,
        row_group_size=max(1, len(ordered)), write_page_index=False))
    card = dataset_card(out_dir, table.schema, pretty_name=pretty_name, description=description,
                        license=license, tags=tags, column_docs=column_docs, about=about,
                        appendix=appendix)
    atomic_write(BuildLayout(out_dir).card, lambda tmp: Path(tmp).write_text(card, encoding="utf-8"))
    return path


def _splits(out_dir: Path) -> list[tuple[str, int, int, int]]:
    """(name, rows, bytes in memory, bytes on disk) of each split in ``out_dir/data``."""
    import pyarrow.parquet as pq

    found = []
    for shard in sorted(BuildLayout(out_dir).data_dir.glob("*-00000-of-00001.parquet")):
        table = pq.read_table(shard)
        found.append((shard.name.split("-00000-of-00001")[0], table.num_rows, table.nbytes,
                      shard.stat().st_size))
    return found


def _feature(field: Any) -> dict[str, Any]:
    import pyarrow as pa

    if pa.types.is_list(field.type):
        return {"name": field.name, "list": "string"}
    dtype = {pa.int64(): "int64", pa.float64(): "float64", pa.bool_(): "bool"}.get(field.type, "string")
    return {"name": field.name, "dtype": dtype}


def dataset_card(out_dir: Path, schema: Any, *, pretty_name: str, description: str, license: str = "other",
                 tags: list[str] | None = None, column_docs: dict[str, str] | None = None,
                 about: str | None = None, appendix: str | None = None) -> str:
    """The README.md: YAML front matter the Hub and ``datasets`` read, then a human description
    (``about``, or the default text for instance datasets), then the ``appendix`` if any."""
    return _card_body(out_dir, schema, pretty_name=pretty_name, description=description,
                      license=license, tags=tags, column_docs=column_docs, about=about) + \
        (f"\n{appendix.rstrip()}\n" if appendix else "")


def _card_body(out_dir: Path, schema: Any, *, pretty_name: str, description: str,
               license: str = "other", tags: list[str] | None = None,
               column_docs: dict[str, str] | None = None, about: str | None = None) -> str:
    splits = _splits(out_dir)
    meta = {
        "pretty_name": pretty_name,
        "license": license,
        "task_categories": ["text-generation"],
        "tags": tags or ["code", "software-engineering", "swe-bench", "swegc"],
        "configs": [{"config_name": "default",
                     "data_files": [{"split": name, "path": f"data/{name}-*"} for name, *_ in splits]}],
        "dataset_info": {"features": [_feature(f) for f in schema],
                         "splits": [{"name": name, "num_bytes": size, "num_examples": n}
                                    for name, n, size, _ in splits],
                         "download_size": sum(s[3] for s in splits),
                         "dataset_size": sum(s[2] for s in splits)},
    }
    front = yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)
    docs = COLUMN_DOCS if column_docs is None else column_docs
    rows = "\n".join(f"| `{f.name}` | {_type_name(f)} | {docs.get(f.name, '')} |" for f in schema)
    split_lines = "\n".join(f"- `{name}`: {n} instance{'s' if n != 1 else ''}" for name, n, *_ in splits)
    first = splits[0][0] if splits else "train"
    if about is not None:
        return f"---\n{front}---\n\n# {pretty_name}\n\n{description}\n\n## Splits\n\n{split_lines}\n\n" \
            f"## Columns\n\n| column | type | meaning |\n|---|---|---|\n{rows}\n\n{about}"
    return f"""---
{front}---

# {pretty_name}

{description}

Each row is a software-engineering task: a repository at `base_commit`, a problem statement,
and tests that decide whether a candidate patch resolves it. The columns are SWE-bench's, with the
same names and meaning, so SWE-bench-style harnesses use the dataset as it is; the extra columns
record where each instance came from and how it was validated.

## Splits

{split_lines}

## Columns

| column | type | meaning |
|---|---|---|
{rows}

`FAIL_TO_PASS` and `PASS_TO_PASS` are lists of test ids in the form `swegc_log_parser` gives them.
`validation`, `swegc_parser_options` and `test_env` are JSON strings: `json.loads(row["validation"])`.

## Loading

```python
from datasets import load_dataset

ds = load_dataset("path/or/org-name", split="{first}")
print(ds[0]["instance_id"], ds[0]["FAIL_TO_PASS"])
```

Each instance's `image` holds its environment (an immutable reference). The rows run as they are
in the field's harnesses: mini-swe-agent and SkyRL read `image_name`; SWE-bench 5.x reads `image`,
`eval_script`, `eval_type` and `log_parser` (`python -m swebench.harness.run_evaluation
--dataset_name <this dataset>`); `eval_script`'s exit status alone says whether a patch resolves
the instance. `swegc evaluate` grades predictions from the row alone: `test_command` with
`test_patch` applied, `test_env` set, within `test_timeout_s`, network only if `test_network`, the
log read with `swegc_log_parser` and `swegc_parser_options`.

Compiled with swegc from declarative repository specs.
"""


def _type_name(field: Any) -> str:
    import pyarrow as pa

    if field.metadata and field.metadata.get(b"swegc.encoding") == b"json":
        return "string (JSON)"
    if pa.types.is_list(field.type):
        return "list of strings"
    return str(field.type)


def rewrite_split(out_dir: Path, split: str, rows: list[dict[str, Any]]) -> Path:
    """Writes ``rows`` over the shard of ``split`` with its columns as they are (same names,
    order and types): new values for existing columns, so the card stays true and is kept."""
    import pyarrow.parquet as pq

    path = shard_path(out_dir, split)
    schema = pq.read_schema(path)
    json_columns = frozenset(f.name for f in schema if (f.metadata or {}).get(b"swegc.encoding") == b"json")
    table = _table(sorted(rows, key=lambda r: str(r.get("instance_id", ""))), list(schema.names),
                   json_columns | JSON_COLUMNS)
    atomic_write(path, lambda tmp: pq.write_table(
        table, tmp, compression="zstd", write_statistics=False, use_dictionary=False,
        row_group_size=max(1, len(rows)), write_page_index=False))
    return path


def read_dataset(out_dir: Path, split: str = "train") -> list[dict[str, Any]]:
    """The rows of ``split`` as written, JSON columns decoded back into objects."""
    import pyarrow.parquet as pq

    path = shard_path(out_dir, split)
    if not path.exists():
        raise InputError(f"{path}: no such dataset shard; write it with swegc compile")
    return _decoded_rows(pq.read_table(path), path)


def _decoded_rows(table: Any, path: Path) -> list[dict[str, Any]]:
    """A table's rows with the columns swegc marked as JSON decoded back into objects."""
    json_columns = [f.name for f in table.schema
                    if f.metadata and f.metadata.get(b"swegc.encoding") == b"json"]
    rows = table.to_pylist()
    for index, row in enumerate(rows):
        for column in json_columns:
            if row[column] is not None:
                try:
                    row[column] = loads(row[column])
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}#row{index}: column {column!r} is not valid JSON "
                                     f"({exc.msg}); rewrite the file with swegc compile") from None
    return rows


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Writes one JSON object per line, keys sorted, UTF-8 kept as is: the same rows, the same bytes."""
    text = "".join(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n" for row in rows)
    path = Path(path)
    atomic_write(path, lambda tmp: Path(tmp).write_text(text, encoding="utf-8"))
    return path


def load_rows(dataset: str | Path, split: str | None = None) -> dict[str, dict[str, Any]]:
    """Instance rows by id from a build or Hub-layout folder (``split``, or every split in
    ``data/``), a Parquet file or a JSONL file of rows; JSON columns written by swegc decoded.

    This is how every command that takes a DATASET reads it (evaluate, rollout, publish), so
    that they accept the same things and say the same when something is wrong.
    """
    return {iid: row for iid, (_, row) in _located_rows(dataset, split).items()}


def load_instances(dataset: str | Path, split: str | None = None,
                   require: tuple[str, ...] = ()) -> dict[str, Instance]:
    """``load_rows``'s rows read as ``Instance`` values (``Instance.from_row``: older schema
    versions and JSON-string columns read too); a bad row is an error that names its place."""
    return {iid: Instance.from_row(row, where, require)
            for iid, (where, row) in _located_rows(dataset, split).items()}


def _located_rows(dataset: str | Path,
                  split: str | None) -> dict[str, tuple[str, dict[str, Any]]]:
    """Each row by instance id, with where it was read (a file and line, or a split)."""
    import pyarrow.parquet as pq

    path = Path(dataset)
    found: list[tuple[str, dict[str, Any]]]
    if path.is_file() and path.suffix == ".parquet":
        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for unreadable files
            raise InputError(f"{path}: cannot read parquet: {exc}") from None
        found = [(f"{path}#row{index}", row) for index, row in enumerate(_decoded_rows(table, path))]
    elif path.is_file():
        found = read_jsonl(str(path), "dataset row")
    elif (path / "data").is_dir():
        splits = [split] if split else sorted(
            {p.name.split("-00000-of-")[0] for p in (path / "data").glob("*-00000-of-00001.parquet")})
        if not splits:
            raise InputError(f"{path}/data: no Parquet shard; is this a swegc build folder?")
        found = [(f"{path} ({name})", row) for name in splits for row in read_dataset(path, name)]
    elif not path.exists():
        raise InputError(f"{path}: no such dataset; give a build folder (swegc compile --out), "
                         "a Hub-layout folder, or a .jsonl or .parquet file of instance rows")
    else:
        raise InputError(f"{path}: not a dataset; give a build folder, a folder in Hub layout "
                         "(data/*.parquet), or a .jsonl or .parquet file of rows")
    rows: dict[str, tuple[str, dict[str, Any]]] = {}
    for where, row in found:
        iid = row.get("instance_id")
        if not isinstance(iid, str) or not iid:
            raise InputError(f"{where}: a row has no instance_id")
        if iid in rows:
            raise InputError(f"{where}: instance {iid} appears twice in the dataset")
        rows[iid] = (where, row)
    return rows
