"""``swegc publish`` of a build: images to a real registry by digest, the dataset to the Hub.

The registry is Debian's ``docker-registry`` on 127.0.0.1 (tests/registry_fixtures.py); the Hub is
the stand-in, read back with the real ``datasets`` and ``huggingface_hub`` clients in
subprocesses (they read ``HF_ENDPOINT`` at import).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from swegc.testing.hub_standin import HubStandin
from tests.registry_fixtures import registry_binary, running_registry

TOKEN = "hf_" + "t0k3n" * 7
SWEGC = [sys.executable, "-m", "swegc.cli"]
IMAGE_COLUMNS = ("image", "image_id", "image_name", "docker_image")

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def registry(tmp_path_factory, docker_engine):
    if registry_binary() is None:
        pytest.skip("docker-registry is not installed (apt-get install docker-registry; .ci/setup does)")
    with running_registry(tmp_path_factory.mktemp("registry")) as host:
        yield host


def publish(hub: HubStandin, home: Path, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SWEGC, "publish", str(folder), *args], env=hub.client_env(home),
                          capture_output=True, text=True, check=False, timeout=900)


def load_rows(hub: HubStandin, home: Path, repo: str, revision: str = "main") -> list[dict[str, Any]]:
    code = ("import json, datasets\n"
            f"ds = datasets.load_dataset({repo!r}, split='train', revision={revision!r})\n"
            "print(json.dumps(ds.to_list()))\n")
    result = subprocess.run([sys.executable, "-c", code], env=hub.client_env(home), capture_output=True,
                            text=True, check=False, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def edited_build(source: Path, target: Path, edit: Callable[[list[dict[str, Any]]], None]) -> Path:
    """A copy of a build whose rows ``edit`` changed (reports and locks kept)."""
    from swegc.dataset import read_dataset, write_dataset

    shutil.copytree(source, target, ignore=shutil.ignore_patterns("store.sqlite*", "logs"))
    rows = read_dataset(target)
    edit(rows)
    names = pq.read_schema(target / "data" / "train-00000-of-00001.parquet").names
    write_dataset(target, rows, split="train", pretty_name="calc", description="edited", features_order=names)
    return target


def catalog(host: str) -> list[str]:
    with urllib.request.urlopen(f"http://{host}/v2/_catalog") as response:
        return json.loads(response.read())["repositories"]


def test_a_published_build_loads_back_with_the_same_rows_and_images_pinned_by_digest(
        tmp_path, example_build, registry):
    from swegc.dataset import read_dataset
    from swegc.images.registry import Registry, manifest_digest, split_reference

    built = {r["instance_id"]: r for r in read_dataset(example_build)}
    with HubStandin(token=TOKEN) as hub:
        result = publish(hub, tmp_path / "home", example_build, "--repo", "acme/calc",
                         "--registry", f"{registry}/acme")
        assert result.returncode == 0, result.stderr[-3000:]
        published = {r["instance_id"]: r for r in load_rows(hub, tmp_path / "home", "acme/calc", "v1")}
        repo = hub.repo("acme/calc")
        assert repo is not None and set(repo.tags) == {"v1"}
        files = {path: file.data for path, file in repo.files.items()}
    assert published.keys() == built.keys()
    for iid, row in published.items():
        pinned = row["image"]
        assert re.fullmatch(rf"{re.escape(registry)}/acme/swegc-test-inst/{re.escape(iid)}@sha256:[0-9a-f]{{64}}", pinned)
        host, repository, digest = split_reference(pinned)
        assert manifest_digest(Registry.parse(f"{host}/acme"), repository, digest) == digest
        for column in ("image", "image_name", "docker_image"):
            assert row[column] == pinned, column
        # the id stays an id (the manifest's config digest), the tag stays the local tag
        assert (row["image_id"], row["image_tag"]) == (built[iid]["image_id"], built[iid]["image_tag"])
        assert row["image_id"].startswith("sha256:")
        for column, value in row.items():  # JSON columns (validation, test_env, ...) decoded
            if isinstance(value, str) and isinstance(built[iid].get(column), (dict, list)):
                row[column] = json.loads(value)
        assert {k: v for k, v in row.items() if k not in IMAGE_COLUMNS} == \
            {k: v for k, v in built[iid].items() if k not in IMAGE_COLUMNS}
    card = files["README.md"].decode()
    for section in ("## Load and run", "mini-extra swebench", "swebench.harness.run_evaluation",
                    "## Repositories", "## Validation", "## Images", "## Provenance", "## Changelog"):
        assert section in card
    assert "First release." in card and "`no_fail_to_pass` | 1" in card
    assert any(path.startswith("locks/") for path in files)
    # The token is in no output, no card, no row.
    assert TOKEN not in result.stdout + result.stderr
    assert all(TOKEN.encode() not in data for data in files.values())


def test_published_images_are_pulled_by_the_names_openhands_and_swebench_derive_from_the_id(
        tmp_path, example_build, registry, docker_engine):
    from swegc.dataset import read_dataset

    prefix = f"{registry}/derived"
    with HubStandin(token=TOKEN) as hub:
        result = publish(hub, tmp_path / "home", example_build, "--repo", "acme/derived", "--registry", prefix)
        assert result.returncode == 0, result.stderr[-3000:]
        rows = load_rows(hub, tmp_path / "home", "acme/derived", "v1")
        card = hub.repo("acme/derived").files["README.md"].data.decode()
    assert f"EVAL_DOCKER_IMAGE_PREFIX={prefix}" in card and f"namespace `{prefix}`" in card
    assert rows and read_dataset(example_build)
    for row in rows:
        iid = row["instance_id"]
        assert "__" in iid
        owner, rest = iid.split("__", 1)
        digest = row["image"].partition("@")[2]
        for name in (f"{prefix}/sweb.eval.x86_64.{owner}_s_{rest}".lower(),          # OpenHands
                     f"{prefix}/sweb.eval.x86_64.{owner}_1776_{rest}".lower()):      # SWE-bench
            pulled = docker_engine.images.pull(name, tag="latest")
            try:
                assert f"{name}@{digest}" in pulled.attrs["RepoDigests"], (name, pulled.attrs["RepoDigests"])
                assert pulled.id == row["image_id"]  # the very image the row was validated in
            finally:
                docker_engine.images.remove(f"{name}:latest", noprune=True)  # only the tag this test added


def test_publishing_again_with_one_instance_changed_names_exactly_that_change(tmp_path, example_build, registry):
    changed = edited_build(example_build, tmp_path / "changed", lambda rows: rows[-1].update(
        problem_statement=rows[-1]["problem_statement"] + "\nAlso: the window must include the last item.\n"))
    from swegc.dataset import read_dataset

    changed_id = read_dataset(changed)[-1]["instance_id"]
    with HubStandin(token=TOKEN) as hub:
        home = tmp_path / "home"
        first = publish(hub, home, example_build, "--repo", "acme/calc", "--registry", f"{registry}/acme")
        assert first.returncode == 0, first.stderr[-3000:]
        second = publish(hub, home, changed, "--repo", "acme/calc", "--registry", f"{registry}/acme")
        assert second.returncode == 0, second.stderr[-3000:]
        repo = hub.repo("acme/calc")
        card = repo.files["README.md"].data.decode()
        rows = {r["instance_id"]: r for r in load_rows(hub, home, "acme/calc", "v2")}
        assert set(repo.tags) == {"v1", "v2"}
    # The registry already held every image: nothing was sent again.
    assert re.search(r"images: 0 pushed \(0\.0 MB of layers sent\), 5 already in", second.stdout)
    changelog = card.split("## Changelog", 1)[1]
    assert "0 added, 0 removed, 1 changed, 2 unchanged" in changelog
    assert f"- `{changed_id}`: `problem_statement`" in changelog
    assert changelog.count("- `") == 1
    assert rows[changed_id]["problem_statement"].endswith("must include the last item.\n")


def test_a_failing_check_refuses_lists_every_problem_and_sends_nothing(tmp_path, example_build, registry):
    secret = "hf_" + "z9" * 15

    def spoil(rows: list[dict[str, Any]]) -> None:
        rows[0]["FAIL_TO_PASS"] = []
        rows[1]["problem_statement"] += f"\nmy token is {secret}\n"
        rows[2]["image_id"] = "sha256:" + "0" * 64

    spoiled = edited_build(example_build, tmp_path / "spoiled", spoil)
    ids = [r["instance_id"] for r in __import__("swegc.dataset", fromlist=["x"]).read_dataset(spoiled)]
    before = catalog(registry)
    with HubStandin(token=TOKEN) as hub:
        result = publish(hub, tmp_path / "home", spoiled, "--repo", "acme/spoiled",
                         "--registry", f"{registry}/refused")
        assert [r for r in hub.requests if r.method in ("POST", "PUT", "DELETE")] == []
        assert hub.repo("acme/spoiled") is None
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "3 problems; nothing was published" in result.stderr
    assert f"train:{ids[0]}: FAIL_TO_PASS is empty" in result.stderr
    assert f"train:{ids[1]}: column problem_statement holds a token shaped like hf_z..." in result.stderr
    assert f"train:{ids[2]}: image " in result.stderr and "is not in the local Docker engine" in result.stderr
    assert secret not in result.stderr + result.stdout
    assert catalog(registry) == before


def test_an_image_pushed_by_digest_is_found_and_runs_after_its_local_copy_is_deleted(tmp_path, docker_engine, registry):
    from swegc.docker_client import pull_by_digest
    from swegc.images.registry import Registry, push_image

    marker = uuid.uuid4().hex
    container = docker_engine.containers.run("swegc-base:bookworm", ["sh", "-c", f"echo {marker} > /marker"],
                                             detach=True)
    container.wait()
    image = container.commit(repository="swegc-test/registry-probe", tag=marker[:12])
    container.remove()
    pushed = push_image(docker_engine, image.id, Registry.parse(f"{registry}/probe"),
                        "swegc-test/registry-probe", marker[:12])
    assert pushed.reference.startswith(f"{registry}/probe/swegc-test/registry-probe@sha256:")
    assert pushed.layers_pushed == 1 and pushed.layers_existing == 1 and not pushed.skipped
    again = push_image(docker_engine, image.id, Registry.parse(f"{registry}/probe"),
                       "swegc-test/registry-probe", marker[:12])
    assert again.skipped and again.bytes_pushed == 0 and again.reference == pushed.reference
    docker_engine.images.remove(image.id, force=True)
    with pytest.raises(Exception):
        docker_engine.images.get(image.id)
    # A build whose local image is gone can still be published: the registry has that very image.
    from swegc.hub.images import BuildImage, local_problem
    from swegc.images.reference import ImageRef
    from swegc.images.registry import registry_copy

    probe = BuildImage("instance", "swegc-test/registry-probe", marker[:12], image.id, ("o__r-1",),
                       ImageRef(f"swegc-test/registry-probe:{marker[:12]}", image.id))
    assert registry_copy(Registry.parse(f"{registry}/probe"), probe.name, probe.tag, image.id)[0] == pushed.reference
    assert local_problem(docker_engine, probe, Registry.parse(f"{registry}/probe")) is None
    assert "is not in the local Docker engine or the registry" in local_problem(
        docker_engine, probe, Registry.parse(f"{registry}/elsewhere"))
    pulled = pull_by_digest(docker_engine, pushed.reference)
    try:
        output = docker_engine.containers.run(pushed.reference, ["cat", "/marker"], remove=True)
        assert output.decode().strip() == marker
        assert pulled.id == image.id
    finally:
        docker_engine.images.remove(pulled.id, force=True)


def test_a_folder_that_is_no_build_runs_or_checkpoint_is_a_clear_error(tmp_path):
    (tmp_path / "something").mkdir()
    (tmp_path / "something" / "notes.txt").write_text("hello")
    with HubStandin(token=TOKEN) as hub:
        result = publish(hub, tmp_path / "home", tmp_path / "something", "--repo", "acme/x")
        assert hub.requests == []
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "not a folder swegc can publish" in result.stderr
    assert "swegc compile --out" in result.stderr and "swegc rollout --out" in result.stderr


def test_registry_credentials_are_used_and_never_shown(tmp_path, example_build, docker_engine):
    from tests.registry_fixtures import htpasswd_line

    if registry_binary() is None or htpasswd_line("u", "p") is None:
        pytest.skip("needs docker-registry and a crypt module with bcrypt")
    password = "reg-" + uuid.uuid4().hex
    with running_registry(tmp_path / "registry", auth=("publisher", password)) as host, \
            HubStandin(token=TOKEN) as hub:
        env_home = tmp_path / "home"
        wrong = subprocess.run([*SWEGC, "publish", str(example_build), "--repo", "acme/calc",
                                "--registry", f"{host}/acme"],
                               env=hub.client_env(env_home) | {"SWEGC_REGISTRY_USERNAME": "publisher",
                                                               "SWEGC_REGISTRY_PASSWORD": "not-" + password},
                               capture_output=True, text=True, check=False, timeout=900)
        assert wrong.returncode == 1 and "Traceback" not in wrong.stderr
        assert "SWEGC_REGISTRY_PASSWORD" in wrong.stderr and "not-" + password not in wrong.stderr
        assert hub.repo("acme/calc") is None
        right = subprocess.run([*SWEGC, "publish", str(example_build), "--repo", "acme/calc",
                                "--registry", f"{host}/acme"],
                               env=hub.client_env(env_home) | {"SWEGC_REGISTRY_USERNAME": "publisher",
                                                               "SWEGC_REGISTRY_PASSWORD": password},
                               capture_output=True, text=True, check=False, timeout=900)
        assert right.returncode == 0, right.stderr[-3000:]
        files = hub.repo("acme/calc").files
    assert password not in right.stdout + right.stderr
    assert all(password.encode() not in f.data and TOKEN.encode() not in f.data for f in files.values())


def test_a_dry_run_checks_and_stages_but_pushes_and_commits_nothing(tmp_path, example_build, registry):
    before = catalog(registry)
    with HubStandin(token=TOKEN) as hub:
        result = publish(hub, tmp_path / "home", example_build, "--repo", "acme/dry",
                         "--registry", f"{registry}/dry", "--dry-run")
        assert result.returncode == 0, result.stderr[-3000:]
        assert [r for r in hub.requests if r.method in ("POST", "PUT", "DELETE")] == []
    assert catalog(registry) == before
    staged = Path(re.search(r"would be committed are in (\S+)", result.stdout).group(1))
    try:
        assert (staged / "data" / "train-00000-of-00001.parquet").is_file()
        card = (staged / "README.md").read_text()
        assert "First release." in card and "not pushed to a registry" in card
    finally:
        shutil.rmtree(staged)


def test_without_a_hub_token_nothing_is_pushed_or_committed(tmp_path, example_build, registry):
    before = catalog(registry)
    with HubStandin(token=TOKEN) as hub:
        env = {k: v for k, v in hub.client_env(tmp_path / "home").items() if k != "HF_TOKEN"}
        result = subprocess.run([*SWEGC, "publish", str(example_build), "--repo", "acme/calc",
                                 "--registry", f"{registry}/notoken"], env=env, capture_output=True,
                                text=True, check=False, timeout=900)
        assert [r for r in hub.requests if r.method in ("POST", "PUT", "DELETE")] == []
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "no Hugging Face token: set HF_TOKEN" in result.stderr and "nothing was published" in result.stderr
    assert catalog(registry) == before


def test_a_digest_the_registry_does_not_serve_is_an_image_gone_with_what_to_do(docker_engine,
                                                                              registry):
    from swegc.docker_client import ensure_runnable
    from swegc.errors import ImageGoneError

    with pytest.raises(ImageGoneError) as gone:
        ensure_runnable(f"{registry}/probe/swegc-test/never@sha256:{'0' * 64}")
    assert "the registry does not serve it" in str(gone.value)
    assert "set SWEGC_REGISTRY_USERNAME and SWEGC_REGISTRY_PASSWORD" in gone.value.how
