"""The deployment files say what a safe team deployment needs: Redis with a password (it holds every
open tab's state, session cookies included), an nginx example that lets a broker CSV through, and
and every setting documented where operators look (README's tables and .env.example)."""

from __future__ import annotations

import re
from pathlib import Path

from finch_app.api.security import MAX_UPLOAD_BYTES
from finch_app.settings import Settings

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


def _variable(name: str, field) -> str:  # type: ignore[no-untyped-def]
    alias = field.validation_alias
    return (alias if isinstance(alias, str) else f"FINCH_{name}").upper()


def test_every_setting_is_documented_in_the_readme_table_and_env_example():
    """An operator finds every variable Finch reads in README's Configuration tables and, ready to
    uncomment, in .env.example; a new setting without both fails here."""
    configuration = README[README.index("## Configuration") : README.index("## How it works")]
    table_cells = set(
        re.findall(
            r"`([A-Z][A-Z0-9_]+)`",
            "\n".join(line for line in configuration.splitlines() if line.startswith("| `")),
        )
    )
    names = [_variable(name, field) for name, field in Settings.model_fields.items()]
    assert len(names) > 50
    missing_readme = [n for n in names if n not in table_cells]
    missing_env = [n for n in names if not re.search(rf"^# {n}=", ENV_EXAMPLE, re.MULTILINE)]
    assert missing_readme == [], "settings missing from README's Configuration tables"
    assert missing_env == [], "settings missing from .env.example"
