"""The HTTP side of accounts: 401s, sign-in and sign-out, cookies, header mode, security
headers, the page guard, /api/health, and the per-user run limit.

In process (httpx's ASGITransport): nothing here streams. `client=` sets the peer address
the app sees, which is what header mode's trust is about.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import httpx
import pytest

from finch_app.api import create_api
from finch_app.auth import store
from finch_app.db.engine import get_engine
from finch_app.settings import reset_settings

pytestmark = pytest.mark.persistence

PASSWORD = "correct horse battery"
LOCAL_PEER = ("127.0.0.1", 50000)


@pytest.fixture
def configure(monkeypatch):
    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        reset_settings()

    return apply


@pytest.fixture
def api():
    get_engine()  # as at start-up: the schema is migrated before the first request (and the health check)
    return create_api()


BROWSER = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
"""What a browser's form post accepts: sign-in and sign-out answer it with redirects."""


def client(app, peer=LOCAL_PEER, headers=BROWSER, **kwargs) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=peer),
        base_url="http://localhost:3000",
        headers=headers,
        **kwargs,
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- the API's 401 ----------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["password", "header"])
async def test_no_invalid_or_revoked_token_is_a_bare_401(configure, api, mode):
    configure(FINCH_AUTH=mode, FINCH_TRUSTED_PROXIES="10.0.0.0/8")
    alice = store.add_user("alice", PASSWORD)
    info, token = store.create_token(alice.id, "cli")
    async with client(api) as http:
        assert (await http.get("/api/conversations", headers=bearer(token))).status_code == 200
        store.revoke_token(alice.id, info.id)
        for headers in (
            {},
            bearer("finch_not-a-token"),
            bearer(token),
            {"Authorization": "Basic YWxpY2U6eA=="},
        ):
            for method, path in (
                ("GET", "/api/conversations"),
                ("POST", "/api/chat"),
                ("GET", "/api/conversations/x"),
            ):
                response = await http.request(method, path, headers=headers, json={"message": "hi"})
                assert response.status_code == 401, (method, path, headers)
                assert response.json() == {"detail": "Unauthorized"}
                assert response.headers["www-authenticate"] == "Bearer"


async def test_a_disabled_users_token_stops_working(configure, api):
    configure(FINCH_AUTH="password")
    alice = store.add_user("alice", PASSWORD)
    _, token = store.create_token(alice.id, "cli")
    async with client(api) as http:
        assert (await http.get("/api/conversations", headers=bearer(token))).status_code == 200
        store.set_disabled("alice")
        assert (await http.get("/api/conversations", headers=bearer(token))).status_code == 401


async def test_auth_none_needs_no_token(api):
    async with client(api) as http:
        assert (await http.get("/api/conversations")).status_code == 200


async def test_health_is_open_and_names_what_is_down(configure, api, monkeypatch):
    configure(FINCH_AUTH="password")
    async with client(api) as http:
        ok = await http.get("/api/health")
        assert ok.status_code == 200
        assert ok.json() == {
            "status": "ok",
            "down": [],
            "checks": {"database": "ok", "redis": "not configured"},
        }
        configure(REFLEX_REDIS_URL="redis://:sekret-redis-pw@127.0.0.1:1/0")
        down = await http.get("/api/health")
        assert down.status_code == 503
        body = down.json()
        assert body["down"] == ["redis"] and body["checks"]["database"] == "ok"
        assert body["checks"]["redis"].startswith("down: ")
        assert "sekret" not in down.text and "127.0.0.1" not in down.text


async def test_health_says_the_database_is_down(configure, api):
    configure(DATABASE_URL="postgresql+psycopg://finch:db-secret-pw@127.0.0.1:1/finch")
    async with client(api) as http:
        response = await http.get("/api/health")
    assert response.status_code == 503
    assert response.json()["down"] == ["database"]
    assert "db-secret-pw" not in response.text


# --- sign-in and sign-out ----------------------------------------------------------------


