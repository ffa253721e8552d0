"""Models that answer: implementations of `finch_app.agent.model.ChatModel`.

`offline` is Finch's built-in rule-based model (no key, no network); `openai` talks to any
OpenAI-compatible server. The agent core knows only the protocol.
"""
