"""The Hub stand-in's upload side, driven by the real huggingface_hub and datasets clients.

Clients read ``HF_ENDPOINT`` when imported, so each runs in a subprocess with the stand-in's
environment (which also keeps the user's own cache and token out of the test).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from swegc.testing.hub_standin import HubStandin
from tests.registry_fixtures import free_port

TOKEN = "hf_" + "u5" * 17
CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
---
# demo
"""


def dataset_folder(folder: Path, rows: list[dict[str, str]]) -> Path:
    (folder / "data").mkdir(parents=True, exist_ok=True)
    (folder / "README.md").write_text(CARD)
    pq.write_table(pa.Table.from_pylist(rows), folder / "data" / "train-00000-of-00001.parquet")
    return folder


def client(hub_env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], env=hub_env, capture_output=True, text=True,
                          check=False, timeout=300)


UPLOAD = """
import json, sys
from huggingface_hub import HfApi
api = HfApi()
api.create_repo("acme/demo", repo_type="dataset", private={private}, exist_ok=True)
info = api.upload_folder(folder_path={folder!r}, repo_id="acme/demo", repo_type="dataset",
                         commit_message={message!r})
api.create_tag("acme/demo", tag={tag!r}, repo_type="dataset", revision=info.oid)
refs = api.list_repo_refs("acme/demo", repo_type="dataset")
commits = api.list_repo_commits("acme/demo", repo_type="dataset")
print(json.dumps({{"oid": info.oid, "tags": {{t.name: t.target_commit for t in refs.tags}},
                  "titles": [c.title for c in commits]}}))
"""


def upload(env: dict[str, str], folder: Path, message: str, tag: str, private: bool = False) -> dict:
    result = client(env, UPLOAD.format(folder=str(folder), message=message, tag=tag, private=private))
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def load(env: dict[str, str], revision: str = "main") -> list[dict]:
    result = client(env, "import json, datasets\n"
                         f"print(json.dumps(datasets.load_dataset('acme/demo', split='train', revision={revision!r}).to_list()))")
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.splitlines()[-1])


def test_huggingface_hub_uploads_commits_and_tags_and_datasets_reads_each_tag_back(tmp_path):
    first = [{"instance_id": "a", "text": "one"}]
    second = [{"instance_id": "a", "text": "one"}, {"instance_id": "b", "text": "two"}]
    with HubStandin(token=TOKEN) as hub:
        env = hub.client_env(tmp_path / "home")
        one = upload(env, dataset_folder(tmp_path / "one", first), "first", "v1")
        # The same content again sends no LFS bytes: the client asks preupload and the batch API first.
        puts = len(hub.seen("PUT", server="cdn"))
        two = upload(env, dataset_folder(tmp_path / "two", second), "second", "v2")
        assert len(hub.seen("PUT", server="cdn")) == puts + 1
        assert two["tags"] == {"v1": one["oid"], "v2": two["oid"]}
        assert two["titles"] == ["second", "first", "initial commit"]
        assert load(env, "v1") == first
        assert load(env) == second
        # Every write carried the token; the LFS upload went to the CDN port as on the Hub.
        writes = [r for r in hub.requests if r.server == "hub" and r.method == "POST"
                  and "validate-yaml" not in r.path and "paths-info" not in r.path]
        assert writes and all(r.authorized for r in writes)
        assert hub.seen("POST", contains=".git/info/lfs/objects/batch")


def test_writes_without_a_token_are_refused_and_change_nothing(tmp_path):
    with HubStandin(token=TOKEN) as hub:
        env = hub.client_env(tmp_path / "home")
        env.pop("HF_TOKEN")
        result = client(env, "from huggingface_hub import HfApi\n"
                             "HfApi().create_repo('acme/demo', repo_type='dataset')")
        assert result.returncode != 0
        assert "401" in result.stderr
        assert hub.repo("acme/demo") is None
        wrong = env | {"HF_TOKEN": "hf_" + "w0" * 17}
        assert client(wrong, "from huggingface_hub import HfApi\n"
                             "HfApi().create_repo('acme/demo', repo_type='dataset')").returncode != 0
        assert [r.status for r in hub.seen("POST", contains="/api/repos/create")] == [401, 401]


