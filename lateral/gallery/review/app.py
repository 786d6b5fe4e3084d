"""The review web app (Flask, Jinja2 templates, one small static script for keyboard shortcuts).

Pages: ``/queue`` (the new photos and their decisions), ``/photo/<id>`` (one
photo beside its candidates: the compare view), ``/fish`` (every fish, with a
search), ``/fish/<fish_id>`` (every photo of one fish; merge it into another),
``/decisions`` (the log), ``/history.csv``; the same data as JSON under
``/api/`` (``/undo`` takes any entry's number as ``decision``). Safety:

- only registered photos are served, by opaque id (SHA-256): no path from the
  browser is ever opened;
- every state-changing request is a POST carrying the session's token (form
  field ``token`` or header ``X-Review-Token``), else 403;
- bound to localhost, requests naming another host are refused (DNS
  rebinding); pages forbid framing and any script but the app's own file;
- the key stays in the server;
- a request body is at most ``MAX_REQUEST_BYTES`` (else 413), a fish id at most
  ``commands.FISH_ID_LENGTH`` characters.
"""

import datetime
import hmac
import logging
import secrets
from html import escape

from flask import Flask, abort, flash, jsonify, make_response, redirect, render_template, request, url_for

from lateral.cli import disk_problem
from lateral.gallery.review.images import SourceMissing
from lateral.gallery.review.workspace import NotFound
from lateral.gallery.store import GalleryError

