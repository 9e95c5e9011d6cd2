"""Env and instance images on the real Docker engine."""

from __future__ import annotations

import pytest

from swegc.git import GitRepo
from swegc.images.builder import BuildFailed, EnvRecipe, ImageBuilder, InstanceRecipe
from swegc.images.network import BuildNetwork
from swegc.runtime.sandbox.docker_exec import DockerExecSandbox as Sandbox

pytestmark = pytest.mark.docker


@pytest.fixture
def history(git_builder):
    """main: c1 (tag v1.0) -> c2 -> c3 (the "fix", tag v1.1) with a side branch."""
    g = git_builder
    c1 = g.commit("first", {"pkg/__init__.py": "VALUE = 1\n", "setup.py":
                            "from setuptools import setup\nsetup(name='pkg', version='1.0', packages=['pkg'])\n"})
    g.git("tag", "v1.0")
    c2 = g.commit("second", {"pkg/__init__.py": "VALUE = 2\n"})
    c3 = g.commit("the fix: secret-marker", {"pkg/__init__.py": "VALUE = 3\n"})
    g.git("tag", "-a", "v1.1", "-m", "release")
    g.git("checkout", "-q", "-b", "feature", c1)
    g.commit("unmerged side work", {"side.txt": "x\n"})
    g.git("checkout", "-q", "main")
    return {"repo": GitRepo.open(g.path), "c1": c1, "c2": c2, "c3": c3}


@pytest.fixture
def builder(history, tmp_path, docker_engine):
    return ImageBuilder(history["repo"], BuildNetwork.resolve({}), tmp_path / "logs")


def _cleanup(client, *images):
    for image in images:
        try:
            client.images.remove(image.name, force=True)
        except Exception:
            pass


def test_instance_image_holds_the_base_commit_and_nothing_after_it(history, builder, docker_engine):
    env = builder.env_image(EnvRecipe(repo="acme/pkg", base_image="swegc-base:bookworm",
                                      env_commit=history["c1"], install=("pip install -e .",)))
    inst = builder.instance_image(InstanceRecipe("acme__pkg-7", history["c2"],
                                                 install=("pip install -e .",)), env, history["c1"])
    try:
        with Sandbox(inst.name) as box:
            head = box.run("git rev-parse HEAD").output.strip()
            assert head == history["c2"]
            assert box.run("python -c 'import pkg; print(pkg.VALUE)'").output.strip() == "2"
            # The fix commit and the unmerged side commit are not in the object store at all.
            assert box.run(f"git cat-file -e {history['c3']}").exit_code != 0
            assert "secret-marker" not in box.run("git log --all --format=%s").output
            assert box.run("git tag").output.split() == ["v1.0"]
            assert box.run("git remote").output.strip() == ""
            assert box.run("git reflog --all").output.strip() == ""
            assert box.run("git for-each-ref refs/heads refs/remotes refs/swegc").output.strip() == ""
            assert box.run("git status --porcelain").output.strip() == ""
        # The instance adds one small layer on top of the env.
        assert inst.layer_bytes < 5_000_000
        assert env.size_bytes > 100_000_000
        labels = docker_engine.images.get(inst.name).labels
        assert labels["org.swegc.kind"] == "instance"
        assert labels["org.swegc.instance"] == "acme__pkg-7"
        assert labels["org.swegc.version"]
    finally:
        _cleanup(docker_engine, inst, env)


def test_an_unchanged_recipe_reuses_the_image_and_a_changed_one_gets_a_new_tag(history, tmp_path, docker_engine):
    # A proxy with credentials reaches the build script but never the image or the log.
    network = BuildNetwork.resolve({"no_proxy": "*", "https_proxy": "http://bob:s3cr3tpw@127.0.0.1:9"})
    builder = ImageBuilder(history["repo"], network, tmp_path / "logs")
    recipe = EnvRecipe(repo="acme/pkg", base_image="swegc-base:bookworm", env_commit=history["c1"],
                       upgrade_pip=False)
    first = builder.env_image(recipe)
    again = builder.env_image(recipe)
    changed = builder.env_image(EnvRecipe(**{**recipe.__dict__, "env": (("FOO", "bar baz"),)}))
    try:
        assert not first.reused and again.reused
        assert again.id == first.id and again.name == first.name
        assert changed.name != first.name
        env = docker_engine.images.get(changed.name).attrs["Config"]["Env"]
        assert "FOO=bar baz" in env
        assert not any(e.startswith(("PIP_CERT", "SSL_CERT_FILE", "HTTP_PROXY")) for e in env)
        assert first.freeze == ()  # nothing installed beyond the bare venv
        assert not any("s3cr3tpw" in e for e in env)
        assert "s3cr3tpw" not in open(first.log_path).read()
    finally:
        _cleanup(docker_engine, first, changed)


