"""The HTTP layer before any route: host names (DNS rebinding, websocket included), a proxy Finch
was not told about, upload bodies and their senders, API paths that always answer JSON, the CSV
download for the signed-in browser, ids and messages that cannot be stored, and the docs page.

In process (httpx's ASGITransport) with a stand-in for Reflex's own app mounted below the API the
way Reflex mounts it; the websocket test uses Reflex's real `/_event` app on a real socket.
"""

from __future__ import annotations

import json
from datetime import timedelta
from urllib.parse import quote

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

import finch_app.finch_app  # noqa: F401  (registers the app and its states now, not inside one test's event loop)
from finch_app.api import create_api
from finch_app.api.security import MAX_UPLOAD_BYTES
from finch_app.auth import store, uploads
from finch_app.db.engine import get_engine
from finch_app.settings import reset_settings

PASSWORD = "a long password"


@pytest.fixture
def configure(monkeypatch):
    def apply(**values: str) -> None:
        for name, value in values.items():
            monkeypatch.setenv(name, value)
        reset_settings()

    return apply


class ReflexStandIn:
    """What Reflex mounts below the API: pages (HTML 404 for unknown ones) and `/_upload`, recording
    what reached it."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.upload_bytes = 0
        self.senders: tuple[str, ...] = ()
        self.headers: dict[str, str] = {}

        async def upload(request: Request) -> JSONResponse:
            self.calls.append("upload")
            self.senders = uploads.senders(request.headers.get("reflex-client-token", ""))
            async for chunk in request.stream():
                self.upload_bytes += len(chunk)
            return JSONResponse({"ok": True})

        async def page(request: Request) -> HTMLResponse:
            self.calls.append(request.url.path)
            self.headers = dict(request.headers)
            return HTMLResponse("<html>the web app's 404</html>", status_code=404)

        methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
        self.app = Starlette(
            routes=[Route("/_upload", upload, methods=["POST"]), Route("/{path:path}", page, methods=methods)]
        )


@pytest.fixture
def reflex() -> ReflexStandIn:
    return ReflexStandIn()


@pytest.fixture
def api(reflex):
    get_engine()  # as at start-up: the schema is migrated before the first request (and the health check)
    app = create_api()
    app.mount("", reflex.app)  # as Reflex does with `api_transformer`
    return app


def client(app, host: str = "localhost:3000", peer: str = "127.0.0.1", **kwargs) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app, client=(peer, 50000)),
        base_url=f"http://{host}",
        timeout=30,
        **kwargs,
    )


# --- host names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/conversations"),
        ("POST", "/api/chat"),
        ("DELETE", "/api/conversations/x"),
        ("GET", "/"),
        ("GET", "/c/x"),
    ],
)
async def test_a_rebound_host_name_gets_400_before_any_route(api, reflex, method, path):
    """DNS rebinding: a page at attacker.example:3000 that resolves to 127.0.0.1 reaches Finch with
    its own name in `Host`; none of Finch's data (or pages) may answer it."""
    async with client(api, host="attacker.example:3000") as http:
        response = await http.request(method, path, json={"message": "hi"})
    assert response.status_code == 400
    assert (
        "DNS rebinding" in response.json()["detail"] and "FINCH_ALLOWED_ORIGINS" in response.json()["detail"]
    )
    assert reflex.calls == []


async def test_finchs_own_names_are_served(api, configure):
    for host in ("localhost:3000", "127.0.0.1:3000", "[::1]:3000"):
        async with client(api, host=host) as http:
            assert (await http.get("/api/conversations")).status_code == 200, host
    for host in ("localhost:3001", "finch.example.com", "localhost"):
        async with client(api, host=host) as http:
            assert (await http.get("/api/conversations")).status_code == 400, host
    configure(FINCH_ALLOWED_ORIGINS="https://finch.example.com,http://10.0.0.7:8080")
    for host in ("finch.example.com", "finch.example.com:443", "10.0.0.7:8080", "localhost:3000"):
        async with client(api, host=host) as http:
            assert (await http.get("/api/conversations")).status_code == 200, host
    async with client(api, host="finch.example.com:3000") as http:
        assert (await http.get("/api/conversations")).status_code == 400


