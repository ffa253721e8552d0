"""Finch for a team, in a real browser: sign-in, sessions, lockout, per-user isolation, API
tokens, inert model and tool output, and secrets that never reach the page or the logs.

One prod-mode app with `FINCH_AUTH=password` serves the module. Its users are made with
the admin CLI against the app's data dir, as an admin would. The model is the scripted
loopback OpenAI server and the data sources the loopback fakes, so each test scripts what
the "model" and the "public sources" say. A second app in `FINCH_AUTH=header` mode checks
the proxy sign-on.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.app_server import ROOT, AppServer
from tests.e2e.conftest import csp_violations, watch_csp
from tests.fakes.data_sources import DataSourcesServer
from tests.fakes.openai_server import OpenAIServer, http_error, text, tool_call, tool_calls

OPENAI_SECRET = "sk-e2e-SECRET-0123456789abcdefghij"
FMP_SECRET = "fmp-e2e-SECRET-9876543210"
PASSWORDS = {"alice": "alice-e2e-password", "bob": "bob-e2e-password", "dave": "dave-e2e-password"}


def admin(
    data_dir: Path, *args: str, stdin: str = "", auth: str = "password"
) -> subprocess.CompletedProcess[str]:
    """`python -m finch_app ...` against the app's data dir, as an admin runs it."""
    env = {**os.environ, "FINCH_DATA_DIR": str(data_dir), "FINCH_ENV_FILE": os.devnull, "FINCH_AUTH": auth}
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-m", "finch_app", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def fakes() -> Iterator[tuple[OpenAIServer, DataSourcesServer]]:
    with OpenAIServer() as llm, DataSourcesServer() as sources:
        yield llm, sources


@pytest.fixture(scope="module")
def team(tmp_path_factory, fakes) -> Iterator[AppServer]:
    """Finch with accounts: alice, bob and dave, made with the CLI before it starts."""
    llm, sources = fakes
    data_dir = tmp_path_factory.mktemp("finch-auth-e2e")
    for name, password in PASSWORDS.items():
        admin(
            data_dir, "users", "add", name, *(["--admin"] if name == "alice" else []), stdin=password + "\n"
        )
    server = AppServer(
        data_dir,
        env={
            "FINCH_AUTH": "password",
            "FINCH_LOGIN_MAX_FAILURES": "3",
            "FINCH_LOGIN_SLOWDOWN_AFTER": "100",
            "OPENAI_API_KEY": OPENAI_SECRET,
            "OPENAI_BASE_URL": llm.base_url,
            "FINCH_MODEL": "gpt-test",
            "FINCH_MODEL_MAX_RETRIES": "0",
            "FINCH_MODEL_TIMEOUT_S": "8",
            "FMP_API_KEY": FMP_SECRET,
            "FINCH_DATA_MODE": "live",
            "FINCH_HTTP_MAX_RETRIES": "0",
            "FINCH_CARD_FADE_MS": "60000",
            **sources.env(),
        },
    )
    with server:
        yield server


@pytest.fixture
def llm(fakes) -> Iterator[OpenAIServer]:
    server, sources = fakes
    server.reset()
    sources.heal()
    yield server
    server.reset()


def sign_in(page, server: AppServer, name: str, password: str | None = None) -> None:
    page.goto(server.url + "/login")
    page.get_by_test_id("login-name").fill(name)
    page.get_by_test_id("login-password").fill(password or PASSWORDS[name])
    page.get_by_test_id("login-submit").click()


def signed_in_page(browser, server: AppServer, name: str):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    watch_csp(context)
    page = context.new_page()
    page.set_default_timeout(15_000)
    sign_in(page, server, name)
    expect(page.get_by_test_id("user-name")).to_have_text(name)
    return page


def send(page, message: str) -> None:
    page.get_by_test_id("composer").fill(message)
    page.get_by_test_id("send").click()


