"""Published instances read from the Hub (``source.instances: hub:org/name[:split]``).

The Hub cannot be reached from test machines, so ``HubStandin`` serves dataset repositories from
local folders over the Hub's own HTTP protocol; the real ``datasets`` and ``huggingface_hub``
clients talk to it. They read ``HF_ENDPOINT`` when imported, so every client here runs in a
subprocess started with the stand-in's environment (which also keeps the user's cache untouched).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from swegc.testing.hub_standin import HubStandin

ROOT = Path(__file__).resolve().parents[1]
SWEGC = [sys.executable, "-m", "swegc.cli"]
CARD = """---
configs:
- config_name: default
  data_files:
  - split: test
    path: data/test-*
---
# {name}

Task instances in SWE-bench format.
"""
COLUMNS = ("instance_id", "repo", "base_commit", "patch", "test_patch", "problem_statement",
           "hints_text", "created_at", "version", "environment_setup_commit")


def publish_folder(folder: Path, name: str, rows: list[dict[str, Any]], shards: int = 1) -> Path:
    """A dataset repository in Hub layout: a card with ``configs`` and parquet shards."""
    (folder / "data").mkdir(parents=True)
    (folder / "README.md").write_text(CARD.format(name=name))
    size = -(-len(rows) // shards)
    for shard in range(shards):
        part = rows[shard * size:(shard + 1) * size]
        table = pa.table({column: [str(r[column]) for r in part] for column in rows[0]})
        pq.write_table(table, folder / "data" / f"test-{shard:05d}-of-{shards:05d}.parquet")
    return folder


def swe_bench_row(number: int) -> dict[str, Any]:
    """A hand-made row as SWE-bench publishes them: test lists are JSON strings."""
    return {"instance_id": f"example__calc-{number}", "repo": "example/calc",
            "base_commit": f"{number:040x}", "patch": "diff --git a/x b/x\n",
            "test_patch": "diff --git a/t b/t\n", "problem_statement": f"issue {number}",
            "hints_text": "", "created_at": "2024-01-01T00:00:00Z", "version": "0.1",
            "environment_setup_commit": f"{number:040x}",
            "FAIL_TO_PASS": json.dumps([f"tests/test_x.py::test_{number}"]), "PASS_TO_PASS": "[]"}


def load_in_client(hub: HubStandin, home: Path, name: str, split: str = "test") -> subprocess.CompletedProcess[str]:
    """``load_dataset(name, split=split)`` in a fresh process pointed at the stand-in."""
    code = ("import json, sys, datasets\n"
            f"rows = datasets.load_dataset({name!r}, split={split!r}).to_list()\n"
            "print(json.dumps(rows))\n")
    return subprocess.run([sys.executable, "-c", code], env=hub.client_env(home),
                          capture_output=True, text=True, check=False, timeout=300)


def calc_spec(folder: Path, instances: str) -> tuple[Path, int]:
    """The example spec reading its instances from ``instances``; returns it and that line."""
    spec_text = (ROOT / "examples" / "specs" / "calc.yaml").read_text()
    spec_text = spec_text.replace("clone: ../calc.bundle", f"clone: {ROOT / 'examples' / 'calc.bundle'}")
    spec_text = spec_text.replace("jsonl: ../candidates.jsonl", f"instances: {instances}")
    folder.mkdir()
    (folder / "calc.yaml").write_text(spec_text)
    line = next(i for i, text in enumerate(spec_text.splitlines(), 1) if "instances: hub:" in text)
    return folder / "calc.yaml", line


def test_load_dataset_reads_a_published_dataset_from_the_standin_page_by_page(tmp_path):
    rows = [swe_bench_row(n) for n in (2, 3, 5, 8, 13, 21)]
    folder = publish_folder(tmp_path / "published", "calc-published", rows, shards=3)
    with HubStandin({"acme/calc-published": folder}, page_size=2) as hub:
        result = load_in_client(hub, tmp_path / "home", "acme/calc-published")
        assert result.returncode == 0, result.stderr[-3000:]
        assert json.loads(result.stdout.splitlines()[-1]) == rows
        # The card and the shards went through resolve; shards (LFS) were fetched from the "CDN".
        assert hub.seen("GET", contains="/resolve/main/README.md")
        assert len(hub.seen("GET", server="cdn")) == 3
        assert [r for r in hub.seen("HEAD", contains=".parquet") if r.status == 302]
        # The data folder needed two pages of the tree listing.
        assert any("cursor=" in r.query for r in hub.seen("GET", contains="/tree/"))
        # The only misses are the files datasets probes for (a script, extra YAML, old infos).
        assert {r.path.rpartition("/")[2] for r in hub.requests if r.status == 404} <= {
            "calc-published.py", ".huggingface.yaml", "dataset_infos.json"}
    # The user's own cache was never touched: everything is under the test's home.
    assert list((tmp_path / "home" / "hf" / "hub").glob("datasets--acme--calc-published"))


def test_a_private_dataset_needs_the_token_and_is_otherwise_not_found(tmp_path):
    folder = publish_folder(tmp_path / "published", "private", [swe_bench_row(2)])
    token = "hf_" + "a1" * 17
    with HubStandin({"acme/private": folder}, private=["acme/private"], token=token) as hub:
        assert load_in_client(hub, tmp_path / "with", "acme/private").returncode == 0
        hub.token = None  # the same client now comes without a token
        result = load_in_client(hub, tmp_path / "without", "acme/private")
    assert result.returncode != 0
    assert "DatasetNotFoundError" in result.stderr


@pytest.mark.docker
def test_a_missing_hub_dataset_is_an_error_at_the_spec_line_without_a_traceback(tmp_path, docker_engine):
    spec, line = calc_spec(tmp_path / "specs", "hub:acme/does-not-exist:test")
    token = "hf_" + "b2" * 17  # a token is sent (the Hub then says 404, not 401) and never shown
    with HubStandin({}) as hub:
        env = hub.client_env(tmp_path / "home") | {"HF_TOKEN": token}
        result = subprocess.run([*SWEGC, "compile", str(spec.parent), "--out", str(tmp_path / "out")],
                                env=env, capture_output=True, text=True,
                                check=False, timeout=300)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    error = result.stderr
    assert error.startswith("error: ")
    assert f"{spec}:{line}:" in error
    assert "'acme/does-not-exist'" in error
    assert "HF_TOKEN" in error and "HF_ENDPOINT" in error
    assert token not in error
    assert [r.status for r in hub.seen(contains="/datasets/acme/does-not-exist/")] == [404]


@pytest.mark.docker
def test_a_missing_split_is_an_error_that_names_the_splits_there_are(tmp_path, docker_engine):
    folder = publish_folder(tmp_path / "published", "calc-published", [swe_bench_row(2)])
    spec, line = calc_spec(tmp_path / "specs", "hub:acme/calc-published:train")
    with HubStandin({"acme/calc-published": folder}) as hub:
        result = subprocess.run([*SWEGC, "compile", str(spec.parent), "--out", str(tmp_path / "out")],
                                env=hub.client_env(tmp_path / "home"), capture_output=True, text=True,
                                check=False, timeout=300)
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert f"{spec}:{line}:" in result.stderr
    assert re.search(r"Unknown split \"train\".*'test'", result.stderr)
    assert "hub:acme/calc-published:<split>" in result.stderr


@pytest.mark.docker
def test_instances_published_on_the_hub_are_rebuilt_and_said_to_agree(tmp_path, docker_engine):
    first = tmp_path / "first"
    result = subprocess.run([*SWEGC, "compile", str(ROOT / "examples" / "specs"), "--out", str(first)],
                            capture_output=True, text=True, check=False, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    from swegc.dataset import read_dataset

    built = {r["instance_id"]: r for r in read_dataset(first)}
    # A SWE-bench-style export: JSON-encoded test lists, as SWE-bench itself publishes them.
    published = [{k: built[iid][k] for k in COLUMNS}
                 | {"FAIL_TO_PASS": json.dumps(built[iid]["FAIL_TO_PASS"]),
                    "PASS_TO_PASS": json.dumps(built[iid]["PASS_TO_PASS"])}
                 for iid in ("example__calc-2", "example__calc-8")]
    folder = publish_folder(tmp_path / "published", "calc-published", published)
    spec, _ = calc_spec(tmp_path / "specs", "hub:acme/calc-published:test")

    out = tmp_path / "rebuilt"
    with HubStandin({"acme/calc-published": folder}) as hub:
        result = subprocess.run([*SWEGC, "compile", str(spec.parent), "--out", str(out)],
                                env=hub.client_env(tmp_path / "home"), capture_output=True, text=True,
                                check=False, timeout=1200)
        assert result.returncode == 0, result.stderr[-3000:]
        assert hub.seen("GET", contains="/datasets/acme/calc-published/resolve/")
        assert hub.seen("GET", server="cdn")
    reports = {json.loads(line)["instance_id"]: json.loads(line)
               for line in (out / "reports" / "instances.jsonl").read_text().splitlines()}
    assert reports["example__calc-2"]["published"]["agreement"] == "same"
    assert reports["example__calc-8"]["published"]["agreement"] == "same"
    rebuilt = {r["instance_id"]: r for r in read_dataset(out)}
    assert rebuilt["example__calc-8"]["patch"] == built["example__calc-8"]["patch"]