async def test_sign_in_sets_an_httponly_lax_cookie_and_redirects(configure, api):
    configure(FINCH_AUTH="password")
    store.add_user("alice", PASSWORD)
    async with client(api) as http:
        response = await http.post(
            "/api/auth/login", data={"name": "alice", "password": PASSWORD, "next": "/c/abc"}
        )
        assert response.status_code == 303
        assert response.headers["location"] == "/c/abc"
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("finch_session=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # plain HTTP
        assert "Max-Age=604800" in cookie  # 7 days by default
        assert response.headers["clear-site-data"] == '"storage"'
        me = await http.get("/api/auth/me")
        assert me.json()["name"] == "alice"


async def test_the_cookie_is_secure_behind_https(configure, api):
    configure(FINCH_AUTH="password", FINCH_SESSION_DAYS="1")
    store.add_user("alice", PASSWORD)
    async with client(api) as http:
        response = await http.post(
            "/api/auth/login",
            data={"name": "alice", "password": PASSWORD},
            headers={"X-Forwarded-Proto": "https"},
        )
    assert "Secure" in response.headers["set-cookie"]
    assert "Max-Age=86400" in response.headers["set-cookie"]
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_a_wrong_password_goes_back_to_the_form_with_the_same_words_for_any_name(configure, api):
    configure(FINCH_AUTH="password")
    store.add_user("alice", PASSWORD)
    async with client(api) as http:
        wrong = await http.post("/api/auth/login", data={"name": "alice", "password": "nope nope nope"})
        nobody = await http.post("/api/auth/login", data={"name": "zed", "password": "nope nope nope"})
        as_json = await http.post(
            "/api/auth/login", data={"name": "zed", "password": "x"}, headers={"Accept": "application/json"}
        )
    assert wrong.status_code == nobody.status_code == 303
    assert wrong.headers["location"] == nobody.headers["location"] == "/login?error=bad&next=/"
    assert "set-cookie" not in wrong.headers
    assert as_json.status_code == 401 and as_json.json() == {"detail": "Wrong name or password."}


async def test_repeated_failures_lock_the_name_with_429(configure, api):
    configure(FINCH_AUTH="password", FINCH_LOGIN_MAX_FAILURES="3", FINCH_LOGIN_SLOWDOWN_AFTER="10")
    store.add_user("alice", PASSWORD)
    json_ = {"Accept": "application/json"}
    async with client(api) as http:
        for _ in range(2):
            r = await http.post("/api/auth/login", data={"name": "alice", "password": "bad"}, headers=json_)
            assert r.status_code == 401
        locked = await http.post("/api/auth/login", data={"name": "alice", "password": "bad"}, headers=json_)
        assert locked.status_code == 429 and "Too many failed sign-ins" in locked.json()["detail"]
        assert int(locked.headers["retry-after"]) > 0
        right = await http.post(
            "/api/auth/login", data={"name": "alice", "password": PASSWORD}, headers=json_
        )
        assert right.status_code == 429
        form = await http.post("/api/auth/login", data={"name": "alice", "password": PASSWORD})
        assert form.status_code == 303 and form.headers["location"].startswith("/login?error=locked&m=15")


async def test_wrong_passwords_are_answered_more_slowly(configure, api):
    """The delay is what the server decided, observed through the route's sleep (no wall clock)."""
    from finch_app.api.routes.auth import answer_delayer

    configure(FINCH_AUTH="password", FINCH_LOGIN_SLOWDOWN_AFTER="1", FINCH_LOGIN_MAX_FAILURES="10")
    waited: list[float] = []

    async def observed(seconds: float) -> None:
        waited.append(seconds)

    api.dependency_overrides[answer_delayer] = lambda: observed
    async with client(api) as http:
        for _ in range(4):
            response = await http.post("/api/auth/login", data={"name": "alice", "password": "bad"})
            assert response.status_code == 303
    assert waited == [1.0, 2.0, 3.0]  # the first wrong answer is not delayed


async def test_parallel_wrong_passwords_get_no_more_checks_than_the_limit(configure, api):
    """40 wrong passwords, 20 at a time: each attempt is counted (atomically) before its password is
    checked, so exactly `max_failures` are checked (4 answered "wrong", the 5th locks) and none is lost."""
    import asyncio

    from sqlmodel import select

    from finch_app.db.accounts import LoginThrottle
    from finch_app.db.engine import session_scope

    configure(FINCH_AUTH="password", FINCH_LOGIN_MAX_FAILURES="5", FINCH_LOGIN_SLOWDOWN_AFTER="100")
    store.add_user("alice", PASSWORD)
    json_ = {"Accept": "application/json"}
    codes: list[int] = []
    async with client(api) as http:
        for _ in range(2):
            batch = await asyncio.gather(
                *(
                    http.post("/api/auth/login", data={"name": "alice", "password": "bad"}, headers=json_)
                    for _ in range(20)
                )
            )
            codes += [r.status_code for r in batch]
        assert codes.count(401) == 4 and codes.count(429) == 36, codes
        right = await http.post(
            "/api/auth/login", data={"name": "alice", "password": PASSWORD}, headers=json_
        )
        assert right.status_code == 429  # locked from this address, right password or not
    with session_scope() as session:
        pair = session.get(LoginThrottle, store.pair_key("alice", LOCAL_PEER[0]))
        assert pair is not None and pair.failures == 41  # every attempt counted, none lost
        assert len(session.exec(select(LoginThrottle)).all()) == 3


async def test_sign_in_from_another_site_is_refused(configure, api):
    configure(FINCH_AUTH="password")
    store.add_user("alice", PASSWORD)
    async with client(api) as http:
        response = await http.post(
            "/api/auth/login",
            data={"name": "alice", "password": PASSWORD},
            headers={"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"},
        )
        assert response.status_code == 403 and "set-cookie" not in response.headers
        same = await http.post(
            "/api/auth/login",
            data={"name": "alice", "password": PASSWORD},
            headers={"Origin": "http://localhost:3000", "Sec-Fetch-Site": "same-origin"},
        )
        assert same.status_code == 303


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil", "javascript:alert(1)"]
)
async def test_the_page_after_sign_in_is_always_local(configure, api, target):
    configure(FINCH_AUTH="password")
    store.add_user("alice", PASSWORD)
    async with client(api) as http:
        response = await http.post(
            "/api/auth/login", data={"name": "alice", "password": PASSWORD, "next": target}
        )
    assert response.headers["location"] == "/"