def on_login_page(page) -> None:
    expect(page).to_have_url(re.compile(r"/login/?(\?.*)?$"))
    expect(page.get_by_test_id("login-name")).to_be_visible()


# --- signed out ---------------------------------------------------------------------------


def test_the_sign_in_page_is_the_only_page_reachable_signed_out(team, page):
    for path in ("/", "/c/0123456789abcdef0123456789abcdef", "/settings"):
        page.goto(team.url + path)
        on_login_page(page)
        expect(page.get_by_test_id("composer")).to_have_count(0)
    for path in ("/", "/settings", "/c/x"):
        response = httpx.get(team.url + path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    assert httpx.get(team.url + "/api/conversations").status_code == 401


def test_wrong_passwords_say_nothing_about_the_name_then_lock_it(team, page):
    sign_in(page, team, "alice", "not-alices-password")
    expect(page.get_by_test_id("login-error")).to_have_text("Wrong name or password.")
    sign_in(page, team, "nobody-at-all", "whatever-password")
    expect(page.get_by_test_id("login-error")).to_have_text("Wrong name or password.")
    # Three failures lock the name (FINCH_LOGIN_MAX_FAILURES=3), existing or not.
    for _ in range(2):
        sign_in(page, team, "nobody-at-all", "whatever-password")
    expect(page.get_by_test_id("login-error")).to_contain_text("Too many failed sign-ins")
    expect(page.get_by_test_id("composer")).to_have_count(0)


# --- signed in ----------------------------------------------------------------------------


def test_sign_in_chat_reload_and_sign_out_with_no_csp_violation(team, llm, browser):
    llm.enqueue(text("Hello **alice**, here is your answer."))
    page = signed_in_page(browser, team, "alice")
    console_errors: list[str] = []
    page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
    send(page, "hello there")
    answer = page.get_by_test_id("assistant-message").last
    expect(answer).to_contain_text("Hello alice, here is your answer.", timeout=20_000)
    expect(page).to_have_url(re.compile(r"/c/[0-9a-f]{32}$"))

    page.reload()  # the session survives a reload
    expect(page.get_by_test_id("user-name")).to_have_text("alice")
    expect(page.get_by_test_id("assistant-message").last).to_contain_text("here is your answer")
    cookie = next(c for c in page.context.cookies() if c["name"] == "finch_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    assert page.evaluate("document.cookie").find("finch_session") == -1

    page.get_by_test_id("sign-out").click()
    on_login_page(page)
    expect(page.get_by_text("You are signed out.")).to_be_visible()
    page.goto(team.url + "/")
    on_login_page(page)
    assert csp_violations(page.context) == []
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors
    page.context.close()


def test_disabling_a_user_ends_their_session_at_once(team, llm, browser):
    page = signed_in_page(browser, team, "dave")
    admin(team.data_dir, "users", "disable", "dave")
    page.get_by_test_id("new-chat").click()  # the next event finds no user
    on_login_page(page)
    page.goto(team.url + "/")
    on_login_page(page)
    sign_in(page, team, "dave")
    expect(page.get_by_test_id("login-error")).to_have_text("Wrong name or password.")
    admin(team.data_dir, "users", "disable", "dave", "--enable")
    page.context.close()


def test_users_see_only_their_own_conversations_and_runs(team, llm, browser):
    alice = signed_in_page(browser, team, "alice")
    bob = signed_in_page(browser, team, "bob")
    alice.get_by_test_id("new-chat").click()
    llm.enqueue(text("ALICE-PRIVATE-ANSWER " + "word " * 40, chunks=40, delay_s=0.1))
    send(alice, "alice's private question")
    expect(alice.get_by_test_id("stop")).to_be_visible()
    expect(alice).to_have_url(re.compile(r"/c/[0-9a-f]{32}$"))
    cid = alice.url.rsplit("/", 1)[-1]

    # While Alice's run streams, Bob's screen shows none of it.
    bob.reload()
    expect(bob.get_by_test_id("user-name")).to_have_text("bob")
    assert "alice's private question" not in bob.content()
    expect(bob.get_by_test_id("tool-card")).to_have_count(0)
    expect(bob.get_by_test_id("stop")).to_have_count(0)
    bob.goto(f"{team.url}/c/{cid}")
    expect(bob.get_by_text("This conversation does not exist or was deleted.")).to_be_visible()
    expect(bob.get_by_test_id("stop")).to_have_count(0)

    expect(alice.get_by_test_id("assistant-message")).to_contain_text("ALICE-PRIVATE-ANSWER", timeout=20_000)
    bob.reload()
    expect(bob.get_by_text("This conversation does not exist or was deleted.")).to_be_visible()
    body = bob.content()
    assert "ALICE-PRIVATE-ANSWER" not in body and "alice's private question" not in body
    for link in bob.get_by_test_id("conversation-link").all():
        assert cid not in (link.get_attribute("href") or "")
    alice.context.close()
    bob.context.close()


def test_api_tokens_are_made_on_the_settings_page_shown_once_and_revocable(team, browser):
    page = signed_in_page(browser, team, "bob")
    page.get_by_test_id("settings-link").click()
    expect(page).to_have_url(re.compile(r"/settings/?$"))
    page.get_by_test_id("token-name").fill("e2e notebook")
    page.get_by_test_id("create-token").click()
    token_field = page.get_by_test_id("new-token")
    expect(token_field).to_have_value(re.compile(r"^finch_"))
    token = token_field.input_value()
    expect(page.get_by_test_id("token-row")).to_contain_text("e2e notebook")
    # New tokens expire in 30 days unless another choice is made; the list says when.
    expect(page.get_by_test_id("token-expires").first).to_have_text(
        re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC$")
    )
    headers = {"Authorization": f"Bearer {token}"}
    assert httpx.get(team.url + "/api/conversations", headers=headers).status_code == 200
    page.reload()  # shown once: not after a reload
    expect(page.get_by_test_id("token-row")).to_contain_text("e2e notebook")
    assert token not in page.content()
    page.get_by_test_id("revoke-token").first.click()
    expect(page.get_by_test_id("token-row")).to_have_count(0)
    response = httpx.get(team.url + "/api/conversations", headers=headers)
    assert response.status_code == 401 and response.json() == {"detail": "Unauthorized"}
    page.context.close()


# --- hardening --------------------------------------------------------------------------

XSS = [
    '<script>alert("xss-script")</script>',
    '<img src=x onerror=alert("xss-img")>',
    '[click-me](javascript:alert("xss-link"))',
    '[encoded-link](&#106;avascript&#58;alert("xss-enc"))',
    "&lt;script&gt;alert('xss-entity')&lt;/script&gt;",
]


def test_model_output_and_tool_data_render_inert(team, llm, fakes, browser):
    _, sources = fakes
    beacon = f"{sources.base_url}/beacon.gif"
    original = [dict(row) for row in sources.apewisdom_pages[1]["results"]]
    rows = sources.apewisdom_pages[1]["results"]
    rows[0]["name"] = '<img src=x onerror=alert("tool-img")> &lt;script&gt;alert(1)&lt;/script&gt;'
    rows[1]["name"] = '<script>alert("tool-script")</script>'
    answer = "\n\n".join([*XSS, f"![beacon]({beacon})", "END-OF-ANSWER"])
    llm.enqueue(
        tool_calls(tool_call("get_reddit_trending_stocks", {"limit": 5}, id="call_trend")), text(answer)
    )

    page = signed_in_page(browser, team, "alice")
    dialogs: list[str] = []
    requests: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.context.on("request", lambda r: requests.append(r.url))
    try:
        page.get_by_test_id("new-chat").click()
        send(page, "what's trending?")
        message = page.get_by_test_id("assistant-message").last
        expect(message).to_contain_text("END-OF-ANSWER", timeout=20_000)
        # The text is there, as text.
        expect(message).to_contain_text('<script>alert("xss-script")</script>')
        expect(message).to_contain_text('<img src=x onerror=alert("xss-img")>')
        expect(message).to_contain_text("click-me")
        expect(message).to_contain_text("encoded-link")
        expect(message).to_contain_text("<script>alert('xss-entity')</script>")
        expect(message).to_contain_text("[beacon]")
        assert message.locator("script").count() == 0 and message.locator("img").count() == 0
        for link in message.locator("a").all():
            href = (link.get_attribute("href") or "").strip().lower()
            assert "javascript" not in href and "alert" not in href, href
        # Tool data: the saved table shows the names as text.
        page.get_by_test_id("resource-item").first.click()
        table = page.get_by_test_id("resource-table")
        expect(table).to_contain_text('<script>alert("tool-script")</script>')
        expect(table).to_contain_text('onerror=alert("tool-img")')
        assert table.locator("img, script").count() == 0
        page.wait_for_timeout(1000)
        assert dialogs == []
        assert not [u for u in requests if "beacon" in u or u.endswith("/x")], requests
        assert csp_violations(page.context) == []
    finally:
        sources.apewisdom_pages[1]["results"] = original
        page.context.close()


def test_secrets_never_reach_the_page_or_the_logs(team, llm, fakes, browser):
    _, sources = fakes
    # The data source refuses the key; the model server rejects (and echoes) its key.
    sources.fail("fmp", status=401)
    llm.enqueue(
        tool_calls(tool_call("get_recent_senate_trades", {"limit": 5}, id="call_senate")),
        http_error(401, f"Incorrect API key provided: {OPENAI_SECRET}. Check it."),
    )
    page = signed_in_page(browser, team, "alice")
    page.get_by_test_id("new-chat").click()
    send(page, "latest senate trades")
    card = page.locator('[data-testid="tool-card"][data-tool="get_recent_senate_trades"]')
    expect(card).to_have_attribute("data-status", "error", timeout=20_000)
    message = page.get_by_test_id("assistant-message").last
    expect(message).to_have_attribute("data-status", "error", timeout=20_000)
    expect(message).to_contain_text("rejected the API key")
    seen = [page.content(), page.evaluate("document.body.innerText")]
    page.reload()
    expect(page.get_by_test_id("assistant-message").last).to_have_attribute("data-status", "error")
    # Open every step list, errors included. (Not a click: right after a reload the page may still
    # be showing the just-ended turn, whose steps line waits for its cards to fade.)
    page.evaluate("document.querySelectorAll('details').forEach(d => { d.open = true; })")
    seen += [page.content(), page.evaluate("document.body.innerText")]
    page.context.close()
    logs = team.log_path.read_text(errors="replace")
    for secret in (OPENAI_SECRET, FMP_SECRET, PASSWORDS["alice"]):
        assert all(secret not in text_ for text_ in seen), f"{secret} is on the page"
        assert secret not in logs, f"{secret} is in the server log"
    # The log did hear about both failures (so the check above is not vacuous).
    assert "401" in logs or "rejected" in logs


def test_links_in_answers_leave_finch_in_a_new_tab_unless_they_are_finchs_own(team, llm, browser):
    """`//example.org` starts with "/" but is another site: only `/c/…` and `?r=…` stay in the tab."""
    own_chat = "/c/0123456789abcdef0123456789abcdef"
    answer = " · ".join(
        [
            "[protocol-relative](//example.org/p)",
            "[absolute](https://example.org/a)",
            "[a finch page](/settings)",
            f"[own chat]({own_chat})",
            "[own table](?r=0123456789abcdef)",
            "END-OF-LINKS",
        ]
    )
    llm.enqueue(text(answer))
    page = signed_in_page(browser, team, "alice")
    try:
        page.get_by_test_id("new-chat").click()
        send(page, "give me links")
        message = page.get_by_test_id("assistant-message").last
        expect(message).to_contain_text("END-OF-LINKS", timeout=20_000)

        def link(name: str):
            return message.get_by_role("link", name=name)

        for name in ("protocol-relative", "absolute", "a finch page"):
            expect(link(name)).to_have_attribute("target", "_blank")
            expect(link(name)).to_have_attribute("rel", "noopener noreferrer nofollow")
        expect(link("protocol-relative")).to_have_attribute("href", "//example.org/p")
        for name in ("own chat", "own table"):
            expect(link(name)).to_have_attribute("target", "_self")
        expect(link("own chat")).to_have_attribute("href", own_chat)
    finally:
        page.context.close()


def test_download_csv_works_for_the_signed_in_browser_and_not_for_other_sites(team, llm, browser, tmp_path):
    """The CSV link carries no token: the session cookie does, from Finch's own page only."""
    llm.enqueue(
        tool_calls(tool_call("get_reddit_trending_stocks", {"limit": 5}, id="call_csv")), text("DONE-CSV")
    )
    page = signed_in_page(browser, team, "alice")
    try:
        page.get_by_test_id("new-chat").click()
        send(page, "what's trending?")
        expect(page.get_by_test_id("assistant-message").last).to_contain_text("DONE-CSV", timeout=20_000)
        page.get_by_test_id("resource-item").first.click()
        expect(page.get_by_test_id("resource-table")).to_be_visible()
        with page.expect_download() as download:
            page.get_by_test_id("download-csv").click()
        path = tmp_path / "trending.csv"
        download.value.save_as(path)
        rows = path.read_text(encoding="utf-8-sig").splitlines()
        assert len(rows) == 6 and "," in rows[0]  # a header and 5 tickers
        href = page.get_by_test_id("download-csv").get_attribute("href")
        cookie = next(c for c in page.context.cookies() if c["name"] == "finch_session")
        cookies = {"finch_session": cookie["value"]}
        # Another site's link to it: the browser sends the (Lax) cookie, and Sec-Fetch-Site says cross-site.
        cross = httpx.get(team.url + href, cookies=cookies, headers={"Sec-Fetch-Site": "cross-site"})
        assert cross.status_code == 401
        assert (
            httpx.get(team.url + href, cookies=cookies, headers={"Sec-Fetch-Site": "same-origin"}).status_code
            == 200
        )
    finally:
        page.context.close()


# --- header mode ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def proxied(tmp_path_factory) -> Iterator[AppServer]:
    """Finch behind an "authenticating proxy" on this machine (127.0.0.1 is trusted)."""
    server = AppServer(
        tmp_path_factory.mktemp("finch-header-e2e"),
        env={
            "FINCH_AUTH": "header",
            "FINCH_TRUSTED_PROXIES": "127.0.0.1/32",
            "FINCH_SAMPLE_LATENCY_MS": "100",
        },
    )
    with server:
        yield server


def test_header_mode_signs_in_whoever_the_proxy_names(proxied, browser):
    context = browser.new_context(extra_http_headers={"X-Forwarded-Email": "erin@example.com"})
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(proxied.url + "/")
    expect(page.get_by_test_id("user-name")).to_have_text("erin@example.com")
    expect(page.get_by_test_id("sign-out")).to_have_count(0)  # the proxy owns the sign-on
    send(page, "what's trending on reddit?")
    expect(page.get_by_test_id("assistant-message")).to_have_count(1, timeout=20_000)
    context.close()

    anonymous = browser.new_context().new_page()
    anonymous.goto(proxied.url + "/")
    on_login_page_proxy = anonymous.get_by_test_id("login-proxy")
    expect(on_login_page_proxy).to_be_visible()
    expect(anonymous.get_by_test_id("composer")).to_have_count(0)
    anonymous.context.close()
    users = admin(proxied.data_dir, "users", "list", auth="header").stdout
    assert "erin@example.com" in users and "via header" in users
