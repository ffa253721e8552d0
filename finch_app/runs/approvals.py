"""Who must approve what: the operator's policy (`FINCH_TOOL_APPROVALS`) and each user's choices.

The agent core only asks "does this call wait for the user?" (`agent.approvals.ApprovalRule`);
this module answers it for one user and run: tools the operator allows run at once, tools the
operator requires ask every time, and in between a tool that changes data asks unless the user
chose to always allow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from finch_app.agent.approvals import ApprovalRule

Policy = Literal["ask", "allow", "require"]
POLICIES: tuple[Policy, ...] = ("ask", "allow", "require")


class BadPolicy(ValueError):
    """`FINCH_TOOL_APPROVALS` does not parse; the message says where."""


def parse_policy(spec: str) -> dict[str, Policy]:
    """`"record_trade=ask, get_portfolio=require"` → {tool: policy}."""
    policy: dict[str, Policy] = {}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, _, value = part.partition("=")
        name, value = name.strip(), value.strip().lower()
        if not name or value not in POLICIES:
            raise BadPolicy(f"FINCH_TOOL_APPROVALS: {part!r} is not `tool=ask|allow|require`.")
        policy[name] = value  # type: ignore[assignment]
    return policy


@dataclass(frozen=True)
class ApprovalPolicy:
    """The operator's policy; `for_user` gives the rule one run of one user follows."""

    per_tool: dict[str, Policy]

    def for_user(self, allowed: set[str]) -> ApprovalRule:
        """The rule for a user who chose to always allow the tools in `allowed`."""

        def needs_approval(tool_name: str, changes_data: bool) -> bool:
            match self.per_tool.get(tool_name):
                case "allow":
                    return False
                case "require":
                    return True
                case _:
                    return changes_data and tool_name not in allowed

        return needs_approval

    def user_may_always_allow(self, tool_name: str) -> bool:
        return self.per_tool.get(tool_name) != "require"
