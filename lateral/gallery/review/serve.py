"""Run the review app on a local port, print its address, and open a browser where there is one."""

import os
import sys
import webbrowser

from werkzeug.serving import make_server

from lateral.gallery.review.app import LOCAL_HOSTS, create_app
from lateral.gallery.store import GalleryError


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
    """(server, url): a werkzeug server for the workspace's app, bound but not yet serving (``port`` 0: any free)."""
    local = host in LOCAL_HOSTS
    if not local:
        print(f"warning: --host {host} makes the review page (photos, fish ids, decisions) reachable from other "
              "machines on this network; anyone who can open it can record decisions", file=sys.stderr)
    try:
        server = make_server(host, port, create_app(workspace, local_only=local), threaded=False)
    except OSError as error:
        raise GalleryError(f"cannot listen on {host}:{port} ({error.strerror or error}); choose another --port") from None
    shown = f"[{host}]" if ":" in host else host
    return server, f"http://{shown}:{server.port}/"


def serve(workspace, host="127.0.0.1", port=8765, open_browser=True):
    server, url = start_server(workspace, host, port)
    print(f"review of {len(workspace.order)} photos against {workspace.gallery_path}: open {url}\n"
          "(Ctrl+C stops the server; every decision shown as recorded is already saved in the gallery)", flush=True)
    if open_browser and browser_available():
        webbrowser.open(url)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("review server stopped")
    finally:
        server.server_close()
    return 0
