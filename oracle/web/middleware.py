"""The server's front door: a pure ASGI middleware in front of Gradio that turns away, cheaply and with a
clear message, the requests no browser or ``gradio_client`` sends, before Gradio spends anything on them.

- A file's ``Range`` is served by Starlette's ``FileResponse`` (clamped to the file, or 416), never by
  Gradio 6.17.3's own ranged response, which loops for good at the end of the file.
- ``/file=<a URL>`` is refused (Gradio redirects anywhere: an open redirect).
- Request bodies are bounded as a whole: an upload request carries one file of at most the upload limit,
  anything else at most ``MAX_JSON_BODY_BYTES`` of JSON; a body over its bound is refused with 413
  (``Content-Length`` up front, or as soon as a chunked body passes it).
- A session hash (a visit's id) longer than ``MAX_SESSION_HASH_CHARS`` or of odd characters is refused
  in a query string or a path (the JSON of ``queue/join`` is checked by the queue: ``gradio_adapter.requests``).
- While the server drains (SIGTERM), new work (uploads, questions) is refused with a friendly 503;
  streams already running keep their playlist and segments.
- An answer's playlist is served here, as soon as the segment the player waits for is there
  (``gradio_adapter.playlist``).
- A microphone stream's Stop (``/stream/{id}/close``) is carried out here, once the chunks sent before it
  are taken; the chunks and Stop of a stream that is not open get 404, as does the event stream of a visit
  with no messages (``gradio_adapter.routes.take_over``).
- A request Gradio cannot read (garbage multipart, a file name the disk refuses, a JSON body of the wrong
  shape) gets 400 and one line in the log, never a 500 with a traceback.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
from urllib.parse import parse_qs, unquote

from python_multipart.exceptions import MultipartParseError

from oracle.errors import Closing, NotServedHere, RecordingEnded, RequestTooLarge, UnknownVisit, UnreadableBody
from oracle.languages import browser_language
from oracle.limits import MAX_JSON_BODY_BYTES, MAX_SESSION_HASH_CHARS, MULTIPART_OVERHEAD_BYTES
from oracle.web.gradio_adapter.playlist import playlist_for
from oracle.web.gradio_adapter.routes import STOPPED_REPLY, Verdict, is_file_route, range_for_starlette, take_over

log = logging.getLogger(__name__)

PLAIN_TEXT, JSON, HLS_PLAYLIST = b"text/plain; charset=utf-8", b"application/json", b"application/vnd.apple.mpegurl"
SESSION_HASH = re.compile(r"[A-Za-z0-9_-]{1,%d}" % MAX_SESSION_HASH_CHARS)

# The English of what the front door says (each request is told it in its browser's language, if it sends one).
DRAINING_MESSAGE = Closing().message()
UNREADABLE_MESSAGE = UnreadableBody().message()
URL_REFUSED_MESSAGE = NotServedHere().message()


class Drain:
    """A server shutting down: begun by the SIGTERM handler (main thread), carried out on the server's
    event loop (``housekeeping.drain_when_asked``), waited for by the handler."""

    def __init__(self) -> None:
        self._started = threading.Event()
        self._finished = threading.Event()

    def begin(self) -> None:
        self._started.set()

    @property
    def started(self) -> bool:
        return self._started.is_set()

    async def wait_started(self) -> None:
        while not self._started.is_set():
            await asyncio.sleep(0.1)

    def finish(self) -> None:
        self._finished.set()

    def wait_finished(self, timeout_s: float) -> bool:
        return self._finished.wait(timeout_s)


class BodyTooLarge(Exception):
    pass


def _is_new_work(method: str, path: str) -> bool:
    """Requests that start something: uploading, joining the queue, the REST API. Not cancelling, not
    the stream routes a running answer's listener needs."""
    if method != "POST":
        return False
    return path.endswith(("/upload", "/queue/join", "/queue/join/")) or "/call/" in path or "/run/" in path


