"""The build folder's layout: one name per file for every command, and the compile manifest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swegc.build_layout import (MANIFEST_SCHEMA_VERSION, BuildLayout, ImageEntry, Manifest,
                                SpecEntry, read_manifest, write_manifest)
from swegc.errors import InputError
from swegc.testing.github_standin import GithubStandin, Sample, make_sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    return make_sample(tmp_path_factory.mktemp("gh") / "widgets")


def test_mine_and_compile_write_a_mixed_case_repositorys_candidates_to_one_file(
        sample: Sample, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from swegc.cli import cli
    from swegc.compiler.pipeline import CompileOptions, Compiler

    with GithubStandin("Acme/Widgets", sample.git_dir, sample.pulls, sample.issues) as gh:
        result = CliRunner().invoke(cli, ["mine", "--repo", "Acme/Widgets", "--api-url",
                                          gh.base_url, "--clone", str(sample.git_dir),
                                          "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    written = sorted(str(p.relative_to(tmp_path)) for p in (tmp_path / "candidates").iterdir())
    assert written == ["candidates/acme__widgets.jsonl", "candidates/acme__widgets.rejected.jsonl"]
    compiler = Compiler(CompileOptions(out=tmp_path))
    assert compiler.outputs.candidates("Acme/Widgets") == tmp_path / written[0]


def test_a_partial_compile_keeps_its_outputs_apart_but_shares_the_store_and_logs(tmp_path: Path) -> None:
    layout = BuildLayout(tmp_path)
    partial = layout.partial
    assert partial.shard("train") == tmp_path / "partial/data/train-00000-of-00001.parquet"
    assert partial.instances_report == tmp_path / "partial/reports/instances.jsonl"
    assert layout.store == tmp_path / "store.sqlite"
    assert layout.instance_logs("a__b-1") == tmp_path / "logs/a__b-1"
    assert layout.lock("abc") == tmp_path / "locks/abc.txt"


def test_a_manifest_is_written_whole_with_its_schema_version_and_read_back(tmp_path: Path) -> None:
    layout = BuildLayout(tmp_path / "build")
    manifest = Manifest(swegc_version="0.1.0", specs=(SpecEntry("specs/a.yaml", "abc123"),),
                        images={"a__b-2": ImageEntry("swegc-inst/a__b-2:k", "sha256:2"),
                                "a__b-1": ImageEntry("swegc-inst/a__b-1:k", "sha256:1")},
                        counts={"valid": 2, "rejected": 1, "rows": 2, "envs": 1})
    path = write_manifest(layout, manifest)
    assert path == tmp_path / "build" / "manifest.json"
    assert [p.name for p in path.parent.iterdir()] == ["manifest.json"]  # no temporary left
    data = json.loads(path.read_text())
    assert data["schema_version"] == MANIFEST_SCHEMA_VERSION
    assert list(data["images"]) == ["a__b-1", "a__b-2"]
    assert read_manifest(layout) == manifest
    first = path.read_bytes()
    write_manifest(layout, manifest)
    assert path.read_bytes() == first


def test_a_missing_or_damaged_manifest_is_a_clear_error(tmp_path: Path) -> None:
    layout = BuildLayout(tmp_path)
    with pytest.raises(InputError, match="no manifest"):
        read_manifest(layout)
    layout.manifest.write_text("{}")
    with pytest.raises(InputError, match="not a swegc manifest"):
        read_manifest(layout)
