"""Env and instance images, content-addressed and built layer by layer.

An env image holds the interpreter's virtualenv, the dependencies and a clone of the
repository up to the env's commit (an ancestor of every base commit that uses the env). An
instance image adds one layer: the git objects from the env commit to its base commit (a small
bundle), the checkout and the install. No object, ref, tag or reflog entry after the base
commit ever enters an image, so the history cannot reveal the fix.

Each layer is made by running a script in a container with build-only mounts (the repository
bundle, the CA bundle) and committing the container, rather than with ``docker build``: the
mounts and the proxy settings never reach a layer or the image config, and the layer holds
exactly what the script changed.
"""

from __future__ import annotations

import json
import shlex
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping

from swegc import __version__
from swegc.errors import SwegcError
from swegc.git import GitRepo, cache_root
from swegc.hashing import content_hash
from swegc.naming import env_image_name, instance_image_name
from swegc.redact import redact
from swegc.docker_client import LABEL, docker_client, image_exists, require_image
from swegc.images.installer import DatedInstaller, Indexes
from swegc.images.network import CA_MOUNT, BuildNetwork
from swegc.images.node import NODE_PREFIX, NodeRecipe
from swegc.images.python_releases import FLOOR_RULE

VENV = "/opt/venv"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PATH = f"{VENV}/bin:{SYSTEM_PATH}"
NODE_PATH = f"{VENV}/bin:{NODE_PREFIX}/bin:{SYSTEM_PATH}"  # an env with Node
IMAGE_FORMAT = 3  # bump when the build scripts change what an image contains
# 3: under pip_date, uv and the pip wrapper are no longer in any layer, and the instance
# step installs through the same wrapper, with the same date, as the env step.
# Under pip_date only (in the key of dated recipes, so undated images keep theirs): 2 upgrades
# the venv's seed build tools to the floor and falls back to `setup.py develop` for a
# setup.cfg-only project.
DATED_FORMAT = 2
# Instance images only: 3 adds STOPSIGNAL SIGKILL (harnesses that `docker stop` a container
# whose main process ignores SIGTERM otherwise wait 10-15 s for nothing each time).
INSTANCE_FORMAT = 3


class BuildFailed(Exception):
    """An image could not be built; ``reason`` is a short code for reports; ``cpu_s`` and
    ``wall_s`` what the failed build spent (its container's CPU time, its wall time)."""

    def __init__(self, reason: str, detail: str, log_path: str | None = None,
                 cpu_s: float = 0.0, wall_s: float = 0.0):
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail, self.log_path = reason, detail, log_path
        self.cpu_s, self.wall_s = cpu_s, wall_s


# uv's answer when another build holds a lock of the package cache that every build shares
# (an editable build of /testbed is keyed by that path, the same in every build) for more than
# its timeout: the other build's doing, not this install's.
_CACHE_LOCKED = "Failed to acquire lock on the distribution cache"


def failure_reason(exit_code: int, output: str) -> str:
    """Why a build script failed: ``build_timeout`` (exit -1), ``cache_locked`` (the shared
    package cache was held by another build: tried again, as the engine's failures are) or
    ``build_failed``."""
    if exit_code == -1:
        return "build_timeout"
    return "cache_locked" if _CACHE_LOCKED in output else "build_failed"


@dataclass(frozen=True)
class EnvRecipe:
    """Everything that goes into an env image; its hash is the image tag."""

    repo: str
    base_image: str
    env_commit: str
    apt: tuple[str, ...] = ()
    pre_install: tuple[str, ...] = ()
    pip: tuple[str, ...] = ()
    install: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    pip_date: str | None = None  # an ISO date: packages resolved as of then (uv --exclude-newer)
    upgrade_pip: bool = True
    python: str | None = None  # the Python the spec asked for, checked against the base image
    pip_date_exempt: tuple[str, ...] = ()  # packages resolved without the date cap
    build_outputs: tuple[str, ...] = ()  # untracked files the install builds, kept for instances
    submodules: tuple[tuple[str, str], ...] = ()  # (path, pinned commit) filled from clones
    node: NodeRecipe | None = None  # Node, npm and the folders whose packages are installed
    indexes: Indexes = ()  # (url, packages) taken from another index than the build's
    pip_date_asked: str | None = None  # the spec's date, where pip_date was moved past it

    def installer(self) -> DatedInstaller | None:
        return (DatedInstaller(self.pip_date, self.pip_date_exempt, self.indexes)
                if self.pip_date else None)

    def key(self, base_image_id: str) -> str:
        return content_hash("env", IMAGE_FORMAT, _recipe_fields(self), base_image_id)


