"""The review web app (Flask, Jinja2 templates, one small static script for keyboard shortcuts).

One blueprint, one view per resource: ``/queue`` (the new photos and their
decisions), ``/photo/<id>`` (one photo beside its candidates: the compare
view), ``/fish`` (every fish, with a search), ``/fish/<fish_id>`` (every photo
of one fish; rename it, split photos off, merge it into another),
``/decisions`` (the log), ``/history.csv``. Each view answers HTML, or JSON
when the request prefers ``application/json`` (content negotiation); the same
blueprint is mounted again under ``/api/``, which always answers JSON (for
scripts). ``/undo`` takes any entry's number as ``decision``. Every change
goes through the workspace to the gallery's commands. Safety:

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
from urllib.parse import unquote

from flask import (Blueprint, Flask, abort, current_app, flash, jsonify, make_response, redirect, render_template,
                   request, url_for)

from lateral.cli import disk_problem
from lateral.gallery.review.images import SourceMissing
from lateral.gallery.review.workspace import NotFound
from lateral.gallery.store import GalleryError
from lateral.user_errors import UserError

MAX_REQUEST_BYTES = 64 * 1024  # a decision is a fish id and a token: a few hundred bytes
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}
CACHED_ENDPOINTS = ("image", "static")  # photos and the app's files may be cached; pages never

review = Blueprint("review", __name__)


def create_app(workspace, token=None, local_only=True):
    """The Flask app serving ``workspace`` (a ReviewWorkspace); ``token`` defaults to a fresh random one."""
    app = Flask(__name__)
    app.secret_key = secrets.token_bytes(32)  # signs the cookie carrying the notice after a change
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request: the decisions are said in words
    app.config.update(WORKSPACE=workspace, TOKEN=token or secrets.token_urlsafe(24), LOCAL_ONLY=local_only,
                      MAX_CONTENT_LENGTH=MAX_REQUEST_BYTES, MAX_FORM_MEMORY_SIZE=MAX_REQUEST_BYTES)
    app.jinja_env.globals.update(token=app.config["TOKEN"], gallery_name=workspace.gallery_path.name)
    app.register_blueprint(review)
    app.register_blueprint(review, url_prefix="/api", name="api")
    return app


def _workspace():
    return current_app.config["WORKSPACE"]


def _wants_json():
    return request.blueprint == "api" or (
        request.accept_mimetypes.best_match(("text/html", "application/json")) == "application/json")


def _answer(template, data):
    """``data`` as JSON, or rendered into ``template``, as the request prefers."""
    return jsonify(data) if _wants_json() else render_template(template, **data)


def _said(message):
    """A change done: one line in the terminal, and the notice on the next page."""
    print(f"{datetime.datetime.now():%H:%M:%S} {message}", flush=True)
    flash(message)


def _done(payload, target):
    """After a POST: JSON, or a redirect (so a reload never repeats the decision)."""
    return jsonify(payload) if _wants_json() else redirect(target, code=303)


def _error(message, status):
    if _wants_json():
        return jsonify({"error": message}), status
    return render_template("error.html", message=message, status=status), status


def _form(name):
    return request.form.get(name, "").strip()


# -- every request --------------------------------------------------------------------------------------------------
@review.before_app_request
def _only_this_machine():
    if current_app.config["LOCAL_ONLY"] and request.host.rsplit(":", 1)[0] not in LOCAL_HOSTS:
        abort(403, "this review server answers only requests to localhost")
    if request.method == "POST":
        given = request.form.get("token") or request.headers.get("X-Review-Token") or ""
        if not hmac.compare_digest(given.encode(), current_app.config["TOKEN"].encode()):
            abort(403, "missing or wrong session token: reload the page")


@review.after_app_request
def _headers(response):
    response.headers.update(SECURITY_HEADERS)
    if (request.endpoint or "").rsplit(".", 1)[-1] not in CACHED_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
    return response


@review.app_errorhandler(UserError)  # a GalleryError, or a calibration file read since (recalibrate) that is unusable
def _refused(error):
    return _error(str(error), 404 if isinstance(error, NotFound) else 409)


@review.app_errorhandler(OSError)
def _disk_refused(error):
    """A full disk or a read-only folder: the command line's one-line message, not a bare 500."""
    message = disk_problem(error, kept=f"{_workspace().gallery_path.name} is as it was before this request")
    if message is None:
        raise error
    return _error(message, 500)


@review.app_errorhandler(403)
@review.app_errorhandler(404)
@review.app_errorhandler(405)
@review.app_errorhandler(413)
def _http_error(error):
    return _error(error.description, error.code)


# -- pages (HTML or JSON) -------------------------------------------------------------------------------------------
@review.get("/")
def index():
    return redirect(url_for("review.queue"))


@review.get("/favicon.ico")
def favicon():
    return redirect(url_for("static", filename="favicon.svg"))