async def test_the_websocket_is_refused_for_other_host_names(monkeypatch):
    """An Engine.IO websocket (Reflex's `/_event` protocol, python-socketio's server) mounted below the
    API as Reflex mounts its own, on a real socket."""
    import aiohttp
    import socketio

    from tests.fakes.loopback import LoopbackServer
    from tests.test_api import free_port

    port = free_port()
    monkeypatch.setenv("PORT", str(port))
    reset_settings()
    app = create_api()
    events = Starlette()
    events.mount("/_event", socketio.ASGIApp(socketio.AsyncServer(async_mode="asgi"), socketio_path=""))
    app.mount("", events)
    server = LoopbackServer(app, port=port, name="finch-ws-host", ws="wsproto").start()
    url = f"http://127.0.0.1:{port}/_event/?EIO=4&transport=websocket"
    try:
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(url, headers={"Host": f"localhost:{port}"}) as ws:
                opened = await ws.receive(timeout=5)
                assert str(opened.data).startswith("0{")  # Engine.IO's open packet: connected
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                async with session.ws_connect(url, headers={"Host": f"attacker.example:{port}"}):
                    pass
            assert refused.value.status == 400
    finally:
        server.stop()


async def test_nobody_but_reflex_names_the_peer(api, reflex):
    """Reflex records a websocket's real peer as the `asgi-scope-client` header, which header mode
    believes; a client sending a header of that name has it dropped."""
    async with client(api) as http:
        await http.get("/some-page", headers={"asgi-scope-client": "10.0.0.5", "x-other": "kept"})
    assert "asgi-scope-client" not in reflex.headers and reflex.headers["x-other"] == "kept"


# --- a proxy Finch was not told about ----------------------------------------------------------


async def test_password_mode_behind_a_proxy_without_trusted_proxies_is_refused_saying_what_to_set(
    api, configure, caplog
):
    configure(FINCH_AUTH="password")
    store.add_user("alice", PASSWORD)
    async with client(api, peer="10.0.0.5") as http:
        response = await http.post(
            "/api/auth/login",
            data={"name": "alice", "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.7", "Accept": "application/json"},
        )
        assert response.status_code == 503 and "FINCH_TRUSTED_PROXIES" in response.json()["detail"]
        assert "set-cookie" not in response.headers
        assert "FINCH_TRUSTED_PROXIES=10.0.0.5/32" in caplog.text
        # Told about the proxy, Finch serves it (and counts failures per client behind it).
        configure(FINCH_TRUSTED_PROXIES="10.0.0.5/32")
        response = await http.post(
            "/api/auth/login",
            data={"name": "alice", "password": PASSWORD},
            headers={"X-Forwarded-For": "198.51.100.7", "Accept": "application/json"},
        )
        assert response.status_code == 200
    async with client(api, peer="127.0.0.1") as http:  # no proxy: nothing changes
        configure(FINCH_TRUSTED_PROXIES="")
        assert (await http.get("/api/health")).status_code == 200


# --- uploads --------------------------------------------------------------------------------------


async def test_a_declared_oversized_upload_is_refused_before_reflex_reads_it(api, reflex):
    async with client(api) as http:
        response = await http.post(
            "/_upload",
            content=b"x" * 1024,
            headers={
                "Content-Length": str(300_000_000),
                "reflex-client-token": "t",
                "reflex-event-handler": "h",
            },
        )
    assert response.status_code == 413 and "2 MB" in response.json()["detail"]
    assert reflex.calls == [] and reflex.upload_bytes == 0


async def test_a_streamed_oversized_upload_is_cut_off_at_the_limit(api, reflex):
    """No Content-Length (chunked): Reflex gets no more than the limit; the answer is a 413."""
    chunk = b"y" * 65536

    async def body():
        for _ in range(300):  # ~20 MB, far past the limit
            yield chunk

    async with client(api) as http:
        response = await http.post("/_upload", content=body(), headers={"reflex-client-token": "t"})
    assert response.status_code == 413
    assert reflex.upload_bytes <= MAX_UPLOAD_BYTES
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_an_upload_within_the_limit_reaches_reflex(api, reflex):
    async with client(api) as http:
        response = await http.post("/_upload", content=b"z" * 100_000, headers={"reflex-client-token": "t"})
    assert response.status_code == 200 and reflex.upload_bytes == 100_000