@dataclass(frozen=True)
class InstanceRecipe:
    instance_id: str
    base_commit: str
    install: tuple[str, ...] = ()
    post_install: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()  # the tests' environment, baked into the image config
    pip_date: str | None = None  # the env's: its install resolves as the env's did
    pip_date_exempt: tuple[str, ...] = ()
    build_outputs: tuple[str, ...] = ()  # the env's: kept from the env's install, not cleaned
    submodules: tuple[tuple[str, str], ...] = ()  # (path, commit) pinned at base_commit
    node: NodeRecipe | None = None  # the env's, with this instance's date
    indexes: Indexes = ()  # the env's
    pip_date_asked: str | None = None  # this instance's date, where pip_date was moved past it

    def installer(self) -> DatedInstaller | None:
        return (DatedInstaller(self.pip_date, self.pip_date_exempt, self.indexes)
                if self.pip_date else None)

    def key(self, env_key: str) -> str:
        return content_hash("instance", IMAGE_FORMAT, INSTANCE_FORMAT, _recipe_fields(self),
                            env_key)


def _recipe_fields(recipe: EnvRecipe | InstanceRecipe) -> dict[str, Any]:
    """A recipe's fields for its key; the later ones (``build_outputs``, ``submodules``,
    ``node``, ``indexes``, ``pip_date_asked``) only when set, so that images of recipes without
    them keep the tags they were built under; a dated recipe's also holds ``DATED_FORMAT``."""
    data = asdict(recipe)
    for optional in ("build_outputs", "submodules", "node", "indexes", "pip_date_asked"):
        if not data[optional]:
            del data[optional]
    if recipe.pip_date:
        data["dated_format"] = DATED_FORMAT
    return data


def submodule_bundles(clones: Mapping[str, GitRepo], submodules: tuple[tuple[str, str], ...],
                      present: tuple[tuple[str, str], ...] = ()) -> tuple[bytes, ...]:
    """A git bundle of each submodule's history up to its pinned commit, from the spec's clone
    of it: all of it for an env; for an instance, what its env's pin (``present``) lacks, and
    nothing when the pin is the env's. History ends at the pin: nothing after it gets in."""
    bundles = []
    for path, commit in submodules:
        clone = clones[path]
        if not clone.has_commit(commit):
            raise SwegcError(f"source.submodules: the clone of submodule {path} ({clone.path}) "
                             f"lacks the commit {commit} the repository pins: fetch it there "
                             f"(git -C {clone.path} fetch origin {commit})")
        before = [old for where, old in present if where == path]
        if commit in before:
            bundles.append(b"")  # the env's checkout is this one already
            continue
        exclude = [old for old in before if clone.has_commit(old) and clone.is_ancestor(old, commit)]
        with tempfile.TemporaryDirectory(prefix="swegc-submodule-") as tmp:
            target = Path(tmp) / "submodule.bundle"
            clone.create_bundle(target, commit, exclude=exclude)
            bundles.append(target.read_bytes())
    return tuple(bundles)


def _submodule_lines(submodules: tuple[tuple[str, str], ...]) -> list[str]:
    """Check out each submodule at its pinned commit, as `git submodule update --init` would:
    a repository of its own (its git dir in .git/modules, as git keeps it), registered in the
    repository's config, so that `git submodule status` says it is initialized and up to date
    (mypy's setup.py refuses to build otherwise). A submodule at its pin already (an instance
    whose commit pins what its env's did) is left as it is, and the layer stays small."""
    lines = []
    for index, (path, commit) in enumerate(submodules):
        quoted = shlex.quote(path)
        lines.append(
            f'if [ "$(git -C {quoted} rev-parse -q --verify HEAD 2>/dev/null)" != {commit} ]; then '
            f"{{ [ -e {quoted}/.git ] || {{ rm -rf -- {quoted} && git init -q {quoted}; }}; }} && "
            f"git -C {quoted} fetch -q /swegc/in/submodule-{index}.bundle refs/swegc/tip && "
            f"git -C {quoted} checkout -q --detach -f {commit} && "
            f"git submodule absorbgitdirs -- {quoted} && git submodule init -q -- {quoted}; fi")
    return lines


