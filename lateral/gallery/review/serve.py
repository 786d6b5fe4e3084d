"""Run the review app on a local port, print its address, and open a browser where there is one.

The server is waitress: requests are read by one event loop and answered by a
pool of threads, so a client that sends half a request and stalls holds no
thread and blocks nobody; an idle connection is closed after
``IDLE_SECONDS``, and a request body over ``app.MAX_REQUEST_BYTES`` is refused.
"""

import os
import sys
import webbrowser

from waitress.server import create_server

from lateral.gallery.review.app import LOCAL_HOSTS, MAX_REQUEST_BYTES, create_app
from lateral.gallery.store import GalleryError

THREADS = 4
IDLE_SECONDS = 60  # a connection that sends nothing for this long is closed


def browser_available():
    """Whether opening a browser can work here (a desktop session), without ever failing when it cannot."""
    if sys.platform not in ("darwin", "win32") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    return True


def start_server(workspace, host="127.0.0.1", port=8765):
    """(server, url): a waitress server for the workspace's app, bound but not yet serving (``port`` 0: any free)."""
    local = host in LOCAL_HOSTS
    if not local:
        print(f"warning: --host {host} makes the review page (photos, fish ids, decisions) reachable from other "
              "machines on this network; anyone who can open it can record decisions", file=sys.stderr)
    try:
        server = create_server(create_app(workspace, local_only=local), host=host, port=port, threads=THREADS,
                               channel_timeout=IDLE_SECONDS, cleanup_interval=5,
                               max_request_body_size=MAX_REQUEST_BYTES, clear_untrusted_proxy_headers=True)
    except OSError as error:
        raise GalleryError(f"cannot listen on {host}:{port} ({error.strerror or error}); choose another --port") from None
    shown = f"[{host}]" if ":" in host else host
    return server, f"http://{shown}:{server.effective_port}/"


def serve(workspace, host="127.0.0.1", port=8765, open_browser=True):
    server, url = start_server(workspace, host, port)
    print(f"review of {len(workspace.order)} photos against {workspace.gallery_path}: open {url}\n"
          "(Ctrl+C stops the server; every decision shown as recorded is already saved in the gallery)", flush=True)
    if open_browser and browser_available():
        webbrowser.open(url)
    try:
        server.run()
    except KeyboardInterrupt:
        print("review server stopped")
    finally:
        server.close()
    return 0
