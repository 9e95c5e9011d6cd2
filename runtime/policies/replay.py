"""A policy that re-issues the assistant messages of a recorded trajectory, in order.

Replaying a rollout in a fresh sandbox of the same image runs the same tool calls again and so
reproduces its patch: a check that a trajectory (and the image it names) still means what it
meant, and a way to re-grade or re-record old runs. The source is a JSONL file of
``Trajectory.to_json()`` rows, a parquet file, or a Hub-layout folder (``data/*.jsonl|parquet``);
rollout ``sample`` of an instance replays that instance's ``sample``-th trajectory.
"""

from __future__ import annotations

import copy
from typing import Any

from swegc.errors import InputError
from swegc.records import Instance, Trajectory
from swegc.runtime.policies import Completion, PolicyError, PolicyOptions


def read_trajectories(source: str, instance_id: str) -> list[Trajectory]:
    """Every recorded trajectory of ``instance_id`` in ``source``, in file order."""
    from swegc.trajectory_dataset import read_trajectories as read_run

    return [traj for _, traj in read_run(source) if traj.instance_id == instance_id]


class ReplayPolicy:
    name = "replay"

    def __init__(self, trajectory: Trajectory, source: str = ""):
        self.trajectory, self.source = trajectory, source
        self.script = [m for m in trajectory.messages if m.get("role") == "assistant"]
        self.calls = 0

    def settings(self) -> dict[str, Any]:
        return {"name": self.name, "source": self.source, "run_id": self.trajectory.run_id,
                "replayed_policy": self.trajectory.policy}

    def complete(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]]) -> Completion:
        if self.calls >= len(self.script):
            raise PolicyError(f"the recorded trajectory {self.trajectory.run_id} of "
                              f"{self.trajectory.instance_id} has only {len(self.script)} "
                              "assistant message(s); the replay went further than the recording")
        message = copy.deepcopy(self.script[self.calls])
        self.calls += 1
        return Completion(message)


def make(options: PolicyOptions, instance: Instance, sample: int) -> ReplayPolicy:
    if not options.replay:
        raise InputError("the replay policy needs a trajectory source (options.replay)")
    instance_id = instance.instance_id
    found = read_trajectories(options.replay, instance_id)
    if not found:
        raise InputError(f"{options.replay}: no trajectory of {instance_id} to replay")
    if sample >= len(found):
        raise InputError(f"{options.replay}: {instance_id} has {len(found)} trajectory(ies); "
                         f"sample {sample} has none to replay")
    return ReplayPolicy(found[sample], source=options.replay)