@review.get("/queue")
def queue():
    return _answer("queue.html", _workspace().queue(request.args.get("show", "all")))


@review.get("/photo/<photo_id>")
def photo(photo_id):
    return _answer("photo.html", _workspace().photo_page(photo_id, request.args.get("fish"),
                                                         request.args.get("shown")))


@review.get("/fish")
def fish_list():
    return _answer("fish_list.html", _workspace().fish_list(request.args.get("search", "")))


@review.get("/fish/<fish_id>")
def fish(fish_id):
    return _answer("fish.html", _workspace().fish_page(fish_id))


@review.get("/decisions")
def decisions():
    return _answer("decisions.html", _workspace().decisions())


@review.get("/image/<sha256>/<kind>")
def image(sha256, kind):
    try:
        data = _workspace().image(sha256, kind)
    except SourceMissing as missing:
        response = make_response(_placeholder(str(missing)), 404)
        response.headers["Content-Type"] = "image/svg+xml"
        return response
    response = make_response(data)
    response.headers["Content-Type"] = "image/png" if kind == "roi" else "image/jpeg"
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response


@review.get("/history.csv")
def history_csv():
    response = make_response(_workspace().history_csv())
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f"attachment; filename={_workspace().gallery_path.stem}_captures.csv"
    return response


# -- changes (POST, each one decision in the gallery's log) ----------------------------------------------------------
@review.post("/photo/<photo_id>/decide")
def decide(photo_id):
    workspace = _workspace()
    chosen_fish, verdict = _form("fish"), _form("verdict")
    if not (chosen_fish or verdict):
        raise GalleryError("no fish given: choose a candidate, 'new', or a verdict (unusable, unsure)")
    summary = workspace.decide(photo_id, chosen_fish or None, verdict or None, request.form.get("reason", ""),
                               request.form.get("note", ""))
    _said(summary["message"])
    following = workspace.next_open(photo_id)
    target = url_for("review.photo", photo_id=following) if following else url_for("review.queue")
    return _done({"photo": photo_id, **{key: summary[key] for key in ("fish_id", "new_fish", "verdict", "label",
                                                                       "message")}, "next_open": following}, target)


@review.post("/undo")
def undo():
    workspace = _workspace()
    chosen = _form("decision")
    if chosen and not chosen.isdigit():
        raise GalleryError(f"decision must be a number from the log, not {chosen!r}")
    result = workspace.undo(int(chosen) if chosen else None)
    _said(result["message"])
    back = request.form.get("back") or url_for("review.queue")
    if result["id"] in workspace.queue_photos:
        target = url_for("review.photo", photo_id=result["id"])
    elif back.startswith("/fish/") and not workspace.entries_of(unquote(back[len("/fish/"):])) and result["fish"]:
        target = url_for("review.fish", fish_id=result["fish"])  # the page of a fish the undo took away (a rename)
    else:
        target = back
    return _done(result, target if target.startswith("/") and not target.startswith("//") else "/queue")


@review.post("/fish/<fish_id>/merge")
def merge(fish_id):
    into = _form("into")
    if not into:
        raise GalleryError(f"no fish given to merge {fish_id} into")
    result = _workspace().merge(fish_id, into)
    _said(result["message"])
    return _done(result, url_for("review.fish", fish_id=into))


@review.post("/fish/<fish_id>/rename")
def rename(fish_id):
    to = _form("to")
    if not to:
        raise GalleryError(f"no new name given for {fish_id}")
    result = _workspace().rename(fish_id, to)
    _said(result["message"])
    return _done(result, url_for("review.fish", fish_id=result["fish_id"]))


@review.post("/fish/<fish_id>/split")
def split(fish_id):
    result = _workspace().split(fish_id, request.form.getlist("photo"), _form("to"))
    _said(result["message"])
    return _done(result, url_for("review.fish", fish_id=result["fish_id"]))


@review.post("/entry/<sha256>/move")
def move(sha256):
    workspace = _workspace()
    to = _form("fish")
    if not to:
        raise GalleryError("no fish given to move the photo to")
    result = workspace.move(sha256, to)
    _said(result["message"])
    return _done(result, url_for("review.fish", fish_id=result["from"]) if workspace.entries_of(result["from"])
                 else url_for("review.fish", fish_id=result["fish_id"]))


def _placeholder(message):
    """An SVG that says why there is no image (a moved or changed source photo)."""
    short = message if len(message) <= 75 else message[:74] + "…"
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="480" height="240" viewBox="0 0 480 240">'
            f'<rect width="480" height="240" fill="#fbeaea" stroke="#c0392b" stroke-width="4"/>'
            f'<text x="240" y="110" text-anchor="middle" font-family="sans-serif" font-size="20" fill="#922">'
            f'source photo missing</text><text x="240" y="145" text-anchor="middle" font-family="sans-serif" '
            f'font-size="11" fill="#922">{escape(short)}</text></svg>')