def test_a_failing_install_raises_build_failed_with_the_log_tail(history, builder, docker_engine):
    recipe = EnvRecipe(repo="acme/pkg", base_image="swegc-base:bookworm", env_commit=history["c1"],
                       upgrade_pip=False, install=("echo about to fail; exit 3",))
    with pytest.raises(BuildFailed) as info:
        builder.env_image(recipe)
    assert info.value.reason == "build_failed"
    assert "about to fail" in info.value.detail
    assert "exit 3" in info.value.detail
    assert "about to fail" in open(info.value.log_path).read()


def test_files_put_into_a_sandbox_keep_the_modes_of_existing_folders(history, builder, docker_engine):
    env = builder.env_image(EnvRecipe(repo="acme/pkg", base_image="swegc-base:bookworm",
                                      env_commit=history["c1"], upgrade_pip=False))
    try:
        with Sandbox(env.name) as box:
            box.put_file("/tmp/swegc/deep/x.patch", b"hello\n")
            assert box.run("cat /tmp/swegc/deep/x.patch").output == "hello\n"
            assert box.run("stat -c %a /tmp").output.strip() == "1777"
    finally:
        _cleanup(docker_engine, env)


def test_a_rebuilt_env_installs_the_package_set_recorded_by_the_first_build(history, builder, docker_engine):
    recipe = EnvRecipe(repo="acme/pkg", base_image="swegc-base:bookworm", env_commit=history["c1"],
                       upgrade_pip=False, pip=("six",))
    first = builder.env_image(recipe)
    assert any(line.startswith("six==") for line in first.freeze)
    docker_engine.images.remove(first.name, force=True)
    rebuilt = builder.env_image(recipe, lock=first.freeze)
    try:
        assert not rebuilt.reused and rebuilt.name == first.name  # same inputs, same tag
        assert rebuilt.freeze == first.freeze
        assert "+++ locked packages" in open(rebuilt.log_path).read()
    finally:
        _cleanup(docker_engine, rebuilt)


def test_an_env_image_found_already_built_still_gives_its_package_lock(history, builder, docker_engine):
    recipe = EnvRecipe(repo="acme/pkg", base_image="swegc-base:bookworm", env_commit=history["c1"],
                       upgrade_pip=False, pip=("six",))
    first = builder.env_image(recipe)
    try:
        found = builder.env_image(recipe)
        assert found.reused and found.freeze == first.freeze
        assert any(line.startswith("six==") for line in found.freeze)
    finally:
        _cleanup(docker_engine, first)


def test_a_build_that_waited_in_vain_for_the_shared_package_cache_is_tried_again_not_rejected():
    from swegc.compiler.units import TRANSIENT_BUILD_FAILURES
    from swegc.images.builder import failure_reason

    # What uv said in a mypy trial while another repository's build held the editable-build lock
    # of /testbed (the same path in every build) for more than five minutes.
    said = ("error: Failed to acquire lock on the distribution cache\n  cause: Could not acquire "
            "lock\n  cause: Timeout (300s) when waiting for lock on `/root/.cache/uv/sdists-v11/"
            "editable/a005330d8cf01d63/.lock`, is another uv process running?")
    assert failure_reason(1, said) == "cache_locked" in TRANSIENT_BUILD_FAILURES
    assert failure_reason(1, "error: No matching distribution") == "build_failed"
    assert failure_reason(-1, said) == "build_timeout"


def test_an_image_removed_between_listing_and_inspecting_is_left_out_not_a_crash(
        docker_engine, tmp_path):
    """The engine lists ids, then each is inspected: a parallel process's removal in between
    made ``images.list`` raise ImageNotFound and end a compile."""
    import subprocess
    import uuid

    from swegc.docker_client import images_of, list_images

    mark = uuid.uuid4().hex
    (tmp_path / "Dockerfile").write_text(f"FROM swegc-base:bookworm\nLABEL org.swegc.test={mark}\n")
    name = f"swegc-test/vanishing:{mark[:12]}"
    subprocess.run(["docker", "build", "-q", "-t", name, str(tmp_path)], check=True,
                   capture_output=True)
    filters = {"label": f"org.swegc.test={mark}"}
    try:
        assert [i.tags for i in list_images(docker_engine, filters=filters)] == [[name]]
        listed = docker_engine.api.images(filters=filters)
    finally:
        subprocess.run(["docker", "rmi", "-f", name], check=True, capture_output=True)
    assert len(listed) == 1 and images_of(docker_engine, listed) == []