def clean_command(build_outputs: tuple[str, ...]) -> str:
    """``git clean`` of everything untracked except the spec's ``build_outputs``.

    With ``-x`` git ignores .gitignore but still honours ``-e`` patterns, and an ignored path
    is not removed: so the build outputs survive, and nothing else the install left does.
    """
    return " ".join(["git clean -q -fdx", *(f"-e {shlex.quote(p)}" for p in build_outputs)])


def _index_lines(recipe: EnvRecipe | InstanceRecipe) -> list[str]:
    """Without pip_date, pip has no per-package index: each index becomes an extra index of
    every pip install (pip takes the highest version; 2.1.0+cpu ranks above 2.1.0)."""
    if recipe.pip_date or not recipe.indexes:
        return []
    urls = " ".join(url for url, _ in recipe.indexes)
    return [f'export PIP_EXTRA_INDEX_URL="${{PIP_EXTRA_INDEX_URL:+$PIP_EXTRA_INDEX_URL }}{urls}"']


@dataclass(frozen=True)
class BuiltImage:
    name: str
    id: str
    key: str
    size_bytes: int
    layer_bytes: int  # the image's own top layer
    build_s: float
    reused: bool
    log_path: str | None = None
    freeze: tuple[str, ...] = field(default=())
    # CPU seconds of the build's container (``swegc.runtime.sandbox.cpu``); 0.0 for an image
    # found already built, and for one stored before this was measured
    cpu_s: float = 0.0

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["freeze"] = list(self.freeze)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any], **changes: Any) -> BuiltImage:
        return cls(**{**data, "freeze": tuple(data.get("freeze") or ()), **changes})


def _base_image_checks(recipe: EnvRecipe) -> list[str]:
    """Fail early, saying what is missing, when a base image cannot carry an env."""
    image = recipe.base_image  # an image reference: no quotes or $ in it
    lines = [
        "missing=''",
        "command -v python3 >/dev/null || missing=\"$missing python3\"",
        "command -v git >/dev/null || missing=\"$missing git\"",
        "if [ -n \"$missing\" ]; then echo \"swegc: the base image " + image +
        " has no$missing: choose an image with python3 and git, or add them "
        "(environments[].apt: [git])\" >&2; exit 3; fi",
        "python3 -c 'import venv, ensurepip' 2>/dev/null || { echo \"swegc: the base image "
        + image + " has python3 without venv/ensurepip (Debian: apt: [python3-venv])\" "
        ">&2; exit 3; }",
    ]
    if recipe.python:
        want = shlex.quote(recipe.python)
        lines.append(
            "have=$(python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])'); "
            f"if [ \"$have\" != {want} ]; then echo \"swegc: the base image {image} has "
            f"Python $have, but the environment asks for {recipe.python}: map "
            f"build.base_images[\\\"{recipe.python}\\\"] to an image with that Python\" >&2; "
            "exit 3; fi")
    return lines


def env_bundle(repo: GitRepo, recipe: EnvRecipe) -> bytes:
    """The git bundle an env image is cloned from: history up to the env commit, its tags."""
    with tempfile.TemporaryDirectory(prefix="swegc-bundle-") as tmp:
        path = Path(tmp) / "repo.bundle"
        repo.create_bundle(path, recipe.env_commit, tags=repo.tags_merged_into(recipe.env_commit))
        return path.read_bytes()


def instance_bundle(repo: GitRepo, recipe: InstanceRecipe, env_commit: str) -> bytes:
    """The objects and tags from the env commit to an instance's base commit (empty: none)."""
    if recipe.base_commit == env_commit:
        return b""
    env_tags = repo.tags_merged_into(env_commit)
    tags = {t: s for t, s in repo.tags_merged_into(recipe.base_commit).items() if t not in env_tags}
    with tempfile.TemporaryDirectory(prefix="swegc-bundle-") as tmp:
        path = Path(tmp) / "delta.bundle"
        repo.create_bundle(path, recipe.base_commit, exclude=[env_commit], tags=tags)
        return path.read_bytes()


def _write_submodule_bundles(work: Path, submodules: tuple[tuple[str, str], ...],
                             bundles: tuple[bytes, ...]) -> None:
    if len(bundles) != len(submodules):
        raise ValueError(f"{len(submodules)} submodule(s) but {len(bundles)} bundle(s)")
    for index, bundle in enumerate(bundles):
        (work / "in" / f"submodule-{index}.bundle").write_bytes(bundle)


