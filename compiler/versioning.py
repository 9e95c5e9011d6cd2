"""Which version of the repository a base commit is, so that it gets the right environment.

SWE-bench groups instances by version ("major.minor") and builds one environment per version;
swegc does the same through ``spec.environments[*].versions``. A strategy from the spec's
``version`` block finds the version; every failure says what was tried, so that a user can fix
the pattern or the path rather than guess.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from swegc.compiler.spec.model import RepoSpec, VersionSpec
from swegc.errors import SwegcError
from swegc.git import GitError, GitRepo
from swegc.records import Candidate
from swegc.runtime.sandbox import TIMEOUT_EXIT, SandboxLimits

COMMAND_TIMEOUT_S = 120
# A version command needs no network and runs briefly: no other limit, as before the sandbox.
CHECKOUT_LIMITS = SandboxLimits(network=False, cpus=None, memory=None, pids=None, disk=None)
CHECKOUT_ARCHIVE = "/tmp/swegc-checkout.tar"  # `git archive` of the commit, unpacked in /testbed
COMMAND_STDERR = "/tmp/swegc-version.stderr"


class VersionError(SwegcError):
    """The version of a commit could not be found; the message says what was tried.

    ``transient`` marks a failure of the machinery (Docker not answering, a slow container)
    rather than of the commit: it is not kept as the commit's answer.
    """

    def __init__(self, message: str, transient: bool = False):
        super().__init__(message)
        self.transient = transient


def _apply_pattern(pattern: str | None, text: str, what: str) -> str:
    """The match of ``pattern`` in ``text``: group "version", else group 1, else the match."""
    if not pattern:
        return text.strip()
    try:
        match = re.search(pattern, text, re.MULTILINE)
    except re.error as exc:
        raise VersionError(f"version.pattern {pattern!r} is not a valid regex: {exc}") from None
    if match is None:
        raise VersionError(f"version.pattern {pattern!r} does not match {what}; "
                           f"{_lines_near(pattern, text)}")
    if "version" in match.re.groupindex:
        value = match.group("version")
    elif match.re.groups:
        value = match.group(1)
    else:
        value = match.group(0)
    if not value:
        raise VersionError(f"version.pattern {pattern!r} matched {what} but captured nothing")
    return value.strip()


def _lines_near(pattern: str, text: str, most: int = 3) -> str:
    """The lines of ``text`` that the pattern was probably meant for, with their numbers.

    A pattern's literal words (``__version__`` in ``__version__ = "(\\d+)"``) find the lines it
    was written for, so that a near miss such as single against double quotes is visible.
    """
    literal = re.sub(r"\(\?P<\w+>|\\[a-zA-Z]|\[[^\]]*\]", " ", pattern)
    words = [w for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]{2,}", literal)]
    lines = text.splitlines()
    near = [(n, line) for n, line in enumerate(lines, 1) if any(w in line for w in words)][:most]
    if not near:
        near = [(n, line) for n, line in enumerate(lines, 1) if line.strip()][:most]
        label = "no line has the pattern's words; the first lines are"
    else:
        label = "the lines with the pattern's words are"
    if not near:
        return "the file is empty"
    shown = "; ".join(f"line {n}: {line.strip()[:160]!r}" for n, line in near)
    return f"{label} {shown}"


def _from_file(spec: RepoSpec, repo: GitRepo, commit: str) -> str:
    path = spec.version.path
    if not path:
        raise VersionError("version.from is 'file' but version.path is not set")
    data = repo.show_file(commit, path)
    if data is None:
        raise VersionError(f"{path} does not exist at {commit[:12]} in {repo.name}")
    return _apply_pattern(spec.version.pattern or r"(\d+\.\d+)",
                          data.decode("utf-8", "replace"), f"{path} at {commit[:12]}")


def _from_describe(spec: RepoSpec, repo: GitRepo, commit: str) -> str:
    try:
        tag = repo.run("describe", "--tags", "--abbrev=0", commit).strip()
    except GitError as exc:
        raise VersionError(f"`git describe --tags --abbrev=0 {commit[:12]}` found no tag: "
                           f"{exc}") from None
    return _apply_pattern(spec.version.pattern, tag, f"tag {tag!r}")


def _fixed(spec: RepoSpec, repo: GitRepo, commit: str) -> str:
    if not spec.version.value:
        raise VersionError("version.from is 'fixed' but version.value is not set")
    return spec.version.value


def _command_image(spec: RepoSpec) -> str:
    version: VersionSpec = spec.version
    if version.python:
        env = next((e for e in spec.environments if e.python == version.python), None)
        if env is not None:
            return spec.base_image_for(env)
        from swegc.compiler.spec.model import DEFAULT_BASE_IMAGES
        images = {**DEFAULT_BASE_IMAGES, **spec.build.base_images}
        if version.python not in images:
            raise VersionError(f"version.python {version.python!r} names no base image "
                               f"(known: {', '.join(sorted(images))})")
        return images[version.python]
    if not spec.environments:
        raise VersionError("version.from is 'command' but the spec has no environment")
    return spec.base_image_for(spec.environments[0])


def _from_command(spec: RepoSpec, repo: GitRepo, commit: str) -> str:
    command = spec.version.command
    if not command:
        raise VersionError("version.from is 'command' but version.command is not set")
    output = run_in_checkout(_command_image(spec), repo, commit, command)
    return _apply_pattern(spec.version.pattern, output, f"the output of {command!r}")


def run_in_checkout(image: str, repo: GitRepo, commit: str, command: str,
                    timeout_s: int = COMMAND_TIMEOUT_S) -> str:
    """Run ``command`` (bash) in a throwaway sandbox of ``image`` with the commit at /testbed;
    its standard output.

    Through the sandbox like every container swegc starts: no network, a time limit, the
    container removed whatever happens. The command's stderr is kept apart (a version pattern
    reads stdout only) and its tail is shown when the command fails.
    """
    from swegc.docker_client import docker_client, image_exists
    from swegc.errors import DockerUnavailableError
    from swegc.runtime.sandbox import InfrastructureError, open_sandbox

    try:
        client = docker_client()
    except DockerUnavailableError as exc:
        raise VersionError(f"version.command needs Docker, which does not answer: {exc}",
                           transient=True) from None
    if image_exists(client, image) is None:
        raise VersionError(f"version.command needs the base image {image}, which is not "
                           "built (run `swegc images base --python X.Y` or build it)")
    archive = repo.archive(commit)
    try:
        with open_sandbox(image, CHECKOUT_LIMITS, workdir="/testbed") as box:
            box.write_file(CHECKOUT_ARCHIVE, archive)
            unpacked = box.execute(f"tar -xf {CHECKOUT_ARCHIVE} && rm -f {CHECKOUT_ARCHIVE}",
                                   timeout_s=timeout_s)
            if unpacked.exit_code != 0:
                raise VersionError(f"could not unpack {commit[:12]} in {image} (exit "
                                   f"{unpacked.exit_code}): {_tail(unpacked.output)}")
            result = box.execute(f"(\n{command}\n) 2>{COMMAND_STDERR}", timeout_s=timeout_s)
            stderr = box.execute(f"cat {COMMAND_STDERR}", timeout_s=30).output \
                if result.exit_code != 0 else ""
    except InfrastructureError as exc:  # the engine or the container failed, not the commit
        raise VersionError(f"version.command {command!r} could not run in {image}: {exc}",
                           transient=True) from None
    if result.exit_code == TIMEOUT_EXIT:
        raise VersionError(f"version.command {command!r} ran over {timeout_s}s")
    if result.exit_code != 0:
        raise VersionError(f"version.command {command!r} exited {result.exit_code} at "
                           f"{commit[:12]}: {_tail(stderr)}")
    return result.output.strip()


def _tail(text: str, lines: int = 3) -> str:
    return "; ".join(text.strip().splitlines()[-lines:])


STRATEGIES: dict[str, Callable[[RepoSpec, GitRepo, str], str]] = {
    "file": _from_file, "git-describe": _from_describe, "fixed": _fixed,
    "command": _from_command,
}


def published_version(spec: RepoSpec, candidate: Candidate) -> str:
    """``from: published``: the version the published row of an ``instances:`` source gives."""
    expected = candidate.expected
    if expected is None:
        raise VersionError(f"{spec.where('version')}: from: published needs published rows "
                           f"(source.instances); {candidate.instance_id} came from a "
                           f"{candidate.source} source")
    if not expected.version:
        raise VersionError(f"{spec.where('version')}: the published row of "
                           f"{candidate.instance_id} has no version; set "
                           f"instances.{candidate.instance_id}.version in the spec")
    return expected.version


def detect_version(spec: RepoSpec, repo: GitRepo, commit: str) -> str:
    """The version of ``commit`` by the spec's strategy (e.g. "1.2")."""
    strategy = STRATEGIES.get(spec.version.strategy)
    if spec.version.strategy == "published":
        raise VersionError(f"{spec.where('version')}: from: published takes the version of "
                           "each published row, not of a commit")
    if strategy is None:
        raise VersionError(f"{spec.where('version')}: unknown version strategy "
                           f"{spec.version.strategy!r}; known: {', '.join(sorted(STRATEGIES))}")
    try:
        return strategy(spec, repo, commit)
    except VersionError as exc:
        raise VersionError(f"{spec.where('version')}: {exc}") from None
    except GitError as exc:
        raise VersionError(f"{spec.where('version')}: {exc}") from None
