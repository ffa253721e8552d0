"""Who sent each upload in flight, so an upload's handler acts for the request's user.

Reflex turns a `/_upload` request into an event of the tab named by its `reflex-client-token`
header; the event carries no request of its own, so the tab's stored websocket headers are all
a handler could see. The HTTP layer (`api.security`) resolves the upload request's own user and
notes it here under the tab's token while Reflex handles the request (on this process: the
upload's event runs where its request arrived); the gate and the handler then refuse an upload
whose sender is not the tab's user.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

_senders: dict[str, list[str]] = {}


@contextmanager
def sending(token: str, user_id: str) -> Iterator[None]:
    """Note that `user_id` is uploading to the tab `token` for the duration of the block."""
    _senders.setdefault(token, []).append(user_id)
    try:
        yield
    finally:
        users = _senders.get(token, [])
        users.remove(user_id)
        if not users:
            _senders.pop(token, None)


def senders(token: str) -> tuple[str, ...]:
    """The users uploading to the tab `token` right now (several only if someone else uses its token)."""
    return tuple(_senders.get(token, ()))