MAX_REQUEST_BYTES = 64 * 1024  # a decision is a fish id and a token: a few hundred bytes
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def create_app(workspace, token=None, local_only=True):
    """The Flask app serving ``workspace`` (a ReviewWorkspace); ``token`` defaults to a fresh random one."""
    app = Flask(__name__)
    app.secret_key = secrets.token_bytes(32)  # signs the cookie carrying the notice after a change
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request: the decisions are said in words
    app.config["TOKEN"] = token or secrets.token_urlsafe(24)
    app.config["LOCAL_ONLY"] = local_only
    app.config["MAX_CONTENT_LENGTH"] = app.config["MAX_FORM_MEMORY_SIZE"] = MAX_REQUEST_BYTES
    app.jinja_env.globals["token"] = app.config["TOKEN"]
    app.jinja_env.globals["gallery_name"] = workspace.gallery_path.name

    def wants_json():
        return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"

    @app.before_request
    def only_this_machine():
        if app.config["LOCAL_ONLY"] and request.host.rsplit(":", 1)[0] not in LOCAL_HOSTS:
            abort(403, "this review server answers only requests to localhost")
        if request.method == "POST":
            given = request.form.get("token") or request.headers.get("X-Review-Token") or ""
            if not hmac.compare_digest(given.encode(), app.config["TOKEN"].encode()):
                abort(403, "missing or wrong session token: reload the page")

    @app.after_request
    def headers(response):
        response.headers.update(SECURITY_HEADERS)
        if not request.path.startswith(("/image/", "/static/")):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(GalleryError)
    def refused(error):
        status = 404 if isinstance(error, NotFound) else 409
        if wants_json():
            return jsonify({"error": str(error)}), status
        return render_template("error.html", message=str(error), status=status), status

    @app.errorhandler(OSError)
    def disk_refused(error):
        """A full disk or a read-only folder: the command line's one-line message, not a bare 500."""
        message = disk_problem(error, kept=f"{workspace.gallery_path.name} is as it was before this request")
        if message is None:
            raise error
        if wants_json():
            return jsonify({"error": message}), 500
        return render_template("error.html", message=message, status=500), 500

    @app.errorhandler(403)
    @app.errorhandler(404)
    @app.errorhandler(405)
    @app.errorhandler(413)
    def http_error(error):
        if wants_json():
            return jsonify({"error": error.description}), error.code
        return render_template("error.html", message=error.description, status=error.code), error.code

    def said(message):
        """A change done: one line in the terminal, and the notice on the next page."""
        print(f"{datetime.datetime.now():%H:%M:%S} {message}", flush=True)
        flash(message)

    def done(payload, target):
        """After a POST: JSON for the API, else a redirect (so a reload never repeats the decision)."""
        return jsonify(payload) if wants_json() else redirect(target, code=303)

    @app.get("/")
    def index():
        return redirect(url_for("queue_page"))

    @app.get("/favicon.ico")
    def favicon():
        return redirect(url_for("static", filename="favicon.svg"))

    @app.get("/queue")
    def queue_page():
        return render_template("queue.html", **workspace.queue(request.args.get("show", "all")))

    @app.get("/api/queue")
    def queue_api():
        return jsonify(workspace.queue(request.args.get("show", "all")))

    @app.get("/photo/<photo_id>")
    def photo_page(photo_id):
        return render_template("photo.html", **workspace.photo_page(photo_id, request.args.get("fish"),
                                                                    request.args.get("shown")))

    @app.get("/api/photo/<photo_id>")
    def photo_api(photo_id):
        return jsonify(workspace.photo_page(photo_id, request.args.get("fish"), request.args.get("shown")))

    @app.post("/api/photo/<photo_id>/decide")
    @app.post("/photo/<photo_id>/decide")  # registered first: what url_for gives
    def decide(photo_id):
        fish, verdict = request.form.get("fish", "").strip(), request.form.get("verdict", "").strip()
        if not (fish or verdict):
            raise GalleryError("no fish given: choose a candidate, 'new', or a verdict (unusable, unsure)")
        summary = workspace.decide(photo_id, fish or None, verdict or None, request.form.get("reason", ""),
                                   request.form.get("note", ""))
        said(summary["message"])
        following = workspace.next_open(photo_id)
        target = url_for("photo_page", photo_id=following) if following else url_for("queue_page")
        return done({"photo": photo_id, **{key: summary[key] for key in ("fish_id", "new_fish", "verdict", "label",
                                                                          "message")}, "next_open": following}, target)

    @app.post("/api/undo")
    @app.post("/undo")  # registered first: what url_for gives
    def undo():
        chosen = request.form.get("decision", "").strip()
        if chosen and not chosen.isdigit():
            raise GalleryError(f"decision must be a number from the log, not {chosen!r}")
        result = workspace.undo(int(chosen) if chosen else None)
        said(result["message"])
        target = (url_for("photo_page", photo_id=result["id"]) if result["id"] in workspace.queue_photos
                  else request.form.get("back") or url_for("queue_page"))
        return done(result, target if target.startswith("/") and not target.startswith("//") else "/queue")

    @app.post("/api/fish/<fish_id>/merge")
    @app.post("/fish/<fish_id>/merge")  # registered first: what url_for gives
    def merge(fish_id):
        into = request.form.get("into", "").strip()
        if not into:
            raise GalleryError(f"no fish given to merge {fish_id} into")
        result = workspace.merge(fish_id, into)
        said(result["message"])
        return done(result, url_for("fish_page", fish_id=into))

    @app.get("/decisions")
    def decisions_page():
        return render_template("decisions.html", **workspace.decisions())

    @app.get("/api/decisions")
    def decisions_api():
        return jsonify(workspace.decisions())

    @app.get("/fish")
    def fish_list():
        return render_template("fish_list.html", **workspace.fish_list(request.args.get("search", "")))

    @app.get("/api/fish")
    def fish_list_api():
        return jsonify(workspace.fish_list(request.args.get("search", "")))

    @app.get("/fish/<fish_id>")
    def fish_page(fish_id):
        return render_template("fish.html", **workspace.fish_page(fish_id))

    @app.get("/api/fish/<fish_id>")
    def fish_api(fish_id):
        return jsonify(workspace.fish_page(fish_id))

    @app.post("/api/entry/<sha256>/move")
    @app.post("/entry/<sha256>/move")  # registered first: what url_for gives
    def move(sha256):
        fish = request.form.get("fish", "").strip()
        if not fish:
            raise GalleryError("no fish given to move the photo to")
        result = workspace.move(sha256, fish)
        said(result["message"])
        return done(result, url_for("fish_page", fish_id=result["from"]) if workspace.entries_of(result["from"])
                    else url_for("fish_page", fish_id=result["fish_id"]))

    @app.get("/image/<sha256>/<kind>")
    def image(sha256, kind):
        try:
            data = workspace.image(sha256, kind)
        except SourceMissing as missing:
            response = make_response(_placeholder(str(missing)), 404)
            response.headers["Content-Type"] = "image/svg+xml"
            return response
        response = make_response(data)
        response.headers["Content-Type"] = "image/png" if kind == "roi" else "image/jpeg"
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response

    @app.get("/history.csv")
    def history_csv():
        response = make_response(workspace.history_csv())
        response.headers["Content-Type"] = "text/csv; charset=utf-8"
        response.headers["Content-Disposition"] = f"attachment; filename={workspace.gallery_path.stem}_captures.csv"
        return response

    return app


def _placeholder(message):
    """An SVG that says why there is no image (a moved or changed source photo)."""
    short = message if len(message) <= 75 else message[:74] + "…"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="480" height="240" viewBox="0 0 480 240">'
            f'<rect width="480" height="240" fill="#fbeaea" stroke="#c0392b" stroke-width="4"/>'
            f'<text x="240" y="110" text-anchor="middle" font-family="sans-serif" font-size="20" fill="#922">'
            f'source photo missing</text><text x="240" y="145" text-anchor="middle" font-family="sans-serif" '
            f'font-size="11" fill="#922">{escape(short)}</text></svg>')
