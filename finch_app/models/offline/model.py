"""`OfflineChatModel`: Finch's built-in model, so it answers with no API key.

It speaks the `ChatModel` protocol like the OpenAI model does. From the conversation it
reads what was asked (`intents`), asks for the tools that answer it (`plan`), and once
their results are back writes the answer from them (`answers`); messages that need no
tools get a short reply (`replies`). It reads tool results only as the JSON the loop
hands over, so it depends on the tools' field names, not their code.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

from finch_app.agent.model import ChatMessage, ModelOutput, TextDelta, ToolCallRequest
from finch_app.models.offline import answers, plan, replies, titles
from finch_app.models.offline.intents import read_ask, read_context
from finch_app.models.offline.results import current_turn

OFFLINE_LABEL = "Offline model"


class OfflineChatModel:
    """Rule-based `ChatModel`: understands the question, calls tools, writes the answer from results."""

    def __init__(self, *, token_delay_s: float = 0.01, chunk_words: int = 3) -> None:
        self.token_delay_s = token_delay_s
        self.chunk_words = chunk_words
        self._call_counter = 0

    @property
    def label(self) -> str:
        return OFFLINE_LABEL

    def title_for(self, question: str) -> str:
        """A conversation title from its first question ("Portfolio vs Senate trades"); pure and fast."""
        return titles.title_for(question)

    async def name_conversation(self, question: str, answer: str) -> str:
        """A better title once a question names a topic: a chat that began with "hello" becomes
        "Portfolio review" when the portfolio comes up ("" while nothing does)."""
        return titles.topic_title(question)

    async def stream(
        self, messages: list[ChatMessage], tools: list[dict[str, Any]]
    ) -> AsyncIterator[ModelOutput]:
        available = {t["function"]["name"] for t in tools}
        last_user = max((i for i, m in enumerate(messages) if m.role == "user"), default=len(messages))
        context = read_context(messages[:last_user])
        question = messages[last_user].content or "" if last_user < len(messages) else ""
        ask = read_ask(question, context)
        rounds, results = current_turn(messages)
        if rounds == 0:
            calls = [c for c in plan.first_round(ask) if c[0] in available]
            if calls:
                for call in self._requests(calls):
                    yield call
                return
            text = replies.reply(ask, context)
        else:
            more = [c for c in plan.second_round(ask, results) if c[0] in available] if rounds == 1 else []
            if more:
                for call in self._requests(more):
                    yield call
                return
            text = answers.compose(ask, results)
        async for delta in self._speak(text):
            yield delta

    def _requests(self, calls: list[plan.Call]) -> list[ToolCallRequest]:
        requests = []
        for name, arguments in calls:
            self._call_counter += 1
            requests.append(
                ToolCallRequest(
                    id=f"call_offline_{self._call_counter}", name=name, arguments=json.dumps(arguments)
                )
            )
        return requests

    async def _speak(self, text: str) -> AsyncIterator[TextDelta]:
        """Stream text a few words at a time, like a model does."""
        pieces = re.findall(r"\S+\s*|\s+", text)
        for start in range(0, len(pieces), self.chunk_words):
            yield TextDelta(text="".join(pieces[start : start + self.chunk_words]))
            if self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
