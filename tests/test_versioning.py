"""Version strategies find "major.minor" at a commit, or say what they tried."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from swegc.compiler.spec import model as specs
from swegc.compiler.spec.model import EnvironmentSpec, RepoSpec, SourceSpec, VersionSpec
from swegc.compiler.versioning import VersionError, detect_version, run_in_checkout
from swegc.git import GitRepo, git_env

ENV = git_env({"GIT_AUTHOR_NAME": "T", "GIT_AUTHOR_EMAIL": "t@example.com",
               "GIT_COMMITTER_NAME": "T", "GIT_COMMITTER_EMAIL": "t@example.com",
               "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
               "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z"})


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "commit.gpgsign=false", *args], cwd=cwd, env=ENV,
                          check=True, capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path: Path) -> tuple[GitRepo, str, str]:
    """Two commits: version 1.2 tagged v1.2.0, then 1.3 (untagged)."""
    root = tmp_path / "repo"
    (root / "pkg").mkdir(parents=True)
    git(root, "-c", "init.defaultBranch=main", "init", "-q", "--template=")
    (root / "pkg" / "__init__.py").write_text('__version__ = "1.2.0"\n')
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "one")
    git(root, "tag", "v1.2.0")
    first = git(root, "rev-parse", "HEAD")
    (root / "pkg" / "__init__.py").write_text('__version__ = "1.3.dev0"\n')
    git(root, "commit", "-q", "-am", "two")
    return GitRepo.open(root), first, git(root, "rev-parse", "HEAD")


def make_spec(version: VersionSpec) -> RepoSpec:
    return RepoSpec(path=Path("specs/x.yaml"), repo="o/x",
                    source=SourceSpec(kind="jsonl", clone=None, jsonl=Path("c.jsonl")),
                    tests=specs.TestsSpec(files=("tests/**",), command="pytest",
                                          parser="pytest"),
                    version=version,
                    environments=(EnvironmentSpec(versions="", python="3.11"),),
                    locations={"version": "specs/x.yaml:7"})


def test_file_strategy_reads_the_file_at_the_commit_and_keeps_the_named_group(repo):
    git_repo, first, second = repo
    spec = make_spec(VersionSpec("file", path="pkg/__init__.py",
                                 pattern=r'__version__ = "(?P<version>\d+\.\d+)'))
    assert detect_version(spec, git_repo, first) == "1.2"
    assert detect_version(spec, git_repo, second) == "1.3"


def test_file_strategy_names_the_file_and_the_pattern_when_nothing_matches(repo):
    git_repo, first, _ = repo
    spec = make_spec(VersionSpec("file", path="pkg/__init__.py", pattern=r"VERSION=(\d+)"))
    with pytest.raises(VersionError, match=r"specs/x.yaml:7: .*VERSION=.*pkg/__init__.py"):
        detect_version(spec, git_repo, first)
    spec = make_spec(VersionSpec("file", path="missing.py"))
    with pytest.raises(VersionError, match="missing.py does not exist"):
        detect_version(spec, git_repo, first)


def test_git_describe_finds_the_nearest_tag_and_applies_the_pattern(repo):
    git_repo, _, second = repo
    spec = make_spec(VersionSpec("git-describe", pattern=r"v(\d+\.\d+)"))
    assert detect_version(spec, git_repo, second) == "1.2"


def test_fixed_strategy_gives_its_value_for_every_commit(repo):
    git_repo, first, second = repo
    spec = make_spec(VersionSpec("fixed", value="0.9"))
    assert {detect_version(spec, git_repo, c) for c in (first, second)} == {"0.9"}


def _docker_ready(image: str) -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "image", "inspect", image], capture_output=True).returncode == 0


@pytest.mark.docker
@pytest.mark.skipif(not _docker_ready("swegc-base:bookworm"),
                    reason="needs Docker and the swegc-base:bookworm image")
def test_command_strategy_runs_in_the_base_image_on_a_checkout_without_network(repo):
    git_repo, first, second = repo
    command = "python3 -c 'import pkg; print(pkg.__version__)'"
    spec = make_spec(VersionSpec("command", command=command, pattern=r"^(\d+\.\d+)"))
    assert detect_version(spec, git_repo, second) == "1.3"
    interfaces = run_in_checkout("swegc-base:bookworm", git_repo, second, "ls /sys/class/net")
    assert interfaces.split() == ["lo"]
    failing = make_spec(replace(spec.version, command="exit 3"))
    with pytest.raises(VersionError, match="exited 3"):
        detect_version(failing, git_repo, first)


@pytest.mark.docker
@pytest.mark.skipif(not _docker_ready("swegc-base:bookworm"),
                    reason="needs Docker and the swegc-base:bookworm image")
def test_a_version_command_is_read_from_stdout_and_its_failures_say_why(repo):
    git_repo, _, second = repo
    noisy = "echo 'DeprecationWarning: 9.9' >&2; cat pkg/__init__.py"
    assert run_in_checkout("swegc-base:bookworm", git_repo, second, noisy) == '__version__ = "1.3.dev0"'
    with pytest.raises(VersionError, match=r"exited 2 at .*: no setup\.py here") as failed:
        run_in_checkout("swegc-base:bookworm", git_repo, second, "echo 'no setup.py here' >&2; exit 2")
    assert not failed.value.transient  # the commit's answer, kept
    with pytest.raises(VersionError, match="ran over 1s"):
        run_in_checkout("swegc-base:bookworm", git_repo, second, "sleep 30", timeout_s=1)
    with pytest.raises(VersionError, match="needs the base image swegc-test/absent:x"):
        run_in_checkout("swegc-test/absent:x", git_repo, second, "true")


def test_a_near_miss_of_the_version_pattern_shows_the_line_it_was_meant_for(tmp_path):
    root = tmp_path / "quotes"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "pkg").mkdir()
    (root / "pkg" / "__init__.py").write_text("# a long header\n" * 30 + "__version__ = '2.20.0'\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "one")
    spec = make_spec(VersionSpec("file", path="pkg/__init__.py",
                                 pattern=r'__version__ = "(?P<version>\d+\.\d+)'))
    with pytest.raises(VersionError, match=r"line 31: \"__version__ = '2.20.0'\""):
        detect_version(spec, GitRepo.open(root), git(root, "rev-parse", "HEAD"))
