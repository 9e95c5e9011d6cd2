"""The compiler's units, as plain functions of records: an env image build, and an instance's
image build with its validation.

A unit gets everything it needs in its record (the recipe, the git bundle its image is made
from, the build network settings, the validation plan) and returns a typed result with the
text of the logs it wrote. It touches no build store and no clone of the repository, so it
runs the same in a thread of the driver or on any node of a Ray cluster that has a Docker
engine; the driver alone stores results and writes logs. Failures of the infrastructure raise
``Transient`` (retried by the executor, never stored); a failure of the input is a result.

A unit also returns what it spent (``swegc.funnel.Cost``: its containers' CPU seconds, its wall
seconds, the layer it wrote), in its result, so the build store keeps the cost with the result:
a resume counts it again as measured, without running anything, and a result from a Ray node
brings its cost with it.

A unit returns its image's ``ImageRef`` (``swegc.images.reference``): with a registry, the unit
pushes the image it built and the reference is its ``name@sha256:`` digest; an instance unit on
a node that lacks its env image pulls it by that reference first.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from swegc.errors import SwegcError
from swegc.executors import Transient
from swegc.funnel import Cost
from swegc.runtime.harness.validation import ValidationPlan, Verdict, validate
from swegc.images.builder import BuildFailed, BuiltImage, EnvRecipe, ImageBuilder, InstanceRecipe
from swegc.images.network import BuildNetwork
from swegc.images.reference import ImageRef, image_reference

# Build failures of the infrastructure (the engine, a timeout), not of the recipe.
TRANSIENT_BUILD_FAILURES = ("docker_error", "build_timeout", "cache_locked")


@dataclass(frozen=True)
class UnitResult:
    """What one instance unit produced: its verdict, and its image when the image was built
    (``failed_build``: what a build that failed spent).

    Stored in the build store as ``to_json`` gives it, so a later compile reads it back typed.
    """

    verdict: Verdict
    image: BuiltImage | None
    failed_build: Cost | None = None

    @property
    def build_cost(self) -> Cost:
        """The instance image's build: its container's CPU, its wall time, its own layer."""
        if self.image is not None:
            return Cost(self.image.cpu_s, self.image.build_s, self.image.layer_bytes)
        return self.failed_build or Cost()

    @property
    def validation_cost(self) -> Cost:
        """The validation's container (patches applied, prepare, every test run)."""
        return Cost(self.verdict.cpu_s, self.verdict.duration_s)

    def to_json(self) -> dict[str, Any]:
        data = {"verdict": self.verdict.to_json(),
                "image": self.image.to_json() if self.image else None}
        if self.failed_build is not None:
            data["failed_build"] = self.failed_build.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> UnitResult:
        image, failed = data.get("image"), data.get("failed_build")
        return cls(Verdict.from_json(data["verdict"]),
                   BuiltImage.from_json(image) if image else None,
                   Cost.from_json(failed) if failed is not None else None)


@dataclass(frozen=True)
class EnvJob:
    key: str
    recipe: EnvRecipe
    lock: tuple[str, ...]
    bundle: bytes  # runtime.images.env_bundle
    network: BuildNetwork
    labels: tuple[tuple[str, str], ...]
    log_dir: str  # the driver's folder of image build logs: the logs' names
    registry: str | None = None  # HOST[:PORT]/NAMESPACE to push the image to
    submodules: tuple[bytes, ...] = ()  # runtime.images.submodule_bundles of the recipe


@dataclass(frozen=True)
class EnvBuild:
    image: BuiltImage | None
    failure: dict[str, Any] | None  # a failure of the recipe: stored, not retried
    logs: dict[str, str]  # the driver's path -> text
    reference: ImageRef | None = None  # the built image as rows and other nodes name it
    cost: Cost = Cost()  # what the build spent, built or failed

    @property
    def stored(self) -> dict[str, Any]:
        """The build store's entry of a failed build: the failure and its cost."""
        return {"failure": self.failure, "cost": self.cost.to_json()}


@dataclass(frozen=True)
class InstanceJob:
    key: str  # the unit's key in the build store
    recipe: InstanceRecipe
    env: BuiltImage
    env_commit: str
    env_reference: str | None  # where a node without the env image pulls it from
    bundle: bytes  # runtime.images.instance_bundle
    network: BuildNetwork
    labels: tuple[tuple[str, str], ...]
    plan: ValidationPlan  # its image is filled in once the image is built
    image_log_dir: str
    logs_dir: str
    registry: str | None = None
    submodules: tuple[bytes, ...] = ()  # runtime.images.submodule_bundles of the recipe


@dataclass(frozen=True)
class InstanceBuild:
    result: UnitResult
    logs: dict[str, str]
    reference: ImageRef | None = None  # the image the row names; pushed only when valid