def test_a_private_repository_created_by_upload_is_invisible_without_the_token(tmp_path):
    with HubStandin(token=TOKEN) as hub:
        env = hub.client_env(tmp_path / "home")
        upload(env, dataset_folder(tmp_path / "one", [{"instance_id": "a"}]), "first", "v1", private=True)
        assert hub.repo("acme/demo").private
        anonymous = {k: v for k, v in env.items() if k != "HF_TOKEN"}
        result = client(anonymous, "import datasets\ndatasets.load_dataset('acme/demo', split='train')")
        assert result.returncode != 0 and "DatasetNotFoundError" in result.stderr


def interrupt(process: subprocess.Popen[str]) -> None:
    """Ctrl-C the stand-in; one that does not stop prints its threads' stacks (stderr) first."""
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGUSR1)
        time.sleep(2)
        process.kill()
        raise AssertionError("the stand-in did not stop within 30 s of Ctrl-C (its stacks are in "
                             "the captured stderr)") from None
    assert process.returncode == 0


def test_the_standin_runs_as_a_process_and_keeps_what_was_pushed_across_restarts(tmp_path):
    port = free_port()
    root = tmp_path / "root"

    def start() -> subprocess.Popen[str]:
        process = subprocess.Popen([sys.executable, "-m", "swegc.testing.hub_standin", "--port", str(port),
                                    "--root", str(root)], stdout=subprocess.PIPE, text=True)
        assert process.stdout is not None
        assert f"http://127.0.0.1:{port}" in process.stdout.readline()
        return process

    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env |= {"HF_ENDPOINT": f"http://127.0.0.1:{port}", "HF_HUB_DISABLE_XET": "1", "HF_TOKEN": TOKEN,
            "HF_HOME": str(tmp_path / "hf"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    process = start()
    try:
        upload(env, dataset_folder(tmp_path / "one", [{"instance_id": "a", "text": "kept"}]), "first", "v1")
    finally:
        interrupt(process)
    assert (root / "state.json").is_file()
    time.sleep(0.2)
    process = start()
    try:
        fresh = env | {"HF_HOME": str(tmp_path / "hf2")}  # nothing from the first process's cache
        assert load(fresh, "v1") == [{"instance_id": "a", "text": "kept"}]
    finally:
        interrupt(process)


def test_branches_and_tags_are_created_listed_and_deleted_and_names_cannot_be_taken_twice(tmp_path):
    code = """
import json
from huggingface_hub import HfApi
from huggingface_hub.errors import HfHubHTTPError
api = HfApi()
api.create_repo("acme/model", exist_ok=True)
info = api.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id="acme/model",
                       commit_message="config")
api.create_tag("acme/model", tag="v1", revision=info.oid)
api.create_branch("acme/model", branch="release", revision="v1")
try:
    api.create_tag("acme/model", tag="v1")
    taken = None
except HfHubHTTPError as exc:
    taken = exc.response.status_code
api.delete_tag("acme/model", tag="v1")
refs = api.list_repo_refs("acme/model")
print(json.dumps({"taken": taken, "branches": sorted(b.name for b in refs.branches),
                  "tags": [t.name for t in refs.tags], "release": api.model_info("acme/model", revision="release").sha,
                  "oid": info.oid}))
"""
    with HubStandin(token=TOKEN) as hub:
        result = client(hub.client_env(tmp_path / "home"), code)
        assert result.returncode == 0, result.stderr[-3000:]
        out = json.loads(result.stdout.splitlines()[-1])
    assert out["taken"] == 409
    assert out["branches"] == ["main", "release"] and out["tags"] == []
    assert out["release"] == out["oid"]
