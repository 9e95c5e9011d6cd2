"""Selecting trajectories for rejection-sampling fine-tuning (RFT).

Keep resolved trajectories, at most ``cap`` per instance; a trajectory whose patch looks like
reward hacking (its ``suspicious`` column) is left out unless ``include_suspicious``. Within an instance, candidates are
ordered by fewer LLM calls (assistant messages), then fewer tokens (prompt + completion tokens
as recorded, else the tokenized length), then ``run_id`` and a content hash, so the choice does
not depend on file order. A trajectory longer than the context length is dropped, never
truncated, and the next candidate takes its place. Every trajectory gets a decision and a reason.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from swegc.records import Trajectory
from swegc.train.runs import Located

KEPT = "kept"
UNRESOLVED = "unresolved"
SUSPICIOUS = "suspicious"
NO_ASSISTANT = "no_assistant_turns"
TOO_LONG = "over_context_length"
OVER_CAP = "over_cap"


def llm_calls(traj: Trajectory) -> int:
    """How many times the model was called: the number of assistant messages."""
    return sum(1 for m in traj.messages if m.get("role") == "assistant")


def trajectory_digest(traj: Trajectory) -> str:
    """sha256 of the whole trajectory: the last tie-breaker between two equal candidates (not
    ``swegc.hashing.content_hash``, the short key of a unit of work)."""
    return hashlib.sha256(json.dumps(traj.to_json(), sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Decision:
    """What happened to one trajectory, and why."""

    where: str
    instance_id: str
    run_id: str
    decision: str
    reason: str
    llm_calls: int
    tokens: int
    length: int | None

    def to_json(self) -> dict[str, object]:
        return {"where": self.where, "instance_id": self.instance_id, "run_id": self.run_id,
                "decision": self.decision, "reason": self.reason, "llm_calls": self.llm_calls,
                "tokens": self.tokens, "length": self.length}


@dataclass(frozen=True)
class Selection:
    """The kept trajectories (in a deterministic order) and a decision for every input."""

    kept: list[Located]
    decisions: list[Decision]

    def counts(self) -> Counter[str]:
        return Counter(d.decision for d in self.decisions)

    def summary(self) -> str:
        counts = self.counts()
        instances = len({d.instance_id for d in self.decisions})
        kept_instances = len({loc.trajectory.instance_id for loc in self.kept})
        parts = [f"kept {counts.get(KEPT, 0)} of {len(self.decisions)} trajectories "
                 f"({kept_instances} of {instances} instances)"]
        for key in (UNRESOLVED, SUSPICIOUS, NO_ASSISTANT, TOO_LONG, OVER_CAP):
            if counts.get(key):
                parts.append(f"{counts[key]} {key.replace('_', ' ')}")
        return "; ".join(parts)


def select(runs: list[Located], cap: int, max_length: int,
           length_of: Callable[[Trajectory], int], include_suspicious: bool = False) -> Selection:
    """Capped selection; ``length_of`` gives a trajectory's tokenized length (called lazily)."""
    if cap < 1:
        raise ValueError("cap must be at least 1")
    decisions: list[Decision] = []
    by_instance: dict[str, list[Located]] = defaultdict(list)

    def decide(loc: Located, decision: str, reason: str, length: int | None) -> None:
        t = loc.trajectory
        decisions.append(Decision(loc.where, t.instance_id, t.run_id, decision, reason,
                                  llm_calls(t), t.prompt_tokens + t.completion_tokens, length))

    for loc in runs:
        t = loc.trajectory
        if not t.resolved:
            decide(loc, UNRESOLVED, "not resolved by the instance's tests", None)
        elif t.suspicious and not include_suspicious:
            decide(loc, SUSPICIOUS, "its patch looks like reward hacking: " + "; ".join(
                f"{f.get('file')}:{f.get('line')} {f.get('rule')}" for f in t.suspicious[:5]), None)
        elif llm_calls(t) == 0:
            decide(loc, NO_ASSISTANT, "has no assistant message to learn from", None)
        else:
            by_instance[t.instance_id].append(loc)

    kept: list[Located] = []
    for instance_id in sorted(by_instance):
        lengths: dict[int, int] = {}

        def key(loc: Located) -> tuple[int, int, str, str]:
            t = loc.trajectory
            tokens = t.prompt_tokens + t.completion_tokens
            if tokens <= 0:
                tokens = lengths.setdefault(id(loc), length_of(t))
            return (llm_calls(t), tokens, t.run_id, trajectory_digest(t))

        ranked = sorted(by_instance[instance_id], key=key)
        taken = 0
        for rank, loc in enumerate(ranked):
            if taken >= cap:
                decide(loc, OVER_CAP, f"instance already has {cap} shorter trajectories "
                       f"(rank {rank + 1} of {len(ranked)})", lengths.get(id(loc)))
                continue
            length = lengths.get(id(loc))
            if length is None:
                length = length_of(loc.trajectory)
            if length > max_length:
                decide(loc, TOO_LONG, f"{length} tokens > max length {max_length}", length)
                continue
            taken += 1
            kept.append(loc)
            decide(loc, KEPT, f"rank {rank + 1} of {len(ranked)} resolved "
                   f"({llm_calls(loc.trajectory)} LLM calls)", length)
    return Selection(kept, decisions)