def _install_lines(recipe: InstanceRecipe, keep: str) -> list[str]:
    """The instance's install; on the env's build outputs, tried once more from a clean tree.

    An incremental build is only as sound as the build system's dependency tracking: pandas'
    meson build of July 2023, on outputs of May's, compiled Cython's C from before a header
    move (the .pxd that moved it was not among the C file's tracked inputs) and failed. A
    failed install on kept outputs is therefore not the commit's failure until a build from
    scratch fails too. (``set -e`` does not apply inside an ``if`` condition, so the attempt
    runs in a shell of its own.)
    """
    if not recipe.build_outputs or not recipe.install:
        return [*recipe.install]
    body = "\n".join(recipe.install)
    return [
        f"swegc_install=$(cat <<'SWEGC_INSTALL'\n{body}\nSWEGC_INSTALL\n)",
        'if ! bash -euo pipefail -c "$swegc_install"; then',
        "  echo '+++ install failed on the build outputs the env kept: again from a clean tree'",
        f"  {clean_command(()) + keep}",
        '  bash -euo pipefail -c "$swegc_install"',
        "fi",
    ]


def _dated_title(recipe: EnvRecipe | InstanceRecipe) -> str:
    """The build log's line for the dated installer, saying when the date was moved."""
    title = f"pip resolves packages as of {recipe.pip_date} (through uv)"
    if recipe.pip_date_asked:
        title += (f"; moved from {recipe.pip_date_asked}, which is before the environment's "
                  f"Python had wheels ({FLOOR_RULE})")
    return title.replace("'", "")


def _run_block(title: str, commands: tuple[str, ...] | list[str]) -> str:
    if not commands:
        return ""
    lines = [f"echo '+++ {title}'"]
    lines.extend(commands)
    return "\n".join(lines) + "\n"


FREEZE_LABEL = f"{LABEL}.env_freeze"


def _read_freeze(work: Path) -> tuple[str, ...]:
    """The env's resolved packages (pip freeze), without the repository's own package."""
    freeze_file = work / "out" / "freeze.txt"
    if not freeze_file.exists():
        return ()
    return tuple(line for line in freeze_file.read_text().splitlines()
                 if line and not line.startswith("-e ") and " @ file://" not in line)


def _freeze_label(labels: dict[str, str]) -> tuple[str, ...]:
    try:
        return tuple(json.loads(labels.get(FREEZE_LABEL) or "[]"))
    except ValueError:
        return ()


def _image_sizes(client: Any, image: Any) -> tuple[int, int]:
    history = client.api.history(image.id)
    top = history[0]["Size"] if history else 0
    return int(image.attrs.get("Size", 0)), int(top)