def build_env(job: EnvJob) -> EnvBuild:
    """Build (or find) one env image; see the module doc."""
    with tempfile.TemporaryDirectory(prefix="swegc-unit-") as tmp:
        builder = ImageBuilder(None, job.network, Path(tmp), labels=dict(job.labels))
        try:
            built = builder.env_image(job.recipe, lock=job.lock, bundle=job.bundle,
                                      submodules=job.submodules)
        except BuildFailed as exc:
            if exc.reason in TRANSIENT_BUILD_FAILURES:
                raise Transient(exc.reason, exc.detail) from None
            # One name for one failure: the env's report, the console and its instances say
            # env_build_failed where the image builder says build_failed.
            reason = "env_build_failed" if exc.reason == "build_failed" else exc.reason
            failure = {"reason": reason, "detail": exc.detail,
                       "log": _moved(exc.log_path, tmp, job.log_dir)}
            return EnvBuild(None, failure, _logs(tmp, job.log_dir),
                            cost=Cost(exc.cpu_s, exc.wall_s))
        logs = _logs(tmp, job.log_dir)
    built = replace(built, log_path=_moved(built.log_path, tmp, job.log_dir))
    return EnvBuild(built, None, logs, locate(built, job.registry, push=True),
                    Cost(built.cpu_s, built.build_s, built.layer_bytes))


def build_and_validate(job: InstanceJob) -> InstanceBuild:
    """Build one instance image on its env and validate the instance in it."""
    with tempfile.TemporaryDirectory(prefix="swegc-unit-") as tmp:
        images, logs_dir = Path(tmp) / "images", Path(tmp) / "logs"
        builder = ImageBuilder(None, job.network, images, labels=dict(job.labels))
        ensure_image(builder.client, job.env, job.env_reference)
        try:
            image = builder.instance_image(job.recipe, job.env, job.env_commit, bundle=job.bundle,
                                           submodules=job.submodules)
        except BuildFailed as exc:
            if exc.reason in TRANSIENT_BUILD_FAILURES:
                raise Transient(exc.reason, exc.detail[-2000:]) from None
            reason = "install_failed" if exc.reason == "build_failed" else exc.reason
            result = UnitResult(Verdict.not_validated("rejected", reason, exc.detail[-2000:]), None,
                                Cost(exc.cpu_s, exc.wall_s))
            return InstanceBuild(result, _logs(images, job.image_log_dir))
        # One try here: the executor is what retries infrastructure failures, with backoff.
        verdict = validate(replace(job.plan, image=image.name), logs_dir, attempts=1)
        if verdict.status == "error":
            raise Transient(verdict.reason or "infrastructure", verdict.detail or "")
        logs = {**_logs(images, job.image_log_dir), **_logs(logs_dir, job.logs_dir)}
    image = replace(image, log_path=_moved(image.log_path, str(images), job.image_log_dir))
    # Only a valid instance becomes a row, so only its image is pushed.
    reference = locate(image, job.registry if verdict.status == "valid" else None, push=True)
    return InstanceBuild(UnitResult(verdict, image), logs, reference)


def ensure_image(client: Any, image: BuiltImage, reference: str | None) -> None:
    """Make sure this node's engine holds ``image`` (by name and id): pull it by digest from
    the registry when it does not, and tag it with its name."""
    from swegc.docker_client import image_exists
    from swegc.docker_client import pull_by_digest
    from swegc.errors import ImageGoneError, RegistryError

    local = image_exists(client, image.name)
    if local is not None and local.id == image.id:
        return
    if reference is None:
        raise SwegcError(f"{image.name} is not in this node's Docker engine and no registry was "
                         "given to pull it from: compile with --registry HOST/NAMESPACE")
    try:
        pulled = pull_by_digest(client, reference)
    except (RegistryError, ImageGoneError) as exc:  # the registry this compile pushed to
        raise Transient("registry", str(exc)) from None
    repository, _, tag = image.name.rpartition(":")
    pulled.tag(repository, tag)


def locate(image: BuiltImage, registry: str | None, *, push: bool) -> ImageRef:
    """``image_reference`` of a built image: pushed from this node's engine when ``push``,
    else looked up in the registry. A registry that fails is ``Transient`` (the executor tries
    the unit again)."""
    from swegc.docker_client import docker_client
    from swegc.images.registry import Registry, RegistryError

    if registry is None:
        return image_reference(image.name, image.id)
    try:
        return image_reference(image.name, image.id, Registry.parse(registry),
                               docker_client() if push else None)
    except RegistryError as exc:
        raise Transient("registry", str(exc)) from None


def _logs(folder: str | Path, target: str) -> dict[str, str]:
    """Every log file under ``folder``, keyed by the path it gets under ``target``."""
    root = Path(folder)
    if not root.is_dir():
        return {}
    return {str(Path(target) / path.relative_to(root)): path.read_text(errors="replace")
            for path in sorted(root.rglob("*")) if path.is_file()}


def _moved(path: str | None, folder: str, target: str) -> str | None:
    if path is None:
        return None
    try:
        return str(Path(target) / Path(path).relative_to(folder))
    except ValueError:
        return path
