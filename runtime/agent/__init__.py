"""The agent: a loop that asks a policy for tool calls and runs them in a sandbox.

    from swegc.runtime.agent import AgentLimits, run_agent
    result = run_agent(policy, sandbox, row["problem_statement"], AgentLimits(step_limit=30))
    result.exit_status, result.patch, result.messages

``TOOLS`` are the OpenAI function schemas the model sees (bash, str_replace_editor, submit).
"""

from swegc.runtime.agent.loop import AgentLimits, AgentResult, run_agent
from swegc.runtime.agent.tools import TOOLS

__all__ = ["AgentLimits", "AgentResult", "TOOLS", "run_agent"]
