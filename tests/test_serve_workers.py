"""`python -m finch_app serve --workers N`: Granian workers on one port, only with Redis."""

from __future__ import annotations

from finch_app.serve import workers_env
from finch_app.settings import reset_settings


def test_one_worker_by_default_even_with_redis(monkeypatch):
    monkeypatch.setenv("REFLEX_REDIS_URL", "redis://127.0.0.1:6379/0")
    reset_settings()
    env: dict[str, str] = {}
    assert workers_env(1, env) == 1
    assert env["GRANIAN_WORKERS"] == "1" and env["REFLEX_USE_GRANIAN"] == "1"
    assert env["REFLEX_REDIS_URL"] == "redis://127.0.0.1:6379/0"


def test_several_workers_need_redis(monkeypatch, capsys):
    monkeypatch.delenv("REFLEX_REDIS_URL", raising=False)
    reset_settings()
    assert workers_env(2, {}) is None
    assert "REFLEX_REDIS_URL" in capsys.readouterr().err
    monkeypatch.setenv("REFLEX_REDIS_URL", "redis://127.0.0.1:6379/0")
    reset_settings()
    env: dict[str, str] = {}
    assert workers_env(2, env) == 2 and env["GRANIAN_WORKERS"] == "2"