@pytest.mark.persistence
async def test_the_upload_request_names_its_own_sender_for_the_handler(api, reflex, configure):
    configure(FINCH_AUTH="password")
    alice = store.add_user("alice", PASSWORD)
    cookie = {"finch_session": store.create_session(alice.id, timedelta(days=1))}
    async with client(api, cookies=cookie) as http:
        response = await http.post("/_upload", content=b"a,b\n", headers={"reflex-client-token": "tab-1"})
    assert response.status_code == 200 and reflex.senders == (alice.id,)
    assert uploads.senders("tab-1") == ()  # only while the upload is handled
    async with client(api) as http:
        assert (
            await http.post("/_upload", content=b"a", headers={"reflex-client-token": "tab-1"})
        ).status_code == 401


# --- API paths answer JSON ----------------------------------------------------------------------


async def test_api_paths_never_fall_through_to_the_web_apps_html(api, reflex):
    async with client(api) as http:
        options = await http.options("/api/chat")
        assert options.status_code == 204 and options.headers["allow"] == "OPTIONS, POST"
        wrong = await http.get("/api/chat")
        assert wrong.status_code == 405 and wrong.json() == {"detail": "Method Not Allowed"}
        assert wrong.headers["allow"] == "OPTIONS, POST"
        put = await http.put("/api/conversations/abc")
        assert put.status_code == 405 and put.headers["allow"] == "DELETE, GET, HEAD, OPTIONS, PATCH"
        head = await http.head("/api/health")
        assert (
            head.status_code == 200
            and head.content == b""
            and head.headers["content-type"] == "application/json"
        )
        missing = await http.get("/api/no-such-thing")
        assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}
    assert reflex.calls == []


async def test_programs_get_json_from_sign_in_and_sign_out(api, configure):
    configure(FINCH_AUTH="password")
    store.add_user("alice", PASSWORD)
    async with client(api) as http:  # httpx, like curl, accepts anything but does not ask for HTML
        signed_in = await http.post("/api/auth/login", data={"name": "alice", "password": PASSWORD})
        assert signed_in.status_code == 200 and signed_in.json() == {"ok": True, "next": "/"}
        signed_out = await http.post("/api/auth/logout")
        assert signed_out.status_code == 200 and signed_out.json() == {"ok": True}
        wrong = await http.post("/api/auth/login", data={"name": "alice", "password": "nope"})
        assert wrong.status_code == 401 and wrong.json() == {"detail": "Wrong name or password."}
    configure(FINCH_AUTH="none")
    async with client(api) as http:
        none_mode = await http.post("/api/auth/login", data={"name": "alice", "password": PASSWORD})
        assert none_mode.status_code == 404
        document = (await http.get("/api/openapi.json")).json()
    assert "404" in document["paths"]["/api/auth/login"]["post"]["responses"]
    assert document["components"]["schemas"]["ChatRequest"]["properties"]["message"]["minLength"] == 1


# --- the CSV download --------------------------------------------------------------------------


