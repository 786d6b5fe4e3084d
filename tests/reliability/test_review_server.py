"""The review page under hostile or unlucky clients (issue 27 cases 3, 6, 10, 12): size limits, a stalled
connection, a busy port, a full disk. A stand-in workspace: these are the server's rules, not the gallery's."""

import http.client
import socket
import threading
import time
from pathlib import Path

import pytest

from lateral.gallery.review.app import create_app
from tests.gallery.review.conftest import built_review, review_setup  # noqa: F401  (fixtures: a tiny real gallery)
from tests.gallery.review.test_api import client, post  # noqa: F401

TOKEN = "test-token"


class StandInWorkspace:
    """What the app needs of a ReviewWorkspace for these requests; records what reached it."""

    def __init__(self, folder):
        self.gallery_path = Path(folder) / "pond.lgal"
        self.decided = []

    def decide(self, photo_id, fish):
        self.decided.append((photo_id, fish))
        raise AssertionError("an oversized request must not reach the workspace")


@pytest.fixture
def workspace(tmp_path):
    return StandInWorkspace(tmp_path)


def test_an_oversized_request_is_refused_with_413_before_the_workspace(workspace):
    web = create_app(workspace, token=TOKEN).test_client()
    huge = "x" * (5 * 1024 * 1024)
    response = web.post("/api/photo/abc/decide", data={"token": TOKEN, "fish": huge},
                           headers={"Accept": "application/json"})
    assert response.status_code == 413 and "error" in response.get_json()
    assert workspace.decided == []


def test_a_fish_id_over_the_cap_is_refused_on_the_page(client):
    client, gallery_path, _, workspace = client
    before = gallery_path.read_bytes()
    response = post(client, f"/api/photo/{workspace.order[0]}/decide", fish="x" * 101)
    assert response.status_code == 409 and "101 characters long" in response.get_json()["error"]
    assert gallery_path.read_bytes() == before


@pytest.fixture
def running(workspace):
    """(host, port) of the real review server on a free port, in a thread; stopped after the test."""
    from lateral.gallery.review.serve import start_server

    server, _ = start_server(workspace, "127.0.0.1", 0)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield "127.0.0.1", server.effective_port
    try:
        server.trigger.pull_trigger(lambda: stop(server))  # in the server's own thread: its loop ends cleanly
    except OSError:  # the trigger's pipe is closed already (seen once under pytest-xdist): close from here
        stop(server)
    thread.join(timeout=10)
    assert not thread.is_alive()


def stop(server):
    """Close the server and every connection it holds, so that its event loop has nothing left and returns."""
    server.close()
    for channel in list(server._map.values()):
        channel.close()


def test_a_stalled_half_sent_request_does_not_block_another_client(running):
    stalled = socket.create_connection(running)
    stalled.sendall(b"GET / HTTP/1.1\r\n")  # and nothing more, as a slow or hostile client
    try:
        started = time.monotonic()
        connection = http.client.HTTPConnection(*running, timeout=10)
        connection.request("GET", "/")
        response = connection.getresponse()
        assert response.status == 302 and response.getheader("Location").endswith("/queue")
        assert time.monotonic() - started < 5
    finally:
        stalled.close()


def test_a_busy_port_is_a_one_line_user_error(workspace):
    from lateral.gallery.review.serve import start_server
    from lateral.gallery.store import GalleryError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(GalleryError, match=rf"cannot listen on 127.0.0.1:{port} \(.+\); choose another --port"):
            start_server(workspace, "127.0.0.1", port)


def test_a_full_disk_on_a_decision_is_the_one_line_message_not_a_bare_500(workspace):
    import errno
    import os

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(workspace.gallery_path))

    workspace.decide = full
    web = create_app(workspace, token=TOKEN).test_client()
    response = web.post("/api/photo/abc/decide", data={"token": TOKEN, "fish": "A"},
                           headers={"Accept": "application/json"})
    assert response.status_code == 500
    assert response.get_json()["error"] == (f"cannot write {workspace.gallery_path}: No space left on device; "
                                            "pond.lgal is as it was before this request")
    page = web.post("/photo/abc/decide", data={"token": TOKEN, "fish": "A"})
    assert page.status_code == 500 and b"No space left on device" in page.data
