"""MCP in and out: Finch uses other servers' tools (`client`), and serves its own (`server`, at `/mcp`).

- `config`: the operator's `FINCH_MCP_CONFIG` file, checked and resolved;
- `client`: the connections to those servers and their tools for the agent's registry;
- `content`: what a remote tool returned, as text and tables (never HTML or media);
- `names`: `<server>__<tool>` names, and how a card shows them;
- `server`: Finch's data tools for any MCP client, over Streamable HTTP, authenticated.
"""
