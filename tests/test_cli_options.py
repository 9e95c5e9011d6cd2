"""Options made from the configuration dataclasses: what a user types is what the run gets."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click
import pytest

from swegc.cli_options import FieldOption, dataclass_options, from_options
from swegc.runtime.agent import AgentLimits
from swegc.runtime.harness.hack_policy import HackOptions
from swegc.runtime.commands import rollout, rollout_options
from swegc.runtime.policies import PolicyOptions
from swegc.runtime.rollout import RolloutOptions
from swegc.runtime.sandbox import SandboxLimits
from swegc.train.commands import rft, verifier
from swegc.train.config import Hyper, RFTConfig, VerifierConfig


def _parsed(command: click.Command, args: list[str]) -> dict:
    """The option values the command's function gets besides its arguments (RUNS, DATASET)."""
    arguments = {p.name for p in command.params if isinstance(p, click.Argument)}
    params = command.make_context(command.name, args).params
    return {name: value for name, value in params.items() if name not in arguments}


def test_train_with_no_settings_trains_with_the_dataclass_defaults(tmp_path):
    values = _parsed(rft, [str(tmp_path), "--base-model", "tiny", "--out", str(tmp_path / "out")])
    hyper = from_options(Hyper, values)
    assert hyper == Hyper()
    assert from_options(RFTConfig, values, hyper=hyper) == RFTConfig("tiny", str(tmp_path / "out"))


def test_train_settings_reach_the_config_under_their_short_names(tmp_path):
    template = tmp_path / "chat.jinja"
    template.write_text("{{ messages }}")
    values = _parsed(rft, [str(tmp_path), "--base-model", "tiny", "--out", str(tmp_path / "out"),
                           "--lr", "3e-4", "--epochs", "2", "--batch-size", "4", "--lora",
                           "--no-merge-lora", "--precision", "bf16", "--no-gradient-checkpointing",
                           "--cap", "1", "--chat-template", str(template),
                           "--include-suspicious"])
    hyper = from_options(Hyper, values)
    assert hyper == Hyper(learning_rate=3e-4, num_epochs=2.0, effective_batch_size=4, lora=True,
                          merge_lora=False, precision="bf16", gradient_checkpointing=False)
    config = from_options(RFTConfig, values, hyper=hyper)
    assert (config.cap, config.chat_template, config.include_suspicious) == (
        1, str(template), True) and values == {
        "dry_run": False, "push_to_hub": None}


def test_a_precision_that_is_not_offered_is_refused_before_anything_runs(tmp_path):
    with pytest.raises(click.BadParameter, match="fp16"):
        _parsed(rft, [str(tmp_path), "--base-model", "m", "--out", "o", "--precision", "fp16"])


def test_the_verifier_reads_problem_statements_from_instances(tmp_path):
    values = _parsed(verifier, ["--base-model", "m", "--out", "o", "--instances", str(tmp_path),
                                "--no-balance", "--yes", "Y"])
    config = from_options(VerifierConfig, values, hyper=from_options(Hyper, values))
    assert (config.statements, config.balance, config.yes, config.no) == (str(tmp_path), False, "Y", "NO")


def test_every_training_setting_is_an_option_with_the_field_default_and_docstring():
    params = {p.name: p for p in rft.params}
    for field in dataclasses.fields(Hyper):
        assert params[field.name].default == field.default, field.name
    help_text = rft.get_help(click.Context(rft, terminal_width=200))
    assert "Recompute activations to save memory (default: on when a GPU is used)." in help_text
    assert "--lora / --full" in help_text and "--lr FLOAT" in help_text


def test_a_rollout_with_no_settings_gets_the_defaults_of_each_configuration(tmp_path):
    values = _parsed(rollout, [str(tmp_path), "--policy", "gold", "--out", str(tmp_path / "runs")])
    assert rollout_options(values) == RolloutOptions(
        out=tmp_path / "runs", policy="gold", policy_options=PolicyOptions(seed=0),
        limits=AgentLimits(), sandbox=SandboxLimits(), jobs=2, hacks=HackOptions())


def test_rollout_settings_reach_the_policy_the_agent_and_the_sandbox(tmp_path):
    values = _parsed(rollout, [str(tmp_path), "--policy", "openai", "--out", str(tmp_path / "runs"),
                               "--model", "m", "--temperature", "0.7", "--seed", "5",
                               "--wall-time", "60", "--command-timeout", "9", "--step-limit", "7",
                               "--memory", "2g", "--cpus", "2", "--instance", "a", "--instance", "b",
                               "--samples", "3", "--executor", "ray", "--ray-address", "auto",
                               "--hack-policy", "refuse"])
    options = rollout_options(values)
    assert options.hacks == HackOptions(hack_policy="refuse")
    assert options.policy_options == PolicyOptions(model="m", temperature=0.7, seed=5)
    assert options.limits == AgentLimits(step_limit=7, wall_time_s=60.0, command_timeout_s=9.0)
    assert options.sandbox == SandboxLimits(memory="2g", cpus=2.0)
    assert (options.only, options.samples, options.jobs, options.executor, options.ray_address) == (
        ("a", "b"), 3, None, "ray", "auto")


def test_an_undocumented_field_cannot_become_an_option():
    @dataclasses.dataclass
    class Settings:
        documented: int = 1
        """Has help."""
        bare: int = 2

    with pytest.raises(TypeError, match=r"Settings\.bare has no docstring"):
        dataclass_options(Settings)
    with pytest.raises(TypeError, match="Settings has no field nope"):
        dataclass_options(Settings, only=("documented",), fields={"nope": FieldOption("--n")})


def test_a_field_of_a_type_with_no_command_line_form_must_be_given_one():
    @dataclasses.dataclass
    class Settings:
        where: dict[str, str] = dataclasses.field(default_factory=dict)
        """A mapping."""

    with pytest.raises(TypeError, match="no command-line type"):
        dataclass_options(Settings)
    command = dataclass_options(Settings, fields={"where": FieldOption(type=click.STRING,
                                                                       default="x")})(
        click.command("c")(lambda **kw: None))
    assert command.make_context("c", ["--where", "y"]).params == {"where": "y"}


def test_a_path_field_is_parsed_as_a_path(tmp_path):
    @dataclasses.dataclass
    class Settings:
        root: Path
        """Where."""

    command = dataclass_options(Settings)(click.command("c")(lambda **kw: None))
    assert command.make_context("c", ["--root", str(tmp_path)]).params == {"root": tmp_path}
    with pytest.raises(click.MissingParameter):
        command.make_context("c", [])