class ImageBuilder:
    """Builds env and instance images for one repository, reusing any whose tag exists.

    ``repo`` may be None where the caller hands over the git bundles (a unit on a worker that
    has no clone of the repository: see ``env_bundle`` and ``instance_bundle``).
    """

    def __init__(self, repo: GitRepo | None, network: BuildNetwork, log_dir: Path,
                 timeout_s: int = 3600, labels: dict[str, str] | None = None):
        self.repo = repo
        self.network = network
        self.log_dir = Path(log_dir)
        self.timeout_s = timeout_s
        self.labels = labels or {}
        self.package_cache = cache_root() / "packages"
        self.client = docker_client()

    def _repo(self) -> GitRepo:
        if self.repo is None:
            raise ValueError("this ImageBuilder has no repository: pass the bundle")
        return self.repo

    # -- env -------------------------------------------------------------------------------
    def base_image_id(self, base_image: str) -> str:
        hint = ("build it with `swegc images base --python X.Y`" if base_image.startswith("swegc-base:")
                else "pull it or set environments[].base_image to an image you have")
        return require_image(self.client, base_image, hint).id

    def env_image(self, recipe: EnvRecipe, lock: tuple[str, ...] = (),
                  bundle: bytes | None = None, submodules: tuple[bytes, ...] = ()) -> BuiltImage:
        """The env image for ``recipe``; ``lock`` (a previous build's freeze) pins packages;
        ``bundle`` is ``env_bundle``'s (made from the repository when not given);
        ``submodules`` are ``submodule_bundles`` of ``recipe.submodules``."""
        key = recipe.key(self.base_image_id(recipe.base_image))
        name = env_image_name(recipe.repo, key)
        existing = self._existing(name, key)
        if existing is not None:
            return existing
        with tempfile.TemporaryDirectory(prefix="swegc-env-") as tmp:
            work = Path(tmp)
            (work / "in").mkdir()
            (work / "out").mkdir()
            (work / "in" / "repo.bundle").write_bytes(
                bundle if bundle is not None else env_bundle(self._repo(), recipe))
            if lock:
                (work / "in" / "lock.txt").write_text("\n".join(lock) + "\n")
            _write_submodule_bundles(work, recipe.submodules, submodules)
            if recipe.installer():
                recipe.installer().write(work / "in", VENV)
            if recipe.node:
                recipe.node.write(work / "in")
            script = self._env_script(recipe, bool(lock))
            labels = {f"{LABEL}.kind": "env", f"{LABEL}.repo": recipe.repo,
                      f"{LABEL}.key": key, f"{LABEL}.env_commit": recipe.env_commit}
            changes = [f"ENV PATH={NODE_PATH if recipe.node else PATH}",
                       f"ENV VIRTUAL_ENV={VENV}", "ENV LANG=C.UTF-8",
                       *(f"ENV {k}={json.dumps(v)}" for k, v in recipe.env)]
            image, build_s, log_path, cpu_s = self._run_and_commit(
                recipe.base_image, script, work, name, labels, changes, f"env-{key}")
            freeze = _read_freeze(work)
        size, layer = _image_sizes(self.client, image)
        return BuiltImage(name, image.id, key, size, layer, build_s, False, log_path, freeze,
                          cpu_s)

    def _env_script(self, recipe: EnvRecipe, locked: bool) -> str:
        keep = recipe.node.clean_excludes() if recipe.node else ""  # node_modules stay
        script = "set -euo pipefail\nexport DEBIAN_FRONTEND=noninteractive\n"
        if recipe.apt:
            pkgs = " ".join(shlex.quote(p) for p in recipe.apt)
            script += _run_block("apt", [
                "apt-get update -qq",
                f"apt-get install -y -qq --no-install-recommends {pkgs}",
                "rm -rf /var/lib/apt/lists/*"])
        script += _run_block("base image", _base_image_checks(recipe))
        script += _run_block("venv", [f"python3 -m venv {VENV}",
                                      f"export PATH={PATH} VIRTUAL_ENV={VENV}"])
        for key, value in recipe.env:
            script += f"export {key}={shlex.quote(value)}\n"
        if recipe.upgrade_pip:
            script += _run_block("upgrade pip", ["pip install --disable-pip-version-check -U pip"])
        installer = recipe.installer()
        if installer:
            script += _run_block(_dated_title(recipe), installer.setup_lines(VENV))
            script += _run_block("build tools as the venv came", installer.seed_snapshot_lines(VENV))
        if recipe.node:
            script += _run_block("node", recipe.node.setup_lines())
        script += _run_block("indexes", _index_lines(recipe))
        # pre_install runs before any uv call: the spec's env may name a file it writes
        # (UV_OVERRIDE), and every uv call must see it.
        script += _run_block("pre_install", recipe.pre_install)
        if installer:
            script += _run_block("build tools no older than the floor", installer.seed_lines(VENV, recipe.pre_install))
        script += _run_block("repository", [
            "git init -q /testbed", "cd /testbed",
            # Submodules come from their own clones (source.submodules), never fetched.
            "git fetch -q --no-recurse-submodules /swegc/in/repo.bundle "
            "'refs/swegc/tip:refs/swegc/tip' "
            "'refs/tags/*:refs/tags/*'",
            f"git checkout -q --detach {recipe.env_commit}",
            "git update-ref -d refs/swegc/tip"])
        script += _run_block("submodules", _submodule_lines(recipe.submodules))
        if recipe.node:
            script += _run_block("npm packages", recipe.node.install_lines())
        if locked:
            script += _run_block("locked packages", ["pip install -r /swegc/in/lock.txt"])
        if recipe.pip:
            script += _run_block("pip", ["pip install " + " ".join(shlex.quote(p) for p in recipe.pip)])
        script += _run_block("install (dependencies)", ["cd /testbed", *recipe.install])
        script += _run_block("record", [
            f"{VENV}/bin/python -m pip freeze --exclude-editable --disable-pip-version-check "
            "> /swegc/out/freeze.txt",
            f"cd /testbed && git reset -q --hard && {clean_command(recipe.build_outputs)}{keep}"])
        return script

    # -- instance --------------------------------------------------------------------------
    def instance_image(self, recipe: InstanceRecipe, env: BuiltImage, env_commit: str,
                       bundle: bytes | None = None, submodules: tuple[bytes, ...] = ()) -> BuiltImage:
        """The instance image on ``env``; ``bundle`` is ``instance_bundle``'s (made from the
        repository when not given); ``submodules`` are ``submodule_bundles``'."""
        key = recipe.key(env.key)
        name = instance_image_name(recipe.instance_id, key)
        existing = self._existing(name, key)
        if existing is not None:
            return existing
        with tempfile.TemporaryDirectory(prefix="swegc-inst-") as tmp:
            work = Path(tmp)
            (work / "in").mkdir()
            (work / "out").mkdir()
            delta = bundle if bundle is not None else \
                instance_bundle(self._repo(), recipe, env_commit)
            if delta:
                (work / "in" / "delta.bundle").write_bytes(delta)
            _write_submodule_bundles(work, recipe.submodules, submodules)
            if recipe.installer():
                recipe.installer().write(work / "in", VENV)
            script = self._instance_script(recipe)
            labels = {f"{LABEL}.kind": "instance", f"{LABEL}.instance": recipe.instance_id,
                      f"{LABEL}.key": key, f"{LABEL}.env": env.name,
                      f"{LABEL}.base_commit": recipe.base_commit}
            changes = [f"ENV {k}={json.dumps(v)}" for k, v in recipe.env] + ["STOPSIGNAL SIGKILL"]
            image, build_s, log_path, cpu_s = self._run_and_commit(
                env.name, script, work, name, labels, changes, f"instance-{recipe.instance_id}")
        size, layer = _image_sizes(self.client, image)
        return BuiltImage(name, image.id, key, size, layer, build_s, False, log_path, cpu_s=cpu_s)

    def _instance_script(self, recipe: InstanceRecipe) -> str:
        base = recipe.base_commit
        keep = recipe.node.clean_excludes() if recipe.node else ""  # the env's node_modules
        script = "set -euo pipefail\ncd /testbed\n"
        installer = recipe.installer()
        if installer:
            script += _run_block(_dated_title(recipe), installer.setup_lines(VENV))
        # A new layer gives every file a new inode, so the index's stat data is stale and a
        # forced checkout would write (and give a new mtime to) every file: refreshed, it
        # writes only the files this commit changes, and the kept outputs of the others stay
        # newer than their sources.
        refresh = ["git update-index -q --refresh >/dev/null || true"] if recipe.build_outputs else []
        script += _run_block("indexes", _index_lines(recipe))
        script += _run_block("checkout", [
            "if [ -f /swegc/in/delta.bundle ]; then "
            "git fetch -q --no-recurse-submodules /swegc/in/delta.bundle "
            "'refs/swegc/tip:refs/swegc/tip' 'refs/tags/*:refs/tags/*'; fi",
            *refresh,
            f"git checkout -q --detach -f {base}",
            # The env's build outputs (build_outputs) stay: the install then rebuilds only
            # what this commit changed (their sources are newer than the outputs).
            clean_command(recipe.build_outputs) + keep,
            # Nothing may point past the base commit: no branch, remote, stash or reflog.
            "git for-each-ref --format='%(refname)' refs/swegc refs/heads refs/remotes refs/stash "
            "| while read -r ref; do git update-ref -d \"$ref\"; done",
            "for r in $(git remote); do git remote remove \"$r\"; done",
        ])
        script += _run_block("submodules", _submodule_lines(recipe.submodules))
        if recipe.node:
            script += _run_block("npm packages", recipe.node.install_lines())
        script += _run_block("install", _install_lines(recipe, keep))
        script += _run_block("post_install", [*recipe.post_install])
        script += _run_block("seal history", [
            "cd /testbed",
            # What the install left in the tree (egg-info, build outputs) and bytecode caches
            # are not the agent's changes: keep them out of `git status` and `git add -A`.
            "{ echo '__pycache__/'; echo '*.py[co]'; git ls-files --others --exclude-standard "
            "--directory | sed 's|^|/|'; } >> .git/info/exclude",
            "git reflog expire --expire=now --all",
            "rm -rf .git/logs .git/FETCH_HEAD .git/ORIG_HEAD",
            f'test "$(git rev-parse HEAD)" = {base}'])
        return script

    # -- shared ----------------------------------------------------------------------------
    def _existing(self, name: str, key: str) -> BuiltImage | None:
        """The image already built under this content-addressed name, if there is one."""
        image = image_exists(self.client, name)
        if image is None:
            return None
        size, layer = _image_sizes(self.client, image)
        return BuiltImage(name, image.id, key, size, layer, 0.0, True,
                          freeze=_freeze_label(image.labels or {}))

    def _run_and_commit(self, parent: str, script: str, work: Path, name: str,
                        labels: dict[str, str], changes: list[str],
                        log_name: str) -> tuple[Any, float, str, float]:
        """Run the build script in a sandbox of ``parent`` and commit it as ``name``: the image,
        the build's wall seconds, its log and its container's CPU seconds.

        Builds go through the same sandbox as everything else, with the network on and no
        resource limits (``UNLIMITED``), their inputs bind-mounted, and no init process (its
        mount point would land in the committed layer). Being a container like any other, a
        build's CPU time is read from the engine's account of it as the sandbox closes (see
        ``swegc.runtime.sandbox.cpu``): the script's processes (apt, pip, compilers), not the
        engine's commit of the layer.
        """
        import docker
        from docker.types import Mount

        from swegc.runtime.sandbox import UNLIMITED, InfrastructureError
        from swegc.runtime.sandbox.docker_shell import DockerShellSandbox

        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{log_name}.log"
        # Build settings reach the script through a mounted file, not the container's Env:
        # `docker commit` copies a container's Env, Cmd and Volumes into the image.
        exports = "".join(f"export {k}={shlex.quote(v)}\n"
                          for k, v in sorted(self.network.environment().items()))
        (work / "in" / "build.sh").write_text(exports + script)
        mounts = [Mount("/swegc/in", str(work / "in"), type="bind", read_only=True),
                  Mount("/swegc/out", str(work / "out"), type="bind")]
        ca = self.network.ca_source()
        if ca:
            mounts.append(Mount(CA_MOUNT, ca, type="bind", read_only=True))
        # pip's and uv's caches live on the host, shared by every build and never in a layer
        # (what a BuildKit cache mount does): packages are downloaded once per machine.
        self.package_cache.mkdir(parents=True, exist_ok=True)
        mounts.append(Mount("/root/.cache", str(self.package_cache), type="bind"))
        all_labels = {f"{LABEL}.version": __version__, **self.labels, **labels}
        start = time.monotonic()
        box = DockerShellSandbox(parent, UNLIMITED, workdir="/", mounts=mounts, init=False,
                                 role="build")
        try:
            box.start()
            result = box.execute("bash /swegc/in/build.sh", timeout_s=self.timeout_s, cwd="/")
            timed_out = result.exit_code == 124 and result.duration_s >= self.timeout_s
            exit_code = -1 if timed_out else result.exit_code
            output = result.output
            log = f"# build of {name}\n# script:\n{script}\n# output:\n{output}"
            log_path.write_text(redact(log, self.network.secrets()))
            if exit_code != 0:
                tail = redact("\n".join(output.splitlines()[-20:]), self.network.secrets())
                box.close()  # its CPU time is read as it closes
                raise BuildFailed(failure_reason(exit_code, output),
                                  f"{name} (exit {exit_code}):\n{tail}", str(log_path),
                                  box.cpu_s or 0.0, time.monotonic() - start)
            repository, _, tag = name.rpartition(":")
            freeze = _read_freeze(work)
            if freeze:  # the lock travels with the image, for builds that only find it
                all_labels[FREEZE_LABEL] = json.dumps(list(freeze))
            label_changes = ["LABEL " + " ".join(f"{k}={json.dumps(v)}"
                                                 for k, v in sorted(all_labels.items()))]
            image = box.commit(repository, tag, [
                *changes, 'CMD ["bash"]', "WORKDIR /testbed", *label_changes])
        except (InfrastructureError, docker.errors.APIError) as exc:
            raise BuildFailed("docker_error", redact(str(exc), self.network.secrets()),
                              str(log_path)) from exc
        finally:
            box.close()
        return image, time.monotonic() - start, str(log_path), box.cpu_s or 0.0
