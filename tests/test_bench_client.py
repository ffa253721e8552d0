"""The headless benchmark client addresses the app's real state classes."""

from __future__ import annotations

from scripts.reflex_client import CHAT, LIVE


def test_the_client_knows_the_state_names():
    from finch_app.states.chat import ChatState, LiveTurnState

    assert CHAT == ChatState.get_full_name()
    assert LIVE == LiveTurnState.get_full_name()


def test_the_benchmark_measures_the_server_at_its_own_address_when_servers_share_a_port():
    """The browser tests' servers share one port, each on its own loopback address: the
    benchmark's CPU figures must follow its own server's process, not a neighbour's."""
    import os
    import socket
    import subprocess
    import sys

    from scripts.hopbench import server_pid_for

    with socket.socket() as ours:
        ours.bind(("127.5.5.5", 0))
        ours.listen()
        port = ours.getsockname()[1]
        listen = f"import socket, time; s = socket.socket(); s.bind(('127.7.7.7', {port})); s.listen(); print(1, flush=True); time.sleep(60)"
        neighbour = subprocess.Popen([sys.executable, "-c", listen], stdout=subprocess.PIPE)
        try:
            assert neighbour.stdout is not None and neighbour.stdout.readline()
            assert server_pid_for(f"http://127.5.5.5:{port}") == os.getpid()
            assert server_pid_for(f"http://127.7.7.7:{port}") == neighbour.pid
            assert server_pid_for(f"http://127.9.9.9:{port}") is None
        finally:
            neighbour.kill()
            neighbour.wait()
