"""Shared fixtures: the real Docker engine and generated git repositories."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_IMAGE = "swegc-base:bookworm"
# Every env and instance image the tests build is named under swegc-test-env/ and
# swegc-test-inst/ (subprocesses and Ray workers inherit it), never under the names a user's own
# build folder points at: a test that removes or rebuilds its images cannot touch theirs.
os.environ["SWEGC_IMAGE_NAMESPACE"] = "swegc-test"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test Author", "GIT_AUTHOR_EMAIL": "author@example.com",
    "GIT_COMMITTER_NAME": "Test Committer", "GIT_COMMITTER_EMAIL": "committer@example.com",
    "GIT_CONFIG_NOSYSTEM": "1", "HOME": "/nonexistent", "LC_ALL": "C",
}


@pytest.fixture(scope="session")
def docker_engine():
    """The local Docker engine with the bookworm base image.

    Under CI (SWEGC_REQUIRE_DOCKER=1) a missing engine fails the run instead of skipping, so
    that a green CI always means the Docker tests ran.
    """
    from swegc.errors import DockerUnavailableError
    from swegc.docker_client import docker_client, image_exists

    try:
        client = docker_client()
    except DockerUnavailableError as exc:
        if os.environ.get("SWEGC_REQUIRE_DOCKER") == "1":
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    if image_exists(client, BASE_IMAGE) is None:
        message = f"{BASE_IMAGE} is missing: run `swegc images base --python 3.11`"
        if os.environ.get("SWEGC_REQUIRE_DOCKER") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return client


@pytest.fixture(scope="session")
def example_compile(tmp_path_factory, docker_engine):
    """The bundled example compiled once per session: (build folder, the compile's process)."""
    root = Path(__file__).resolve().parents[1]
    out = tmp_path_factory.mktemp("example-build")
    result = subprocess.run([sys.executable, "-m", "swegc.cli", "compile",
                             str(root / "examples" / "specs"), "--out", str(out)],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    return out, result


class GitBuilder:
    """Makes commits with fixed dates so hashes are the same on every run."""

    def __init__(self, path: Path):
        self.path = path
        self.tick = 0
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        env = {**os.environ, **GIT_ENV}
        return subprocess.run(["git", *args], cwd=self.path, env=env, check=True,
                              capture_output=True, text=True).stdout.strip()

    def write(self, files: dict[str, str | bytes | None]) -> None:
        for name, content in files.items():
            target = self.path / name
            if content is None:
                target.unlink()
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                target.write_bytes(content)
            else:
                target.write_text(content)

    def commit(self, message: str, files: dict[str, str | bytes | None] | None = None) -> str:
        self.write(files or {})
        self.tick += 1
        date = f"2024-01-01T00:{self.tick // 60:02d}:{self.tick % 60:02d}+00:00"
        self.git("add", "-A")
        env_dates = {"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date}
        subprocess.run(["git", "commit", "-q", "--allow-empty", "-m", message], cwd=self.path,
                       env={**os.environ, **GIT_ENV, **env_dates}, check=True)
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def git_builder(tmp_path):
    return GitBuilder(tmp_path / "repo")


@pytest.fixture(scope="session")
def example_build(example_compile) -> Path:
    """The build folder of the bundled example, compiled once per session."""
    return example_compile[0]
