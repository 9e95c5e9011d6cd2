"""The command line as a user meets it: fast start, clear errors, exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

SWEGC = [sys.executable, "-m", "swegc.cli"]


def swegc(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SWEGC, *args], capture_output=True, text=True, cwd=cwd)


HEAVY = ("docker", "datasets", "torch", "trl", "pyarrow", "github", "ray", "transformers")


@pytest.mark.parametrize("argv", [None, ["--help"], ["rollout", "--help"], ["train", "rft", "--help"],
                                  ["train", "verifier", "--help"], ["evaluate", "--help"],
                                  ["compile", "--help"], ["publish", "--help"]],
                         ids=lambda argv: "import swegc" if argv is None else " ".join(argv))
def test_importing_swegc_or_asking_for_help_imports_no_heavy_library(argv):
    run = "" if argv is None else (
        f"from swegc.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n    pass\n")
    code = (f"import sys, swegc\n{run}"
            f"print(sorted(set({HEAVY!r}) & set(sys.modules)), file=sys.stderr)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stderr.strip().splitlines()[-1] == "[]"


def test_help_lists_every_command():
    result = swegc("--help")
    assert result.returncode == 0
    for command in ("check", "compile", "status", "images", "mine", "train", "rerank", "metrics",
                    "evaluate", "rollout", "publish"):
        assert command in result.stdout


def test_every_command_lives_in_its_package_commands_module_and_loads():
    from swegc.cli import COMMANDS, cli

    assert sorted(module for module, _, _ in COMMANDS.values() if not module.endswith(".commands")) == []
    ctx = click.Context(cli)
    for name in COMMANDS:
        assert isinstance(cli.get_command(ctx, name), click.Command), name


def test_check_reports_a_bad_spec_with_file_and_line_and_no_traceback(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text("repo: acme/calc\nsource: {clone: ., git: {}}\ntests:\n  comand: pytest\n")
    result = swegc("check", str(spec))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{spec}:4: tests: unknown key 'comand' (did you mean 'command'?)" in result.stderr


def test_check_names_a_clone_or_submodule_clone_that_does_not_exist_with_its_line(tmp_path):
    spec = tmp_path / "calc.yaml"
    spec.write_text("extends: swegc:pytest\nrepo: acme/calc\nsource:\n  clone: ../gone\n"
                    "  jsonl: records.jsonl\n  submodules: {vendor/lib: ../lib-gone}\n"
                    'version: {from: fixed, value: "1.0"}\nenvironments: [{python: "3.11"}]\n')
    result = swegc("check", str(spec))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert f"{spec}:4: source.clone: {tmp_path.parent / 'gone'} does not exist" in result.stderr
    assert f"{tmp_path.parent / 'lib-gone'} (submodule vendor/lib) does not exist" in result.stderr
    assert swegc("check", "--without-clones", str(spec)).returncode == 0


def test_check_of_a_missing_path_is_a_clear_error(tmp_path):
    result = swegc("check", str(tmp_path / "nope"))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "nope" in result.stderr


def test_status_of_a_folder_that_is_not_a_build_says_how_to_make_one(tmp_path):
    result = swegc("status", str(tmp_path))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "swegc compile" in result.stderr


def test_images_rm_unused_by_a_build_keeps_exactly_the_images_the_build_uses(tmp_path, docker_engine):
    import json

    from swegc.docker_client import LABEL

    base = docker_engine.images.get("swegc-base:bookworm")
    made = []
    for name in ("swegc-env/acme__keep:1", "swegc-env/acme__stale:1"):
        repo, tag = name.split(":")
        container = docker_engine.containers.create(base.id, ["true"])
        container.commit(repository=repo, tag=tag, changes=[f"LABEL {LABEL}.kind=env"])
        container.remove()
        made.append(name)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "instances.jsonl").write_text("")
    (tmp_path / "reports" / "envs.jsonl").write_text(json.dumps(
        {"env_key": "k", "repo": "acme/keep", "status": "built", "image": made[0]}) + "\n")
    try:
        result = swegc("images", "rm", "--unused-by", str(tmp_path), "--kind", "env", "--dry-run")
        assert result.returncode == 0, result.stderr
        assert f"would remove {made[1]}" in result.stdout
        assert made[0] not in result.stdout
        assert docker_engine.images.get(made[1])  # a dry run removes nothing
    finally:
        for name in made:
            try:
                docker_engine.images.remove(name, force=True)
            except Exception:
                pass