async def test_sign_out_ends_the_session(configure, api):
    configure(FINCH_AUTH="password")
    alice = store.add_user("alice", PASSWORD)
    token = store.create_session(alice.id, timedelta(days=1))
    async with client(api, cookies={"finch_session": token}) as http:
        assert (await http.get("/api/auth/me")).status_code == 200
        response = await http.post("/api/auth/logout")
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
        assert (
            'finch_session=""' in response.headers["set-cookie"]
            or "Max-Age=0" in response.headers["set-cookie"]
        )
    assert store.session_user(token) is None


# --- header mode --------------------------------------------------------------------------


async def test_header_mode_trusts_only_the_proxys_address(configure, api, caplog, monkeypatch):
    from finch_app.auth import proxy

    monkeypatch.setattr(proxy, "_warned", {})
    configure(FINCH_AUTH="header", FINCH_TRUSTED_PROXIES="10.0.0.0/8")
    header = {"X-Forwarded-Email": "carol@example.com"}
    async with client(api, peer=("10.0.0.5", 40000)) as via_proxy:
        response = await via_proxy.get("/api/auth/me", headers=header)
        assert response.status_code == 200 and response.json()["name"] == "carol@example.com"
        assert (await via_proxy.get("/api/conversations", headers=header)).status_code == 200
    with caplog.at_level(logging.WARNING, logger="finch.auth"):
        async with client(api, peer=("203.0.113.9", 40000)) as direct:
            assert (await direct.get("/api/conversations", headers=header)).status_code == 401
            page = await direct.get("/", headers=header)
            assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert "Ignored the X-Forwarded-Email header from 203.0.113.9" in caplog.text


# --- pages and headers ---------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/", "/c/abc", "/settings", "/settings/", "/index.html"])
async def test_pages_send_signed_out_visitors_to_the_sign_in_page(configure, api, path):
    configure(FINCH_AUTH="password")
    async with client(api) as http:
        response = await http.get(path)
    assert response.status_code == 303
    assert response.headers["location"] == f"/login?next={path}"


