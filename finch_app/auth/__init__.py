"""Accounts and sign-in: who is asking, and whether they may.

- `identity`: the current user of a browser request, a websocket event or an API call
  (the two seams, `states.auth.current_user_id` and `api.routes.current_user_id`, call it);
- `signin`: name + password → session, with the slow-down and the lockout;
- `store`: users, sessions, API tokens and the throttle in the database (hashes only);
- `passwords`: argon2id; `proxy`: which addresses may name the user in a header.
"""

from finch_app.auth.identity import (
    LOCAL,
    SESSION_COOKIE,
    Identity,
    NotSignedIn,
    api_identity,
    browser_identity,
)

__all__ = ["LOCAL", "SESSION_COOKIE", "Identity", "NotSignedIn", "api_identity", "browser_identity"]
