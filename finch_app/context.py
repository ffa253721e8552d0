"""The composition root: the one place the app's parts are built and wired together.

Settings → model, data providers, agent → run service (with its registry and recorder) and
read side. Built once per process, on first use (the app's start-up asks for it). Every
adapter — Reflex states, HTTP routes, the CLI — gets its parts from `app_context()`.
Tests build their own with `build_context(...)` (a scripted model, fake providers) and
install it with `use_context`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from finch_app.agent.loop import Agent
from finch_app.agent.model import ChatModel
from finch_app.agent.prompts import SYSTEM_PROMPT
from finch_app.agent.tools import ToolRegistry
from finch_app.providers.base import Providers
from finch_app.reads import Reads
from finch_app.runs.approvals import ApprovalPolicy, parse_policy
from finch_app.runs.registry import LocalRegistry, RunRegistry
from finch_app.runs.service import RunService
from finch_app.settings import Settings, get_settings
from finch_app.tools import default_registry

if TYPE_CHECKING:
    from finch_app.mcp.client import McpClients
    from finch_app.providers.brokerage import SnapTradeLink


@dataclass
class AppContext:
    settings: Settings
    runs: RunService
    reads: Reads
    providers: Providers
    brokerage: SnapTradeLink | None
    """SnapTrade, when its credentials are configured."""
    mcp: McpClients | None = None
    """The MCP servers of `FINCH_MCP_CONFIG`, whose tools the agent may use (started with the app)."""


def build_model(settings: Settings) -> ChatModel:
    """The offline model without an API key, else the OpenAI-compatible one."""
    if settings.offline_model:
        from finch_app.models.offline import OfflineChatModel

        return OfflineChatModel()
    from finch_app.models.openai import OpenAIChatModel

    return OpenAIChatModel.from_settings(settings)


def build_providers(settings: Settings, brokerage: SnapTradeLink | None = None) -> Providers:
    """The tools' data sources: market data (live, cached, sample) and the user's portfolio."""
    from finch_app.providers.brokerage import BrokeragePortfolio
    from finch_app.providers.market import MarketDataService
    from finch_app.providers.portfolio import DbPortfolio, HoldingsBook

    return Providers(
        market=MarketDataService.from_settings(settings),
        portfolio=(
            BrokeragePortfolio(brokerage, sync_interval_s=settings.snaptrade_sync_interval_s)
            if brokerage
            else DbPortfolio()
        ),
        brokerage_available=brokerage is not None,
        holdings=HoldingsBook(),
    )


def build_registry(settings: Settings) -> RunRegistry:
    """With Redis (several workers) runs are known across workers; without, in this process."""
    if not settings.redis_url:
        return LocalRegistry()
    from finch_app.runs.redis import RedisRegistry

    return RedisRegistry(settings.redis_url, prefix=settings.redis_prefix, lease_s=settings.run_lease_s)


def build_context(
    settings: Settings,
    *,
    model: ChatModel | None = None,
    tools: ToolRegistry | None = None,
    providers: Providers | None = None,
    registry: RunRegistry | None = None,
) -> AppContext:
    """Everything the app needs, from settings; the keyword arguments replace the configured
    parts (tests: a scripted model, tools of their own, fake providers, a shared registry).
    The MCP servers' tools join the agent's own (`tools`, or Finch's)."""
    from finch_app.mcp.client import McpClients
    from finch_app.providers.brokerage import SnapTradeLink

    brokerage = SnapTradeLink.from_settings(settings)
    providers = providers or build_providers(settings, brokerage)
    mcp = McpClients.from_settings(settings)
    own = tools or default_registry()
    agent = Agent(
        model=model or build_model(settings),
        registry=own.with_source(mcp) if mcp is not None else own,
        deps=providers,
        system_prompt=SYSTEM_PROMPT,
        max_rounds=settings.max_tool_rounds,
        tool_result_max_chars=settings.tool_result_max_chars,
    )
    runs = RunService(
        agent=agent,
        settings=settings,
        registry=registry or build_registry(settings),
        approvals=ApprovalPolicy(parse_policy(settings.tool_approvals)),
    )
    return AppContext(
        settings=settings,
        runs=runs,
        reads=Reads(transcript_page=settings.transcript_page),
        providers=providers,
        brokerage=brokerage,
        mcp=mcp,
    )


_context: AppContext | None = None
_installed = False


def app_context() -> AppContext:
    """The process's context, built from the settings on first use (and again if the settings
    were reloaded, which only tests do)."""
    global _context
    settings = get_settings()
    if _context is None or (not _installed and _context.settings is not settings):
        _context = build_context(settings)
    return _context


def use_context(context: AppContext | None) -> None:
    """Install a context built elsewhere (tests); None forgets it, so the next use builds anew."""
    global _context, _installed
    _context, _installed = context, context is not None
