"""The deployment files say what a safe team deployment needs: Redis with a password (it holds every
open tab's state, session cookies included), an nginx example that lets a broker CSV through, and
the settings of issue 16 documented where operators look (README's tables and .env.example)."""

from __future__ import annotations

import re
from pathlib import Path

from finch_app.api.security import MAX_UPLOAD_BYTES

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
COMPOSE = (ROOT / "compose.yaml").read_text()
ENV_EXAMPLE = (ROOT / ".env.example").read_text()


def test_compose_requires_a_redis_password_and_finch_uses_it():
    redis = COMPOSE[COMPOSE.index("\n  redis:") :]
    assert re.search(r'"--requirepass", "\$\{REDIS_PASSWORD:\?[^"]+\}"', redis)
    assert "REDISCLI_AUTH: ${REDIS_PASSWORD:?" in redis  # the health check authenticates too
    assert re.search(r"REFLEX_REDIS_URL: redis://:\$\{REDIS_PASSWORD:\?[^}]+\}@redis:6379/0", COMPOSE)
    assert "REDIS_PASSWORD=" in ENV_EXAMPLE


def test_the_readme_says_redis_is_a_trust_boundary():
    assert "**Redis is a trust boundary.**" in README and "--requirepass" in README


def test_the_nginx_example_lets_the_largest_import_through():
    nginx = README[README.index("```nginx") :]
    size = re.search(r"client_max_body_size (\d+)m;", nginx)
    assert size and int(size.group(1)) * 1024 * 1024 >= MAX_UPLOAD_BYTES


def test_the_settings_of_this_round_are_documented():
    for name in (
        "FINCH_UNSAFE_NO_AUTH_ON_NETWORK",
        "FINCH_MAX_CONVERSATIONS_PER_USER",
        "FINCH_MAX_MESSAGE_CHARS",
        "REFLEX_TRUSTED_PROXY_HOPS",
    ):
        assert f"| `{name}`" in README, name
    for name in ("FINCH_UNSAFE_NO_AUTH_ON_NETWORK", "FINCH_MAX_CONVERSATIONS_PER_USER", "FINCH_MAX_MESSAGE_CHARS"):
        assert f"# {name}=" in ENV_EXAMPLE, name