def _session_hashes(scope) -> list[str]:
    found = []
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    found += query.get("session_hash", [])
    path = scope["path"]
    if "/heartbeat/" in path:
        found.append(unquote(path.rsplit("/heartbeat/", 1)[1]).rstrip("/"))
    return found


class FrontDoor:
    """The ASGI middleware: ``FastAPI(middleware=[Middleware(FrontDoor, ...)])`` (launch's ``app_kwargs``)."""

    def __init__(self, app, *, max_upload_bytes: int, drain: Drain | None = None,
                 max_json_bytes: int = MAX_JSON_BODY_BYTES) -> None:
        self.app = app
        self.max_upload = max_upload_bytes
        self.max_upload_body = max_upload_bytes + MULTIPART_OVERHEAD_BYTES
        self.max_json_body = max_json_bytes
        self.drain = drain or Drain()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        told = _browser_language(scope)
        if self.drain.started and _is_new_work(method, path):
            await _reply(send, 503, Closing().message(told))
            return
        if any(not SESSION_HASH.fullmatch(h) for h in _session_hashes(scope)):
            await _reply(send, 400, UnknownVisit().message(told))
            return
        verdict = take_over(scope)
        if verdict is Verdict.NO_SUCH_VISIT:
            await _reply(send, 404, UnknownVisit().message(told))
            return
        if verdict is Verdict.NO_SUCH_STREAM:
            await _reply(send, 404, RecordingEnded().message(told))
            return
        if verdict is Verdict.STOPPED:
            await _reply_json(send, 200, STOPPED_REPLY)
            return
        if verdict is Verdict.PLAYLIST:
            await _reply_playlist(send, await playlist_for(scope))
            return
        if method in ("GET", "HEAD") and is_file_route(path):
            target = unquote(path.split("/file=", 1)[-1]) if "/file=" in path else ""
            if re.match(r"[a-z][a-z0-9+.-]*:", target, re.I):
                await _reply(send, 403, NotServedHere().message(told))
                return
            scope = range_for_starlette(scope)

        is_upload = path.endswith("/upload")
        limit = self.max_upload_body if is_upload else self.max_json_body
        # An upload too large gets Gradio's own words for one file too large.
        too_large = (f"File size exceeded maximum allowed size of {self.max_upload} bytes." if is_upload
                     else RequestTooLarge(limit // 1024).message(told))
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _reply(send, 413, too_large, plain=is_upload)
            return

        received = 0

        async def bounded_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge()
            return message

        started = False

        async def tracking_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await _reply(send, 413, too_large, plain=is_upload)
        except (MultipartParseError, OSError, KeyError, ValueError, TypeError) as error:
            # Only a request's own content gets here (the app's errors are answered inside Gradio):
            # garbage multipart, a file name too long for the disk, an unknown function index.
            if started or method != "POST":
                raise
            log.warning("refused an unreadable %s %s: %s", method, path, type(error).__name__)
            await _reply(send, 400, UnreadableBody().message(told))


def _content_length(scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def _browser_language(scope) -> str | None:
    """The request's browser language (``Accept-Language``): what the front door tells it is in that language."""
    for name, value in scope.get("headers", ()):
        if name == b"accept-language":
            return browser_language(value.decode("latin-1"))
    return None


async def _reply(send, status: int, message: str, plain: bool = False) -> None:
    if plain:
        await _reply_body(send, status, message.encode(), PLAIN_TEXT)
    else:
        await _reply_body(send, status, json.dumps({"detail": message, "error": message}).encode(), JSON)


async def _reply_json(send, status: int, content: dict) -> None:
    await _reply_body(send, status, json.dumps(content).encode(), JSON)


async def _reply_playlist(send, playlist: str | None) -> None:
    """An HLS playlist, or 404 (with no body, as Gradio answers) for a stream the server does not have."""
    if playlist is None:
        await _reply_body(send, 404, b"", PLAIN_TEXT)
    else:
        await _reply_body(send, 200, playlist.encode(), HLS_PLAYLIST)


async def _reply_body(send, status: int, body: bytes, kind: bytes) -> None:
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