@pytest.mark.persistence
async def test_the_csv_download_takes_the_browsers_session_only_from_finchs_own_pages(configure):
    from finch_app.agent.events import ResourceSaved
    from finch_app.api.deps import get_context
    from tests.fakes.scripted_model import ScriptedModel, text, tool_call
    from tests.support import answer, install_context

    configure(FINCH_AUTH="password")
    alice = store.add_user("alice", PASSWORD)
    model = ScriptedModel(tool_call("get_recent_house_trades", {"limit": 3}, id="h"), text("See the table."))
    context = install_context(model)
    _, events = await answer(context.runs, "house trades", user_id=alice.id)
    resource_id = next(e.resource_id for e in events if isinstance(e, ResourceSaved))
    app = create_api()
    app.dependency_overrides[get_context] = lambda: context
    cookie = {"finch_session": store.create_session(alice.id, timedelta(days=1))}
    path = f"/api/resources/{resource_id}.csv"
    async with client(app, cookies=cookie) as http:
        own_page = await http.get(
            path, headers={"Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "navigate"}
        )
        assert own_page.status_code == 200 and own_page.headers["content-type"].startswith("text/csv")
        assert "attachment" in own_page.headers["content-disposition"]
        # Another site linking to it (the Lax cookie rides along on a top-level GET): refused.
        for site in ({"Sec-Fetch-Site": "cross-site"}, {"Sec-Fetch-Site": "same-site"}, {}):
            assert (await http.get(path, headers=site)).status_code == 401, site
        # The session is not a key to the rest of the API.
        same = {"Sec-Fetch-Site": "same-origin"}
        assert (await http.get(f"/api/resources/{resource_id}", headers=same)).status_code == 401


# --- ids and messages that cannot be stored -----------------------------------------------------


@pytest.mark.persistence
@pytest.mark.parametrize("bad", ["\ud800", "a\x00b"], ids=["lone-surrogate", "nul"])
async def test_text_that_cannot_be_stored_is_a_clear_400_not_a_500(bad):
    app = create_api()
    body = json.dumps({"message": f"price of {bad}", "conversation_id": None})  # json escapes the surrogate
    async with client(app, headers={"content-type": "application/json"}) as http:
        for path in ("/api/chat", "/api/chat/stream"):
            response = await http.post(path, content=body)
            assert response.status_code == 400, response.text
            assert "lone surrogate" in response.json()["detail"] or "NUL" in response.json()["detail"]
            as_id = await http.post(path, content=json.dumps({"message": "hi", "conversation_id": bad}))
            assert as_id.status_code == 400 and "not a conversation id" in as_id.json()["detail"]
        assert (await http.get("/api/conversations")).json() == []
        raw = quote(bad.encode("utf-8", "surrogatepass"))  # as a client would put it in the path
        for path in (
            f"/api/conversations/{raw}",
            f"/api/resources/{raw}",
            f"/api/conversations/{raw}/resources",
        ):
            response = await http.get(path)
            assert response.status_code == 404, (path, response.text)
        assert (await http.delete(f"/api/conversations/{raw}")).status_code == 404


async def test_the_ui_says_so_too_and_keeps_the_text_in_the_box():
    """The composer's message goes through the same check (`RunService.check_message`), before
    anything echoes it back to the page (a lone surrogate cannot even be sent over the websocket)."""
    import finch_app.finch_app as finch
    from finch_app.states.chat import LiveTurnState
    from tests.reflex_harness import HeadlessTab

    async with HeadlessTab(finch.app, token="surrogate") as tab:
        for message, words in (("price of \ud800", "lone surrogate"), ("a\x00b", "NUL")):
            async with tab.locked(LiveTurnState) as live:
                assert await live._begin(message) is None  # no run, and no `set_value` emptying the composer
                assert words in live.notice and "still in the box" in live.notice
                assert live.running is False and live.user_text == ""


# --- accounts over HTTP ------------------------------------------------------------------------


@pytest.mark.persistence
async def test_a_new_password_ends_the_api_token(api, configure):
    configure(FINCH_AUTH="password")
    alice = store.add_user("alice", PASSWORD)
    _, token = store.create_token(alice.id, "notebook")
    bearer = {"Authorization": f"Bearer {token}"}
    async with client(api) as http:
        assert (await http.get("/api/conversations", headers=bearer)).status_code == 200
        store.set_password("alice", "a brand new password")
        assert (await http.get("/api/conversations", headers=bearer)).status_code == 401


# --- the docs page ------------------------------------------------------------------------------


async def test_the_docs_page_loads_a_pinned_swagger_ui_checked_by_hash(api):
    import re

    async with client(api) as http:
        docs = await http.get("/api/docs")
        redoc = await http.get("/api/redoc")
    assert docs.status_code == 200
    tags = re.findall(r"<(?:script|link)[^>]*(?:src|href)=\"https://[^>]*>", docs.text)
    assert len(tags) == 2
    for tag in tags:
        assert (
            "swagger-ui-dist@5.35.0/" in tag
            and 'integrity="sha384-' in tag
            and 'crossorigin="anonymous"' in tag
        )
    csp = docs.headers["content-security-policy"]
    assert "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5.35.0/" in csp and "cdn.jsdelivr.net " not in csp
    assert redoc.status_code == 404  # one docs page, not two CDN-loaded ones
