"""The HTTP routes of Gradio 6.17.3 that the front door (``oracle.web.middleware``) takes over or corrects
before Gradio sees a request. The front door says what the person is told; this module knows the routes."""

from __future__ import annotations

import enum
import re
from urllib.parse import parse_qs

import gradio as gr

from oracle.web.gradio_adapter.memory import blocks_of
from oracle.web.gradio_adapter.microphone import close_microphone_stream_by_id, is_open_microphone_stream
from oracle.web.gradio_adapter.playlist import is_playlist_request

QUEUE_DATA_ROUTE = "/gradio_api/queue/data"
STREAM_ROUTE = re.compile(r"/gradio_api/stream/([0-9a-f]{1,64})(/close)?")
# What Gradio's own /stream/{id}/close answers.
STOPPED_REPLY = {"msg": "success"}


class Verdict(enum.Enum):
    GRADIO = "Gradio serves it"
    NO_SUCH_VISIT = "an event stream for a visit the queue has no messages for"
    NO_SUCH_STREAM = "a chunk or Stop for a microphone stream that is not open"
    STOPPED = "a microphone stream's Stop, carried out here"
    PLAYLIST = "an answer's playlist, served here (gradio_adapter.playlist)"


def take_over(scope) -> Verdict:
    """What becomes of an HTTP request (an ASGI ``scope``) before Gradio sees it.

    - ``/queue/data`` for a visit with no messages: Gradio 6.17.3 starts its event stream, then fails inside
      it (a broken reply and a traceback in the log).
    - ``/stream/{event_id}`` (a chunk) and ``/stream/{event_id}/close`` (Stop) for an id that is not an open
      microphone stream: Gradio answers with a 500 and a traceback.
    - Stop for an open stream is carried out once the chunks sent before it are taken
      (``microphone.ChunksInOrder``); Gradio would end the stream at once, losing the last words.
    - An answer's playlist is served as a blocking reload (``playlist``): Gradio's player would learn of the
      voice's next segment and of its end seconds late.
    """
    method, path = scope["method"], scope["path"]
    if is_playlist_request(scope):
        return Verdict.PLAYLIST
    if method == "GET" and path == QUEUE_DATA_ROUTE:
        visit = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("session_hash", [""])[0]
        if not has_messages_for(blocks_of(scope["app"]), visit):
            return Verdict.NO_SUCH_VISIT
    stream = STREAM_ROUTE.fullmatch(path) if method == "POST" else None
    if stream is not None:
        demo, event_id = blocks_of(scope["app"]), stream.group(1)
        if not is_open_microphone_stream(demo, event_id):
            return Verdict.NO_SUCH_STREAM
        if stream.group(2):
            close_microphone_stream_by_id(demo, event_id)
            return Verdict.STOPPED
    return Verdict.GRADIO


def has_messages_for(demo: gr.Blocks, session_hash: str) -> bool:
    """The queue has (or will have) messages for this visit."""
    return session_hash in demo._queue.pending_messages_per_session


def is_file_route(path: str) -> bool:
    """A route that serves a file (``/file=<path>``, ``/file/<path>``)."""
    return "/file=" in path or path.startswith(("/file/", "/gradio_api/file/"))


def range_for_starlette(scope):
    """The same request with its Range unit spelt ``Bytes``: Gradio 6.17.3 hands ``bytes=<n>-<m>`` to its own
    ranged response (which never ends when ``m`` is at or past the end of the file) and everything else to
    Starlette's ``FileResponse``, which reads the unit case-insensitively and clamps the range (or 416)."""
    headers = []
    changed = False
    for name, value in scope.get("headers", []):
        if name == b"range":
            unit, _, ranges = value.partition(b"=")
            value = b"Bytes=" + ranges if unit.strip().lower() == b"bytes" else value
            changed = True
        headers.append((name, value))
    return {**scope, "headers": headers} if changed else scope