async def test_the_upload_endpoint_needs_a_signed_in_user(configure, api):
    configure(FINCH_AUTH="password")
    async with client(api) as http:
        response = await http.post("/_upload", files={"files": ("a.csv", b"x")})
    assert response.status_code == 401


async def test_signed_in_visitors_reach_pages(configure, api):
    configure(FINCH_AUTH="password")
    alice = store.add_user("alice", PASSWORD)
    token = store.create_session(alice.id, timedelta(days=1))
    async with client(api, cookies={"finch_session": token}) as http:
        response = await http.get("/c/abc")
    assert response.status_code == 404  # past the guard: no frontend is mounted in this test


async def test_every_response_carries_the_security_headers(api):
    async with client(api) as http:
        for response in (
            await http.get("/api/conversations"),
            await http.get("/api/health"),
            await http.get("/nope"),
        ):
            csp = response.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp
            assert (
                "script-src 'self'" in csp and "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
            )
            assert "unsafe-eval" not in csp
            assert "img-src 'self' data: blob:" in csp
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["referrer-policy"] == "same-origin"
            assert response.headers["x-frame-options"] == "DENY"
        docs = await http.get("/api/docs")
        assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
        assert "'sha256-" in docs.headers["content-security-policy"]


def test_inline_scripts_of_the_build_are_allowed_by_hash(tmp_path):
    import base64
    import hashlib

    from finch_app.api.security import app_csp, script_hashes

    html = b'<html><script>console.log(1)</script><script src="/a.js"></script><script type="module">import "/b.js";</script></html>'
    hashes = script_hashes(html)
    expected = {
        f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
        for body in (b"console.log(1)", b'import "/b.js";')
    }
    assert hashes == expected
    assert all(h in app_csp(hashes) for h in expected)


# --- limits --------------------------------------------------------------------------------


async def test_more_runs_than_the_limit_get_a_clear_429(configure, api):
    from finch_app.runs import RunRefused
    from tests.fakes.scripted_model import ScriptedModel, tool_call
    from tests.support import gate_tool, install_context

    configure(FINCH_MAX_RUNS_PER_USER="2")
    release, tools = gate_tool()
    service = install_context(
        ScriptedModel(*[tool_call("gated", {}, id=f"g{i}") for i in range(4)]), tools
    ).runs
    # Two runs wait in their tool: two are answering.
    first = await service.start(user_id="local", conversation_id=None, message="q1")
    await service.start(user_id="local", conversation_id=None, message="q2")
    with pytest.raises(RunRefused) as refused:
        await service.start(user_id="local", conversation_id=None, message="third")
    assert refused.value.status == 429
    await service.stop(first.run_id, wait=True)
    second_try = await service.start(user_id="local", conversation_id=None, message="q3")
    with pytest.raises(RunRefused):
        await service.retry(user_id="local", conversation_id=first.conversation_id)
    async with client(api) as http:
        response = await http.post("/api/chat", json={"message": "third", "conversation_id": None})
        assert response.status_code == 429
        assert "2 answers running" in response.json()["detail"]
        stream = await http.post("/api/chat/stream", json={"message": "third", "conversation_id": None})
        assert stream.status_code == 429
    # Another user is not affected by this one's runs.
    assert (await service.start(user_id="someone-else", conversation_id=None, message="mine")).run_id
    release.set()
    await service.stop(second_try.run_id, wait=True)


async def test_the_api_applies_the_uis_message_limit(api):
    async with client(api) as http:
        response = await http.post("/api/chat", json={"message": "x" * 9000, "conversation_id": None})
    assert response.status_code == 400
    assert "limit is 8,000" in response.json()["detail"]


async def test_the_api_docs_need_a_user_when_accounts_are_on(configure, api):
    configure(FINCH_AUTH="password")
    alice = store.add_user("alice", PASSWORD)
    _, token = store.create_token(alice.id, "cli")
    async with client(api) as http:
        for path in ("/api/docs", "/api/openapi.json"):
            assert (await http.get(path)).status_code == 303
            assert (await http.get(path, headers=bearer(token))).status_code == 200
    async with client(
        api, cookies={"finch_session": store.create_session(alice.id, timedelta(days=1))}
    ) as http:
        assert (await http.get("/api/docs")).status_code == 200
